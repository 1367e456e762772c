"""C2 at matched schedule points and on the dense path, C4 on theta1's side (issue 26 items 2 and 4): constructed
inputs whose answers are known."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from conftest import REPO
from conftest import tiny_with as with_

from bertscape import claims as C
from bertscape import claims_matched as CM
from bertscape import measures as M
from bertscape import schedule as S
from bertscape.h5io import Grid
from bertscape.pathshape import path_shape, roughness
from bertscape.sparse import claim_nodes
from bertscape.theta1window import theta1_mask, theta1_spearman
from test_claims import curve

CL = {"rho_min": 0.5, "ascent_tol": 0.01}
WINDOW = {"alpha_min": 0.75, "alpha_max": 1.5, "beta_max": 1.0, "transect": 2.0}


def trajectory(n_epochs: int, cos_of_fraction) -> list[dict]:
    return [{"epoch": e, "cos": cos_of_fraction(e / n_epochs)} for e in range(1, n_epochs + 1)]


def steps(n_epochs: int, per_epoch: int, lr: float) -> list[dict]:
    return [{"epoch": e, "step": (e - 1) * per_epoch + k + 1, "lr": lr}
            for e in range(1, n_epochs + 1) for k in range(per_epoch)]


# ---------------------------------------------------------------- matched schedule points

def test_nearest_epoch_to_a_fraction_rounds_half_up_and_stays_inside_the_run():
    assert [S.epoch_at_fraction(12, q) for q in (0.25, 0.5, 1.0, 0.01)] == [3, 6, 12, 1]
    assert S.epoch_at_fraction(20, 0.25) == 5 and S.epoch_at_fraction(2, 0.25) == 1  # 0.5 rounds up to epoch 1
    assert S.epoch_at_fraction(4, 0.125) == 1 and S.epoch_at_fraction(3, 0.5) == 2  # 1.5 -> 2
    with pytest.raises(ValueError):
        S.epoch_at_fraction(0, 0.5)


def test_matched_fractions_reverse_an_epoch1_comparison_of_unequal_schedules():
    # fine-tune: 12 epochs, cos = fraction done; scratch: 20 epochs, cos = 0.06 + 0.6 x fraction done. After epoch 1
    # scratch is ahead (0.09 > 0.083: it has done 1/20 of a longer run); at 1/4 and 1/2 of each schedule fine-tune is.
    traj = {"finetune": trajectory(12, lambda f: f), "scratch": trajectory(20, lambda f: 0.06 + 0.6 * f)}
    assert S.cos_of(traj["finetune"], 1) < S.cos_of(traj["scratch"], 1)
    v = S.matched_fractions(traj, [0.25, 0.5])
    assert [p["epoch"] for p in v["finetune"]] == [3, 6] and [p["epoch"] for p in v["scratch"]] == [5, 10]
    assert [p["fraction"] for p in v["scratch"]] == [0.25, 0.5]
    assert S.weakest_gap(v) == pytest.approx(0.25 - 0.21)  # the narrower gap, at 1/4
    assert CM.effect_matched_cos(v, CL) == pytest.approx(0.04)


def test_cumulative_lr_matches_the_epoch_that_spent_the_same_lr():
    cum = {"finetune": S.cumulative_lr(steps(4, 2, 1.0)), "scratch": S.cumulative_lr(steps(4, 2, 3.0))}
    assert cum["finetune"] == {1: 2.0, 2: 4.0, 3: 6.0, 4: 8.0} and cum["scratch"][4] == 24.0
    traj = {"finetune": trajectory(4, lambda f: f), "scratch": trajectory(4, lambda f: 0.5 * f)}
    v = S.matched_cumlr(traj, cum, [0.5, 1.0])
    assert v["cumlr"] == [4.0, 8.0]  # fractions of the smaller total (fine-tune's 8)
    assert [p["epoch"] for p in v["finetune"]] == [2, 4] and [p["epoch"] for p in v["scratch"]] == [1, 1]
    assert S.weakest_gap(v) == pytest.approx(0.5 - 0.125)


def test_a_missing_cosine_leaves_the_matched_gap_undefined():
    traj = {"finetune": trajectory(4, lambda f: f),
            "scratch": [{"epoch": 1, "cos": 0.1}, {"epoch": 2, "cos": math.nan}]}
    assert math.isnan(S.weakest_gap(S.matched_fractions(traj, [1.0])))


def test_cumlr_to_loss_rows_and_their_bounds_for_a_run_that_never_got_there():
    ep = lambda losses: [{"epoch": e, "train_loss": x} for e, x in enumerate([0.7, *losses])]
    epochs = {("T", "finetune"): ep([0.6, 0.3, 0.2]), ("T", "scratch"): ep([0.6, 0.5, 0.3])}
    st = {("T", "finetune"): steps(3, 2, 1.0), ("T", "scratch"): steps(3, 2, 0.5)}
    traj = {("T", i): trajectory(3, lambda f: f) for i in ("finetune", "scratch")}
    rows = {r["measure"]: r for r in CM.c2_matched(epochs, st, traj, ["T"], {"T": 0.35}, [0.5])}
    r = rows["cumlr_to_loss"]
    # both reach the loss in epoch 2 vs 3: by epochs fine-tune is earlier, by cumulative lr (4.0 vs 3.0) it is not
    assert (r["values"]["finetune"], r["values"]["scratch"]) == (4.0, 3.0) and r["holds"] is False
    assert CM.effect_cumlr(r["values"], CL) == pytest.approx(math.log(3 / 4))
    never = {"finetune": 2.0, "scratch": None, "total": {"finetune": 6.0, "scratch": 3.0}}
    assert CM.effect_cumlr(never, CL) == pytest.approx(math.log(3 / 2))  # scratch spent > 3 without getting there
    assert math.isnan(CM.effect_cumlr({**never, "finetune": 5.0}, CL))  # the bound does not fix the sign
    assert rows["direction_matched_fraction"]["holds"] is False  # equal cosines: a gap of 0 is not > 0
    assert CM.c2_matched(epochs, {}, traj, ["T"], {"T": 0.35}, [0.5]) == []  # no steps input: no rows
    empty = {k: [] for k in st}  # an imported run's empty steps.tsv: no schedule to match, the rows undefined
    rows = {r["measure"]: r["holds"] for r in CM.c2_matched(epochs, empty, traj, ["T"], {"T": 0.35}, [0.5])}
    assert rows == {"direction_matched_fraction": False, "direction_matched_cumlr": None, "cumlr_to_loss": None}


# ---------------------------------------------------------------- the dense path

def test_monotone_path_is_smooth_and_a_bumpy_one_rough():
    dense = lambda f: curve(f, lo=0.05, hi=0.95, n=19)  # the dense_path rule's nodes; anchors at 0 and 1
    mono = path_shape(dense(lambda a: 1 - 0.8 * a))
    assert mono["nodes"] == 21 and mono["ascent"] == 0.0 and mono["roughness"] == 0.0
    assert mono["range"] == pytest.approx(0.8)
    bumpy = path_shape(dense(lambda a: 1 - 0.8 * a + 0.1 * np.sin(6 * np.pi * a)))
    assert bumpy["ascent"] > 0.1 and bumpy["roughness"] > 0.1
    rows = CM.c2_dense_path({("T", "finetune"): dense(lambda a: 1 - 0.8 * a),
                             ("T", "scratch"): dense(lambda a: 1 - 0.8 * a + 0.1 * np.sin(6 * np.pi * a))}, ["T"], 0.01)
    by = {r["measure"]: r for r in rows}
    assert by["path_ascent_dense"]["holds"] and by["path_roughness"]["holds"]
    assert CM.effect_roughness(by["path_roughness"]["values"], CL) == pytest.approx(bumpy["roughness"])
    swapped = CM.c2_dense_path({("T", "finetune"): dense(lambda a: 1 - 0.8 * a + 0.1 * np.sin(6 * np.pi * a)),
                                ("T", "scratch"): dense(lambda a: 1 - 0.8 * a)}, ["T"], 0.01)
    assert [r["holds"] for r in swapped] == [False, False]


def test_monotone_dense_paths_can_hold_at_the_default_band_and_rising_ones_fail():
    """The band is the dense path's fp32 resolution (1e-4), below ascent_tol: with path_ascent's 0.01 (= ascent_tol)
    a path with no rise at all was a tie, so the row could never hold."""
    from bertscape.config import validate
    from bertscape.stats import decide

    cl = validate(with_())["claims"]
    band = cl["tie_bands"]["path_ascent_dense"]
    assert band < cl["ascent_tol"] and C.lookup("C2", "path_ascent_dense").band == "path_ascent_dense"
    dense = lambda f: curve(f, lo=0.05, hi=0.95, n=19)
    bump = lambda h: (lambda a: 1 - 0.8 * a + h * np.maximum(0, 1 - abs(a - 0.5) / 0.1))
    rows = lambda h: CM.c2_dense_path({("T", i): dense(bump(h)) for i in ("finetune", "scratch")}, ["T"],
                                      cl["ascent_tol"])
    effect = lambda h: CM.effect_dense_ascent(rows(h)[0]["values"], cl)
    assert decide({"T": [effect(0.0)] * 9}, band).verdict == "holds"
    assert decide({"T": [effect(0.2)] * 9}, band).verdict == "does not hold"  # rises 2 x (0.1 - 0.04 of slope)


def test_roughness_is_the_rise_over_the_range_and_undefined_for_a_flat_or_broken_path():
    r = roughness([1.0, 0.5, 0.7, 0.2])
    assert (r["ascent"], r["range"]) == pytest.approx((0.2, 0.8)) and r["roughness"] == pytest.approx(0.25)
    assert math.isnan(roughness([0.3, 0.3, 0.3])["roughness"])
    assert math.isnan(roughness([1.0, math.nan, 0.2])["ascent"])


def test_three_interior_nodes_miss_a_bump_the_dense_path_sees():
    # a rise between the old path's nodes (alpha 0.25, 0.5, 0.75): invisible to path_ascent on a coarse curve
    f = lambda a: 1 - 0.8 * a + 0.15 * np.maximum(0, 1 - abs(a - 0.375) / 0.1)
    assert M.path_ascent(curve(f, lo=-4, hi=4, n=33), "train_loss")["ascent"] == 0.0
    # dense nodes 0.30 -> 0.35 climb the bump: -0.04 of the slope + 0.075 of the bump = 0.035
    assert path_shape(curve(f, lo=0.05, hi=0.95, n=19))["ascent"] == pytest.approx(0.035)


# ---------------------------------------------------------------- C4 on theta1's side

def split_surface() -> Grid:
    """Loss and error agree on theta0's side (alpha < 0.75: both high there) and disagree around theta1."""
    a = np.linspace(-2.0, 2.0, 9)  # step 0.5
    A, B = np.meshgrid(a, a, indexing="ij")
    bowl = (A - 1) ** 2 + B ** 2 + 0.01 * A
    loss = np.where(A < 0.75, 1 + bowl, 0.1 * bowl)  # trained beats untrained ...
    err = np.where(A < 0.75, loss, 0.2 - 0.5 * loss)  # ... but near theta1 lower loss goes with higher error
    g = Grid("surface", a, a.copy(), {"train_loss": loss, "dev_error": err}, np.ones_like(loss, bool))
    g.anchors = {"end": {"alpha": 1.0, "beta": 0.0, "train_loss": 0.01, "dev_error": 0.5}}
    return g


