"""The claims' nodes without the surface (bertscape.sparse): the points grid against the full surface on synthetic
landscapes whose every node is known, and the split engines against the one engine of a surface, bit for bit."""
import json

import numpy as np
import pytest
import torch
from conftest import random_data
from scipy import ndimage

from bertscape import claims as C
from bertscape import measures as M
from bertscape import preconditions as P
from bertscape.basins import extend
from bertscape.batches import make_batches
from bertscape import checkpoints as ck
from bertscape.h5io import Grid, gather, read_grid, write_grid
from bertscape.io import save_tensors, write_json, write_tsv
from bertscape.landscape import BertLandscape
from bertscape.modeling import build_model, load_config, state_dict
from bertscape.sparse import claim_nodes, evaluate_points, points_grid, points_region, run_points
from bertscape.surfaces import EngineSpec, open_engines, run_shard
from test_basins import valley
from test_checkpoints import two_runs  # noqa: F401 (a fixture)
from test_claims import curve
from test_preconditions import CL

TAU, WINDOW = 0.1, 1.0
THETA1 = {"alpha_min": 0.75, "alpha_max": 1.5, "beta_max": 1.0, "transect": 2.0}  # the schema's default
FINAL = (1.3, -0.45)  # the long run's last (d_alpha, d_beta): inside the grid, off the lattice


def bowl(a, b):
    return 0.3 * (a - 1) ** 2 + 0.5 * b ** 2 + 0.01


def metrics(f, a, b):
    """A landscape's metrics at (a, b): the train side from f, the dev side a different function of it."""
    x = f(a, b)
    return {"train_loss": x, "train_acc": 1 / (1 + x), "dev_loss": x + 0.05 * np.sin(3 * a * b + b),
            "dev_acc": 1 / (1 + 2 * x), "dev_error": 1 - 1 / (1 + 2 * x) + 0.01 * np.cos(5 * a)}


def full_surface(f, lo=-4.0, hi=4.0, n=17) -> Grid:
    """The surface as the surface rules write it: every node, and the anchors, with every metric."""
    a = np.linspace(lo, hi, n)
    A, B = np.meshgrid(a, a, indexing="ij")
    anchors = {name: {"alpha": x, "beta": y, **{k: float(v) for k, v in metrics(f, x, y).items()}}
               for name, (x, y) in {"start": (0.0, 0.0), "end": (1.0, 0.0)}.items()}
    return Grid("surface", a, a.copy(), metrics(f, A, B), np.ones((n, n), bool), anchors,
                {"precision": "fp32", "precision_budget": 0.01, "precision_nodes": []})


class Side:
    """One evaluation set's engine: counts every node it is asked for."""

    def __init__(self, f, keys):
        self.f, self.keys, self.calls, self.batches = f, keys, [], []

    def __call__(self, where):
        self.batches.append(list(where))
        self.calls += list(where)
        return [{k: float(v) for k, v in metrics(self.f, a, b).items() if k in self.keys} for a, b in where]


def run(f, budget=100, final=FINAL):
    g = full_surface(f)
    train, dev = Side(f, ("train_loss", "train_acc")), Side(f, ("dev_loss", "dev_acc", "dev_error"))
    pts = evaluate_points(g.alpha, g.beta, train, dev, TAU, budget, WINDOW, final, theta1=THETA1)
    grid = points_grid(pts, dict(g.attrs))
    return g, grid, points_region(pts, grid, TAU, budget), train, dev


def expected_train_nodes(f, lo=-4.0, hi=4.0, n=17, final=FINAL) -> int:
    """What the fill needs, counted independently (scipy's 4-connected components on a grid wide enough to hold
    the region): the region and its rim inside the grid, plus the window's and C3's nodes."""
    step = (hi - lo) / (n - 1)
    pad = 48
    w = lo + step * np.arange(-pad, n + pad)
    A, B = np.meshgrid(w, w, indexing="ij")
    ok = f(A, B) <= f(1.0, 0.0) + TAU
    lab, _ = ndimage.label(ok)
    region = lab == lab[pad + round((1 - lo) / step), pad + round(-lo / step)]
    visited = ndimage.binary_dilation(region) | region  # 4-neighbour dilation: the rim
    inside = visited[pad:pad + n, pad:pad + n]
    a = np.linspace(lo, hi, n)
    for i, j in claim_nodes(a, a, WINDOW, final, THETA1):
        inside[i, j] = True
    return int(inside.sum())


