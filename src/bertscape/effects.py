"""Each claim row's *effect*: one number per row, oriented so that > 0 supports the paper (sizes as log ratios,
:func:`bertscape.stats.log_ratio`), from the row's ``values`` and the config's ``claims`` section; and its *scope*:
what one measurement is (the task; C6: the unordered task pair). :data:`bertscape.claims.CLAIMS` names one effect
and one tie band (``claims.tie_bands``) per measure; :mod:`bertscape.evidence` decides them over seeds."""

from __future__ import annotations

from .stats import log_ratio

def _pair(v: dict, key: str) -> tuple[float, float]:
    return float(v["finetune"][key]), float(v["scratch"][key])


def effect_area(v: dict, cl: dict) -> float:
    """C1 2D: log(area_ft / area_sc) -- the wider optimum is the fine-tuned one."""
    return log_ratio(*_pair(v, "area"))


def effect_width(v: dict, cl: dict) -> float:
    """C1 1D: log(width_ft / width_sc)."""
    return log_ratio(*_pair(v, "width"))


def effect_hessian(v: dict, cl: dict) -> float:
    """C1 sharpness: log(lambda_sc / lambda_ft) -- the flatter optimum is the fine-tuned one."""
    ft, sc = _pair(v, "lambda_max")
    return log_ratio(sc, ft)


def effect_epochs(v: dict, cl: dict) -> float:
    """C2: epochs_sc - epochs_ft (a difference in epochs). A run that never reached the threshold counts as its
    last epoch + 1, a bound on its true count: used only where the bound fixes the sign (the other run reached it
    no later than that bound), else NaN; both never: NaN."""
    ft, sc, last = v["finetune"], v["scratch"], v.get("last_epoch", {})
    if ft is None and sc is None:
        return float("nan")
    if sc is None:  # true sc > last_sc: sc - ft >= last_sc + 1 - ft
        bound = last.get("scratch")
        return float(bound + 1 - ft) if bound is not None and bound + 1 > ft else float("nan")
    if ft is None:  # true ft > last_ft: sc - ft <= sc - last_ft - 1
        bound = last.get("finetune")
        return float(sc - bound - 1) if bound is not None and sc < bound + 1 else float("nan")
    return float(sc - ft)


def effect_ascent(v: dict, cl: dict) -> float:
    """C2: ascent_sc - ascent_ft (nats): fine-tuning's straight path rises less than scratch's."""
    ft, sc = _pair(v, "ascent")
    return sc - ft


def effect_direction(v: dict, cl: dict) -> float:
    """C2: cos_ft - cos_sc after epoch 1: fine-tuning heads for its final direction sooner."""
    ft, sc = _pair(v, "cos_epoch1")
    return ft - sc


def effect_long_dev(v: dict, cl: dict) -> float:
    """C3: dev change over the extra epochs + claims.acc_tol (> 0: the score kept within the tolerance)."""
    return float(v["change"]) + float(cl["acc_tol"])


def effect_spearman(v: dict, cl: dict) -> float:
    """C4: rho_ft - claims.rho_min."""
    return float(v["finetune"]["rho"]) - float(cl["rho_min"])


def effect_rollback_dev(v: dict, cl: dict) -> float:
    """C5 Table 1: the ordering's weakest step, min over adjacent groups (low -> mid -> high) of
    delta_lower - delta_upper (> 0 for every step: rolling back lower layers hurts strictly less)."""
    d = [float("nan") if x is None else float(x) for x in v.values()]
    return min((a - b for a, b in zip(d, d[1:])), default=float("nan"))


def effect_rollback_loss(v: dict, cl: dict) -> float:
    """C5 Figure 7: the weakest step of the ordering as a log ratio, min over adjacent groups of
    log(loss_upper / loss_lower)."""
    x = [float(y) for y in v.values()]
    return min((log_ratio(b, a) for a, b in zip(x, x[1:])), default=float("nan"))


def effect_orthogonal(v: dict, cl: dict) -> float:
    """C6: claims.max_abs_cos - |cos(delta1, delta2)|."""
    return float(cl["max_abs_cos"]) - abs(float(v["cos"]))


def scope_task(r: dict) -> str:
    return str(r["task"])


def scope_pair(r: dict) -> str:
    """C6: one measurement per unordered task pair and init (RTE->MRPC and MRPC->RTE are one cosine)."""
    a, b = sorted((str(r["task"]), str(r["values"]["other_task"])))
    return f"{a}~{b} ({r['values']['init']})"
