"""Checkpoint storage: fp16 deltas with a recorded error, directions recomputed where used (bit-identical)."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import random_data

from bertscape import BertscapeError
from bertscape import checkpoints as ck
from bertscape.batches import make_batches
from bertscape.directions import difference, encoder_keys, join, make_directions, norm
from bertscape.io import load_tensors, save_tensors
from bertscape.modeling import build_model, load_config, state_dict
from bertscape.store import CheckpointStore
from bertscape.surfaces import EngineSpec, build_engine, evaluate_shard, open_engine
from bertscape.train import TrainSpec, train
from bertscape.trajectory import error_norm, project, project_products


def test_delta_round_trip_error_is_what_the_file_records(tmp_path):
    g = torch.Generator().manual_seed(0)
    base = {"bert.w": torch.randn(300, 7, generator=g), "bert.z": torch.zeros(4), "head.b": torch.randn(3, generator=g),
            "bert.ids": torch.arange(5)}
    theta = {k: (v + 1e-3 * torch.randn(v.shape, generator=g) if v.is_floating_point() else v) for k, v in base.items()}
    theta["bert.z"] = torch.zeros(4)  # an unchanged tensor stays exactly unchanged
    save_tensors(tmp_path / "epoch0.safetensors", base)
    ck.save_delta(tmp_path / "epoch1.delta.safetensors", theta, tmp_path / "epoch0.safetensors",
                  tmp_path / "epoch0.safetensors", tmp_path)
    assert load_tensors(tmp_path / "epoch1.delta.safetensors")["bert.w"].dtype == torch.float16
    delta, meta = ck.read_delta(tmp_path / "epoch1.delta.safetensors")
    assert meta["base"] == "epoch0.safetensors" and torch.equal(delta["bert.ids"], base["bert.ids"])
    for k in ("bert.w", "head.b"):
        exact = theta[k] - base[k]
        assert float(((exact - delta[k]).double() ** 2).sum()) == pytest.approx(meta["err2"][k], rel=1e-9)
        assert (exact - delta[k]).abs().max() <= exact.abs().max() * 2.0**-11  # fp16 rounding, nothing else
    assert torch.equal(delta["bert.z"], torch.zeros(4)) and meta["err2"]["bert.z"] == 0.0
    save_tensors(tmp_path / "epoch0.safetensors", theta)  # the base changed under the delta: refused
    with pytest.raises(BertscapeError, match="is a delta from epoch0.safetensors"):
        ck.read_delta(tmp_path / "epoch1.delta.safetensors")


def fit(model_dir, out, storage, epochs=4, publish_last=True, **kw):
    spec = TrainSpec(epochs=epochs, batch_size=8, lr=1e-3, seed=3, eval_batch_tokens=256)
    model = build_model(model_dir, 2, "finetune", spec.seed)
    paths = [str(out / f"epoch{e}.safetensors") for e in range(epochs)] + [
        str(out / f"epoch{epochs}.safetensors") if publish_last else None]
    store = CheckpointStore(paths, out.parent / f".resume-{out.name}", storage=storage, **kw)
    train(model, random_data(40, 120, 16, 2, 0), random_data(10, 120, 16, 2, 1), spec, store, progress=False)
    return out


def test_shared_base_file_holds_only_what_differs_and_loads_bit_for_bit(tmp_path):
    g = torch.Generator().manual_seed(0)
    base = {"bert.w": torch.randn(300, 7, generator=g), "bert.ids": torch.arange(5), "bert.b": torch.randn(7, generator=g)}
    save_tensors(tmp_path / "init.safetensors", base)
    theta = {**base, "bert.b": base["bert.b"].clone(), "classifier.weight": torch.randn(2, 7, generator=g)}
    theta["bert.b"][3] = torch.nextafter(theta["bert.b"][3], torch.tensor(9.0))  # one ulp of one entry: stored
    (tmp_path / "run").mkdir()
    ck.save_shared(tmp_path / "run" / "epoch0.safetensors", theta, tmp_path / "init.safetensors",
                   tmp_path / "init.safetensors", tmp_path / "run")
    assert sorted(load_tensors(tmp_path / "run" / "epoch0.safetensors")) == ["bert.b", "classifier.weight"]
    back = ck.load(tmp_path / "run" / "epoch0.safetensors")
    assert sorted(back) == sorted(theta) and all(torch.equal(back[k], theta[k]) for k in theta)
    save_tensors(tmp_path / "init.safetensors", {**base, "bert.w": base["bert.w"] * 2})  # the base changed: refused
    with pytest.raises(BertscapeError, match="shares its encoder with ../init.safetensors"):
        ck.load(tmp_path / "run" / "epoch0.safetensors")


def test_packed_file_loads_bit_for_bit_is_smaller_and_refuses_a_changed_base(tmp_path):
    """The packed format (train.last_checkpoint: fp32_packed) is lossless for every fp32 bit pattern (signs that
    flip, zeros, subnormals, inf/nan), keeps tensors the base lacks or shapes it differs in as they are, is smaller
    than the plain file when the weights moved little, and refuses a base whose bytes changed."""
    g = torch.Generator().manual_seed(0)
    base = {"bert.w": torch.randn(400, 64, generator=g), "bert.ids": torch.arange(5),
            "bert.odd": torch.randn(3, generator=g)}
    save_tensors(tmp_path / "init.safetensors", base)
    w = base["bert.w"] * (1 + 1e-3 * torch.randn(400, 64, generator=g))
    w[0, :6] = torch.tensor([0.0, -0.0, float("inf"), float("nan"), 1e-42, -base["bert.w"][0, 5]])
    theta = {"bert.w": w, "bert.ids": torch.arange(5) + 1, "bert.odd": torch.randn(4, generator=g),
             "classifier.weight": torch.randn(2, 64, generator=g)}
    (tmp_path / "run").mkdir()
    path = tmp_path / "run" / "epoch3.safetensors"
    ck.save_packed(path, theta, tmp_path / "init.safetensors", tmp_path / "init.safetensors", tmp_path / "run")
    stored = load_tensors(path)
    assert sorted(stored) == ["bert.ids", "bert.odd", "classifier.weight", "packed.bert.w"]  # no weight under its name
    assert ck.packed_names(path) == ["bert.w"]
    back = ck.load(path)
    assert sorted(back) == sorted(theta)
    assert all(torch.equal(back[k].view(torch.int32) if back[k].is_floating_point() else back[k],
                           theta[k].view(torch.int32) if theta[k].is_floating_point() else theta[k]) for k in theta)
    plain = tmp_path / "plain.safetensors"
    save_tensors(plain, theta)
    assert path.stat().st_size < 0.8 * plain.stat().st_size
    save_tensors(tmp_path / "init.safetensors", {**base, "bert.w": base["bert.w"] * 2})
    with pytest.raises(BertscapeError, match="is packed against ../init.safetensors"):
        ck.load(path)


def test_export_checkpoint_writes_the_plain_file(tmp_path, capsys):
    from bertscape.cli import main

    g = torch.Generator().manual_seed(1)
    base = {"bert.w": torch.randn(50, 8, generator=g)}
    save_tensors(tmp_path / "init.safetensors", base)
    theta = {"bert.w": base["bert.w"] + 1e-4, "classifier.bias": torch.zeros(2)}
    ck.save_packed(tmp_path / "p.safetensors", theta, tmp_path / "init.safetensors", tmp_path / "init.safetensors",
                   tmp_path)
    assert main(["export-checkpoint", str(tmp_path / "p.safetensors"), str(tmp_path / "out.safetensors")]) == 0
    out = load_tensors(tmp_path / "out.safetensors")
    assert sorted(out) == sorted(theta) and all(torch.equal(out[k], theta[k]) for k in theta)
    assert main(["export-checkpoint", str(tmp_path / "missing.safetensors"), str(tmp_path / "x")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("storage", ["fp32", "fp16_delta"])
def test_a_lean_run_publishes_theta0_head_and_last_epoch_and_measures_the_trajectory(tiny_bert_dir, tmp_path, storage):
    """keep_intermediate=False: only theta0 (its head, the encoder shared with the init file) and theta1 (plain, or
    packed against the init file with fp16 deltas) are published; the displacement rows give the trajectory of the whole run (eqs 3-5), exactly for fp32 storage and
    within the recorded bound for fp16 deltas."""
    full = fit(tiny_bert_dir, tmp_path / "full", "fp32")
    model = build_model(tiny_bert_dir, 2, "finetune", 0)
    init = tmp_path / "init.safetensors"
    save_tensors(init, {k: v for k, v in state_dict(model).items() if k.startswith("bert.")})
    rows = []
    lean = fit(tiny_bert_dir, tmp_path / "lean", storage, keep_intermediate=False, theta0_base=init, displacements=rows,
               last="fp32_packed" if storage == "fp16_delta" else "fp32")
    assert sorted(p.name for p in lean.iterdir()) == ["epoch0.safetensors", "epoch4.safetensors"]
    assert bool(ck.packed_names(lean / "epoch4.safetensors")) == (storage == "fp16_delta")
    assert not list(tmp_path.glob(".resume-*"))
    assert sorted(load_tensors(lean / "epoch0.safetensors")) == ["classifier.bias", "classifier.weight"]
    for e in (0, 4):  # the same weights as the run that keeps everything
        a, b = load_tensors(ck.full_path(full, e)), ck.load(ck.full_path(lean, e))
        assert sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)
    theta0 = load_tensors(ck.full_path(full, 0))
    keys = encoder_keys(theta0, "bert.")
    delta1 = difference(load_tensors(ck.full_path(full, 4)), theta0, keys)
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3, 4]
    for r in rows:
        ref = project(difference(load_tensors(ck.full_path(full, r["epoch"])), theta0, keys), delta1)
        got = project_products(r["dot_delta1"], r["norm2"], r["norm2_delta1"])
        bound = error_norm(r["err2"], norm(delta1) ** 2)
        if storage == "fp32" or r["epoch"] in (0, 4):
            same = all(got[c] == ref[c] or math.isnan(got[c]) and math.isnan(ref[c]) for c in ref)  # (cos at 0: nan)
            assert same and r["err2"] == 0.0  # bit for bit what the checkpoints give
        else:
            assert 0 < bound <= 1e-3 and all(abs(ref[c] - got[c]) <= bound * (1 + 1e-6) for c in ("d_alpha", "d_beta"))


@pytest.mark.parametrize("keep", [False, True])
def test_a_run_that_publishes_no_last_epoch_still_measures_its_trajectory(tiny_bert_dir, tmp_path, keep):
    """A long run by default (train.long_run.keep_checkpoint false: its last path None): nothing of its last epoch
    is written, the resume folder goes, and its displacement rows are bit for bit those of the same run publishing
    it (with fp16 intermediate deltas, kept or not)."""
    rows = {}
    for name, last in (("published", True), ("unpublished", False)):
        rows[name] = []
        out = fit(tiny_bert_dir, tmp_path / name, "fp16_delta", publish_last=last, keep_intermediate=keep,
                  displacements=rows[name])
    assert sorted(p.name for p in out.iterdir()) == ["epoch0.safetensors"] + (
        [f"epoch{e}.delta.safetensors" for e in (1, 2, 3)] if keep else [])
    assert (tmp_path / "published" / "epoch4.safetensors").is_file() and not list(tmp_path.glob(".resume-*"))
    assert [r["epoch"] for r in rows["unpublished"]] == [0, 1, 2, 3, 4] and rows["unpublished"] == rows["published"]


def test_fp16_delta_run_stores_what_the_analysis_needs_and_bounds_the_trajectory_error(tiny_bert_dir, tmp_path):
    full, small = fit(tiny_bert_dir, tmp_path / "fp32", "fp32"), fit(tiny_bert_dir, tmp_path / "delta", "fp16_delta")
    assert sorted(p.name for p in small.iterdir() if not p.name.startswith(".")) == [
        "epoch0.safetensors", "epoch1.delta.safetensors", "epoch2.delta.safetensors", "epoch3.delta.safetensors",
        "epoch4.safetensors"]
    assert not list(tmp_path.glob(".resume-*"))  # optimiser state and resume folder gone once published
    for e in (0, 4):  # theta0 and theta1: fp32 and the same weights as an all-fp32 run
        a, b = load_tensors(ck.full_path(full, e)), load_tensors(ck.full_path(small, e))
        assert all(torch.equal(a[k], b[k]) for k in a)
    theta0 = load_tensors(ck.full_path(full, 0))
    keys = encoder_keys(theta0, "bert.")
    delta1 = difference(load_tensors(ck.full_path(full, 4)), theta0, keys)
    worst = 0.0
    for e in range(5):
        exact, err_exact = ck.displacement(full, e, ck.full_path(full, 0), theta0, keys)
        assert err_exact == 0.0 and all(torch.equal(exact[k], difference(load_tensors(ck.full_path(full, e)), theta0, keys)[k])
                                        for k in keys)
        stored, err2 = ck.displacement(small, e, ck.full_path(small, 0), theta0, keys)
        bound = error_norm(err2, norm(delta1) ** 2)
        ref, got = project(exact, delta1), project(stored, delta1)
        for c in ("d_alpha", "d_beta"):
            assert abs(ref[c] - got[c]) <= bound * (1 + 1e-6) + 1e-12  # the recorded bound holds
        assert (bound == 0) == (e in (0, 4))
        worst = max(worst, bound)
    assert 0 < worst <= 1e-3, worst


@pytest.fixture(scope="module")
def two_runs(tiny_bert_dir, tmp_path_factory):
    """Checkpoint folders of a run and of the other task's run (same theta0 encoder), as training writes them."""
    d = tmp_path_factory.mktemp("runs")
    theta0 = state_dict(build_model(tiny_bert_dir, 3, "finetune", 0))
    g = torch.Generator().manual_seed(1)
    theta1 = {k: v + 0.05 * torch.randn(v.shape, generator=g) for k, v in theta0.items()}
    theta2 = {k: v + 0.03 * torch.randn(v.shape, generator=g) for k, v in theta0.items()}
    for name, last in (("run", theta1), ("other", theta2)):
        save_tensors(d / name / "epoch0.safetensors", theta0)
        save_tensors(d / name / "epoch2.safetensors", last)
    return d


