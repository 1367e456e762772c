import dataclasses
import os
import re
import sys
from pathlib import Path

# The workflow's own location (this file is workflow/rules/common.smk), also when it is used as a module of
# another workflow. Its library is its own src/ (what code_id() derives inputs from), also when jobs run in conda
# envs (envs/ holds no bertscape): first on sys.path here, and on PYTHONPATH for every job (local jobs
# inherit it; SLURM jobs re-read this file).
ROOT = Path(workflow.current_basedir.get_path_or_uri(secret_free=True)).parents[1]
SRC = ROOT / "src" / "bertscape"
sys.path.insert(0, os.path.abspath(SRC.parent))

from bertscape import BertscapeError, on_pythonpath
from bertscape import config as cfg
from bertscape import codeinputs, identity
from bertscape import controls as ctl
from bertscape.data import CUSTOM_KEYS, is_custom, task_spec
from bertscape.modeling import EMBEDDED_PREFIX, hub_cache_path

on_pythonpath(os.path.abspath(SRC.parent))

# config.yaml is the paper's experiment; `--configfile X` replaces it whole (no merging of task lists).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


try:
    cfg.validate(config, cfg.load_schema(workflow.source_path("../schemas/config.schema.yaml")))
except BertscapeError as e:
    sys.stderr.write(f"bertscape: {e}\n")
    sys.exit(2)

R = config["results"]  # normalised by cfg.validate (no "./", no trailing "/")
TASKS = list(config["tasks"])
SPECS = {t: task_spec(t, config["tasks"]) for t in TASKS}  # built-in GLUE or custom (validated above)
INITS = list(cfg.INITS)
CONTROLS = config["controls"]  # control runs (bertscape.controls): more inits through the per-run stages only
LONG = config["train"]["long_run"]["task"]
LAYER_TASKS = config["layers"]["tasks"]
ROLLBACK_TASKS = config["layers"]["rollback_tasks"] or TASKS
GROUPS = list(config["layers"]["groups"] or {"low": 0, "mid": 0, "high": 0})
SHARDS = config["grid"]["shards"]
SEEDS = config["seeds"]  # the run seeds (a list after cfg.validate); every path that names a run carries its seed
DISPLAY = config["display_seed"]  # the seed of the full surfaces, layer surfaces, 3D views and figures


wildcard_constraints:
    task="|".join(map(re.escape, TASKS)),
    init="|".join([*cfg.INITS, *cfg.LONG_INITS, *ctl.CONTROLS]),
    split="train|dev",
    group="|".join(map(re.escape, GROUPS)),
    k=r"\d+",
    seed=r"\d+",


def code_id(script):
    """A rule's code input: the identity of workflow/scripts/SCRIPT and of every library module it can import,
    derived from the import statements (bertscape.codeinputs), never listed by hand. It changes only when what
    that code does changes (not for comments, docstrings or layout): Snakemake then reruns exactly the rules
    whose scripts reach the edited module. Rewritten by the main process only; job processes only read it."""
    path = f"{R}/sources/code/{Path(script).stem}.json"
    if workflow.is_main_process:
        try:
            codeinputs.refresh(
                path, codeinputs.identity(ROOT / "workflow" / "scripts" / script, SRC.parent, SRC.name, ROOT)
            )
        except (OSError, SyntaxError) as e:
            sys.stderr.write(f"bertscape: cannot derive the code identity of workflow/scripts/{script} ({e})\n")
            sys.exit(2)
    return path


# External inputs enter the DAG by content: jobs that read the model take MODEL_ID (sha256 of every
# weight, vocabulary and config file) as input, not the files themselves, so a reinstall that only
# touches them reruns nothing. The main Snakemake process rewrites an identity file at parse time,
# and only when a hash changed; job processes (SLURM) only read it. README: "What triggers a rerun".
MODEL_ID = f"{R}/sources/model.json"


def data_id(task):
    """The identity of the files a task's rows are read from (GLUE directory or a custom task's files)."""
    return f"{R}/sources/data/{task}.json"