@pytest.mark.parametrize("f", [bowl, valley], ids=["closed-in-grid", "leaves-the-grid"])
def test_points_equal_the_surface_where_evaluated_and_nothing_more_is_evaluated(f):
    g, grid, region, train, dev = run(f)
    done = grid.done
    assert 0 < done.sum() < done.size
    for m in g.values:  # the synthetic values are computed by the same expression: exact equality
        have = np.isfinite(grid.values[m])
        assert np.array_equal(grid.values[m][have], g.values[m][have])
    assert grid.anchors == g.anchors
    n_in = expected_train_nodes(f)
    inside = [c for c in train.calls if -4 <= c[0] <= 4 and -4 <= c[1] <= 4]
    assert train.calls[:2] == [(0.0, 0.0), (1.0, 0.0)]  # the anchors first (exact points, as the surface has them)
    assert len(train.calls[2:]) == len(set(train.calls[2:]))  # then each node once
    assert int(done.sum()) == n_in == len(inside) - 2
    window = claim_nodes(g.alpha, g.beta, WINDOW, FINAL, THETA1)
    assert len(dev.calls) == len(window) + 2 and int(np.isfinite(grid.values["dev_error"]).sum()) == len(window)
    assert len(train.calls) - len(inside) == region["past_edge"]
    # the region as the basin rule measures it on the full surface
    assert region == extend(g, TAU, lambda a, b: float(f(a, b)), 100)
    assert (region["past_edge"] > 0) == (f is valley) and not region["censored"]


def test_a_control_s_points_are_the_region_alone_and_never_the_dev_set():
    """window None and no dev evaluator (the points rule for a control run, whose rows read no C4 window): the same
    region as with the windows, the train side only where the fill went, nothing on the dev set."""
    g = full_surface(bowl)
    train = Side(bowl, ("train_loss", "train_acc"))
    pts = evaluate_points(g.alpha, g.beta, train, None, TAU, 100, None, None, theta1=None)
    grid = points_grid(pts, dict(g.attrs))
    _, full, region, _, _ = run(bowl, final=None)
    assert points_region(pts, grid, TAU, 100) == region and not pts.dev
    assert not any(k.startswith("dev_") for k in grid.values) and not any(
        k.startswith("dev_") for a in grid.anchors.values() for k in a)
    assert grid.attrs["points_dev_nodes"] == 0 and 0 < grid.done.sum() < full.done.sum()  # no window nodes either
    assert claim_nodes(g.alpha, g.beta, None) == []


def wide_bowl(a, b):
    return 0.02 * (a - 1) ** 2 + 0.03 * b ** 2 + 0.01


def test_each_wave_of_the_fill_is_one_engine_call():
    """A bowl centred on theta1's node: the fill's waves are its rings of equal Manhattan distance, one train call
    per ring, after the anchors' call and before one call for the claim nodes the fill did not reach."""
    g, _, _, train, _ = run(wide_bowl)
    calls = train.batches
    seed = (10, 8)  # (alpha 1, beta 0) on the 17-node lattice of [-4, 4]
    ring = lambda c: {abs(round((a + 4) / 0.5) - seed[0]) + abs(round((b + 4) / 0.5) - seed[1]) for a, b in c}
    assert calls[0] == [(0.0, 0.0), (1.0, 0.0)]
    window = {tuple(map(float, (g.alpha[i], g.beta[j]))) for i, j in claim_nodes(g.alpha, g.beta, WINDOW, FINAL)}
    fill = calls[1:-1] if set(calls[-1]) <= window and len(ring(calls[-1])) > 1 else calls[1:]
    assert [ring(c) for c in fill] == [{d} for d in range(len(fill))] and len(fill) > 5


CLAIMS = {**CL, "reach_fraction": 0.5, "ascent_tol": 0.01, "acc_tol": 0.02, "tau_error": 0.05, "window": WINDOW,
          "rho_min": 0.5, "max_abs_cos": 0.2, "basin_points": 100, "matched_fractions": [0.25, 0.5],
          "theta1_window": THETA1}


def write_run(d, surfaces: dict, regions: dict, curves: dict) -> tuple[dict, dict]:
    """The claims rule's inputs for task MRPC (both inits, the long run) in ``d``: (inputs, keys)."""
    inputs, keys = {}, {}

    def put(name, key, path):
        inputs.setdefault(name, []).append(str(path))
        keys.setdefault(name, []).append(key)

    for (t, i), g in surfaces.items():
        write_grid(d / f"{i}.h5", g)
        put("surfaces", [t, i], d / f"{i}.h5")
        write_json(d / f"{i}.basin.json", regions[t, i])
        put("basins", [t, i], d / f"{i}.basin.json")
        write_grid(d / f"{i}.curve.h5", curves[t, i])
        put("curves", [t, i], d / f"{i}.curve.h5")
        write_tsv(d / f"{i}.epochs.tsv", [{"epoch": e, "train_loss": 0.5 / e} for e in (1, 2, 3)])
        put("epochs", [t, i], d / f"{i}.epochs.tsv")
        write_tsv(d / f"{i}.traj.tsv", [{"epoch": e, "d_alpha": e / 3, "d_beta": 0.1, "cos": 0.9} for e in (1, 2, 3)])
        put("trajectories", [t, i], d / f"{i}.traj.tsv")
        write_json(d / f"{i}.dir.json", {"other_task": "RTE", "cos_delta1_delta2": 0.05})
        put("directions", [t, i], d / f"{i}.dir.json")
    write_tsv(d / "long.traj.tsv", [{"epoch": 9, "d_alpha": FINAL[0], "d_beta": FINAL[1], "cos": 0.9}])
    put("trajectories", ["MRPC", "long"], d / "long.traj.tsv")
    write_tsv(d / "long.epochs.tsv", [{"epoch": 3, "dev_acc": 0.8}, {"epoch": 9, "dev_acc": 0.79}])
    inputs["long_epochs"] = str(d / "long.epochs.tsv")
    return inputs, keys


