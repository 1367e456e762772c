"""The paper's claims as numbers with stated criteria, computed from artifacts the DAG already has, and the
registry that says what each claim row needs to be decided.

Each ``c*`` function returns rows ``{claim, measure, task, values, criterion, holds}`` (:func:`bertscape.verdicts.row`);
``holds`` is True / False, or None when the measure is undefined (a NaN, a missing run). Thresholds come from the
config's ``claims`` section and are written into every criterion string. The measures themselves live in
:mod:`bertscape.measures`. :data:`CLAIMS` lists every row kind (claim, measure, function, the preconditions it
needs, why it can be undefined); :func:`gate` reads it, and refuses a row it does not list, so a renamed measure
cannot silently lose its gate; each entry also names its effect (:mod:`bertscape.effects`, > 0 supports the paper)
and its tie band (``claims.tie_bands``), which :mod:`bertscape.evidence` decides over seeds. :func:`evaluate` is one
seed's claims: inputs keyed by (task, init) -> rows, preconditions, Table 1, precision, and the rows that are
descriptive only (Figure 4's projected point: ``descriptive``, never decided).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from . import preconditions as P
from .c1units import CONVERSIONS, in_units
from .config import INITS, layer_groups
from .controls import CONTROLS, as_pair, present, split_measure, tag
from .data import METRIC_NAMES, task_spec
from .h5io import Grid, read_grid
from .io import read_json, read_jsonl, read_tsv
from .layernorms import with_groups
from .measures import (basin, bilinear, chance_loss, curve_width, epochs_to, finite, path_ascent, target_variance,
                       window_spearman)
from .effects import (effect_area, effect_ascent, effect_direction, effect_epochs, effect_hessian, effect_long_dev,
                      effect_orthogonal, effect_rollback_dev, effect_rollback_loss, effect_spearman,
                      effect_width, scope_pair, scope_task)
from .flatness_claims import (c1_flatness, effect_average, effect_dhd, effect_lanczos, effect_trace,
                              effect_worst)
from .filterclaims import c1_filter_normalized, effect_filter_rise, effect_filter_width, effect_local_width
from .devclaims import (c3_contrast, c3_per_epoch, c5_contrast, effect_contrast, effect_long_contrast,
                        effect_worst_drop, paired_start_end)
from .transfer import transfer_rows
from .verdicts import row
from .claims_matched import (c2_dense_path, c2_matched, c4_theta1_window, effect_cumlr, effect_dense_ascent,
                             effect_matched_cos, effect_rho_contrast, effect_roughness, effect_theta1_rho)

# Table 1 of the paper: dev accuracy of fine-tuned BERT-large and after rolling back layers
# 0-7 / 8-15 / 16-23. Printed deltas as published (MNLI's -53.88 is a misprint of -53.69).
PAPER_TABLE1 = {
    "MNLI": {"full": 86.54, "low": 86.73, "mid": 84.71, "high": 32.85, "printed_delta": (0.19, -1.83, -53.88)},
    "RTE": {"full": 75.45, "low": 73.29, "mid": 70.04, "high": 47.29, "printed_delta": (-2.16, -5.41, -28.16)},
    "SST-2": {"full": 94.04, "low": 93.69, "mid": 93.12, "high": 59.29, "printed_delta": (-0.35, -0.92, -34.75)},
    "MRPC": {"full": 90.20, "low": 87.99, "mid": 80.15, "high": 78.17, "printed_delta": (-2.21, -10.05, -12.03)},
}


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
        rows.append(row("C1", "basin_area_2d", t, {"finetune": ft, "scratch": sc},
                         f"area where train loss <= f(end) + {tau:g}: finetune > scratch", _wider(ft, sc, "area")))
        ft, sc = curve_width(curves[t, "finetune"], "train_loss", tau), curve_width(curves[t, "scratch"], "train_loss", tau)
        rows.append(row("C1", "basin_width_1d", t, {"finetune": ft, "scratch": sc},
                         f"alpha-width where train loss <= f(end) + {tau:g}: finetune > scratch", _wider(ft, sc, "width")))
    return rows


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
        last = {i: max((int(r["epoch"]) for r in epochs[t, i]), default=0) for i in INITS}
        rows.append(row("C2", "epochs_to_loss", t, {"threshold": thr, "finetune": ft, "scratch": sc, "last_epoch": last},
                         f"first epoch with train loss <= {reach_fraction:g} x {chance_text(None if t in chance else n_labels[t], ref)}: "
                         "finetune earlier "
                         "(never = infinity; epochs of unmatched schedules: see cumlr_to_loss)", holds))
        ft, sc = path_ascent(curves[t, "finetune"], "train_loss"), path_ascent(curves[t, "scratch"], "train_loss")
        ok = finite(ft["ascent"], sc["ascent"])
        rows.append(row("C2", "path_ascent", t, {"finetune": ft, "scratch": sc},
                         f"rise of train loss along alpha 0 -> 1 at the 1D curve's nodes: finetune <= {ascent_tol:g} and "
                         "<= scratch (see path_ascent_dense, path_roughness)",
                         (ft["ascent"] <= ascent_tol and ft["ascent"] <= sc["ascent"]) if ok else None))
        if (t, "finetune") in trajectories and (t, "scratch") in trajectories:
            v = {i: {"cos_epoch1": _epoch(trajectories[t, i], 1).get("cos", float("nan")),
                     "max_d_beta": max(float(r["d_beta"]) for r in trajectories[t, i])} for i in INITS}
            a, b = v["finetune"]["cos_epoch1"], v["scratch"]["cos_epoch1"]
            rows.append(row("C2", "direction_epoch1", t, v, "cos(delta^1, delta1) after epoch 1: finetune > scratch "
                             "(epoch 1 of unmatched schedules: see direction_matched_*)",
                             a > b if finite(a, b) else None))
    return rows


def _epoch(rows: list[dict], epoch: int) -> dict:
    return next((r for r in rows if int(r["epoch"]) == epoch), {})


def c3_overfitting(long_epochs: list[dict], task: str, acc_tol: float, metric: str = "acc") -> list[dict]:
    """§5.3: fine-tuning on for many more epochs keeps the dev score (accuracy, or the task's ``metric``): the
    endpoints with their exact paired test, and every epoch's score with the worst drop (:mod:`bertscape.devclaims`)."""
    start, end = long_epochs[0], long_epochs[-1]
    col = f"dev_{metric}"
    change = end[col] - start[col]
    short = "acc" if metric == "acc" else metric
    return [row("C3", f"long_run_dev_{metric}", task,
                {"epoch_start": int(start["epoch"]), "epoch_end": int(end["epoch"]), f"{short}_start": start[col],
                 f"{short}_end": end[col], "change": change, "paired_end_vs_start": paired_start_end(long_epochs)},
                f"dev {METRIC_NAMES.get(metric, metric)} change over the extra epochs >= -{acc_tol:g}", change >= -acc_tol),
            *c3_per_epoch(long_epochs, task, acc_tol, metric)]


def c3_projected_point(long_epochs: list[dict], long_trajectory: list[dict], dev_surface: Grid, task: str,
                       tau_error: float) -> list[dict]:
    """Figure 4's picture, descriptive only (no claim row, never decided): the dev-error surface read at the long
    run's projected point (d_alpha, d_beta). Eq. 5's d_beta is a distance orthogonal to delta1, not a coordinate
    along delta2, so the value there belongs to another model than the long run's end (issue 26)."""
    start = long_epochs[0]
    rows = []
    last = long_trajectory[-1]
    a, b = float(last["d_alpha"]), float(last["d_beta"])
    err = bilinear(dev_surface, "dev_error", a, b)
    thr = dev_surface.anchors["end"]["dev_error"] + tau_error
    rows.append(row("C3", "long_run_projected_point", task,
                     {"d_alpha": a, "d_beta": b, "distance_from_end": math.hypot(a - 1, b), "dev_error_there": err,
                      "threshold": thr, "below_threshold": None if err is None else err <= thr},
                     f"descriptive, never decided: dev error (interpolated) at the projected final point vs error at "
                     f"epoch-{int(start['epoch'])} end + {tau_error:g}", None))
    return rows


def c4_consistency(surfaces: dict, tasks: list[str], radius: float, rho_min: float) -> list[dict]:
    """§6.2: near the end point, lower training loss goes with lower dev error (fine-tuned models)."""
    rows = []
    for t in tasks:
        v = {i: window_spearman(surfaces[t, i], surfaces[t, i], radius) for i in INITS}
        for i in v:
            v[i]["dev_error_end"] = surfaces[t, i].anchors["end"]["dev_error"]
        rho = v["finetune"]["rho"]
        rows.append(row("C4", "spearman_loss_error", t, v,
                         f"Spearman(train loss, dev error) within {radius:g} of the end: finetune >= {rho_min:g} "
                         "(a window that may reach theta0's side: see spearman_theta1_window)",
                         rho >= rho_min if finite(rho) else None))
    return rows


def _non_increasing(xs: list[float]) -> bool | None:
    if not all(finite(x) for x in xs):
        return None
    return all(a >= b - 1e-12 for a, b in zip(xs, xs[1:]))


def c5_lower_layers(rollback: dict, layer_surfaces: dict, groups: dict[str, list[int]]) -> list[dict]:
    """§7: rolling back lower layers hurts least (Table 1: dev accuracy) and lands lower (Figure 7: train loss)."""
    order = sorted(groups, key=lambda g: groups[g][0])
    rows = []
    for t, table in rollback.items():
        delta = {r["group"]: float(r["delta"]) for r in table if r["group"] != "none"}
        metric = str(table[0].get("metric", "acc"))
        rows.append(row("C5", f"rollback_dev_{metric}", t, {g: delta.get(g) for g in order},
                         f"{METRIC_NAMES.get(metric, metric)} change after rollback: {' >= '.join(order)}",
                         _non_increasing([delta.get(g, float("nan")) for g in order])))
    for t in sorted({t for t, _ in layer_surfaces}):
        loss = {g: layer_surfaces[t, g].anchors["rollback"]["train_loss"] for g in order if (t, g) in layer_surfaces}
        rows.append(row("C5", "rollback_train_loss", t, loss, f"train loss at f(-1, 0): {' <= '.join(order)}",
                         _non_increasing([-loss[g] for g in order]) if len(loss) == len(order) else None))
    return rows


def c6_orthogonal(directions: dict, max_abs_cos: float) -> list[dict]:
    """§3.2: the two axes (this task's and another task's optimisation direction) are nearly orthogonal. One row
    per unordered task pair and init: A -> B and B -> A are one cosine (the first in sorted order is kept)."""
    rows, seen = [], set()
    for (t, i), d in sorted(directions.items()):
        key = (*sorted((t, str(d["other_task"]))), i)
        if key in seen:
            continue
        seen.add(key)
        rows.append(row("C6", "cos_delta1_delta2", t, {"init": i, "other_task": d["other_task"],
                                                        "cos": d["cos_delta1_delta2"]},
                        f"|cos(delta1, delta2)| <= {max_abs_cos:g}", abs(d["cos_delta1_delta2"]) <= max_abs_cos))
    return rows


def sharpness(hessian: dict, tasks: list[str], converged: float = 0.05) -> list[dict]:
    """Independent check of C1: the top Hessian eigenvalue of the training loss at theta1 is smaller for fine-tuning.
    Undefined while either power iteration still moved by more than ``converged`` (relative) in its last step:
    an unconverged estimate is too low by an unknown amount."""
    rows = []
    for t in tasks:
        h = {i: hessian[t, i] for i in INITS}
        ft, sc = h["finetune"]["lambda_max"], h["scratch"]["lambda_max"]
        done = all(finite(x["rel_change"]) and x["rel_change"] <= converged for x in h.values())
        rows.append(row("C1", "hessian_top_eigenvalue", t,
                         {i: {k: h[i][k] for k in ("lambda_max", "iterations", "rel_change")} for i in h},
                         f"top Hessian eigenvalue at theta1: finetune < scratch (n/a unless both converged to {converged:g})",
                         ft < sc if finite(ft, sc) and done else None))
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


# ---------------------------------------------------------------- the registry

TITLES = {
    "C1": "Pre-training leads to wider optima (§5.1, Figs 1 and 5; sharpness as an independent check)",
    "C2": "Pre-training eases optimisation (§5.2, Figs 2 and 3)",
    "C3": "Fine-tuning is robust to overfitting (§5.3, Fig 4)",
    "C4": "Training-loss and dev-error surfaces are consistent (§6.2, Fig 6)",
    "C5": "Lower layers are more invariant (§7, Fig 7 and Table 1)",
    "C6": "The two directions are nearly orthogonal (§3.2)",
}
UNDEFINED = "undefined: a NaN or missing value in its measure"
NEVER_REACHED = "neither run reached the threshold; raise tasks.{t}.epochs_finetune / epochs_scratch"
FEW_THETA1_NODES = "fewer than 3 nodes with both values in claims.theta1_window, or a constant surface there"


@dataclass(frozen=True)
class Measure:
    """One kind of claim row. ``effect``: the row's values (and the config's ``claims`` section) -> one number
    oriented so that > 0 supports the paper (sizes as log ratios); ``band``: its tie band's key under
    ``claims.tie_bands``; ``scope``: the row -> what one measurement is (the task; C6: the task pair).
    ``needs``: the preconditions (of both inits of the row's task) it needs to be
    decidable ("P4/hessian", "P4/dhd": the part of P4 whose Lanczos residual the row reads; "P3/2d", "P3/1d":
    the part of P3 the measure reads: the 2D area needs the surface's region closed,
    the 1D width the curve's interval). ``explained_by``: for an n/a row that needs none, the preconditions whose
    failure explains it; else ``undefined`` says why (``{t}``: the task)."""

    claim: str
    measure: str
    function: Callable[..., list[dict]]
    effect: Callable[[dict, dict], float]
    band: str
    needs: tuple[str, ...] = ()
    explained_by: tuple[str, ...] = ()
    undefined: str = UNDEFINED
    scope: Callable[[dict], str] = scope_task

    @property
    def title(self) -> str:
        return TITLES[self.claim]


P2 = "P2a|P2b"  # P2 at an optimum: either clause (at a minimum along delta1, or on the loss floor) -- see gate

CLAIMS: tuple[Measure, ...] = (
    Measure("C1", "basin_area_2d", c1_wider_optima, effect_area, "basin_area_2d", needs=("P1", P2, "P3/2d")),
    Measure("C1", "basin_width_1d", c1_wider_optima, effect_width, "basin_width_1d", needs=("P1", P2, "P3/1d")),
    Measure("C1", "hessian_top_eigenvalue", sharpness, effect_hessian, "hessian_top_eigenvalue",
            needs=("P1", P2, "P4")),
    # the same three sizes in the other units (bertscape.c1units): the base's effect, needs and resolution
    *(Measure("C1", m, in_units, {"area": effect_area, "width": effect_width, "lambda_max": effect_hessian}[key], m,
              needs=needs) for base, needs in (("basin_area_2d", ("P1", P2, "P3/2d")),
                                               ("basin_width_1d", ("P1", P2, "P3/1d")),
                                               ("hessian_top_eigenvalue", ("P1", P2, "P4")))
      for key, _, derived in [CONVERSIONS[base]] for m in derived),
    Measure("C1", "lanczos_top_eigenvalue", c1_flatness, effect_lanczos, "lanczos_top_eigenvalue",
            needs=("P1", P2, "P4/hessian")),
    Measure("C1", "hessian_trace", c1_flatness, effect_trace, "hessian_trace", needs=("P1", P2)),
    Measure("C1", "dhd_top_eigenvalue", c1_flatness, effect_dhd, "dhd_top_eigenvalue", needs=("P1", P2, "P4/dhd")),
    Measure("C1", "adaptive_sharpness", c1_flatness, effect_worst, "adaptive_sharpness", needs=("P1", P2)),
    Measure("C1", "average_sharpness", c1_flatness, effect_average, "average_sharpness", needs=("P1", P2)),
    Measure("C2", "epochs_to_loss", c2_easier_optimisation, effect_epochs, "epochs_to_loss", explained_by=("P1",),
            undefined=NEVER_REACHED),
    Measure("C2", "path_ascent", c2_easier_optimisation, effect_ascent, "path_ascent"),
    Measure("C2", "direction_epoch1", c2_easier_optimisation, effect_direction, "direction_epoch1"),
    *(Measure("C3", f"long_run_dev_{m}", c3_overfitting, effect_long_dev, "long_run_dev") for m in METRIC_NAMES),
    Measure("C3", "long_run_worst_drop", c3_overfitting, effect_worst_drop, "long_run_dev",
            undefined="the long run's epochs.tsv has no dev score per epoch"),
    Measure("C3", "long_run_contrast", c3_contrast, effect_long_contrast, "long_run_dev",
            undefined="a long run's epochs.tsv has no dev score per epoch"),
    Measure("C4", "spearman_loss_error", c4_consistency, effect_spearman, "spearman_loss_error",
            undefined="fewer than 3 grid nodes within claims.window of theta1, or a constant surface there; raise "
                      "grid.points or claims.window"),
    *(Measure("C5", f"rollback_dev_{m}", c5_lower_layers, effect_rollback_dev, "rollback_dev") for m in METRIC_NAMES),
    Measure("C5", "rollback_train_loss", c5_lower_layers, effect_rollback_loss, "rollback_train_loss"),
    Measure("C5", "rollback_contrast", c5_contrast, effect_contrast, "rollback_contrast"),
    Measure("C6", "cos_delta1_delta2", c6_orthogonal, effect_orthogonal, "cos_delta1_delta2", scope=scope_pair),
    # issue 26: C2 at matched schedule points and on the dense path; C4 on theta1's side with the scratch contrast
    Measure("C2", "direction_matched_fraction", c2_matched, effect_matched_cos, "direction_matched"),
    Measure("C2", "direction_matched_cumlr", c2_matched, effect_matched_cos, "direction_matched"),
    Measure("C2", "cumlr_to_loss", c2_matched, effect_cumlr, "cumlr_to_loss", explained_by=("P1",),
            undefined=NEVER_REACHED),
    Measure("C2", "path_ascent_dense", c2_dense_path, effect_dense_ascent, "path_ascent_dense"),
    Measure("C2", "path_roughness", c2_dense_path, effect_roughness, "path_roughness"),
    Measure("C4", "spearman_theta1_window", c4_theta1_window, effect_theta1_rho, "spearman_theta1_window",
            undefined=FEW_THETA1_NODES),
    Measure("C4", "spearman_contrast", c4_theta1_window, effect_rho_contrast, "spearman_contrast",
            undefined=FEW_THETA1_NODES),
    # issue 25 (items 2, 5): C1 along filter-normalised random directions (bertscape.filterclaims)
    Measure("C1", "filter_width_1d", c1_filter_normalized, effect_filter_width, "filter_width_1d", needs=("P1",)),
    Measure("C1", "filter_loss_rise", c1_filter_normalized, effect_filter_rise, "filter_loss_rise", needs=("P1",)),
    Measure("C1", "local_width_1d", c1_filter_normalized, effect_local_width, "local_width_1d", needs=("P1",),
            undefined="a filter-normalised curve is missing or NaN"),
)
_BY_KEY = {(m.claim, m.measure): m for m in CLAIMS}


def effect(r: dict, cl: dict) -> float:
    """A gated claim row's effect (NaN where the row is n/a: a failed precondition or an undefined measure)."""
    if r["holds"] is None:
        return float("nan")
    x = lookup(r["claim"], r["measure"]).effect(r["values"], cl)
    return x if math.isfinite(x) else float("nan")


def lookup(claim: str, measure: str) -> Measure:
    """The registry entry of a claim row (a control's row ``{measure}@{control}``: its measure's); a row the registry
    does not list is an error, never ungated."""
    try:
        return _BY_KEY[claim, split_measure(measure)[0]]
    except KeyError:
        raise KeyError(f"claim row {claim}/{measure} has no entry in bertscape.claims.CLAIMS") from None


def gate(rows: list[dict], checks: list[dict]) -> list[dict]:
    """Claim rows with a ``reason``: a row whose preconditions failed becomes n/a naming them and the keys to
    change; any other n/a row keeps the reason its measure gave (or says it is undefined)."""
    bad = {(c["precondition"], c["task"]): [] for c in checks}
    for c in P.failed(checks):
        bad[c["precondition"], c["task"]].append(c)
    out = []
    for r in rows:
        m = lookup(r["claim"], r["measure"])
        fails = [c for need in m.needs for c in _failing(bad, need, r["task"])]
        r = dict(r)
        if fails:
            r["holds"], r["reason"] = None, "; ".join(P.reason(c) for c in fails)
        elif r["holds"] is None:
            why = [c for p in m.explained_by for c in bad.get((p, r["task"]), [])]
            r["reason"] = "; ".join(P.reason(c) for c in why) or m.undefined.format(t=r["task"])
        else:
            r["reason"] = ""
        out.append(r)
    return out


def _failing(bad: dict, need: str, task: str) -> list[dict]:
    """The failed checks of precondition ``need`` ("P3/2d": only where that part of P3 failed; "P2a|P2b": only for a
    run where every alternative failed, then all of them) for a task."""
    if "|" in need:
        each = [_failing(bad, n, task) for n in need.split("|")]
        inits = set.intersection(*({c["init"] for c in e} for e in each))
        return [c for e in each for c in e if c["init"] in inits]
    p, _, part = need.partition("/")
    return [c for c in bad.get((p, task), []) if not part or c["measured"].get(f"censored_{part}")]


# ---------------------------------------------------------------- the rule

def _paths(x) -> list:
    return [x] if isinstance(x, str) else list(x)


def _keyed(inputs: dict, keys: dict, name: str) -> dict:
    """{key: path} of one input list; ``keys[name]`` is aligned with it (the rule builds both from one list)."""
    paths = _paths(inputs.get(name, []))
    if len(paths) != len(keys.get(name, [])):
        raise ValueError(f"claims: {len(paths)} {name} inputs but {len(keys.get(name, []))} keys")
    return {k if isinstance(k, str) else tuple(k): p for k, p in zip(keys.get(name, []), paths)}


def contrasts(surf: dict, curves: dict, regions: dict, hessian: dict, epochs: dict, traj: dict, tasks: list[str],
              p: dict, chance: dict) -> list[dict]:
    """A control's C1 and C2 finetune-vs-scratch rows (areas, widths, power-iteration sharpness, epochs to loss,
    path ascent, direction) from inputs keyed (task, "finetune" | "scratch") -- the main runs, or a
    control's pair in those roles (:func:`bertscape.controls.as_pair`); ``p``: the claims_seed rule's params."""
    cl = p["claims"]
    rows = c1_wider_optima(surf, curves, tasks, cl["tau_loss"], regions)
    power = {k: h for k, h in hessian.items() if "rel_change" in h}
    rows += sharpness(power, tasks, p["hessian_tol"]) if len(power) == len(hessian) and power else []
    return rows + c2_easier_optimisation(epochs, curves, traj, tasks, p["n_labels"], cl["reach_fraction"],
                                         cl["ascent_tol"], chance)


def evaluate(inputs: dict, keys: dict, p: dict) -> dict:
    """The claims rule: every claim row gated by its preconditions, the preconditions, Table 1 beside the paper's
    and the grids' precision records. ``inputs``: the rule's named inputs (lists of paths); ``keys``: for each list
    the (task, init) -- or task, (task, group) -- each path is for; ``p``: the rule's params."""
    tasks, cl = p["tasks"], p["claims"]
    grids = lambda name: {k: read_grid(v) for k, v in _keyed(inputs, keys, name).items()}
    surf, curves, layers = grids("surfaces"), grids("curves"), grids("layers")
    regions = {k: {x: y for x, y in read_json(v).items() if x not in ("extra_points", "in_grid", "provenance")}
               for k, v in _keyed(inputs, keys, "basins").items()}
    epochs = {k: read_tsv(v) for k, v in _keyed(inputs, keys, "epochs").items()}
    traj = {k: read_tsv(v) for k, v in _keyed(inputs, keys, "trajectories").items()}
    rollback = {t: read_tsv(v) for t, v in _keyed(inputs, keys, "rollback").items()}
    groups = {r["group"]: [int(r["first_layer"]), int(r["last_layer"])] for r in next(iter(rollback.values()))
              if r["group"] != "none"} if rollback else {}
    hessian = {k: read_json(v) for k, v in _keyed(inputs, keys, "hessian").items()}
    chance = {t: target_variance([r["label"] for r in read_jsonl(f)])
              for t, f in _keyed(inputs, keys, "targets").items()}  # regression tasks: C2's chance loss
    specs = {t: task_spec(t, p["task_configs"]) for t in tasks}
    checks = P.check_all(curves, surf, hessian, tasks, {t: chance_loss(specs[t], chance.get(t)) for t in tasks},
                         cl, p["hessian_tol"], p["data_source"], regions=regions,
                         flatness_rtol=p.get("flatness_rtol"))
    rows = c1_wider_optima(surf, curves, tasks, cl["tau_loss"], regions)
    power = {k: h for k, h in hessian.items() if "rel_change" in h}
    rows += sharpness(power, tasks, p["hessian_tol"]) if len(power) == len(hessian) and power else []
    norms = {k: read_json(v)["rows"] for k, v in _keyed(inputs, keys, "norms").items()}
    if "layer_groups" in p:  # the group rows, from the blocks' rows (bertscape.layernorms.with_groups)
        norms = {k: with_groups(v, layer_groups(p["layer_groups"], sum(r["unit"] == "layer" for r in v)))
                 for k, v in norms.items()}
    rows += in_units(rows, {k: next(r for r in v if r["unit"] == "encoder") for k, v in norms.items()})
    rows += c1_flatness(hessian, tasks)
    filt = {k: read_json(v) for k, v in _keyed(inputs, keys, "filter_curves").items()}
    rows += c1_filter_normalized(filt, tasks, cl["tau_loss"]) if filt else []
    rows += c2_easier_optimisation(epochs, curves, traj, tasks, p["n_labels"], cl["reach_fraction"], cl["ascent_tol"],
                                   chance)
    descriptive = []
    if p["long"]:
        long_epochs = read_tsv(inputs["long_epochs"])
        rows += c3_overfitting(long_epochs, p["long"], cl["acc_tol"], p["metrics"][p["long"]])
        if inputs.get("long_scratch_epochs"):  # train.long_run.inits lists scratch
            rows += c3_contrast(long_epochs, read_tsv(inputs["long_scratch_epochs"]), p["long"], cl["acc_tol"],
                                p["metrics"][p["long"]])
        descriptive += c3_projected_point(long_epochs, traj[p["long"], "long"], surf[p["long"], "finetune"], p["long"],
                                          cl["tau_error"])
    steps = {k: read_tsv(v) for k, v in _keyed(inputs, keys, "steps").items()}
    thr = {t: cl["reach_fraction"] * (chance[t] if t in chance else math.log(p["n_labels"][t])) for t in tasks}
    rows += c2_matched(epochs, steps, traj, tasks, thr, cl["matched_fractions"])
    rows += c2_dense_path(grids("paths"), tasks, cl["ascent_tol"])
    rows += c4_consistency(surf, tasks, cl["window"], cl["rho_min"])
    rows += c4_theta1_window(surf, tasks, cl["theta1_window"], cl["rho_min"])
    rows += c5_lower_layers(rollback, layers, groups) + c5_contrast(rollback, groups)
    if inputs.get("transfer"):
        descriptive += transfer_rows(read_json(inputs["transfer"])["groups"])
    rows += c6_orthogonal({k: read_json(v) for k, v in _keyed(inputs, keys, "directions").items()
                           if k[1] not in CONTROLS}, cl["max_abs_cos"])
    rows = gate(rows, checks)
    runs = (surf, curves, regions, hessian, epochs, traj)
    losses = {t: chance_loss(specs[t], chance.get(t)) for t in tasks}
    for c in present(curves):  # C1 and C2 again with the schedule matched (bertscape.controls)
        own = P.check_all(curves, surf, hessian, tasks, losses, cl, p["hessian_tol"], p["data_source"], inits=(c,),
                          regions=regions, flatness_rtol=p.get("flatness_rtol"))
        pair = [x for x in checks + own if x["init"] in CONTROLS[c].pair]
        rows += tag(gate(contrasts(*(as_pair(d, c) for d in runs), tasks, p, chance), pair), c)
        checks = checks + own
    precision = precision_rows({f"{kind}/{'/'.join(k)}": g for kind, d in (("surface", surf), ("curve", curves),
                                                                           ("layer", layers)) for k, g in d.items()})
    return {"claims": rows, "descriptive": descriptive, "preconditions": checks, "table1_vs_paper": table1_vs_paper(rollback, groups),
            "precision": precision, "norms": [{"task": t, "init": i, **r} for (t, i), v in norms.items() for r in v]}