def data_source_files(task):
    """{name: path} of the files a task's rows are read from; empty for synthetic data and hub datasets."""
    t = config["tasks"][task]
    if is_custom(config["tasks"], task):
        from bertscape.data.custom import FILE_SOURCES, split_file

        return (
            {f"{task}/{split_file(t, s).name}": split_file(t, s) for s in ("train", "dev")}
            if t["source"] in FILE_SOURCES
            else {}
        )
    if config["data"]["source"] != "glue_dir":
        return {}
    from bertscape.data.glue import glue_file

    files = [glue_file(config["data"]["glue_dir"], task, s, config["data"]["mnli_dev"]) for s in ("train", "dev")]
    return {f"{task}/{f.name}": f for f in files}


def cfg_depth(model_dir):
    """The number of transformer blocks, counted in the model object (bertscape.architectures), any architecture."""
    from bertscape.architectures import depth

    return depth(model_dir)


def _model_dir():
    name = config["model"]["name"]
    if name.startswith((EMBEDDED_PREFIX, os.sep, ".")) or Path(name).is_dir():  # local: must exist now
        from bertscape.modeling import resolve_model_dir

        try:
            d = resolve_model_dir(name)
            # the depth is known before any job runs: check the groups now
            cfg.layer_groups(config["layers"]["groups"], cfg_depth(d))
        except BertscapeError as e:
            sys.stderr.write(f"bertscape: {e}\n")
            sys.exit(2)
        return d, False
    snapshot = hub_cache_path(config["resources_dir"], name, config["model"]["revision"])
    return (snapshot if (snapshot / "config.json").is_file() else None), True


MODEL_DIR, MODEL_HUB = _model_dir()  # hub: rule model_identity writes MODEL_ID after the fetch
if workflow.is_main_process:
    try:
        if MODEL_DIR is not None:
            identity.refresh_model(MODEL_ID, MODEL_DIR)
        for t in TASKS:
            if files := data_source_files(t):
                identity.refresh(data_id(t), files)
    except OSError as e:
        sys.stderr.write(f"bertscape: cannot hash an external input ({e})\n")
        sys.exit(2)


# Models the user already fine-tuned (tasks.<T>.finetuned / scratch) are theta1 of those runs: rule
# import_checkpoint writes what train would. Each enters the DAG by content like the model; its architecture
# and vocabulary are checked against model.name before any job runs.
from bertscape import imported as imp

IMPORTED = imp.imported_runs(config["tasks"])


def checkpoint_id(task, init):
    return f"{R}/sources/checkpoints/{task}/{init}.json"


def _imported_dirs():
    dirs = {}
    try:
        for (t, init), ref in IMPORTED.items():
            key = f"tasks.{t}.{imp.KEYS[init]}"
            dirs[t, init] = d = imp.checkpoint_dir(ref, config["resources_dir"], key)
            if MODEL_DIR is not None:
                imp.check_compatible(d, MODEL_DIR, key, config["model"]["name"])
    except BertscapeError as e:
        sys.stderr.write(f"bertscape: {e}\n")
        sys.exit(2)
    return dirs


IMPORTED_DIRS = _imported_dirs()
if workflow.is_main_process:
    try:
        for (t, init), d in IMPORTED_DIRS.items():
            identity.refresh_model(checkpoint_id(t, init), d)
    except OSError as e:
        sys.stderr.write(f"bertscape: cannot hash a checkpoint ({e})\n")
        sys.exit(2)


def import_inputs(wildcards):
    """Only an imported run has a checkpoint identity: for any other run this names a file nothing makes, so
    the train rule is the one that applies (ruleorder import_checkpoint > train)."""
    run, s = (wildcards.task, wildcards.init), wildcards.seed
    inp = {"model": MODEL_ID, "init": init_file(wildcards.init, s), "dev": tokens(wildcards.task, "dev", s)}
    inp["checkpoint"] = checkpoint_id(*run) if run in IMPORTED else f"{R}/sources/checkpoints/not-imported"
    return inp


def run_dir(seed):
    """Where everything of one seed's runs lives: {R}/seed<seed>/<stage>/..."""
    return f"{R}/seed{seed}"


def init_file(init, seed):
    """theta0's encoder: the pre-trained one is shared by every seed; the scratch one is drawn per seed (a control
    starts from its theta0 init's)."""
    init = ctl.theta0_init(init)
    return f"{run_dir(seed)}/init/scratch.safetensors" if init == "scratch" else f"{R}/init/{init}.safetensors"


def ckpt_dir(task, init, seed):
    return f"{run_dir(seed)}/train/{task}/{init}/checkpoints"