def claims_of(d, surfaces, regions, curves) -> dict:
    d.mkdir()
    inputs, keys = write_run(d, surfaces, regions, curves)
    params = {"tasks": ["MRPC"], "long": "MRPC", "n_labels": {"MRPC": 2}, "metrics": {"MRPC": "acc"}, "claims": CLAIMS,
              "hessian_tol": 1e-3, "data_source": "synthetic", "task_configs": {"MRPC": {}}}
    return C.evaluate(inputs, keys, params)


@pytest.mark.parametrize("budget", [100, 3], ids=["closed", "censored"])
def test_claims_evaluate_reads_points_grids_as_surfaces(budget, tmp_path):
    """claims.evaluate, unchanged, on the points grids and their regions gives every claim row, precondition and
    precision row it gives on the full surfaces with the basin rule's regions (C1's 2D area, C4, C3 and P3 read
    them); with budget 3 the valley's region stays open."""
    curves, full, pts, reg_full, reg_pts = {}, {}, {}, {}, {}
    for init, f in (("finetune", valley), ("scratch", bowl)):
        k = ("MRPC", init)
        full[k], pts[k], reg_pts[k], _, _ = run(f, budget, FINAL if init == "finetune" else None)
        reg_full[k] = extend(full[k], TAU, lambda a, b, f=f: float(f(a, b)), budget)
        curves[k] = curve(lambda a, f=f: f(a, 0.0), -4, 4, 33)
    assert reg_pts["MRPC", "finetune"]["censored"] == (budget == 3)
    a, b = claims_of(tmp_path / "full", full, reg_full, curves), claims_of(tmp_path / "points", pts, reg_pts, curves)
    same = lambda x: json.dumps(x, sort_keys=True, default=str)  # NaN (a unit without its norms) equals NaN here
    assert same(a) == same(b)
    measures = {r["measure"] for r in a["claims"]}
    assert {"basin_area_2d", "spearman_loss_error", "long_run_worst_drop"} <= measures
    assert "long_run_projected_point" not in measures  # Figure 4's point: descriptive, never decided (issue 26)
    c3 = next(r for r in a["descriptive"] if r["measure"] == "long_run_projected_point")
    c4 = next(r for r in a["claims"] if r["claim"] == "C4")
    assert c3["values"]["dev_error_there"] is not None and c4["values"]["finetune"]["nodes"] == 25
    c4 = next(r for r in a["claims"] if r["measure"] == "spearman_theta1_window")  # the transect reaches |beta| = 2
    assert c4["values"]["finetune"]["nodes"] == c4["values"]["scratch"]["nodes"] == 14
    p3 = next(c for c in a["preconditions"] if c["precondition"] == "P3" and c["init"] == "finetune")
    assert p3["measured"]["censored_2d"] == (budget == 3)


def test_claim_nodes_are_the_window_and_the_cell_around_the_final_point():
    a = np.linspace(-4, 4, 17)
    win = claim_nodes(a, a, 1.0)
    assert len(win) == 25 and win[0] == (8, 6) and win[-1] == (12, 10)
    assert set(claim_nodes(a, a, 1.0, (3.2, 2.9))) - set(win) == {(14, 13), (15, 13), (14, 14), (15, 14)}
    assert claim_nodes(a, a, 1.0, (5.0, 0.0)) == win  # outside the grid: bilinear is None, nothing to read


