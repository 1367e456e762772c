"""C1 in filter-normalised units (issue 25, items 2 and 5): the rows the rule ``filter_curves`` decides, and
their effects (> 0 supports the paper: the fine-tuned optimum is the wider, flatter one).

Each input is one run's :func:`bertscape.filternorm.filter_curves` result (K seeded filter-normalised directions
at theta1, the training loss along each). Three rows per task:

* ``filter_width_1d``: the mean over directions of the alpha-width where the loss stays <= f(theta1) + tau;
  effect log(width_ft / width_sc).
* ``filter_loss_rise``: the mean over directions of the loss rise L(+-r) - f(theta1) at each configured radius r;
  effect min over radii of rise_sc - rise_ft (nats; the weakest radius decides, so > 0 means fine-tuning rises
  less at every radius).
* ``local_width_1d``: the radius of the largest ball around theta1 inside the sublevel set on the K lines (min
  over directions of the nearest crossing); effect log(radius_ft / radius_sc). A valley that runs far along
  one direction does not widen it.

A width or radius cut off by the axis' end is a lower bound (``censored``): it decides only when the bound fixes
the sign, as for the delta1 widths.
"""

from __future__ import annotations

from .config import INITS
from .measures import finite
from .stats import log_ratio
from .verdicts import row


def larger(ft: float, sc: float, ft_censored: bool, sc_censored: bool) -> bool | None:
    """finetune's size > scratch's, where a censored size is only a lower bound (None: the bound cannot tell)."""
    if not finite(ft, sc):
        return None
    if ft > sc:
        return None if sc_censored else True
    return None if ft_censored else False


def c1_filter_normalized(filt: dict, tasks: list[str], tau: float) -> list[dict]:
    """The three filter-normalised C1 rows per task (``filt``: (task, init) -> the rule's result)."""
    rows = []
    for t in tasks:
        if not all((t, i) in filt for i in INITS):
            continue
        s = {i: filt[t, i]["summary"] for i in INITS}
        k = {i: s[i]["width"]["n"] for i in INITS}
        width = {i: {"width": s[i]["width"]["mean"], "sd": s[i]["width"]["sd"], "n": k[i],
                     "censored": s[i]["censored"] > 0, "censored_directions": s[i]["censored"]} for i in INITS}
        rows.append(row("C1", "filter_width_1d", t, width,
                        f"mean over {k['finetune']} filter-normalised directions of the width where train loss <= "
                        f"f(theta1) + {tau:g}: finetune > scratch",
                        larger(width["finetune"]["width"], width["scratch"]["width"], width["finetune"]["censored"],
                               width["scratch"]["censored"])))
        rise = {i: {r: {"mean": v["mean"], "sd": v["sd"]} for r, v in s[i]["rise"].items()} for i in INITS}
        radii = list(rise["finetune"])
        ok = radii and all(finite(rise[i][r]["mean"]) for i in INITS for r in radii)
        rows.append(row("C1", "filter_loss_rise", t, rise,
                        f"mean rise of train loss at filter-normalised radius {', '.join(radii)}: finetune < scratch "
                        "at every radius", all(rise["finetune"][r]["mean"] < rise["scratch"][r]["mean"]
                                               for r in radii) if ok else None))
        lw = {i: dict(s[i]["local_width"]) for i in INITS}
        rows.append(row("C1", "local_width_1d", t, lw,
                        f"radius of the largest ball around theta1 with train loss <= f(theta1) + {tau:g} on "
                        f"{k['finetune']} filter-normalised lines: finetune > scratch",
                        larger(lw["finetune"]["radius"], lw["scratch"]["radius"], lw["finetune"]["censored"],
                               lw["scratch"]["censored"])))
    return rows


def effect_filter_width(v: dict, cl: dict) -> float:
    """log(mean width_ft / mean width_sc) over the filter-normalised directions."""
    return log_ratio(float(v["finetune"]["width"]), float(v["scratch"]["width"]))


def effect_filter_rise(v: dict, cl: dict) -> float:
    """min over radii of rise_sc - rise_ft (nats)."""
    d = [float(v["scratch"][r]["mean"]) - float(v["finetune"][r]["mean"]) for r in v["finetune"]]
    return min(d, default=float("nan"))


def effect_local_width(v: dict, cl: dict) -> float:
    """log(radius_ft / radius_sc) of the largest ball inside the sublevel set."""
    return log_ratio(float(v["finetune"]["radius"]), float(v["scratch"]["radius"]))