def data_dir(seed):
    """The prepared data a run of SEED reads: its own, or data_seed's when every seed shares one."""
    return f"{R}/data/seed{cfg.data_seed(config, int(seed))}"


def tokens(task, split, seed):
    return f"{data_dir(seed)}/{task}/{split}.tokens.safetensors"


def seed_param(wildcards):
    """A job's seed, from its path (never config["seed"]: every seed's jobs share the rules)."""
    return int(wildcards.seed)


def log(name):
    return f"{R}/logs/{name}.log"


def bench(name):
    return f"{R}/benchmarks/{name}.tsv"


MODEL = {k: config["model"][k] for k in ("name", "revision")}  # a job's params.model (runner.Job.model locates it)


def task_params(wc):
    """A task's spec as a param (``TaskSpec(**params.task)`` in the script): labels, loss, metric, nothing else."""
    return dataclasses.asdict(SPECS[wc.task])


def eval_params(dtype=None):
    """Everything that decides a landscape value at a point (and nothing else); ``dtype`` overrides eval.dtype."""
    ev = {k: v for k, v in config["eval"].items() if k != "points_per_pass" or v != 1}  # (1: absent, as before)
    return {"eval": ev if dtype is None else {**ev, "dtype": dtype}, "seed": seed_param}


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
    if FILTER["enabled"] and FILTER["surface_points"] and config["directions"]["kind"] == "delta":
        figs.append("fig1_filter_surfaces")  # directions.kind filter_normalized: Figure 1 itself is drawn so
    return [f"{R}/figures/{f}.{x}" for f in figs for x in fmts] + [f"{R}/figures/table1_rollback.md"]


def report_labels(figure, tasks=None, inits="finetune, scratch", seeds=None):
    """An item's labels in the Snakemake report (task, init, seed), so the report can filter them; the seed is
    the display seed unless the item draws several."""
    return {
        "figure": figure,
        "task": ", ".join(TASKS if tasks is None else tasks),
        "init": inits,
        "seed": ", ".join(map(str, [DISPLAY] if seeds is None else seeds)),
    }


def figure_labels(wildcards):
    """report() labels of a figure (rule figure's {fig} wildcard)."""
    fig = wildcards.fig
    if fig == "fig4_long_run":
        return report_labels(fig, [LONG], "finetune, long")
    if fig == "fig7_layer_surfaces":
        return report_labels(fig, LAYER_TASKS, "finetune")
    if fig in ("fig2_training_curves", "fig5_curves"):  # each seed's curve thin behind the display seed's
        return report_labels(fig, seeds=SEEDS)
    return report_labels(fig)


def view_labels(wildcards):
    if wildcards.view == "layers":
        return report_labels("layers_3d", LAYER_TASKS, "finetune")
    return report_labels("surfaces_3d")


def all_views():
    """The display seed's surfaces and layer surfaces in 3D (the views name no seed: there is one)."""
    views = ["surfaces"] + (["layers"] if LAYER_TASKS else [])
    vtk = [f"{R}/views/vtk/surfaces/{t}/{i}.vtk" for t in TASKS for i in INITS]
    vtk += [f"{R}/views/vtk/layers/{t}/{g}.vtk" for t in LAYER_TASKS for g in GROUPS]
    return [f"{R}/views/{v}_3d.html" for v in views] + vtk


# ---- used by data.smk


def data_params(task, seed):
    """What decides the prepared rows (SEED: the data seed in the path). No paths: a GLUE directory or a custom
    task's files enter by content (source_files), and the script finds them, like the hub dataset cache, through
    the config."""
    d = config["data"]
    keep = {"source": d["source"], "max_train": d["max_train"], "max_dev": d["max_dev"], "seed": int(seed)}
    t = config["tasks"][task]
    if is_custom(config["tasks"], task):  # a custom task brings its own source: only its own entry matters
        keep["custom"] = {k: t[k] for k in CUSTOM_KEYS if t.get(k) is not None and k != "path"}
        return keep
    if task == "MNLI" and d["source"] != "synthetic":
        keep["mnli_dev"] = d["mnli_dev"]
    if d["source"] == "synthetic":
        keep.update(synthetic_train=d["synthetic_train"], synthetic_dev=d["synthetic_dev"])
    elif d["source"] == "hub":
        keep.update(hub_dataset=d["hub_dataset"], hub_revision=d["hub_revision"])
    return keep


