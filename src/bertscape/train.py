"""Fine-tuning / training from scratch: the training loop, a checkpoint after every epoch (epoch 0 = theta0).

Exact resume: every epoch reseeds its data order and dropout from (seed, epoch), and the resume state is
committed after each epoch to a :class:`bertscape.store.CheckpointStore`, so a killed job restarts from its
last finished epoch and ends with the same weights as an uninterrupted run on CPU. Inside
:func:`bertscape.preempt.watch`, a SIGTERM/SIGUSR1 (a time limit, a preemption) also saves the state after the
current step (:meth:`bertscape.store.CheckpointStore.stop_mid`) and stops with
:class:`bertscape.preempt.Preempted`: a rerun resumes mid-epoch.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

import torch
from tqdm import tqdm

from . import preempt, stepstate
from .batches import make_batches
from .metrics import as_labels, score, task_loss
from .modeling import batch_inputs
from .paired import correct, encode
from .precision import LOW, matmul_mode, resolve
from .store import CheckpointStore

POOL = 50   # bucketed batching: batches are cut from pools of POOL x batch_size examples sorted by length
ROUND = 8   # ... padded to a multiple of ROUND tokens (few distinct shapes: oneDNN reuses its bf16 kernels)


@dataclass(frozen=True)
class TrainSpec:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    seed: int = 0
    eval_batch_tokens: int = 4096
    dtype: str = "fp32"         # train.dtype: fp32 | bf16 (autocast) | tf32 | auto (resolved on the training node)
    batching: str = "random"    # train.batching: random (padded to each batch's longest) | bucketed

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def lr_at(step: int, total: int, spec: TrainSpec) -> float:
    """Linear warm-up to spec.lr over warmup_ratio of the steps, then linear decay to 0."""
    warm = max(1, int(round(spec.warmup_ratio * total))) if spec.warmup_ratio > 0 else 0
    if step < warm:
        return spec.lr * (step + 1) / warm
    return spec.lr * max(0.0, (total - step) / max(1, total - warm))


def decays(name: str) -> bool:
    """AdamW's weight decay applies to this parameter (not to biases and layer norms)."""
    return not (name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name)


