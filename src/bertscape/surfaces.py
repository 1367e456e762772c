"""Curves, surfaces and layer-group surfaces: set up the engine, evaluate a shard, merge shards.

A grid is evaluated as the flat list of its nodes in [i_alpha, j_beta] order followed by
the exact anchor points (start/end or finetuned/rollback); shard k of n takes every n-th
item starting at k. A shard flushes what it has done to ``<shard>.partial.json`` every few
points, so a killed shard resumes where it stopped; inside :func:`bertscape.preempt.watch` a SIGTERM
flushes it after the current point and stops the shard (:class:`bertscape.preempt.Preempted`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import safe_open
from tqdm import tqdm

from . import BertscapeError
from . import checkpoints as ck
from . import preempt
from .accuracy import check
from .architectures import layer_keys, layer_map_of
from .batches import eval_batches
from .directions import State, norm, split
from .modeling import encoder_prefix
from .h5io import Grid, write_grid
from .io import load_tensors, read_json, write_json
from .landscape import BertLandscape, make_engine
from .multipoint import MultiPointLandscape

ANCHORS = {"surface": {"start": (0.0, 0.0), "end": (1.0, 0.0)},
           "curve": {"start": (0.0, 0.0), "end": (1.0, 0.0)},
           "layer_surface": {"finetuned": (0.0, 0.0), "rollback": (-1.0, 0.0)}}




def read_head(path: str | os.PathLike, prefix: str) -> State:
    """The tensors of a checkpoint outside the encoder (``prefix``), read without the encoder's bytes."""
    packed = ck.packed_names(path)
    if any(not k.startswith(prefix) for k in packed):  # (the head is never packed by the pipeline: no base has it)
        return {k: v for k, v in ck.load(path).items() if not k.startswith(prefix)}
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys() if not k.startswith(prefix) and not k.startswith(ck.PACKED_PREFIX)}


def build_engine(kind: str, config, theta0_path, theta1_path, directions, batches, layers: list[int] | None = None,
                 dtype: str = "fp32"):
    """Engine for J(theta0 + a d1 + b d2) (surface/curve) or J(theta1 + a d1^G + b d2^G) (layer_surface).

    ``directions``: the pair (d1, d2), or a safetensors file of them (keys of :func:`bertscape.directions.join`)."""
    d1, d2 = directions if isinstance(directions, tuple) else split(load_tensors(directions))
    if kind == "layer_surface":
        return engine_at(kind, config, None, ck.load(theta1_path), d1, d2, batches, layers, dtype)
    theta1_head = read_head(theta1_path, encoder_prefix(d1))
    return engine_at(kind, config, ck.load(theta0_path), theta1_head, d1, d2, batches, layers, dtype)


def engine_at(kind: str, config, theta0: State | None, theta1: State, d1: State, d2: State, batches,
              layers: list[int] | None = None, dtype: str = "fp32"):
    """The engine from weights in memory: ``theta0`` (its encoder; None for a layer surface) and ``theta1`` (the
    whole model for a layer surface, else at least its head, which stays at theta1's learned values):
    (engine, info)."""
    info = {}
    if kind == "layer_surface":
        base = theta1
        keys = layer_keys(d1, layers, layer_map_of(config))
        if not keys:
            raise BertscapeError(f"layer group {layers} selects no parameters")
        d1 = {k: d1[k] for k in keys}
        raw2 = {k: d2[k] for k in keys}
        n1, n2 = norm(d1), norm(raw2)
        d2 = {k: v * (n1 / n2) for k, v in raw2.items()}  # delta2^G rescaled to ||delta1^G||
        info.update(norm_delta1_group=n1, norm_delta2_group_raw=n2, layers=list(layers))
    else:
        base = curve_base(theta0, theta1, d1)
        if kind == "curve":
            d2 = None
    return make_engine(config, base, d1, d2, batches, dtype=dtype), info


