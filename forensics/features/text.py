"""Prompt text as features: template skeletons and reasoning requests.

A *skeleton* is what is left of a prompt when its variable parts are replaced by ``<*>``:
quoted text, URLs, e-mail addresses, numbers and long tokens (ids, hashes, base64);
punctuation, runs of white space and case are dropped, and only the start is kept (the
first ``SKELETON_MAX_CHARS`` characters of the skeleton, a placeholder counting as one), because a template's fixed
boilerplate sits at its start while the payload varies. Two prompts filled from one
template share a skeleton. The prompt is cut before the regexes run, so the cost does not
grow with prompt length. Prompt text is attacker-controlled; these are pure string
expressions (no eval, no markup).
"""

from __future__ import annotations

import polars as pl

# How much of a prompt the skeleton reads, and how much of the skeleton it keeps.
PROMPT_READ_CHARS = 256
SKELETON_MAX_CHARS = 96
# Where the reasoning phrases are looked for: a prompt's head and tail (instructions sit
# there; a long pasted document in the middle is not read).
REASONING_HEAD_CHARS = 600
REASONING_TAIL_CHARS = 300

PLACEHOLDER = "<*>"
_VARIABLE = (
    r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.-]+"  # URLs, e-mail addresses
    r"|\"[^\"]*\"|“[^”]*”|«[^»]*»|`[^`]*`"  # quoted text
    r"|\S{20,}"  # long tokens: ids, hashes, base64
    r"|[-+]?\d+(?:[.,:/]\d+)*"  # numbers, dates, times
)
# A variable part takes the white space around it with it: the separator pass would turn
# that white space and the spaces around the marker into one space anyway (a run of two or
# more separator characters becomes one space), so the skeleton is the same, and that pass
# has two matches fewer to make per placeholder. No variable part starts or ends with white
# space, so which parts match, and where, does not change.
_VARIABLE_WITH_SPACE = r"\s*(?:" + _VARIABLE + r")\s*"
# a run of punctuation and spaces, or of white space: one space.
# Only these few spots match, so the pass is cheap on ordinary prose.
_SEPARATORS = r"\s*[^\w\s\x00][^\w\x00]*|\s{2,}|[\t\n\r\f\v]"

# Phrases that ask the model to expose its reasoning (what a distiller harvests most).
REASONING_PATTERN = (
    r"(?i)(step[- ]by[- ]step|show (all )?(of )?(your|the) (work|working|reasoning|steps)"
    r"|explain (your|the) reasoning|reason(ing)? through|think (it )?through|think carefully"
    r"|chain[- ]of[- ]thought|walk me through|justify (each|every) step|let'?s think"
    r"|detailed reasoning|intermediate steps)"
)


def prompt_skeleton(
    prompt: pl.Expr, read_chars: int = PROMPT_READ_CHARS, max_chars: int = SKELETON_MAX_CHARS
) -> pl.Expr:
    """The prompt's template skeleton (null for a null or blank prompt)."""
    s = prompt.str.slice(0, read_chars).str.to_lowercase()
    s = s.str.replace_all(_VARIABLE_WITH_SPACE, " \x00 ")  # NUL: a marker punctuation cannot eat
    s = s.str.replace_all(_SEPARATORS, " ").str.strip_chars(" ")
    s = s.str.slice(0, max_chars).str.strip_chars_end(" ")  # a placeholder counts as one
    s = s.str.replace_all("\x00", PLACEHOLDER, literal=True)
    return pl.when(s.str.len_bytes() > 0).then(s)


def has_words(skeleton: pl.Expr, words: int) -> pl.Expr:
    """True when a skeleton has at least ``words`` words, placeholders included (null if null).

    A skeleton's words are separated by single spaces, so this asks for ``words - 1``
    spaces with a match anchored at the start, which stops there instead of counting them all.
    """
    if words <= 1:
        return pl.when(skeleton.is_not_null()).then(pl.lit(True))
    return skeleton.str.contains(f"^(?:[^ ]* ){{{words - 1}}}")


def asks_for_reasoning(prompt: pl.Expr) -> pl.Expr:
    """True when the prompt's head or tail asks for step-by-step reasoning (null if no prompt)."""
    head = prompt.str.head(REASONING_HEAD_CHARS)
    tail = prompt.str.slice(REASONING_HEAD_CHARS).str.tail(REASONING_TAIL_CHARS)  # "" if short
    return head.str.contains(REASONING_PATTERN) | tail.str.contains(REASONING_PATTERN)
