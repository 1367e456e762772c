"""Source dispatch: synthetic / GLUE directory / hub / custom task -> prepared train and dev rows."""

from __future__ import annotations

import torch

from .. import BertscapeError
from . import check_rows


def _cap(rows: list[dict], k: int | None, seed: int) -> list[dict]:
    if k is None or k >= len(rows):
        return rows
    keep = sorted(torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed))[:k].tolist())
    return [rows[i] for i in keep]


def prepare(task: str, params: dict) -> tuple[list[dict], list[dict]]:
    """Both splits, validated, before anything is written (a bad row anywhere writes nothing).
    ``params["custom"]``: the task's config entry when it is a custom task (then ``source`` is ignored)."""
    src = params["source"]
    mnli_dev = params.get("mnli_dev", "matched")
    if params.get("custom"):
        from .custom import load_custom

        train, dev = (load_custom(task, params["custom"], s, params.get("cache_dir")) for s in ("train", "dev"))
    elif src == "synthetic":
        from .synthetic import generate

        train, dev = generate(task, params["synthetic_train"], params["synthetic_dev"], params["seed"])
    elif src == "glue_dir":
        from .glue import load_glue_dir

        train, dev = (load_glue_dir(params["glue_dir"], task, s, mnli_dev) for s in ("train", "dev"))
    elif src == "hub":
        from .glue import load_hub

        train, dev = (load_hub(task, s, dataset=params["hub_dataset"], revision=params["hub_revision"],
                               cache_dir=params["cache_dir"], mnli_dev=mnli_dev) for s in ("train", "dev"))
    else:
        raise BertscapeError(f"config key data.source: unknown source {src!r}")
    train = check_rows(_cap(train, params["max_train"], params["seed"]), f"{task} train")
    dev = check_rows(_cap(dev, params["max_dev"], params["seed"] + 1), f"{task} dev")
    return train, dev
