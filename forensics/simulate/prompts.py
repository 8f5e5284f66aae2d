"""Prompt templates and their vectorised filling.

A template is text with ``{slot}`` markers; a slot is a word list from ``vocab.SLOTS`` or a
number (``{n1}`` 1-9, ``{n2}`` 2-99, ``{n3}`` 100-999, ``{n4}`` 1000-99999, ``{h}`` an hour).
Every event gets its own independent slot draws, so two requests rarely carry the same text.

Benign users draw from broad category banks (coding, writing, translation, questions, chat,
homework-style chain-of-thought, agentic coding tools). A ring draws from its own *bank*: a few
dozen templates assembled once per ring from paraphrase fragments (an opening, a task, a
closing), so a ring's accounts share a curriculum without sharing exact text, and different
rings assemble different banks from the same fragments.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from forensics.simulate.vocab import SLOTS

PRE = [
    "",
    "",
    "",
    "",
    "hey, ",
    "Hi! ",
    "Quick question: ",
    "pls ",
    "Hello. ",
    "ok so ",
    "Can you help? ",
]
POST = [
    "",
    "",
    "",
    "",
    " Thanks!",
    " Keep it short.",
    " thx",
    " Be concise.",
    " Explain simply.",
    "?",
    " :)",
]

# ------------------------------------------------------------------ benign banks
PROBLEMS = [
    "{name} has {n2} {object} and buys {n1} more packs of {n2}. How many {object} does {name} have now?",
    "A train leaves {place} at {h}:00 travelling at {n3} km/h; another leaves an hour later at {n3} km/h. When does the second catch up?",
    "Find the area of a {shape} with sides of {n2} cm and {n2} cm.",
    "Solve for x: {n2}x + {n3} = {n4}.",
    "Is {n4} a prime number?",
    "What is the probability of rolling a sum of {n2} with {n1} fair dice?",
    "Prove that the sum of the first {n2} odd numbers is a perfect square.",
    "{name}, {name} and {name} each own a different pet. Given that {name} is allergic to cats, who owns the dog?",
    "A shop discounts a {n3} dollar item by {n2}% and then adds {n1}% tax. What is the final price?",
    "How many ways can {n1} people sit around a round table?",
    "Compute the derivative of x^{n1} * sin({n1}x).",
    "If a bacteria population doubles every {n2} minutes, how long until it grows {n3}-fold?",
    "Explain {science}{detail}.",
    "What is {n3} * {n3} - {n4}?",
    "A ladder {n1} m long leans against a wall with its foot {n1} m from the wall. How high does it reach?",
    "Convert {n4} seconds into hours, minutes and seconds.",
    "Integrate {n1}x^{n1} from 0 to {n1}.",
    "A {shape} has a perimeter of {n2} m. What is the largest possible area?",
    "In how many ways can you choose {n1} {object} out of {n2}?",
    "Why does {thing} work the way it does{detail}?",
]
DETAILS = [
    "",
    " in {n1} sentences",
    " for {audience}",
    " with an example from {topic}",
    " and compare it with {thing2}",
    " in under {n3} words",
    ", focusing on {criterion}",
    ", answering in {nat_lang}",
    " using an analogy to {topic}",
    " as a {doc_form}",
    ", citing {n1} sources",
    " at a university level",
    " with a worked example about {object}",
    " (I'm preparing for an exam on {topic})",
    " and list {n1} common mistakes",
]
COT_OPEN_A = [
    "Think",
    "Reason",
    "Work",
    "Go",
    "Walk me",
    "Let's think",
    "Please reason",
    "Carefully work",
    "Think carefully and go",
]
COT_OPEN_B = [
    "step by step",
    "through this one step at a time",
    "through it methodically",
    "through every intermediate step",
    "in small, explicit steps",
]
COT_OPEN_C = [
    "before answering.",
    "and show all of your work.",
    "and explain each inference.",
    "and number each step.",
    "- do not skip any step.",
    "and double-check each calculation.",
]
COT_CLOSE = [
    "Then give the final answer on its own line.",
    "End with 'Final answer:' and the result.",
    "Put the final answer in a box.",
    "State your confidence at the end.",
    "Finally, verify the answer a different way.",
    "",
]

BENIGN: dict[str, list[str]] = {
    "coding": [
        "{pre}how do I {code_task} in {lang}?{post}",
        "{pre}write a {lang} function to {code_task}{post}",
        "I'm getting `{error}` when I run my {lib} app. What does it mean and how do I fix it?",
        "{pre}can you review this {lang} code? It should {code_task} but it's slow.{post}",
        "Explain the difference between {lib} and {lib} for a {lang} project.",
        "convert this {lang} snippet to {lang}: it has to {code_task}",
        "{pre}best way to {code_task} with {lib}?{post}",
        "Write unit tests in {lang} for a function that can {code_task}.",
        "{error}\n\n{pre}what's wrong? using {lib} on {lang}{post}",
        "refactor my {lang} class so it can {code_task} without globals",
        "Give me a regex that matches {thing} identifiers in {lang} strings",
        "What is the time complexity of my approach to {code_task}?",
        "{pre}{lib} keeps throwing {error}{post}",
        "Show me an idiomatic {lang} example to {code_task}, with comments.",
        "Write a SQL query that returns the top {n2} customers by revenue per month.",
        "How do I deploy a {lib} service with Docker and {lib}?",
    ],
    "writing": [
        "{pre}write a {tone} {doc_form} about {topic}{post}",
        "Help me write a {doc_form} for {audience}. Keep it {tone}.",
        "Rewrite this to sound more {tone}: '{subject} {verb_phrase}.'",
        "{pre}draft a {doc_form} for {audience} about {topic}{post}",
        "Make this {doc_form} shorter and more {tone}: {subject} {verb_phrase}, sorry for the trouble.",
        "Give me {n1} title ideas for a {doc_form} on {topic}.",
        "Proofread: '{subject} {verb_phrase} and we will follow up soon.'",
        "Write a {doc_form} in the style of Shakespeare about {topic}.",
        "I need a {tone} {doc_form} for my {product} listing.",
        "Summarise the main arguments about {topic} in {n1} bullet points for {audience}.",
        "Outline a {n1}-part {doc_form} series on {topic}.",
    ],
    "translation": [
        "Translate to {nat_lang}: '{subject} {verb_phrase}.'",
        "{pre}how do you say '{subject} {verb_phrase}' in {nat_lang}?{post}",
        "Translate this e-mail into {nat_lang}, {tone} tone: {subject} {verb_phrase}. Please let me know.",
        "What does '{smalltalk}' translate to in {nat_lang}?",
        "Translate into {nat_lang} and {nat_lang}: {subject} {verb_phrase}.",
        "Is this {nat_lang} correct? I want to say that {subject} {verb_phrase}.",
        "{pre}translate '{topic}' and '{thing}' to {nat_lang}{post}",
    ],
    "question": [
        "{pre}what is the difference between {thing} and {thing2}?{post}",
        "Explain {thing} like I'm {n1}{detail}.",
        "{pre}explain {science}{detail}{post}",
        "What are the pros and cons of {thing} vs {thing2}?",
        "Give me a short history of {topic}{detail}.",
        "{pre}is {thing} worth it in {yr}?{post}",
        "How does {thing} actually work{detail}?",
        "What should a beginner know about {topic}{detail}?",
        "Compare {topic} and {topic} in a table.",
        "What are {n1} common misconceptions about {topic}?",
        "{pre}recommend books about {topic}{post}",
        "Plan a {n1}-day trip to {place} focused on {topic}.",
    ],
    "chat": [
        "{pre}I'm feeling {feeling} today, {smalltalk}?{post}",
        "{pre}{smalltalk}{detail}{post}",
        "i'm {feeling}. {smalltalk}?",
        "{pre}I just got back from {place}. {smalltalk}{post}",
        "can you be my {nat_lang} conversation partner? I'm {feeling}",
        "{pre}tell me something interesting about {topic}{post}",
        "{name} and I are arguing about {topic}. Who's right?",
        "{pre}give me a riddle about {object}{post}",
    ],
    "cot": [],  # filled below from the CoT fragments (students and researchers)
    "agentic": [
        "Tool result from {tool}: exit code {n1}. Continue the task: {code_task} in {repo_path}.",
        "You can call {tool} and {tool}. Fix `{error}` in {repo_path} and explain the patch.",
        "Here is the output of {tool}: {n3} lines changed in {repo_path}. Next step?",
        "Continue implementing: {code_task} ({lang}). Previous step edited {repo_path}.",
        "Run the tests for {repo_path}, then fix any failure like `{error}`.",
        "Plan the refactor of {repo_path} to {code_task} using {lib}.",
    ],
}
_COT_BENIGN = [
    "{pre}" + "{problem}" + " Can you show the steps?",
    "{problem} Explain step by step please.",
    "{pre}help me with my homework: {problem}",
    "{problem} I don't get it, walk me through it.",
    "Solve and explain: {problem}",
]
BENIGN["cot"] = [t.replace("{problem}", p) for t in _COT_BENIGN for p in PROBLEMS[:12]]
BENIGN_CATEGORIES = list(BENIGN)

APP_PREFIXES = [
    "[Quillify] You are Quillify, a friendly writing assistant. Improve the user's text and keep their voice.\n\nUser text: ",
    "[StudyBuddy] You are StudyBuddy, a patient tutor for students. Answer clearly and check understanding.\n\nQuestion: ",
]
APP_BODIES = BENIGN["writing"] + BENIGN["question"] + BENIGN["chat"]

ENTERPRISE_BODIES = [
    "Classify the following customer support ticket into one of: billing, bug, feature_request, account, other. Respond with JSON only.\n\nTicket #{n4}: {ticket}",
    "Extract the product, sentiment (positive/neutral/negative) and urgency from this ticket as JSON.\n\nTicket #{n4}: {ticket}",
    "Write a {tone} reply to ticket #{n4}: {ticket}",
    "Summarise ticket #{n4} in one sentence for the weekly report: {ticket}",
    "Generate a product description ({n2} words) for SKU {n4}: {product}, {tone} tone.",
]

# ------------------------------------------------------------------ ring fragments
RUBRIC_OPEN = [
    "You are an expert grader.",
    "Act as a strict evaluator.",
    "You are a meticulous reviewer.",
    "Pretend you are a teacher marking homework.",
    "As an impartial judge,",
    "You are a senior annotator.",
]
RUBRIC_TASK = [
    "Score the following {artifact} from 1 to {n1} on {criterion} and {criterion}.",
    "Rate this {artifact} for {criterion}, {criterion} and {criterion} on a {n1}-point scale.",
    "Evaluate the {artifact} below against a rubric covering {criterion} and {criterion}.",
    "Compare two candidate {artifact}s on {criterion}; pick the better one.",
]
RUBRIC_CLOSE = [
    "Justify every sub-score with a short rationale, then output JSON.",
    "Explain your reasoning for each criterion before the final score.",
    "Think step by step about each criterion; give the overall score last.",
    "List strengths and weaknesses, then the score.",
]
RUBRIC_BODY = [
    "\n\n{artifact} about {topic}: '{subject} {verb_phrase}, which shows that {thing} matters.'",
    "\n\nCandidate answer: {science} is explained by {thing}.",
    "\n\nSubmission: a {lang} function to {code_task}.",
    "\n\nText: 'The {topic} debate is settled: {thing} beats {thing2} by {n2}%.'",
]
AGENT_OPEN = [
    "You are an autonomous coding agent.",
    "You are a software engineering agent operating in a sandbox.",
    "Act as a tool-using assistant.",
    "You are an AI developer with repository access.",
    "System: agent mode enabled.",
]
AGENT_TOOLS = [
    "Available tools: {tool}, {tool}, {tool}.",
    "Tools: {tool}; {tool}.",
    "You may call {tool}, {tool} or {tool}.",
]
AGENT_TASK = [
    "Task: {code_task} in {lang}, editing {repo_path}.",
    "Goal: fix the bug causing `{error}` in {repo_path}.",
    "Objective: add tests for {repo_path} using {lib}.",
    "Task: migrate {repo_path} from {lib} to {lib}.",
]
AGENT_CLOSE = [
    "Plan your steps, then emit the first tool call as JSON.",
    "Reason about which tool to use first and output a JSON function call.",
    "Think aloud, then respond only with tool calls.",
    "Produce a step-by-step plan followed by the first action.",
]
TRACE_OPEN = [
    "Give a detailed reasoning trace, including intermediate hypotheses and self-corrections, for the following:",
    "Show your full chain of thought, including any mistakes you catch along the way:",
    "Write your internal monologue as you solve this, then the answer:",
    "Explain your thinking process in full detail before answering:",
    "Reason out loud, consider at least two approaches, then answer:",
]
FOREIGN_OPEN = [
    "请一步一步地思考并给出详细的推理过程：",
    "请详细写出每一步的推理，然后给出最终答案：",
    "逐步分析下面的问题，并解释每一步：",
    "Piensa paso a paso y muestra todo tu razonamiento:",
    "Resuelve el siguiente problema explicando cada paso:",
    "Рассуждай шаг за шагом и покажи весь ход решения:",
    "Подробно объясни каждый шаг, затем дай ответ:",
    "Denke Schritt für Schritt nach und erkläre jeden Schritt:",
    "Löse die folgende Aufgabe mit ausführlicher Begründung:",
    "ステップバイステップで考え、推論の過程をすべて示してください：",
    "次の問題を段階的に解き、各ステップを説明してください：",
    "Réfléchis étape par étape et montre tout ton raisonnement :",
    "Résous le problème suivant en détaillant chaque étape :",
    "Pense passo a passo e mostre todo o seu raciocínio:",
    "단계별로 생각하고 추론 과정을 모두 보여 주세요:",
]
RING_FAMILIES = ["cot", "rubric", "agentic", "trace", "foreign"]


def _pick(rng: np.random.Generator, items: list[str]) -> str:
    return items[int(rng.integers(len(items)))]


def cot_phrase(rng: np.random.Generator) -> tuple[str, str]:
    """One chain-of-thought opening and closing assembled from fragments."""
    opening = f"{_pick(rng, COT_OPEN_A)} {_pick(rng, COT_OPEN_B)} {_pick(rng, COT_OPEN_C)}"
    return opening, _pick(rng, COT_CLOSE)


def ring_template(rng: np.random.Generator, family: str, problems: list[str]) -> str:
    """One ring template of a family: a paraphrased wrapper around a task slot pattern."""
    if family == "cot":
        opening, closing = cot_phrase(rng)
        return f"{opening} {_pick(rng, problems)} {closing}".strip()
    if family == "rubric":
        return f"{_pick(rng, RUBRIC_OPEN)} {_pick(rng, RUBRIC_TASK)} {_pick(rng, RUBRIC_CLOSE)}{_pick(rng, RUBRIC_BODY)}"
    if family == "agentic":
        return f"{_pick(rng, AGENT_OPEN)} {_pick(rng, AGENT_TOOLS)} {_pick(rng, AGENT_TASK)} {_pick(rng, AGENT_CLOSE)}"
    if family == "trace":
        return f"{_pick(rng, TRACE_OPEN)}\n{_pick(rng, problems)}"
    return f"{_pick(rng, FOREIGN_OPEN)}{_pick(rng, problems)}"


def ring_bank(rng: np.random.Generator, size: int, family_weights: np.ndarray) -> list[str]:
    """A ring's curriculum: ``size`` distinct templates from its favoured families."""
    # Each ring focuses on a subset of problem kinds, too (its "task curriculum").
    k = int(rng.integers(6, len(PROBLEMS) + 1))
    problems = [PROBLEMS[i] for i in sorted(rng.choice(len(PROBLEMS), size=k, replace=False))]
    bank: list[str] = []
    seen: set[str] = set()
    tries = 0
    while len(bank) < size and tries < size * 50:
        tries += 1
        family = RING_FAMILIES[int(rng.choice(len(RING_FAMILIES), p=family_weights))]
        template = ring_template(rng, family, problems)
        if template not in seen:
            seen.add(template)
            bank.append(template)
    return bank