def test_surface_from_recomputed_directions_is_bit_identical_to_stored_directions(two_runs, tiny_bert_dir):
    d = two_runs
    # before: the directions rule stored delta1, delta2 in a file and the surface jobs read it
    t0, t1 = load_tensors(d / "run" / "epoch0.safetensors"), load_tensors(d / "run" / "epoch2.safetensors")
    d1, d2, stats = make_directions(t0, t1, load_tensors(d / "other" / "epoch0.safetensors"),
                                    load_tensors(d / "other" / "epoch2.safetensors"), "bert.")
    save_tensors(d / "dirs.safetensors", join(d1, d2))
    # now: recomputed from the checkpoints where they are used
    n1, n2, again = ck.directions(d / "run", 2, d / "other", 2)
    assert again["scale_delta2"] == stats["norm_delta1"] / stats["norm_delta2_raw"]
    assert all(torch.equal(n1[k], d1[k]) and torch.equal(n2[k], d2[k]) for k in d1)
    train, dev = random_data(30, 120, 16, 3, 0), random_data(12, 120, 16, 3, 1)
    batches = make_batches(train, torch.arange(16), "train", 160) + make_batches(dev, torch.arange(12), "dev", 160)
    config, axis = load_config(tiny_bert_dir, 3), np.linspace(-1, 2, 4)
    grids = []
    for kind, dirs in (("surface", d / "dirs.safetensors"), ("surface", (n1, n2)),
                       ("layer_surface", d / "dirs.safetensors"), ("layer_surface", (n1, n2))):
        eng, _ = build_engine(kind, config, d / "run" / "epoch0.safetensors", d / "run" / "epoch2.safetensors", dirs,
                              batches, [1, 2] if kind == "layer_surface" else None)
        grids.append(evaluate_shard(eng, kind, axis, axis, 0, 1, d / f"p{len(grids)}.json", "k", progress=False))
    assert grids[0] == grids[1] and grids[2] == grids[3]  # every metric at every point, exactly
    assert all(math.isfinite(v["train_loss"]) for v in grids[1].values())


