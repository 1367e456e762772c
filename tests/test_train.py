"""Training: a checkpoint per epoch, determinism, exact resume after a kill, scratch init shared."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import random_data

import bertscape.train as tr
from bertscape.io import load_tensors
from bertscape.modeling import build_model, scratch_encoder_state
from bertscape.store import CheckpointStore
from bertscape.train import TrainSpec, lr_at, train

# the fast path: fused AdamW, length-bucketed batches, bf16 autocast (all resume tests below run it)
SPEC = TrainSpec(epochs=3, batch_size=8, lr=1e-3, seed=3, eval_batch_tokens=256, dtype="bf16", batching="bucketed")


def run(model_dir, out, spec=SPEC, identity="x", storage="fp32"):
    model = build_model(model_dir, 2, "finetune", spec.seed)
    paths = [str(out / f"epoch{e}.safetensors") for e in range(spec.epochs + 1)]
    store = CheckpointStore(paths, out / ".resume", identity=identity, storage=storage)
    steps, epochs = train(model, random_data(30, 120, 16, 2, 0), random_data(10, 120, 16, 2, 1), spec, store,
                          progress=False)
    return paths, steps, epochs


def test_checkpoint_per_epoch_and_logs(tiny_bert_dir, tmp_path):
    paths, steps, epochs = run(tiny_bert_dir, tmp_path)
    assert len(steps) == 3 * 4 and [e["epoch"] for e in epochs] == [0, 1, 2, 3]
    theta0 = load_tensors(paths[0])
    fresh = build_model(tiny_bert_dir, 2, "finetune", SPEC.seed).state_dict()
    assert all(torch.equal(theta0[k], fresh[k]) for k in fresh)  # epoch 0 is theta0
    assert not torch.equal(load_tensors(paths[3])["classifier.weight"], theta0["classifier.weight"])


def test_same_seed_same_weights(tiny_bert_dir, tmp_path):
    a, _, ea = run(tiny_bert_dir, tmp_path / "a")
    b, _, eb = run(tiny_bert_dir, tmp_path / "b")
    wa, wb = load_tensors(a[-1]), load_tensors(b[-1])
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert [e["dev_loss"] for e in ea] == [e["dev_loss"] for e in eb]


def test_killed_run_resumes_to_identical_weights(tiny_bert_dir, tmp_path, monkeypatch):
    ref, ref_steps, _ = run(tiny_bert_dir, tmp_path / "ref")
    real = tr.epoch_batches

    def dies_in_epoch_3(data, spec, epoch):
        for i, batch in enumerate(real(data, spec, epoch)):
            if epoch == 3 and i == 2:
                raise KeyboardInterrupt  # kill -9 mid-epoch, as far as the run's files are concerned
            yield batch

    monkeypatch.setattr(tr, "epoch_batches", dies_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        run(tiny_bert_dir, tmp_path / "cut")
    assert not (tmp_path / "cut" / "epoch3.safetensors").exists()  # nothing that looks complete
    monkeypatch.setattr(tr, "epoch_batches", real)
    resumed_epochs = []

    class Bar(list):
        def __init__(self, it, **kw):
            resumed_epochs.append(kw["desc"])
            super().__init__(it)

        def set_postfix(self, **kw):
            pass

    monkeypatch.setattr(tr, "tqdm", Bar)
    cut, cut_steps, _ = run(tiny_bert_dir, tmp_path / "cut")
    assert resumed_epochs == ["epoch 3/3"]  # epochs 1-2 were not redone
    wa, wb = load_tensors(ref[-1]), load_tensors(cut[-1])
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert ref_steps == cut_steps


@pytest.mark.parametrize("storage", ["fp32", "fp16_delta"])
def test_sigkill_mid_epoch_then_rerun_equals_an_uninterrupted_run(tiny_bert_dir, tmp_path, storage):
    """A real kill -9 of a training process in the middle of epoch 2; the rerun resumes to the same weights."""
    ref, _, _ = run(tiny_bert_dir, tmp_path / "ref")
    child = f"""
import pathlib, sys, time
sys.path.insert(0, {str(Path(__file__).parent)!r})
import bertscape.train as tr
import test_train as T
real = tr.epoch_batches
def slow(data, spec, epoch):
    for i, b in enumerate(real(data, spec, epoch)):
        if epoch == 2 and i == 2:
            print("mid-epoch-2", flush=True)
            time.sleep(120)
        yield b
