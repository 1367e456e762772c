"""The run's one-page summary: where the figures are, and the headline numbers behind them."""

from __future__ import annotations

from .data import METRIC_NAMES
from .io import read_json, read_tsv
from . import preconditions as P
from .evidence import markdown
from .preconditions import NAMES, table, warning


def glue_text(row: dict, report: list[str]) -> str:
    """GLUE's metrics for one task as GLUE prints them (x 100), e.g. "F1 88.10 / accuracy 84.07"."""
    return " / ".join(f"{METRIC_NAMES.get(m, m)} {100 * float(row[f'dev_{m}']):.2f}" for m in report if f"dev_{m}" in row)


def summarize(figures: list[str], directions: list[str], epochs: dict[tuple[str, str], str], claims: str | None = None,
              report: dict[str, list[str]] | None = None) -> str:
    """``epochs``: (task, init) -> its epochs.tsv; ``report``: task -> the GLUE metrics to print (default: accuracy)."""
    lines = ["# bertscape run summary", "", "## Figures", ""]
    lines += [f"- `{f}`" for f in figures if not f.endswith(".pdf")]
    lines += ["", "## Training (final epoch)", "", "| task | init | epochs | train loss | dev (GLUE metrics, x 100) |",
              "|---|---|---|---|---|"]
    for (task, init), p in epochs.items():
        last = read_tsv(p)[-1]
        lines.append(f"| {task} | {init} | {int(last['epoch'])} | "
                     f"{last['train_loss']:.4f} | {glue_text(last, (report or {}).get(task, ['acc']))} |")
    lines += ["", "## Directions", "", "| task | init | other task | ‖δ1‖ | ‖δ2‖ (raw) | cos(δ1, δ2) |", "|---|---|---|---|---|---|"]
    for p in directions:
        s = read_json(p)
        lines.append(f"| {s['task']} | {s['init']} | {s['other_task']} | {s['norm_delta1']:.4g} | "
                     f"{s['norm_delta2_raw']:.4g} | {s['cos_delta1_delta2']:.4f} |")
    if claims:
        c = read_json(claims)
        lines += ["", f"## Claims (details: `{claims[:-5]}.tsv`, `.html`)", "", markdown(c).rstrip()]
        display = [x for x in c.get("preconditions", []) if x.get("seed", c.get("display_seed")) == c.get("display_seed")]
        others = [x for x in P.failed(c.get("preconditions", [])) if x not in display]
        lines += preconditions_md(display, c.get("display_seed"))
        if others:
            lines += ["", "Other seeds' failed preconditions (their rows are left out and counted):", ""]
            lines += [f"- seed {x['seed']} {x['task']} {x['init']}: {x['message']}" for x in others]
    return "\n".join(lines) + "\n"


def preconditions_md(checks: list[dict], seed: int | None = None) -> list[str]:
    """Per task: P1-P5 for each init, and the warning listing every failed one (``seed``: whose they are)."""
    if not checks:
        return []
    whose = "" if seed is None else f" of the display seed {seed}"
    lines = ["", f"## Preconditions{whose} (a claim row that needs a failed one is n/a)", ""]
    lines += [f"- {p} {name}" for p, name in NAMES.items()]
    for t in dict.fromkeys(c["task"] for c in checks):
        inits = list(dict.fromkeys(c["init"] for c in checks if c["task"] == t))
        lines += ["", f"### {t}", "", "| | precondition | " + " | ".join(inits) + " |", "|---|---|" + "---|" * len(inits)]
        lines += ["| " + " | ".join(r) + " |" for r in table(checks, t)]
    w = warning(checks)
    return lines + (["", "```", w, "```"] if w else ["", "All preconditions hold."])
