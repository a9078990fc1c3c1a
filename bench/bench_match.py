"""Task matching (store/task_match.py) on the calibration set bench/data/match_set.jsonl (bench/match_set.py):
does `same_task` merge the paraphrases and never the near-misses, and what does matching cost per submit?

    python bench/bench_match.py [--set FILE] [--json]

Texts are embedded as the server embeds them (store/task_index.py: `canonical(text)` through the packaged
all-MiniLM-L6-v2), similarity = dot product of the normalized vectors. Printed:
- precision, recall, near-miss merges (count, by kind), recall by domain, at THRESHOLD;
- each class's similarity distribution, and how many near-misses the similarity alone would have merged;
- the threshold sweep: recall and near-miss merges at each floor, with the anchors and without them;
- why the paraphrases that stay apart stay apart;
- the cost per submit, as ratios to a floor measured in the same run (one encode of one text): anchors() +
  same_task() on one candidate (the anchors cold and cached), and one encode + a dot product against N stored
  task vectors (N = 1k, 10k) with the top-K pick.
Targets (issue 21): 0 near-miss merges, recall >= 0.8.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SET = Path(__file__).resolve().parent / "data" / "match_set.jsonl"


def load(path: Path = SET) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def similarities(items: list[dict], embedder=None) -> list[float]:
    """Each pair's cosine similarity, the texts embedded as the server embeds them."""
    from memcollab.store.embed import get_embedder
    from memcollab.store.task_match import canonical

    embedder = embedder or get_embedder()
    texts = sorted({t for it in items for t in (it["a"], it["b"])})
    vecs = embedder.compute([canonical(t) for t in texts])
    at = {t: i for i, t in enumerate(texts)}
    return [float(vecs[at[it["a"]]] @ vecs[at[it["b"]]]) for it in items]


def _tag(it: dict, side: str) -> tuple[str | None, str | None]:
    t = it.get(f"tag_{side}") or [None, None]
    return (t[0], t[1])


def decide(items: list[dict], sims: list[float], threshold: float | None = None) -> list[str | None]:
    from memcollab.store.task_match import same_task

    return [same_task(it["a"], it["b"], s, _tag(it, "a"), _tag(it, "b"), threshold=threshold)
            for it, s in zip(items, sims, strict=True)]


def score(items: list[dict], decisions: list[str | None]) -> dict:
    merged = [d is None for d in decisions]
    tp = sum(m and it["same"] for m, it in zip(merged, items, strict=True))
    fp = [it for m, it in zip(merged, items, strict=True) if m and not it["same"]]
    pos = sum(it["same"] for it in items)
    by_domain: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for m, it in zip(merged, items, strict=True):
        if it["same"]:
            by_domain[it["domain"]][0] += m
            by_domain[it["domain"]][1] += 1
    return {"precision": tp / (tp + len(fp)) if tp + fp.__len__() else 1.0, "recall": tp / pos if pos else 0.0,
            "merged_paraphrases": tp, "paraphrases": pos, "near_miss_merges": len(fp),
            "near_miss_merges_by_kind": dict(Counter(it["kind"] for it in fp)),
            "recall_by_domain": {d: round(a / n, 3) for d, (a, n) in sorted(by_domain.items())},
            "near_miss_merged": [(it["kind"], it["a"][:90], it["b"][:90]) for it in fp]}


def quantiles(xs: list[float]) -> dict:
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=20) if len(xs) > 1 else xs * 19
    return {"n": len(xs), "min": round(xs[0], 3), "p5": round(q[0], 3), "p25": round(q[4], 3),
            "median": round(statistics.median(xs), 3), "p75": round(q[14], 3), "p95": round(q[18], 3),
            "max": round(xs[-1], 3)}


def sweep(items: list[dict], sims: list[float]) -> list[dict]:
    from memcollab.store.task_match import anchors, anchors_agree, same_task

    rows = []
    for t in [x / 100 for x in range(30, 100, 5)]:
        with_anchors = score(items, decide(items, sims, t))
        sim_only = score(items, [None if s >= t else "below" for s in sims])
        rows.append({"threshold": t, "recall": round(with_anchors["recall"], 3),
                     "near_miss_merges": with_anchors["near_miss_merges"],
                     "similarity_only_recall": round(sim_only["recall"], 3),
                     "similarity_only_near_miss_merges": sim_only["near_miss_merges"]})
    del anchors, anchors_agree, same_task
    return rows


