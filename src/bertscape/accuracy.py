"""The accuracy contract of reduced precision: every grid re-evaluates some of its points in fp32.

A shard evaluated in bf16 (or tf32, fp16) re-evaluates its anchors and a seeded handful of its grid
nodes in fp32 and records, per metric, the largest absolute and relative deviation as HDF5 attributes
(``precision_max_abs_<metric>``, ``precision_max_rel_<metric>``; README: HDF5 schema). The relative
train-loss deviation must stay within ``eval.precision_budget``; otherwise the shard fails with one line
naming the file, the node and the deviation. fp32 shards record zeros and check nothing.
"""

from __future__ import annotations

import math

import numpy as np

from . import BertscapeError


def pick_nodes(names: list[str], n: int, seed: int) -> list[str]:
    """The shard's anchors plus ``n`` of its grid nodes, chosen by ``seed`` (sorted, reproducible)."""
    anchors = [x for x in names if x.startswith("anchor:")]
    grid = sorted(x for x in names if not x.startswith("anchor:"))
    rng = np.random.default_rng(seed)
    chosen = [grid[i] for i in sorted(rng.choice(len(grid), size=min(n, len(grid)), replace=False))] if grid else []
    return anchors + chosen


def _dev(x: float, ref: float) -> tuple[float, float]:
    if not (math.isfinite(x) and math.isfinite(ref)):
        same = (math.isnan(x) and math.isnan(ref)) or x == ref
        return (0.0, 0.0) if same else (math.inf, math.inf)
    d = abs(x - ref)
    return d, (d / abs(ref) if ref != 0 else (0.0 if d == 0 else math.inf))


def deviations(values: dict[str, dict[str, float]], reference: dict[str, dict[str, float]]) -> dict:
    """Max abs / rel deviation per metric over the reference nodes, and the node with the worst loss."""
    attrs: dict = {}
    loss = "train_loss" if any("train_loss" in v for v in reference.values()) else "dev_loss"
    worst, worst_rel = "", -1.0
    for node, ref in sorted(reference.items()):
        for m, r in ref.items():
            d, rel = _dev(values[node][m], r)
            attrs[f"precision_max_abs_{m}"] = max(attrs.get(f"precision_max_abs_{m}", 0.0), d)
            attrs[f"precision_max_rel_{m}"] = max(attrs.get(f"precision_max_rel_{m}", 0.0), rel)
            if m == loss and rel > worst_rel:
                worst, worst_rel = node, rel
    attrs["precision_worst_node"] = worst
    return attrs


def check(engine, values: dict[str, dict[str, float]], coords: dict[str, tuple[float, float]], n_nodes: int,
          seed: int, budget: float, path, enforced: bool = True) -> dict:
    """Re-evaluate the chosen nodes in fp32, return the precision attributes; one-line error over budget (unless
    not ``enforced``: a dev-set-only engine records its deviations, the budget binds the training loss)."""
    dtype = engine.dtype
    attrs = {"precision": dtype, "precision_reference": "fp32", "precision_budget": budget}
    if dtype == "fp32":
        zeros = {f"precision_max_{d}_{m}": 0.0 for v in values.values() for m in v for d in ("abs", "rel")}
        return {**attrs, **zeros, "precision_nodes": [], "precision_worst_node": ""}
    nodes = pick_nodes(sorted(values), n_nodes, seed)
    reference = {x: engine.evaluate(*coords[x], dtype="fp32") for x in nodes}
    attrs.update(precision_nodes=nodes, **deviations(values, reference))
    if enforced:
        enforce(attrs, values, reference, path)
    return attrs


def enforce(attrs: dict, values: dict, reference: dict, path) -> None:
    m = "train_loss" if "precision_max_rel_train_loss" in attrs else "dev_loss"
    rel, budget = attrs.get(f"precision_max_rel_{m}", 0.0), attrs["precision_budget"]
    if rel > budget:
        node = attrs["precision_worst_node"]
        raise BertscapeError(f"{path}: node {node} {m} {values[node][m]:.6g} in {attrs['precision']} vs "
                             f"{reference[node][m]:.6g} in fp32: relative deviation {rel:.3%} exceeds "
                             f"eval.precision_budget {budget:.3%}")


def merge(shard_attrs: list[dict]) -> dict:
    """The precision attributes of a gathered grid: maxima over its shards, all checked nodes."""
    out: dict = {}
    worst = -1.0
    for a in shard_attrs:
        for k, v in a.items():
            if k.startswith("precision_max_"):
                out[k] = max(out.get(k, 0.0), float(v))
            elif k == "precision_nodes":
                out[k] = sorted(set(out.get(k, [])) | set(v))
            elif k in ("precision", "precision_reference", "precision_budget"):
                out[k] = v
        rel = float(a.get("precision_max_rel_train_loss", a.get("precision_max_rel_dev_loss", 0.0)))
        if "precision_worst_node" in a and rel > worst:
            worst, out["precision_worst_node"] = rel, a["precision_worst_node"]
    return out