def test_open_engine_reads_each_checkpoint_once_and_equals_build_engine(two_runs, tiny_bert_dir, monkeypatch):
    d = two_runs
    train, dev = random_data(30, 120, 16, 3, 0), random_data(12, 120, 16, 3, 1)
    save_tensors(d / "train.safetensors", train)
    save_tensors(d / "dev.safetensors", dev)
    _, _, stats = ck.directions(d / "run", 2, d / "other", 2)
    (d / "directions.json").write_text(json.dumps(stats))
    ev = {"train_subset": 16, "dev_subset": None, "batch_tokens": 160, "dtype": "fp32"}
    config, axis = load_config(tiny_bert_dir, 3), np.linspace(-1, 2, 3)
    real, reads = ck.load, []
    monkeypatch.setattr(ck, "load", lambda p: reads.append(Path(p).relative_to(d).as_posix()) or real(p))
    for kind, layers in (("surface", None), ("curve", None), ("layer_surface", [1, 2])):
        reads.clear()
        spec = EngineSpec(kind, config, d / "run", 2, d / "other", d / "directions.json", d / "train.safetensors",
                          d / "dev.safetensors", ev, 5, layers)
        eng, _, _, batches = open_engine(spec)
        assert sorted(reads) == ["other/epoch0.safetensors", "other/epoch2.safetensors", "run/epoch0.safetensors",
                                 "run/epoch2.safetensors"]  # each once
        ref, _ = build_engine(kind, config, d / "run" / "epoch0.safetensors", d / "run" / "epoch2.safetensors",
                              ck.directions(d / "run", 2, d / "other", 2)[:2], batches, layers)
        beta = None if kind == "curve" else axis
        assert evaluate_shard(eng, kind, axis, beta, 0, 1, d / "a.json", "k", progress=False) == \
            evaluate_shard(ref, kind, axis, beta, 0, 1, d / "b.json", "k", progress=False)
    (d / "directions.json").write_text(json.dumps({**stats, "norm_delta1": 1.0}))
    with pytest.raises(BertscapeError, match="was computed from other checkpoints"):
        open_engine(spec)
