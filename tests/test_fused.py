"""Fused training: a group of runs trained as one batched computation equals each run trained alone (fp32, with
and without dropout: to rounding; bf16: to bf16's), a run's dropout does not depend on its group, runs of
different lengths finish at their own last epochs, and a killed or preempted group resumes to exactly the
uninterrupted result."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import random_data, save_tiny

import bertscape.fused as fu
from bertscape import preempt
from bertscape.fused import Run, StackedAdamW, train_fused
from bertscape import BertscapeError
from bertscape.fusedmodel import Layout, StackedLinear, fuse, step_layout
from bertscape.io import load_tensors
from bertscape.modeling import batch_inputs, build_model
from bertscape.store import CheckpointStore
from bertscape.train import TrainSpec, train

# (seed, lr, data seed, examples, epochs, max length): lengths and step counts differ within the group
GROUP = [(1, 1e-3, 0, 30, 2, 16), (2, 5e-4, 1, 20, 3, 12), (3, 1e-3, 2, 30, 2, 16)]


def make(model_dir, out: Path, seed, lr, data_seed, n, epochs, max_len, dtype="fp32", dropout=True):
    spec = TrainSpec(epochs=epochs, batch_size=8, lr=lr, seed=seed, eval_batch_tokens=256, dtype=dtype,
                     batching="bucketed")
    model = build_model(model_dir, 2, "finetune", seed)
    if not dropout:
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
    paths = [str(out / f"epoch{e}.safetensors") for e in range(epochs + 1)]
    train_data, dev_data = random_data(n, 120, max_len, 2, data_seed), random_data(10, 120, max_len, 2, data_seed + 100)
    if getattr(model.config, "type_vocab_size", 2) < 2:  # RoBERTa: one segment type
        train_data["token_type_ids"].zero_(), dev_data["token_type_ids"].zero_()
    run = Run(model, train_data, dev_data, spec, CheckpointStore(paths, out / ".resume", identity="x"))
    return run, paths


def group(model_dir, out: Path, cfg=GROUP, **kw):
    made = [make(model_dir, out / f"run{j}", *c, **kw) for j, c in enumerate(cfg)]
    return [r for r, _ in made], [p for _, p in made]


def rel_diff(a_path, b_path, theta0_path) -> float:
    """||a - b|| / ||a - theta0|| over every tensor: the difference against how far training moved."""
    a, b, t0 = load_tensors(a_path), load_tensors(b_path), load_tensors(theta0_path)
    diff = sum(float(((a[k] - b[k]).double() ** 2).sum()) for k in a) ** 0.5
    move = sum(float(((a[k] - t0[k]).double() ** 2).sum()) for k in a) ** 0.5
    return diff / move


def max_abs(a_path, b_path) -> float:
    a, b = load_tensors(a_path), load_tensors(b_path)
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.fixture(scope="module")
def roberta_dir(tmp_path_factory):
    return save_tiny("roberta", tmp_path_factory.mktemp("tiny_roberta"))


def test_stacked_adamw_is_torch_adamw_per_run():
    """The same kernel on the same numbers: bit for bit the separate optimisers' weights and moments."""
    torch.manual_seed(0)
    lin = [torch.nn.Linear(5, 4) for _ in range(3)]
    stacked = torch.nn.Module()
    stacked.layer = StackedLinear(lin)
    lrs, wds = [1e-2, 3e-3, 0.0], [0.01, 0.1, 0.01]
    opt = StackedAdamW(stacked, wds)
    refs = [torch.optim.AdamW([{"params": [m.weight], "weight_decay": wd}, {"params": [m.bias], "weight_decay": 0.0}],
                              lr=lr, fused=True) for m, lr, wd in zip(lin, lrs, wds)]  # train.optimizer's groups
    for step in range(4):
        grads = [(torch.randn(4, 5), torch.randn(4)) for _ in lin]
        for m, (gw, gb) in zip(lin, grads):
            m.weight.grad, m.bias.grad = gw.clone(), gb.clone()
        stacked.layer.weight.grad = torch.stack([g[0].T for g in grads])  # stored (S, in, out)
        stacked.layer.bias.grad = torch.stack([g[1] for g in grads])
        active = [True, step != 2, True]  # run 1 skips a step: weights and moments untouched
        opt.step(lrs, active)
        for m, r, a in zip(lin, refs, active):
            if a:
                r.step()
    assert opt.t == [4, 3, 4]
    for s, m in enumerate(lin):
        assert torch.equal(stacked.layer.weight[s].T, m.weight) and torch.equal(stacked.layer.bias[s], m.bias)
    own = torch.nn.Module()
    own.layer = lin[1]  # run 1's own module, named as in the stacked one
    st = opt.run_state(own, 1)
    assert float(st[lin[1].weight]["step"]) == 3.0
    assert torch.equal(st[lin[1].weight]["exp_avg"], refs[1].state[lin[1].weight]["exp_avg"])


