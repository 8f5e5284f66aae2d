"""Prompt text for the hold-out generator: ordinary users, look-alikes and harvesting rings.

Everything is built column-wise with Polars: a prompt is a *frame* (a sentence pattern with
`{SLOT}` markers) whose slots are replaced by values drawn per row. Ordinary prompts carry
free "personal" text (a Zipf-weighted babble of words), so two users almost never send the
same prompt; ring prompts wrap items of a finite task dataset in a few instruction wrappers,
optionally paraphrased (synonyms, clause order, language) request by request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import polars as pl

# ---------------------------------------------------------------- vocabularies

WORDS = """
the of and to a in is it you that he was for on are with as i his they be at one have this
from or had by hot word but what some we can out other were all there when up use your how
said an each she which do their time if will way about many then them write would like so
these her long make thing see him two has look more day could go come did number sound no
most people my over know water than call first who may down side been now find any new work
part take get place made live where after back little only round man year came show every
good me give our under name very through just form sentence great think say help low line
differ turn cause much mean before move right boy old too same tell does set three want air
well also play small end put home read hand port large spell add even land here must big
high such follow act why ask men change went light kind off need house picture try us again
animal point mother world near build self earth father head stand own page should country
found answer school grow study still learn plant cover food sun four between state keep eye
never last let thought city tree cross farm hard start might story saw far sea draw left late
run while press close night real life few north open seem together next white children begin
got walk example ease paper group always music those both mark often letter until mile river
car feet care second book carry took science eat room friend began idea fish mountain stop
once base hear horse cut sure watch color face wood main enough plain girl usual young ready
above ever red list though feel talk bird soon body dog family direct pose leave song measure
door product black short numeral class wind question happen complete ship area half rock
order fire south problem piece told knew pass since top whole king space heard best hour
better true during hundred five remember step early hold west ground interest reach fast verb
sing listen six table travel less morning ten simple several vowel toward war lay against
pattern slow center love person money serve appear road map rain rule govern pull cold notice
voice unit power town fine certain fly fall lead cry dark machine note wait plan figure star
box noun field rest correct able pound done beauty drive stood contain front teach week final
gave green quick develop ocean warm free minute strong special mind behind clear tail produce
fact street inch multiply nothing course stay wheel full force blue object decide surface deep
moon island foot system busy test record boat common gold possible plane stead dry wonder
laugh thousand ago ran check game shape equate miss brought heat snow tire bring yes distant
fill east paint language among budget invoice client meeting deadline report server database
login password recipe garden lease landlord insurance doctor appointment flight hotel visa
""".split()

TOPICS = """
photosynthesis|compound interest|the french revolution|black holes|kubernetes networking|
sourdough starters|marathon training|tax brackets|the krebs cycle|quantum entanglement|
react hooks|the roman empire|climate feedback loops|index funds|sleep hygiene|git rebase|
supply and demand|the immune system|plate tectonics|machine learning overfitting|
impressionist painting|the cold war|bayesian statistics|vegan protein sources|
mortgage refinancing|ancient egypt|postgres indexes|rust lifetimes|the water cycle|
cognitive behavioral therapy|solar panels|the stock market|chess openings|dog training|
crop rotation|blockchain consensus|the renaissance|linear regression|attachment styles|
electric cars|the federal reserve|docker volumes|greek mythology|inflation|ocean currents|
public speaking|the big bang|css grid|time management|fermentation|intermittent fasting|
the human genome|python decorators|wedding planning|jazz harmony|the printing press|
home composting|negotiating a salary|neural networks|the silk road|retirement accounts|
vaccines|volcanoes|unit testing|sql joins|baking bread|the electoral college|dark matter|
muscle hypertrophy|small business accounting|ux research|the american civil war|
meditation|probability distributions|gdpr compliance|typescript generics|rent vs buy|
learning spanish|houseplants|carbon capture|the ottoman empire|aws lambda|poetry meters|
first aid|car maintenance|fractions|world war one|job interviews|color theory|
""".replace("\n", "").split("|")
TOPICS = [t.strip() for t in TOPICS if t.strip()]

CODE_LANGS = [
    "python",
    "javascript",
    "typescript",
    "go",
    "rust",
    "java",
    "c#",
    "sql",
    "bash",
    "c++",
]
HUMAN_LANGS = ["spanish", "french", "german", "japanese", "portuguese", "italian", "korean"]
RELATIONS = ["boss", "landlord", "teacher", "coworker", "client", "sister", "neighbor", "team"]
CITIES = ["lisbon", "osaka", "denver", "nairobi", "krakow", "austin", "lyon", "hanoi", "quito"]
ERRORS = [
    "TypeError: cannot read properties of undefined (reading 'map')",
    "ModuleNotFoundError: No module named 'pandas'",
    "error[E0502]: cannot borrow `v` as mutable because it is also borrowed as immutable",
    "java.lang.NullPointerException at com.app.Main.run(Main.java:42)",
    "ERROR: duplicate key value violates unique constraint",
    "fatal: refusing to merge unrelated histories",
    "CORS policy: No 'Access-Control-Allow-Origin' header is present",
    "segmentation fault (core dumped)",
    "KeyError: 'user_id'",
    "permission denied (publickey)",
]

BENIGN_FRAMES = [
    "can you explain {TOPIC} like i'm {N}?",
    "what's the difference between {TOPIC} and {TOPIC2}",
    "write a {CODE} function that {TEXT}",
    "help me write an email to my {REL} about {TEXT}",
    "summarize this for me: {TEXT}",
    "fix this error: {ERR}",
    "I'm getting {ERR} when I {TEXT}. any idea?",
    "translate to {HL}: {TEXT}",
    "give me {N} ideas for {TEXT}",
    "is it true that {TOPIC} {TEXT}?",
    "plan a {N} day trip to {CITY}, I like {TEXT}",
    "rewrite this to sound friendlier: {TEXT}",
    "{TEXT}",
    "{TEXT}?",
    "quick question about {TOPIC}: {TEXT}",
    "write a short poem about {TEXT}",
    "how do I {TEXT} in {CODE}",
    "what are the pros and cons of {TOPIC}",
    "make a study guide on {TOPIC} for my exam on {TEXT}",
    "review my code please\n\n```{CODE}\n{TEXT}\n```",
    "my {REL} said {TEXT}. how should I respond?",
    "outline a blog post about {TOPIC} and {TEXT}",
    "explain step by step how {TOPIC} works",
    "why does {TEXT}",
    "recommend {N} books about {TOPIC}",
    "draft a cover letter, the job is {TEXT}",
    "what should I cook tonight with {TEXT}",
    "convert this to a table: {TEXT}",
    "continue the story: {TEXT}",
    "debug: {ERR}\n{TEXT}",
]

# Phrasing that careful, honest heavy users (researchers, students) attach to their own
# questions: chain-of-thought requests are common and not, by themselves, suspicious.
COT_SUFFIXES = [
    "Think step by step.",
    "Please show your reasoning step by step.",
    "Explain your reasoning before giving the final answer.",
    "Walk me through it step by step.",
    "Let's think this through carefully, step by step.",
]

# ---------------------------------------------------------------- ring task datasets

OBJECTS = ["notebook", "apple", "ticket", "lamp", "bicycle", "shirt", "cake", "battery", "chair"]
NAMES = ["Maria", "Kenji", "Aisha", "Tom", "Lucia", "Ravi", "Olga", "Sam", "Chen", "Fatima"]
FUNCS = [
    "parse_csv",
    "merge_intervals",
    "lru_cache",
    "rate_limiter",
    "topo_sort",
    "diff_text",
    "retry_with_backoff",
    "validate_email",
    "flatten_json",
    "paginate",
    "dedupe_rows",
]
PHENOMENA = [
    "ice floats on water",
    "the sky is blue",
    "metals conduct electricity",
    "enzymes speed up reactions",
    "planets orbit in ellipses",
    "salt lowers the freezing point",
    "tides happen twice a day",
    "rainbows form",
    "bread rises",
    "batteries lose charge in cold",
]

# Each domain: item frames (the dataset), English wrappers, and paraphrase material per
# language: frames with {V} (verb phrase), {HOW} (reasoning demand), {OUT} (output format).
DOMAINS: dict[str, dict] = {
    "cot_math": {
        "items": [
            "A {OBJ} costs ${A} and a {OBJ2} costs ${B}. If {NAME} buys {C} of each, how much "
            "does {NAME} spend in total?",
            "Find all real x such that {A}x^2 - {B}x + {C} = 0.",
            "What is the remainder when {A}^{B} is divided by {C}?",
            "A train leaves {CITY} at {C}:00 travelling at {A} km/h. A second train follows "
            "{B} hours later at {D} km/h. When does the second train catch up?",
            "How many ways can {A} people sit around a round table if {B} of them refuse to "
            "sit next to each other?",
            "The sum of {A} consecutive integers is {D}. What is the largest of them?",
            "{NAME} has {D} marbles and gives away {B}% of them each day. After {C} days how "
            "many are left (round down each day)?",
            "A rectangle has perimeter {D} and its length is {A} more than its width. Find its "
            "area.",
        ],
        "wrappers": [
            "Solve the following problem. Think step by step and show all of your reasoning "
            "before giving the final answer.\n\nProblem: {ITEM}",
            "{ITEM}\n\nLet's think step by step. Put the final answer in \\boxed{}.",
            "You are a world-class mathematician. Reason carefully through every step, "
            "checking your work, then state the answer.\n\n{ITEM}",
        ],
        "para": {
            "en": {
                "V": ["Solve", "Work out", "Figure out", "Answer", "Please solve"],
                "HOW": [
                    "think step by step",
                    "show every step of your reasoning",
                    "reason carefully one step at a time",
                    "explain each step",
                ],
                "OUT": [
                    "give the final answer at the end",
                    "box the final answer",
                    "finish with 'Answer: <value>'",
                    "end with the final result",
                ],
            },
            "es": {
                "V": ["Resuelve", "Calcula", "Responde"],
                "HOW": [
                    "piensa paso a paso",
                    "muestra todo tu razonamiento",
                    "razona con cuidado paso por paso",
                ],
                "OUT": ["da la respuesta final al final", "termina con 'Respuesta: <valor>'"],
            },
            "de": {
                "V": ["Löse", "Berechne", "Beantworte"],
                "HOW": ["denke Schritt für Schritt", "zeige deinen gesamten Lösungsweg"],
                "OUT": ["gib am Ende die endgültige Antwort an", "schließe mit 'Antwort: <Wert>'"],
            },
            "fr": {
                "V": ["Résous", "Calcule", "Réponds à"],
                "HOW": ["réfléchis étape par étape", "montre tout ton raisonnement"],
                "OUT": ["donne la réponse finale à la fin", "termine par 'Réponse : <valeur>'"],
            },
            "zh": {
                "V": ["请解答", "请计算", "请回答"],
                "HOW": ["一步一步地思考", "写出完整的推理过程"],
                "OUT": ["最后给出最终答案", "用“答案：<数值>”结尾"],
            },
        },
    },
    "rubric_grading": {
        "items": [
            "Question: explain {TOPIC} to a beginner.\nCandidate answer: {TEXT}",
            "Question: what are the main causes of {TOPIC}?\nCandidate answer: {TEXT}",
            "Prompt: write a {CODE} function named {FUNC}.\nResponse: {TEXT}",
            "Essay topic: {TOPIC}.\nStudent essay: {TEXT}",
        ],
        "wrappers": [
            "You are an expert grader. Score the response below against this rubric: "
            "correctness (0-4), completeness (0-3), clarity (0-3). Explain your reasoning for "
            'each criterion, then output JSON {"correctness":..,"completeness":..,'
            '"clarity":..}.\n\n{ITEM}',
            "Grade the following on a 1-10 scale. First write a detailed critique, then the "
            "score on its own line as 'Score: N'.\n\n{ITEM}",
        ],
        "para": {
            "en": {
                "V": ["Grade", "Evaluate", "Score", "Assess"],
                "HOW": [
                    "justify each rubric criterion",
                    "critique it in detail first",
                    "reason about correctness, completeness and clarity",
                ],
                "OUT": [
                    "output the scores as JSON",
                    "end with 'Score: N'",
                    "return a score from 1 to 10",
                ],
            },
            "es": {
                "V": ["Califica", "Evalúa"],
                "HOW": ["justifica cada criterio de la rúbrica", "haz primero una crítica"],
                "OUT": ["devuelve las puntuaciones en JSON", "termina con 'Puntuación: N'"],
            },
            "de": {
                "V": ["Bewerte", "Benote"],
                "HOW": ["begründe jedes Kriterium", "schreibe zuerst eine Kritik"],
                "OUT": ["gib die Punkte als JSON aus", "ende mit 'Punkte: N'"],
            },
        },
    },
    "agentic_coding": {
        "items": [
            "Implement {FUNC} in {CODE}. It must handle empty input and run in O(n log n).",
            "The test test_{FUNC} in tests/test_{FUNC2}.py fails with {ERR}. Fix the bug.",
            "Refactor src/{FUNC}.py to remove the global variable and add type hints.",
            "Add a command-line flag --{FUNC2} to the {CODE} tool and document it.",
            "Write unit tests for {FUNC} covering at least {A} edge cases.",
        ],
        "wrappers": [
            "You are an autonomous coding agent working in a git repository. Tools: "
            "read_file(path), write_file(path, content), run(cmd). Task: {ITEM}\nFirst write "
            "a numbered plan with your reasoning, then emit one tool call per line.",
            "<system>You are a senior engineer. Use the tools to complete the task. Think "
            "before each action.</system>\n<task>{ITEM}</task>",
        ],
        "para": {
            "en": {
                "V": ["Task", "Your job", "Goal", "Please do this"],
                "HOW": [
                    "plan your approach step by step before acting",
                    "explain your reasoning before each tool call",
                ],
                "OUT": [
                    "respond with tool calls only",
                    "finish with a unified diff",
                    "emit one tool call per line",
                ],
            },
            "zh": {
                "V": ["任务", "你的工作"],
                "HOW": ["行动前逐步规划", "每次调用工具前说明理由"],
                "OUT": ["只输出工具调用", "最后给出 diff"],
            },
        },
    },
    "tool_use": {
        "items": [
            "User: book a table for {A} in {CITY} tomorrow at {C}pm",
            "User: what's the weather in {CITY} in {A} days, in celsius?",
            "User: convert {D} USD to EUR and email the result to {NAME}",
            "User: find flights from {CITY} to {CITY2} under ${D}",
            "User: add a meeting with {NAME} on day {A} at {C}:30 about {TOPIC}",
        ],
        "wrappers": [
            'Functions available: [{"name":"search","parameters":{"q":"string"}},'
            '{"name":"book","parameters":{"what":"string","when":"string"}},'
            '{"name":"send_email","parameters":{"to":"string","body":"string"}}]'
            "\n{ITEM}\nReason about which function to call, then output the call as JSON.",
            "You can call tools. Think step by step about the user's intent, then reply with "
            "exactly one JSON tool call.\n{ITEM}",
        ],
        "para": {
            "en": {
                "V": ["Handle this request", "Respond to the user", "Process"],
                "HOW": [
                    "decide which tool fits and explain why",
                    "reason about the user's intent first",
                ],
                "OUT": ["reply with one JSON function call", "output only the tool call"],
            },
            "fr": {
                "V": ["Traite cette demande", "Réponds à l'utilisateur"],
                "HOW": ["explique quel outil convient", "réfléchis d'abord à l'intention"],
                "OUT": ["réponds avec un seul appel JSON"],
            },
        },
    },
    "cot_science": {
        "items": [
            "Why {PHEN}?",
            "A student claims that {PHEN} because of {TOPIC}. Is the student right?",
            "Design an experiment with {A} samples to test whether {PHEN}.",
            "Estimate how much {TOPIC} changes if temperature rises by {A} degrees.",
        ],
        "wrappers": [
            "Answer with a detailed chain of thought. Number each reasoning step, then give a "
            "one-sentence conclusion.\n\nQ: {ITEM}",
            "{ITEM}\nExplain your reasoning step by step like a textbook solution.",
        ],
        "para": {
            "en": {
                "V": ["Explain", "Answer", "Address"],
                "HOW": ["number each reasoning step", "reason like a textbook solution"],
                "OUT": ["end with a one-sentence conclusion", "summarise in one line"],
            },
            "es": {
                "V": ["Explica", "Responde"],
                "HOW": ["numera cada paso del razonamiento"],
                "OUT": ["termina con una conclusión de una frase"],
            },
        },
    },
}

PARA_FRAMES = [
    "{V}: {ITEM}\n{HOW}, and {OUT}.",
    "{ITEM}\n\n{HOW}. {OUT}.",
    "{HOW}. {V}:\n{ITEM}\n{OUT}.",
    "{V} the following ({HOW}; {OUT}).\n{ITEM}",
    "{ITEM} -- {HOW}, {OUT}.",
]
SYNONYMS = {  # word-level substitutions applied to dataset items by paraphrasing rings
    "how much": "what amount",
    "Find": "Determine",
    "What is": "Compute",
    "total": "overall",
    "explain": "describe",
    "Fix the bug": "Repair the defect",
    "Write": "Create",
    "must": "should",
    "tomorrow": "the next day",
    "main": "principal",
}

APP_TEMPLATES = [  # a popular writing app wraps each user's own text in its fixed prompt
    "Rewrite the following text so it sounds professional and concise. Keep the meaning. "
    "Return only the rewritten text.\n\nText: {TEXT}",
    "Fix grammar and spelling in the text below. Do not change the tone.\n\n{TEXT}",
    "Summarize the following in {N} bullet points for a busy reader:\n\n{TEXT}",
]
ENTERPRISE_TEMPLATES = [  # one company's product: support-ticket triage on its own tickets
    "Summarize this customer support ticket in 3 bullet points and classify its priority "
    "(P1-P4). Reply in JSON.\n\nTicket #{D}: {TEXT}",
    "Draft a polite reply to this customer. Mention order {D}.\n\nCustomer wrote: {TEXT}",
    "Extract the product name, issue type and sentiment from: {TEXT}",
]
HARNESS_TEMPLATES = [  # public eval harness formats (GSM8K-style chain-of-thought scoring)
    "Question: {ITEM}\nLet's think step by step.\nAnswer:",
    "Q: Roger has 5 tennis balls. He buys 2 more cans of 3 balls each. How many does he have?"
    "\nA: Roger started with 5 balls. 2 cans of 3 is 6. 5 + 6 = 11. The answer is 11.\n\n"
    "Q: {ITEM}\nA:",
]
CI_PROMPTS = [  # one developer's integration tests, replayed verbatim by every CI run
    "Say 'pong' and nothing else.",
    'Return exactly this JSON: {"ok": true}',
    "Translate 'hello world' to French.",
    "What is 2+2? Answer with a single digit.",
    "Summarize: The quick brown fox jumps over the lazy dog.",
    "Extract the email from: contact me at test@example.com please",
    "Classify the sentiment of 'I love this product' as positive or negative.",
]


# ---------------------------------------------------------------- builders


def pick(rng: np.random.Generator, pool: Sequence[str], n: int, zipf: float = 0.0) -> pl.Series:
    """n values from pool, uniformly or Zipf-weighted (rank^-zipf)."""
    if zipf > 0:
        w = 1.0 / np.arange(1, len(pool) + 1) ** zipf
        idx = rng.choice(len(pool), size=n, p=w / w.sum())
    else:
        idx = rng.integers(0, len(pool), size=n)
    return pl.Series(list(pool), dtype=pl.String).gather(idx)


def babble(rng: np.random.Generator, n: int, lo: int = 4, hi: int = 24) -> pl.Series:
    """Free personal text: lo..hi Zipf-weighted words per row, almost never repeated."""
    length = rng.integers(lo, hi + 1, size=n)
    cols = []
    for k in range(hi):
        words = pick(rng, WORDS, n, zipf=0.9)
        cols.append(pl.when(pl.lit(pl.Series(length)) > k).then(pl.lit(words)))
    return pl.select(pl.concat_str(cols, separator=" ", ignore_nulls=True)).to_series()


def _numbers(rng: np.random.Generator, n: int, lo: int, hi: int) -> pl.Series:
    return pl.Series(rng.integers(lo, hi, size=n)).cast(pl.String)


SLOTS: dict[str, Callable[[np.random.Generator, int], pl.Series]] = {
    "TOPIC": lambda r, n: pick(r, TOPICS, n, zipf=0.6),
    "TOPIC2": lambda r, n: pick(r, TOPICS, n),
    "CODE": lambda r, n: pick(r, CODE_LANGS, n, zipf=0.8),
    "HL": lambda r, n: pick(r, HUMAN_LANGS, n),
    "REL": lambda r, n: pick(r, RELATIONS, n),
    "CITY": lambda r, n: pick(r, CITIES, n),
    "CITY2": lambda r, n: pick(r, CITIES, n),
    "ERR": lambda r, n: pick(r, ERRORS, n),
    "N": lambda r, n: _numbers(r, n, 2, 11),
    "OBJ": lambda r, n: pick(r, OBJECTS, n),
    "OBJ2": lambda r, n: pick(r, OBJECTS, n),
    "NAME": lambda r, n: pick(r, NAMES, n),
    "FUNC": lambda r, n: pick(r, FUNCS, n),
    "FUNC2": lambda r, n: pick(r, FUNCS, n),
    "PHEN": lambda r, n: pick(r, PHENOMENA, n),
    "A": lambda r, n: _numbers(r, n, 2, 60),
    "B": lambda r, n: _numbers(r, n, 2, 40),
    "C": lambda r, n: _numbers(r, n, 2, 12),
    "D": lambda r, n: _numbers(r, n, 100, 5000),
}


def slot_values(
    rng: np.random.Generator, pool: Sequence[str], n: int, text: tuple[int, int] = (4, 24)
) -> dict[str, pl.Series]:
    """n values for every slot that some frame of the pool uses ({TEXT} is free text)."""
    used = {name for frame in pool for name in re.findall(r"\{([A-Z0-9]+)\}", frame)}
    values = {k: make(rng, n) for k, make in SLOTS.items() if k in used}
    if "TEXT" in used:
        values["TEXT"] = babble(rng, n, *text)
    return values


def fill(frames: pl.Series, values: Mapping[str, pl.Series]) -> pl.Series:
    """Replace every {SLOT} of each row's frame by that row's value for the slot."""
    frame = pl.DataFrame({"_f": frames, **{k: v for k, v in values.items()}})
    expr = pl.col("_f")
    for name in values:
        expr = expr.str.replace_all("{" + name + "}", pl.col(name), literal=True)
    return frame.select(expr).to_series()


def benign_prompts(rng: np.random.Generator, n: int, cot_share: float = 0.0) -> pl.Series:
    """Ordinary users' prompts: many frames, personal text, a share with a CoT request."""
    out = fill(pick(rng, BENIGN_FRAMES, n, zipf=0.5), slot_values(rng, BENIGN_FRAMES, n))
    cot = pl.Series(rng.random(n) < cot_share)
    suffix = pick(rng, COT_SUFFIXES, n)
    return pl.select(
        pl.when(pl.lit(cot))
        .then(pl.concat_str([pl.lit(out), pl.lit(suffix)], separator=" "))
        .otherwise(pl.lit(out))
    ).to_series()


