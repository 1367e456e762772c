"""Fault injection: what clusters do to a run (issue 28).

A full disk, a stop signal mid-epoch and mid-shard, damaged checkpoints and shards, and restrictive or
permissive umasks. Each checks the message the user sees (one line naming the file, no traceback), that
nothing partial is left, and that a rerun ends with results identical to an uninterrupted run.
"""
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import random_data

import bertscape.train as tr
from bertscape import preempt
from bertscape.cli import main as cli
from bertscape.h5io import Grid, read_grid, write_grid
from bertscape.io import atomic_path, load_tensors, read_json, save_tensors, write_json, write_jsonl, write_tsv
from bertscape.modeling import build_model
from bertscape.runner import run as run_job
from bertscape.store import CheckpointStore
from bertscape.surfaces import evaluate_shard, points
from bertscape.train import TrainSpec, train

SPEC = TrainSpec(epochs=3, batch_size=8, lr=1e-3, seed=3, eval_batch_tokens=256, dtype="bf16", batching="bucketed")
TRAIN, DEV = random_data(30, 120, 16, 2, 0), random_data(10, 120, 16, 2, 1)  # 4 steps an epoch


def fit(model_dir, out, storage="fp32"):
    """Train as a job does (one thread: Smk.threads): runs split across processes compare bit for bit."""
    torch.set_num_threads(1)  # (conftest restores the count after each test)
    model = build_model(model_dir, 2, "finetune", SPEC.seed)
    paths = [str(out / f"epoch{e}.safetensors") for e in range(SPEC.epochs + 1)]
    with preempt.watch():
        steps, epochs = train(model, TRAIN, DEV, SPEC, CheckpointStore(paths, out / ".resume", storage=storage),
                              progress=False)
    return paths, steps, epochs


def same_checkpoints(a: list[str], b: list[str]) -> bool:
    """The same published files (full and delta), byte for byte."""
    a, b = (sorted(Path(p[0]).parent.glob("*.safetensors")) for p in (a, b))
    return [x.name for x in a] == [y.name for y in b] and all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b))


def same_records(a: list[dict], b: list[dict]) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # (epoch 0's train_loss is NaN)


@pytest.fixture(scope="module")
def reference(tiny_bert_dir, tmp_path_factory):
    """The uninterrupted run every interrupted one must equal, bit for bit."""
    return fit(tiny_bert_dir, tmp_path_factory.mktemp("ref"))


class Smk:
    """The few attributes of Snakemake's ``snakemake`` object that bertscape.runner.run reads."""

    def __init__(self, log, rule="faulty", **inputs):
        self.input, self.output, self.params, self.wildcards = _NL(inputs), _NL({}), _NL({}), _NL({})
        self.log, self.threads, self.rule, self.config = [str(log)], 1, rule, {}


class _NL(dict):
    __getattr__ = dict.__getitem__


def job(log, main, capfd, **inputs) -> tuple[int, str]:
    """Run ``main`` as a Snakemake job would be run: (exit status, what the user sees on stderr)."""
    saved = sys.stdout, sys.stderr
    try:
        run_job(Smk(log, **inputs), main)
        code = 0
    except SystemExit as e:
        code = e.code
    finally:
        sys.stdout, sys.stderr = saved
    return code, capfd.readouterr().err


def one_line(err: str, *words) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(w in lines[0] for w in words), (lines[0], words)
    return lines[0]


# -- permissions ---------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_every_written_file_and_folder_has_the_mode_the_umask_allows(tiny_bert_dir, tmp_path, mask):
    from matplotlib.figure import Figure

    from bertscape.figures.save import save_figure
    from bertscape.vtk import write_vtk

    out = tmp_path / "results"
    grid = Grid("surface", np.arange(3.0), np.arange(2.0), {"train_loss": np.ones((3, 2))}, np.ones((3, 2), bool))
    with umask(mask):
        write_json(out / "a" / "b" / "x.json", {"k": 1})
        write_jsonl(out / "x.jsonl", [{"k": 1}])
        write_tsv(out / "x.tsv", [{"k": 1}])
        save_tensors(out / "x.safetensors", {"w": torch.ones(3)})
        write_grid(out / "x.h5", grid)
        write_vtk(out / "x.vtk", grid)
        save_figure(Figure(), [out / "f" / "x.png", out / "f" / "x.svg"])
        fit(tiny_bert_dir, out / "ckpts")  # resume folder, checkpoints published by hard link
    files = [p for p in out.rglob("*") if p.is_file()]
    dirs = [p for p in out.rglob("*") if p.is_dir()]
    assert len(files) >= 11 and dirs
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(0o666 & ~mask)}, \
        sorted((oct(p.stat().st_mode & 0o777), p.name) for p in files)
    assert {oct(p.stat().st_mode & 0o777) for p in dirs} == {oct(0o777 & ~mask)}


