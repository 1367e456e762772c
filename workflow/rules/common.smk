import re
import sys
from pathlib import Path

from bertscape import BertscapeError
from bertscape import config as cfg
from bertscape.data import CUSTOM_KEYS, is_custom, task_spec
from bertscape.modeling import EMBEDDED_PREFIX, hub_cache_path

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
SPECS = {t: task_spec(t, config["tasks"]) for t in TASKS}  # built-in GLUE or custom (validated above)
INITS = list(cfg.INITS)
LONG = config["train"]["long_run"]["task"]
LAYER_TASKS = config["layers"]["tasks"]
ROLLBACK_TASKS = config["layers"]["rollback_tasks"] or TASKS
GROUPS = list(config["layers"]["groups"] or {"low": 0, "mid": 0, "high": 0})
SHARDS = config["grid"]["shards"]
SRC = Path(workflow.basedir) / "src" / "bertscape"


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
    if name.startswith((EMBEDDED_PREFIX, "/", ".")) or Path(name).is_dir():  # local: must exist now
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
    figs = ["fig1_train_loss_surfaces", "fig2_training_curves", "fig3_trajectories", "fig5_curves",
            "fig6_dev_error_surfaces", "table1_rollback"]
    if LONG:
        figs.append("fig4_long_run")
    if LAYER_TASKS:
        figs.append("fig7_layer_surfaces")
    return [f"{R}/figures/{f}.{x}" for f in figs for x in fmts] + [f"{R}/figures/table1_rollback.md"]
