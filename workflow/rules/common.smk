import os
import re
import sys
from pathlib import Path

# The library is this workflow's own src/ (what lib() declares as inputs), also when the workflow is used as a
# module of another one or runs its jobs in conda envs (envs/ holds no bertscape): first on the path here, and
# on PYTHONPATH for every job (local jobs inherit it; SLURM jobs re-read this file).
SRC = Path(str(workflow.current_basedir)).resolve().parents[1] / "src" / "bertscape"  # this file's ../../src
sys.path.insert(0, str(SRC.parent))

from bertscape import BertscapeError, on_pythonpath
from bertscape import config as cfg
from bertscape.data import TASKS as TASK_SPECS
from bertscape.modeling import EMBEDDED_PREFIX, hub_cache_path

on_pythonpath(SRC.parent)

# config.yaml is the paper's experiment; `--configfile X` replaces it whole (no merging of task lists).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


try:
    cfg.validate(config, cfg.load_schema(workflow.source_path("../schemas/config.schema.yaml")))
except BertscapeError as e:
    sys.stderr.write(f"bertscape: {e}\n")
    sys.exit(2)

R = config["results"].rstrip("/")
TASKS = list(config["tasks"])
INITS = list(cfg.INITS)
LONG = config["train"]["long_run"]["task"]
LAYER_TASKS = config["layers"]["tasks"]
ROLLBACK_TASKS = config["layers"]["rollback_tasks"] or TASKS
GROUPS = list(config["layers"]["groups"] or {"low": 0, "mid": 0, "high": 0})
SHARDS = config["grid"]["shards"]


wildcard_constraints:
    task="|".join(map(re.escape, TASKS)),
    init="finetune|scratch|long",
    split="train|dev",
    group="|".join(map(re.escape, GROUPS)),
    k=r"\d+",


def lib(*modules):
    """The library modules a rule's script runs: declared as inputs so editing them reruns exactly those rules."""
    return [str(SRC / m) for m in ("__init__.py", "runner.py", "provenance.py", "io.py", *modules)]


def model_files():
    """Inputs that identify the model: the fetched hub snapshot, or the weights of a local/embedded model."""
    name = config["model"]["name"]
    if name.startswith((EMBEDDED_PREFIX, os.sep, ".")) or Path(name).is_dir():  # local: must exist now
        from bertscape.modeling import resolve_model_dir

        try:
            d = resolve_model_dir(name)
            cfg.layer_groups(config, cfg_depth(d))  # the depth is known before any job runs: check the groups now
        except BertscapeError as e:
            sys.stderr.write(f"bertscape: {e}\n")
            sys.exit(2)
        return [str(p) for p in sorted(d.glob("*.json")) + sorted(d.glob("*.safetensors")) + sorted(d.glob("*.txt"))]
    return [str(hub_cache_path(config["resources_dir"], name, config["model"]["revision"]) / "config.json")]


def cfg_depth(model_dir):
    import json

    c = json.loads((Path(model_dir) / "config.json").read_text())
    return c.get("num_hidden_layers") or c.get("n_layers")


def ckpt_dir(task, init):
    return f"{R}/train/{task}/{init}/checkpoints"


def tokens(task, split):
    return f"{R}/data/{task}/{split}.tokens.safetensors"


def log(name):
    return f"{R}/logs/{name}.log"


def bench(name):
    return f"{R}/benchmarks/{name}.tsv"


def eval_params():
    """Everything that decides a landscape value at a point (and nothing else)."""
    return {"eval": config["eval"], "seed": config["seed"]}


def all_figures():
    fmts = config["figures"]["formats"]
    figs = [
        "fig1_train_loss_surfaces",
        "fig2_training_curves",
        "fig3_trajectories",
        "fig5_curves",
        "fig6_dev_error_surfaces",
        "table1_rollback",
    ]
    if LONG:
        figs.append("fig4_long_run")
    if LAYER_TASKS:
        figs.append("fig7_layer_surfaces")
    return [f"{R}/figures/{f}.{x}" for f in figs for x in fmts] + [f"{R}/figures/table1_rollback.md"]


# ---- used by data.smk


def data_params():
    d = config["data"]
    keep = {"source": d["source"], "max_train": d["max_train"], "max_dev": d["max_dev"], "seed": config["seed"]}
    if d["source"] == "synthetic":
        keep.update(synthetic_train=d["synthetic_train"], synthetic_dev=d["synthetic_dev"])
    elif d["source"] == "glue_dir":
        keep["glue_dir"] = str(Path(d["glue_dir"]).resolve())
    else:
        keep.update(
            hub_dataset=d["hub_dataset"],
            hub_revision=d["hub_revision"],
            cache_dir=f"{config['resources_dir']}/datasets",
        )
    return keep