def source_files(wildcards):
    """The identity of the files a task's rows are read from (data_id: by content, not by path or mtime,
    so moving or re-downloading identical files reruns nothing)."""
    return [data_id(wildcards.task)] if data_source_files(wildcards.task) else []


# ---- used by figures.smk


def figure_files(f):
    """[(path, task, init)] of figure ``f``'s inputs (a grid names its own task and init in its attributes): the
    display seed's. Figures 2 and 5 draw every other seed's curves behind them (seed_files)."""
    D = run_dir(DISPLAY)
    surf = lambda tasks: [(f"{D}/surfaces/{t}/{i}.h5", t, i) for i in INITS for t in tasks]
    filt = config["directions"]["kind"] == "filter_normalized"  # Figures 1 and 5 on filter-normalised axes
    if f == "fig1_filter_surfaces" or (f == "fig1_train_loss_surfaces" and filt):
        return [(f"{D}/flatness/filter_surfaces/{t}/{i}.h5", t, i) for i in INITS for t in TASKS]
    if f == "fig5_curves" and filt:
        return [
            (f"{run_dir(s)}/flatness/filter/{t}/{i}.json", t, i, s) for s in seed_order() for i in INITS for t in TASKS
        ]
    if f in ("fig1_train_loss_surfaces", "fig6_dev_error_surfaces"):
        return surf(TASKS)
    if f == "fig2_training_curves":
        return [(f"{run_dir(s)}/train/{t}/{i}/steps.tsv", t, i, s) for s in seed_order() for i in INITS for t in TASKS]
    if f == "fig3_trajectories":
        paper = [t for t in ("MRPC", "MNLI") if t in TASKS]  # the paper's two columns, filled up to two
        tasks = paper + [t for t in TASKS if t not in paper][: max(0, 2 - len(paper))]
        return surf(tasks) + [(f"{D}/trajectories/{t}/{i}.tsv", t, i) for i in INITS for t in tasks]
    if f == "fig4_long_run":
        return [
            (f"{D}/surfaces/{LONG}/finetune.h5", LONG, "finetune"),
            (f"{D}/trajectories/{LONG}/long.tsv", LONG, "long"),
        ]
    if f == "fig5_curves":
        return [(f"{run_dir(s)}/curves/{t}/{i}.h5", t, i, s) for s in seed_order() for i in INITS for t in TASKS]
    if f == "fig7_layer_surfaces":
        return [(f"{D}/layers/{t}/{g}.h5", t, "finetune") for t in LAYER_TASKS for g in GROUPS]
    raise ValueError(f"unknown figure {f}")


def seed_order():
    """The display seed first, then the others in their configured order."""
    return [DISPLAY] + [s for s in SEEDS if s != DISPLAY]


def figure_inputs(wildcards):
    return [path for path, *_ in figure_files(wildcards.fig)]


def figure_keys(wildcards):
    """(task, init[, seed]) of each input of the figure, in its input order (the script never parses paths); no
    seed: the display seed's."""
    return [[t, i, *s] for _, t, i, *s in figure_files(wildcards.fig)]


# ---- used by report.smk


def claims_grids(seed):
    """The grids one seed's claims read ({name: [(key, path), ...]}, like claims_keyed), the same for every seed,
    the display seed too, so a seed's rows never depend on which seed is displayed: C1's 2D region, C4's window and
    C3's cell from the points grid (the points rule evaluates only the surface's nodes the claims read), C5's
    train loss at f(-1, 0) from the layer groups' anchors (the layer_anchors rule; no layer surface)."""
    D, both = run_dir(seed), [(t, i) for t in TASKS for i in INITS + CONTROLS]
    return {
        "surfaces": [((t, i), f"{D}/points/{t}/{i}.h5") for t, i in both],
        "basins": [((t, i), f"{D}/points/{t}/{i}.basin.json") for t, i in both],
        "layers": [((t, g), f"{D}/layers/{t}/{g}.anchors.h5") for t in LAYER_TASKS for g in GROUPS],
    }


