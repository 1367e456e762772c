"""How precisely the dense path's rise is known: every node of each ``dense_path`` grid of a results folder
re-evaluated in float64 (the model, theta0, delta1 and the head all cast to float64, the same batches), beside
the engine the rule used (``eval.dtype`` of that run).

    PYTHONPATH=src python benchmarks/path_precision.py RESULTS/CONFIG/seedS/paths [--inits finetune scratch]

Prints per path: nodes, the rise (sum of positive steps) in the rule's engine and in float64, their difference,
and the largest per-node |loss difference|. ``claims.tie_bands.path_ascent_dense`` is derived from these
numbers (README: Tie bands), not from any verdict.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bertscape import checkpoints as ck
from bertscape.batches import eval_batches
from bertscape.data import TaskSpec
from bertscape.h5io import read_grid
from bertscape.io import load_tensors
from bertscape.landscape import HFLandscape
from bertscape.modeling import load_config, resolve_model_dir
from bertscape.pathshape import path_values, roughness
from bertscape.surfaces import EngineSpec, curve_base, engine_at


class Float64(HFLandscape):
    """The generic engine with the model and the weights it writes in float64."""

    def __init__(self, engine: HFLandscape):
        self.__dict__.update(engine.__dict__)
        self.model = self.model.double()
        params = dict(self.model.named_parameters())
        self.targets = {k: params[k] for k in self.d1}
        self.base = {k: v.double() for k, v in self.base.items()}
        self.d1 = {k: v.double() for k, v in self.d1.items()}


def spec_of(path: Path, root: Path) -> EngineSpec:
    """The dense_path job's EngineSpec of this grid's run, rebuilt from the grid's provenance and attributes (a
    job per seed: the job's params and the run's ``run_inputs``; a job per run, before 2026-12-06: its own)."""
    grid = read_grid(path)
    prov = grid.attrs["provenance"]
    p = prov["params"]
    if "runs" in p:
        n, files = p["runs"].index([grid.attrs["task"], grid.attrs["init"]]), grid.attrs["run_inputs"]
        task, epochs = p["tasks"][grid.attrs["task"]], p["epochs"][n]
    else:
        files, task, epochs = {k: next(iter(v)) for k, v in prov["inputs"].items()}, p["task"], p["epochs"]
    task = TaskSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in task.items()})
    conf = load_config(resolve_model_dir(p["model"]["name"], revision=p["model"]["revision"]), task.num_labels)
    at = lambda key: root / files[key]
    return EngineSpec("curve", conf, at("ckpts"), epochs, at("other"), at("directions"), at("train"), None,
                      p["eval"], p["seed"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", type=Path, help="a seed's paths/ folder")
    ap.add_argument("--root", type=Path, default=None, help="the folder the provenance's paths are relative to")
    a = ap.parse_args()
    root = a.root or a.paths.parents[3]
    print("| path | engine | nodes | rise engine | rise float64 | rise difference | max node difference |")
    print("|---|---|---|---|---|---|---|")
    for f in sorted(a.paths.glob("*/*.h5")):
        spec = spec_of(f, root)
        alpha, stored = path_values(read_grid(f))
        batches = eval_batches(load_tensors(spec.train), None, spec.ev, spec.seed)
        theta0, theta1, d1, d2 = weights(spec)
        engine, _ = engine_at("curve", spec.config, theta0, theta1, d1, d2, batches, dtype=spec.ev["dtype"])
        eng = np.array([engine.evaluate(float(x))["train_loss"] for x in alpha])
        base = curve_base(theta0, theta1, d1)
        ref = Float64(HFLandscape(spec.config, base, d1, None, batches, device="cpu", dtype="fp32"))
        f64 = np.array([ref.evaluate(float(x))["train_loss"] for x in alpha])
        assert np.allclose(eng, stored, rtol=0, atol=1e-6), f"{f}: the engine does not reproduce the stored grid"
        r_e, r_64 = roughness(eng)["ascent"], roughness(f64)["ascent"]
        print(f"| {f.parent.name}/{f.stem} | {spec.ev['dtype']} | {len(alpha)} | {r_e:.3g} | {r_64:.3g} | "
              f"{abs(r_e - r_64):.2g} | {np.abs(eng - f64).max():.2g} |")


def weights(spec: EngineSpec):
    """(theta0, theta1, delta1, delta2) from the run's checkpoints, as the curve job reads them."""
    theta0 = ck.load(ck.full_path(spec.ckpts, 0))
    theta1 = ck.load(ck.full_path(spec.ckpts, spec.epochs))
    stats = json.loads(spec.directions.read_text())
    d1, d2, _ = ck.directions_from(theta0, theta1, spec.other, stats["epoch_theta2"], spec.epochs)
    return theta0, theta1, d1, d2


if __name__ == "__main__":
    main()
