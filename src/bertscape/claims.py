"""The paper's claims as numbers with stated criteria, computed from artifacts the DAG already has.

Each ``c*`` function returns rows ``{claim, measure, task, values, criterion, holds}``; ``holds``
is True / False, or None when the measure is undefined (a NaN, a missing run). Thresholds come
from the config's ``claims`` section and are written into every criterion string.

Coordinates are the paper's: alpha along delta1 (alpha = 1 is the end point theta1), beta along
delta2 rescaled to ||delta1||, so widths and areas are in units of ||delta1|| (Figure 5's
"normalised axes").
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from .data import METRIC_NAMES
from .h5io import Grid

# Table 1 of the paper: dev accuracy of fine-tuned BERT-large and after rolling back layers
# 0-7 / 8-15 / 16-23. Printed deltas as published (MNLI's -53.88 is a misprint of -53.69).
PAPER_TABLE1 = {
    "MNLI": {"full": 86.54, "low": 86.73, "mid": 84.71, "high": 32.85, "printed_delta": (0.19, -1.83, -53.88)},
    "RTE": {"full": 75.45, "low": 73.29, "mid": 70.04, "high": 47.29, "printed_delta": (-2.16, -5.41, -28.16)},
    "SST-2": {"full": 94.04, "low": 93.69, "mid": 93.12, "high": 59.29, "printed_delta": (-0.35, -0.92, -34.75)},
    "MRPC": {"full": 90.20, "low": 87.99, "mid": 80.15, "high": 78.17, "printed_delta": (-2.21, -10.05, -12.03)},
}


def _nearest(axis: np.ndarray, x: float) -> int:
    return int(np.argmin(np.abs(np.asarray(axis) - x)))


def _finite(*xs) -> bool:
    return all(x is not None and math.isfinite(x) for x in xs)


def _row(claim, measure, task, values, criterion, holds) -> dict:
    return {"claim": claim, "measure": measure, "task": task, "values": values, "criterion": criterion,
            "holds": None if holds is None else bool(holds)}


# ---------------------------------------------------------------- measures on grids and curves

def lattice_fill(seed: tuple[int, int], value, threshold: float) -> tuple[list[tuple[int, int]], bool]:
    """The 4-neighbour flood fill of C1's 2D region, on the integer lattice of a grid's nodes: the connected
    nodes around ``seed`` whose ``value(i, j)`` is finite and <= ``threshold``, in the fill's (breadth-first)
    order. ``value`` returns None for a node whose value is unknown (outside the grid, or past an evaluation
    budget); the region is censored when it touches one. The one fill of :func:`basin` (the grid alone) and
    :func:`bertscape.basins.extend` (continued past the grid's edge)."""
    region, seen, censored = [], set(), False
    queue = deque([seed])
    while queue:
        node = queue.popleft()
        if node in seen:
            continue
        seen.add(node)
        x = value(*node)
        if x is None:
            censored = True
        elif np.isfinite(x) and x <= threshold:
            region.append(node)
            i, j = node
            queue.extend(n for n in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)) if n not in seen)
    return region, censored


def grid_value(grid: Grid, metric: str):
    """value(i, j) for :func:`lattice_fill`: the grid's node (NaN where not evaluated), None outside it."""
    v = np.asarray(grid.values[metric], dtype=float)
    done = np.asarray(grid.done, dtype=bool)
    return lambda i, j: (float(v[i, j]) if done[i, j] else float("nan")) \
        if 0 <= i < v.shape[0] and 0 <= j < v.shape[1] else None


def anchor_node(grid: Grid, anchor: str = "end") -> tuple[int, int]:
    """The grid node nearest the anchor: where C1's 2D fill starts."""
    return _nearest(grid.alpha, grid.anchors[anchor]["alpha"]), _nearest(grid.beta, grid.anchors[anchor]["beta"])


def basin(grid: Grid, metric: str, tau: float, anchor: str = "end") -> dict:
    """Area of the connected region around the anchor where metric <= f(anchor) + tau (4-neighbour flood fill
    from the grid node nearest the anchor). ``censored``: the region reaches the grid's edge, so the true area
    is larger than measured."""
    f0 = grid.anchors[anchor][metric]
    region, censored = lattice_fill(anchor_node(grid, anchor), grid_value(grid, metric), f0 + tau)
    cell = float(np.mean(np.diff(grid.alpha)) * np.mean(np.diff(grid.beta)))
    return {"f_end": float(f0), "threshold": float(f0 + tau), "area": float(len(region) * cell),
            "fraction": len(region) / np.asarray(grid.values[metric]).size, "censored": censored}