# -- a full disk ----------------------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs where mounting is allowed (root, no container restriction), else None."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)]
    ok = os.geteuid() == 0 and subprocess.run(mount, capture_output=True).returncode == 0
    yield mnt if ok else None
    if ok:
        subprocess.run(["umount", str(mnt)], check=True)


def test_full_disk_is_one_line_nothing_partial_and_a_rerun_completes(small_disk, tmp_path, capfd, monkeypatch):
    big = {"w": torch.arange(100_000, dtype=torch.float32)}  # 400 kB: more than the disk holds
    where = small_disk or tmp_path / "disk"
    if small_disk is None:  # no tmpfs: what safetensors raises on a full disk, after writing part of the file
        import safetensors.torch as st
        from safetensors import SafetensorError

        def full(tensors, filename, metadata=None):
            Path(filename).write_bytes(b"\0" * 1000)
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

        monkeypatch.setattr(st, "save_file", full)
    out = where / "out" / "epoch3.safetensors"
    code, err = job(tmp_path / "job.log", lambda j: save_tensors(out, big), capfd)
    assert code == 1
    one_line(err, "bertscape error:", str(out), "no space left on device")
    assert [p.name for p in where.rglob("*") if p.is_file()] == []  # no partial output, no temp file
    assert "Traceback" not in (tmp_path / "job.log").read_text()
    monkeypatch.undo()
    if small_disk is not None:
        subprocess.run(["mount", "-o", "remount,size=1m", str(small_disk)], check=True)  # space freed
    code, err = job(tmp_path / "job.log", lambda j: save_tensors(out, big), capfd)
    assert code == 0 and torch.equal(load_tensors(out)["w"], big["w"])


def test_os_errors_in_jobs_and_cli_are_one_line_naming_the_file(tmp_path, capfd):
    import errno

    def stale(j):
        raise OSError(errno.ESTALE, os.strerror(errno.ESTALE), str(tmp_path / "nfs" / "x.h5"))

    code, err = job(tmp_path / "job.log", stale, capfd)
    assert code == 1
    one_line(err, str(tmp_path / "nfs" / "x.h5"), "stale file handle")

    def quota(j):
        with atomic_path(tmp_path / "q" / "out.json") as tmp:
            tmp.write_text("{")
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))  # a write() names no file: the output is named

    code, err = job(tmp_path / "job.log", quota, capfd)
    assert code == 1
    one_line(err, str(tmp_path / "q" / "out.json"), "disk quota exceeded")
    assert list((tmp_path / "q").iterdir()) == []
    assert cli(["config-reference", "--schema", str(tmp_path)]) == 2  # a folder where a file was expected
    one_line(capfd.readouterr().err, f"bertscape: {tmp_path}: is a directory")


# -- a stop signal (time limit, preemption) -----------------------------------------------------------------------

def stop_at(monkeypatch, *calls):
    """SIGTERM this process during the given training steps (counted from 1 across runs)."""
    real, n = tr.task_loss, [0]

    def loss(*a, **kw):
        n[0] += 1
        if n[0] in calls:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*a, **kw)

    monkeypatch.setattr(tr, "task_loss", loss)


@pytest.mark.parametrize("storage", ["fp32", "fp16_delta"])
def test_sigterm_mid_epoch_saves_the_step_and_a_rerun_is_bit_identical(tiny_bert_dir, tmp_path, monkeypatch,
                                                                     reference, storage):
    ref = reference if storage == "fp32" else fit(tiny_bert_dir, tmp_path / "ref", storage)
    out = tmp_path / "cut"
    stop_at(monkeypatch, 6, 9)  # step 2 of epoch 2; then, in the rerun, step 1 of epoch 3
    for expect in (6, 9):
        with pytest.raises(preempt.Preempted) as e:
            fit(tiny_bert_dir, out, storage)
        assert "\n" not in str(e.value) and "SIGTERM" in str(e.value) and str(out / ".resume") in str(e.value)
        state = read_json(out / ".resume" / "state.json")
        assert state["mid"]["step"] == expect and len(state["steps"]) == expect
        assert [p.name for p in (out / ".resume").glob("step*")] == [f"step{expect}.safetensors"]
        assert not list(out.glob("epoch*.safetensors"))  # nothing published before the run ends
    paths, steps, epochs = fit(tiny_bert_dir, out, storage)
    assert same_checkpoints(ref[0], paths) and steps == ref[1] and same_records(epochs, ref[2])
    assert not (out / ".resume").exists()