@pytest.mark.parametrize("arch,dropout", [("bert", False), ("roberta", False), ("bert", True), ("roberta", True)])
def test_fused_group_equals_separate_runs(arch, dropout, tiny_bert_dir, roberta_dir, tmp_path):
    """fp32: each run of a group of 3 (other seeds, lrs, data, lengths, epochs) ends within 1e-6 (absolute, every
    weight; measured 1.2e-7 without dropout) of the run trained alone by train(); losses within 1e-5. With dropout
    too: the fused run draws the separate loop's masks (the same generator seeds, shapes and order)."""
    d = tiny_bert_dir if arch == "bert" else roberta_dir
    runs, fpaths = group(d, tmp_path / "fused", dropout=dropout)
    out = train_fused(runs)
    for j, c in enumerate(GROUP):
        r, spaths = make(d, tmp_path / f"sep{j}", *c, dropout=dropout)
        steps, epochs = train(r.model, r.train, r.dev, r.spec, r.store, progress=False)
        fsteps, fepochs = out[j]
        assert all(Path(p).exists() for p in fpaths[j]) and not (tmp_path / "fused" / f"run{j}" / ".resume").exists()
        assert max_abs(spaths[0], fpaths[j][0]) == 0.0  # theta0
        assert max_abs(spaths[-1], fpaths[j][-1]) < 1e-6
        assert rel_diff(spaths[-1], fpaths[j][-1], spaths[0]) < 1e-5
        assert [(x["epoch"], x["step"], x["lr"]) for x in steps] == [(x["epoch"], x["step"], x["lr"]) for x in fsteps]
        assert max(abs(x["loss"] - y["loss"]) / x["loss"] for x, y in zip(steps, fsteps)) < 1e-5
        assert [e["epoch"] for e in epochs] == [e["epoch"] for e in fepochs] == list(range(c[4] + 1))
        assert max(abs(x["dev_loss"] - y["dev_loss"]) for x, y in zip(epochs, fepochs)) < 1e-5
        assert [x["dev_correct"] for x in epochs] == [y["dev_correct"] for y in fepochs]  # C3's per-example records
    assert len(out[1][0]) == 3 * 3 and len(out[0][0]) == 2 * 4  # each run its own steps per epoch and epochs