def claims_keyed(seed):
    """One seed's claims_seed input lists as {name: [(key, path), ...]}: the paths are its inputs, the keys
    (task, init), task, or (task, group) its params, aligned, so its script never parses a path."""
    D, both = run_dir(seed), [(t, i) for t in TASKS for i in INITS + CONTROLS]  # controls: their per-run stages
    # C2's dense path, C1's norm units and filter curves: the main runs only
    main = [(t, i) for t in TASKS for i in INITS]
    return {
        **claims_grids(seed),
        "curves": [((t, i), f"{D}/curves/{t}/{i}.h5") for t, i in both],
        "paths": [((t, i), f"{D}/paths/{t}/{i}.h5") for t, i in main],
        "steps": [((t, i), f"{D}/train/{t}/{i}/steps.tsv") for t, i in both],
        "epochs": [((t, i), f"{D}/train/{t}/{i}/epochs.tsv") for t, i in both],
        "trajectories": [((t, i), f"{D}/trajectories/{t}/{i}.tsv") for t, i in both]
        + ([((LONG, "long"), f"{D}/trajectories/{LONG}/long.tsv")] if LONG else []),
        "directions": [((t, i), f"{D}/directions/{t}/{i}.json") for t, i in both],
        "norms": [((t, i), f"{D}/norms/{t}/{i}.json") for t, i in main],  # C1's relative units, the norm table
        "rollback": [(t, f"{D}/layers/{t}/rollback.tsv") for t in ROLLBACK_TASKS],
        # a control's rows read the power iteration only (bertscape.claims.contrasts): no sharpness job without it
        "hessian": (
            [((t, i), f"{D}/claims/sharpness/{t}/{i}.json") for t, i in (both if HESSIAN["enabled"] else main)]
            if HESSIAN["enabled"] or config["flatness"]["enabled"]
            else []
        ),
        "filter_curves": [((t, i), f"{D}/flatness/filter/{t}/{i}.json") for t, i in main] if FILTER["enabled"] else [],
        # C2's chance loss of a regression task is the variance of its training targets
        "targets": [(t, f"{data_dir(seed)}/{t}/train.jsonl") for t in TASKS if SPECS[t].regression],
    }


def cross_seed_keyed():
    """The seed_barrier paths the aggregate claims read, as [((task, init, seed_a, seed_b), path)]: consecutive
    seeds in the config's order (bertscape.crossseed.seed_pairs); none with one seed."""
    from bertscape.crossseed import seed_pairs

    return [
        ((t, i, a, b), f"{R}/seeds{a}-{b}/paths/{t}/{i}.h5") for a, b in seed_pairs(SEEDS) for t in TASKS for i in INITS
    ]


def claims_inputs(wildcards):
    inp = {name: [path for _, path in pairs] for name, pairs in claims_keyed(wildcards.seed).items()}
    if LONG:
        inp["long_epochs"] = f"{run_dir(wildcards.seed)}/train/{LONG}/long/epochs.tsv"
    if "long_scratch" in cfg.long_runs(config):  # C3's contrast: the scratch run continued as long
        inp["long_scratch_epochs"] = f"{run_dir(wildcards.seed)}/train/{LONG}/long_scratch/epochs.tsv"
    if len(TASKS) > 1:  # C5's across-tasks half (descriptive rows)
        inp["transfer"] = f"{run_dir(wildcards.seed)}/layers/transfer.json"
    return inp


def claims_keys(wildcards):
    return {name: [key for key, _ in pairs] for name, pairs in claims_keyed(wildcards.seed).items()}


# ---- used by surfaces.smk


def landscape_inputs(wildcards):
    return run_landscape_inputs(wildcards.seed, wildcards.task, wildcards.get("init", "finetune"))


def run_landscape_inputs(s, t, init):
    return {
        "directions": f"{run_dir(s)}/directions/{t}/{init}.json",
        "ckpts": ckpt_dir(t, init, s),
        "init": init_file(init, s),  # theta0's encoder (checkpoints: shared-base format)
        "other": ckpt_dir(config["tasks"][t]["other_task"], init, s),
        "train": tokens(t, "train", s),
        "dev": tokens(t, "dev", s),
        "model": MODEL_ID,
    }


def path_axis(n):
    """C2's dense path: the n - 2 interior nodes of n evenly spaced over alpha in [0, 1] (the ends are the curve's
    start and end anchors, theta0 and theta1, evaluated anyway)."""
    return [1 / (n - 1), 1 - 1 / (n - 1), n - 2]


MAIN_RUNS = [(t, i) for t in TASKS for i in INITS]  # the runs C2's dense path is drawn for (no control)


