"""The skeleton regexes give the same skeletons as the plain three-pass formulation.

The reference below is the formulation the skeleton had before its passes were tuned for
speed; random hostile text (every kind of Unicode white space, quotes, NULs, combining
marks, case changes that change length, digits of other scripts) must give the same
skeleton, character for character.
"""

import random

import polars as pl

from forensics.features.text import _SEPARATORS, _VARIABLE, PLACEHOLDER, prompt_skeleton


def reference_skeleton(prompt: pl.Expr, read_chars: int = 256, max_chars: int = 96) -> pl.Expr:
    s = prompt.str.slice(0, read_chars).str.to_lowercase()
    s = s.str.replace_all(_VARIABLE, " \x00 ")
    s = s.str.replace_all(_SEPARATORS, " ").str.strip_chars(" ")
    s = s.str.slice(0, max_chars).str.strip_chars_end(" ")
    s = s.str.replace_all("\x00", PLACEHOLDER, literal=True)
    return pl.when(s.str.len_bytes() > 0).then(s)


SPACES = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x85", "\xa0", "\u1680", "\u2000", "\u200a"]
SPACES += ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\u200b", "\ufeff"]
MARKS = list(".,:/-+;!?()[]{}<>*#%&=~^|\\'_$\"`") + ["“", "”", "«", "»", "‘", "’", "—", "…"]
MARKS += ["€", "•", "\x00", "\x01", "\x7f", "\u0301", "\u200d"]
PIECES = ["a", "Z", "é", "İ", "ß", "Σ", "ς", "ǅ", "ﬁ", "你好", "١٢٣", "²", "½", "x\u0301", "😀"]
PIECES += ["http://x.y/z", "HTTPS://A.B", "www.", "WWW.Ex.com", "a@b.c", "x.y+z@q-r.s.t", "@"]
PIECES += ["12", "-3", "+4.5", "1,000.25", "12:30:45", "2024/05/01", ".5", "word", "Step"]
PIECES += ["c" * 19, "c" * 20, "a1B2" * 6]


def hostile(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.choice([0, 1, 3, 8, 20, 60, 120])):
        r = rng.random()
        if r < 0.35:
            parts.append(rng.choice(PIECES))
        elif r < 0.6:
            parts.append(rng.choice(SPACES) * rng.choice([1, 1, 2, 3]))
        elif r < 0.85:
            parts.append(rng.choice(MARKS) * rng.choice([1, 1, 2]))
        else:
            parts.append(chr(rng.randrange(0x20, 0x3000)))
    return "".join(parts)


def test_skeleton_matches_the_reference_formulation_on_hostile_text():
    rng = random.Random(20261127)
    prompts = [hostile(rng) for _ in range(5_000)] + [None, "", " ", "\x00", " \x00 "]
    frame = pl.DataFrame({"p": prompts}, schema={"p": pl.String})
    got = frame.select(prompt_skeleton(pl.col("p")).alias("s"))["s"]
    want = frame.select(reference_skeleton(pl.col("p")).alias("s"))["s"]
    differ = ~got.eq_missing(want)
    assert differ.sum() == 0, frame.filter(differ).head(3)
    assert want.drop_nulls().str.contains(PLACEHOLDER, literal=True).any()  # not all trivial