def _per_call(fn, n: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def cost(items: list[dict]) -> dict:
    """Seconds per call and ratios to the floor (one encode of one uncached text, same run)."""
    import numpy as np

    from memcollab.store import task_match
    from memcollab.store.embed import get_embedder

    emb = get_embedder()
    texts = [it["a"] for it in items if it["same"]][:50]
    counter = iter(range(10**9))

    def one_encode() -> None:  # a new text each time: the model runs (no cache)
        emb.compute([f"{texts[next(counter) % len(texts)]} #{next(counter)}"])

    floor = _per_call(one_encode, 30)
    pairs = [(it["a"], it["b"]) for it in items][:400]
    i = iter(range(10**9))

    def match_cold() -> None:
        a, b = pairs[next(i) % len(pairs)]
        task_match.anchors.cache_clear()
        task_match.same_task(a, b, 0.99)

    def match_cached() -> None:
        a, b = pairs[next(i) % len(pairs)]
        task_match.same_task(a, b, 0.99)

    cold = _per_call(match_cold, 400)
    for a, b in pairs:
        task_match.same_task(a, b, 0.99)
    warm = _per_call(match_cached, 2000)
    out = {"floor_one_encode_s": floor, "same_task_cold_s": cold, "same_task_cached_s": warm,
           "same_task_cold_ratio": cold / floor, "same_task_cached_ratio": warm / floor}
    rng = np.random.default_rng(0)
    for n in (1_000, 10_000):
        stored = rng.standard_normal((n, emb.dim)).astype(np.float32)
        stored /= np.linalg.norm(stored, axis=1, keepdims=True)

        def search(stored=stored) -> None:
            v = emb.compute([f"{texts[next(counter) % len(texts)]} #{next(counter)}"])[0]
            s = stored @ v
            top = np.argpartition(-s, 5)[:5]
            top[np.argsort(-s[top])]

        def dot(stored=stored, v=stored[0]) -> None:
            s = stored @ v
            np.argpartition(-s, 5)[:5]

        t_search = _per_call(search, 20)
        t_dot = _per_call(dot, 200)
        out[f"encode_and_dot_{n}_s"] = t_search
        out[f"encode_and_dot_{n}_ratio"] = t_search / floor
        out[f"dot_{n}_s"] = t_dot
        out[f"dot_{n}_ratio"] = t_dot / floor
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description="task matching: precision, recall, near-miss merges, cost")
    ap.add_argument("--set", type=Path, default=SET)
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout instead of the report")
    ap.add_argument("--no-cost", action="store_true")
    args = ap.parse_args()

    from memcollab.store.task_match import THRESHOLD

    items = load(args.set)
    t0 = time.perf_counter()
    sims = similarities(items)
    t_embed = time.perf_counter() - t0
    decisions = decide(items, sims)
    res = score(items, decisions)
    dist = {"paraphrase": quantiles([s for s, it in zip(sims, items, strict=True) if it["same"]]),
            "near-miss": quantiles([s for s, it in zip(sims, items, strict=True) if not it["same"]])}
    by_kind = defaultdict(list)
    for s, it in zip(sims, items, strict=True):
        by_kind[it["kind"]].append(s)
    dist_kind = {k: quantiles(v) for k, v in sorted(by_kind.items())}
    why = Counter(d.split(" ")[0] + (" " + d.split(" ")[1] if d.startswith("direction") else "")
                  for d, it in zip(decisions, items, strict=True) if it["same"] and d is not None)
    reasons_missed = [(d, it["a"][:100], it["b"][:100]) for d, it in zip(decisions, items, strict=True)
                      if it["same"] and d is not None]
    report = {"threshold": THRESHOLD, "pairs": len(items), "embed_s": round(t_embed, 2),
              "composition": dict(Counter(f"{it['domain']}/{it['kind']}" for it in items)),
              **res, "similarity": dist, "similarity_by_kind": dist_kind, "sweep": sweep(items, sims),
              "paraphrases_apart_because": dict(why.most_common())}
    if not args.no_cost:
        report["cost"] = cost(items)
    if args.json:
        report["paraphrases_apart"] = reasons_missed
        print(json.dumps(report, indent=1))
        return 0

    print(f"set: {args.set.name}, {len(items)} pairs ({res['paraphrases']} paraphrases, "
          f"{len(items) - res['paraphrases']} near-misses); embedded in {t_embed:.1f} s")
    print(f"THRESHOLD {THRESHOLD}: precision {res['precision']:.3f}, recall {res['recall']:.3f} "
          f"({res['merged_paraphrases']}/{res['paraphrases']}), near-miss merges {res['near_miss_merges']} "
          f"{res['near_miss_merges_by_kind']}")
    print(f"recall by domain: {res['recall_by_domain']}")
    for k, fp in enumerate(res["near_miss_merged"][:20]):
        print(f"  MERGED near-miss {k}: {fp}")
    print("similarity (cosine):")
    for k, d in {**dist, **{"  " + k: v for k, v in dist_kind.items()}}.items():
        print(f"  {k:28s} " + " ".join(f"{x}={v}" for x, v in d.items()))
    print("sweep: floor | recall, near-miss merges (with anchors) | similarity alone: recall, near-miss merges")
    for r in report["sweep"]:
        mark = "  <- THRESHOLD" if abs(r["threshold"] - THRESHOLD) < 1e-9 else ""
        print(f"  {r['threshold']:.2f} | {r['recall']:.3f} {r['near_miss_merges']:4d} | "
              f"{r['similarity_only_recall']:.3f} {r['similarity_only_near_miss_merges']:4d}{mark}")
    print(f"paraphrases kept apart, by reason: {report['paraphrases_apart_because']}")
    if "cost" in report:
        c = report["cost"]
        print(f"cost per submit (floor = one encode of one text, {c['floor_one_encode_s'] * 1e3:.2f} ms here):")
        print(f"  anchors()+same_task() on one candidate: cold {c['same_task_cold_s'] * 1e6:.0f} us "
              f"({c['same_task_cold_ratio']:.3f} x floor), anchors cached {c['same_task_cached_s'] * 1e6:.0f} us "
              f"({c['same_task_cached_ratio']:.3f} x floor)")
        for n in (1_000, 10_000):
            print(f"  encode + dot against {n} task vectors + top-5: {c[f'encode_and_dot_{n}_s'] * 1e3:.2f} ms "
                  f"({c[f'encode_and_dot_{n}_ratio']:.2f} x floor; the dot alone "
                  f"{c[f'dot_{n}_s'] * 1e6:.0f} us = {c[f'dot_{n}_ratio']:.3f} x floor)")
    ok = res["near_miss_merges"] == 0 and res["recall"] >= 0.8
    print("targets (0 near-miss merges, recall >= 0.8):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