def dense_path_inputs(wildcards):
    """Every main run's landscape inputs but the dev set, one list per name in MAIN_RUNS' order (rule dense_path)."""
    runs = [run_landscape_inputs(wildcards.seed, t, i) for t, i in MAIN_RUNS]
    inp = {k: [r[k] for r in runs] for k in ("directions", "ckpts", "other", "train")}
    return {**inp, "init": sorted({r["init"] for r in runs}), "model": MODEL_ID}


def points_inputs(wildcards):
    """The surface's inputs (no surface; a control's without the dev set, which it does not read) and, for the long
    run's task fine-tuned, the long run's trajectory (C3)."""
    inp = landscape_inputs(wildcards)
    if wildcards.init in ctl.CONTROLS:
        del inp["dev"]
    if wildcards.task == LONG and wildcards.init == "finetune":
        inp["long"] = f"{run_dir(wildcards.seed)}/trajectories/{LONG}/long.tsv"
    return inp


# ---- used by train.smk


from bertscape import traingroups

FUSED = config["train"]["fused"]
TRAIN_INITS = "(?!)" if FUSED else "|".join([*cfg.INITS, *cfg.LONG_INITS, *ctl.CONTROLS])  # "(?!)": matches nothing
TRAINED = [
    (s, t, i)
    for s in SEEDS
    for t in TASKS
    for i in INITS + CONTROLS + (cfg.long_runs(config) if t == LONG else [])
    if (t, i) not in IMPORTED
]
TRAIN_GROUPS = (
    traingroups.train_groups(TRAINED, {t: SPECS[t].num_labels for t in TASKS}, config["train"]["fused_max"])
    if FUSED
    else {}
)


def run_params(s, t, i):
    """One run of a group: what rule train gets from its wildcards and params."""
    return {
        "seed": s,
        "task": t,
        "init": i,
        "task_spec": dataclasses.asdict(SPECS[t]),
        "spec": cfg.train_params(config, t, i, s),
        "first_epoch": cfg.epochs(config, t, cfg.LONG_INITS[i]) if i in cfg.LONG_INITS else 0,
        # a long run that publishes no weights; the others take the group's params.last (unchanged params)
        **({"last": "none"} if cfg.last_checkpoint(config, i) == "none" else {}),
    }


def group_inputs(runs):
    return {f"{k}_{j}": v for j, r in enumerate(runs) for k, v in run_inputs(r[1], r[2], r[0]).items()}


def group_outputs(runs):
    out = {}
    for j, (s, t, i) in enumerate(runs):
        d = f"{run_dir(s)}/train/{t}/{i}"
        out[f"ckpts_{j}"] = directory(f"{d}/checkpoints")
        out.update({f"{k}_{j}": f"{d}/{k}.tsv" for k in ("steps", "epochs", "displacements")})
    return out


def run_inputs(t, init, s):
    inp = {"train": tokens(t, "train", s), "dev": tokens(t, "dev", s)}
    if init != "long":  # theta0's encoder, shared by every run of the init (or a control's theta0 init) and seed
        inp["init"] = init_file(init, s)
    if (
        init in cfg.LONG_INITS
    ):  # §5.3: continue the fine-tuned (scratch) run for more epochs (its last epoch packed against init)
        base = cfg.LONG_INITS[init]
        inp["start"], inp["init"] = ckpt_dir(t, base, s), init_file(base, s)
    return inp


def train_inputs(wildcards):
    return {**run_inputs(wildcards.task, wildcards.init, wildcards.seed), "model": MODEL_ID}


# ---- used by trajectories.smk


def trajectory_inputs(wildcards):
    base, D = "finetune" if wildcards.init == "long" else wildcards.init, run_dir(wildcards.seed)
    inp = {"run": f"{D}/train/{wildcards.task}/{base}/displacements.tsv"}  # what the train job measured
    if wildcards.init == "long":
        inp["long"] = f"{D}/train/{wildcards.task}/long/displacements.tsv"
    return inp


# ---- used by views.smk


def view_inputs(wildcards):
    """The display seed's grids (views are drawn for one seed)."""
    D = run_dir(DISPLAY)
    if wildcards.view == "surfaces":
        return [f"{D}/surfaces/{t}/{i}.h5" for t in TASKS for i in INITS]
    return [f"{D}/layers/{t}/{g}.h5" for t in LAYER_TASKS for g in GROUPS]