@pytest.mark.parametrize("dropout", [False, True])
def test_bf16_fused_group_follows_separate_bf16_runs(dropout, tiny_bert_dir, tmp_path):
    """bf16 autocast: the batched kernels round differently from the separate ones, so runs agree to bf16's
    precision, not fp32's (measured without dropout: losses within 2.2e-5 relative; ||diff|| <= 3.0e-3 of
    ||theta1 - theta0||, weights within 5.2e-4 absolute). With dropout the masks are the separate loop's: measured
    ||diff|| 1.0-2.1 % of ||theta1 - theta0|| (bf16's rounding carried through the steps), against 80-108 % when
    each side drew its own masks (the previous fused masks), so 5 % separates the two."""
    runs, fpaths = group(tiny_bert_dir, tmp_path / "fused", dtype="bf16", dropout=dropout)
    out = train_fused(runs)
    for j, c in enumerate(GROUP):
        r, spaths = make(tiny_bert_dir, tmp_path / f"sep{j}", *c, dtype="bf16", dropout=dropout)
        steps, _ = train(r.model, r.train, r.dev, r.spec, r.store, progress=False)
        assert max(abs(x["loss"] - y["loss"]) / x["loss"] for x, y in zip(steps, out[j][0])) < 2e-4
        assert rel_diff(spaths[-1], fpaths[j][-1], spaths[0]) < (0.05 if dropout else 0.02)


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_a_runs_dropout_does_not_depend_on_its_group(dtype, tiny_bert_dir, tmp_path):
    """Dropout on: run j trained in the group of 3 vs alone (S = 1): the same masks, so the same weights to the
    batched kernels' rounding (measured ||diff|| <= 6e-7 of ||theta1 - theta0||), while dropout moves the run by
    far more than that (the test could fail)."""
    runs, gpaths = group(tiny_bert_dir, tmp_path / "group", dtype=dtype)
    train_fused(runs)
    for j, c in enumerate(GROUP):
        alone, apaths = make(tiny_bert_dir, tmp_path / f"alone{j}", *c, dtype=dtype)
        train_fused([alone])
        assert rel_diff(apaths[-1], gpaths[j][-1], apaths[0]) < 1e-5
    off, opaths = make(tiny_bert_dir, tmp_path / "off", *GROUP[0], dtype=dtype, dropout=False)
    train_fused([off])
    assert rel_diff(opaths[-1], gpaths[0][-1], opaths[0]) > 1e-2


def _child(model_dir, out, stop_at):
    return f"""
import pathlib, sys, time
sys.path.insert(0, {str(Path(__file__).parent)!r})
import bertscape.fused as fu
import test_fused as T
real, n = fu.clip_per_run, [0]
def slow(*a):
    n[0] += 1
    if n[0] == {stop_at}:
        print("stopping", flush=True)
        time.sleep(120)
    real(*a)
fu.clip_per_run = slow
fu.train_fused(T.group(pathlib.Path({str(model_dir)!r}), pathlib.Path({str(out)!r}))[0])
"""


