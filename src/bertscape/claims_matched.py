"""Claim rows of C2 at matched schedule points and on the dense path, and of C4 on the pre-registered theta1
window with its scratch contrast (issue 26 items 2 and 4), with their effects (> 0 supports the paper). The
older rows (direction_epoch1, epochs_to_loss, path_ascent, spearman_loss_error) stay beside them: they compare
unmatched schedules, three interior path nodes and a window that reaches theta0's side.
"""

from __future__ import annotations

import math

from .config import INITS
from .measures import epochs_to, finite
from .pathshape import path_shape
from .schedule import cumlr_to, cumulative_lr, matched_cumlr, matched_fractions, weakest_gap
from .stats import log_ratio
from .theta1window import theta1_spearman
from .verdicts import row


def c2_matched(epochs: dict, steps: dict, trajectories: dict, tasks: list[str], thresholds: dict[str, float],
               fractions: list[float]) -> list[dict]:
    """C2 at matched points: cos(delta^E, delta1) at the same fractions of each run's schedule and at the same
    cumulative lr (:mod:`bertscape.schedule`), and the cumulative lr spent until the training loss first meets
    ``thresholds[t]`` (epochs_to_loss's threshold). A task without both runs' trajectories / steps gets none."""
    rows = []
    for t in tasks:
        if not all((t, i) in trajectories and (t, i) in steps for i in INITS):
            continue
        traj = {i: trajectories[t, i] for i in INITS}
        cum = {i: cumulative_lr(steps[t, i]) for i in INITS}
        v = matched_fractions(traj, fractions)
        gap = weakest_gap(v)
        qs = ", ".join(f"{q:g}" for q in fractions)
        rows.append(row("C2", "direction_matched_fraction", t, v,
                        f"cos(delta^E, delta1) at the stored epoch nearest each of the fractions {qs} of each run's "
                        "schedule: finetune > scratch at every one", gap > 0 if finite(gap) else None))
        crit = (f"cos(delta^E, delta1) at the stored epoch nearest each cumulative lr {qs} x the smaller run's total: "
                "finetune > scratch at every one", f"cumulative lr until the train loss first <= {thresholds[t]:.4g} "
                "(epochs_to_loss's threshold): finetune less (never = infinity)")
        if not all(cum.values()):  # no steps recorded (an imported run): no schedule to match
            rows += [row("C2", m, t, {i: None for i in INITS}, c, None)
                     for m, c in zip(("direction_matched_cumlr", "cumlr_to_loss"), crit)]
            continue
        v = matched_cumlr(traj, cum, fractions)
        gap = weakest_gap(v)
        rows.append(row("C2", "direction_matched_cumlr", t, v, crit[0], gap > 0 if finite(gap) else None))
        reach = {i: cumlr_to(epochs_to(epochs[t, i], thresholds[t]), cum[i]) for i in INITS}
        ft, sc = reach["finetune"], reach["scratch"]
        rows.append(row("C2", "cumlr_to_loss", t,
                        {"threshold": thresholds[t], **reach, "total": {i: max(cum[i].values()) for i in INITS}},
                        crit[1], None if ft is None and sc is None else (ft is not None and (sc is None or ft < sc))))
    return rows


def c2_dense_path(paths: dict, tasks: list[str], ascent_tol: float) -> list[dict]:
    """C2 on the dense straight path theta0 -> theta1 (:mod:`bertscape.pathshape`): fine-tuning's path rises by at
    most ``ascent_tol``, and (the paper's contrast, its own row) scratch's path is rougher than fine-tuning's."""
    rows = []
    for t in tasks:
        if not all((t, i) in paths for i in INITS):
            continue
        v = {i: path_shape(paths[t, i]) for i in INITS}
        ft, sc = v["finetune"], v["scratch"]
        v["ascent_tol"] = ascent_tol
        rows.append(row("C2", "path_ascent_dense", t, v,
                        f"rise of train loss along {ft['nodes']} path nodes alpha 0 -> 1: finetune <= {ascent_tol:g}",
                        ft["ascent"] <= ascent_tol if finite(ft["ascent"]) else None))
        ok = finite(ft["roughness"], sc["roughness"])
        rows.append(row("C2", "path_roughness", t, v,
                        "path roughness (total rise / loss range along alpha 0 -> 1): scratch > finetune",
                        sc["roughness"] > ft["roughness"] if ok else None))
    return rows


def c4_theta1_window(surfaces: dict, tasks: list[str], window: dict, rho_min: float) -> list[dict]:
    """C4 on the pre-registered window around theta1 (:mod:`bertscape.theta1window`): rho_finetune >= rho_min,
    and the paper's contrast rho_finetune > rho_scratch as its own row."""
    rows = []
    w = ", ".join(f"{k} {window[k]:g}" for k in ("alpha_min", "alpha_max", "beta_max", "transect"))
    for t in tasks:
        v = {i: theta1_spearman(surfaces[t, i], window) for i in INITS}
        ft, sc = v["finetune"]["rho"], v["scratch"]["rho"]
        rows.append(row("C4", "spearman_theta1_window", t, v,
                        f"Spearman(train loss, dev error) on theta1's side ({w}): finetune >= {rho_min:g}",
                        ft >= rho_min if finite(ft) else None))
        rows.append(row("C4", "spearman_contrast", t, v,
                        f"Spearman(train loss, dev error) on theta1's side ({w}): finetune > scratch",
                        ft > sc if finite(ft, sc) else None))
    return rows


# ---------------------------------------------------------------- effects (> 0 supports the paper)

def effect_matched_cos(v: dict, cl: dict) -> float:
    """C2 matched: min over the matched points of cos_ft - cos_sc."""
    return weakest_gap(v)


def effect_cumlr(v: dict, cl: dict) -> float:
    """C2: log(cumlr_sc / cumlr_ft). A run that never met the threshold spent more than its total: that total is
    a lower bound, used only where it fixes the sign (as effect_epochs); both never: NaN."""
    ft, sc, total = v["finetune"], v["scratch"], v["total"]
    if ft is None and sc is None:
        return float("nan")
    if sc is None:
        return log_ratio(total["scratch"], ft) if total["scratch"] >= ft else float("nan")
    if ft is None:
        return log_ratio(sc, total["finetune"]) if sc <= total["finetune"] else float("nan")
    return log_ratio(sc, ft)


def effect_dense_ascent(v: dict, cl: dict) -> float:
    """C2 dense path: claims.ascent_tol (recorded in the row) - ascent_ft (nats)."""
    return float(v["ascent_tol"]) - float(v["finetune"]["ascent"])


def effect_roughness(v: dict, cl: dict) -> float:
    """C2 contrast: roughness_sc - roughness_ft."""
    x = float(v["scratch"]["roughness"]) - float(v["finetune"]["roughness"])
    return x if math.isfinite(x) else float("nan")


def effect_theta1_rho(v: dict, cl: dict) -> float:
    """C4 theta1 window: rho_ft - claims.rho_min."""
    return float(v["finetune"]["rho"]) - float(cl["rho_min"])


def effect_rho_contrast(v: dict, cl: dict) -> float:
    """C4 contrast: rho_ft - rho_sc."""
    return float(v["finetune"]["rho"]) - float(v["scratch"]["rho"])