def curve_width(curve: Grid, metric: str, tau: float, anchor: str = "end") -> dict:
    """Length of the interval around alpha(anchor) where the 1D curve stays <= f(anchor) + tau; the crossing
    points are linearly interpolated between grid nodes. ``censored`` when the interval reaches an end."""
    x, y = np.asarray(curve.alpha, float), np.asarray(curve.values[metric], float)
    f0 = curve.anchors[anchor][metric]
    thr = f0 + tau
    ok = np.isfinite(y) & (y <= thr)
    i0 = _nearest(x, curve.anchors[anchor]["alpha"])
    if not ok[i0]:
        return {"f_end": float(f0), "threshold": float(thr), "width": 0.0, "left": float(x[i0]), "right": float(x[i0]),
                "censored": False}

    def edge(step: int) -> tuple[float, bool]:
        i = i0
        while 0 <= i + step < len(x) and ok[i + step]:
            i += step
        j = i + step
        if not 0 <= j < len(x):
            return float(x[i]), True
        if not np.isfinite(y[j]):
            return float(x[i]), False
        t = (thr - y[i]) / (y[j] - y[i])  # y[i] <= thr < y[j]
        return float(x[i] + t * (x[j] - x[i])), False

    left, cl = edge(-1)
    right, cr = edge(+1)
    return {"f_end": float(f0), "threshold": float(thr), "width": right - left, "left": left, "right": right,
            "censored": cl or cr}


def path_ascent(curve: Grid, metric: str) -> dict:
    """Total rise of the loss along the straight path from theta0 (alpha 0) to theta1 (alpha 1): the sum of the
    positive steps between consecutive nodes, start and end values taken from the exact anchors. A monotone
    descent has ascent 0."""
    x, y = np.asarray(curve.alpha, float), np.asarray(curve.values[metric], float)
    inner = (x > 1e-9) & (x < 1 - 1e-9)
    path = np.concatenate([[curve.anchors["start"][metric]], y[inner], [curve.anchors["end"][metric]]])
    steps = np.diff(path)
    return {"ascent": float(np.clip(steps, 0, None).sum()) if np.isfinite(path).all() else float("nan"),
            "drop": float(path[0] - path[-1]), "nodes": int(len(path))}


