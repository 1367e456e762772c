"""Rules curve, surface_shard, layer_shard: evaluate one shard of a grid (with its anchors)."""
from pathlib import Path

import numpy as np

from bertscape.accuracy import check
from bertscape.config import layer_groups
from bertscape.data import TaskSpec
from bertscape.h5io import write_grid
from bertscape.io import load_tensors
from bertscape.modeling import load_config, resolve_model_dir
from bertscape.preempt import watch
from bertscape.runner import run
from bertscape.surfaces import evaluate_shard, open_engine, points, run_key, shard_grid


def main(job):
    p, wc = job.params, job.wildcards
    kind = p.kind
    k, n = (int(wc.k), p.shards) if "k" in wc.keys() else (0, 1)
    model_dir = resolve_model_dir(**job.model())
    spec = TaskSpec(**p.task)
    mconf = load_config(model_dir, spec.num_labels)
    layers = layer_groups(p.groups, mconf.num_hidden_layers)[wc.group] if kind == "layer_surface" else None
    engine, info, stats, batches = open_engine(
        kind, mconf, load_tensors(job.input.train), load_tensors(job.input.dev) if p.dev else None, p.eval, p.seed,
        job.input.ckpts, p.epochs, job.input.other, job.input.directions, layers)
    alpha = np.linspace(*p.axis[:2], int(p.axis[2]))
    beta = None if kind == "curve" else alpha.copy()
    out = Path(job.output[0])
    key = run_key(dict(p.items()), k, n, *[(str(f), Path(f).stat().st_mtime_ns) for f in
                                           (job.input.directions, job.input.train, job.input.dev, job.input.ckpts,
                                            job.input.other)])
    partial = out.with_name(f".{out.name}.partial.json")
    with watch():  # a time limit or preemption: flush the finished nodes and stop (a rerun resumes)
        values = evaluate_shard(engine, kind, alpha, beta, k, n, partial, key)
    coords = {name: (a, b) for name, a, b in points(kind, alpha, beta)}  # the accuracy contract (README: Precision)
    precision = check(engine, values, coords, p.eval["precision_nodes"], p.seed * 1009 + k, p.eval["precision_budget"], out)
    stats.pop("provenance", None)
    attrs = {"task": wc.task, "init": wc.get("init", "finetune"), "group": wc.get("group", ""), "shard": [k, n],
             "seed": p.seed, "n_train_subset": sum(len(b.labels) for b in batches if b.set_name == "train"),
             "n_dev": sum(len(b.labels) for b in batches if b.set_name == "dev"), "grid": list(p.axis),
             "useful_flops_per_point": engine.useful_flops(), "loss": spec.loss, "dev_error_is": spec.error,
             "provenance": job.provenance(), **stats, **info, **precision}
    grid = shard_grid(kind, values, alpha, beta, attrs)
    if kind == "curve":
        grid.kind, grid.attrs["target_kind"] = "curve", "curve"
    write_grid(out, grid)
    partial.unlink(missing_ok=True)


run(snakemake, main)  # noqa: F821
