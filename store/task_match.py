"""When two task texts are the same task in other words (store/task_index.py applies it to the bank).

A merge needs all three (`same_task`):
- the texts' embeddings are close: cosine similarity at least THRESHOLD (all-MiniLM-L6-v2, normalized, of
  `canonical(text)`: spelled numbers as digits);
- their anchors agree (`anchors_agree`):
  - the numbers (digits and number words: "4" and "four" are one anchor; "4.0" = "4", "1,000" = "1000",
    "2/4" = "1/2" = "half" = "0.5", "3rd" = "third" = "3"), quoted strings ('…', "…", `…`, “…”) and code
    identifiers (snake_case, camelCase, dotted.names, names called with "(", names in backticks, tokens that mix
    letters and digits such as python3.11, --flags, file/paths.py) of one text are exactly those of the other;
  - for every group of direction and polarity words (largest/smallest, ascending/descending, include/exclude,
    keep/remove, first/last, even/odd, not …; per language in task_words.json) both texts use the same values, or
    neither uses the group;
  - each direction/polarity value is used as many times in one text as in the other (aggregates aside), and an
    operator between numbers counts as its aggregate ("28 * 48" is a multiplication);
  - and no slot of one text holds something else in the other: the texts are aligned word by word (filler
    words dropped, stemmed, synonyms of "same_word" as one, the anchors as placeholders); a short stretch where
    each text has a content word the other lacks ("spider" / "ant", "vowels" / "consonants"), an operator
    where the other has another ("5 - 3" / "5 + 3"), two numbers in each other's places where order counts
    ("subtract 17 from 45" / "subtract 45 from 17", "15 % of 80"; `_slot_conflict`), the same words with two
    exchanged where order counts ("Fahrenheit to Celsius" / "Celsius to Fahrenheit"; `_swapped`), or a word
    only one text has beside a word both have where the other has its own word beside it ("the signup page"
    / "the login page", wherever the sentences put them; `_same_place`) is another task of the same template;
- their tags agree when both are tagged.
The embedding alone cannot tell "divisors of 360" from "divisors of 350" (cosine ~0.97), and a wrong contrast
teaches a wrong lesson, so the anchors decide what the similarity cannot: a near-miss is never merged, at the
price of some paraphrases that reword an anchor ("the first element" / "element 1", "has no" / "is
present") staying apart. The words of the rules are data (task_words.json, one object per language; "en" is
the only one so far): number words, ignored phrases ("final answer" is no position), operator words, the
direction/polarity groups, filler words and the few words taken as one in the slot alignment.

"one" is the number 1 except as a pronoun: after a determiner or adjective ("this one", "the first one") or
before "of"/"another"/"by" ("one of them"); "a"/"an" are never numbers.

Pure functions, no store access; nothing heavy imported (json, re, difflib; snowballstemmer on first use).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from fractions import Fraction
from functools import cache, lru_cache
from importlib import resources
from typing import Any

# Calibrated on bench/data/match_set.jsonl with bench/bench_match.py (see its sweep): the anchors stop every
# near-miss of the set at any floor from 0.30 up, so the floor only has to keep out different tasks that share
# no anchor and no template; the paraphrases' similarity starts at ~0.62.
THRESHOLD = 0.70

_VERSION = r"\d+(?:\.\d+){2,}"
_NUM = (r"0[xX][0-9a-fA-F]+|-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+(?![A-Za-z]))?(?:/\d+)?"
        r"|-?\.\d+")
_DIGITS = re.compile(rf"(?<![\w.]){_VERSION}|(?<![\w.])(?:{_NUM})(?:st|nd|rd|th)?(?!\.?\d)")
_TRIPLE = re.compile(r"\"\"\"|'''")
_QUOTED = re.compile(r"\"([^\"\n]{1,120})\"|“([^”\n]{1,120})”|‘([^’\n]{1,120})’"
                     r"|(?<![A-Za-z0-9])'([^'\n]{1,120})'(?![A-Za-z0-9])")
_BACKTICK = re.compile(r"`([^`\n]{1,200})`")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\(")
_MIXED = re.compile(r"(?<![\w.-])[A-Za-z][A-Za-z_]*\d[A-Za-z0-9_]*(?:\.\w+)*")  # python3.11, utf8, x86_64, lst1
_FLAG = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")  # --dry-run, -v
# utils/batch.py, /var/log/app, ~/.config/app (a word/word pair without an extension, "and/or", is none)
_PATH = re.compile(r"(?<![\w/.~])(?:(?:[~.]{0,2}/)?(?:[\w.-]+/)+[\w-]*\.[A-Za-z]\w*|[~.]{0,2}/[\w.-]+(?:/[\w.-]+)+)")
_NEGATED = re.compile(r"\b[a-z]+n't\b")
_OPERATORS = frozenset("+-*/^=<>%")
_ORDERED_GROUPS = frozenset({"§aggregate:difference", "§aggregate:quotient", "§negation:not"})
_OPERATION = {"+": "aggregate:sum", "-": "aggregate:difference", "*": "aggregate:product", "/": "aggregate:quotient"}


@dataclass(frozen=True)
class Anchors:
    numbers: frozenset[str]
    quoted: frozenset[str]
    identifiers: frozenset[str]
    directions: frozenset[str]  # "group:value", e.g. "extreme:max"
    # The text as aligned by `_slot_conflict`: stemmed content words, "§group:value" for a direction word, an
    # operator symbol, "#<anchor>" for a number, quoted string or identifier. Not part of equality.
    slots: tuple[str, ...] = field(default=(), compare=False, repr=False)


@cache
def words(language: str = "en") -> dict[str, Any]:
    data = json.loads((resources.files("memcollab.store") / "task_words.json").read_text("utf-8"))
    return data[language]


def _norm(phrase: str) -> str:
    return re.sub(r"[\s-]+", " ", phrase.lower())


def _phrase_pattern(phrases: list[str]) -> str:
    alts = sorted({_norm(p) for p in phrases}, key=len, reverse=True)
    return "|".join(re.escape(p).replace(r"\ ", r"[\s-]+") for p in alts)


@cache
def _phrases(language: str = "en") -> tuple[re.Pattern[str], dict[str, str]]:
    """One pattern for every polarity phrase, longest first (so "at most" wins over "most"), and each phrase's
    "group:value"."""
    keys: dict[str, str] = {}
    for group, values in words(language)["polarity"].items():
        for value, phrases in values.items():
            for p in phrases:
                keys[_norm(p)] = f"{group}:{value}"
    return re.compile(rf"(?<![\w-])(?:{_phrase_pattern(list(keys))})(?![\w-])"), keys


@cache
def _ignored(language: str = "en") -> re.Pattern[str]:
    """Phrases whose words are no anchor ("final answer", "left over", "even if")."""
    return re.compile(rf"(?<![\w-])(?:{_phrase_pattern(words(language).get('ignore', []))})(?![\w-])", re.I)


def _number(token: str) -> str:
    """A canonical form of a digit token: "1,000" → "1000", "4.0" → "4", "3rd" → "3", "2/4" → "1/2",
    "0x1f" → "31"; a version ("1.2.3") stays as it is."""
    t = token.replace(",", "")
    t = re.sub(r"(?<=\d)(st|nd|rd|th)$", "", t)
    if t.count(".") > 1:
        return t
    try:
        v = Fraction(int(t, 16)) if t.lower().startswith(("0x", "-0x")) else Fraction(t)
    except (ValueError, ZeroDivisionError):
        return t
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def _parse_run(tokens: list[str], nw: dict[str, Any]) -> list[str]:
    """The numbers a run of number words says: ["three", "hundred", "sixty", "one"] → ["361"],
    ["one", "two"] → ["1", "2"]."""
    units, tens, scales = nw["units"], nw["tens"], nw["scales"]
    out: list[str] = []
    total = current = 0
    active = False

    def flush() -> None:
        nonlocal total, current, active
        if active:
            out.append(str(total + current))
        total = current = 0
        active = False

    for w in tokens:
        if w in units:
            if active and current % 10 == 0 and current % 100 != 0 and units[w] < 10:
                current += units[w]  # "sixty one"
            elif active and current and current % 100 != 0:
                flush()
                current, active = units[w], True
            else:
                current += units[w]
                active = True
        elif w in tens:
            if active and current % 100 != 0:
                flush()
            current += tens[w]
            active = True
        elif w in scales:
            scale = scales[w]
            if scale == 100:
                current = max(current, 1) * 100
            else:
                total += max(current, 1) * scale
                current = 0
            active = True
    flush()
    return out


@cache
def _spelled_run(language: str = "en") -> re.Pattern[str]:
    nw = words(language)["number_words"]
    names = sorted([*nw["units"], *nw["tens"], *nw["scales"]], key=len, reverse=True)
    one = "(?:" + "|".join(names) + ")"
    joiners = "|".join(map(re.escape, nw.get("joiners", [])))
    return re.compile(rf"(?<![\w-]){one}(?:(?:[\s-]+(?:(?:{joiners})[\s-]+)?){one})*(?![\w-])", re.I)


def _spelled_spans(text: str, language: str = "en") -> list[tuple[int, int, list[str]]]:
    """Each run of number words in the text, with the numbers it says; "one" as a pronoun is left out."""
    nw = words(language)["number_words"]
    after = set(nw.get("one_is_a_pronoun_after", []))
    before = set(nw.get("one_is_a_pronoun_before", []))
    out = []
    for m in _spelled_run(language).finditer(text):
        run = re.findall(r"[a-z]+", m.group(0).lower())
        if run == ["one"]:
            prev = re.findall(r"[\w'-]+", text[:m.start()][-40:].lower())
            nxt = re.findall(r"[\w'-]+", text[m.end():m.end() + 40].lower())
            if (prev and prev[-1] in after) or (nxt and nxt[0] in before):
                continue
        if set(run) <= set(nw["scales"]) | set(nw.get("joiners", [])):
            continue  # "hundreds", "thousand" alone: no number
        found = _parse_run([w for w in run if w not in nw.get("joiners", [])], nw)
        if found:
            out.append((m.start(), m.end(), found))
    return out


def _spelled_numbers(text: str, language: str = "en") -> list[str]:
    """Numbers written in words: "three hundred sixty-one" → "361", "four" → "4", "half" → "1/2",
    "the third" → "3"."""
    nw = words(language)["number_words"]
    ords = nw["ordinals"]
    out = [v for _, _, found in _spelled_spans(text, language) for v in found]
    for w in re.findall(r"(?<![\w-])[a-z]+(?![\w-])", _ignored(language).sub(" ", text.lower())):
        if w in ords:
            out.append(_number(str(ords[w])))
    return out


def canonical(text: str, language: str = "en") -> str:
    """The text with numbers written in words as digits ("four apples" → "4 apples"): what is embedded, so a
    paraphrase that spells a number differently is not pushed under the similarity floor by it."""
    spans = _spelled_spans(text, language)
    for start, end, found in reversed(spans):
        text = text[:start] + " ".join(found) + text[end:]
    return text


def _identifiers(text: str) -> set[str]:
    out = {m.group(1).strip(".") for m in _CALL.finditer(text)}
    for w in _WORD.findall(text):
        bare = w.strip(".")
        if "_" in bare.strip("_") or re.search(r"[a-z][A-Z]", bare) or ("." in bare and not bare.endswith(".")
                                                                        and re.fullmatch(r"\w+(\.\w+)+", bare)
                                                                        and not re.fullmatch(r"[\d.]+", bare)
                                                                        and not re.fullmatch(r"[a-z]\.[a-z]", bare)):
            out.add(bare)
    out |= {m.group(0) for m in _MIXED.finditer(text)}
    out |= {m.group(0) for m in _FLAG.finditer(text) if len(m.group(0).lstrip("-")) > 1 or m.group(0)[1] != "-"}
    paths = {m.group(0) for m in _PATH.finditer(text) if re.search(r"[A-Za-z]", m.group(0))}
    out = {i for i in out if not any(i in p for p in paths)} | paths
    return {i for i in out if len(i) > 1 and i not in ("e.g", "i.e")}


@cache
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@cache
def _same_word(language: str = "en") -> dict[str, str]:
    return {v: k for k, vs in words(language).get("same_word", {}).items() for v in [k, *vs]}


@cache
def _operator_words(language: str = "en") -> tuple[re.Pattern[str], dict[str, str]]:
    ops = {_norm(k): v for k, v in words(language).get("operators", {}).items()}
    return re.compile(rf"(?<![\w-])(?:{_phrase_pattern(list(ops))})(?![\w-])|[×·÷−–]"), ops


def _slots(text: str, language: str = "en") -> tuple[str, ...]:
    """The text as `_slot_conflict` aligns it (see Anchors.slots)."""
    t = _TRIPLE.sub(" ", canonical(text, language))
    holders: list[str] = []

    def hold(value: str) -> str:
        holders.append(value)
        return f" \x00{chr(0xE000 + len(holders) - 1)}\x00 "  # no digit or letter in it

    t = _BACKTICK.sub(lambda m: hold(m.group(1).strip()), t)
    t = _QUOTED.sub(lambda m: hold(next(g for g in m.groups() if g is not None).strip()), t)
    idents = sorted(_identifiers(t), key=len, reverse=True)
    if idents:
        t = re.sub("|".join(rf"(?<![\w.-]){re.escape(i)}(?![\w])" for i in idents), lambda m: hold(m.group(0)), t)
    t = _DIGITS.sub(lambda m: hold(_number(m.group(0))), t)
    t = _ignored(language).sub(" ", t.lower())
    t = re.sub(r"\bcan't\b", "cannot", re.sub(r"\bwon't\b", "will not", t))
    t = re.sub(r"n't\b", " not", re.sub(r"'(?:s|m|ve|re|d|ll)\b", "", t))
    t = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", t)
    opat, ops = _operator_words(language)
    t = opat.sub(lambda m: " " + ops.get(_norm(m.group(0)), m.group(0)) + " ", t)
    pattern, keys = _phrases(language)
    t = pattern.sub(lambda m: " \x01" + keys[_norm(m.group(0))] + "\x01 ", t)
    filler = _filler(language)
    same = _same_word(language)
    stem = _stemmer().stemWord
    out: list[str] = []
    for tok in re.findall(r"\x00[\ue000-\uf8ff]\x00|\x01[^\x01]+\x01|[a-z][a-z0-9']*|[+\-*/^=<>%]", t):
        if tok[0] == "\x00":
            out.append("#" + holders[ord(tok[1]) - 0xE000])
        elif tok[0] == "\x01":
            out.append("§" + tok[1:-1])
        elif tok in _OPERATORS:
            out.append(tok)
        else:
            tok = tok.strip("'")
            if tok in filler or len(tok) < 2:
                continue
            w = same.get(tok)
            if w is None:
                w = stem(tok)
                w = same.get(w, w)
            out.append(w)
    return tuple(out)


@cache
def _filler(language: str = "en") -> frozenset[str]:
    return frozenset(words(language).get("filler", []))


@lru_cache(maxsize=4096)  # a stored text is a candidate for many submissions
def anchors(text: str, language: str = "en") -> Anchors:
    quoted: set[str] = set()
    idents: set[str] = set()
    rest = _TRIPLE.sub(" ", text)
    for m in _BACKTICK.finditer(rest):  # `code`: its identifiers (a backticked name is the same name unquoted)
        inner = m.group(1)
        found = _identifiers(inner) | {w for w in _WORD.findall(inner) if len(w) > 1}
        idents |= found if found else set()
        if not found:
            quoted.add(inner.strip())
    rest = _BACKTICK.sub(" ", rest)
    for m in _QUOTED.finditer(rest):
        inner = next(g for g in m.groups() if g is not None).strip()
        if inner:
            quoted.add(inner)
    rest = _QUOTED.sub(" ", rest)
    idents |= _identifiers(rest)
    bare = re.sub("|".join(map(re.escape, sorted(idents, key=len, reverse=True))), " ", rest) if idents else rest
    numbers = {_number(t) for t in _DIGITS.findall(bare)}
    numbers |= set(_spelled_numbers(rest, language))
    low = _ignored(language).sub(" ", rest.lower())
    pattern, keys = _phrases(language)
    directions = {keys[_norm(m.group(0))] for m in pattern.finditer(low)}
    if _NEGATED.search(low):
        directions.add("negation:not")
    slots = _slots(text, language)
    directions |= {_OPERATION[t] for i, t in enumerate(slots[1:-1], 1)  # "28 * 48" is a multiplication
                   if t in _OPERATION and slots[i - 1][0] == "#" and slots[i + 1][0] == "#"}
    return Anchors(frozenset(numbers), frozenset(quoted), frozenset(idents), frozenset(directions), slots)


def _content(tok: str) -> bool:
    return tok[0] not in "#§" and tok not in _OPERATORS


def _slot_conflict(a: tuple[str, ...], b: tuple[str, ...]) -> str | None:
    """Why two aligned texts are two tasks of one template, or None: a short stretch where each has a content
    word the other lacks anywhere, an operator where the other has another, or anchors in each other's places."""
    if not a or not b:
        return None
    ka = ["#" if t[0] == "#" else t for t in a]
    kb = ["#" if t[0] == "#" else t for t in b]
    count_a, count_b = Counter(a), Counter(b)
    for op, i1, i2, j1, j2 in SequenceMatcher(None, ka, kb, autojunk=False).get_opcodes():
        if op == "equal":
            if i2 - i1 < 2:
                continue
            for k in range(i2 - i1):
                x, y = a[i1 + k], b[j1 + k]
                # two numbers swapped between slots that an operator or an order-bound word beside them pins
                # down ("subtract 17 from 45", "15 % of 80"; not "the lcm of 8 and 12", not "TypeError in f")
                if x != y and _is_number(x) and _is_number(y) and any(_orders(a[i]) for i in range(i1, i2)):
                    return f"{x[1:]!r} and {y[1:]!r} in each other's places"
        elif op == "replace":
            sa, sb = a[i1:i2], b[j1:j2]
            if sa != sb and all(t in _OPERATORS for t in sa + sb):
                return f"operator {' '.join(sa)!r} where the other text has {' '.join(sb)!r}"
            if len(sa) > 3 or len(sb) > 3:
                continue
            # a word this side has more often than the other text (once here and nowhere there, or a word that
            # is in both but was put in this slot)
            na = [t for t in sa if _content(t) and count_a[t] > count_b[t]]
            nb = [t for t in sb if _content(t) and count_b[t] > count_a[t]]
            if na and nb:
                return f"{na[0]!r} where the other text has {nb[0]!r}"
    return None


