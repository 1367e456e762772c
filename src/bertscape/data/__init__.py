"""Tasks and the one prepared-data format every later rule reads.

A prepared split is a JSON-lines file, one example per line:
``{"idx": int, "text_a": str, "text_b": str | null, "label": int}`` where ``label`` indexes
``TASKS[task].labels``. Every source (synthetic, GLUE directory, hub) writes exactly this.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import BertscapeError


@dataclass(frozen=True)
class TaskSpec:
    name: str
    labels: tuple[str, ...]
    pair: bool


TASKS: dict[str, TaskSpec] = {
    "SST-2": TaskSpec("SST-2", ("0", "1"), pair=False),
    "MRPC": TaskSpec("MRPC", ("0", "1"), pair=True),
    "RTE": TaskSpec("RTE", ("entailment", "not_entailment"), pair=True),
    "MNLI": TaskSpec("MNLI", ("entailment", "neutral", "contradiction"), pair=True),
}


def task_spec(task: str) -> TaskSpec:
    try:
        return TASKS[task]
    except KeyError:
        raise BertscapeError(f"unknown task '{task}' (known: {', '.join(TASKS)})") from None


def make_row(task: str, idx: int, text_a: str, text_b: str | None, label: str, where: str) -> dict:
    """Validate one example and return it in the prepared format; ``where`` names file and line."""
    spec = task_spec(task)
    label = str(label).strip()
    if label not in spec.labels:
        raise BertscapeError(f"{where}: label {label!r} is not one of {task}'s labels {list(spec.labels)}")
    if not text_a or (spec.pair and not text_b):
        raise BertscapeError(f"{where}: empty sentence")
    return {"idx": idx, "text_a": text_a, "text_b": text_b if spec.pair else None, "label": spec.labels.index(label)}


def check_rows(rows: list[dict], what: str) -> list[dict]:
    if not rows:
        raise BertscapeError(f"{what}: no examples (empty after loading/filtering)")
    return rows
