"""The precision policy (auto -> bf16 only on native-bf16 hardware) and the accuracy contract of grids."""
import numpy as np
import pytest

import bertscape.precision as prec
from bertscape import BertscapeError
from bertscape.accuracy import check, merge, pick_nodes
from bertscape.h5io import gather, read_grid, write_grid
from bertscape.surfaces import build_engine, evaluate_shard, points, shard_grid
from test_landscape import setup  # noqa: F401  (the module fixture)


def test_cpu_flags_decide_native_bf16(tmp_path):
    yes, no = tmp_path / "amx", tmp_path / "old"
    yes.write_text("processor: 0\nflags\t\t: fpu sse avx512f amx_bf16 amx_tile\n")
    no.write_text("processor: 0\nflags\t\t: fpu sse avx2 avx512f\n")
    assert prec.cpu_has_bf16(yes) and not prec.cpu_has_bf16(no) and not prec.cpu_has_bf16(tmp_path / "missing")


def test_auto_resolves_to_fp32_when_the_capability_check_says_no(monkeypatch):
    monkeypatch.setattr(prec, "cpu_has_bf16", lambda *a: False)
    assert prec.resolve("auto", "cpu") == "fp32"
    monkeypatch.setattr(prec, "cpu_has_bf16", lambda *a: True)
    assert prec.resolve("auto", "cpu") == "bf16"
    assert prec.resolve("fp32", "cpu") == "fp32" and prec.resolve("bf16", "cpu") == "bf16"
    with pytest.raises(BertscapeError, match="config key train.dtype: tf32 needs a CUDA device"):
        prec.resolve("tf32", "cpu", "train.dtype")
    with pytest.raises(BertscapeError, match="config key eval.dtype: 'int8'"):
        prec.resolve("int8", "cpu")


def test_auto_engine_is_fp32_without_native_bf16(setup, monkeypatch):  # noqa: F811
    s = setup
    monkeypatch.setattr(prec, "cpu_has_bf16", lambda *a: False)
    eng, _ = build_engine("curve", s["config"], s["dir"] / "theta0.safetensors", s["dir"] / "theta1.safetensors",
                          s["dir"] / "dirs.safetensors", s["batches"], dtype="auto")
    assert eng.dtype == "fp32" and not eng.low_buf and eng.device.type == "cpu"


def test_seeded_nodes_include_the_anchors():
    names = [f"g{i}_{j}" for i in range(5) for j in range(5)] + ["anchor:start", "anchor:end"]
    a = pick_nodes(names, 3, 7)
    assert a[:2] == ["anchor:start", "anchor:end"] and len(a) == 5 and a == pick_nodes(names, 3, 7)
    assert pick_nodes(names, 3, 8) != a


def _shard(s, dtype, path, k=0, n=1):
    eng, _ = build_engine("surface", s["config"], s["dir"] / "theta0.safetensors", s["dir"] / "theta1.safetensors",
                          s["dir"] / "dirs.safetensors", s["batches"], dtype=dtype)
    alpha = np.linspace(-2, 2, 5)
    values = evaluate_shard(eng, "surface", alpha, alpha, k, n, path.with_suffix(".json"), "key", progress=False)
    coords = {x: (a, b) for x, a, b in points("surface", alpha, alpha)}
    return eng, alpha, values, coords


def test_bf16_shard_records_its_fp32_deviation(setup, tmp_path):  # noqa: F811
    s = setup
    paths = []
    for k in range(2):
        out = tmp_path / f"shard{k}.h5"
        eng, alpha, values, coords = _shard(s, "bf16", out, k, 2)
        attrs = check(eng, values, coords, 3, 100 + k, 0.005, out)
        assert attrs["precision"] == "bf16" and len(attrs["precision_nodes"]) == 3 + 1  # one anchor per shard
        for m in ("train_loss", "dev_loss", "dev_error", "train_acc"):
            assert f"precision_max_abs_{m}" in attrs and f"precision_max_rel_{m}" in attrs
        assert 0 < attrs["precision_max_rel_train_loss"] <= 0.005
        write_grid(out, shard_grid("surface", values, alpha, alpha, attrs))
        paths.append(out)
        back = read_grid(out).attrs
        assert back["precision_max_rel_train_loss"] == attrs["precision_max_rel_train_loss"]
        assert back["precision_nodes"] == attrs["precision_nodes"]
    merged = gather([str(p) for p in paths], tmp_path / "surface.h5").attrs
    shards = [read_grid(p).attrs for p in paths]
    assert merged["precision_max_rel_train_loss"] == max(a["precision_max_rel_train_loss"] for a in shards)
    assert len(merged["precision_nodes"]) == sum(len(a["precision_nodes"]) for a in shards)
    assert merge(shards)["precision_worst_node"] in merged["precision_nodes"]


def test_budget_below_the_real_deviation_fails_with_one_line(setup, tmp_path):  # noqa: F811
    s = setup
    out = tmp_path / "surface.h5"
    eng, _, values, coords = _shard(s, "bf16", out)
    real = check(eng, values, coords, 3, 5, 1.0, out)["precision_max_rel_train_loss"]
    with pytest.raises(BertscapeError) as e:
        check(eng, values, coords, 3, 5, real / 2, out)
    msg = str(e.value)
    assert "\n" not in msg and str(out) in msg and "node " in msg and "relative deviation" in msg
    assert "eval.precision_budget" in msg


def test_fp32_shard_records_zero_deviation(setup, tmp_path):  # noqa: F811
    s = setup
    eng, _, values, coords = _shard(s, "fp32", tmp_path / "s.h5")
    attrs = check(eng, values, coords, 3, 5, 0.005, tmp_path / "s.h5")
    assert attrs["precision"] == "fp32" and attrs["precision_nodes"] == [] and attrs["precision_max_rel_train_loss"] == 0


def test_gpu_check_parses_and_runs_tiny_on_cpu():
    """benchmarks/gpu_check.sh runs on GPU nodes only; here: bash accepts it and its Python part runs small."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert subprocess.run(["bash", "-n", str(root / "benchmarks" / "gpu_check.sh")]).returncode == 0
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "gpu_check.py"), "--tiny"], capture_output=True,
                         text=True, timeout=300, env={**__import__("os").environ, "PYTHONPATH": str(root / "src")})
    assert out.returncode == 0, out.stderr[-500:]
    assert "bf16" in out.stdout and "points/s" in out.stdout
