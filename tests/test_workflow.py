"""The Snakemake workflow: plans, validates config first, and runs end to end on the tiny config."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from bertscape.h5io import read_grid

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def smk(*args, cwd=REPO, timeout=1800):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def test_paper_config_plans_the_full_dag():
    r = smk("-n", "--quiet", "rules")
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout + r.stderr
    for rule in ("fetch_model", "prepare_data", "tokenize", "scratch_init", "train", "directions", "curve", "surface_shard",
                 "surface_gather", "trajectory", "layer_shard", "layer_gather", "rollback", "figure", "table1", "summary"):
        assert rule in out
    # 4 tasks x (finetune, scratch) + the MRPC 5+20 run; 41 shards per surface
    assert any(line.split()[:2] == ["train", "9"] for line in out.splitlines())
    assert any(line.split()[:2] == ["surface_shard", str(8 * 41)] for line in out.splitlines())


@pytest.mark.parametrize("change, key", [
    ({"tasks": {"MNLI": {"other_task": "MNLI"}}}, "tasks.MNLI.other_task"),
    ({"grid": {"min": 4, "max": -4, "points": 5}}, "grid.min"),
    ({"tasks": {"XNLI": {"other_task": "MNLI"}}}, "tasks"),
    ({"tasks": {"MNLI": {"other_task": "MRPC", "lr": 0}}}, "tasks.MNLI.lr"),
])
def test_bad_config_is_one_line_naming_the_key(tmp_path, change, key):
    base = yaml.safe_load((REPO / "config" / "tiny.yaml").read_text())
    for k, v in change.items():
        base[k] = v
    base["results"] = str(tmp_path / "out")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(base))
    r = smk("-n", "--configfile", str(tmp_path / "c.yaml"))
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("bertscape:")]
    assert len(lines) == 1 and f"config key {key}" in lines[0], r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_tiny_end_to_end_run(tmp_path):
    out = tmp_path / "results"
    r = smk("--configfile", "config/tiny.yaml", "--config", f"results={out}", "--cores", "2", timeout=1500)
    assert r.returncode == 0, (r.stdout + r.stderr)[-5000:]
    figs = ["fig1_train_loss_surfaces", "fig2_training_curves", "fig3_trajectories", "fig4_long_run", "fig5_curves",
            "fig6_dev_error_surfaces", "fig7_layer_surfaces", "table1_rollback"]
    for f in figs:
        for ext in ("png", "pdf"):
            assert (out / "figures" / f"{f}.{ext}").stat().st_size > 1000
    assert "| MRPC |" in (out / "figures" / "table1_rollback.md").read_text()
    surf = read_grid(out / "surfaces" / "MRPC" / "finetune.h5")
    assert surf.kind == "surface" and surf.done.all() and surf.values["train_loss"].shape == (5, 5)
    assert surf.value_at("train_loss", 0, 0) == surf.anchors["start"]["train_loss"]
    assert surf.value_at("dev_error", 1, 0) == surf.anchors["end"]["dev_error"]
    assert {"task", "init", "norm_delta1", "cos_delta1_delta2", "provenance", "n_train_subset", "seed"} <= set(surf.attrs)
    layer = read_grid(out / "layers" / "MRPC" / "high.h5")
    assert layer.kind == "layer_surface" and set(layer.anchors) == {"finetuned", "rollback"}
    assert (out / "summary.md").read_text().startswith("# bertscape run summary")
    # lineage: the figure traces back to the packaged model; tampering is detected
    from bertscape.cli import main as cli

    fig1 = str(out / "figures" / "fig1_train_loss_surfaces.png")
    assert cli(["audit", "--verify", fig1]) == 0
    from bertscape.audit import lineage

    flat = json.dumps(lineage(fig1), default=str)
    assert "model.safetensors" in flat and "surface_shard" in flat and "prepare_data" in flat
    # nothing left to do on a second invocation
    again = smk("--configfile", "config/tiny.yaml", "--config", f"results={out}", "--cores", "2", "-n")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr, again.stdout[-3000:]
    rows = out / "data" / "MRPC" / "dev.jsonl"
    rows.write_text(rows.read_text().replace('"label": 0', '"label": 1', 1))
    assert cli(["audit", "--verify", fig1]) == 1