def test_sigterm_from_outside_stops_a_training_job_with_one_line(tiny_bert_dir, tmp_path, reference):
    """A real SIGTERM from another process, to a job run the way Snakemake runs it."""
    out = tmp_path / "cut"
    child = f"""
import pathlib, sys, time
sys.path.insert(0, {str(Path(__file__).parent)!r})
import bertscape.train as tr, test_faults as T
from bertscape import preempt
real = tr.task_loss
def loss(*a, **kw):
    if not hasattr(loss, "n"):
        loss.n = 0
    loss.n += 1
    if loss.n == 7:
        print("mid-epoch-2", file=sys.__stdout__, flush=True)  # (the job log has stdout)
        for _ in range(600):
            if preempt.requested():
                break
            time.sleep(0.05)
    return real(*a, **kw)
tr.task_loss = loss
T.run_job(T.Smk({str(tmp_path / "job.log")!r}), lambda j: T.fit(pathlib.Path({str(tiny_bert_dir)!r}),
          pathlib.Path({str(out)!r})))
"""
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "mid-epoch-2"
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1
    one_line(err, "bertscape error: SIGTERM received", str(out / ".resume"))
    assert read_json(out / ".resume" / "state.json")["mid"]["step"] == 7
    paths, steps, _ = fit(tiny_bert_dir, out)
    assert same_checkpoints(reference[0], paths) and steps == reference[1]


class Engine:
    """A deterministic stand-in for the loss engine (the shard's resume logic is what is under test)."""

    def __init__(self, stop_at=None):
        self.calls, self.stop_at = 0, stop_at

    def evaluate(self, a, b):
        self.calls += 1
        if self.calls == self.stop_at:
            os.kill(os.getpid(), signal.SIGTERM)
        return {"train_loss": float(np.sin(a) + b * b), "train_acc": float(a - b)}


def test_sigterm_mid_shard_flushes_the_finished_nodes_and_a_rerun_does_only_the_rest(tmp_path):
    alpha = beta = np.linspace(-1, 1, 5)
    todo = len(points("surface", alpha, beta)[1::2])  # shard 1 of 2
    ref = evaluate_shard(Engine(), "surface", alpha, beta, 1, 2, tmp_path / "ref.partial.json", "k", progress=False)
    partial = tmp_path / ".s.h5.partial.json"
    with preempt.watch(), pytest.raises(preempt.Preempted) as e:
        evaluate_shard(Engine(stop_at=4), "surface", alpha, beta, 1, 2, partial, "k", progress=False)
    assert "\n" not in str(e.value) and str(partial) in str(e.value)
    assert len(read_json(partial)["values"]) == 4  # flushed at the stop, not only every 20 nodes
    again = Engine()
    with preempt.watch():
        values = evaluate_shard(again, "surface", alpha, beta, 1, 2, partial, "k", progress=False)
    assert again.calls == todo - 4 and values == ref


def test_outside_watch_sigterm_keeps_its_usual_effect():
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    with preempt.watch():
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and not preempt.requested()


# -- damaged inputs -------------------------------------------------------------------------------------------------

def damage(p: Path, how: str) -> None:
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2] if how == "truncated" else raw[:8] + b"\xff" * 16 + raw[24:])


@pytest.mark.parametrize("how", ["truncated", "corrupted"])
@pytest.mark.parametrize("kind", ["checkpoint", "shard", "json", "jsonl", "tsv"])
def test_damaged_input_is_one_line_naming_the_file(tmp_path, capfd, kind, how):
    from bertscape.io import read_jsonl, read_tsv

    write, read = {
        "checkpoint": (lambda p: save_tensors(p, {"w": torch.ones(1000)}), load_tensors),
        "shard": (lambda p: write_grid(p, Grid("surface", np.arange(4.0), np.arange(3.0),
                                               {"train_loss": np.ones((4, 3))}, np.ones((4, 3), bool))), read_grid),
        "json": (lambda p: write_json(p, {"values": {f"g{i}": i for i in range(20)}}), read_json),
        "jsonl": (lambda p: write_jsonl(p, [{"idx": i, "text_a": "a b"} for i in range(20)]), read_jsonl),
        "tsv": (lambda p: write_tsv(p, [{"epoch": i, "loss": 0.5} for i in range(20)]), read_tsv),
    }[kind]
    p = tmp_path / f"input.{kind}"
    write(p)
    damage(p, how)
    code, err = job(tmp_path / "job.log", lambda j: read(p), capfd)
    assert code == 1
    one_line(err, "bertscape error:", str(p))
    assert p.stat().st_size > 0 and len(list(tmp_path.iterdir())) == 2  # nothing written or removed beside it


def test_truncated_checkpoint_is_flagged_by_audit_verify(tiny_bert_dir, tmp_path, capfd):
    from bertscape.provenance import record, sidecar_path

    ckpt = tmp_path / "epoch3.safetensors"
    save_tensors(ckpt, {"w": torch.ones(1000)})
    out = tmp_path / "curve.json"
    write_json(out, {"v": 1})
    write_json(sidecar_path(out), record("curve", {}, {}, {"ckpt": [str(ckpt)]}, 0.0))
    assert cli(["audit", "--verify", str(out)]) == 0
    damage(ckpt, "truncated")
    capfd.readouterr()
    assert cli(["audit", "--verify", str(out)]) == 1
    assert str(ckpt) in capfd.readouterr().out
