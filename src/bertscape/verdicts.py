"""How a claim row's verdict reads: the row itself, its verdict word, its values in one line, the flat
rows of one seed's claim rows (claims over seeds: :mod:`bertscape.evidence`). No measure and no criterion lives here."""

from __future__ import annotations

import math

COLUMNS = ["claim", "measure", "task", "holds", "criterion", "values", "reason"]  # claims.tsv


def row(claim: str, measure: str, task: str, values, criterion: str, holds) -> dict:
    """A claim row: ``holds`` True / False, or None when the measure is undefined."""
    return {"claim": claim, "measure": measure, "task": task, "values": values, "criterion": criterion,
            "holds": None if holds is None else bool(holds)}


def holds_word(h: bool | None) -> str:
    return "n/a" if h is None else ("yes" if h else "no")


def fmt(v) -> str:
    """A row's values in one line: dicts as {k: v}, lists as [..], floats to 4 significant digits, None as 'never'."""
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {fmt(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    if isinstance(v, float):
        return "nan" if not math.isfinite(v) else f"{v:.4g}"
    return "never" if v is None else str(v)


def flat_rows(rows: list[dict]) -> list[dict]:
    """Rows for claims.tsv: the values dict written compactly in one column."""
    return [{"claim": r["claim"], "measure": r["measure"], "task": r["task"], "holds": holds_word(r["holds"]),
             "criterion": r["criterion"], "values": fmt(r["values"]), "reason": r.get("reason", "")} for r in rows]