tr.epoch_batches = slow
T.run(pathlib.Path({str(tiny_bert_dir)!r}), pathlib.Path({str(tmp_path / "cut")!r}), storage={storage!r})
"""
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "mid-epoch-2"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    cut = tmp_path / "cut"
    # killed after epoch 1's resume state was saved; no output checkpoint is published before the run ends
    assert (cut / ".resume" / "epoch1.safetensors").exists() and not (cut / ".resume" / "epoch2.safetensors").exists()
    assert [p.name for p in (cut / ".resume").glob("optim*")] == ["optim1.safetensors"]  # the moments of epoch 1 only
    assert not list(cut.glob("epoch*.safetensors"))
    paths, _, _ = run(tiny_bert_dir, cut, storage=storage)
    wa, wb = load_tensors(ref[-1]), load_tensors(paths[-1])
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not (cut / ".resume").exists()  # finished and published: no resume state, no optimiser moments left


def test_resume_state_of_another_run_is_never_used(tiny_bert_dir, tmp_path):
    run(tiny_bert_dir, tmp_path, identity="data-v1")
    other = TrainSpec(epochs=3, batch_size=8, lr=5e-4, seed=3, eval_batch_tokens=256, dtype="bf16", batching="bucketed")
    p_other, _, _ = run(tiny_bert_dir, tmp_path, spec=other, identity="data-v1")
    p_ref, _, _ = run(tiny_bert_dir, tmp_path / "clean", spec=other, identity="data-v1")
    assert torch.equal(load_tensors(p_other[-1])["classifier.weight"], load_tensors(p_ref[-1])["classifier.weight"])


def test_scratch_runs_share_theta0_encoder(tiny_bert_dir):
    s1, s2 = scratch_encoder_state(tiny_bert_dir, 5), scratch_encoder_state(tiny_bert_dir, 5)
    assert all(torch.equal(s1[k], s2[k]) for k in s1) and all(k.startswith("bert.") for k in s1)
    a = build_model(tiny_bert_dir, 2, "scratch", 1, s1).state_dict()
    b = build_model(tiny_bert_dir, 3, "scratch", 1, s1).state_dict()  # another task, other label count
    assert all(torch.equal(a[k], b[k]) for k in s1)
    pre = build_model(tiny_bert_dir, 2, "finetune", 1).state_dict()
    assert not torch.equal(a["bert.encoder.layer.0.attention.self.query.weight"],
                           pre["bert.encoder.layer.0.attention.self.query.weight"])


def test_linear_warmup_then_decay():
    spec = TrainSpec(epochs=1, batch_size=1, lr=1.0, warmup_ratio=0.1)
    lrs = [lr_at(s, 100, spec) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0) and lrs[99] == pytest.approx(1 / 90)
    assert all(x >= y for x, y in zip(lrs[9:], lrs[10:]))


def test_bucketed_batches_cover_every_example_once_with_less_padding():
    data = random_data(300, 120, 40, 2, 0)
    spec = {"epochs": 1, "batch_size": 8, "lr": 1e-3, "seed": 3}
    rand, buck = TrainSpec(**spec, batching="random"), TrainSpec(**spec, batching="bucketed")
    for e in (1, 2):
        a, b = tr.epoch_order(data, rand, e), tr.epoch_order(data, buck, e)
        assert len(a) == len(b) == 38 and sorted(torch.cat(b).tolist()) == list(range(300))
        assert tr.epoch_order(data, buck, e)[0].tolist() == b[0].tolist()  # seeded
        padded = lambda order, r: sum(len(i) * min(40, -(-int(data["lengths"][i].max()) // r) * r) for i in order)
        assert padded(b, tr.ROUND) < 0.75 * padded(a, 1)
    assert tr.epoch_order(data, buck, 1)[0].tolist() != tr.epoch_order(data, buck, 2)[0].tolist()


def test_bf16_training_follows_the_fp32_losses(tiny_bert_dir, tmp_path):
    """bf16 autocast changes the arithmetic, not the run: per-step losses stay close to fp32's."""
    fp = TrainSpec(**{**SPEC.__dict__, "dtype": "fp32"})
    _, s32, _ = run(tiny_bert_dir, tmp_path / "fp32", spec=fp)
    _, s16, _ = run(tiny_bert_dir, tmp_path / "bf16")
    l32, l16 = [x["loss"] for x in s32], [x["loss"] for x in s16]
    assert l32 != l16 and max(abs(x - y) / x for x, y in zip(l32, l16)) < 0.05
