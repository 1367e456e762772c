"""C1's sizes in three units, so that no verdict is decided by the unit of length alone.

The surfaces and curves are drawn in (alpha, beta) with theta = theta0 + alpha delta1 + beta delta2, and delta2
rescaled to ||delta1|| (:mod:`bertscape.directions`): one unit of either axis is ||delta1|| long, the run's own
distance travelled. Runs that travel farther (scratch: three times the learning rate) get a longer unit, so the same
absolute basin reads smaller there. Every C1 size is therefore reported in

* **delta1** -- units of ||delta1|| (the paper's; basin_area_2d, basin_width_1d as the surfaces give them);
* **raw** -- Euclidean parameter distance: a length x ||delta1||, an area x ||delta1||^2 (both axes are ||delta1||
  long), a curvature (the Hessian's top eigenvalue, per squared parameter distance) as it is;
* **rel** -- relative to the weights: a length divided by ||theta1|| of the encoder (the run's own end point), so a
  length x ||delta1|| / ||theta1||, an area x (||delta1|| / ||theta1||)^2, a curvature x ||theta1||^2. One number
  per axis: the per-layer ratios ||delta1^G|| / ||theta1^G|| are in the norm table
  (:mod:`bertscape.layernorms`), which says how evenly a step spreads over the layers.

Each unit is its own registry measure (suffix ``_raw`` / ``_rel``; the Hessian row's own unit is raw, its
``_delta1`` row is lambda x ||delta1||^2, the curvature along alpha). The conversion multiplies each run's size by a
positive constant of that run, so censoring is unchanged and a log-ratio effect shifts by the log ratio of the two
runs' constants: one lattice node of area, one curve step of width or the power iteration's tolerance is the same
*relative* resolution in every unit, so each unit's tie band is its base measure's (the norms themselves are exact
sums of squares in float64).
"""

from __future__ import annotations

import math

from .config import INITS
from .verdicts import row

# base measure -> (the size's key in its values, the base's unit, {derived measure: (unit, power of each factor)})
# a factor's power: how the size scales with the run's ||delta1|| and ||theta1||
CONVERSIONS: dict[str, tuple[str, str, dict[str, tuple[str, int, int]]]] = {
    "basin_area_2d": ("area", "delta1", {"basin_area_2d_raw": ("raw", 2, 0), "basin_area_2d_rel": ("rel", 2, -2)}),
    "basin_width_1d": ("width", "delta1", {"basin_width_1d_raw": ("raw", 1, 0), "basin_width_1d_rel": ("rel", 1, -1)}),
    "hessian_top_eigenvalue": ("lambda_max", "raw", {"hessian_top_eigenvalue_delta1": ("delta1", 2, 0),
                                                      "hessian_top_eigenvalue_rel": ("rel", 0, 2)}),
}
UNIT_TEXT = {"delta1": "units of ||delta1||", "raw": "raw Euclidean units",
             "rel": "units of ||theta1|| (the encoder's, each run its own)"}


def base_of(measure: str) -> str:
    """The base measure a derived one converts (itself for a base measure)."""
    return next((b for b, (_, _, d) in CONVERSIONS.items() if measure == b or measure in d), measure)


def unit_of(measure: str) -> str | None:
    """The unit of a C1 size measure (None for any other measure)."""
    for b, (_, unit, derived) in CONVERSIONS.items():
        if measure == b:
            return unit
        if measure in derived:
            return derived[measure][0]
    return None


def scale(norms: dict | None, p_delta1: int, p_theta1: int) -> float:
    """||delta1||^p_delta1 x ||theta1||^p_theta1 of one run (``norms``: the norm table's encoder row; NaN if absent)."""
    if not norms:
        return float("nan")
    return float(norms["norm_delta1"]) ** p_delta1 * float(norms["norm_theta1"]) ** p_theta1


def _holds(base: str, ft: dict, sc: dict, key: str, base_holds: bool | None) -> bool | None:
    if not (math.isfinite(ft[key]) and math.isfinite(sc[key])):
        return None
    if base == "hessian_top_eigenvalue":  # undecided in every unit where the base was (unconverged)
        return None if base_holds is None else ft[key] < sc[key]
    if ft[key] > sc[key]:  # wider: as claims.c1_wider_optima, a censored region decides nothing against it
        return None if sc.get("censored") else True
    return None if ft.get("censored") else False


def in_units(rows: list[dict], norms: dict) -> list[dict]:
    """The C1 size rows (basin_area_2d, basin_width_1d, hessian_top_eigenvalue) again in the other two units.
    ``norms``: (task, init) -> the norm table's encoder row (``norm_delta1``, ``norm_theta1``); a run without one
    gives NaN sizes, so its rows are undefined."""
    out = []
    for r in rows:
        if r["claim"] != "C1" or r["measure"] not in CONVERSIONS:
            continue
        key, base_unit, derived = CONVERSIONS[r["measure"]]
        for measure, (unit, pd, pt) in derived.items():
            v = {}
            for i in INITS:
                s = scale(norms.get((r["task"], i)), pd, pt)
                v[i] = {**r["values"][i], key: float(r["values"][i][key]) * s, "scale": s}
            what = r["criterion"].split(":")[-1].strip()
            out.append(row("C1", measure, r["task"], {**v, "unit": unit},
                           f"{key} in {UNIT_TEXT[unit]} (the {UNIT_TEXT[base_unit]} size x ||delta1||^{pd} "
                           f"x ||theta1||^{pt}): {what}", _holds(r["measure"], v["finetune"], v["scratch"], key,
                                                                  r["holds"])))
    return out


def disagreements(decisions: list[dict]) -> list[dict]:
    """Where one C1 size's verdict differs between units: per (base measure, task or pooled scope) the verdict in
    each unit, listed only when the units do not all agree."""
    groups: dict[tuple[str, str], dict[str, str]] = {}
    for d in decisions:
        unit = unit_of(d["measure"]) if d["claim"] == "C1" else None
        if unit is not None:
            groups.setdefault((base_of(d["measure"]), d["task"]), {})[unit] = d["verdict"]
    return [{"measure": b, "task": t, "verdicts": v} for (b, t), v in groups.items() if len(set(v.values())) > 1]
