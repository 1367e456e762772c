"""Preconditions of the claims: is the experiment powered to decide them?

For every task x init, from artifacts the DAG already has (the 1D curve, the 2D surface, the
power iteration's record):

* **P1 learned**: the training loss at theta1 (the curve's end anchor: theta1 exactly, eval mode,
  the surfaces' training subset) <= ``claims.learned_fraction`` x the chance loss;
* **P2 at an optimum**: theta1 (alpha = 1) within ``claims.optimum_tol`` of the minimum of its own
  1D curve (the minimum located to sub-node precision by a parabola through the lowest node and its
  neighbours; a minimum at the curve's last node lies at or beyond it) -- or on the basin's floor:
  f(theta1) no more than ``claims.optimum_loss_tol`` above that minimum. The second clause is there
  because a cross-entropy that has fit its training set has no isolated minimum along delta1: it keeps
  creeping down (0.0035 at theta1, 0.0005 at alpha 1.5 for MRPC fine-tuned to a fit, then a cliff to
  0.56 at 1.75; benchmarks/convergence.py), so the minimum's position alone is arbitrary there;
* **P3 basin closed**: C1's region around theta1 (2D area and 1D interval where the train loss <=
  f(end) + ``claims.tau_loss``) is measured whole: the 1D interval does not touch the curve's ends, and
  the 2D region does not touch the grid's edge or, where it does, closes within ``claims.basin_points``
  nodes followed past it (:mod:`bertscape.basins`; the 2D area's claim row needs the 2D part, the 1D
  width's row the 1D part);
* **P4 curvature converged**: the power iteration's last relative change <= ``claims.hessian.tol``.

A failed precondition carries the config key that would fix it; :func:`gate` turns the claim rows
that depend on it into n/a with that message as their ``reason``.
"""

from __future__ import annotations

import math

import numpy as np

from .claims import _fmt, basin, curve_width, holds_word
from .data import TaskSpec
from .h5io import Grid

NAMES = {"P1": "learned", "P2": "at an optimum", "P3": "basin closed", "P4": "curvature converged"}
# Which preconditions (of both inits of the row's task) a claim row needs to be decidable. "P3/2d", "P3/1d": the
# part of P3 the measure reads (the 2D area needs the surface's region closed, the 1D width the curve's
# interval; a region censored in the other one does not make this measure's value censored).
NEEDS = {("C1", "basin_area_2d"): ("P1", "P2", "P3/2d"), ("C1", "basin_width_1d"): ("P1", "P2", "P3/1d"),
         ("C1", "hessian_top_eigenvalue"): ("P1", "P2", "P4")}
# Why a row that needs no precondition is n/a: the preconditions that explain it, else its measure's own reason.
EXPLAINED_BY = {("C2", "epochs_to_loss"): ("P1",)}
UNDEFINED = {("C2", "epochs_to_loss"): "neither run reached the threshold; raise tasks.{t}.epochs_finetune / epochs_scratch",
             ("C3", "long_run_stays_in_basin"): "the long run's final point lies outside the grid; widen grid.min/grid.max",
             ("C4", "spearman_loss_error"): "fewer than 3 grid nodes within claims.window of theta1, or a constant "
                                            "surface there; raise grid.points or claims.window"}


def chance_loss(spec: TaskSpec, target_variance: float | None = None) -> float:
    """Training loss of a model that learned nothing: cross-entropy of the uniform prediction, ln(#labels); for a
    regression task the MSE of predicting the mean training target, Var(train targets) (claims.target_variance)."""
    if spec.regression:
        if target_variance is None:
            raise ValueError(f"{spec.name}: a regression task's chance loss needs the variance of its training targets")
        return float(target_variance)
    return math.log(len(spec.labels))


def curve_minimum(curve: Grid, metric: str = "train_loss") -> tuple[float, float, bool]:
    """(alpha of the minimum, loss there, at_edge) over the curve's nodes and anchors. The minimum is refined by
    the vertex of the parabola through the lowest point and its two neighbours; ``at_edge``: the lowest point is
    the curve's first or last node, so the true minimum may lie beyond it."""
    pts = {float(a): float(y) for a, y in zip(curve.alpha, curve.values[metric]) if math.isfinite(y)}
    pts.update({float(v["alpha"]): float(v[metric]) for v in curve.anchors.values() if math.isfinite(v[metric])})
    x = np.array(sorted(pts))
    y = np.array([pts[a] for a in x])
    i = int(np.argmin(y))
    if i in (0, len(x) - 1):
        return float(x[i]), float(y[i]), True
    (x0, x1, x2), (y0, y1, y2) = x[i - 1:i + 2], y[i - 1:i + 2]
    den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    if den == 0:
        return float(x1), float(y1), False
    xv = x1 - 0.5 * ((x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)) / den
    return float(min(max(xv, x0), x2)), float(y1), False


