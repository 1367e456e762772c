"""Preconditions of the claims: is the experiment powered to decide them?

For every task x init, from artifacts the DAG already has (the 1D curve, the 2D surface, the
power iteration's record):

* **P1 learned**: the training loss at theta1 (the curve's end anchor: theta1 exactly, eval mode,
  the surfaces' training subset) <= ``claims.learned_fraction`` x the chance loss;
* **P2a at a minimum along delta1**: theta1 (alpha = 1) within ``claims.optimum_tol`` of the minimum of its own
  1D curve (the minimum located to sub-node precision by a parabola through the lowest node and its
  neighbours; a minimum at the curve's last node lies at or beyond it);
* **P2b on the loss floor**: f(theta1) no more than ``claims.optimum_loss_tol`` above that minimum. It is there
  because a cross-entropy that has fit its training set has no isolated minimum along delta1: it keeps
  creeping down (0.0035 at theta1, 0.0005 at alpha 1.5 for MRPC fine-tuned to a fit, then a cliff to
  0.56 at 1.75; benchmarks/convergence.py), so the minimum's position alone is arbitrary there. Where only P2b
  holds, theta1 is not a minimum along delta1 and C1's width and area measure how far delta1 extrapolates on the
  floor before the model breaks, not the flatness around a minimum: the claims page shows which of the two held.
  A C1 row needs either (``P2a|P2b`` in :data:`bertscape.claims.CLAIMS`: n/a only for a run where both failed),
  as the single P2 of before did;
* **P3 basin closed**: C1's region around theta1 (2D area and 1D interval where the train loss <=
  f(end) + ``claims.tau_loss``) is measured whole: the 1D interval does not touch the curve's ends, and
  the 2D region does not touch the grid's edge or, where it does, closes within ``claims.basin_points``
  nodes followed past it (:mod:`bertscape.basins`; the 2D area's claim row needs the 2D part, the 1D
  width's row the 1D part);
* **P4 curvature converged**: with the flatness record (config ``flatness``), the Lanczos residual of the
  Hessian's top Ritz value and of D H D's top one <= ``flatness.lanczos.rtol`` x its |lambda_max| (an
  eigenvalue then lies within that distance: :mod:`bertscape.spectrum`; the other top-k values are reported with
  their residuals, read by no row); without it, the power iteration's
  last relative change <= ``claims.hessian.tol`` (which cannot show that it found the top eigenvalue).

* **P5 minimum in the encoder's space** (informational: no claim row needs it): Lanczos' smallest eigenvalue of the
  Hessian >= minus its residual, i.e. no negative curvature at theta1 (n/a while that residual exceeds
  ``flatness.lanczos.rtol`` x lambda_max, or without the flatness record). A failure says theta1 is a saddle.

A failed precondition carries the config key that would fix it; :func:`bertscape.claims.gate` turns the claim
rows that depend on it (the registry :data:`bertscape.claims.CLAIMS` says which) into n/a with that message as their
``reason``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .controls import schedule_init, theta0_init
from .measures import basin, curve_minimum, curve_width
from .verdicts import fmt, holds_word

if TYPE_CHECKING:  # annotations only
    from .h5io import Grid

NAMES = {"P1": "learned", "P2a": "at a minimum along delta1", "P2b": "on the loss floor", "P3": "basin closed",
         "P4": "curvature converged", "P5": "minimum in the encoder's space"}


def _row(p: str, task: str, init: str, holds: bool | None, measured: dict, criterion: str, fix: str = "",
         message: str = "") -> dict:
    return {"precondition": p, "name": NAMES[p], "task": task, "init": init, "holds": holds, "measured": measured,
            "criterion": criterion, "message": message if holds is False else "", "fix": fix if holds is False else ""}


def _keys(task: str, init: str, data_source: str) -> dict[str, str]:
    t, init = f"tasks.{task}", schedule_init(init)  # a control trains on another init's schedule
    size = "data.synthetic_train" if data_source == "synthetic" else "data.max_train"
    return {"epochs": f"{t}.epochs_{init}", "lr": f"{t}.lr" if init == "finetune" else f"{t}.scratch_lr", "size": size}


def p1_learned(curve: Grid, task: str, init: str, chance: float, fraction: float, data_source: str) -> dict:
    f1 = float(curve.anchors["end"]["train_loss"])
    k = _keys(task, init, data_source)
    fix = f"raise {k['epochs']} or {k['lr']}" + (f", or lower {k['size']} (a smaller set is fit sooner)"
                                                 if theta0_init(init) == "scratch" else "")
    return _row("P1", task, init, f1 <= fraction * chance if math.isfinite(f1) else None,
                {"train_loss_end": f1, "chance": chance, "ratio": f1 / chance},
                f"train loss at theta1 <= {fraction:g} x chance loss ({chance:.3g})", fix,
                f"P1: train loss at theta1 {f1:.3g} = {f1 / chance:.2f} x chance ({chance:.3g}), needs <= {fraction:g} x")


def p2_optimum(curve: Grid, task: str, init: str, tol: float, loss_tol: float, data_source: str) -> list[dict]:
    """[P2a, P2b] of one run from its 1D curve's minimum: P2a theta1 within ``tol`` (alpha units) of it, a minimum
    not cut off by the curve's end; P2b f(theta1) at most ``loss_tol`` above it (a fitted cross-entropy's floor)."""
    a, f, edge = curve_minimum(curve)
    f1 = float(curve.anchors["end"]["train_loss"])
    k = _keys(task, init, data_source)
    where = f"alpha = {a:.2f}" + (" (the curve's last node: the minimum may lie beyond)" if edge and a > 1 else
                                  " (the curve's first node)" if edge else "")
    fix = f"raise {k['epochs']} or {k['lr']}" if a > 1 else f"lower {k['lr']} (theta1 overshot the minimum along delta1)"
    measured = {"alpha_min": a, "loss_min": f, "at_edge": edge, "loss_end": f1, "above_min": f1 - f}
    return [_row("P2a", task, init, abs(a - 1.0) <= tol and not (edge and a != 1.0), measured,
                 f"|alpha(curve minimum) - 1| <= {tol:g}", fix,
                 f"P2a: curve minimum at {where} (theta1 at 1.0), {f1 - f:.3g} below f(theta1)"),
            _row("P2b", task, init, f1 - f <= loss_tol if math.isfinite(f1 - f) else None, measured,
                 f"f(theta1) - f(curve minimum) <= {loss_tol:g}", f"raise {k['epochs']} or {k['lr']}",
                 f"P2b: f(theta1) {f1:.3g} lies {f1 - f:.3g} above the curve's minimum {f:.3g} (alpha = {a:.2f})")]


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


def p4_converged(hessian: dict | None, task: str, init: str, tol: float, rtol: float | None = None) -> dict:
    if hessian is not None and "flatness" in hessian and rtol is not None:
        return p4_lanczos(hessian["flatness"], task, init, rtol)
    if hessian is None or "rel_change" not in hessian:
        return _row("P4", task, init, None, {}, "no curvature record: claims.hessian.enabled and flatness.enabled "
                    "are false, or a control run without the power iteration (its rows read no other curvature)")
    rel, it = hessian["rel_change"], int(hessian["iterations"])
    holds = math.isfinite(rel) and rel <= tol
    return _row("P4", task, init, holds, {"iterations": it, "rel_change": rel, "lambda_max": hessian["lambda_max"]},
                f"power iteration's last relative change <= {tol:g}",
                "raise claims.hessian.iterations",
                f"P4: power iteration stopped after {it} iterations still changing by {rel:.1%} per step")


def p4_lanczos(flat: dict, task: str, init: str, rtol: float) -> dict:
    """P4 by Lanczos residuals: H's top Ritz value and D H D's top one, each within rtol x its |lambda_max|, the
    numbers the C1 rows read. The other top-k Ritz values are reported with their residuals (``top_residual``)
    but gate nothing: no row reads them (at 8 steps the 2nd and 3rd of H are 0.04-9 % off while the top one is
    within 0.01-1.3 %: the three-seed embedded run at 8d0d929). Its parts (``censored_hessian``,
    ``censored_dhd`` in ``measured``) say which failed: a row that reads only H's spectrum needs "P4/hessian",
    D H D's row "P4/dhd" (bertscape.claims.gate)."""
    lz, rel = flat["lanczos"], flat["relative"]
    worst_h = lz["residual_max"] / max(abs(lz["lambda_max"]), 1e-30)
    worst_d = rel["residual_max"] / max(abs(rel["lambda_max"]), 1e-30)
    ok = lambda x: math.isfinite(x) and x <= rtol
    worst = max(worst_h, worst_d)
    holds = ok(worst_h) and ok(worst_d)
    h_first = not ok(worst_h)  # the message names H's failure first, else D H D's
    which, steps = ("H's top", lz["steps"]) if h_first else ("D H D's top", rel.get("steps", lz["steps"]))
    return _row("P4", task, init, holds,
                {"lambda_max": lz["lambda_max"], "top": lz["top"], "top_residual": lz["top_residual"],
                 "dhd_lambda_max": rel["lambda_max"], "dhd_residual": rel["residual_max"], "steps": lz["steps"],
                 "relative_residual": worst, "hessian_relative_residual": worst_h, "dhd_relative_residual": worst_d,
                 "censored_hessian": not ok(worst_h), "censored_dhd": not ok(worst_d)},
                f"Lanczos residual of H's and D H D's top eigenvalue <= {rtol:g} x |lambda_max|",
                "raise flatness.lanczos.steps" if h_first else "raise flatness.relative_steps",
                f"P4: Lanczos residual of {which} eigenvalue {worst_h if h_first else worst_d:.2g} x |lambda_max| "
                f"after {steps} steps")


