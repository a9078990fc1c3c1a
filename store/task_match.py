"""When two task texts are the same task in other words (store/task_index.py applies it to the bank).

A merge needs all three (`same_task`):
- the texts' embeddings are close: cosine similarity at least THRESHOLD (all-MiniLM-L6-v2, normalized);
- their anchors agree (`anchors_agree`): the numbers (digits and number words: "4" and "four" are one anchor),
  quoted strings and code identifiers of one text are exactly those of the other, and for every group of
  direction and polarity words (largest/smallest, ascending/descending, include/exclude, first/last, even/odd,
  not …; per language in task_words.json) both texts use the same values, or neither uses the group;
- their tags agree when both are tagged.
The embedding alone cannot tell "divisors of 360" from "divisors of 350" (cosine ~0.97), and a wrong contrast
teaches a wrong lesson, so the anchors decide what the similarity cannot: a near-miss is never merged, at the
price of some paraphrases that reword an anchor ("the first element" / "element 1") staying apart.

Pure functions, no store access; nothing heavy imported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, lru_cache
from importlib import resources
from typing import Any

# Calibrated on bench/data/match_set.jsonl with bench/bench_match.py (see its sweep).
THRESHOLD = 0.70

_DIGITS = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:/\d+)?(?:st|nd|rd|th)?(?![\w])|(?<![\w.])-?\.\d+(?![\w])")
_QUOTED = re.compile(r"\"([^\"\n]{1,120})\"|“([^”\n]{1,120})”|(?<![A-Za-z0-9])'([^'\n]{1,120})'(?![A-Za-z0-9])")
_BACKTICK = re.compile(r"`([^`\n]{1,200})`")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\(")
_NEGATED = re.compile(r"\b[a-z]+n't\b")


@dataclass(frozen=True)
class Anchors:
    numbers: frozenset[str]
    quoted: frozenset[str]
    identifiers: frozenset[str]
    directions: frozenset[str]  # "group:value", e.g. "extreme:max"


@cache
def words(language: str = "en") -> dict[str, Any]:
    data = json.loads((resources.files("memcollab.store") / "task_words.json").read_text("utf-8"))
    return data[language]


@cache
def _phrases(language: str = "en") -> tuple[re.Pattern[str], dict[str, str]]:
    """One pattern for every polarity phrase, longest first (so "at most" wins over "most"), and each phrase's
    "group:value"."""
    keys: dict[str, str] = {}
    for group, values in words(language)["polarity"].items():
        for value, phrases in values.items():
            for p in phrases:
                keys[re.sub(r"[\s-]+", " ", p.lower())] = f"{group}:{value}"
    alts = sorted(keys, key=len, reverse=True)
    body = "|".join(re.escape(p).replace(r"\ ", r"[\s-]+") for p in alts)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])"), keys


def _number(token: str) -> str:
    """A canonical form of a digit token: "1,000" → "1000", "4.0" → "4", "3rd" → "3", "2/4" → "1/2"."""
    t = re.sub(r"(st|nd|rd|th)$", "", token.replace(",", ""))
    try:
        v = Fraction(t)
    except (ValueError, ZeroDivisionError):
        return t
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def _spelled_numbers(text: str, language: str = "en") -> list[str]:
    """Numbers written in words: "three hundred sixty-one" → "361", "four" → "4", "half" → "1/2"."""
    nw = words(language)["number_words"]
    units, tens, scales, ords = nw["units"], nw["tens"], nw["scales"], nw["ordinals"]
    joiners = set(nw.get("joiners", []))
    out: list[str] = []
    total = current = 0
    active = False

    def flush() -> None:
        nonlocal total, current, active
        if active:
            out.append(str(total + current))
        total = current = 0
        active = False

    tokens = re.findall(r"[a-z]+", text.lower().replace("-", " "))
    for i, w in enumerate(tokens):
        if w in units:
            if active and current % 10 == 0 and current % 100 != 0 and units[w] < 10:
                current += units[w]  # "sixty one"
            elif active and current and current < 100 and units[w] < 100:
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
        elif w in scales and active:
            scale = scales[w]
            if scale == 100:
                current = max(current, 1) * 100
            else:
                total += max(current, 1) * scale
                current = 0
        elif w in joiners and active and i + 1 < len(tokens) and (tokens[i + 1] in units or tokens[i + 1] in tens):
            continue
        else:
            flush()
            if w in ords:
                out.append(_number(str(ords[w])))
    flush()
    return out


@cache
def _spelled_run(language: str = "en") -> re.Pattern[str]:
    nw = words(language)["number_words"]
    names = sorted([*nw["units"], *nw["tens"], *nw["scales"]], key=len, reverse=True)
    one = "(?:" + "|".join(names) + ")"
    return re.compile(rf"\b{one}(?:(?:[\s-]+(?:and[\s-]+)?){one})*\b", re.I)


def canonical(text: str, language: str = "en") -> str:
    """The text with numbers written in words as digits ("four apples" → "4 apples"): what is embedded, so a
    paraphrase that spells a number differently is not pushed under the similarity floor by it."""
    def digits(m: re.Match[str]) -> str:
        found = _spelled_numbers(m.group(0), language)
        return " ".join(found) if found else m.group(0)

    return _spelled_run(language).sub(digits, text)


def _identifiers(text: str) -> set[str]:
    out = {m.group(1) for m in _CALL.finditer(text)}
    for w in _WORD.findall(text):
        bare = w.strip(".")
        if "_" in bare.strip("_") or re.search(r"[a-z][A-Z]", bare) or ("." in bare and not bare.endswith(".")
                                                                        and re.fullmatch(r"\w+(\.\w+)+", bare)
                                                                        and not re.fullmatch(r"[\d.]+", bare)):
            out.add(bare)
    return {i for i in out if len(i) > 1}


@lru_cache(maxsize=4096)  # a stored text is a candidate for many submissions
def anchors(text: str, language: str = "en") -> Anchors:
    quoted: set[str] = set()
    idents: set[str] = set()
    rest = text
    for m in _BACKTICK.finditer(text):  # `code`: its identifiers (a backticked name is the same name unquoted)
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
    idents |= _identifiers(rest)
    numbers = {_number(t) for t in _DIGITS.findall(rest)}
    numbers |= set(_spelled_numbers(rest, language))
    low = rest.lower()
    pattern, keys = _phrases(language)
    directions = {keys[re.sub(r"[\s-]+", " ", m.group(0))] for m in pattern.finditer(low)}
    if _NEGATED.search(low):
        directions.add("negation:not")
    return Anchors(frozenset(numbers), frozenset(quoted), frozenset(idents), frozenset(directions))


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
    return None


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
