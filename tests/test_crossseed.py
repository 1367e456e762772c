"""Cross-seed measures (issues 24 item 4, 26 item 7): the barrier of the straight path between two seeds' theta1,
the engine of that path (encoder and head interpolated), the C1 cross_seed_barrier and C6 cos_vs_seed_null rows
decided over disjoint seed pairs, and one C6 row per distinct task pair."""
import math

import numpy as np
import pytest
import torch
from conftest import random_data

from bertscape.batches import make_batches
from bertscape.claims import c6_orthogonal
from bertscape.crossseed import (NEEDS_TWO, barrier, delta_cos, evaluate_line, line_engine, line_grid, line_nodes,
                                 seed_pairs, disjoint)
from bertscape.evidence import aggregate
from bertscape.h5io import read_grid, write_grid
from bertscape.landscape import BertLandscape
from bertscape.modeling import build_model, load_config, state_dict
from bertscape.xseedclaims import barrier_rows, c6_null_rows, read_paths

CL = {"tau_loss": 0.1, "tie_bands": {"seed_barrier": 0.015, "cos_seed_null": 0.01}, "bootstrap": {"draws": 500}}


class Toy:
    """An engine whose loss is f at theta_a + t (theta_b - theta_a) in 2D (what evaluate_line reads)."""

    def __init__(self, f, a, b):
        self.f, self.a, self.b = f, np.asarray(a, float), np.asarray(b, float)

    def evaluate(self, t: float) -> dict:
        return {"train_loss": float(self.f(self.a + t * (self.b - self.a)))}


def test_two_points_of_one_convex_bowl_have_no_barrier():
    bowl = lambda x: x @ x
    v = evaluate_line(Toy(bowl, [-1.0, 0.5], [0.5, -1.0]), line_nodes(9))["train_loss"]  # equal heights
    assert barrier(v) == pytest.approx(0.0, abs=1e-12)
    v = evaluate_line(Toy(bowl, [-1.0, 0.0], [0.5, 0.0]), line_nodes(9))["train_loss"]  # unequal: (f0 - f1) / 2
    assert barrier(v) == pytest.approx((1.0 - 0.25) / 2)


def test_two_minima_behind_a_ridge_have_the_ridge_s_height():
    double_well = lambda x: (x[0] ** 2 - 1) ** 2 + x[1] ** 2  # minima at x0 = +-1 (f = 0), ridge at x0 = 0 (f = 1)
    v = evaluate_line(Toy(double_well, [-1.0, 0.0], [1.0, 0.0]), line_nodes(9))["train_loss"]
    assert barrier(v) == pytest.approx(1.0)
    v = evaluate_line(Toy(double_well, [-1.0, 0.3], [1.0, 0.3]), line_nodes(9))["train_loss"]  # lifted by 0.09
    assert barrier(v) == pytest.approx(1.0)
    assert math.isnan(barrier([0.1, float("nan"), 0.2]))


def test_the_path_engine_interpolates_encoder_and_head(tiny_bert_dir, tmp_path):
    theta_a = state_dict(build_model(tiny_bert_dir, 3, "finetune", 0))
    g = torch.Generator().manual_seed(3)
    theta_b = {k: v + 0.05 * torch.randn(v.shape, generator=g) if v.is_floating_point() else v
               for k, v in theta_a.items()}
    batches = make_batches(random_data(24, 120, 20, 3, 0), torch.arange(24), "train", 160)
    config = load_config(tiny_bert_dir, 3)
    eng = line_engine(config, theta_a, theta_b, batches)
    nodes = line_nodes(5)
    values = evaluate_line(eng, nodes)
    # each end is that seed's model, head included: the engine at (theta_x, no direction) agrees
    for t, theta in ((0.0, theta_a), (1.0, theta_b)):
        zero = {k: torch.zeros_like(v) for k, v in theta.items() if v.is_floating_point()}
        ref = BertLandscape(config, theta, zero, None, batches).evaluate(0.0)
        assert values["train_loss"][int(t * 4)] == pytest.approx(ref["train_loss"], rel=1e-5)
    mid = {k: (theta_a[k] + 0.5 * (theta_b[k] - theta_a[k])) if v.is_floating_point() else v
           for k, v in theta_a.items()}
    ref = BertLandscape(config, mid, {k: torch.zeros_like(v) for k, v in mid.items() if v.is_floating_point()}, None,
                        batches).evaluate(0.0)
    assert values["train_loss"][2] == pytest.approx(ref["train_loss"], rel=1e-5)
    grid = line_grid(nodes, values, {"task": "RTE", "init": "finetune", "seed_a": 7, "seed_b": 8, "cos_delta1": 0.5})
    write_grid(tmp_path / "p.h5", grid)
    back = read_grid(tmp_path / "p.h5")
    assert back.attrs["barrier"] == barrier(values["train_loss"])
    assert back.anchors["seed_b"]["train_loss"] == values["train_loss"][-1]
    assert read_paths([str(tmp_path / "p.h5")], [["RTE", "finetune", 7, 8]])["RTE", "finetune", 7, 8]["cos"] == 0.5