def curve_base(theta0: State, theta1: State, d1: State) -> State:
    """The point a curve or surface starts from: theta0's encoder (the parameters ``d1`` covers) with every other
    parameter -- the head -- at theta1's learned values."""
    prefix = encoder_prefix(d1)
    base = dict(theta0)  # (its encoder may be the init's shared file)
    base.update({k: v for k, v in theta1.items() if not k.startswith(prefix)})  # the head stays at theta1's
    return base


@dataclass(frozen=True)
class EngineSpec:
    """Everything one curve, surface or layer-surface engine is built from, named once by the script.

    ``ckpts``: the run's checkpoint folder (theta0 = epoch 0, theta1 = epoch ``epochs``); ``other``: the other
    task's run (delta2); ``directions``: the ``directions`` rule's record, checked against the directions
    recomputed here; ``train``/``dev``: token files (``dev`` None: training loss only); ``ev``: the ``eval``
    config section; ``layers``: the layer group of a layer surface."""
    kind: str
    config: Any  # the model's transformers config
    ckpts: Path
    epochs: int
    other: Path
    directions: Path
    train: Path
    dev: Path | None
    ev: dict
    seed: int
    layers: list[int] | None = None


def open_engine(spec: EngineSpec):
    """The engine of a run's curve, surface or layer surface, each checkpoint read once (delta1, delta2
    recomputed and checked against the ``directions`` rule's record): (engine, info, stats, batches)."""
    engines, info, stats, batches = open_engines(spec, split=False)
    return engines[None], info, stats, batches


def open_engines(spec: EngineSpec, split: bool = True):
    """:func:`open_engine` with one engine per evaluation set when ``split`` ({"train": ..., "dev": ...}, each on
    that set's batches alone, so a node can be evaluated on the training subset without the dev set; a batch's
    numbers do not depend on the other batches), else {None: engine}: (engines, info, stats, batches)."""
    train = load_tensors(spec.train)
    dev = load_tensors(spec.dev) if spec.dev is not None else None
    batches = eval_batches(train, dev, spec.ev, spec.seed)
    stats = read_json(spec.directions)
    theta0, theta1 = ck.load(ck.full_path(spec.ckpts, 0)), ck.load(ck.full_path(spec.ckpts, spec.epochs))
    d1, d2, again = ck.directions_from(theta0, theta1, spec.other, stats["epoch_theta2"], spec.epochs)
    if again["norm_delta1"] != stats["norm_delta1"] or again["norm_delta2_raw"] != stats["norm_delta2_raw"]:
        raise BertscapeError(f"{spec.directions}: was computed from other checkpoints than {spec.ckpts}, {spec.other}")
    if spec.kind == "layer_surface":
        theta0 = None
    sets = {name: [b for b in batches if b.set_name == name] for name in dict.fromkeys(b.set_name for b in batches)} \
        if split else {None: batches}
    engines, info = {}, {}
    for name, part in sets.items():
        engines[name], info = engine_at(spec.kind, spec.config, theta0, theta1, d1, d2, part, spec.layers,
                                        spec.ev["dtype"])
    return engines, info, stats, batches


def points(kind: str, alpha: np.ndarray, beta: np.ndarray | None) -> list[tuple[str, float, float]]:
    grid = [(f"g{i}_{j}", float(a), float(b)) for i, a in enumerate(alpha)
            for j, b in enumerate(beta if beta is not None else [0.0])]
    return grid + [(f"anchor:{n}", a, b) for n, (a, b) in ANCHORS[kind].items()]


def evaluate_shard(engine, kind: str, alpha, beta, k: int, n: int, partial: str | os.PathLike, key: str,
                   flush_every: int = 20, progress: bool = True, per_pass: int = 1) -> dict[str, dict[str, float]]:
    """Shard k of n; ``per_pass`` > 1 with an engine that has ``evaluate_many``: that many nodes per pass."""
    todo = points(kind, alpha, beta)[k::n]
    partial = Path(partial)
    done = {}
    if partial.exists():
        saved = read_json(partial)
        if saved.get("key") == key:
            done = saved["values"]
    last = len(done)
    left = [t for t in todo if t[0] not in done]
    step = per_pass if hasattr(engine, "evaluate_many") else 1
    for s in tqdm(range(0, len(left), step), desc=f"shard {k}/{n}", disable=not progress, mininterval=2.0):
        chunk = left[s:s + step]
        got = engine.evaluate_many([(a, b) for _, a, b in chunk]) if step > 1 else [engine.evaluate(*chunk[0][1:])]
        done.update({name: v for (name, _, _), v in zip(chunk, got)})
        if len(done) - last >= flush_every:
            write_json(partial, {"key": key, "values": done})
            last = len(done)
        preempt.check(lambda: write_json(partial, {"key": key, "values": done}) or str(partial))
    return done


