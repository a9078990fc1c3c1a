"""Draws docs/img/pipeline.svg, the README's picture of the pipeline: submit → pair → distil → retrieve.

Plain SVG written by hand (no plotting library, no fonts to embed), so the output is byte-for-byte the same
on every machine and a test (tests/test_docs.py) can check that the committed SVG is this script's output.

    python docs/img/pipeline.py          # rewrites docs/img/pipeline.svg
"""

from __future__ import annotations

from html import escape
from pathlib import Path

OUT = Path(__file__).with_name("pipeline.svg")
W, H = 960, 300
BOX_W, BOX_H, TOP = 190, 118, 40
GAP = (W - 40 - 4 * BOX_W) // 3  # between boxes, 20 px margins

# (title, tool or command, lines under it)
STEPS = [
    ("1  submit", "submit_trajectory",
     ["an agent's attempt at a task:", "steps, final answer, outcome", "(correct / incorrect / unknown)"]),
    ("2  pair", "automatic, just after the answer",
     ["same task, different models:", "τ+ a correct trajectory,", "τ− an incorrect one"]),
    ("3  distil", "memcollab distill / next_contrast",
     ["≤ 3 constraints per pair:", "When ⟨condition⟩, enforce", "⟨invariant⟩; avoid ⟨violation⟩"]),
    ("4  retrieve", "get_constraints",
     ["tag the task, filter by tag,", "rank (BM25), top 3 records", "→ a guidance block"]),
]
FILL, STROKE, INK, MUTED, ACCENT = "#f5f7fb", "#44546a", "#1b2430", "#5a6b80", "#2f6fba"


def _text(x: float, y: float, s: str, size: int = 13, weight: str = "normal", fill: str = INK,
          anchor: str = "middle", style: str = "normal") -> str:
    return (f'<text x="{x:g}" y="{y:g}" font-size="{size}" font-weight="{weight}" font-style="{style}" '
            f'fill="{fill}" text-anchor="{anchor}">{escape(s)}</text>')


def render() -> str:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        f'font-family="Helvetica, Arial, sans-serif" role="img" '
        f'aria-label="memcollab pipeline: submit, pair, distil, retrieve">',
        f'<rect width="{W}" height="{H}" fill="#ffffff"/>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
        f'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{STROKE}"/></marker></defs>',
        _text(W / 2, 24, "agents of different model families share one bank", 14, "bold", MUTED),
    ]
    for i, (title, tool, lines) in enumerate(STEPS):
        x = 20 + i * (BOX_W + GAP)
        cx = x + BOX_W / 2
        parts.append(f'<rect x="{x}" y="{TOP}" width="{BOX_W}" height="{BOX_H}" rx="10" fill="{FILL}" '
                     f'stroke="{STROKE}" stroke-width="1.5"/>')
        parts.append(_text(cx, TOP + 24, title, 16, "bold"))
        parts.append(_text(cx, TOP + 44, tool, 12, "normal", ACCENT, style="italic"))
        for j, line in enumerate(lines):
            parts.append(_text(cx, TOP + 68 + 17 * j, line, 12))
        if i < len(STEPS) - 1:
            y = TOP + BOX_H / 2
            parts.append(f'<line x1="{x + BOX_W + 4}" y1="{y}" x2="{x + BOX_W + GAP - 4}" y2="{y}" '
                         f'stroke="{STROKE}" stroke-width="2" marker-end="url(#arrow)"/>')
    # the loop: the guidance goes back into the next agent's prompt, whose attempt is submitted in turn
    first, last = 20 + BOX_W / 2, 20 + 3 * (BOX_W + GAP) + BOX_W / 2
    bottom, low = TOP + BOX_H, TOP + BOX_H + 64
    parts.append(f'<path d="M {last} {bottom + 4} L {last} {low} L {first} {low} L {first} {bottom + 4}" '
                 f'fill="none" stroke="{STROKE}" stroke-width="2" stroke-dasharray="6 4" marker-end="url(#arrow)"/>')
    parts.append(_text(W / 2, low - 10, "the guidance goes into the next agent's prompt; its attempt is "
                       "submitted in turn", 13, "normal", MUTED))
    parts.append(_text(W / 2, low + 36, "bank: trajectories → contrast pairs → records tagged (category, "
                       "subcategory), in LanceDB, shared by every server on the store", 12, "normal", MUTED))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(OUT)
