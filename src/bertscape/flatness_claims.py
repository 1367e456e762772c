"""C1's flatness rows from the sharpness rule's flatness record (:mod:`bertscape.flatness`), and their effects
(> 0 supports the paper: the fine-tuned optimum is the flatter; sizes as log ratios scratch / finetune).

- ``lanczos_top_eigenvalue``: the Hessian's top eigenvalue by Lanczos (finetune smaller);
- ``hessian_trace``: Hutchinson's trace (finetune smaller);
- ``dhd_top_eigenvalue``: the top eigenvalue of D H D, D = diag(|theta1|) (finetune smaller);
- ``adaptive_sharpness``: ASAM worst-case rise, the mean over rhos of log(S_sc / S_ft);
- ``average_sharpness``: magnitude-aware Gaussian rise, the mean over sigmas of log(S_sc / S_ft).

Whether theta1 is a minimum in the encoder's space (the smallest eigenvalue) is precondition P5
(:func:`bertscape.preconditions.p5_minimum`), shown on the claims page, not a claim row: the paper compares the
flatness of two end points and calls both optima; a saddle is a finding about that premise, not evidence for or
against "flatter".
"""

from __future__ import annotations

import math

from .config import INITS
from .measures import finite
from .stats import log_ratio
from .verdicts import row


def _pair(v: dict, key: str) -> tuple[float, float]:
    return float(v["finetune"][key]), float(v["scratch"][key])


def _mean_log_ratio(v: dict, key: str) -> float:
    """Mean over the radii of log(S_sc / S_ft) (NaN where any rise is not positive)."""
    ft, sc = v["finetune"][key], v["scratch"][key]
    logs = [log_ratio(float(sc[r]), float(ft[r])) for r in ft]
    return sum(logs) / len(logs) if logs else float("nan")


def effect_lanczos(v: dict, cl: dict) -> float:
    ft, sc = _pair(v, "lambda_max")
    return log_ratio(sc, ft)


def effect_trace(v: dict, cl: dict) -> float:
    ft, sc = _pair(v, "trace")
    return log_ratio(sc, ft)


def effect_dhd(v: dict, cl: dict) -> float:
    ft, sc = _pair(v, "dhd_lambda_max")
    return log_ratio(sc, ft)


def effect_worst(v: dict, cl: dict) -> float:
    return _mean_log_ratio(v, "worst_case")


def effect_average(v: dict, cl: dict) -> float:
    return _mean_log_ratio(v, "average_case")


def values(flat: dict) -> dict:
    """One init's numbers for the rows (each row keeps the ones it reads)."""
    lz, tr, rel = flat["lanczos"], flat["trace"], flat["relative"]
    return {"lambda_max": lz["lambda_max"], "residual_max": lz["residual_max"], "top": lz["top"], "trace": tr["trace"], "trace_se": tr["se"],
            "dhd_lambda_max": rel["lambda_max"], "dhd_residual": rel["residual_max"], "examples": flat["examples"],
            "worst_case": {f"{w['rho']:g}": w["sharpness"] for w in flat["worst_case"]["values"]},
            "average_case": {f"{a['sigma']:g}": a["mean"] for a in flat["average_case"]["values"]},
            "average_case_se": {f"{a['sigma']:g}": a["se"] for a in flat["average_case"]["values"]}}


def _smaller(ft: float, sc: float) -> bool | None:
    return ft < sc if finite(ft, sc) else None


def c1_flatness(hessian: dict, tasks: list[str]) -> list[dict]:
    """C1's flatness rows for every task whose two runs have a flatness record (``hessian``: (task, init) -> the
    sharpness rule's JSON)."""
    rows = []
    for t in tasks:
        if not all("flatness" in hessian.get((t, i), {}) for i in INITS):
            continue
        v = {i: values(hessian[t, i]["flatness"]) for i in INITS}
        ft, sc = v["finetune"], v["scratch"]
        n = ft["examples"]
        pick = lambda *keys: {i: {k: v[i][k] for k in keys + ("examples",)} for i in INITS}
        rows += [
            row("C1", "lanczos_top_eigenvalue", t, pick("lambda_max", "residual_max", "top"),
                f"top Hessian eigenvalue by Lanczos ({n} examples): finetune < scratch",
                _smaller(ft["lambda_max"], sc["lambda_max"])),
            row("C1", "hessian_trace", t, pick("trace", "trace_se"),
                f"Hutchinson trace of the Hessian ({n} examples): finetune < scratch", _smaller(ft["trace"], sc["trace"])),
            row("C1", "dhd_top_eigenvalue", t, pick("dhd_lambda_max", "dhd_residual"),
                "top eigenvalue of D H D, D = diag(|theta1|): finetune < scratch",
                _smaller(ft["dhd_lambda_max"], sc["dhd_lambda_max"])),
        ]
        for measure, keys, what, eff in (
                ("adaptive_sharpness", ("worst_case",), "adaptive worst-case sharpness (ASAM) at each rho", effect_worst),
                ("average_sharpness", ("average_case", "average_case_se"), "average-case sharpness at each sigma",
                 effect_average)):
            e = eff(v, {})
            rows.append(row("C1", measure, t, pick(*keys), f"{what}: mean over them of log(scratch / finetune) > 0",
                            e > 0 if math.isfinite(e) else None))
    return rows