def _row(p: str, task: str, init: str, holds: bool | None, measured: dict, criterion: str, fix: str = "",
         message: str = "") -> dict:
    return {"precondition": p, "name": NAMES[p], "task": task, "init": init, "holds": holds, "measured": measured,
            "criterion": criterion, "message": message if holds is False else "", "fix": fix if holds is False else ""}


def _keys(task: str, init: str, data_source: str) -> dict[str, str]:
    t = f"tasks.{task}"
    size = "data.synthetic_train" if data_source == "synthetic" else "data.max_train"
    return {"epochs": f"{t}.epochs_{init}", "lr": f"{t}.lr" if init == "finetune" else f"{t}.scratch_lr", "size": size}


def p1_learned(curve: Grid, task: str, init: str, chance: float, fraction: float, data_source: str) -> dict:
    f1 = float(curve.anchors["end"]["train_loss"])
    k = _keys(task, init, data_source)
    fix = f"raise {k['epochs']} or {k['lr']}" + (f", or lower {k['size']} (a smaller set is fit sooner)"
                                                 if init == "scratch" else "")
    return _row("P1", task, init, f1 <= fraction * chance if math.isfinite(f1) else None,
                {"train_loss_end": f1, "chance": chance, "ratio": f1 / chance},
                f"train loss at theta1 <= {fraction:g} x chance loss ({chance:.3g})", fix,
                f"P1: train loss at theta1 {f1:.3g} = {f1 / chance:.2f} x chance ({chance:.3g}), needs <= {fraction:g} x")


def p2_optimum(curve: Grid, task: str, init: str, tol: float, loss_tol: float, data_source: str) -> dict:
    a, f, edge = curve_minimum(curve)
    f1 = float(curve.anchors["end"]["train_loss"])
    k = _keys(task, init, data_source)
    holds = (abs(a - 1.0) <= tol and not (edge and a != 1.0)) or f1 - f <= loss_tol
    where = f"alpha = {a:.2f}" + (" (the curve's last node: the minimum may lie beyond)" if edge and a > 1 else
                                  " (the curve's first node)" if edge else "")
    fix = f"raise {k['epochs']} or {k['lr']}" if a > 1 else f"lower {k['lr']} (theta1 overshot the minimum along delta1)"
    return _row("P2", task, init, holds, {"alpha_min": a, "loss_min": f, "at_edge": edge, "loss_end": f1},
                f"|alpha(curve minimum) - 1| <= {tol:g} or f(theta1) - f(minimum) <= {loss_tol:g}", fix,
                f"P2: curve minimum at {where} (theta1 at 1.0), {f1 - f:.3g} below f(theta1)")


def p3_inside(surface: Grid, curve: Grid, task: str, init: str, tau: float, p1: dict, region: dict | None = None) -> dict:
    """``region``: the 2D region followed past the grid's edge (:func:`bertscape.basins.extend`); then the 2D part
    holds when that region closed within its budget of extra nodes."""
    b2, b1 = region or basin(surface, "train_loss", tau), curve_width(curve, "train_loss", tau)
    holds = not (b2["censored"] or b1["censored"])
    lo, hi = float(min(surface.alpha[0], curve.alpha[0])), float(max(surface.alpha[-1], curve.alpha[-1]))
    what = " and ".join(w for w, b in (("2D region", b2), ("1D interval", b1)) if b["censored"])
    plateau = " (theta1 sits on a plateau: fix P1 first)" if p1["holds"] is False else ""
    measured = {"censored_2d": b2["censored"], "censored_1d": b1["censored"], "area_2d": b2["area"], "grid": [lo, hi]}
    beyond = ""
    if region is not None:
        measured.update(alpha_range=region["alpha_range"], beta_range=region["beta_range"],
                        past_edge=region["past_edge"])
        beyond = f", and stays open past it after {region['budget']} extra nodes" if region["censored"] else ""
    fix = "raise claims.basin_points or widen grid.min/grid.max" if region is not None and b2["censored"] \
        else "widen grid.min/grid.max"
    return _row("P3", task, init, holds, measured,
                f"C1's region (train loss <= f(end) + {tau:g}) is closed: the 1D interval inside the curve's range, "
                "the 2D region inside the grid or closed within claims.basin_points nodes past its edge",
                f"{fix}{plateau}",
                f"P3: the {what} around theta1 {'reach' if ' and ' in what else 'reaches'} the grid's edge "
                f"([{lo:g}, {hi:g}]){beyond}")