PERSONAL_COT_TEMPLATE = "{cot_open} {problem} {cot_close}"


def personal_cot_phrases(rng: np.random.Generator, n: int) -> tuple[pl.Series, pl.Series]:
    """Each step-by-step user's own habitual opening and closing (bound slots)."""
    a = np.array(COT_OPEN_A, dtype=object)[rng.integers(0, len(COT_OPEN_A), n)]
    b = np.array(COT_OPEN_B, dtype=object)[rng.integers(0, len(COT_OPEN_B), n)]
    c = np.array(COT_OPEN_C, dtype=object)[rng.integers(0, len(COT_OPEN_C), n)]
    close = np.array(COT_CLOSE, dtype=object)[rng.integers(0, len(COT_CLOSE), n)]
    opening = pl.Series(a.tolist()) + " " + pl.Series(b.tolist()) + " " + pl.Series(c.tolist())
    return opening, pl.Series(close.tolist(), dtype=pl.String)


# ------------------------------------------------------------------ filling
_SLOT_RE = re.compile(r"\{([a-z_0-9]+)\}")
_NUMERIC = {
    "n1": (1, 10),
    "n2": (2, 100),
    "n3": (100, 1000),
    "n4": (1000, 100000),
    "h": (0, 24),
    "yr": (2024, 2026),
}
_SLOT_SERIES = {name: pl.Series(name, values, dtype=pl.String) for name, values in SLOTS.items()}
_SLOT_SERIES["pre"] = pl.Series("pre", PRE, dtype=pl.String)
_SLOT_SERIES["post"] = pl.Series("post", POST, dtype=pl.String)
# Slots whose values are templates themselves, filled recursively.
_NESTED = {"problem": PROBLEMS, "detail": DETAILS}
_PARSED: dict[str, list[tuple[bool, str]]] = {}