def test_pairs_are_consecutive_and_only_disjoint_ones_are_tested():
    assert seed_pairs([7]) == [] and seed_pairs([7, 8, 9, 10]) == [(7, 8), (8, 9), (9, 10)]
    assert disjoint(seed_pairs([7, 8, 9, 10])) == [True, False, True]


def _paths(barriers: dict, cos: dict | None = None) -> dict:
    """(task, init, a, b) -> what read_paths returns."""
    return {k: {"barrier": v, "cos": (cos or {}).get(k, 0.5), "ends": [0.1, 0.1]} for k, v in barriers.items()}


def test_barrier_rows_hold_for_planted_shared_fine_tuned_basins():
    seeds = list(range(10))  # 9 consecutive pairs, 5 disjoint ones tested
    paths = {}
    for a, b in seed_pairs(seeds):
        paths["RTE", "finetune", a, b], paths["RTE", "scratch", a, b] = 0.02, 0.8
    rows, table = barrier_rows(_paths(paths), {}, ["RTE"], seeds, CL)
    task = next(r for r in rows if r["scope"] == "task")
    assert task["verdict"] == "holds" and task["n_used"] == 5 and task["positive"] == 5
    assert all(r["shares_basin"] is (r["init"] == "finetune") for r in table)
    untested = [c for c in task["per_seed"] if c["effect"] is None]
    assert len(untested) == 4 and all("not independent" in c["reason"] for c in untested)
    # reversed: scratch pairs share a basin, fine-tuned ones do not
    flipped = {(t, "scratch" if i == "finetune" else "finetune", a, b): v for (t, i, a, b), v in paths.items()}
    rows, _ = barrier_rows(_paths(flipped), {}, ["RTE"], seeds, CL)
    assert rows[0]["verdict"] == "does not hold"


def test_a_pair_whose_seed_failed_a_precondition_is_left_out():
    seeds = [7, 8, 9, 10]
    paths = {(t, i, a, b): 0.0 if i == "finetune" else 1.0 for a, b in seed_pairs(seeds) for t in ["RTE"]
             for i in ("finetune", "scratch")}
    fail = {"precondition": "P1", "task": "RTE", "init": "scratch", "holds": False, "message": "P1: no",
            "fix": "raise it"}
    rows, _ = barrier_rows(_paths(paths), {9: {"preconditions": [fail]}}, ["RTE"], seeds, CL)
    cells = {c["seed"]: c for c in rows[0]["per_seed"]}
    assert cells["9~10"]["effect"] is None and "seed 9" in cells["9~10"]["reason"]
    assert rows[0]["n_used"] == 1 and rows[0]["n_left_out"] == 1


def test_a_control_run_failing_a_precondition_leaves_no_pair_out():
    # found on the embedded run with controls=[scratch_matched]: scratch at the fine-tuning schedule fails P1 in
    # every seed, and the pairs' barrier and C6 null rows went n/a although their own runs passed
    seeds = [7, 8]
    paths = {(t, i, 7, 8): 0.0 if i == "finetune" else 1.0 for t in ["RTE"] for i in ("finetune", "scratch")}
    fail = {"precondition": "P1", "task": "RTE", "init": "scratch_matched", "holds": False, "message": "P1: no",
            "fix": "raise it"}
    rows, _ = barrier_rows(_paths(paths), {7: {"preconditions": [fail]}}, ["RTE"], seeds, CL)
    assert rows[0]["n_used"] == 1 and rows[0]["n_left_out"] == 0
    fail["init"] = "scratch"  # the same failure of a main run still leaves the pair out
    rows, _ = barrier_rows(_paths(paths), {7: {"preconditions": [fail]}}, ["RTE"], seeds, CL)
    assert rows[0]["n_used"] == 0 and rows[0]["n_left_out"] == 1


def test_one_seed_makes_every_cross_seed_row_n_a_saying_why():
    rows, table = barrier_rows({}, {}, ["RTE", "MRPC"], [7], CL)
    assert table == [] and {r["verdict"] for r in rows} == {"n/a"} and len(rows) == 3
    assert all(c["reason"] == NEEDS_TWO for r in rows for c in r["per_seed"])
    doc = {7: {"claims": [c6_row("RTE", "MRPC", "finetune", 0.05)]}}
    rows = c6_null_rows({}, doc, [7], CL)
    assert [r["verdict"] for r in rows] == ["n/a", "n/a"] and "needs >= 2 seeds" in rows[0]["per_seed"][0]["reason"]