def optimizer(model, spec: TrainSpec):
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if decays(n) else no_decay).append(p)
    # fused: one kernel per step for all parameters (7x faster than the default on CPU, same update rule)
    return torch.optim.AdamW([{"params": decay, "weight_decay": spec.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=spec.lr, fused=True)


def device_of(model) -> torch.device:
    return next(model.parameters()).device


def evaluate(model, data: dict[str, torch.Tensor], batch_tokens: int) -> dict[str, float]:
    """Mean dev loss and GLUE's metrics (:func:`bertscape.metrics.score`)."""
    return score(*dev_outputs(model, data, batch_tokens))


def dev_outputs(model, data: dict[str, torch.Tensor], batch_tokens: int) -> tuple[list, list]:
    """(logits, labels) per batch, in the dev set's order (:func:`evaluate` scores them; :mod:`bertscape.paired`
    reads which examples are right)."""
    model.eval()
    dev = device_of(model)
    logits, labels = [], []
    with torch.inference_mode():
        for b in make_batches(data, torch.arange(len(data["labels"])), "dev", batch_tokens):
            mask = None if b.mask is None else b.mask.to(dev)
            logits.append(model(**batch_inputs(model, b.ids.to(dev), b.types.to(dev), mask)).logits.cpu())
            labels.append(b.labels)
    return logits, labels


def epoch_order(data, spec: TrainSpec, epoch: int) -> list[torch.Tensor]:
    """The example indices of each step of an epoch, seeded by (seed, epoch). ``bucketed``: the shuffled
    examples are cut into pools of POOL batches, each pool sorted by length and cut into batches, and the
    batches shuffled (same batch size and step count as ``random``, far less padding)."""
    n, bs = len(data["labels"]), spec.batch_size
    g = torch.Generator().manual_seed(spec.seed * 100_003 + epoch)
    perm = torch.randperm(n, generator=g)
    if spec.batching == "random":
        return [perm[s:s + bs] for s in range(0, n, bs)]
    batches = []
    for p in range(0, n, POOL * bs):
        pool = perm[p:p + POOL * bs]
        pool = pool[torch.argsort(data["lengths"][pool], stable=True)]
        batches += [pool[s:s + bs] for s in range(0, len(pool), bs)]
    return [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]


def epoch_batches(data, spec: TrainSpec, epoch: int):
    width = data["input_ids"].shape[1]
    for idx in epoch_order(data, spec, epoch):
        T = int(data["lengths"][idx].max())
        if spec.batching == "bucketed":
            T = min(width, -(-T // ROUND) * ROUND)
        ids = data["input_ids"][idx, :T].long()
        yield ids, data["token_type_ids"][idx, :T].long(), (torch.arange(T)[None] < data["lengths"][idx, None]).long(), \
            as_labels(data["labels"][idx])


def dev_record(model, dev_data, batch_tokens: int, evaluated: bool = True) -> dict:
    """An epoch record's dev columns: loss, GLUE's metrics and ``dev_correct``; {} when not ``evaluated``
    (:func:`fill_dev` completes those records)."""
    if not evaluated:
        return {}
    logits, labels = dev_outputs(model, dev_data, batch_tokens)
    ev = score(logits, labels)
    return {"dev_loss": ev["loss"], **{f"dev_{k}": v for k, v in ev.items() if k != "loss"},
            "dev_correct": encode(correct(logits, labels))}


def train(model, train_data, dev_data, spec: TrainSpec, store: CheckpointStore,
          progress: bool = True, dev_every_epoch: bool = True) -> tuple[list[dict], list[dict]]:
    """Train for spec.epochs, each finished epoch committed to ``store`` (resumed from its last committed epoch),
    then published there. Returns (per-step records, per-epoch records). Each evaluated epoch's record carries
    ``dev_correct``, which dev examples the model gets right (:func:`bertscape.paired.encode`; "" for
    regression). ``dev_every_epoch`` False: the dev set is evaluated at the last epoch only (the epochs before
    read NaN / ""): a run whose per-epoch dev score no claim reads."""
    state = store.open(spec.key(), spec.epochs)
    model.to("cuda" if torch.cuda.is_available() else "cpu")  # a GPU job trains on its GPU
    dev = device_of(model)
    steps_per_epoch = math.ceil(len(train_data["labels"]) / spec.batch_size)
    total = steps_per_epoch * spec.epochs
    opt = optimizer(model, spec)
    dtype = resolve(spec.dtype, dev, "train.dtype")
    store.meta.setdefault("train_dtype", dtype)
    rng = store.restore(model, opt)
    mid = state.get("mid")  # (preemption) stopped by a signal after step mid["step"] of an epoch
    for epoch in range(state["epoch"] + 1, spec.epochs + 1):
        losses = [s["loss"] for s in state["steps"] if s["epoch"] == epoch]  # (preemption) those before a stop
        if epoch > 0:
            model.train()
            torch.manual_seed(spec.seed * 7919 + epoch)
            if mid and mid["epoch"] == epoch:
                stepstate.set_rng(rng)
            bar = tqdm(epoch_batches(train_data, spec, epoch), total=steps_per_epoch, disable=not progress,
                       desc=f"epoch {epoch}/{spec.epochs}", mininterval=2.0)
            for i, (ids, types, mask, labels) in enumerate(bar):
                if mid and mid["epoch"] == epoch and i < mid["pos"]:
                    continue  # taken before the stop
                step = (epoch - 1) * steps_per_epoch + i
                for g in opt.param_groups:
                    g["lr"] = lr_at(step, total, spec)
                ids, types, mask, labels = ids.to(dev), types.to(dev), mask.to(dev), labels.to(dev)
                with torch.autocast(dev.type, dtype=LOW.get(dtype, torch.bfloat16), enabled=dtype in LOW), \
                        matmul_mode(dtype):
                    logits = model(**batch_inputs(model, ids, types, mask)).logits
                loss = task_loss(logits.float(), labels)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), spec.max_grad_norm)
                opt.step()
                losses.append(loss.item())
                state["steps"].append({"epoch": epoch, "step": step + 1, "epoch_pos": epoch - 1 + (i + 1) / steps_per_epoch,
                                       "loss": losses[-1], "lr": opt.param_groups[0]["lr"]})
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
                preempt.check(lambda: store.stop_mid(model, opt, epoch, i + 1, step + 1))  # a safe point
        state["epochs"].append({"epoch": epoch, "train_loss": sum(losses) / len(losses) if losses else float("nan"),
                                **dev_record(model, dev_data, spec.eval_batch_tokens,
                                             dev_every_epoch or epoch == spec.epochs)})
        store.commit(epoch, model, opt)  # the epoch's commit point: a run stopped after it resumes from here
        if epoch < spec.epochs:
            preempt.check(lambda: f"{store.resume} (after epoch {epoch})")  # a signal during the evaluation
    store.publish()
    return state["steps"], fill_dev(state["epochs"])


def fill_dev(epochs: list[dict]) -> list[dict]:
    """Every record with the last one's dev columns: NaN (and "" for ``dev_correct``) where not evaluated."""
    cols = [k for k in epochs[-1] if k.startswith("dev_")] if epochs else []
    blank = lambda k: "" if k == "dev_correct" else float("nan")
    return [{**{k: v for k, v in r.items() if not k.startswith("dev_")}, **{k: r.get(k, blank(k)) for k in cols}}
            for r in epochs]
