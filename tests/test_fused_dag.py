"""train.fused in the DAG (issue 29): which runs a group holds, a plan with train.fused that has one
train_group job per group and no train job, and a group job killed mid-epoch that a rerun finishes exactly
where the uninterrupted group job ends (its runs' per-run files where rule train writes them)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO
from test_seeds import TINY, plans_of

from bertscape.io import load_tensors
from bertscape.traingroups import train_groups
from bertscape.trainrun import epoch_columns

LABELS = {"MNLI": 3, "MRPC": 2, "RTE": 2, "STSB": 1}


def test_a_group_shares_the_head_s_shape_keeps_long_runs_apart_and_respects_the_cap():
    runs = [(s, t, i) for s in (7, 8, 9) for t in ("MRPC", "MNLI", "RTE") for i in ("finetune", "scratch")]
    runs += [(s, "MRPC", "long") for s in (7, 8, 9)]
    groups = train_groups(runs, LABELS, 4)
    assert sorted(r for g in groups.values() for r in g) == sorted(runs)  # every run once
    for g in groups.values():
        assert len(g) <= 4
        assert len({LABELS[t] for _, t, _ in g}) == 1 and len({i == "long" for _, _, i in g}) == 1
    sizes = sorted(len(g) for g in groups.values())
    # 2 labels: 12 runs -> 4 + 4 + 4; 3 labels: 6 -> 3 + 3; long: 3
    assert sizes == [3, 3, 3, 4, 4, 4]
    first = groups["g0"]  # the seeds of one task's run side by side (2 labels sort before 3)
    assert first[:3] == [(7, "MRPC", "finetune"), (8, "MRPC", "finetune"), (9, "MRPC", "finetune")]
    assert train_groups(runs, LABELS, 4) == groups  # a fixed order: the same rules at every parse
    assert all(len(g) == 1 for g in train_groups(runs, LABELS, 1).values())


def test_the_fused_plan_has_group_jobs_and_no_train_job(tmp_path):
    long = {"task": "MRPC", "extra_epochs": 1}
    plans = plans_of(tmp_path, {"separate": {}, "fused": {"train": {"fused": True, "long_run": long}},
                                "one_each": {"train": {"fused": True, "fused_max": 1, "long_run": long},
                                             "seeds": [7, 8]}})
    rules = {k: [r for r, _ in v] for k, v in plans.items()}
    assert rules["separate"].count("train") == 6 and not any(r.startswith("train_group") for r in rules["separate"])
    assert "train" not in rules["fused"]
    # tiny: MNLI (3 labels) finetune + scratch, MRPC (2 labels) finetune + scratch, MRPC's long runs (long,
    # long_scratch) apart
    assert sorted(r for r in rules["fused"] if r.startswith("train_group")) == [f"train_group_g{i}" for i in range(3)]
    assert "train" not in rules["one_each"] and sum(r.startswith("train_group") for r in rules["one_each"]) == 12
    rest = lambda rs: sorted(r for r in rs if r != "train" and not r.startswith("train_group"))
    assert rest(rules["fused"]) == rest(rules["separate"])  # every other job unchanged


def test_epochs_tsv_has_one_column_order_resumed_or_not():
    """A resume state's records come back from JSON with sorted keys; epochs.tsv's columns must not follow them
    (the kill test below found it: the resumed run's epochs.tsv had its columns sorted)."""
    fresh = {"epoch": 0, "train_loss": 1.0, "dev_loss": 0.5, "dev_acc": 0.5, "dev_mcc": 0.0, "dev_f1": 0.6}
    resumed = dict(sorted(fresh.items()))
    assert list(resumed) != list(fresh) and epoch_columns(resumed) == epoch_columns(fresh) == list(fresh)
    reg = {"epoch": 0, "train_loss": 1.0, "dev_loss": 0.5, "dev_pearson": 0.1, "dev_spearman": 0.2, "dev_mse": 0.5}
    assert epoch_columns(dict(sorted(reg.items()))) == list(reg)


RUNS = ("finetune", "scratch")  # MRPC's: one group of 2 runs, 2 steps an epoch, 2 epochs each


def smk(results: Path, config: Path) -> subprocess.Popen:
    """Snakemake on the tiny config (train.fused), MRPC's two runs of seed 7 (--nolock: a killed Snakemake
    leaves its lock on the working directory; the targets here are this test's own)."""
    targets = [str(results / "seed7" / "train" / "MRPC" / i / "epochs.tsv") for i in RUNS]
    return subprocess.Popen([sys.executable, "-m", "snakemake", "--configfile", str(config), "--cores", "1",
                             "--config", f"results={results}", "--rerun-incomplete", "--nolock", *targets], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})


def finished(p: subprocess.Popen) -> None:
    _, err = p.communicate(timeout=900)
    assert p.returncode == 0, err[-3000:]


@pytest.mark.slow
def test_a_group_job_killed_mid_epoch_resumes_to_the_uninterrupted_files(tmp_path):
    """kill -9 of the whole job (Snakemake and the group's script) once both runs have committed epoch 1 and
    before either publishes: the rerun (Snakemake reruns the incomplete job) resumes each run from its own
    resume state, and every file each run publishes equals the uninterrupted group job's, byte for byte."""
    config = tmp_path / "fused.yaml"
    config.write_text(yaml.safe_dump({**TINY, "train": {**TINY["train"], "fused": True}}))
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    finished(smk(ref, config))
    p = smk(cut, config)
    resume = [cut / "seed7" / "train" / "MRPC" / i / ".resume" / "epoch1.safetensors" for i in RUNS]
    t0 = time.time()
    while not all(r.exists() for r in resume) and p.poll() is None and time.time() - t0 < 900:
        time.sleep(0.02)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    for i in RUNS:
        assert not (cut / "seed7" / "train" / "MRPC" / i / "epochs.tsv").exists(), "killed after it finished"
    finished(smk(cut, config))
    for i in RUNS:
        a, b = (d / "seed7" / "train" / "MRPC" / i for d in (ref, cut))
        files = sorted(f.relative_to(a) for f in a.rglob("*") if f.is_file() and not f.name.endswith(".json"))
        assert {str(f) for f in files} >= {"checkpoints/epoch0.safetensors", "checkpoints/epoch2.safetensors",
                                           "steps.tsv", "epochs.tsv", "displacements.tsv"}
        assert sorted(f.relative_to(b) for f in b.rglob("*") if f.is_file() and not f.name.endswith(".json")) == files
        for f in files:  # (a checkpoint's metadata holds its job's provenance: times, paths)
            if f.suffix == ".safetensors":
                x, y = load_tensors(a / f), load_tensors(b / f)
                assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), f
            else:
                assert (a / f).read_bytes() == (b / f).read_bytes(), f
        assert not (b / ".resume").exists()
