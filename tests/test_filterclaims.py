"""C1 in filter-normalised units (issue 25): the three rows per task, their verdicts under censoring, their
effects' signs, and the rule's place in the claims pipeline."""
import math

import pytest

from bertscape import claims as C
from bertscape.filterclaims import (c1_filter_normalized, effect_filter_rise, effect_filter_width,
                                    effect_local_width, larger)


def result(width: float, rise: dict, radius: float, censored: int = 0, lw_censored: bool = False) -> dict:
    return {"summary": {"width": {"mean": width, "sd": 0.01, "se": 0.006, "n": 3}, "censored": censored,
                        "rise": {r: {"mean": v, "sd": 0.0, "se": 0.0, "n": 3} for r, v in rise.items()},
                        "local_width": {"radius": radius, "censored": lw_censored}}}


def rows(ft: dict, sc: dict) -> dict:
    out = c1_filter_normalized({("T", "finetune"): ft, ("T", "scratch"): sc}, ["T", "U"], 0.1)  # U: no runs
    assert {r["task"] for r in out} == {"T"}
    return {r["measure"]: r for r in out}


def test_wider_flatter_finetune_holds_with_positive_effects():
    r = rows(result(0.4, {"0.1": 0.01, "0.2": 0.05}, 0.15), result(0.2, {"0.1": 0.03, "0.2": 0.4}, 0.05))
    assert all(x["holds"] for x in r.values())
    assert effect_filter_width(r["filter_width_1d"]["values"], {}) == pytest.approx(math.log(2))
    assert effect_filter_rise(r["filter_loss_rise"]["values"], {}) == pytest.approx(0.02)  # the weakest radius
    assert effect_local_width(r["local_width_1d"]["values"], {}) == pytest.approx(math.log(3))
    for x in r.values():
        assert C.lookup(x["claim"], x["measure"]).function is c1_filter_normalized
        assert C.effect(x, {}) > 0


def test_sharper_finetune_does_not_hold_and_one_radius_decides_the_rise():
    r = rows(result(0.2, {"0.1": 0.01, "0.2": 0.5}, 0.05), result(0.4, {"0.1": 0.03, "0.2": 0.4}, 0.15))
    assert not any(x["holds"] for x in r.values())
    assert effect_filter_rise(r["filter_loss_rise"]["values"], {}) == pytest.approx(-0.1)
    assert C.effect(r["filter_width_1d"], {}) < 0 and C.effect(r["local_width_1d"], {}) < 0


def test_censored_sizes_are_lower_bounds():
    assert larger(0.5, 0.3, True, False) is True  # a lower bound already larger
    assert larger(0.5, 0.3, False, True) is None  # scratch's true size may exceed 0.5
    assert larger(0.3, 0.5, True, False) is None
    assert larger(0.3, 0.5, False, True) is False
    assert larger(float("nan"), 0.5, False, False) is None
    r = rows(result(0.4, {"0.1": float("nan")}, 0.2, censored=1, lw_censored=True), result(0.8, {"0.1": 0.1}, 0.4))
    assert r["filter_width_1d"]["holds"] is None and r["local_width_1d"]["holds"] is None  # ft only a lower bound
    assert r["filter_loss_rise"]["holds"] is None  # a rise off the axis (NaN) decides nothing
    r = rows(result(0.4, {"0.1": 0.0}, 0.2), result(0.8, {"0.1": 0.1}, 0.4, censored=1, lw_censored=True))
    assert r["filter_width_1d"]["holds"] is False and r["local_width_1d"]["holds"] is False  # sc >= 0.8 > 0.4


def test_rows_need_only_p1():
    for m in ("filter_width_1d", "filter_loss_rise", "local_width_1d"):
        e = C.lookup("C1", m)
        assert e.needs == ("P1",) and e.band == m
