"""Fused training: S runs of one architecture and shape trained as one batched computation (HFTA-style).

Each run keeps what :func:`bertscape.train.train` gives it -- its own data, data order (seeded by its
(seed, epoch)), learning rate and schedule, weight decay, gradient clipping, AdamW moments and step count,
per-step and per-epoch records, and its own :class:`bertscape.store.CheckpointStore` (the same files, the
same resume state: each run's weights and moments are unstacked and committed as if it had trained alone).
What they share is the arithmetic: one forward/backward of :func:`bertscape.fusedmodel.fuse`'s stacked
module over S x B rows per step, one clipped AdamW update over the stacked tensors.

Equivalence (tests/test_fused.py): in fp32 each run ends within a small tolerance of the same run trained alone
(the batched matmuls sum in another order), with dropout too on the CPU: each run's masks come from its own
generator, reseeded by (seed, epoch) like the separate loop's global one, drawn by the same sampler at its own
batch's shape in the same order (:func:`bertscape.fusedmodel.run_masks`), so they are the separate loop's masks
and do not depend on which runs share the group. (On CUDA the separate loop's dropout is a fused Philox kernel
that this sampler does not reproduce: the masks differ there.)

Steps: fused step k is step k of every run that has one. A batch is padded to the longest of the step's
batches (a function of the runs' data orders only), and a run that has no step k (finished, or resumed past
k while another run catches up) adds padding rows and no update, so a resumed group repeats an uninterrupted
group's shapes and arithmetic exactly. Evaluation runs per run, on its own module, at the end of its epochs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import get_total_norm
from torch.optim.adam import adam

from . import BertscapeError, preempt
from .fusedmodel import Layout, fuse, run_slice, step_layout, transposed, unstack
from .metrics import task_loss
from .modeling import batch_inputs
from .precision import LOW, matmul_mode, resolve
from .store import CheckpointStore
from .train import TrainSpec, decays, dev_record, epoch_batches, lr_at

BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.AdamW's defaults, which bertscape.train.optimizer uses


@dataclass
class Run:
    """One run of a group: theta0 as its own module (its checkpoints are written from it), its data, spec, store."""
    model: nn.Module
    train: dict
    dev: dict
    spec: TrainSpec
    store: CheckpointStore


class StackedAdamW:
    """AdamW over stacked parameters, per run: run s's slices of every parameter, moment and step count go
    through torch's fused AdamW kernel with run s's learning rate and weight decay, in the two groups of
    :func:`bertscape.train.optimizer` -- the update a separate run's optimiser makes, on the same numbers."""

    def __init__(self, fused: nn.Module, weight_decay: list[float]):
        self.fused = fused
        self.params = [(n, p) for n, p in fused.named_parameters()]
        self.flip = transposed(fused)
        self.wd = list(weight_decay)
        self.m = {n: torch.zeros_like(p) for n, p in self.params}
        self.v = {n: torch.zeros_like(p) for n, p in self.params}
        dev = self.params[0][1].device
        self.steps = [[torch.zeros((), dtype=torch.float32, device=dev) for _ in self.params] for _ in self.wd]

    @property
    def t(self) -> list[int]:
        return [int(st[0]) for st in self.steps]

    @torch.no_grad()
    def step(self, lr: list[float], active: list[bool]) -> None:
        for s, on in enumerate(active):
            if not on:
                continue
            for decay in (True, False):
                idx = [i for i, (n, _) in enumerate(self.params) if decays(n) == decay]
                ps = [self.params[i] for i in idx]
                adam([p.data[s] for _, p in ps], [p.grad[s] for _, p in ps], [self.m[n][s] for n, _ in ps],
                     [self.v[n][s] for n, _ in ps], [], [self.steps[s][i] for i in idx], fused=True,
                     decoupled_weight_decay=True, amsgrad=False, beta1=BETAS[0], beta2=BETAS[1], lr=lr[s],
                     weight_decay=self.wd[s] if decay else 0.0, eps=EPS, maximize=False)

    def run_state(self, model: nn.Module, s: int) -> dict:
        """Run s's moments as torch.optim.AdamW state of ``model`` (the run's own module): views into the stacked
        moments, valid until the next step (a store copies what it writes)."""
        own = dict(model.named_parameters())
        return {own[n]: {"step": self.steps[s][i], "exp_avg": run_slice(self.m[n], s, n in self.flip),
                         "exp_avg_sq": run_slice(self.v[n], s, n in self.flip)} for i, (n, _) in enumerate(self.params)}

    def load_run(self, opt: torch.optim.Optimizer, model: nn.Module, s: int) -> None:
        own = dict(model.named_parameters())
        for i, (n, _) in enumerate(self.params):
            st = opt.state.get(own[n])
            if st:
                run_slice(self.m[n], s, n in self.flip).copy_(st["exp_avg"])
                run_slice(self.v[n], s, n in self.flip).copy_(st["exp_avg_sq"])
                self.steps[s][i].copy_(st["step"])