def _parse(template: str) -> list[tuple[bool, str]]:
    parts = _PARSED.get(template)
    if parts is None:
        parts, pos = [], 0
        for m in _SLOT_RE.finditer(template):
            if m.start() > pos:
                parts.append((False, template[pos : m.start()]))
            parts.append((True, m.group(1)))
            pos = m.end()
        if pos < len(template):
            parts.append((False, template[pos:]))
        _PARSED[template] = parts
    return parts


def _slot_values(rng: np.random.Generator, name: str, m: int) -> pl.Series:
    if name in _NUMERIC:
        lo, hi = _NUMERIC[name]
        return pl.Series(rng.integers(lo, hi, size=m)).cast(pl.String)
    series = _SLOT_SERIES[name]
    return series.gather(pl.Series(rng.integers(0, series.len(), size=m), dtype=pl.UInt32))


class _NestedPools:
    """Pre-filled values of nested slots, taken in order so that every draw is fresh.

    Filling a nested template per group would cost one small Polars query per group and
    template; instead each nested slot keeps a pool that is refilled in bulk when it runs dry.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.pools: dict[str, tuple[pl.Series, int]] = {}

    def take(self, name: str, m: int) -> pl.Series:
        pool, cursor = self.pools.get(name, (pl.Series(name, [], dtype=pl.String), 0))
        if cursor + m > pool.len():
            nested = _NESTED[name]
            size = max(m, 4096, pool.len())
            fresh = fill(
                nested, self.rng.integers(0, len(nested), size=size), self.rng, _pools=self
            )
            pool, cursor = pl.concat([pool.slice(cursor), fresh.alias(name)]), 0
        self.pools[name] = (pool, cursor + m)
        return pool.slice(cursor, m)


def fill(
    templates: list[str],
    choice: np.ndarray,
    rng: np.random.Generator,
    bound: dict[str, pl.Series] | None = None,
    _pools: _NestedPools | None = None,
) -> pl.Series:
    """Prompt text for each event: template ``templates[choice[i]]`` with fresh slot draws.

    ``bound`` gives per-event values for account-specific slots (aligned with ``choice``).
    """
    n = len(choice)
    if n == 0:
        return pl.Series("prompt", [], dtype=pl.String)
    pools = _pools or _NestedPools(rng)
    order = np.argsort(choice, kind="stable")
    sorted_choice = choice[order]
    starts = np.flatnonzero(np.r_[True, sorted_choice[1:] != sorted_choice[:-1]])
    ends = np.r_[starts[1:], n]
    pieces: list[pl.DataFrame] = []
    for s, e in zip(starts, ends, strict=True):
        template = templates[int(sorted_choice[s])]
        m = int(e - s)
        text_series: pl.Series | None = None
        pending = ""  # literal text waiting to be joined to the next slot
        for is_slot, text in _parse(template):
            if not is_slot:
                pending += text
                continue
            if text in _NESTED:
                values = pools.take(text, m)
            elif bound is not None and text in bound:
                values = bound[text].gather(pl.Series(order[s:e], dtype=pl.UInt32))
            else:
                values = _slot_values(rng, text, m)
            if text_series is None:
                text_series = (pending + values) if pending else values
            else:
                text_series = text_series + pending + values if pending else text_series + values
            pending = ""
        if text_series is None:
            text_series = pl.Series([pending], dtype=pl.String).extend_constant(pending, m - 1)
        elif pending:
            text_series = text_series + pending
        pieces.append(pl.DataFrame({"pos": order[s:e], "prompt": text_series}))
    return pl.concat(pieces).sort("pos")["prompt"]
