"""A model the user already fine-tuned as theta1 (``tasks.<T>.finetuned``, ``tasks.<T>.scratch``).

The ``import_checkpoint`` rule writes what the ``train`` rule would, so every rule downstream runs
unchanged: ``checkpoints/epoch0.safetensors`` (theta0: the pre-trained encoder, or the shared random
one, plus the task's seeded head, in the shared-base format), ``checkpoints/epoch<E>.safetensors``
(the imported weights, fp32; E is the run's configured epoch count), an empty ``steps.tsv``,
``epochs.tsv`` with theta0's and theta1's dev scores (no training loss: there was no training here),
and ``displacements.tsv`` for epochs 0 and E. What needs the training history (C2's epochs and
first-epoch direction, C3) is n/a for such a run (:func:`no_history`).

A checkpoint is a transformers model directory (config.json + safetensors weights) of the same
architecture and vocabulary as ``model.name``, with a task head of the task's size.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import BertscapeError
from .controls import CONTROLS, split_measure
from .directions import State

KEYS = {"finetune": "finetuned", "scratch": "scratch"}  # run (init) -> its key under tasks.<T>
NO_HISTORY = {("C2", "epochs_to_loss"), ("C2", "direction_epoch1"),  # + every C3 row of an imported long-run task
              ("C2", "direction_matched_fraction"), ("C2", "direction_matched_cumlr"), ("C2", "cumlr_to_loss")}


def imported_runs(tasks: dict) -> dict[tuple[str, str], str]:
    """{(task, init): the configured checkpoint} of every run whose theta1 is imported."""
    return {(t, init): spec[key] for t, spec in tasks.items() for init, key in KEYS.items() if spec.get(key)}


def split_ref(ref: str) -> tuple[str, str | None]:
    """``dir`` or ``hub/id@revision`` -> (name, revision or None)."""
    name, _, rev = ref.partition("@")
    return name, rev or None


def checkpoint_dir(ref: str, cache_dir: str | os.PathLike | None, key: str) -> Path:
    """The local directory of a configured checkpoint: a directory as is, a hub id from the model cache
    (``resources_dir/models/<id>@<revision>``, as for ``model.name``); one-line errors naming ``key``."""
    from .modeling import hub_cache_path

    name, rev = split_ref(ref)
    p = Path(name)
    if not p.is_dir() and not name.startswith((".", "/")) and name.count("/") == 1 and cache_dir is not None:
        p = hub_cache_path(cache_dir, name, rev)
        if not p.is_dir():
            raise BertscapeError(f"config key {key}: hub checkpoint '{ref}' is not in the cache {p} "
                                 "(download it there, e.g. huggingface-cli download --local-dir)")
    if not p.is_dir():
        raise BertscapeError(f"config key {key}: checkpoint directory {name} does not exist")
    if not (p / "config.json").is_file():
        raise BertscapeError(f"config key {key}: checkpoint {p} has no config.json")
    if not any(p.glob("*.safetensors")):
        raise BertscapeError(f"config key {key}: checkpoint {p} has no safetensors weights "
                             "(pickled .bin weights are never loaded)")
    return p


def _arch(d: Path, key: str) -> tuple[str, int]:
    try:
        c = json.loads((d / "config.json").read_text())
    except ValueError as e:
        raise BertscapeError(f"config key {key}: {d / 'config.json'} is not JSON ({e})") from None
    return c.get("model_type"), c.get("vocab_size")


def check_compatible(ckpt: Path, model_dir: Path, key: str, model_name: str) -> None:
    """The checkpoint must be the architecture and vocabulary of ``model.name`` (one line naming both)."""
    (t1, v1), (t0, v0) = _arch(ckpt, key), _arch(Path(model_dir), "model.name")
    if (t1, v1) != (t0, v0):
        raise BertscapeError(f"config key {key}: checkpoint {ckpt} is {t1} (vocab {v1}) but model.name {model_name} "
                             f"is {t0} (vocab {v0})")


def load_checkpoint(ckpt: Path, model_dir: Path, num_labels: int, key: str) -> tuple[State, dict]:
    """theta1: the checkpoint's full state (encoder + task head) with the names the pipeline's own model has.
    Returns (state, what was loaded: labels, architecture)."""
    from transformers import AutoModelForSequenceClassification

    from .architectures import model_config, skeleton
    from .modeling import load_config, quiet_transformers, state_dict

    quiet_transformers()
    config = model_config(ckpt)
    n = config.num_labels
    if n != num_labels:
        raise BertscapeError(f"config key {key}: checkpoint {ckpt} has a task head of {n} labels, the task has "
                             f"{num_labels}")
    model, info = AutoModelForSequenceClassification.from_pretrained(str(ckpt), config=config, local_files_only=True,
                                                                     output_loading_info=True)
    if info["missing_keys"]:
        raise BertscapeError(f"config key {key}: checkpoint {ckpt} lacks {sorted(info['missing_keys'])[0]} "
                             f"({len(info['missing_keys'])} missing: is it a fine-tuned sequence classifier?)")
    theta1 = state_dict(model)
    ref = skeleton(load_config(model_dir, num_labels)).state_dict()  # model.name's names and shapes (meta: no weights)
    if set(theta1) != set(ref) or any(theta1[k].shape != ref[k].shape for k in ref):
        odd = sorted(set(theta1) ^ set(ref)) or [k for k in ref if theta1[k].shape != ref[k].shape]
        raise BertscapeError(f"config key {key}: checkpoint {ckpt} does not match model.name's parameters ({odd[0]})")
    return {k: v.float() if v.is_floating_point() else v for k, v in theta1.items()}, \
        {"labels": n, "architectures": config.architectures}


def no_history(rows: list[dict], imported: list[str], long_task: str | None) -> list[dict]:
    """Claim rows that need a training history become n/a for tasks whose runs are imported (``task/init``)."""
    runs = {tuple(r.split("/")) for r in imported}
    out = []
    for r in rows:
        t = r["task"]
        base, control = split_measure(r["measure"])
        if (r["claim"], base) in NO_HISTORY:  # compares the fine-tuning run's history with scratch's (or a control's)
            pair = CONTROLS[control].pair if control else ("finetune", "scratch")
            which = [f"{t}/{i}" for i in pair if (t, i) in runs]
        else:  # C3: the long run continues the fine-tuning run, whose history it extends
            which = [f"{t}/finetune"] if r["claim"] == "C3" and t == long_task and (t, "finetune") in runs else []
        if which:
            keys = ", ".join(f"tasks.{w.split('/')[0]}.{KEYS[w.split('/')[1]]}" for w in which)
            r = {**r, "holds": None, "reason": f"needs the training history; theta1 of {', '.join(which)} is an imported "
                                              f"checkpoint ({keys})"}
        out.append(r)
    return out


def epoch_row(epoch: int, ev: dict[str, float]) -> dict:
    """A row of epochs.tsv as the train rule writes it (train_loss: nan, no training steps here)."""
    return {"epoch": epoch, "train_loss": float("nan"), "dev_loss": ev["loss"],
            **{f"dev_{k}": v for k, v in ev.items() if k != "loss"}}


def import_run(theta1: State, model_dir: Path, num_labels: int, init: str, seed: int, init_path: Path,
               dev: dict, eval_batch_tokens: int, epochs: int, out: Path, meta: dict) -> tuple[list[dict], list[dict]]:
    """Write the train rule's checkpoints folder ``out`` for an imported theta1 (epoch0 = theta0 in the shared-base
    format over ``init_path``, epoch<epochs> = theta1 in fp32); returns (epochs.tsv rows, displacements.tsv rows)."""
    import shutil

    from . import checkpoints as ck
    from .io import load_tensors, save_tensors
    from .modeling import build_model, state_dict
    from .train import evaluate

    scratch = load_tensors(init_path) if init == "scratch" else None
    model = build_model(model_dir, num_labels, init, seed, scratch)  # theta0, as the train rule builds it
    theta0 = state_dict(model)
    rows = [epoch_row(0, evaluate(model, dev, eval_batch_tokens))]
    model.load_state_dict(theta1)
    rows.append(epoch_row(epochs, evaluate(model, dev, eval_batch_tokens)))
    tmp = out.with_name(out.name + ".importing")  # a sibling: the base reference is relative to the same depth
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    ck.save_shared(ck.full_path(tmp, 0), theta0, init_path, init_path, out, {**meta, "epoch": 0})
    save_tensors(ck.full_path(tmp, epochs), theta1, {**meta, "epoch": epochs})
    moved = ck.displacement_rows(tmp, [0, epochs], ck.full_path(tmp, 0), theta1, epochs)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return rows, moved