def shard_grid(kind: str, values: dict[str, dict[str, float]], alpha, beta, attrs: dict) -> Grid:
    shape = (len(alpha),) if beta is None else (len(alpha), len(beta))
    metrics = sorted({m for v in values.values() for m in v})
    arrays = {m: np.full(shape, np.nan) for m in metrics}
    done = np.zeros(shape, dtype=bool)
    anchors = {}
    for name, v in values.items():
        if name.startswith("anchor:"):
            a, b = ANCHORS[kind][name[7:]]
            anchors[name[7:]] = {"alpha": a, "beta": b, **v}
            continue
        i, j = map(int, name[1:].split("_"))
        idx = (i,) if beta is None else (i, j)
        for m in metrics:
            arrays[m][idx] = v[m]
        done[idx] = True
    return Grid("shard", np.asarray(alpha), None if beta is None else np.asarray(beta), arrays, done, anchors,
                {"target_kind": kind, **attrs})


def run_attrs(spec: EngineSpec, axis: list, batches, flops: float) -> dict:
    """The HDF5 attributes that say what a grid was evaluated on (beside the names, the directions' record and the
    precision record)."""
    return {"seed": spec.seed, "n_train_subset": sum(len(b.labels) for b in batches if b.set_name == "train"),
            "n_dev": sum(len(b.labels) for b in batches if b.set_name == "dev"), "grid": list(axis),
            "useful_flops_per_point": flops}


def run_shard(spec: EngineSpec, axis: list, k: int, n: int, out: str | os.PathLike, key: str, names: dict,
              about: dict) -> None:
    """Evaluate shard k of n of the grid ``axis`` = [min, max, points] (with its anchors) and write it to ``out``
    with the accuracy contract's check (README: Precision). ``key`` identifies the run for resuming from the
    shard's partial file; ``names`` (task, init, group) and ``about`` (loss, dev_error_is, provenance) become
    HDF5 attributes beside what the engine reports."""
    engine, info, stats, batches = open_engine(spec)
    alpha = np.linspace(*axis[:2], int(axis[2]))
    beta = None if spec.kind == "curve" else alpha.copy()
    out = Path(out)
    partial = out.with_name(f".{out.name}.partial.json")
    per_pass = spec.ev.get("points_per_pass", 1)
    if per_pass > 1 and isinstance(engine, BertLandscape) and engine.dtype == "fp32":  # eval.points_per_pass
        engine = MultiPointLandscape.of(engine)
    with preempt.watch():  # a time limit or preemption: flush the finished nodes and stop (a rerun resumes)
        values = evaluate_shard(engine, spec.kind, alpha, beta, k, n, partial, key, per_pass=per_pass)
    coords = {name: (a, b) for name, a, b in points(spec.kind, alpha, beta)}
    precision = check(engine, values, coords, spec.ev["precision_nodes"], spec.seed * 1009 + k,
                      spec.ev["precision_budget"], out)
    stats.pop("provenance", None)
    attrs = {**names, "shard": [k, n], **run_attrs(spec, axis, batches, engine.useful_flops()), **about, **stats,
             **info, **precision}
    grid = shard_grid(spec.kind, values, alpha, beta, attrs)
    if spec.kind == "curve":
        grid.kind, grid.attrs["target_kind"] = "curve", "curve"
    write_grid(out, grid)
    partial.unlink(missing_ok=True)


def run_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
