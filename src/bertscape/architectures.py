"""The encoder's layers, found in the model object rather than in its parameter names.

A transformer encoder keeps its blocks in one ``nn.ModuleList`` of identical modules (BERT, RoBERTa,
XLM-R, ELECTRA, DeBERTa: ``<base>.encoder.layer``; DistilBERT: ``distilbert.transformer.layer``;
ModernBERT: ``model.layers``). :func:`layer_list` finds it structurally -- the list of same-class
modules that holds the most parameters -- and :func:`layer_map` maps every state-dict name under
block i to i. Layer groups (Table 1, Figure 7) and the depth the config is checked against come
from here, so any architecture transformers builds as a sequence classifier works without a
pattern over its names. The model is built on the meta device: no weights are allocated or read.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from . import BertscapeError


def skeleton(config):
    """A sequence classifier of ``config`` on the meta device (structure and names only, no storage)."""
    from transformers import AutoModelForSequenceClassification

    from .modeling import quiet_transformers

    quiet_transformers()
    with torch.device("meta"):
        return AutoModelForSequenceClassification.from_config(config)


def layer_list(model) -> tuple[str, torch.nn.ModuleList]:
    """(qualified name, module list) of the encoder's blocks: the ModuleList of modules of one class
    holding the most parameters."""
    best, best_n = None, -1
    for name, mod in model.named_modules():
        if not isinstance(mod, torch.nn.ModuleList) or len(mod) == 0:
            continue
        if len({type(m) for m in mod}) != 1:
            continue
        n = sum(p.numel() for p in mod.parameters())
        if n > best_n:
            best, best_n = (name, mod), n
    if best is None or best_n == 0:
        raise BertscapeError(f"{type(model).__name__}: no list of transformer blocks found in the model")
    return best


def layer_map(model) -> dict[str, int]:
    """{state-dict name: layer index} for every tensor inside the encoder's blocks."""
    name, blocks = layer_list(model)
    out = {}
    for i, block in enumerate(blocks):
        for k in block.state_dict():
            out[f"{name}.{i}.{k}"] = i
    return out


def layer_map_of(config) -> dict[str, int]:
    return layer_map(skeleton(config))


def layer_keys(keys, layers: list[int], lmap: dict[str, int]) -> list[str]:
    """The names among ``keys`` that belong to blocks lo..hi (inclusive) of the layer map, in ``keys``' order."""
    lo, hi = layers
    return [k for k in keys if k in lmap and lo <= lmap[k] <= hi]


def model_config(model_dir: str | os.PathLike):
    """The transformers config of a model directory; an unknown architecture is a one-line error."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    except (ValueError, KeyError, OSError) as e:
        raise BertscapeError(f"{Path(model_dir) / 'config.json'}: transformers cannot build this model "
                             f"({str(e).splitlines()[0]})") from None


def depth(model_dir: str | os.PathLike) -> int:
    """The number of transformer blocks of the model in ``model_dir``, counted in the model object."""
    return len(layer_list(skeleton(model_config(model_dir)))[1])

