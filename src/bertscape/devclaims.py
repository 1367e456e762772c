"""The dev-side claims measured per example: C3's long run epoch by epoch (the worst drop over the extra epochs,
and an exact paired test between the run's start and end) and C5 as the paper's contrast (rolling back the
highest layer group costs more dev score than rolling back any lower one, with a paired test between the two
rolled-back models). The per-example records are :mod:`bertscape.paired` strings: the ``dev_correct`` column of
the long run's epochs.tsv (the train rule) and of rollback.tsv (the rollback rule).

Each row's effect is oriented > 0 = supports the paper and is decided over seeds by :mod:`bertscape.evidence`
(:data:`bertscape.claims.CLAIMS` names the effect functions below and their tie bands)."""

from __future__ import annotations

import math

from .data import METRIC_NAMES
from .paired import decode, mcnemar
from .verdicts import row


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(float(x))


def c3_per_epoch(long_epochs: list[dict], task: str, acc_tol: float, metric: str = "acc") -> list[dict]:
    """§5.3 epoch by epoch: the dev score (the task's ``metric``) of every epoch of the long run (its first row is
    theta1, the fine-tuning run's end), the worst drop below the start, where it happens, and the exact McNemar
    test of the worst epoch against the start (which examples each gets right). Holds: worst drop >= -acc_tol."""
    col = f"dev_{metric}"
    rec = [r for r in long_epochs if _finite(r.get(col))]
    if not rec:
        return [row("C3", "long_run_worst_drop", task, {"metric": metric}, "no dev score per epoch", None)]
    start = rec[0]
    worst = min(rec[1:] or rec, key=lambda r: float(r[col]))
    drop = float(worst[col]) - float(start[col])
    first = decode(start.get("dev_correct"))
    v = {"metric": metric, "epochs": [int(r["epoch"]) for r in rec], "scores": [float(r[col]) for r in rec],
         "start": float(start[col]), "worst_epoch": int(worst["epoch"]), "worst": float(worst[col]),
         "worst_drop": drop, "paired_worst_vs_start": mcnemar(first, decode(worst.get("dev_correct")))}
    return [row("C3", "long_run_worst_drop", task, v,
                f"lowest dev {METRIC_NAMES.get(metric, metric)} over the extra epochs - the start's >= -{acc_tol:g} "
                "(paired: exact McNemar, worst epoch vs start)", drop >= -acc_tol)]


def c3_contrast(long_epochs: list[dict], scratch_epochs: list[dict], task: str, acc_tol: float,
                metric: str = "acc") -> list[dict]:
    """§5.3's contrast ("prone to overfitting if we train the model from scratch"): the fine-tuning run continued
    (run long) drops less over its extra epochs than the scratch run continued (run long_scratch, at the scratch
    learning rate, the same number of extra epochs): contrast = worst drop_ft - worst drop_sc > 0."""
    ft = c3_per_epoch(long_epochs, task, acc_tol, metric)[0]["values"]
    sc = c3_per_epoch(scratch_epochs, task, acc_tol, metric)[0]["values"]
    keep = ("start", "worst_epoch", "worst", "worst_drop", "paired_worst_vs_start")
    v = {"metric": metric, "finetune": {k: ft.get(k) for k in keep}, "scratch": {k: sc.get(k) for k in keep}}
    ok = "worst_drop" in ft and "worst_drop" in sc
    v["contrast"] = ft["worst_drop"] - sc["worst_drop"] if ok else float("nan")
    return [row("C3", "long_run_contrast", task, v,
                f"worst drop of dev {METRIC_NAMES.get(metric, metric)} over the extra epochs: finetune's smaller than "
                "scratch's (both runs continued as long)", v["contrast"] > 0 if ok else None)]


def paired_start_end(long_epochs: list[dict]) -> dict:
    """The exact McNemar test of the long run's last epoch against its start (the endpoints C3's change compares)."""
    return mcnemar(decode(long_epochs[0].get("dev_correct")), decode(long_epochs[-1].get("dev_correct")))


def c5_contrast(rollback: dict, groups: dict[str, list[int]]) -> list[dict]:
    """§7 as the paper states it (Table 1: rolling back the high layers hurts, the low and middle ones do not):
    per task, the highest group's rollback costs more dev score than the costliest lower group's,
    contrast = min over lower groups of delta_G - delta_high > 0; with the exact McNemar test of the
    high-rolled-back model against that costliest lower one."""
    order = sorted(groups, key=lambda g: groups[g][0])
    if len(order) < 2:
        return []
    high, lower = order[-1], order[:-1]
    rows = []
    for t, table in rollback.items():
        by = {r["group"]: r for r in table}
        metric = str(table[0].get("metric", "acc"))
        delta = {g: float(by[g]["delta"]) if g in by and _finite(by[g]["delta"]) else float("nan") for g in order}
        ok = all(math.isfinite(delta[g]) for g in order)
        costliest = min(lower, key=lambda g: delta[g]) if ok else None
        contrast = delta[costliest] - delta[high] if ok else float("nan")
        paired = mcnemar(decode(by[costliest].get("dev_correct")), decode(by[high].get("dev_correct"))) if ok \
            else mcnemar(None, None)
        rows.append(row("C5", "rollback_contrast", t,
                        {"metric": metric, "deltas": delta, "high": high, "costliest_lower": costliest,
                         "contrast": contrast, "paired_high_vs_lower": paired},
                        f"{METRIC_NAMES.get(metric, metric)} change after rollback: {high} < min({', '.join(lower)}) "
                        f"(paired: exact McNemar, {high} vs the costliest lower group)",
                        contrast > 0 if ok else None))
    return rows


def effect_worst_drop(v: dict, cl: dict) -> float:
    """C3 per epoch: worst drop + claims.acc_tol (> 0: the dev score never fell by more than the tolerance)."""
    return float(v["worst_drop"]) + float(cl["acc_tol"]) if "worst_drop" in v else float("nan")


def effect_long_contrast(v: dict, cl: dict) -> float:
    """C3 contrast: worst drop_ft - worst drop_sc (> 0: the fine-tuned run kept its dev score better)."""
    return float(v["contrast"])


def effect_contrast(v: dict, cl: dict) -> float:
    """C5 contrast: min over lower groups of delta_G - delta_high, the extra cost of rolling back the high layers."""
    return float(v["contrast"])
