"""Tasks and the one prepared-data format every later rule reads.

A prepared split is a JSON-lines file, one example per line:
``{"idx": int, "text_a": str, "text_b": str | null, "label": int | float}``. For a classification
task ``label`` indexes the task's ``labels``; for a regression task (STS-B, or a custom task with
``regression: true``) it is the float target. Every source (synthetic, GLUE directory, hub, csv,
tsv, jsonl) writes exactly this.

Tasks are the nine GLUE tasks (:data:`TASKS`) or custom tasks declared in the config
(``tasks.<name>.source``); :func:`task_spec` resolves both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import BertscapeError

# metric name -> how figures, tables and claims print it
METRIC_NAMES = {"acc": "accuracy", "f1": "F1", "mcc": "Matthews corr.", "pearson": "Pearson r",
                "spearman": "Spearman rho", "mse": "MSE"}
CLASSIFICATION_METRICS = ("acc", "f1", "mcc")
# the keys of a task's config entry that define a custom task (and its data)
CUSTOM_KEYS = ("source", "path", "hub_dataset", "hub_config", "hub_revision", "train_split", "dev_split",
               "text_a", "text_b", "label", "labels", "regression", "metric")
REGRESSION_METRICS = ("pearson", "spearman")


@dataclass(frozen=True)
class TaskSpec:
    """``labels`` is empty for regression. ``metric`` is the headline metric (Table 1, claims C3/C5;
    higher is better); ``report`` the metrics GLUE reports for the task, in GLUE's order."""

    name: str
    labels: tuple[str, ...]
    pair: bool
    regression: bool = False
    metric: str = "acc"
    report: tuple[str, ...] = ("acc",)
    bounds: tuple[float, float] | None = None  # allowed range of a regression target

    @property
    def num_labels(self) -> int:
        """Output units of the head: one for regression, one per label otherwise."""
        return 1 if self.regression else len(self.labels)

    @property
    def error(self) -> str:
        """What ``dev_error`` (Figure 6, the trajectories' error surfaces, C3/C4) is for this task."""
        return "1 − Pearson r" if self.regression else "1 − acc"

    @property
    def loss(self) -> str:
        return "MSE" if self.regression else "cross-entropy"


_BIN = ("0", "1")
_NLI2 = ("entailment", "not_entailment")
SYNTHETIC_TASKS = ("SST-2", "MRPC", "RTE", "MNLI")  # the tasks data/synthetic.py can generate
TASKS: dict[str, TaskSpec] = {
    "CoLA": TaskSpec("CoLA", _BIN, pair=False, metric="mcc", report=("mcc",)),
    "SST-2": TaskSpec("SST-2", _BIN, pair=False),
    "MRPC": TaskSpec("MRPC", _BIN, pair=True, metric="f1", report=("f1", "acc")),
    "QQP": TaskSpec("QQP", _BIN, pair=True, metric="f1", report=("f1", "acc")),
    "STS-B": TaskSpec("STS-B", (), pair=True, regression=True, metric="pearson", report=("pearson", "spearman"),
                      bounds=(0.0, 5.0)),
    "MNLI": TaskSpec("MNLI", ("entailment", "neutral", "contradiction"), pair=True),
    "QNLI": TaskSpec("QNLI", _NLI2, pair=True),
    "RTE": TaskSpec("RTE", _NLI2, pair=True),
    "WNLI": TaskSpec("WNLI", _BIN, pair=True),
}


def custom_spec(name: str, t: dict) -> TaskSpec:
    """The TaskSpec of a custom task from its (schema-validated) config entry; one line naming the key."""
    key = f"config key tasks.{name}"
    regression = bool(t.get("regression"))
    labels = t.get("labels")
    if regression and labels:
        raise BertscapeError(f"{key}.labels: a regression task has no labels (drop labels or regression: true)")
    if not regression and not labels:
        raise BertscapeError(f"{key}.labels: a classification task needs labels: [...] (or set regression: true)")
    allowed = REGRESSION_METRICS if regression else CLASSIFICATION_METRICS
    metric = t.get("metric") or allowed[0]
    if metric not in allowed:
        raise BertscapeError(f"{key}.metric: {metric!r} is not a {'regression' if regression else 'classification'} "
                             f"metric (one of {list(allowed)})")
    if metric == "f1" and len(labels) != 2:
        raise BertscapeError(f"{key}.metric: f1 needs exactly two labels (the second is the positive class)")
    for k in ("text_a", "label"):
        if not t.get(k):
            raise BertscapeError(f"{key}.{k}: required for a custom task (the column name)")
    if t["source"] == "hub":
        if not t.get("hub_dataset"):
            raise BertscapeError(f"{key}.hub_dataset: required when source is hub")
    elif not t.get("path"):
        raise BertscapeError(f"{key}.path: required when source is {t['source']} (directory of the split files)")
    report = (metric,) + tuple(m for m in ("acc",) if m != metric and not regression)
    return TaskSpec(name, tuple(str(x) for x in labels or ()), pair=bool(t.get("text_b")), regression=regression,
                    metric=metric, report=report)


def is_custom(tasks: dict | None, task: str) -> bool:
    return bool(tasks and task in tasks and tasks[task].get("source"))


def task_spec(task: str, tasks: dict | None = None) -> TaskSpec:
    """A task's spec: custom when ``tasks[task]`` (the config's ``tasks``) names a source, else built in."""
    if is_custom(tasks, task):
        return custom_spec(task, tasks[task])
    try:
        return TASKS[task]
    except KeyError:
        raise BertscapeError(f"unknown task '{task}' (known: {', '.join(TASKS)}; a custom task needs a source: "
                             "csv | tsv | jsonl | hub)") from None


def parse_label(spec: TaskSpec, label, where: str) -> int | float:
    """A raw label/target as stored in the prepared format (class index, or float target)."""
    if spec.regression:
        y = None
        if not isinstance(label, bool) and label is not None:
            try:
                y = float(label if isinstance(label, (int, float)) else str(label).strip())
            except ValueError:
                pass
        if y is None or not math.isfinite(y):
            raise BertscapeError(f"{where}: regression target {label!r} is not a finite number")
        if spec.bounds and not spec.bounds[0] <= y <= spec.bounds[1]:
            raise BertscapeError(f"{where}: {spec.name} target {y:g} outside [{spec.bounds[0]:g}, {spec.bounds[1]:g}]")
        return y
    label = str(label).strip()
    if label not in spec.labels:
        raise BertscapeError(f"{where}: label {label!r} is not one of {spec.name}'s labels {list(spec.labels)}")
    return spec.labels.index(label)


def make_row(task: str | TaskSpec, idx: int, text_a: str, text_b: str | None, label, where: str) -> dict:
    """Validate one example and return it in the prepared format; ``where`` names file and line."""
    spec = task if isinstance(task, TaskSpec) else task_spec(task)
    y = parse_label(spec, label, where)
    if not isinstance(text_a, str) or not text_a or (spec.pair and (not isinstance(text_b, str) or not text_b)):
        raise BertscapeError(f"{where}: empty sentence")
    return {"idx": idx, "text_a": text_a, "text_b": text_b if spec.pair else None, "label": y}


def check_rows(rows: list[dict], what: str) -> list[dict]:
    if not rows:
        raise BertscapeError(f"{what}: no examples (empty after loading/filtering)")
    return rows
