"""Escaping of attacker-controlled log text, per output format."""

from __future__ import annotations

import pytest

from forensics.report import escape


def test_terminal_strips_ansi_osc_and_control_characters():
    hostile = "a\x1b[31mred\x1b[0m\x1b]0;new title\x07b\x00c\x7fd\x9b2Je\u202efg\nh"
    cleaned = escape.terminal(hostile)
    assert cleaned == "aredbcdefg h"
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in cleaned)


def test_html_escapes_tags_and_attribute_quotes():
    out = escape.html_text('"><img src=x onerror=alert(1)><script>x</script>')
    assert "<" not in out and ">" not in out and '"' not in out
    assert out.startswith("&quot;&gt;&lt;img")


def test_markdown_makes_html_and_markup_inert():
    out = escape.markdown("<script>x</script> [link](http://e.x) **bold** | cell `code`")
    assert "<" not in out
    assert "\\[link\\](http://e.x)" in out
    assert "\\*\\*bold\\*\\*" in out
    assert "\\|" in out and "\\`code\\`" in out


def test_markdown_code_span_holds_backticks():
    assert escape.markdown_code("a`b") == "``a`b``"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cell_neutralises_formula_starts(start):
    assert escape.csv_cell(f"{start}cmd|' /C calc'!A0").startswith("'")


def test_csv_cell_control_character_cannot_hide_a_formula():
    assert escape.csv_cell("\x01=1+1") == "'=1+1"


def test_csv_cell_leaves_ordinary_text_alone():
    assert escape.csv_cell("ring-a0") == "ring-a0"