def template_prompts(rng: np.random.Generator, templates: Sequence[str], n: int) -> pl.Series:
    """A fixed set of templates (an app's, a company's) filled with each user's own text."""
    return fill(pick(rng, templates, n, zipf=0.7), slot_values(rng, templates, n, text=(8, 40)))


def dataset_items(rng: np.random.Generator, domains: Sequence[str], size: int) -> pl.Series:
    """A ring's task dataset: `size` items drawn from the item frames of its domains."""
    frames = [f for d in domains for f in DOMAINS[d]["items"]]
    return fill(pick(rng, frames, size), slot_values(rng, frames, size, text=(15, 45)))


def ring_prompts(
    rng: np.random.Generator,
    domains: Sequence[str],
    items: pl.Series,
    n: int,
    paraphrase: bool,
    languages: Sequence[str] = ("en",),
    wrappers_per_ring: int = 3,
) -> pl.Series:
    """n harvesting prompts: dataset items (with repeats) wrapped in the ring's instructions.

    Fixed mode: the ring picks a few wrapper templates of its domains and uses them verbatim.
    Paraphrase mode: every request re-draws the verb/reasoning/output phrases, the clause
    order and the language, and substitutes synonyms inside the item, so no two requests
    share a template string, only the underlying curriculum.
    """
    item = items.gather(rng.integers(0, len(items), size=n))
    dom = rng.integers(0, len(domains), size=n)
    if not paraphrase:
        pool = [w for d in domains for w in DOMAINS[d]["wrappers"]]
        pool = [pool[i] for i in rng.permutation(len(pool))[:wrappers_per_ring]]
        return fill(pick(rng, pool, n), {"ITEM": item})
    # Synonym substitution on about half of the requests.
    swapped = pl.select(pl.lit(item).str.replace_many(list(SYNONYMS), list(SYNONYMS.values())))
    swap = pl.Series(rng.random(n) < 0.5)
    item = pl.select(
        pl.when(pl.lit(swap)).then(pl.lit(swapped.to_series())).otherwise(pl.lit(item))
    ).to_series()
    out = pl.Series([None] * n, dtype=pl.String)
    lang = rng.integers(0, len(languages), size=n)
    for di, d in enumerate(domains):
        para = DOMAINS[d]["para"]
        for li, lg in enumerate(languages):
            phr = para.get(lg, para["en"])
            mask = (dom == di) & (lang == li)
            k = int(mask.sum())
            if k == 0:
                continue
            vals = {key: pick(rng, phr[key], k) for key in ("V", "HOW", "OUT")}
            vals["ITEM"] = item.filter(pl.Series(mask))
            text = fill(pick(rng, PARA_FRAMES, k), vals)
            out = out.scatter(np.flatnonzero(mask), text)
    return out
