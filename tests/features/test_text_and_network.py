"""Prompt skeletons, reasoning detection and IP prefixes."""

import polars as pl

from forensics.features import asks_for_reasoning, prompt_skeleton, subnet16, subnet24
from forensics.features.text import SKELETON_MAX_CHARS, has_words


def apply(expr_fn, values):
    return (
        pl.DataFrame({"v": values}, schema={"v": pl.String})
        .select(expr_fn(pl.col("v")))["v"]
        .to_list()
    )


def test_prompts_filled_from_one_template_share_a_skeleton():
    a, b, c = apply(
        prompt_skeleton,
        [
            'Solve step by step: 12+34=? Quote: "to be or not" see https://x.example/a?b=1',
            'solve step-by-step: 7.5 * 3 = ? quote: "anything else"  see http://y.example/',
            "Write a poem about the sea",
        ],
    )
    assert a == b == "solve step by step <*> <*> quote <*> see <*>"
    assert c == "write a poem about the sea"


def test_skeleton_replaces_long_tokens_and_keeps_only_the_start():
    (s,) = apply(prompt_skeleton, ["key " + "a1B2" * 8 + " " + " ".join(["word"] * 100)])
    assert s.startswith("key <*> word word") and s.endswith("word")
    assert len(s.replace("<*>", "*")) <= SKELETON_MAX_CHARS


def test_skeleton_keeps_non_latin_words():
    (s,) = apply(prompt_skeleton, ["你好，世界！ 请解释"])
    assert s == "你好 世界 请解释"


def test_empty_or_missing_prompt_has_no_skeleton():
    assert apply(prompt_skeleton, ["", "   ...  ", None]) == [None, None, None]


def test_reasoning_requests_are_recognised():
    flags = apply(
        asks_for_reasoning,
        [
            "Explain step-by-step",
            "Show your work please",
            "Let's think",
            "What time is it?",
            "x" * 5000 + " show your reasoning",  # in a long prompt's tail
            None,
        ],
    )
    assert flags == [True, True, True, False, True, None]


def test_subnets_of_ipv4_and_expanded_ipv6_and_garbage():
    ips = ["203.0.113.7", "2001:db8::1", "2001:DB8:0:0:0:0:0:2", "::1", "not-an-ip", None]
    assert apply(subnet24, ips) == [
        "203.0.113.0/24",
        "2001:db8:0:0::/64",
        "2001:db8:0:0::/64",
        "0:0:0:0::/64",
        None,
        None,
    ]
    assert apply(subnet16, ips)[:2] == ["203.0.0.0/16", "2001:db8:0::/48"]


def test_template_length_test_agrees_with_counting_words():
    prompts = [
        "Write a poem about the sea",
        "hello",
        "hello there",
        "a b",
        "a b c",
        "   ...  ",
        "price: 12 , 13 and 14",
        "«quoted» “text” `code` 7",
        "你好，世界！ 请解释",
        "x\u00a0y z",
        None,
    ]
    skeletons = pl.DataFrame({"s": prompts}, schema={"s": pl.String}).select(
        prompt_skeleton(pl.col("s")).alias("s")
    )
    words = skeletons["s"].str.count_matches(" ", literal=True) + 1
    for n in range(0, 7):
        got = skeletons.select(has_words(pl.col("s"), n).alias("s"))["s"]
        assert got.to_list() == (words >= n).to_list(), n