def epochs_to(rows: list[dict], threshold: float) -> int | None:
    """First epoch whose mean training loss is <= threshold; None if it never gets there."""
    for r in rows:
        if int(r["epoch"]) >= 1 and _finite(r["train_loss"]) and r["train_loss"] <= threshold:
            return int(r["epoch"])
    return None


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    sx = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sx[j + 1] == sx[i]:
            j += 1
        r[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3:
        return float("nan")
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def window_spearman(loss: Grid, error: Grid, radius: float, loss_metric="train_loss", error_metric="dev_error",
                    center=(1.0, 0.0)) -> dict:
    """Rank correlation of training loss and dev error over the grid nodes within ``radius`` (box) of the end."""
    A, B = np.meshgrid(loss.alpha, loss.beta, indexing="ij")
    near = (np.abs(A - center[0]) <= radius + 1e-9) & (np.abs(B - center[1]) <= radius + 1e-9)
    x, y = np.asarray(loss.values[loss_metric])[near], np.asarray(error.values[error_metric])[near]
    keep = np.isfinite(x) & np.isfinite(y)
    return {"rho": spearman(x[keep], y[keep]), "nodes": int(keep.sum())}


def bilinear(grid: Grid, metric: str, a: float, b: float) -> float | None:
    """Bilinear interpolation of a surface at (a, b); None outside the grid."""
    x, y, v = np.asarray(grid.alpha, float), np.asarray(grid.beta, float), np.asarray(grid.values[metric], float)
    if not (x[0] <= a <= x[-1] and y[0] <= b <= y[-1]):
        return None
    i = min(int(np.searchsorted(x, a, side="right")) - 1, len(x) - 2)
    j = min(int(np.searchsorted(y, b, side="right")) - 1, len(y) - 2)
    ta, tb = (a - x[i]) / (x[i + 1] - x[i]), (b - y[j]) / (y[j + 1] - y[j])
    return float((1 - ta) * (1 - tb) * v[i, j] + ta * (1 - tb) * v[i + 1, j] + (1 - ta) * tb * v[i, j + 1]
                 + ta * tb * v[i + 1, j + 1])


# ---------------------------------------------------------------- the claims

def _wider(ft: dict, sc: dict, key: str) -> bool | None:
    """finetune's region larger than scratch's, allowing for regions cut off by the grid's edge."""
    if ft[key] > sc[key]:
        return None if sc["censored"] else True
    return None if ft["censored"] else False


def c1_wider_optima(surfaces: dict, curves: dict, tasks: list[str], tau: float, regions: dict | None = None) -> list[dict]:
    """§5.1 / §6.1: fine-tuned optima are wider than scratch optima (2D area and 1D width, training loss).
    ``regions``: (task, init) -> the 2D region followed past the grid's edge (:func:`bertscape.basins.extend`),
    used instead of the grid's own :func:`basin` where given."""
    rows = []
    area = lambda t, i: (regions or {}).get((t, i)) or basin(surfaces[t, i], "train_loss", tau)
    for t in tasks:
        ft, sc = area(t, "finetune"), area(t, "scratch")
        rows.append(_row("C1", "basin_area_2d", t, {"finetune": ft, "scratch": sc},
                         f"area where train loss <= f(end) + {tau:g}: finetune > scratch", _wider(ft, sc, "area")))
        ft, sc = curve_width(curves[t, "finetune"], "train_loss", tau), curve_width(curves[t, "scratch"], "train_loss", tau)
        rows.append(_row("C1", "basin_width_1d", t, {"finetune": ft, "scratch": sc},
                         f"alpha-width where train loss <= f(end) + {tau:g}: finetune > scratch", _wider(ft, sc, "width")))
    return rows


def target_variance(targets) -> float:
    """A regression task's chance loss: the MSE of always predicting the mean training target (population
    variance), the counterpart of ln(K) for K classes (the cross-entropy of the uniform prediction)."""
    return float(np.var(np.asarray(targets, dtype=np.float64)))


def chance_text(n_labels: int | None, chance: float) -> str:
    """How C2's reference loss reads: ln(K) for K classes, Var(train targets) for regression (n_labels None)."""
    return f"ln({n_labels})" if n_labels else f"Var(train targets) = {chance:.4g}"


def c2_easier_optimisation(epochs: dict, curves: dict, trajectories: dict, tasks: list[str], n_labels: dict,
                           reach_fraction: float, ascent_tol: float, chance: dict | None = None) -> list[dict]:
    """§5.2: fine-tuning converges in fewer epochs, descends monotonically along delta1, and heads for its
    final direction from the first epoch. The loss threshold is ``reach_fraction`` x the chance loss:
    ln(n_labels[t]), or ``chance[t]`` (regression: the variance of the training targets, i.e. the MSE of
    predicting their mean) where given."""
    rows = []
    chance = chance or {}
    for t in tasks:
        ref = chance[t] if t in chance else math.log(n_labels[t])
        thr = reach_fraction * ref
        ft, sc = epochs_to(epochs[t, "finetune"], thr), epochs_to(epochs[t, "scratch"], thr)
        holds = None if ft is None and sc is None else (ft is not None and (sc is None or ft < sc))
        rows.append(_row("C2", "epochs_to_loss", t, {"threshold": thr, "finetune": ft, "scratch": sc},
                         f"first epoch with train loss <= {reach_fraction:g} x {chance_text(None if t in chance else n_labels[t], ref)}: "
                         "finetune earlier "
                         "(never = infinity)", holds))
        ft, sc = path_ascent(curves[t, "finetune"], "train_loss"), path_ascent(curves[t, "scratch"], "train_loss")
        ok = _finite(ft["ascent"], sc["ascent"])
        rows.append(_row("C2", "path_ascent", t, {"finetune": ft, "scratch": sc},
                         f"rise of train loss along alpha 0 -> 1: finetune <= {ascent_tol:g} and <= scratch",
                         (ft["ascent"] <= ascent_tol and ft["ascent"] <= sc["ascent"]) if ok else None))
        if (t, "finetune") in trajectories and (t, "scratch") in trajectories:
            v = {i: {"cos_epoch1": _epoch(trajectories[t, i], 1).get("cos", float("nan")),
                     "max_d_beta": max(float(r["d_beta"]) for r in trajectories[t, i])} for i in ("finetune", "scratch")}
            a, b = v["finetune"]["cos_epoch1"], v["scratch"]["cos_epoch1"]
            rows.append(_row("C2", "direction_epoch1", t, v, "cos(delta^1, delta1) after epoch 1: finetune > scratch",
                             a > b if _finite(a, b) else None))
    return rows


def _epoch(rows: list[dict], epoch: int) -> dict:
    return next((r for r in rows if int(r["epoch"]) == epoch), {})


def c3_overfitting(long_epochs: list[dict], long_trajectory: list[dict], dev_surface: Grid, task: str,
                   acc_tol: float, tau_error: float, metric: str = "acc") -> list[dict]:
    """§5.3: fine-tuning on for many more epochs keeps the dev score (accuracy, or the task's ``metric``)
    and stays in the low-error region."""
    start, end = long_epochs[0], long_epochs[-1]
    col = f"dev_{metric}"
    change = end[col] - start[col]
    short = "acc" if metric == "acc" else metric
    rows = [_row("C3", f"long_run_dev_{metric}", task,
                 {"epoch_start": int(start["epoch"]), "epoch_end": int(end["epoch"]), f"{short}_start": start[col],
                  f"{short}_end": end[col], "change": change},
                 f"dev {METRIC_NAMES.get(metric, metric)} change over the extra epochs >= -{acc_tol:g}", change >= -acc_tol)]
    last = long_trajectory[-1]
    a, b = float(last["d_alpha"]), float(last["d_beta"])
    err = bilinear(dev_surface, "dev_error", a, b)
    thr = dev_surface.anchors["end"]["dev_error"] + tau_error
    rows.append(_row("C3", "long_run_stays_in_basin", task,
                     {"d_alpha": a, "d_beta": b, "distance_from_end": math.hypot(a - 1, b), "dev_error_there": err,
                      "threshold": thr},
                     f"dev error (interpolated) at the final point <= error at epoch-{int(start['epoch'])} end + {tau_error:g}",
                     None if err is None else err <= thr))
    return rows


def c4_consistency(surfaces: dict, tasks: list[str], radius: float, rho_min: float) -> list[dict]:
    """§6.2: near the end point, lower training loss goes with lower dev error (fine-tuned models)."""
    rows = []
    for t in tasks:
        v = {i: window_spearman(surfaces[t, i], surfaces[t, i], radius) for i in ("finetune", "scratch")}
        for i in v:
            v[i]["dev_error_end"] = surfaces[t, i].anchors["end"]["dev_error"]
        rho = v["finetune"]["rho"]
        rows.append(_row("C4", "spearman_loss_error", t, v,
                         f"Spearman(train loss, dev error) within {radius:g} of the end: finetune >= {rho_min:g}",
                         rho >= rho_min if _finite(rho) else None))
    return rows


def _non_increasing(xs: list[float]) -> bool | None:
    if not all(_finite(x) for x in xs):
        return None
    return all(a >= b - 1e-12 for a, b in zip(xs, xs[1:]))


def c5_lower_layers(rollback: dict, layer_surfaces: dict, groups: dict[str, list[int]]) -> list[dict]:
    """§7: rolling back lower layers hurts least (Table 1: dev accuracy) and lands lower (Figure 7: train loss)."""
    order = sorted(groups, key=lambda g: groups[g][0])
    rows = []
    for t, table in rollback.items():
        delta = {r["group"]: float(r["delta"]) for r in table if r["group"] != "none"}
        metric = str(table[0].get("metric", "acc"))
        rows.append(_row("C5", f"rollback_dev_{metric}", t, {g: delta.get(g) for g in order},
                         f"{METRIC_NAMES.get(metric, metric)} change after rollback: {' >= '.join(order)}",
                         _non_increasing([delta.get(g, float("nan")) for g in order])))
    for t in sorted({t for t, _ in layer_surfaces}):
        loss = {g: layer_surfaces[t, g].anchors["rollback"]["train_loss"] for g in order if (t, g) in layer_surfaces}
        rows.append(_row("C5", "rollback_train_loss", t, loss, f"train loss at f(-1, 0): {' <= '.join(order)}",
                         _non_increasing([-loss[g] for g in order]) if len(loss) == len(order) else None))
    return rows


def c6_orthogonal(directions: dict, max_abs_cos: float) -> list[dict]:
    """§3.2: the two axes (this task's and another task's optimisation direction) are nearly orthogonal."""
    return [_row("C6", "cos_delta1_delta2", t, {"init": i, "other_task": d["other_task"], "cos": d["cos_delta1_delta2"]},
                 f"|cos(delta1, delta2)| <= {max_abs_cos:g}", abs(d["cos_delta1_delta2"]) <= max_abs_cos)
            for (t, i), d in sorted(directions.items())]


def sharpness(hessian: dict, tasks: list[str], converged: float = 0.05) -> list[dict]:
    """Independent check of C1: the top Hessian eigenvalue of the training loss at theta1 is smaller for fine-tuning.
    Undefined while either power iteration still moved by more than ``converged`` (relative) in its last step:
    an unconverged estimate is too low by an unknown amount."""
    rows = []
    for t in tasks:
        h = {i: hessian[t, i] for i in ("finetune", "scratch")}
        ft, sc = h["finetune"]["lambda_max"], h["scratch"]["lambda_max"]
        done = all(_finite(x["rel_change"]) and x["rel_change"] <= converged for x in h.values())
        rows.append(_row("C1", "hessian_top_eigenvalue", t,
                         {i: {k: h[i][k] for k in ("lambda_max", "iterations", "rel_change")} for i in h},
                         f"top Hessian eigenvalue at theta1: finetune < scratch (n/a unless both converged to {converged:g})",
                         ft < sc if _finite(ft, sc) and done else None))
    return rows


def table1_vs_paper(rollback: dict, groups: dict[str, list[int]]) -> list[dict]:
    """Our Table 1 beside the paper's (accuracy in %, change in points)."""
    order = sorted(groups, key=lambda g: groups[g][0])
    rows = []
    for t, table in rollback.items():
        # the paper's Table 1 is accuracy: compare accuracy wherever there is one (regression: the task's metric)
        acc = {r["group"]: 100 * float(r["dev_acc"] if "dev_acc" in r else r["score"]) for r in table}
        row = {"task": t, "metric": "acc" if "dev_acc" in table[0] else str(table[0]["metric"]), "ours_full": acc["none"]}
        for g in order:
            row[f"ours_{g}"] = acc.get(g)
            row[f"ours_delta_{g}"] = None if g not in acc else acc[g] - acc["none"]
        p = PAPER_TABLE1.get(t)
        if p and order == ["low", "mid", "high"]:
            row["paper_full"] = p["full"]
            for g, printed in zip(order, p["printed_delta"]):
                row[f"paper_{g}"], row[f"paper_delta_{g}"] = p[g], round(p[g] - p["full"], 2)
                row[f"paper_printed_delta_{g}"] = printed
        rows.append(row)
    return rows


# ---------------------------------------------------------------- output

def holds_word(h: bool | None) -> str:
    return "n/a" if h is None else ("yes" if h else "no")


def _fmt(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    if isinstance(v, float):
        return "nan" if not math.isfinite(v) else f"{v:.4g}"
    return "never" if v is None else str(v)


def flat_rows(rows: list[dict]) -> list[dict]:
    """Rows for claims.tsv: the values dict written compactly in one column."""
    return [{"claim": r["claim"], "measure": r["measure"], "task": r["task"], "holds": holds_word(r["holds"]),
             "criterion": r["criterion"], "values": _fmt(r["values"]), "reason": r.get("reason", "")} for r in rows]


def tally(rows: list[dict]) -> dict[str, dict[str, int]]:
    """Per claim: how many rows hold, do not hold, are undefined."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        c = out.setdefault(r["claim"], {"yes": 0, "no": 0, "n/a": 0})
        c[holds_word(r["holds"])] += 1
    return out


def precision_rows(grids: dict[str, Grid]) -> list[dict]:
    """The accuracy contract of every grid behind the claims: its arithmetic and its measured deviation from
    fp32 at the checked nodes (HDF5 attrs precision_*; README: Precision)."""
    rows = []
    for name, g in sorted(grids.items()):
        a = g.attrs
        rel = a.get("precision_max_rel_train_loss", a.get("precision_max_rel_dev_loss"))
        rows.append({"grid": name, "precision": a.get("precision", "fp32 (not recorded)"),
                     "checked_nodes": len(a.get("precision_nodes", [])), "max_rel_train_loss": rel,
                     "max_rel_dev_loss": a.get("precision_max_rel_dev_loss"),
                     "max_abs_dev_error": a.get("precision_max_abs_dev_error"), "budget": a.get("precision_budget"),
                     "within_budget": None if rel is None or a.get("precision_budget") is None
                     else bool(rel <= a["precision_budget"])})
    return rows
