"""§7's "transferable across tasks" half, per layer group G, from the fine-tuning checkpoints alone: how far each
task moved the group, ||delta1^G|| / ||theta0^G||, and how alike two tasks' moves are, cos(delta1^G_A, delta1^G_B)
(delta1^G = theta1^G - theta0^G, the group's encoder tensors only; every fine-tuning run starts from the same
pre-trained encoder). Descriptive rows beside C5 (never decided): the paper states the half without a criterion."""

from __future__ import annotations

import itertools
import math

import torch

from .architectures import layer_keys
from .verdicts import row


def _dot(a: dict, b: dict, keys: list[str]) -> float:
    return sum(float((a[k].double() * b[k].double()).sum()) for k in keys)


def group_transfer(theta0: dict[str, dict[str, torch.Tensor]], theta1: dict[str, dict[str, torch.Tensor]],
                   groups: dict[str, list[int]], lmap: dict[str, int]) -> list[dict]:
    """Per group: {group, first_layer, last_layer, relative_change: {task: ||delta1^G|| / ||theta0^G||},
    cos: {"A~B": cos(delta1^G_A, delta1^G_B)} over every task pair (sorted names)}. ``theta0``/``theta1``: task ->
    state; ``lmap``: state name -> layer (:func:`bertscape.architectures.layer_map_of`). A zero move gives NaN cos."""
    tasks = sorted(theta1)
    out = []
    for name, (lo, hi) in sorted(groups.items(), key=lambda g: g[1][0]):
        keys = {t: layer_keys(list(theta1[t]), [lo, hi], lmap) for t in tasks}
        delta = {t: {k: theta1[t][k].double() - theta0[t][k].double() for k in keys[t]} for t in tasks}
        norm = {t: math.sqrt(_dot(delta[t], delta[t], keys[t])) for t in tasks}
        rel = {t: norm[t] / math.sqrt(_dot(theta0[t], theta0[t], keys[t])) for t in tasks}
        cos = {}
        for a, b in itertools.combinations(tasks, 2):
            shared = [k for k in keys[a] if k in delta[b]]
            den = norm[a] * norm[b]
            cos[f"{a}~{b}"] = _dot(delta[a], delta[b], shared) / den if den > 0 else float("nan")
        out.append({"group": name, "first_layer": lo, "last_layer": hi, "relative_change": rel, "cos": cos})
    return out


def transfer_rows(table: list[dict]) -> list[dict]:
    """The table as descriptive C5 rows (``holds`` None: nothing to decide), one per layer group."""
    return [row("C5", "layer_transfer", g["group"], g,
                "descriptive, never decided: ||delta1^G|| / ||theta0^G|| per task and cos(delta1^G_A, delta1^G_B) "
                "per task pair", None) for g in table]