def p4_converged(hessian: dict | None, task: str, init: str, tol: float) -> dict:
    if hessian is None:
        return _row("P4", task, init, None, {}, "claims.hessian.enabled is false: no power iteration")
    rel, it = hessian["rel_change"], int(hessian["iterations"])
    holds = math.isfinite(rel) and rel <= tol
    return _row("P4", task, init, holds, {"iterations": it, "rel_change": rel, "lambda_max": hessian["lambda_max"]},
                f"power iteration's last relative change <= {tol:g}",
                "raise claims.hessian.iterations",
                f"P4: power iteration stopped after {it} iterations still changing by {rel:.1%} per step")


def check_all(curves: dict, surfaces: dict, hessian: dict, tasks: list[str], chance: dict[str, float], cl: dict,
              hessian_tol: float, data_source: str, inits=("finetune", "scratch"), regions: dict | None = None) -> list[dict]:
    """Every precondition for every task x init; ``chance`` maps a task to its chance loss (chance_loss), ``hessian``
    maps (task, init) to the sharpness record (may be empty), ``regions`` (task, init) to the 2D region followed
    past the grid's edge (:func:`bertscape.basins.extend`; may be empty)."""
    rows = []
    for t in tasks:
        for i in inits:
            p1 = p1_learned(curves[t, i], t, i, chance[t], cl["learned_fraction"], data_source)
            rows += [p1, p2_optimum(curves[t, i], t, i, cl["optimum_tol"], cl["optimum_loss_tol"], data_source),
                     p3_inside(surfaces[t, i], curves[t, i], t, i, cl["tau_loss"], p1, (regions or {}).get((t, i))),
                     p4_converged(hessian.get((t, i)), t, i, hessian_tol)]
    return rows


COLUMNS = ["precondition", "name", "task", "init", "holds", "criterion", "measured", "message", "fix"]


def flat_rows(checks: list[dict]) -> list[dict]:
    """Rows for preconditions.tsv."""
    return [{**c, "holds": holds_word(c["holds"]), "measured": _fmt(c["measured"])} for c in checks]


def failed(checks: list[dict]) -> list[dict]:
    return [c for c in checks if c["holds"] is False]


def reason(check: dict) -> str:
    return f"{check['message']} [{check['init']}]; {check['fix']}"


def gate(rows: list[dict], checks: list[dict]) -> list[dict]:
    """Claim rows with a ``reason``: a row whose preconditions failed becomes n/a naming them and the keys to
    change; any other n/a row keeps the reason its measure gave (or says it is undefined)."""
    bad = {(c["precondition"], c["task"]): [] for c in checks}
    for c in failed(checks):
        bad[c["precondition"], c["task"]].append(c)
    out = []
    for r in rows:
        fails = [c for need in NEEDS.get((r["claim"], r["measure"]), ()) for c in _failing(bad, need, r["task"])]
        r = dict(r)
        if fails:
            r["holds"], r["reason"] = None, "; ".join(reason(c) for c in fails)
        elif r["holds"] is None:
            key = (r["claim"], r["measure"])
            why = [c for p in EXPLAINED_BY.get(key, ()) for c in bad.get((p, r["task"]), [])]
            r["reason"] = "; ".join(reason(c) for c in why) or UNDEFINED.get(key, "undefined: a NaN or missing value "
                                                                                   "in its measure").format(t=r["task"])
        else:
            r["reason"] = ""
        out.append(r)
    return out


def _failing(bad: dict, need: str, task: str) -> list[dict]:
    """The failed checks of precondition ``need`` ("P3/2d": only where that part of P3 failed) for a task."""
    p, _, part = need.partition("/")
    return [c for c in bad.get((p, task), []) if not part or c["measured"].get(f"censored_{part}")]


def table(checks: list[dict], task: str) -> list[list[str]]:
    """One task's preconditions as rows [precondition, name, finetune, scratch] ('ok' / the failure message)."""
    cell = {(c["precondition"], c["init"]): c for c in checks if c["task"] == task}
    inits = list(dict.fromkeys(c["init"] for c in checks if c["task"] == task))
    rows = []
    for p, name in NAMES.items():
        rows.append([p, name] + [_cell(cell.get((p, i))) for i in inits])
    return rows


def _cell(c: dict | None) -> str:
    if c is None or c["holds"] is None:
        return "n/a"
    return "ok" if c["holds"] else f"FAILS: {c['message'][4:]}; {c['fix']}"


def warning(checks: list[dict]) -> str:
    """The end-of-run warning: every failed precondition, one per line ('' when none failed)."""
    bad = failed(checks)
    if not bad:
        return ""
    lines = [f"WARNING: {len(bad)} of {len(checks)} claim preconditions failed (the claims that need them are n/a):"]
    lines += [f"  {c['task']} {c['init']}: {c['message']}; {c['fix']}" for c in bad]
    return "\n".join(lines)
