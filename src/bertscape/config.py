"""Load and validate the pipeline config: JSON schema with defaults, then cross-key checks.

Every problem is a one-line ``BertscapeError`` naming the key.
"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path

import numpy as np
import yaml
from jsonschema import Draft202012Validator, validators

from . import BertscapeError
from .controls import schedule_init
from .data import CUSTOM_KEYS, SYNTHETIC_TASKS, is_custom, task_spec
from .data import TASKS as GLUE_TASKS

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
INITS = ("finetune", "scratch")


def _with_defaults(cls):
    validate_props = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_props(validator, properties, instance, schema)

    return validators.extend(cls, {"properties": set_defaults})


_Validator = _with_defaults(Draft202012Validator)


def load_schema(path: str | Path = SCHEMA) -> dict:
    return yaml.safe_load(Path(path).read_text())


def read_yaml(path: str | Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise BertscapeError(f"{path}: cannot read config ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise BertscapeError(f"{where}: invalid YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(data, dict):
        raise BertscapeError(f"{path}: config must be a YAML mapping, got {type(data).__name__}")
    return data


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<config>"


def validate(config: dict, schema: dict | None = None) -> dict:
    """Validate in place (filling defaults) and return config; raise one line naming the key."""
    if not isinstance(config, dict):
        raise BertscapeError(f"config must be a mapping, got {type(config).__name__}")
    schema = schema or load_schema()
    _replace(config, _coerce(config, schema))
    v = _Validator(schema)
    errors = sorted(v.iter_errors(config), key=lambda e: (len(e.path), list(map(str, e.path))))
    if errors:
        e = errors[0]
        msg = e.message
        if e.validator == "additionalProperties":
            msg = msg.replace("Additional properties are not allowed", "unknown key")
        if e.validator == "propertyNames" or "propertyNames" in e.schema_path:
            msg = f"task name {e.instance!r} must be letters, digits, '_', '.', '-' (it names files)"
        raise BertscapeError(f"config key {_key(e.path)}: {msg}")
    _check_semantics(config)
    config["seeds"] = seed_list(config)
    config["display_seed"] = config["seeds"][0] if config["display_seed"] is None else config["display_seed"]
    _replace(config, canonical(config, schema))
    return config


def seed_list(config: dict) -> list[int]:
    """The run seeds: ``seeds`` as a list, a count n from ``seed`` on (seed, ..., seed+n-1), or [seed]."""
    s = config.get("seeds")
    if s is None:
        return [config["seed"]]
    return list(range(config["seed"], config["seed"] + s)) if isinstance(s, int) else list(s)


def data_seed(config: dict, seed: int) -> int:
    """The seed whose data a run of ``seed`` trains and is evaluated on (``data_seed`` shares one)."""
    return seed if config.get("data_seed") is None else config["data_seed"]


def _replace(config: dict, new: dict) -> None:
    """In place: Snakemake's ``config`` object is shared with the workflow and every job."""
    config.clear()
    config.update(new)


def _types(schema: dict) -> set[str]:
    t = schema.get("type", [])
    return {t} if isinstance(t, str) else set(t)


def _sub(schema: dict, key) -> dict:
    if isinstance(key, int):
        return schema.get("items", {})
    props, extra = schema.get("properties", {}), schema.get("additionalProperties")
    return props.get(key, extra if isinstance(extra, dict) else {})