def clip_per_run(fused: nn.Module, max_norm: list[float]) -> None:
    """clip_grad_norm_ of each run's gradients (its own total norm and max_norm)."""
    grads = [p.grad for p in fused.parameters()]
    for s, mx in enumerate(max_norm):
        views = [g[s] for g in grads]
        coef = (mx / (get_total_norm(views) + 1e-6)).clamp(max=1.0)
        for g in views:
            g.mul_(coef)


class _Runs:
    """Per-run bookkeeping of a group: steps per epoch, data orders by epoch, resume point, generators."""

    def __init__(self, runs: list[Run], device):
        self.runs = runs
        self.spe = [math.ceil(len(r.train["labels"]) / r.spec.batch_size) for r in runs]
        self.total = [n * r.spec.epochs for n, r in zip(self.spe, runs)]
        self.gens = [torch.Generator(device=device) for _ in runs]
        self.opts = [torch.optim.AdamW(r.model.parameters()) for r in runs]  # holds a run's moments to commit
        self._orders: dict[tuple[int, int], list] = {}

    def at(self, s: int, k: int) -> tuple[int, int]:
        """(epoch, position) of run s's global step k."""
        e, i = divmod(k, self.spe[s])
        return e + 1, i

    def batch(self, s: int, k: int):
        e, i = self.at(s, k)
        if (s, e) not in self._orders:
            self._orders = {key: v for key, v in self._orders.items() if key[0] != s}
            self._orders[(s, e)] = list(epoch_batches(self.runs[s].train, self.runs[s].spec, e))
        return self._orders[(s, e)][i]


