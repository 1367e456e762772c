"""Mid-epoch resume state of a training run (written when a stop signal arrives, see :mod:`bertscape.preempt`).

One file per global step, ``step{S}.safetensors`` in the run's resume folder: the weights (``w.*``), the
optimiser moments (``o.*``) and the random generators' states (``rng.cpu``, ``rng.cuda.{i}``) after step S.
The data order needs no state of its own: it is a function of (seed, epoch), so the position in the epoch
(kept in the resume folder's ``state.json``) is enough to skip the steps already taken.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .io import load_tensors, save_tensors


def path(resume: str | os.PathLike, step: int) -> Path:
    return Path(resume) / f"step{step}.safetensors"


def save(resume: str | os.PathLike, step: int, weights: dict[str, torch.Tensor],
         moments: dict[str, torch.Tensor], rng: dict[str, torch.Tensor] | None = None) -> Path:
    """``rng``: the run's own generator states (a fused group's per-run generators); default: the global ones."""
    tensors = {**{f"w.{k}": v for k, v in weights.items()}, **{f"o.{k}": v for k, v in moments.items()}}
    if rng is not None:
        tensors.update({f"rng.{k}": v for k, v in rng.items()})
    else:
        tensors["rng.cpu"] = torch.get_rng_state()
    if rng is None and torch.cuda.is_available():
        tensors.update({f"rng.cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    out = path(resume, step)
    save_tensors(out, tensors)
    return out


def load(resume: str | os.PathLike, step: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict]:
    """(weights, optimiser moments, generator states) saved after ``step``."""
    t = load_tensors(path(resume, step))
    part = lambda p: {k[len(p):]: v for k, v in t.items() if k.startswith(p)}
    return part("w."), part("o."), part("rng.")


def set_rng(rng: dict[str, torch.Tensor]) -> None:
    """The global generators' states; a fused run's own generator (``gen``, see :mod:`bertscape.fused`) when the
    state was written by a fused group and is resumed alone."""
    torch.set_rng_state(rng["cpu"] if "cpu" in rng else rng["gen"])
    cuda = [rng[f"cuda.{i}"] for i in range(len(rng) - 1) if f"cuda.{i}" in rng]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


def drop(resume: str | os.PathLike, keep: int | None = None) -> None:
    """Remove every mid-epoch state but ``keep``'s (all of them once an epoch is committed)."""
    for p in Path(resume).glob("step*.safetensors"):
        if keep is None or p.name != path(resume, keep).name:
            p.unlink(missing_ok=True)
