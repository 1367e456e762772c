"""The landscape engine against transformers, anchors exactness, shards, resume, layer rollback."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import random_data

from bertscape.batches import make_batches
from bertscape.directions import join, split
from bertscape.h5io import gather, read_grid, write_grid
from bertscape.io import save_tensors
from bertscape.landscape import BertLandscape
from bertscape.modeling import build_model, load_config, state_dict
from bertscape.rollback import rollback_rows
from bertscape.architectures import layer_keys, layer_map_of
from bertscape.surfaces import build_engine, evaluate_shard, points, shard_grid
from bertscape.train import evaluate

EV = {"train_subset": 24, "dev_subset": None, "batch_tokens": 160}


@pytest.fixture(scope="module")
def setup(tiny_bert_dir, tmp_path_factory):
    """theta0, theta1 (a perturbed theta0 with its own head), theta2, saved like the pipeline does."""
    d = tmp_path_factory.mktemp("land")
    m0 = build_model(tiny_bert_dir, 3, "finetune", 0)
    theta0 = state_dict(m0)
    g = torch.Generator().manual_seed(1)
    theta1 = {k: v + 0.05 * torch.randn(v.shape, generator=g) for k, v in theta0.items()}
    theta2 = {k: v + 0.05 * torch.randn(v.shape, generator=g) for k, v in theta0.items()}
    keys = [k for k in theta0 if k.startswith("bert.")]
    d1 = {k: theta1[k] - theta0[k] for k in keys}
    raw2 = {k: theta2[k] - theta0[k] for k in keys}
    n1 = sum(float((v.double() ** 2).sum()) for v in d1.values()) ** 0.5
    n2 = sum(float((v.double() ** 2).sum()) for v in raw2.values()) ** 0.5
    d2 = {k: v * (n1 / n2) for k, v in raw2.items()}
    save_tensors(d / "theta0.safetensors", theta0)
    save_tensors(d / "theta1.safetensors", theta1)
    save_tensors(d / "dirs.safetensors", join(d1, d2))
    train, dev = random_data(40, 120, 20, 3, 0), random_data(20, 120, 20, 3, 1)
    batches = make_batches(train, torch.arange(24), "train", 160) + make_batches(dev, torch.arange(20), "dev", 160)
    return {"dir": d, "theta0": theta0, "theta1": theta1, "d1": d1, "d2": d2, "train": train, "dev": dev,
            "batches": batches, "config": load_config(tiny_bert_dir, 3), "model_dir": tiny_bert_dir}


def hf_metrics(model_dir, state, data, idx):
    m = build_model(model_dir, 3, "finetune", 0)
    m.load_state_dict(state)
    sub = {k: v[idx] for k, v in data.items()}
    return evaluate(m, sub, 160)


def test_engine_matches_transformers_at_shifted_points(setup):
    s = setup
    assert any(b.mask is not None for b in s["batches"])  # padded batches: the packed-token path is exercised
    eng = BertLandscape(s["config"], {**s["theta0"], **{k: v for k, v in s["theta1"].items() if not k.startswith("bert.")}},
                        s["d1"], s["d2"], s["batches"])
    for a, b in [(0.0, 0.0), (0.7, -1.3), (-3.0, 2.5)]:
        state = {k: (s["theta0"][k] + a * s["d1"][k] + b * s["d2"][k]) if k in s["d1"] else s["theta1"][k]
                 for k in s["theta1"]}
        ref = hf_metrics(s["model_dir"], state, s["dev"], torch.arange(20))
        got = eng.evaluate(a, b)
        assert got["dev_loss"] == pytest.approx(ref["loss"], rel=1e-5, abs=1e-6)
        assert got["dev_acc"] == ref["acc"]
        ref_train = hf_metrics(s["model_dir"], state, s["train"], torch.arange(24))
        assert got["train_loss"] == pytest.approx(ref_train["loss"], rel=1e-5, abs=1e-6)


def test_surface_anchors_are_exact_grid_values(setup):
    s = setup
    eng, _ = build_engine("surface", s["config"], s["dir"] / "theta0.safetensors", s["dir"] / "theta1.safetensors",
                          s["dir"] / "dirs.safetensors", s["batches"])
    alpha = np.linspace(-1, 2, 4)  # contains 0 and 1
    values = evaluate_shard(eng, "surface", alpha, alpha, 0, 1, s["dir"] / "p.json", "k", progress=False)
    grid = shard_grid("surface", values, alpha, alpha, {})
    for m in ("train_loss", "dev_loss", "dev_error"):
        assert grid.value_at(m, 0, 0) == grid.anchors["start"][m]  # bit-identical, same code path
        assert grid.value_at(m, 1, 0) == grid.anchors["end"][m]
    # f(0, 0) is J(theta0) (encoder at theta0, head at theta1) and f(1, 0) is J(theta1)
    head = {k: v for k, v in s["theta1"].items() if not k.startswith("bert.")}
    j0 = hf_metrics(s["model_dir"], {**s["theta0"], **head}, s["dev"], torch.arange(20))
    j1 = hf_metrics(s["model_dir"], s["theta1"], s["dev"], torch.arange(20))
    assert grid.anchors["start"]["dev_loss"] == pytest.approx(j0["loss"], rel=1e-5)
    assert grid.anchors["end"]["dev_loss"] == pytest.approx(j1["loss"], rel=1e-5)


def test_shards_merge_bit_identical_whatever_their_number(setup, tmp_path):
    s = setup
    eng, _ = build_engine("surface", s["config"], s["dir"] / "theta0.safetensors", s["dir"] / "theta1.safetensors",
                          s["dir"] / "dirs.safetensors", s["batches"])
    alpha = np.linspace(-2, 2, 5)
    merged = {}
    for n in (1, 3):
        paths = []
        for k in range(n):
            v = evaluate_shard(eng, "surface", alpha, alpha, k, n, tmp_path / f"p{n}{k}.json", "key", progress=False)
            write_grid(tmp_path / f"s{n}_{k}.h5", shard_grid("surface", v, alpha, alpha, {"task": "X", "init": "finetune"}))
            paths.append(str(tmp_path / f"s{n}_{k}.h5"))
        merged[n] = gather(paths, tmp_path / f"m{n}.h5")
    for m in merged[1].values:
        assert np.array_equal(merged[1].values[m], merged[3].values[m])
    assert merged[1].anchors == merged[3].anchors
    assert read_grid(tmp_path / "m3.h5").done.all()


def test_killed_shard_resumes_from_its_partial_file(setup, tmp_path):
    s = setup
    eng, _ = build_engine("curve", s["config"], s["dir"] / "theta0.safetensors", s["dir"] / "theta1.safetensors",
                          s["dir"] / "dirs.safetensors", s["batches"])
    alpha = np.linspace(-1, 1, 9)
    full = evaluate_shard(eng, "curve", alpha, None, 0, 1, tmp_path / "a.json", "key", progress=False)

    class Dies:
        calls = 0

        def evaluate(self, a, b):
            Dies.calls += 1
            if Dies.calls > 5:
                raise KeyboardInterrupt
            return eng.evaluate(a, b)

    with pytest.raises(KeyboardInterrupt):
        evaluate_shard(Dies(), "curve", alpha, None, 0, 1, tmp_path / "b.json", "key", flush_every=2, progress=False)
    resumed_calls = []

    class Counts:
        def evaluate(self, a, b):
            resumed_calls.append((a, b))
            return eng.evaluate(a, b)

    again = evaluate_shard(Counts(), "curve", alpha, None, 0, 1, tmp_path / "b.json", "key", flush_every=2, progress=False)
    assert again == full
    assert len(resumed_calls) == len(points("curve", alpha, None)) - 4  # 4 flushed points were not redone
    # a different key (changed inputs) never reuses a partial file
    other = evaluate_shard(Counts(), "curve", alpha, None, 0, 1, tmp_path / "b.json", "other", progress=False)
    assert other == full and len(resumed_calls) == 2 * len(points("curve", alpha, None)) - 4


@pytest.mark.parametrize("group", [[0, 0], [1, 2], [2, 2]])
def test_layer_surface_rollback_point_equals_rollback_model(setup, group):
    s = setup
    only_train = [b for b in s["batches"] if b.set_name == "train"]
    eng, info = build_engine("layer_surface", s["config"], s["dir"] / "theta0.safetensors", s["dir"] / "theta1.safetensors",
                             s["dir"] / "dirs.safetensors", only_train, group)
    assert eng.start == group[0]  # layers below the group are cached, not recomputed
    assert info["layers"] == group
    keys = layer_keys(s["theta1"], group, layer_map_of(s["config"]))
    rolled = {**s["theta1"], **{k: s["theta0"][k] for k in keys}}
    ref = hf_metrics(s["model_dir"], rolled, s["train"], torch.sort(torch.arange(24)).values)
    assert eng.evaluate(-1.0, 0.0)["train_loss"] == pytest.approx(ref["loss"], rel=1e-5)
    fine = hf_metrics(s["model_dir"], s["theta1"], s["train"], torch.arange(24))
    assert eng.evaluate(0.0, 0.0)["train_loss"] == pytest.approx(fine["loss"], rel=1e-5)


def test_rollback_table_resets_exactly_one_group(setup):
    s = setup
    groups = {"low": [0, 0], "mid": [1, 1], "high": [2, 2]}
    rows = rollback_rows(s["model_dir"], s["dir"] / "theta0.safetensors", s["dir"] / "theta1.safetensors", s["dev"], groups, 160, 3)
    assert [r["group"] for r in rows] == ["none", "low", "mid", "high"]
    full = hf_metrics(s["model_dir"], s["theta1"], s["dev"], torch.arange(20))
    assert rows[0]["dev_acc"] == full["acc"]
    keys = layer_keys(s["theta1"], [1, 1], layer_map_of(s["config"]))
    assert keys and all(".layer.1." in k for k in keys)
    mid = hf_metrics(s["model_dir"], {**s["theta1"], **{k: s["theta0"][k] for k in keys}}, s["dev"], torch.arange(20))
    assert rows[2]["dev_acc"] == mid["acc"] and rows[2]["delta"] == pytest.approx(mid["acc"] - full["acc"])


def test_head_is_never_varied(setup):
    s = setup
    eng, _ = build_engine("surface", s["config"], s["dir"] / "theta0.safetensors", s["dir"] / "theta1.safetensors",
                          s["dir"] / "dirs.safetensors", s["batches"])
    assert not any(k.startswith("cls.") for k in eng.d1)
    assert torch.equal(eng.base["cls.w"], s["theta1"]["classifier.weight"])
    eng.evaluate(3.0, -2.0)
    assert torch.equal(eng.base["cls.w"], s["theta1"]["classifier.weight"])


def test_nonfinite_losses_are_stored_and_counted(tmp_path):
    from bertscape.h5io import Grid

    v = np.array([[1.0, np.nan], [np.inf, 2.0]])
    write_grid(tmp_path / "g.h5", Grid("surface", np.array([0.0, 1.0]), np.array([0.0, 1.0]), {"train_loss": v},
                                       np.ones((2, 2), bool)))
    g = read_grid(tmp_path / "g.h5")
    assert g.attrs["nonfinite_train_loss"] == 2 and np.isnan(g.values["train_loss"][0, 1])


def test_cross_entropy_is_mean_over_examples(setup):
    s = setup
    eng = BertLandscape(s["config"], s["theta1"], s["d1"], None, s["batches"])
    logits = torch.cat([lg for lg, b in zip(eng.logits(0.0), eng.batches) if b.set_name == "dev"])
    labels = torch.cat([b.labels for b in eng.batches if b.set_name == "dev"])
    assert eng.evaluate(0.0)["dev_loss"] == pytest.approx(float(F.cross_entropy(logits, labels)), rel=1e-6)


def test_fp32_is_the_default_and_bf16_engine_stays_within_budget(setup):
    """The bf16 engine (weights summed in fp32, rounded once to bf16; bf16 matmuls, fp32 layer norms and loss)
    against the fp32 engine at sample points, including far from the anchors (CPU here, same code on GPU)."""
    s = setup
    args = (s["config"], s["dir"] / "theta0.safetensors", s["dir"] / "theta1.safetensors", s["dir"] / "dirs.safetensors",
            s["batches"])
    fp32, _ = build_engine("surface", *args)
    assert fp32.dtype == "fp32" and not fp32.low_buf and fp32.device.type in ("cpu", "cuda")
    bf16, _ = build_engine("surface", *args, dtype="bf16")
    assert {v.dtype for v in bf16.low_buf.values()} == {torch.bfloat16}
    for a, b in [(0.0, 0.0), (1.0, 0.0), (-2.0, 1.5), (0.7, -1.3)]:
        x, y = fp32.evaluate(a, b), bf16.evaluate(a, b)
        assert y["train_loss"] != x["train_loss"]  # bf16 really changed the arithmetic
        assert abs(y["train_loss"] - x["train_loss"]) <= 0.005 * abs(x["train_loss"])  # eval.precision_budget
        assert abs(y["dev_loss"] - x["dev_loss"]) <= 0.005 * abs(x["dev_loss"])
        assert bf16.evaluate(a, b, dtype="fp32") == x  # the fp32 reference through the bf16 engine is the fp32 engine
    with pytest.raises(Exception, match="eval.dtype"):
        build_engine("surface", *args, dtype="int8")


@pytest.mark.parametrize("group", [[1, 1], [2, 2]])
def test_bf16_layer_surface_within_budget(setup, group):
    """Layer surfaces: cached fp32 layers below the group, bf16 varied layers and bf16 copies of fixed ones above."""
    s = setup
    args = ("layer_surface", s["config"], s["dir"] / "theta0.safetensors", s["dir"] / "theta1.safetensors",
            s["dir"] / "dirs.safetensors", s["batches"], group)
    fp32, bf16 = build_engine(*args)[0], build_engine(*args, dtype="bf16")[0]
    assert bf16.base_low or group == [2, 2]
    for a, b in [(0.0, 0.0), (-1.0, 0.0), (1.5, -2.0)]:
        x, y = fp32.evaluate(a, b)["train_loss"], bf16.evaluate(a, b)["train_loss"]
        assert x != y and abs(x - y) <= 0.005 * abs(x)


def test_engine_keeps_private_copies_not_views_of_the_loaded_files(setup):
    """Tensors read with safetensors are mmap views: an engine holding them would keep every touched page
    of both files resident for the whole grid."""
    from bertscape.io import load_tensors

    s = setup
    base = load_tensors(s["dir"] / "theta0.safetensors")
    dirs = load_tensors(s["dir"] / "dirs.safetensors")
    eng = BertLandscape(s["config"], base, *split(dirs), s["batches"])
    loaded = {v.untyped_storage().data_ptr() for v in (*base.values(), *dirs.values())}
    held = [v.untyped_storage().data_ptr() for st in (eng.base, eng.d1, eng.d2) for v in st.values()]
    assert held and not loaded.intersection(held)