def p5_minimum(hessian: dict | None, task: str, init: str, rtol: float | None) -> dict:
    crit = "Lanczos' smallest Hessian eigenvalue >= -its residual (no negative curvature at theta1)"
    if hessian is None or "flatness" not in hessian or rtol is None:
        return _row("P5", task, init, None, {}, crit + "; flatness.enabled is false: no spectrum")
    lz = hessian["flatness"]["lanczos"]
    lmin, res, lmax = lz["lambda_min"], lz["residual_min"], lz["lambda_max"]
    measured = {"lambda_min": lmin, "residual_min": res, "lambda_max": lmax, "steps": lz["steps"]}
    if not (math.isfinite(lmin) and math.isfinite(res)) or res > rtol * abs(lmax):
        return _row("P5", task, init, None, measured, crit + f" (n/a: residual > {rtol:g} x lambda_max; raise "
                    "flatness.lanczos.steps)")
    return _row("P5", task, init, lmin >= -res, measured, crit,
                "informational (gates no claim row): theta1 is a saddle, not a minimum, of the training loss",
                f"P5: smallest Hessian eigenvalue {lmin:.3g} +- {res:.2g} < 0 (lambda_max {lmax:.3g}): negative curvature")


def check_all(curves: dict, surfaces: dict, hessian: dict, tasks: list[str], chance: dict[str, float], cl: dict,
              hessian_tol: float, data_source: str, inits=("finetune", "scratch"), regions: dict | None = None,
              flatness_rtol: float | None = None) -> list[dict]:
    """Every precondition for every task x init; ``chance`` maps a task to its chance loss (measures.chance_loss), ``hessian``
    maps (task, init) to the sharpness record (may be empty), ``regions`` (task, init) to the 2D region followed
    past the grid's edge (:func:`bertscape.basins.extend`; may be empty)."""
    rows = []
    for t in tasks:
        for i in inits:
            p1 = p1_learned(curves[t, i], t, i, chance[t], cl["learned_fraction"], data_source)
            rows += [p1, *p2_optimum(curves[t, i], t, i, cl["optimum_tol"], cl["optimum_loss_tol"], data_source),
                     p3_inside(surfaces[t, i], curves[t, i], t, i, cl["tau_loss"], p1, (regions or {}).get((t, i))),
                     p4_converged(hessian.get((t, i)), t, i, hessian_tol, flatness_rtol),
                     p5_minimum(hessian.get((t, i)), t, i, flatness_rtol)]
    return rows