def _coerce(value, schema: dict):
    """Strings where the schema wants a number, boolean or null parsed as YAML scalars: a nested
    ``--config 'eval={batch_tokens: 2048}'`` arrives as strings (Snakemake's YAML BaseLoader), and
    YAML 1.1 reads ``lr: 5e-5`` as a string."""
    if isinstance(value, dict):
        return {k: _coerce(v, _sub(schema, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_coerce(v, _sub(schema, i)) for i, v in enumerate(value)]
    types = _types(schema)
    if isinstance(value, str) and "string" not in types and types & {"integer", "number", "boolean", "null"}:
        try:
            parsed = yaml.safe_load(value)
            if isinstance(parsed, str) and "number" in types:  # YAML 1.1 reads 5e-5 (no dot) as a string
                parsed = float(parsed)
        except (yaml.YAMLError, ValueError):
            return value
        ok = {"integer": int, "number": (int, float), "boolean": bool, "null": type(None)}
        if any(isinstance(parsed, ok[t]) for t in types if t in ok):
            return parsed
    return value


def canonical(value, schema: dict, key: str = ""):
    """Equal settings, equal value, whatever their order, layout or spelling in the config: mappings
    with sorted keys (tasks in the schema's order, layer groups by their first layer), numbers as
    floats where the schema says number, paths normalised. Snakemake's params trigger compares the
    ``repr`` of each param, so this is what makes a reformatted config rerun nothing."""
    if isinstance(value, dict):
        items = {k: canonical(v, _sub(schema, k), f"{key}.{k}".lstrip(".")) for k, v in value.items()}
        if key == "tasks":
            names = sorted(items, key=lambda t: (TASK_ORDER.index(t) if t in TASK_ORDER else len(TASK_ORDER), t))
        elif key == "layers.groups":
            names = sorted(items, key=lambda g: (items[g][0], items[g][1], g))
        else:
            names = sorted(items)
        return {k: items[k] for k in names}
    if isinstance(value, list):
        return [canonical(v, _sub(schema, i), key) for i, v in enumerate(value)]
    if isinstance(value, int) and not isinstance(value, bool) and "number" in _types(schema) \
            and "integer" not in _types(schema):
        return float(value)
    if isinstance(value, str) and key in PATH_KEYS:
        return os.path.normpath(value)
    return value


PATH_KEYS = ("results", "resources_dir", "data.glue_dir")
# The order tasks are drawn and listed in, whatever their order in the config: the paper's four as its figures
# have them, the other GLUE tasks, then custom tasks by name.
TASK_ORDER = ["MNLI", "RTE", "SST-2", "MRPC"] + [t for t in GLUE_TASKS if t not in ("MNLI", "RTE", "SST-2", "MRPC")]


def _check_semantics(c: dict) -> None:
    _check_seeds(c)
    tasks = c["tasks"]
    for t, spec in tasks.items():
        _check_task(c, t)
        o = spec["other_task"]
        if o == t:
            raise BertscapeError(f"config key tasks.{t}.other_task: must be another task, not {t} itself")
        if o not in tasks:
            raise BertscapeError(f"config key tasks.{t}.other_task: {o!r} is not trained (not in tasks)")
    g = c["grid"]
    if g["min"] >= g["max"]:
        raise BertscapeError(f"config key grid.min: {g['min']} must be below grid.max {g['max']}")
    w = c["claims"]["theta1_window"]
    if not w["alpha_min"] <= 1.0 <= w["alpha_max"]:
        raise BertscapeError(f"config key claims.theta1_window.alpha_min: the box [{w['alpha_min']}, {w['alpha_max']}] "
                             "must hold theta1 (alpha 1)")
    lr = c["train"]["long_run"]["task"]
    if lr is not None and lr not in tasks:
        raise BertscapeError(f"config key train.long_run.task: {lr!r} is not in tasks")
    if "finetune" not in c["train"]["long_run"]["inits"]:
        raise BertscapeError("config key train.long_run.inits: must list finetune (the long fine-tuning run is Figure 4's "
                             "and C3's); set train.long_run.task: null for no long run")
    for key in ("tasks", "rollback_tasks"):
        for t in c["layers"][key] or []:
            if t not in tasks:
                raise BertscapeError(f"config key layers.{key}: {t!r} is not in tasks")
    if c["data"]["source"] == "glue_dir" and not all(is_custom(tasks, t) for t in tasks):
        gd = c["data"]["glue_dir"]
        if not gd:
            raise BertscapeError("config key data.glue_dir: required when data.source is glue_dir")
        if not Path(gd).is_dir():
            raise BertscapeError(f"config key data.glue_dir: directory {gd} does not exist")
        if not any(Path(gd).iterdir()):
            raise BertscapeError(f"config key data.glue_dir: directory {gd} is empty")
    groups = c["layers"]["groups"]
    if groups:
        check_groups(groups, None)
    lz = c["flatness"]["lanczos"]
    if lz["top"] > lz["steps"]:
        raise BertscapeError(f"config key flatness.lanczos.top: {lz['top']} exceeds flatness.lanczos.steps {lz['steps']}")
    _check_filter_directions(c.get("flatness", {}).get("filter_directions", {}), c.get("directions", {}))
    check_writable(c["results"])


def _check_filter_directions(fd: dict, directions: dict) -> None:
    """flatness.filter_directions: theta1 must be a node of each curve and every rise radius on the axis; the
    figures' filter-normalised axes need the curves and the surface."""
    if directions.get("kind") == "filter_normalized" and not (fd.get("enabled") and fd.get("surface_points")):
        raise BertscapeError("config key directions.kind: filter_normalized needs flatness.filter_directions.enabled "
                             "and surface_points > 0")
    for key in ("points", "surface_points"):
        if fd.get(key, 1) % 2 == 0 and not (key == "surface_points" and fd[key] == 0):
            raise BertscapeError(f"config key flatness.filter_directions.{key}: {fd[key]} must be odd (alpha 0, "
                                 "theta1, a node)")
    for r in fd.get("radii", []):
        if r > fd["radius"]:
            raise BertscapeError(f"config key flatness.filter_directions.radii: {r} lies beyond "
                                 f"flatness.filter_directions.radius {fd['radius']}")


def _check_seeds(c: dict) -> None:
    seeds = seed_list(c)
    if c["display_seed"] is not None and c["display_seed"] not in seeds:
        raise BertscapeError(f"config key display_seed: {c['display_seed']} is not among the seeds {seeds}")


def _check_task(c: dict, t: str) -> None:
    """A built-in GLUE task (data from data.source) or a complete custom task; one line naming the key."""
    entry = c["tasks"][t]
    try:
        task_spec(t, c["tasks"])  # unknown task / incomplete custom task
    except BertscapeError as e:
        msg = str(e)
        raise BertscapeError(msg if msg.startswith("config key") else f"config key tasks.{t}: {msg}") from None
    if not is_custom(c["tasks"], t):
        extra = [k for k in CUSTOM_KEYS if k in entry]
        if extra:
            raise BertscapeError(f"config key tasks.{t}.{extra[0]}: only for a custom task (set tasks.{t}.source)")
        if c["data"]["source"] == "synthetic" and t not in SYNTHETIC_TASKS:
            raise BertscapeError(f"config key tasks.{t}: synthetic data exists only for {', '.join(SYNTHETIC_TASKS)} "
                                 "(use data.source glue_dir or hub)")
    elif entry["source"] != "hub":
        from .data.custom import split_file

        p = Path(entry["path"])
        if not p.is_dir():
            raise BertscapeError(f"config key tasks.{t}.path: directory {p} does not exist")
        for split in ("train", "dev"):
            if not split_file(entry, split).is_file():
                raise BertscapeError(f"config key tasks.{t}.path: {split_file(entry, split)} not found ({split} split)")


def check_writable(results: str) -> None:
    """The results directory (or, before the first run, its nearest existing parent) takes new files.
    Probed with a temporary directory that is removed at once, because permission bits lie to root."""
    p = Path(results).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    if not p.is_dir():
        raise BertscapeError(f"config key results: {p} is not a directory, cannot create {results} under it")
    try:
        tempfile.TemporaryDirectory(dir=p, prefix=".bertscape-probe-").cleanup()
    except OSError as e:
        raise BertscapeError(f"config key results: cannot write under {p} ({e.strerror or e})") from None


def check_groups(groups: dict[str, list[int]], n_layers: int | None) -> None:
    seen: dict[int, str] = {}
    for name, (lo, hi) in groups.items():
        if lo > hi:
            raise BertscapeError(f"config key layers.groups.{name}: empty range [{lo}, {hi}]")
        if n_layers is not None and hi >= n_layers:
            raise BertscapeError(f"config key layers.groups.{name}: layer {hi} is beyond the model's {n_layers} layers")
        for i in range(lo, hi + 1):
            if i in seen:
                raise BertscapeError(f"config key layers.groups.{name}: layer {i} is also in group {seen[i]}")
            seen[i] = name


def layer_groups(groups: dict | None, n_layers: int) -> dict[str, list[int]]:
    """The configured groups (``layers.groups``), or the model's layers split in thirds
    (BERT-large: 0-7, 8-15, 16-23)."""
    if not groups:
        if n_layers < 3:
            raise BertscapeError(f"config key layers.groups: a {n_layers}-layer model cannot be split in thirds; set groups")
        cuts = [round(n_layers * k / 3) for k in range(4)]
        groups = {name: [cuts[k], cuts[k + 1] - 1] for k, name in enumerate(("low", "mid", "high"))}
    check_groups(groups, n_layers)
    return groups


def grid_axis(config: dict, points: int | None = None) -> np.ndarray:
    g = config["grid"]
    return np.linspace(g["min"], g["max"], points or g["points"])


LONG_INITS = {"long": "finetune", "long_scratch": "scratch"}  # a long run (§5.3) -> the run it continues


def long_runs(config: dict) -> list[str]:
    """The long runs of the config (``train.long_run.inits``): "long" (fine-tune), "long_scratch"; none without a task."""
    lr = config["train"]["long_run"]
    return [k for k, base in LONG_INITS.items() if lr["task"] and base in lr["inits"]]


def last_checkpoint(config: dict, init: str) -> str:
    """How a run publishes its last epoch: ``train.last_checkpoint``, or "none" for a long run unless
    ``train.long_run.keep_checkpoint`` (no rule reads a long run's weights: C3 its epochs.tsv, Figure 4 its
    displacements.tsv)."""
    tr = config["train"]
    return "none" if init in LONG_INITS and not tr["long_run"]["keep_checkpoint"] else tr["last_checkpoint"]


def epochs(config: dict, task: str, init: str) -> int:
    """A run's last epoch (a control's: its schedule init's, bertscape.controls)."""
    t, init = config["tasks"][task], schedule_init(init)
    if init in LONG_INITS:  # the run it continues, then the extra epochs
        return epochs(config, task, LONG_INITS[init]) + config["train"]["long_run"]["extra_epochs"]
    return t["epochs_finetune"] if init == "finetune" else t["epochs_scratch"]


def train_params(config: dict, task: str, init: str, seed: int) -> dict:
    """Everything that determines one training run of ``seed`` (and nothing else)."""
    t = config["tasks"][task]
    tr = config["train"]
    scratch = schedule_init(LONG_INITS.get(init, init)) == "scratch"
    lr = t["lr"] if not scratch or t["scratch_lr"] is None else t["scratch_lr"]
    return {"epochs": epochs(config, task, init) if init not in LONG_INITS else tr["long_run"]["extra_epochs"],
            "batch_size": t["batch_size"], "lr": lr, "weight_decay": tr["weight_decay"],
            "warmup_ratio": tr["warmup_ratio"], "max_grad_norm": tr["max_grad_norm"], "seed": seed,
            "dtype": tr["dtype"], "batching": tr["batching"]}
