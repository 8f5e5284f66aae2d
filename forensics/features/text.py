"""Prompt text as features: template skeletons and reasoning requests.

A *skeleton* is what is left of a prompt when its variable parts are replaced by
placeholders: quoted text, URLs, e-mail addresses, numbers and long tokens (ids, hashes,
base64) become ``<q>``, ``<url>``, ``<email>``, ``<n>``, ``<w>``; punctuation and case are
dropped; only the first few words are kept, because a template's fixed boilerplate sits at
its start while the payload varies. Two prompts filled from one template share a skeleton.
Prompt text is attacker-controlled; these are pure string expressions (no eval, no markup).
"""

from __future__ import annotations

import polars as pl

# How much of a prompt the skeleton looks at, and how many words it keeps.
SKELETON_MAX_CHARS = 256
SKELETON_MAX_WORDS = 12

# Phrases that ask the model to expose its reasoning (what a distiller harvests most).
REASONING_PATTERN = (
    r"(?i)(step[- ]by[- ]step|show (all )?(of )?(your|the) (work|working|reasoning|steps)"
    r"|explain (your|the) reasoning|reason(ing)? through|think (it )?through|think carefully"
    r"|chain[- ]of[- ]thought|walk me through|justify (each|every) step|let'?s think"
    r"|detailed reasoning|intermediate steps)"
)


def prompt_skeleton(
    prompt: pl.Expr, max_chars: int = SKELETON_MAX_CHARS, max_words: int = SKELETON_MAX_WORDS
) -> pl.Expr:
    """The prompt's template skeleton (null for a null or empty prompt)."""
    s = prompt.str.slice(0, max_chars).str.to_lowercase()
    s = s.str.replace_all(r"https?://\S+|www\.\S+", " <url> ")
    s = s.str.replace_all(r"[\w.+-]+@[\w-]+\.[\w.-]+", " <email> ")
    s = s.str.replace_all(r"\"[^\"]*\"|“[^”]*”|«[^»]*»|`[^`]*`", " <q> ")
    s = s.str.replace_all(r"\S{20,}", " <w> ")
    s = s.str.replace_all(r"[-+]?\d+(?:[.,:/]\d+)*", " <n> ")
    s = s.str.replace_all(r"[^\w<>]+|<(?:[^a-z]|$)|(?:^|[^a-z])>", " ")
    s = s.str.extract(rf"(\S+(?:\s+\S+){{0,{max_words - 1}}})", 1)
    return pl.when(s.str.len_bytes() > 0).then(s)


def skeleton_words(skeleton: pl.Expr) -> pl.Expr:
    """How many words (placeholders included) a skeleton has."""
    return skeleton.str.count_matches(r"\S+")


def asks_for_reasoning(prompt: pl.Expr) -> pl.Expr:
    """True when the prompt asks for step-by-step reasoning (null for a null prompt)."""
    return prompt.str.contains(REASONING_PATTERN)