def test_window_on_theta1s_side_excludes_the_untrained_side_and_keeps_the_transect():
    a = np.linspace(-2.0, 2.0, 9)
    m = theta1_mask(a, a, WINDOW)
    assert m.sum() == 14  # alpha 1, 1.5 x beta -1..1 (10) plus the transect beta -2..2 at alpha 1 (4 more)
    assert not m[a < 0.75].any() and m[list(a).index(1.0)].sum() == 9
    g = split_surface()
    old = M.window_spearman(g, g, 1.0)  # the box of half-width 1 reaches alpha 0: "trained beats untrained"
    new = theta1_spearman(g, WINDOW)
    assert old["rho"] > 0.5 and new["rho"] < 0 and new["nodes"] == 14 and new["min_alpha"] == 1.0


def test_theta1_window_rows_and_the_scratch_contrast():
    ft = split_surface()
    sc = split_surface()
    sc.values["dev_error"] = sc.values["train_loss"] * 0.1  # scratch: consistent everywhere
    rows = {r["measure"]: r for r in CM.c4_theta1_window({("T", "finetune"): ft, ("T", "scratch"): sc}, ["T"], WINDOW,
                                                          0.5)}
    assert rows["spearman_theta1_window"]["holds"] is False and rows["spearman_contrast"]["holds"] is False
    assert CM.effect_rho_contrast(rows["spearman_contrast"]["values"], CL) < -1.5
    rows = {r["measure"]: r for r in CM.c4_theta1_window({("T", "finetune"): sc, ("T", "scratch"): ft}, ["T"], WINDOW,
                                                          0.5)}
    assert rows["spearman_theta1_window"]["holds"] and rows["spearman_contrast"]["holds"]
    assert CM.effect_theta1_rho(rows["spearman_theta1_window"]["values"], CL) == pytest.approx(0.5)