def _is_number(slot: str) -> bool:
    return slot[0] == "#" and re.fullmatch(r"-?[\d./]+", slot[1:]) is not None


@cache
def _ordered(language: str = "en") -> frozenset[str]:
    """Stems of words after which the order of two numbers changes the task (subtract, divide, power ...)."""
    stem = _stemmer().stemWord
    return frozenset(stem(w) for w in words(language).get("ordered", []))


def _orders(slot: str) -> bool:
    """A slot after which the order of what follows changes the task: an operator, a word of "ordered"
    (convert, than, power ...), a difference or a quotient, "instead of"."""
    return slot in _OPERATORS or slot in _ordered() or slot in _ORDERED_GROUPS


def _swapped(a: tuple[str, ...], b: tuple[str, ...]) -> str | None:
    """The same words, two of them exchanged, where order counts: "convert Fahrenheit to Celsius" / "Celsius
    to Fahrenheit", "from snake_case to camelCase" / the reverse, "ascending instead of descending" / the
    reverse."""
    if len(a) != len(b):
        return None
    diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    if len(diff) == 2 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]] and any(map(_orders, a)):
        return f"{a[diff[0]].lstrip('#§')!r} and {a[diff[1]].lstrip('#§')!r} in each other's places"
    return None


def _same_place(a: tuple[str, ...], b: tuple[str, ...]) -> str | None:
    """A content word only one text has, next to a word (or number) both have, where the other text has its own
    word next to that same word on the same side: "the signup page" / "the login page", "the calendar view" / "the
    timeline view", wherever the sentences put them."""
    ca, cb = {t for t in a if _content(t)}, {t for t in b if _content(t)}
    only_a, only_b = ca - cb, cb - ca
    if not only_a or not only_b:
        return None

    def places(seq: tuple[str, ...], only: set[str]) -> dict[tuple[int, str], str]:
        out = {}
        for i, t in enumerate(seq):
            if t in only:
                for side, j in ((-1, i - 1), (1, i + 1)):
                    if 0 <= j < len(seq) and seq[j] not in only and (seq[j][0] != "#" or _is_number(seq[j])):
                        out.setdefault((side, seq[j]), t)
        return out

    pa, pb = places(a, only_a), places(b, only_b)
    for key in sorted(pa.keys() & pb.keys()):  # a neighbour found on both sides is in both texts
        return f"{pa[key]!r} where the other text has {pb[key]!r} (beside {key[1].lstrip('#')!r})"
    return None


