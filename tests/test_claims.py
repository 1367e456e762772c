"""Claims measures on grids whose answers are known in closed form."""
import math

import numpy as np
import pytest

from bertscape import claims as C
from bertscape import measures as M
from bertscape.h5io import Grid


def surface(f, lo=-4.0, hi=4.0, n=161):
    a = np.linspace(lo, hi, n)
    A, B = np.meshgrid(a, a, indexing="ij")
    v = f(A, B)
    return Grid("surface", a, a.copy(), {"train_loss": v, "dev_error": v / 10}, np.ones_like(v, bool),
                anchors={"start": {"alpha": 0.0, "beta": 0.0, "train_loss": float(f(0.0, 0.0)), "dev_error": float(f(0.0, 0.0)) / 10},
                         "end": {"alpha": 1.0, "beta": 0.0, "train_loss": float(f(1.0, 0.0)), "dev_error": float(f(1.0, 0.0)) / 10}})


def curve(f, lo=-4.0, hi=4.0, n=81):
    a = np.linspace(lo, hi, n)
    return Grid("curve", a, None, {"train_loss": f(a)}, np.ones(n, bool),
                anchors={"start": {"alpha": 0.0, "beta": 0.0, "train_loss": float(f(0.0))},
                         "end": {"alpha": 1.0, "beta": 0.0, "train_loss": float(f(1.0))}})


def test_basin_area_of_an_elliptic_bowl_is_pi_a_b():
    g = surface(lambda a, b: (a - 1) ** 2 + 4 * b ** 2)  # tau = 1: ellipse with half-axes 1 and 0.5
    r = M.basin(g, "train_loss", 1.0)
    assert r["area"] == pytest.approx(math.pi * 0.5, rel=0.03) and not r["censored"]


def test_basin_counts_only_the_region_connected_to_the_end_point():
    one = M.basin(surface(lambda a, b: (a - 1) ** 2 + b ** 2), "train_loss", 0.5)["area"]
    two = M.basin(surface(lambda a, b: np.minimum((a - 1) ** 2 + b ** 2, (a + 2.5) ** 2 + b ** 2)), "train_loss", 0.5)["area"]
    assert two == pytest.approx(one)


def test_basin_reaching_the_edge_is_censored_and_nan_is_outside():
    g = surface(lambda a, b: 0 * a + 1.0)
    assert M.basin(g, "train_loss", 0.1)["censored"] and M.basin(g, "train_loss", 0.1)["fraction"] == 1.0
    g.values["train_loss"][:, 80:] = np.nan  # beta >= 0 blown up: only the nodes below stay
    r = M.basin(g, "train_loss", 0.1)
    assert r["area"] == 0.0  # the end point's own node is NaN


def test_curve_width_interpolates_the_crossings():
    r = M.curve_width(curve(lambda a: (a - 1) ** 2), "train_loss", 0.25)  # crossings at 0.5 and 1.5 (nodes)
    assert (r["left"], r["right"], r["width"]) == pytest.approx((0.5, 1.5, 1.0)) and not r["censored"]
    r = M.curve_width(curve(lambda a: np.abs(a - 1)), "train_loss", 0.33)  # piecewise linear: exact
    assert r["width"] == pytest.approx(0.66)
    assert M.curve_width(curve(lambda a: 0 * a), "train_loss", 0.1)["censored"]


def test_path_ascent_is_zero_for_a_descent_and_the_bump_height_otherwise():
    assert M.path_ascent(curve(lambda a: 1 - a), "train_loss")["ascent"] == 0.0
    bump = lambda a: np.interp(a, [-4, 0, 0.4, 0.5, 1, 4], [1, 1, 0.6, 0.9, 0.2, 0.2])  # one rise of 0.3 on the way
    r = M.path_ascent(curve(bump), "train_loss")
    assert r["ascent"] == pytest.approx(0.3) and r["drop"] == pytest.approx(0.8)


def test_spearman_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, 40).astype(float), rng.normal(size=40)
    assert M.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert math.isnan(M.spearman(np.ones(5), np.arange(5.0)))