def c6_row(task: str, other: str, init: str, cos: float) -> dict:
    return {"claim": "C6", "measure": "cos_delta1_delta2", "task": task, "holds": True,
            "values": {"init": init, "other_task": other, "cos": cos}, "criterion": ""}


def planted(seed: int, task: str, shared: float, own: float, dim: int = 20000) -> dict:
    """delta1 of ``task`` under ``seed``: a component every run shares (same theta0, same training), one only this
    task's runs share, and this run's own noise; weights ``shared`` and ``own`` (the rest is noise)."""
    def unit(s):
        return torch.randn(dim, generator=torch.Generator().manual_seed(s), dtype=torch.float64)
    c, u = unit(1), unit(1000 + sum(map(ord, task)))
    return {"w": shared * c + own * u + unit(10 ** 6 + 97 * seed + sum(map(ord, task)))}


@pytest.mark.parametrize("own, verdict", [(3.0, "holds"), (0.0, "undecided")])  # no task component: cross = null
def test_c6_null_separates_a_planted_task_component_from_a_shared_one(own, verdict):
    seeds, tasks = list(range(10)), ["RTE", "MRPC"]
    zero = {"w": torch.zeros(20000, dtype=torch.float64)}
    d = {(t, s): planted(s, t, 0.4, own) for t in tasks for s in seeds}
    cos = {(t, "finetune", a, b): delta_cos(zero, d[t, a], zero, d[t, b], ["w"])["cos"]
           for t in tasks for a, b in seed_pairs(seeds)}
    cross = lambda s: delta_cos(zero, d["RTE", s], zero, d["MRPC", s], ["w"])["cos"]
    # each seed's C6 rows, as claims_seed writes them: both directions given, one kept per distinct pair
    docs = {s: {"claims": c6_orthogonal({("RTE", "finetune"): {"other_task": "MRPC", "cos_delta1_delta2": cross(s)},
                                         ("MRPC", "finetune"): {"other_task": "RTE", "cos_delta1_delta2": cross(s)}},
                                        0.1)} for s in seeds}
    assert all(len(doc["claims"]) == 1 for doc in docs.values())
    rows = c6_null_rows(_paths({k: 0.0 for k in cos}, cos), docs, seeds, CL)
    assert [r["task"] for r in rows] == ["MRPC~RTE (finetune)", "all"]
    assert rows[0]["verdict"] == verdict and rows[0]["n_used"] == 5
    if own:  # the null: the same task's directions share 1 + 9 = 10 of ~11.2 units of variance
        assert min(rows[0]["per_seed"][0]["values"]["same_task_cos"].values()) > 0.8


def test_cross_seed_rows_count_in_the_claim_s_headline():
    seeds = list(range(10))
    paths = {("RTE", i, a, b): 0.0 if i == "finetune" else 1.0 for a, b in seed_pairs(seeds)
             for i in ("finetune", "scratch")}
    rows, _ = barrier_rows(_paths(paths), {}, ["RTE"], seeds, CL)
    doc = aggregate({s: {"claims": []} for s in seeds}, {**CL, "tie_bands": {**CL["tie_bands"]}}, 0, rows)
    assert next(h for h in doc["headlines"] if h["claim"] == "C1")["supporting"] == ["cross_seed_barrier"]


def test_c6_null_is_for_fine_tuned_runs_only():
    """A scratch theta0 is drawn per seed: two seeds' scratch delta1 share no theta0, so they give no null."""
    docs = {s: {"claims": [c6_row("RTE", "MRPC", "scratch", 0.05), c6_row("RTE", "MRPC", "finetune", 0.01)]}
            for s in (7, 8)}
    rows = c6_null_rows({}, docs, [7, 8], CL)
    assert [r["task"] for r in rows] == ["MRPC~RTE (finetune)", "all"]


def test_a_seed_pair_needs_p2a_or_p2b_of_each_run_as_c1s_rows_do():
    from bertscape import xseedclaims as X

    chk = lambda p, h: {"precondition": p, "task": "MRPC", "init": "finetune", "holds": h, "message": f"{p}: m",
                        "fix": "f"}
    floor_only = {7: {"preconditions": [chk("P1", True), chk("P2a", False), chk("P2b", True)]}}
    assert X._failures(floor_only, (7,), ("MRPC",)) == ""
    neither = {7: {"preconditions": [chk("P1", True), chk("P2a", False), chk("P2b", False)]}}
    assert X._failures(neither, (7,), ("MRPC",)) == "seed 7: P2a: m [finetune]; f; seed 7: P2b: m [finetune]; f"