def test_sigkill_mid_epoch_then_rerun_equals_an_uninterrupted_group(tiny_bert_dir, tmp_path):
    """kill -9 inside fused step 6: run 0 (4 steps per epoch) is mid-epoch 2 with epoch 1 committed, run 1
    (3 per epoch) has epoch 1 committed after step 3; the rerun catches run 1 up while run 0 waits, and every
    run ends bit for bit where the uninterrupted group ends."""
    runs, ref = group(tiny_bert_dir, tmp_path / "ref")
    train_fused(runs)
    proc = subprocess.Popen([sys.executable, "-c", _child(tiny_bert_dir, tmp_path / "cut", 6)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "stopping"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    for j in range(3):
        res = tmp_path / "cut" / f"run{j}" / ".resume"
        assert (res / "epoch1.safetensors").exists() and not (res / "epoch2.safetensors").exists()
    runs, cut = group(tiny_bert_dir, tmp_path / "cut")
    out = train_fused(runs)
    for j in range(3):
        assert max_abs(ref[j][-1], cut[j][-1]) == 0.0
    assert [x["step"] for x in out[1][0]] == list(range(1, 10))


def test_preempted_group_resumes_mid_epoch_exactly(tiny_bert_dir, tmp_path, monkeypatch):
    """SIGTERM during fused step 6: every run inside an epoch saves its state after that step (weights, moments,
    its own dropout generator); the rerun continues mid-epoch to exactly the uninterrupted weights and records."""
    runs, ref = group(tiny_bert_dir, tmp_path / "ref")
    ref_out = train_fused(runs)
    real, n = fu.clip_per_run, [0]

    def signalled(*a):
        n[0] += 1
        if n[0] == 6:
            os.kill(os.getpid(), signal.SIGTERM)
        real(*a)

    monkeypatch.setattr(fu, "clip_per_run", signalled)
    with preempt.watch(), pytest.raises(preempt.Preempted, match="after step 2 of epoch 2"):
        train_fused(group(tiny_bert_dir, tmp_path / "cut")[0])
    monkeypatch.setattr(fu, "clip_per_run", real)
    assert list((tmp_path / "cut" / "run0" / ".resume").glob("step*")) != []
    runs, cut = group(tiny_bert_dir, tmp_path / "cut")
    out = train_fused(runs)
    for j in range(3):
        assert max_abs(ref[j][-1], cut[j][-1]) == 0.0
        # (as JSON: epoch 0's train loss is NaN)
        assert json.dumps(out[j], sort_keys=True) == json.dumps(ref_out[j], sort_keys=True)


@pytest.mark.parametrize("arch", ["distilbert", "electra", "deberta-v2"])
def test_fused_forward_equals_the_separate_models(arch, tmp_path):
    """Eval-mode logits of 3 fused models equal each model's own (ELECTRA, DistilBERT: ~1e-9); DeBERTa-v2 reads its
    relative position table as a raw tensor, which cannot be stacked: a one-line error."""
    d = save_tiny(arch, tmp_path / arch)
    models = [build_model(d, 2, "finetune", s).eval() for s in range(3)]
    if arch == "deberta-v2":
        with pytest.raises(BertscapeError, match="model type 'deberta-v2' is not supported"):
            fuse(models)
        return
    fused = fuse(models).eval()
    data = random_data(12, 120, 16, 2, 0)
    ids, types = data["input_ids"].long(), torch.zeros(12, 16, dtype=torch.long)
    mask = (torch.arange(16)[None] < data["lengths"][:, None]).long()
    with torch.no_grad():
        ref = torch.cat([m(**batch_inputs(m, ids[4 * s:4 * s + 4], types[:4], mask[4 * s:4 * s + 4])).logits
                         for s, m in enumerate(models)])
        with step_layout(Layout(3, 4, 16, [(4, 16)] * 3, [torch.Generator() for _ in range(3)])):
            out = fused(**batch_inputs(fused, ids, types, mask)).logits
    assert not torch.equal(ref[:4], ref[4:8])  # the runs differ (their seeded heads)
    assert (ref - out).abs().max() < 1e-6


def test_a_mid_epoch_state_resumes_across_loops(tiny_bert_dir, tmp_path, monkeypatch):
    """train.fused switched between a preemption and the rerun: the mid-epoch state of one loop resumes in the
    other (same weights, moments and position; its generator state seeds the other loop's dropout) and the
    run finishes with every step once."""
    import bertscape.train as tr

    def stop_at(n_stop, target, name):
        real, n = getattr(target, name), [0]

        def hook(*a, **kw):
            n[0] += 1
            if n[0] == n_stop:
                os.kill(os.getpid(), signal.SIGTERM)
            return real(*a, **kw)
        monkeypatch.setattr(target, name, hook)
        return real

    real = stop_at(3, fu, "clip_per_run")  # fused, preempted after step 3 of epoch 1
    with preempt.watch(), pytest.raises(preempt.Preempted):
        train_fused([make(tiny_bert_dir, tmp_path / "a", *GROUP[0])[0]])
    monkeypatch.setattr(fu, "clip_per_run", real)
    r, paths = make(tiny_bert_dir, tmp_path / "a", *GROUP[0])
    steps, _ = train(r.model, r.train, r.dev, r.spec, r.store, progress=False)
    assert [x["step"] for x in steps] == list(range(1, 9)) and Path(paths[-1]).exists()

    real = stop_at(3, tr.torch.nn.utils, "clip_grad_norm_")  # separate, preempted after step 3 of epoch 1
    with preempt.watch(), pytest.raises(preempt.Preempted):
        r, _ = make(tiny_bert_dir, tmp_path / "b", *GROUP[0])
        train(r.model, r.train, r.dev, r.spec, r.store, progress=False)
    monkeypatch.setattr(tr.torch.nn.utils, "clip_grad_norm_", real)
    r, paths = make(tiny_bert_dir, tmp_path / "b", *GROUP[0])
    (steps, _), = train_fused([r])
    assert [x["step"] for x in steps] == list(range(1, 9)) and Path(paths[-1]).exists()
