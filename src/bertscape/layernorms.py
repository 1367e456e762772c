"""The per-layer norm table: ||theta0^G||, ||theta1^G||, ||delta1^G|| and ||delta1^G|| / ||theta1^G|| for every
encoder block, every layer group, the parts outside the blocks (embeddings, pooler) and the whole encoder.

It says how far each part of the encoder travelled relative to its own size -- the unit in which C1's sizes
from runs that travel different distances can be compared. Blocks come from the model object
(:func:`bertscape.architectures.layer_map_of`), not from parameter names; sums of squares in float64.
"""

from __future__ import annotations

import math

from .architectures import layer_map_of
from .directions import State, encoder_keys
from .modeling import encoder_prefix


def _sums(theta0: State, theta1: State, keys: list[str]) -> dict[str, tuple[float, float, float, int]]:
    """Per parameter: (sum theta0^2, sum theta1^2, sum delta1^2, numel), each tensor read once."""
    out = {}
    for k in keys:
        a, b = theta0[k].double(), theta1[k].double()
        out[k] = (float((a * a).sum()), float((b * b).sum()), float(((b - a) ** 2).sum()), a.numel())
    return out


def _row(unit: str, name: str, keys: list[str], sums: dict, layers=None) -> dict:
    s0, s1, sd, n = (sum(sums[k][j] for k in keys) for j in range(4))
    n0, n1, nd = math.sqrt(s0), math.sqrt(s1), math.sqrt(sd)
    return {"unit": unit, "name": name, "layers": layers, "n_params": n, "norm_theta0": n0, "norm_theta1": n1,
            "norm_delta1": nd, "rel_delta1": nd / n1 if n1 > 0 else float("nan")}


def norm_table(theta0: State, theta1: State, config, groups: dict[str, list[int]]) -> list[dict]:
    """Rows (unit = part | layer | group | encoder) over the encoder's floating-point parameters of the two
    checkpoints; ``groups`` as :func:`bertscape.config.layer_groups` returns them ({name: [lo, hi]}; {}: none)."""
    keys = encoder_keys(theta0, encoder_prefix(theta0))
    lmap = layer_map_of(config)
    by_layer: dict[int, list[str]] = {}
    parts: dict[str, list[str]] = {}
    for k in keys:
        if k in lmap:
            by_layer.setdefault(lmap[k], []).append(k)
        else:  # outside the blocks: named by the component after the prefix (embeddings, pooler, ...)
            parts.setdefault(k.split(".")[1], []).append(k)
    sums = _sums(theta0, theta1, keys)
    rows = [_row("part", name, ks, sums) for name, ks in sorted(parts.items())]
    rows += [_row("layer", str(i), by_layer[i], sums, [i, i]) for i in sorted(by_layer)]
    rows.append(_row("encoder", "encoder", keys, sums))
    return with_groups(rows, groups)


def with_groups(rows: list[dict], groups: dict[str, list[int]]) -> list[dict]:
    """``rows`` with a row per layer group ({name: [lo, hi]}) before the encoder's, each from its blocks' rows
    (squared norms add over disjoint blocks). The directions job writes the table without groups, so that
    choosing other groups (``layers.groups``) reruns only the claims, not every job that reads delta1."""
    layer = {int(r["name"]): r for r in rows if r["unit"] == "layer"}
    out = [r for r in rows if r["unit"] not in ("group", "encoder")]
    for name, (lo, hi) in groups.items():
        block = [layer[i] for i in range(lo, hi + 1) if i in layer]
        n0, n1, nd = (math.sqrt(sum(r[k] ** 2 for r in block)) for k in ("norm_theta0", "norm_theta1", "norm_delta1"))
        out.append({"unit": "group", "name": name, "layers": [lo, hi], "n_params": sum(r["n_params"] for r in block),
                    "norm_theta0": n0, "norm_theta1": n1, "norm_delta1": nd,
                    "rel_delta1": nd / n1 if n1 > 0 else float("nan")})
    return out + [r for r in rows if r["unit"] == "encoder"]
