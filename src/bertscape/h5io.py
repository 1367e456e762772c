"""HDF5 files for curves and surfaces: named datasets, documented index order.

Layout (one file per curve / surface / layer surface / shard)::

    /alpha                 float64 (A,)      grid coordinates along delta1
    /beta                  float64 (B,)      grid coordinates along delta2 (absent for curves)
    /<metric>              float64 (A, B)    indexed [i_alpha, j_beta]; (A,) for curves
    /done                  bool    (A, B)    which grid points were evaluated (shards)
    /anchors/name          str     (K,)      e.g. start, end, rollback
    /anchors/alpha, /anchors/beta            float64 (K,)
    /anchors/<metric>      float64 (K,)
    attrs: kind, task, init, group, index_order, metrics, nonfinite_<metric>, precision, precision_reference,
           precision_budget, precision_nodes, precision_worst_node, precision_max_abs_<metric>,
           precision_max_rel_<metric> (accuracy.py), ... (JSON for non-scalars)

Metrics: ``train_loss``, ``train_acc`` (on the seeded training subset), ``dev_loss``, ``dev_acc``,
``dev_error`` (= 1 - accuracy on the dev set). Regression tasks (attrs ``loss`` = "MSE",
``dev_error_is`` = "1 − Pearson r"): losses are mean squared errors, ``*_pearson`` replaces
``*_acc`` and ``dev_error`` = 1 - Pearson r (see :mod:`bertscape.metrics`). Files are written to a temp name and renamed;
readers open with HDF5 file locking off so many jobs may read at once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import h5py
import numpy as np

from . import BertscapeError
from .accuracy import merge
from .io import atomic_path

KINDS = ("curve", "surface", "layer_surface", "shard")


@dataclass
class Grid:
    """A landscape on a grid: values[metric] has shape (len(alpha),) or (len(alpha), len(beta))."""

    kind: str
    alpha: np.ndarray
    beta: np.ndarray | None
    values: dict[str, np.ndarray]
    done: np.ndarray
    anchors: dict[str, dict[str, float]] = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.alpha),) if self.beta is None else (len(self.alpha), len(self.beta))

    def value_at(self, metric: str, alpha: float, beta: float = 0.0) -> float:
        """Exact grid value at (alpha, beta); raises if the point is not a grid node."""
        i = _index(self.alpha, alpha)
        if self.beta is None:
            return float(self.values[metric][i])
        return float(self.values[metric][i, _index(self.beta, beta)])


def _index(axis: np.ndarray, x: float) -> int:
    hits = np.flatnonzero(np.isclose(axis, x, rtol=0, atol=1e-9))
    if len(hits) != 1:
        raise KeyError(f"{x} is not a grid node")
    return int(hits[0])


def _attr(v):
    if isinstance(v, (str, int, float, bool, np.integer, np.floating)):
        return v
    return json.dumps(v, sort_keys=True, default=str)


def write_grid(path: str | os.PathLike, grid: Grid) -> None:
    if grid.kind not in KINDS:
        raise ValueError(f"unknown kind {grid.kind}")
    with atomic_path(path) as tmp:
        # track_order off and no timestamps: identical content gives identical bytes
        with h5py.File(tmp, "w", libver=("earliest", "v110"), track_times=False) as f:
            f.create_dataset("alpha", data=np.asarray(grid.alpha, dtype=np.float64), track_times=False)
            if grid.beta is not None:
                f.create_dataset("beta", data=np.asarray(grid.beta, dtype=np.float64), track_times=False)
            for m, v in sorted(grid.values.items()):
                v = np.asarray(v, dtype=np.float64)
                if v.shape != grid.shape:
                    raise ValueError(f"{m} has shape {v.shape}, grid is {grid.shape}")
                f.create_dataset(m, data=v, track_times=False)
                grid.attrs[f"nonfinite_{m}"] = int((~np.isfinite(v) & grid.done).sum())
            f.create_dataset("done", data=np.asarray(grid.done, dtype=bool), track_times=False)
            a = f.create_group("anchors", track_order=False)
            names = sorted(grid.anchors)
            a.create_dataset("name", data=np.array(names, dtype=h5py.string_dtype()), track_times=False)
            keys = sorted({k for d in grid.anchors.values() for k in d})
            for k in keys:
                a.create_dataset(k, data=np.array([grid.anchors[n].get(k, np.nan) for n in names], dtype=np.float64),
                                 track_times=False)
            f.attrs["kind"] = grid.kind
            f.attrs["index_order"] = "[i_alpha]" if grid.beta is None else "[i_alpha, j_beta]"
            f.attrs["metrics"] = _attr(sorted(grid.values))
            for k, v in sorted(grid.attrs.items()):
                f.attrs[k] = _attr(v)


def read_grid(path: str | os.PathLike) -> Grid:
    try:
        with h5py.File(path, "r", locking=False) as f:
            kind = str(f.attrs["kind"])
            metrics = json.loads(f.attrs["metrics"])
            alpha = f["alpha"][()]
            beta = f["beta"][()] if "beta" in f else None
            values = {m: f[m][()] for m in metrics}
            done = f["done"][()]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["anchors/name"][()]]
            cols = {k: f["anchors"][k][()] for k in f["anchors"] if k != "name"}
            anchors = {n: {k: float(v[i]) for k, v in cols.items()} for i, n in enumerate(names)}
            attrs = {k: _unattr(v) for k, v in f.attrs.items() if k not in ("kind", "metrics")}
    except (OSError, KeyError, ValueError) as e:
        raise BertscapeError(f"{path}: not a bertscape HDF5 grid ({e})") from None
    grid = Grid(kind, alpha, beta, values, done, anchors, attrs)
    for m, v in values.items():
        if v.shape != grid.shape:
            raise BertscapeError(f"{path}: dataset {m} has shape {v.shape}, expected {grid.shape}")
    return grid


def _unattr(v):
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, str) and v[:1] in "[{":
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            return v
    if isinstance(v, np.generic):
        return v.item()
    return v


def gather(paths: list[str], out: str | os.PathLike, provenance: dict | None = None) -> Grid:
    """Merge shard files into one grid; every node must be covered exactly once."""
    shards = [read_grid(p) for p in paths]
    first = shards[0]
    values = {m: np.full(first.shape, np.nan) for m in first.values}
    done = np.zeros(first.shape, dtype=int)
    anchors = {}
    for p, s in zip(paths, shards):
        if not (np.array_equal(s.alpha, first.alpha) and (s.beta is None or np.array_equal(s.beta, first.beta))):
            raise BertscapeError(f"{p}: grid differs from {paths[0]}")
        for m in values:
            values[m][s.done] = s.values[m][s.done]
        done += s.done
        anchors.update(s.anchors)
    if (done != 1).any():
        raise BertscapeError(f"{out}: {(done == 0).sum()} grid points missing, {(done > 1).sum()} duplicated in shards")
    attrs = {k: v for k, v in first.attrs.items() if k not in ("target_kind", "shard", "provenance", "index_order")
             and not k.startswith(("nonfinite_", "precision"))}
    attrs.update(merge([s.attrs for s in shards]))  # the accuracy contract: worst deviation over all shards
    attrs["shards"] = len(paths)
    if provenance is not None:
        attrs["provenance"] = provenance
    grid = Grid(first.attrs["target_kind"], first.alpha, first.beta, values, done.astype(bool), anchors, attrs)
    write_grid(out, grid)
    return grid