def test_points_evaluates_the_theta1_windows_nodes_with_the_dev_set():
    a = np.linspace(-2.0, 2.0, 9)
    old = set(claim_nodes(a, a, 0.5))
    new = set(claim_nodes(a, a, 0.5, theta1=WINDOW))
    i1 = list(a).index(1.0)
    assert {(i1, j) for j in range(2, 7)} <= new and not {(i1, j) for j in range(2, 7)} <= old
    assert new >= old and {tuple(n) for n in zip(*np.nonzero(theta1_mask(a, a, WINDOW)))} <= new


def test_new_rows_are_registered_with_their_own_effects():
    for measure in ("direction_matched_fraction", "direction_matched_cumlr", "cumlr_to_loss", "path_ascent_dense",
                    "path_roughness"):
        assert C.lookup("C2", measure).claim == "C2"
    assert C.lookup("C4", "spearman_contrast").effect is CM.effect_rho_contrast


@pytest.mark.parametrize("n, window", [(17, 1.0), (5, 1.0), (17, 0.5)])
def test_the_estimate_counts_the_theta1_windows_extra_dev_nodes(n, window):
    from bertscape.estimate import transect_beyond
    from bertscape.measures import window_mask

    a = np.linspace(-4.0, 4.0, n) if n == 17 else np.linspace(-2.0, 2.0, n)
    old = window_mask(a, a, window)
    extra = int((theta1_mask(a, a, WINDOW) & ~old).sum())
    assert transect_beyond(WINDOW, window, float(a[1] - a[0])) == extra


def test_the_dense_path_is_evaluated_in_fp32_whatever_eval_dtype_says(tmp_path):
    """Its band (1e-4 nats) is fp32's resolution; a bf16 surface config must not coarsen the path's rise."""
    cfg, out = tmp_path / "c.yaml", tmp_path / "plans.json"
    cfg.write_text(yaml.safe_dump(with_()))
    edits = [["bf16", {str(cfg): yaml.safe_dump(with_(eval={"dtype": "bf16"}))}]]
    r = subprocess.run([sys.executable, str(REPO / "tests" / "replan.py"), str(REPO), str(cfg), str(tmp_path / "r"),
                        str(out)], input=json.dumps(edits), capture_output=True, text=True, timeout=600,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=REPO)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    params = json.loads(out.read_text())["bf16"]["params"]
    dtype = {job.split()[0]: p["eval"]["dtype"] for job, p in params.items() if job.split()[0] in ("curve", "dense_path")}
    assert dtype == {"curve": "bf16", "dense_path": "fp32"}