def test_bilinear_is_exact_on_a_plane_and_none_outside():
    g = surface(lambda a, b: 3 + a + 2 * b, n=9)
    assert M.bilinear(g, "train_loss", 0.37, -1.21) == pytest.approx(3 + 0.37 - 2.42)
    assert M.bilinear(g, "train_loss", 4.5, 0) is None


def test_epochs_to_threshold():
    rows = [{"epoch": 0, "train_loss": float("nan")}, {"epoch": 1, "train_loss": 0.6}, {"epoch": 2, "train_loss": 0.2}]
    assert M.epochs_to(rows, 0.3) == 2 and M.epochs_to(rows, 0.1) is None


def test_c1_wider_and_c5_ordering():
    wide, sharp = surface(lambda a, b: 0.1 * ((a - 1) ** 2 + b ** 2)), surface(lambda a, b: 3 * ((a - 1) ** 2 + b ** 2))
    cw, cs = curve(lambda a: 0.1 * (a - 1) ** 2), curve(lambda a: 3 * (a - 1) ** 2)
    rows = C.c1_wider_optima({("T", "finetune"): wide, ("T", "scratch"): sharp}, {("T", "finetune"): cw, ("T", "scratch"): cs},
                             ["T"], 0.1)
    assert [r["holds"] for r in rows] == [True, True]
    rows = C.c1_wider_optima({("T", "finetune"): sharp, ("T", "scratch"): wide}, {("T", "finetune"): cs, ("T", "scratch"): cw},
                             ["T"], 0.1)
    assert [r["holds"] for r in rows] == [False, False]
    groups = {"low": [0, 1], "mid": [2, 3], "high": [4, 5]}
    table = lambda d: [{"group": "none", "delta": 0.0}] + [{"group": g, "delta": v} for g, v in d.items()]
    ok = C.c5_lower_layers({"T": table({"high": -0.3, "low": 0.01, "mid": -0.02})}, {}, groups)
    bad = C.c5_lower_layers({"T": table({"low": -0.1, "mid": -0.02, "high": -0.3})}, {}, groups)
    assert ok[0]["holds"] is True and bad[0]["holds"] is False


def test_table1_vs_paper_recomputes_the_paper_deltas():
    rows = C.table1_vs_paper({"MNLI": [{"group": "none", "dev_acc": 0.8}, {"group": "low", "dev_acc": 0.8},
                                       {"group": "mid", "dev_acc": 0.7}, {"group": "high", "dev_acc": 0.4}]},
                             {"low": [0, 7], "mid": [8, 15], "high": [16, 23]})
    r = rows[0]
    assert r["ours_delta_high"] == pytest.approx(-40.0) and r["paper_delta_high"] == pytest.approx(-53.69)
    assert r["paper_printed_delta_high"] == -53.88


def test_sharpness_verdict_only_when_both_power_iterations_converged():
    h = lambda lam, rel: {"lambda_max": lam, "iterations": 5, "rel_change": rel}
    rows = C.sharpness({("T", "finetune"): h(3.0, 0.001), ("T", "scratch"): h(30.0, 0.0001)}, ["T"])
    assert rows[0]["holds"] is True
    rows = C.sharpness({("T", "finetune"): h(3.0, 0.2), ("T", "scratch"): h(30.0, 0.0001)}, ["T"])
    assert rows[0]["holds"] is None


def test_claims_page_shows_each_grids_precision():
    from bertscape.report import claims_html

    bf = surface(lambda a, b: a * a + b * b, n=5)
    bf.attrs.update(precision="bf16", precision_nodes=["anchor:end", "g1_2"], precision_budget=0.005,
                    precision_max_rel_train_loss=0.0012, precision_max_abs_dev_error=0.0)
    old = surface(lambda a, b: a * a, n=5)
    rows = C.precision_rows({"surface/MRPC/finetune": bf, "surface/RTE/finetune": old})
    assert rows[0]["precision"] == "bf16" and rows[0]["checked_nodes"] == 2 and rows[0]["within_budget"] is True
    assert rows[1]["within_budget"] is None  # a grid from before the contract says so, it is not called fine
    page = claims_html({"precision": [{"seed": 42, **r} for r in rows]})
    assert "Precision" in page and "1.20e-03" in page and "surface/MRPC/finetune" in page