def glue_files(wildcards):
    if config["data"]["source"] != "glue_dir":
        return []
    from bertscape.data.glue import glue_file

    return [str(glue_file(config["data"]["glue_dir"], wildcards.task, s)) for s in ("train", "dev")]


# ---- used by figures.smk


def figure_inputs(wildcards):
    f = wildcards.fig
    surf = lambda tasks: [f"{R}/surfaces/{t}/{i}.h5" for i in INITS for t in tasks]
    if f in ("fig1_train_loss_surfaces", "fig6_dev_error_surfaces"):
        return surf(TASKS)
    if f == "fig2_training_curves":
        return [f"{R}/train/{t}/{i}/steps.tsv" for i in INITS for t in TASKS]
    if f == "fig3_trajectories":
        tasks = [t for t in ("MRPC", "MNLI") if t in TASKS] or TASKS[:2]
        return surf(tasks) + [f"{R}/trajectories/{t}/{i}.tsv" for i in INITS for t in tasks]
    if f == "fig4_long_run":
        return [f"{R}/surfaces/{LONG}/finetune.h5", f"{R}/trajectories/{LONG}/long.tsv"]
    if f == "fig5_curves":
        return [f"{R}/curves/{t}/{i}.h5" for i in INITS for t in TASKS]
    if f == "fig7_layer_surfaces":
        return [f"{R}/layers/{t}/{g}.h5" for t in LAYER_TASKS for g in GROUPS]
    raise ValueError(f"unknown figure {f}")


# ---- used by report.smk


def claims_inputs(wildcards):
    both = [(t, i) for t in TASKS for i in INITS]
    inp = {
        "surfaces": [f"{R}/surfaces/{t}/{i}.h5" for t, i in both],
        "curves": [f"{R}/curves/{t}/{i}.h5" for t, i in both],
        "epochs": [f"{R}/train/{t}/{i}/epochs.tsv" for t, i in both],
        "trajectories": [f"{R}/trajectories/{t}/{i}.tsv" for t, i in both]
        + ([f"{R}/trajectories/{LONG}/long.tsv"] if LONG else []),
        "directions": [f"{R}/directions/{t}/{i}.json" for t, i in both],
        "rollback": [f"{R}/layers/{t}/rollback.tsv" for t in ROLLBACK_TASKS],
        "layers": [f"{R}/layers/{t}/{g}.h5" for t in LAYER_TASKS for g in GROUPS],
        "hessian": [f"{R}/claims/sharpness/{t}/{i}.json" for t, i in both] if HESSIAN["enabled"] else [],
    }
    if LONG:
        inp["long_epochs"] = f"{R}/train/{LONG}/long/epochs.tsv"
    return inp


# ---- used by surfaces.smk


def landscape_inputs(wildcards):
    init = wildcards.get("init", "finetune")
    return {
        "directions": f"{R}/directions/{wildcards.task}/{init}.json",
        "ckpts": ckpt_dir(wildcards.task, init),
        "other": ckpt_dir(config["tasks"][wildcards.task]["other_task"], init),
        "train": tokens(wildcards.task, "train"),
        "dev": tokens(wildcards.task, "dev"),
        "model": model_files(),
    }


# ---- used by train.smk


def train_inputs(wildcards):
    inp = {"train": tokens(wildcards.task, "train"), "dev": tokens(wildcards.task, "dev"), "model": model_files()}
    if wildcards.init == "scratch":
        inp["init"] = f"{R}/init/scratch.safetensors"
    if wildcards.init == "long":  # §5.3: continue the fine-tuned run for more epochs
        inp["start"] = ckpt_dir(wildcards.task, "finetune")
    return inp


# ---- used by trajectories.smk


def trajectory_inputs(wildcards):
    base = "finetune" if wildcards.init == "long" else wildcards.init
    inp = {"theta0": ckpt_dir(wildcards.task, base)}  # delta1 = theta1 - theta0 of that run, recomputed
    if wildcards.init == "long":
        inp["long"] = ckpt_dir(wildcards.task, "long")
    return inp


# ---- used by views.smk


def view_inputs(wildcards):
    if wildcards.view == "surfaces":
        return [f"{R}/surfaces/{t}/{i}.h5" for t in TASKS for i in INITS]
    return [f"{R}/layers/{t}/{g}.h5" for t in LAYER_TASKS for g in GROUPS]


def all_views():
    views = ["surfaces"] + (["layers"] if LAYER_TASKS else [])
    vtk = [f"{R}/views/vtk/surfaces/{t}/{i}.vtk" for t in TASKS for i in INITS]
    vtk += [f"{R}/views/vtk/layers/{t}/{g}.vtk" for t in LAYER_TASKS for g in GROUPS]
    return [f"{R}/views/{v}_3d.html" for v in views] + vtk