def test_split_engines_give_the_surface_engine_s_numbers_bit_for_bit(tiny_bert_dir):
    """A node evaluated on the training subset alone, or the dev set alone, equals the surface engine's value on
    both sets at once (the batches are independent; the cut vocabulary only drops rows): bit-identical."""
    m0 = build_model(tiny_bert_dir, 3, "finetune", 0)
    theta0 = state_dict(m0)
    g = torch.Generator().manual_seed(3)
    keys = [k for k in theta0 if k.startswith("bert.")]
    d1 = {k: 0.05 * torch.randn(theta0[k].shape, generator=g) for k in keys}
    d2 = {k: 0.05 * torch.randn(theta0[k].shape, generator=g) for k in keys}
    train, dev = random_data(30, 120, 20, 3, 0), random_data(16, 100, 20, 3, 1)
    tb, db = make_batches(train, torch.arange(24), "train", 160), make_batches(dev, torch.arange(16), "dev", 160)
    config = load_config(tiny_bert_dir, 3)
    both = BertLandscape(config, theta0, d1, d2, tb + db)
    alone = {s: BertLandscape(config, theta0, d1, d2, b) for s, b in (("train", tb), ("dev", db))}
    for a, b in [(1.0, 0.0), (-0.5, 0.25), (2.0, -1.5)]:
        ref = both.evaluate(a, b)
        got = {**alone["train"].evaluate(a, b), **alone["dev"].evaluate(a, b)}
        assert got == ref


@pytest.mark.parametrize("tau,dtype", [(0.002, "fp32"), (0.02, "fp32"), (0.002, "bf16")],
                         ids=["small-region", "censored-past-the-edge", "bf16"])
def test_points_rule_equals_the_surface_rules_on_the_tiny_model(tau, dtype, two_runs, tiny_bert_dir, tmp_path):
    """run_points against run_shard + gather on the same run (the real engines, fp32): every value the points grid
    holds equals the surface's bit for bit, with its anchors and precision record; its region is the basin rule's
    (extend on the surface, the train engine past the edge); the claims read the same from both."""
    d = two_runs
    save_tensors(tmp_path / "train.safetensors", random_data(30, 120, 16, 3, 0))
    save_tensors(tmp_path / "dev.safetensors", random_data(12, 120, 16, 3, 1))
    (tmp_path / "directions.json").write_text(json.dumps(ck.directions(d / "run", 2, d / "other", 2)[2]))
    ev = {"train_subset": 16, "dev_subset": None, "batch_tokens": 160, "dtype": dtype, "precision_nodes": 2,
          "precision_budget": 0.01}
    spec = EngineSpec("surface", load_config(tiny_bert_dir, 3), d / "run", 2, d / "other", tmp_path / "directions.json",
                      tmp_path / "train.safetensors", tmp_path / "dev.safetensors", ev, 5)
    axis, window, final = [-1.0, 3.0, 9], 1.0, (1.7, 0.3)
    names, about = {"task": "T", "init": "finetune", "group": ""}, {"loss": "CE", "dev_error_is": "1 - acc"}
    run_shard(spec, axis, 0, 1, tmp_path / "shard0.h5", "k", names, about)
    gather([str(tmp_path / "shard0.h5")], tmp_path / "surface.h5")
    g = read_grid(tmp_path / "surface.h5")
    region = run_points(spec, axis, tau, 100, window, final, tmp_path / "points.h5", names, about)
    p = read_grid(tmp_path / "points.h5")
    assert region["past_edge"] > 0 and region["censored"] == (tau == 0.02)  # closed 71 nodes out, or open after 100
    assert 0 < p.done.sum() < p.done.size and region["nodes"] > 1
    assert p.anchors == g.anchors and set(p.values) == set(g.values)
    for m in g.values:
        have = np.isfinite(p.values[m])
        assert have.any() and np.array_equal(p.values[m][have], g.values[m][have])
    other = ("points_", "nonfinite_") + (("precision_",) if dtype != "fp32" else ())  # bf16: other nodes checked
    assert {k: v for k, v in p.attrs.items() if not k.startswith(other)} == \
        {k: v for k, v in g.attrs.items() if k not in ("shards",) and not k.startswith(other)}
    assert p.attrs["precision"] == g.attrs["precision"] == dtype
    train = open_engines(spec)[0]["train"]
    assert {k: v for k, v in region.items() if k != "evaluated_in"} == \
        extend(g, tau, lambda a, b: train.evaluate(a, b)["train_loss"], 100)
    assert C.c4_consistency({("T", "finetune"): p, ("T", "scratch"): p}, ["T"], window, 0.5) == \
        C.c4_consistency({("T", "finetune"): g, ("T", "scratch"): g}, ["T"], window, 0.5)
    assert M.bilinear(p, "dev_error", *final) == M.bilinear(g, "dev_error", *final) is not None
    if dtype == "fp32":
        assert C.precision_rows({"s": p}) == C.precision_rows({"s": g})
    else:  # the accuracy contract's check ran on the points' own nodes, within budget
        assert C.precision_rows({"s": p})[0]["within_budget"] and p.attrs["precision_nodes"]