def anchors_agree(a: Anchors, b: Anchors) -> str | None:
    """None when the two texts' anchors agree, else why not."""
    for kind in ("numbers", "quoted", "identifiers"):
        x, y = getattr(a, kind), getattr(b, kind)
        if x != y:
            only = sorted(x ^ y)[:3]
            return f"{kind[:-1] if kind != 'quoted' else 'quoted string'} {', '.join(map(repr, only))} only in one text"
    if a.directions != b.directions:
        only = sorted(a.directions ^ b.directions)[:3]
        return f"direction/polarity {', '.join(only)} only in one text"
    # "start ... first 18 s" / "end ... first 18 s": the same values, used another number of times (aggregates
    # aside: "how many times ... appear" / "count the occurrences" say one count twice or once)
    da = Counter(t for t in a.slots if t[0] == "§" and not t.startswith("§aggregate:"))
    db = Counter(t for t in b.slots if t[0] == "§" and not t.startswith("§aggregate:"))
    if da != db:
        only = sorted((da - db) + (db - da))[:3]
        return f"direction/polarity {', '.join(t[1:] for t in only)} used another number of times"
    conflict = _slot_conflict(a.slots, b.slots) or _swapped(a.slots, b.slots) or _same_place(a.slots, b.slots)
    return f"slot: {conflict}" if conflict else None


def tags_agree(a: tuple[str | None, str | None], b: tuple[str | None, str | None]) -> bool:
    """(category, subcategory) pairs agree unless both are tagged and differ (the subcategory counts when both
    have one)."""
    (ca, sa), (cb, sb) = a, b
    if not ca or not cb:
        return True
    if ca.strip().lower() != cb.strip().lower():
        return False
    return not (sa and sb and sa.strip().lower() != sb.strip().lower())


def same_task(text_a: str, text_b: str, similarity: float, tag_a: tuple[str | None, str | None] = (None, None),
              tag_b: tuple[str | None, str | None] = (None, None), *, threshold: float | None = None) -> str | None:
    """None when the texts are the same task (merge them), else the reason they are not."""
    floor = THRESHOLD if threshold is None else threshold
    if similarity < floor:
        return f"similarity {similarity:.3f} below {floor:.3f}"
    if not tags_agree(tag_a, tag_b):
        return "tags differ"
    return anchors_agree(anchors(text_a), anchors(text_b))
