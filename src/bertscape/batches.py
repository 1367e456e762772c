"""Evaluation batches: examples sorted by length and cut by a padded-token budget, and the seeded subsets
that the landscape engines, sharpness and the training loop's dev evaluation all read."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .metrics import as_labels


@dataclass
class Batch:
    ids: torch.Tensor          # (B, T) int64, already remapped to the compact vocabulary
    types: torch.Tensor        # (B, T) int64
    mask: torch.Tensor | None  # (B, 1, 1, T) bool, None when no padding
    labels: torch.Tensor       # (B,)
    set_name: str
    n_tokens: int              # real (non-pad) tokens


def make_batches(data: dict[str, torch.Tensor], indices: torch.Tensor, set_name: str, batch_tokens: int) -> list[Batch]:
    """Sort by length and cut into batches of at most ``batch_tokens`` padded tokens."""
    lengths = data["lengths"][indices].long()
    order = indices[torch.argsort(lengths, stable=True)]
    batches, start = [], 0
    while start < len(order):
        end = start + 1
        while end < len(order):
            t = int(data["lengths"][order[end]])
            if t * (end + 1 - start) > batch_tokens:
                break
            end += 1
        sel = order[start:end]
        lens = data["lengths"][sel].long()
        T = int(lens.max())
        pad = bool((lens < T).any())
        mask = (torch.arange(T)[None, :] < lens[:, None])[:, None, None, :] if pad else None
        batches.append(Batch(data["input_ids"][sel, :T].long(), data["token_type_ids"][sel, :T].long(), mask,
                             as_labels(data["labels"][sel]), set_name, int(lens.sum())))
        start = end
    return batches


def subset(n: int, k: int | None, seed: int) -> torch.Tensor:
    """A fixed, seeded subset of k of n example indices (all of them when k is None or >= n), sorted."""
    if k is None or k >= n:
        return torch.arange(n)
    return torch.sort(torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:k]).values


def eval_batches(train: dict, dev: dict | None, ev: dict, seed: int) -> list[Batch]:
    """The landscape's evaluation sets: a seeded training subset, and a seeded dev subset when ``dev`` is given."""
    batches = make_batches(train, subset(len(train["labels"]), ev["train_subset"], seed), "train", ev["batch_tokens"])
    if dev is not None:
        batches += make_batches(dev, subset(len(dev["labels"]), ev["dev_subset"], seed + 1), "dev", ev["batch_tokens"])
    return batches
