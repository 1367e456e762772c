"""Rules curve, surface_shard, layer_shard: evaluate one shard of a grid (with its anchors)."""
from pathlib import Path

from bertscape.config import layer_groups
from bertscape.data import TaskSpec
from bertscape.modeling import load_config, resolve_model_dir
from bertscape.runner import run
from bertscape.surfaces import EngineSpec, run_key, run_shard


def main(job):
    p, wc, inp = job.params, job.wildcards, job.input
    task = TaskSpec(**p.task)
    mconf = load_config(resolve_model_dir(**job.model()), task.num_labels)
    layers = layer_groups(p.groups, mconf.num_hidden_layers)[wc.group] if p.kind == "layer_surface" else None
    spec = EngineSpec(p.kind, mconf, Path(inp.ckpts), p.epochs, Path(inp.other), Path(inp.directions),
                      Path(inp.train), Path(inp.dev) if p.dev else None, p.eval, p.seed, layers)
    k, n = (int(wc.k), p.shards) if "k" in wc.keys() else (0, 1)
    key = run_key(dict(p.items()), k, n, *[(str(f), Path(f).stat().st_mtime_ns) for f in
                                           (inp.directions, inp.train, inp.dev, inp.ckpts, inp.other)])
    names = {"task": wc.task, "init": wc.get("init", "finetune"), "group": wc.get("group", "")}
    run_shard(spec, p.axis, k, n, job.output[0], key, names,
              {"loss": task.loss, "dev_error_is": task.error, "provenance": job.provenance()})


run(snakemake, main)  # noqa: F821
