"""The eval's outputs: per (model, condition) figures, report.md (laid out like the paper's table) and
accuracy.png (grouped bars)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .agent import Trajectory
from .build import usage


def row(condition: str, model: str, trajs: list[Trajectory]) -> dict[str, Any]:
    """accuracy: solved within T turns; accuracy_turn1: solved at the first answer; both over the tasks that
    got an answer (provider failures are counted in `failed`, not as wrong answers)."""
    done = [t for t in trajs if not t.failed]
    n = len(done)
    u = usage(trajs)
    return {"condition": condition, "model": model, "n": n,
            "accuracy": round(sum(t.correct for t in done) / n, 4) if n else 0.0,
            "accuracy_turn1": round(sum(t.correct_at_turn1 for t in done) / n, 4) if n else 0.0,
            "mean_turns": round(sum(t.turns for t in done) / n, 4) if n else 0.0,
            "tokens_in": u["tokens_in"], "tokens_out": u["tokens_out"], "cost_usd": u["cost_usd"],
            "calls": u["calls"], "cached_calls": u["cached_calls"], "failed": len(trajs) - n}


def table(results: list[dict[str, Any]]) -> list[str]:
    lines = ["| model | condition | n | accuracy | accuracy@turn 1 | mean turns | tokens in | tokens out | cost (USD) "
             "| failed |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['model']} | {r['condition']} | {r['n']} | {100 * r['accuracy']:.1f} | "
                     f"{100 * r['accuracy_turn1']:.1f} | {r['mean_turns']:.2f} | {r['tokens_in']} | "
                     f"{r['tokens_out']} | {r['cost_usd']:.4f} | {r['failed']} |")
    return lines


def write_markdown(path: Path, summary: dict[str, Any]) -> None:
    s = summary
    lines = [
        "# memcollab eval", "",
        f"Tasks `{s['tasks_spec']}`: {s['tasks']['memory']} in the memory half, {s['tasks']['test']} in the test "
        f"half (seed {s['seed']}, split {s['split_fraction']}). Models: {', '.join(s['models'])}; distiller "
        f"{s['distiller']}; up to {s['turns']} turns.", "",
        f"**No test task entered any bank**: the stores under this directory were queried after the run; "
        f"test tasks found in them: {s['test_tasks_in_bank']}.", "",
        "Accuracy is in percent, over the test tasks that got an answer; `failed` counts provider failures.", "",
        *table(s["results"]), "",
        "Conditions: `vanilla` no memory; `own` constraints distilled from the model's own failed and later "
        "successful attempts only; `naive` other models' correct solutions on the most similar memory tasks "
        "pasted as worked examples; `memcollab` `get_constraints` over MCP (task-aware, p = 3).", "",
        f"LLM calls: {s['calls']['calls']} ({s['calls']['cached_calls']} served from the response cache).",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_plot(path: Path, results: list[dict[str, Any]], conditions: list[str], models: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    acc = {(r["model"], r["condition"]): 100 * r["accuracy"] for r in results}
    width = 0.8 / max(len(conditions), 1)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.8 * len(models) + 2), 4.4))
    for i, cond in enumerate(conditions):
        xs = [m + (i - (len(conditions) - 1) / 2) * width for m in range(len(models))]
        bars = ax.bar(xs, [acc.get((m, cond), 0.0) for m in models], width, label=cond)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(range(len(models)), models, fontsize=8)
    ax.set_ylabel("accuracy on the test half (%)")
    ax.set_ylim(0, 108)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(conditions), frameon=False)
    ax.set_title("memcollab eval")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