def train_fused(runs: list[Run], progress: bool = False) -> list[tuple[list[dict], list[dict]]]:
    """Train every run of the group for its spec.epochs (each resumed from its own store), committing and
    publishing each run's epochs as :func:`bertscape.train.train` does. Returns each run's (steps, epochs)."""
    if not runs:
        return []
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtypes = {resolve(r.spec.dtype, device, "train.dtype") for r in runs}
    if len(dtypes) != 1:
        raise BertscapeError(f"fused training: the runs of a group need one train.dtype (got {sorted(dtypes)})")
    dtype = dtypes.pop()
    R = _Runs(runs, device)
    states, start, out = [], [], [None] * len(runs)
    for s, r in enumerate(runs):
        st = r.store.open(r.spec.key(), r.spec.epochs)
        r.store.meta.setdefault("train_dtype", dtype)
        r.model.to(device)
        rng = r.store.restore(r.model, R.opts[s])
        if st.get("mid"):  # (a state the separate loop wrote: its global generator's, a valid CPU generator state)
            R.gens[s].set_state(rng["gen"] if "gen" in rng else rng["cpu"])
        if st["epoch"] < 0:  # theta0: evaluated and committed before any step
            _end_epoch(r, R.opts[s], st, 0)
        states.append(st)
    fused = fuse([r.model for r in runs]).to(device).train()
    opt = StackedAdamW(fused, [r.spec.weight_decay for r in runs])
    for s, r in enumerate(runs):
        opt.load_run(R.opts[s], r.model, s)
        mid = states[s].get("mid")
        if mid and mid["pos"] == R.spe[s]:  # stopped after an epoch's last step, before its evaluation
            _end_epoch(r, R.opts[s], states[s], mid["epoch"], opt.run_state(r.model, s))
        if states[s]["epoch"] >= r.spec.epochs:  # every epoch committed: only publishing was left
            out[s] = _finish(r, states[s])
        mid = states[s].get("mid")
        start.append(mid["step"] if mid else max(states[s]["epoch"], 0) * R.spe[s])
    S, B = len(runs), max(r.spec.batch_size for r in runs)
    low = LOW.get(dtype, torch.bfloat16)
    for k in range(min(start), max(R.total)):
        live = [k < R.total[s] for s in range(S)]
        active = [live[s] and k >= start[s] for s in range(S)]
        if not any(active):
            continue
        batches = [R.batch(s, k) if live[s] else None for s in range(S)]
        T = max(b[0].shape[1] for b in batches if b is not None)
        ids = torch.zeros(S, B, T, dtype=torch.long)
        types = torch.zeros(S, B, T, dtype=torch.long)
        mask = torch.ones(S, B, T, dtype=torch.long)  # padding rows attend to every position: finite, unused
        labels = torch.zeros(S, B, dtype=batches[next(i for i, b in enumerate(batches) if b)][3].dtype)
        rows = torch.zeros(S, B)
        real = []
        for s, b in enumerate(batches):
            if b is None or not active[s]:
                real.append((0, 0))
                continue
            bi, bt, bm, bl = b
            n, t = bi.shape
            ids[s, :n, :t], types[s, :n, :t], labels[s, :n] = bi, bt, bl
            mask[s, :n] = 0
            mask[s, :n, :t] = bm
            rows[s, :n] = 1.0
            real.append((n, t))
            e, i = R.at(s, k)
            if i == 0:
                R.gens[s].manual_seed(runs[s].spec.seed * 7919 + e)  # the separate loop's per-epoch reseed
        lay = Layout(S, B, T, real, R.gens)
        ids, types, mask, labels, rows = (x.to(device) for x in (ids, types, mask, labels, rows))
        with step_layout(lay):
            with torch.autocast(device.type, dtype=low, enabled=dtype in LOW), matmul_mode(dtype):
                logits = fused(**batch_inputs(fused, ids.view(S * B, T), types.view(S * B, T),
                                              mask.view(S * B, T))).logits
            per_row = task_loss(logits.float(), labels.view(-1), reduction="none").view(S, B)
            losses = (per_row * rows).sum(1) / rows.sum(1).clamp(min=1)
            for p in fused.parameters():
                p.grad = None
            losses.sum().backward()
        clip_per_run(fused, [r.spec.max_grad_norm for r in runs])
        lrs = [lr_at(k, R.total[s], r.spec) if active[s] else 0.0 for s, r in enumerate(runs)]
        opt.step(lrs, active)
        values = losses.tolist()
        for s, r in enumerate(runs):
            if not active[s]:
                continue
            e, i = R.at(s, k)
            states[s]["steps"].append({"epoch": e, "step": k + 1, "epoch_pos": e - 1 + (i + 1) / R.spe[s],
                                       "loss": values[s], "lr": lrs[s]})
            if i + 1 == R.spe[s]:
                _sync(r, fused, s)  # moments are stored only while the run can continue
                _end_epoch(r, R.opts[s], states[s], e, opt.run_state(r.model, s) if e < r.spec.epochs else None)
                if e == r.spec.epochs:
                    out[s] = _finish(r, states[s])
        if progress and (k + 1) % 10 == 0:
            print(f"fused step {k + 1}/{max(R.total)}: " + " ".join(f"{v:.4f}" for v in values), flush=True)
        preempt.check(lambda: _stop(runs, R, opt, k, start))
    return out


def _sync(r: Run, fused: nn.Module, s: int) -> None:
    with torch.no_grad():
        own = dict(r.model.named_parameters())
        for n, w in unstack(fused, s).items():
            own[n].copy_(w)


def _end_epoch(r: Run, opt: torch.optim.Optimizer, state: dict, epoch: int, moments: dict | None = None) -> None:
    """Evaluate run r after ``epoch`` on its own module and commit the epoch (and ``moments``) to its store."""
    if moments is not None:
        opt.state.clear()
        opt.state.update(moments)
    losses = [x["loss"] for x in state["steps"] if x["epoch"] == epoch]
    state["epochs"].append({"epoch": epoch, "train_loss": sum(losses) / len(losses) if losses else float("nan"),
                            **dev_record(r.model, r.dev, r.spec.eval_batch_tokens)})  # (every epoch, dev_correct too)
    r.store.commit(epoch, r.model, opt)


def _finish(r: Run, state: dict) -> tuple[list[dict], list[dict]]:
    r.store.publish()
    return state["steps"], state["epochs"]


def _stop(runs: list[Run], R: _Runs, opt: StackedAdamW, k: int, start: list[int]) -> str:
    """(preemption) Save every run that is inside an epoch after step k; those at an epoch's end are committed."""
    where = []
    for s, r in enumerate(runs):
        if k >= R.total[s] or k < start[s]:
            continue
        e, i = R.at(s, k)
        if i + 1 == R.spe[s]:
            continue  # committed (or published) at this step
        _sync(r, opt.fused, s)
        R.opts[s].state.clear()
        R.opts[s].state.update(opt.run_state(r.model, s))
        where.append(r.store.stop_mid(r.model, R.opts[s], e, i + 1, k + 1, {"gen": R.gens[s].get_state()}))
    return "; ".join(where) or "the runs' stores (at epoch ends)"