COLUMNS = ["precondition", "name", "task", "init", "holds", "criterion", "measured", "message", "fix"]


def flat_rows(checks: list[dict]) -> list[dict]:
    """Rows for preconditions.tsv."""
    return [{**c, "holds": holds_word(c["holds"]), "measured": fmt(c["measured"])} for c in checks]


def failed(checks: list[dict]) -> list[dict]:
    return [c for c in checks if c["holds"] is False]


def reason(check: dict) -> str:
    return f"{check['message']} [{check['init']}]; {check['fix']}"


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
    return "ok" if c["holds"] else f"FAILS: {c['message'].partition(': ')[2]}; {c['fix']}"


def alternative_held(check: dict, checks: list[dict]) -> str:
    """For a failed P2a (P2b): "P2b" ("P2a") where the other clause held for the same run (seed, task, init), else
    "" -- a claim row needs either clause, so such a failure alone gates nothing."""
    other = {"P2a": "P2b", "P2b": "P2a"}.get(check["precondition"])
    same = lambda c: all(c.get(k) == check.get(k) for k in ("seed", "task", "init"))
    return other if other and any(c["precondition"] == other and c["holds"] and same(c) for c in checks) else ""


def warning(checks: list[dict]) -> str:
    """The end-of-run warning: every failed precondition, one per line ('' when none failed)."""
    bad = failed(checks)
    if not bad:
        return ""
    lines = [f"WARNING: {len(bad)} of {len(checks)} claim preconditions failed (the claims that need them are n/a):"]
    lines += [f"  {'seed %s ' % c['seed'] if 'seed' in c else ''}{c['task']} {c['init']}: {c['message']}; {c['fix']}"
              + (f" ({other} held: the rows that need P2 stand)" if (other := alternative_held(c, checks)) else "")
              for c in bad]
    return "\n".join(lines)
