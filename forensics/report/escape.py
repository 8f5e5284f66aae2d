"""Escaping of attacker-controlled log text, one function per output format.

Prompts, user agents, account ids and paths come from the logs, so whoever wrote them may
have planted terminal escape sequences, HTML, Markdown or spreadsheet formulas. Every writer
passes every piece of log text through the function for its format, and never through a
template language or markup parser that could interpret it.
"""

from __future__ import annotations

import html
import re

# ANSI/VT escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other ESC X,
# and the 8-bit C1 CSI/OSC introducers.
_ANSI = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]          # CSI ... final byte
    | (?:\x1b\]|\x9d).*?(?:\x07|\x1b\\|\x9c)  # OSC ... BEL or ST
    | \x1b[PX^_].*?(?:\x1b\\|\x9c)            # DCS, SOS, PM, APC ... ST
    | \x1b[@-Z\\-_]                           # any other two-byte escape
    """,
    re.VERBOSE | re.DOTALL,
)
# C0 and C1 control characters and DEL, plus the Unicode bidi controls that can make text
# display in an order other than the one it is stored in ("Trojan Source").
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_WHITESPACE_CONTROL = re.compile(r"[\t\n\r\v\f]+")


def plain(text: object) -> str:
    """Log text on one line with escape sequences and control characters removed."""
    if text is None:
        return ""
    s = str(text)
    s = _ANSI.sub("", s)
    s = _WHITESPACE_CONTROL.sub(" ", s)
    return _CONTROL.sub("", s)


def terminal(text: object) -> str:
    """Text safe to print on a terminal: no ANSI escapes, no control characters.

    The result must still be given to Rich as a ``Text`` object, never as markup.
    """
    return plain(text)


def html_text(text: object) -> str:
    """Text safe inside HTML element content or a quoted attribute value."""
    return html.escape(plain(text), quote=True)


# Characters with a meaning in CommonMark/GFM mid-line (emphasis, code, links, table pipes,
# strikethrough; "#" because "- # x" is a heading), escaped with "\". "(", ")" and "!" only
# act after "]" (links, images), which is escaped, so they are left readable.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")


def markdown(text: object) -> str:
    """Text safe inside Markdown prose or a table cell: Markdown and HTML are inert.

    Markdown punctuation is backslash-escaped; ``<``, ``>`` and ``&`` become HTML entities
    (which every Markdown renderer shows literally) so that no raw HTML reaches the page.
    """
    s = plain(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", s)


def markdown_code(text: object) -> str:
    """Text shown as inline code in Markdown: wrapped in enough backticks to contain it."""
    s = plain(text)
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s else ""
    return f"{fence}{pad}{s}{pad}{fence}"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: object) -> str:
    """A CSV cell that a spreadsheet will not evaluate as a formula.

    Cells starting with ``= + - @``, tab or carriage return are prefixed with a single
    quote (OWASP's advice for CSV injection); other control characters are removed.
    """
    if text is None:
        return ""
    s = _ANSI.sub("", str(text)).translate(_CSV_DROP)
    return "'" + s if s.startswith(_FORMULA_START) else s


# C0 controls other than tab and CR are dropped before the formula check (so that a hidden
# control character cannot shield a formula); the csv module quotes what remains.
_CSV_DROP = {c: None for c in [*range(0x00, 0x09), 0x0A, 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]}
