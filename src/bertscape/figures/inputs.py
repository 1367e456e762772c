"""From pipeline files to the paper's figures: read the inputs, call the plotting functions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..h5io import Grid, read_grid
from ..io import read_json, read_tsv
from .curves import fig_curves
from .filter import fig_filter_surfaces
from .layers import fig_layers
from .surfaces import fig_surfaces
from .training import fig_training_curves
from .trajectories import fig_trajectories


def _by(paths, ext):
    return [Path(p) for p in paths if str(p).endswith(ext)]


def _grids(paths) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for p in _by(paths, ".h5"):
        g = read_grid(p)
        out.setdefault(g.attrs["init"], {})[g.attrs["task"]] = g
    for p in _by(paths, ".json"):  # filter_curves results (directions.kind filter_normalized): direction 0's curve
        d = read_json(p)
        out.setdefault(d["init"], {})[d["task"]] = filter_curve(d)
    return out


def filter_curve(d: dict) -> Grid:
    """A rule filter_curves result's first direction as a 1D curve, theta1 (its ``end`` anchor) at alpha 0."""
    a, f = np.asarray(d["alpha"], float), np.asarray(d["directions"][0]["loss"], float)
    return Grid("curve", a, None, {"train_loss": f}, np.ones(len(a), bool),
                {"end": {"alpha": 0.0, "train_loss": float(d["f_theta1"])}},
                {"task": d["task"], "init": d["init"], "directions": "filter_normalized"})


def _traj(path: Path) -> dict[str, np.ndarray]:
    rows = read_tsv(path)
    return {k: np.array([r[k] for r in rows], dtype=float) for k in ("epoch", "d_alpha", "d_beta")}


def _long_label(path: Path) -> str:
    """'fine-tune E+X epochs': E is the epoch that is theta1 itself (d_alpha = 1, d_beta = 0 exactly)."""
    rows = read_tsv(path)
    base = max(int(r["epoch"]) for r in rows if r["d_alpha"] == 1.0 and r["d_beta"] == 0.0)
    return f"fine-tune {base}+{int(rows[-1]['epoch']) - base} epochs"


def _logs(named) -> dict:
    """Figure 2's input: {task: {init: {"step", "loss", "epoch"}}} of steps.tsv files."""
    logs: dict = {}
    for p, task, init in named:
        rows = read_tsv(p)
        logs.setdefault(task, {})[init] = {
            "step": np.array([r["step"] for r in rows]), "loss": np.array([r["loss"] for r in rows]),
            "epoch": np.array([r["epoch_pos"] for r in rows])}
    return logs


def _curves(paths) -> dict:
    """Figure 5's input: {task: {init: curve}} in first-seen task order (a set's would vary)."""
    curves = _grids(paths)
    tasks = dict.fromkeys(t for d in curves.values() for t in d)
    return {t: {i: curves[i][t] for i in curves if t in curves[i]} for t in tasks}


def make_figure(fig: str, paths: list[str], style: dict, keys: list, display=None):
    """Figure ``fig`` from its input files ``paths``; ``keys[i]`` is (task, init) of ``paths[i]``, or (task, init,
    seed): then the ``display`` seed's files are the figure's, the other seeds' curves are drawn thin behind them
    (Figures 2 and 5)."""
    every = [(Path(p), str(k[0]), str(k[1]), k[2] if len(k) > 2 else display) for p, k in zip(paths, keys, strict=True)]
    named = [(p, t, i) for p, t, i, s in every if s == display]
    others: dict = {}
    for p, t, i, s in every:
        if s != display:
            others.setdefault(s, []).append((p, t, i))
    paths = [str(p) for p, _, _ in named]
    if fig == "fig1_filter_surfaces" or (fig == "fig1_train_loss_surfaces" and all(
            read_grid(p).attrs.get("directions") == "filter_normalized" for p in paths)):
        return fig_filter_surfaces(_grids(paths), style)
    if fig in ("fig1_train_loss_surfaces", "fig6_dev_error_surfaces"):
        return fig_surfaces(_grids(paths), "train_loss" if fig.startswith("fig1") else "dev_error", style)
    if fig == "fig2_training_curves":
        return fig_training_curves(_logs(named), style, [_logs(v) for v in others.values()])
    if fig in ("fig3_trajectories", "fig4_long_run"):
        grids = _grids(paths)
        trajs = [(p, task, init) for p, task, init in named if p.suffix == ".tsv"]
        order = ("MRPC", "MNLI")  # the paper's column order
        tasks = sorted({task for _, task, _ in trajs}, key=lambda t: order.index(t) if t in order else len(order))
        panels = []
        for p, task, init in trajs:
            surf_init = "finetune" if init == "long" else init
            title = f"{task} ({_long_label(p) if init == 'long' else 'fine-tune' if init == 'finetune' else 'scratch'})"
            panels.append({"grid": grids[surf_init][task], "traj": _traj(p), "title": title,
                           "row": 0 if init in ("scratch", "long") else 1, "col": tasks.index(task)})
        return fig_trajectories(panels, "train_loss" if fig.startswith("fig3") else "dev_error", style)
    if fig == "fig5_curves":
        return fig_curves(_curves(paths), style,
                          others=[_curves([str(p) for p, _, _ in v]) for v in others.values()])
    if fig == "fig7_layer_surfaces":
        layers: dict = {}
        for p in _by(paths, ".h5"):
            g = read_grid(p)
            layers.setdefault(g.attrs["task"], {})[g.attrs["group"]] = g
        return fig_layers(layers, style)
    raise ValueError(f"unknown figure {fig}")


def table1_rows(paths: list[str], report: dict[str, list[str]] | None = None) -> list[dict]:
    """One row per rollback table: the task's headline metric (x 100) for the fine-tuned model and each
    rolled-back group; ``metric`` its printed name, ``glue`` GLUE's metrics of the fine-tuned model
    (``report``: task -> metric names; default the headline metric)."""
    from ..data import METRIC_NAMES
    from ..summary import glue_text

    rows = []
    for p in paths:
        recs = read_tsv(p)
        task = str(recs[0]["task"])
        metric = str(recs[0].get("metric", "acc"))
        col = "score" if "score" in recs[0] else "dev_acc"
        row = {"task": task, "metric": METRIC_NAMES.get(metric, metric), "finetuned": 100 * recs[0][col],
               "glue": glue_text(recs[0], (report or {}).get(task, [metric])), "layers": {}}
        for r in recs[1:]:
            row[str(r["group"])] = 100 * r[col]
            row["layers"][str(r["group"])] = [int(r["first_layer"]), int(r["last_layer"])]
        rows.append(row)
    return rows
