"""C1's 2D region followed past the grid's edge (bertscape.basins): against the same flood fill on a grid wide
enough to hold the region, on synthetic valleys whose answers are known; and what it does to P3 and C1."""
import numpy as np
import pytest

from bertscape import claims as C
from bertscape import measures as M
from bertscape import preconditions as P
from bertscape.basins import extend, lattice_step
from test_claims import curve, surface
from test_preconditions import CL, bowl, by, checks_for


def valley(a, b):
    """A valley slanting along -beta: f(1, 0) = 0.018; the region f <= 0.118 spans beta in [-10.7, 4.7]."""
    return 0.5 * (a - 1 - 0.1 * b) ** 2 + 0.002 * (b + 3) ** 2


class Counted:
    def __init__(self, f):
        self.f, self.calls = f, []

    def __call__(self, a, b):
        self.calls.append((a, b))
        return float(self.f(a, b))


def test_a_region_leaving_the_grid_is_measured_as_on_a_grid_that_holds_it():
    small, wide = surface(valley, -4, 4, 17), surface(valley, -16, 16, 65)  # the same lattice, step 0.5
    inner, truth = M.basin(small, "train_loss", 0.1), M.basin(wide, "train_loss", 0.1)
    assert inner["censored"] and not truth["censored"] and truth["area"] > inner["area"]
    f = Counted(valley)
    r = extend(small, 0.1, f, budget=500)
    assert not r["censored"] and r["area"] == pytest.approx(truth["area"]) and r["nodes"] == round(truth["area"] / 0.25)
    assert r["beta_range"][0] == -10.5 and r["beta_range"][1] == 4.5 and r["in_grid"] == inner
    # only nodes outside the grid were evaluated, each once, and every one is reported
    assert f.calls and all(max(abs(a), abs(b)) > 4 for a, b in f.calls) and len(set(f.calls)) == len(f.calls)
    assert r["past_edge"] == len(f.calls) == len(r["extra_points"])
    assert all(v == pytest.approx(valley(a, b)) for a, b, v in r["extra_points"])


def test_a_region_inside_the_grid_costs_no_evaluation_and_equals_basin():
    g = surface(lambda a, b: (a - 1) ** 2 + b ** 2, -4, 4, 17)

    def never(a, b):
        raise AssertionError("evaluated a node although the region lies inside the grid")

    r = extend(g, 0.5, never, budget=100)
    inner = M.basin(g, "train_loss", 0.5)
    assert r["area"] == pytest.approx(inner["area"]) and not r["censored"] and r["past_edge"] == 0


def test_a_region_still_open_after_the_budget_stays_censored():
    f = Counted(valley)
    r = extend(surface(valley, -4, 4, 17), 0.1, f, budget=5)
    assert r["censored"] and len(f.calls) == 5 == r["past_edge"]
    r0 = extend(surface(valley, -4, 4, 17), 0.1, Counted(valley), budget=0)  # 0: never leaves the grid
    assert r0["censored"] and r0["past_edge"] == 0
    # budget 0 is claims.basin itself (one flood fill): the whole in-grid region, censored at the edge
    inner = M.basin(surface(valley, -4, 4, 17), "train_loss", 0.1)
    assert r0["area"] == inner["area"] > 0 and r0["censored"] == inner["censored"]
    # a spent budget still fills what is known: at least the in-grid region, plus the 5 nodes evaluated
    assert inner["area"] < r["area"] <= inner["area"] + 5 * 0.25


def test_a_non_uniform_grid_has_no_lattice_to_follow():
    assert lattice_step([-1.0, 0.0, 1.0]) == 1.0
    with pytest.raises(ValueError):
        lattice_step([-1.0, 0.0, 2.0])


def test_p3_and_c1_use_the_followed_region():
    """The valley fails P3 on its grid alone; followed past the edge it holds, and C1's area row reads the region's
    measured area. With too small a budget P3 names claims.basin_points."""
    ft = (surface(valley, -4, 4, 17), curve(lambda a: valley(a, 0.0), -4, 4, 33))
    sc = bowl(1.0)
    assert by(checks_for(ft, sc), "P3", "finetune")["holds"] is False
    full = extend(ft[0], 0.1, valley, budget=500)
    curves = {("MRPC", "finetune"): ft[1], ("MRPC", "scratch"): sc[1]}
    surfaces = {("MRPC", "finetune"): ft[0], ("MRPC", "scratch"): sc[0]}
    region = {("MRPC", "finetune"): full}
    checks = P.check_all(curves, surfaces, {}, ["MRPC"], {"MRPC": np.log(2)}, CL, 1e-3, "synthetic", regions=region)
    p3 = by(checks, "P3", "finetune")
    assert p3["holds"] is True and p3["measured"]["area_2d"] == full["area"] and p3["measured"]["past_edge"] > 0
    rows = C.gate(C.c1_wider_optima(surfaces, curves, ["MRPC"], 0.1, region), checks)
    area = next(r for r in rows if r["measure"] == "basin_area_2d")
    assert area["values"]["finetune"]["area"] == full["area"] and area["holds"] is True
    short = {("MRPC", "finetune"): extend(ft[0], 0.1, valley, budget=3)}
    p3 = by(P.check_all(curves, surfaces, {}, ["MRPC"], {"MRPC": np.log(2)}, CL, 1e-3, "synthetic", regions=short),
            "P3", "finetune")
    assert p3["holds"] is False and "claims.basin_points" in p3["fix"] and "after 3 extra nodes" in p3["message"]
