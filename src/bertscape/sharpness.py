"""Sharpness at the end point: the top Hessian eigenvalue of the training loss at theta1.

Power iteration on exact Hessian-vector products (double backward through the model) over the
encoder parameters only -- the same parameter space the surfaces live in; the task head stays
fixed. The loss is the task's (cross-entropy, or MSE for regression) mean over the seeded training subset the surfaces use.
"""

from __future__ import annotations

import os

import torch

from .batches import Batch
from .metrics import task_loss
from .modeling import base_prefix, batch_inputs, is_encoder_param, load_config, quiet_transformers


def load_for_hessian(model_dir: str | os.PathLike, state: dict[str, torch.Tensor], num_labels: int):
    """The model at ``state`` with eager attention (differentiable twice everywhere), in eval mode."""
    from transformers import AutoModelForSequenceClassification

    quiet_transformers()
    model = AutoModelForSequenceClassification.from_config(load_config(model_dir, num_labels), attn_implementation="eager")
    model.load_state_dict(state)
    return model.eval()


def _gradient(model, params: list[torch.Tensor], b: Batch, n: int) -> tuple[torch.Tensor, ...]:
    """The gradient of batch ``b``'s summed loss / n, with its graph (differentiable once more)."""
    device = params[0].device
    mask = None if b.mask is None else b.mask.to(device)
    logits = model(**batch_inputs(model, b.ids.to(device), b.types.to(device), mask)).logits
    loss = task_loss(logits, b.labels.to(device), reduction="sum") / n
    return torch.autograd.grad(loss, params, create_graph=True)


def _product(params, grads, v, out, retain: bool = False) -> None:
    for acc, h in zip(out, torch.autograd.grad(sum((g * x).sum() for g, x in zip(grads, v)), params,
                                               retain_graph=retain)):
        acc += h


def hvp(model, params: list[torch.Tensor], batches: list[Batch], v: list[torch.Tensor]) -> list[torch.Tensor]:
    """H v for the mean loss over all batches, accumulated batch by batch (one batch's graph in memory)."""
    n = sum(len(b.labels) for b in batches)
    out = [torch.zeros_like(p) for p in params]
    for b in batches:
        _product(params, _gradient(model, params, b, n), v, out)
    return out


def hvp_operator(model, params: list[torch.Tensor], batches: list[Batch]):
    """v -> H v, bit for bit :func:`hvp`'s. With a single batch (the flatness record's subset at the shipped
    configs) the gradient's graph is built once, here, and kept for every product, so each product costs the
    second backward only (MiniLM, 8 examples: ~0.45 s of ~0.95). Memory: that batch's graph, held while
    the operator lives; with several batches every product rebuilds them one at a time, as :func:`hvp` does. The
    weights must not change while the operator is in use."""
    if len(batches) != 1:
        return lambda v: hvp(model, params, batches, v)
    grads = _gradient(model, params, batches[0], len(batches[0].labels))

    def product(v: list[torch.Tensor]) -> list[torch.Tensor]:
        out = [torch.zeros_like(p) for p in params]
        _product(params, grads, v, out, retain=True)
        return out

    return product


def encoder_params(model) -> list[torch.Tensor]:
    """The encoder's parameters, in the model's order, with gradients on; the task head's switched off."""
    prefix = base_prefix(model)
    for name, p in model.named_parameters():
        p.requires_grad_(is_encoder_param(name, prefix))
    return [p for name, p in model.named_parameters() if is_encoder_param(name, prefix)]


def top_eigenvalue(model, batches: list[Batch], iters: int, tol: float, seed: int) -> dict:
    """Largest-magnitude Hessian eigenvalue by power iteration; stops when it changes by < tol (relative)."""
    params = encoder_params(model)
    gen = torch.Generator().manual_seed(seed)
    v = [torch.randn(p.shape, generator=gen, dtype=torch.float64).to(p.device) for p in params]
    lam, rel, history = float("nan"), float("nan"), []
    for it in range(1, iters + 1):
        norm = torch.sqrt(sum((x.double() ** 2).sum() for x in v))
        v = [(x / norm).to(p.dtype) for x, p in zip(v, params)]
        hv = hvp(model, params, batches, v)
        new = float(sum((h.double() * x.double()).sum() for h, x in zip(hv, v)))
        rel = abs(new - lam) / max(abs(new), 1e-30) if it > 1 else float("nan")
        lam, v = new, [h.detach() for h in hv]
        history.append(lam)
        if it > 1 and rel < tol:
            break
    return {"lambda_max": lam, "iterations": it, "rel_change": rel, "examples": sum(len(b.labels) for b in batches),
            "parameters": int(sum(p.numel() for p in params)), "history": history}
