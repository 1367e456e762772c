"""Load and validate the pipeline config: JSON schema with defaults, then cross-key checks.

Every problem is a one-line ``BertscapeError`` naming the key.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import yaml
from jsonschema import Draft202012Validator, validators

from . import BertscapeError
from .data import TASKS

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
    v = _Validator(schema or load_schema())
    errors = sorted(v.iter_errors(config), key=lambda e: (len(e.path), list(map(str, e.path))))
    if errors:
        e = errors[0]
        msg = e.message
        if e.validator == "additionalProperties":
            msg = msg.replace("Additional properties are not allowed", "unknown key")
        if e.validator == "propertyNames":
            msg = f"unknown task {e.instance!r} (known: {', '.join(TASKS)})"
        raise BertscapeError(f"config key {_key(e.path)}: {msg}")
    _check_semantics(config)
    return config


def _check_semantics(c: dict) -> None:
    tasks = c["tasks"]
    for t, spec in tasks.items():
        o = spec["other_task"]
        if o == t:
            raise BertscapeError(f"config key tasks.{t}.other_task: must be another task, not {t} itself")
        if o not in tasks:
            raise BertscapeError(f"config key tasks.{t}.other_task: {o!r} is not trained (not in tasks)")
    g = c["grid"]
    if g["min"] >= g["max"]:
        raise BertscapeError(f"config key grid.min: {g['min']} must be below grid.max {g['max']}")
    lr = c["train"]["long_run"]["task"]
    if lr is not None and lr not in tasks:
        raise BertscapeError(f"config key train.long_run.task: {lr!r} is not in tasks")
    for key in ("tasks", "rollback_tasks"):
        for t in c["layers"][key] or []:
            if t not in tasks:
                raise BertscapeError(f"config key layers.{key}: {t!r} is not in tasks")
    if c["data"]["source"] == "glue_dir":
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
    check_writable(c["results"])


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


def layer_groups(config: dict, n_layers: int) -> dict[str, list[int]]:
    """Configured groups, or the model's layers split in thirds (BERT-large: 0-7, 8-15, 16-23)."""
    groups = config["layers"]["groups"]
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


def epochs(config: dict, task: str, init: str) -> int:
    t = config["tasks"][task]
    if init == "long":
        return t["epochs_finetune"] + config["train"]["long_run"]["extra_epochs"]
    return t["epochs_finetune"] if init == "finetune" else t["epochs_scratch"]


def train_params(config: dict, task: str, init: str) -> dict:
    """Everything that determines one training run (and nothing else)."""
    t = config["tasks"][task]
    tr = config["train"]
    lr = t["lr"] if init != "scratch" or t["scratch_lr"] is None else t["scratch_lr"]
    return {"epochs": epochs(config, task, init) if init != "long" else tr["long_run"]["extra_epochs"],
            "batch_size": t["batch_size"], "lr": lr, "weight_decay": tr["weight_decay"],
            "warmup_ratio": tr["warmup_ratio"], "max_grad_norm": tr["max_grad_norm"], "seed": config["seed"],
            "dtype": tr["dtype"], "batching": tr["batching"]}
