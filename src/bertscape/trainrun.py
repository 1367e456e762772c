"""One training run as a job sees it: its model, data and checkpoint store set up from its files, and its
records published next to its checkpoints. Shared by rule train (one run, :func:`bertscape.train.train`) and
rule train_group (a fused group, :func:`bertscape.fused.train_fused`), so a run's files are the same whichever
rule made them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .checkpoints import DISPLACEMENT_COLUMNS, full_path, load
from .controls import theta0_init
from .config import LONG_INITS
from .data import TaskSpec
from .fused import Run
from .io import load_tensors, write_tsv
from .modeling import build_model, head_note, model_identity
from .provenance import sha256_path
from .store import CheckpointStore
from .train import TrainSpec


@dataclass
class RunFiles:
    """What one run reads (``inputs``: train, dev, init?, start?) and writes, and its params (rule train's)."""
    task: str
    init: str
    seed: int
    inputs: dict[str, str]
    ckpts: str
    steps: str
    epochs: str
    displacements: str
    task_spec: dict
    spec: dict
    first_epoch: int = 0
    storage: str = "fp16_delta"
    keep: bool = False
    eval_batch_tokens: int = 4096
    last: str = "fp32_packed"  # train.last_checkpoint, or "none": no weights published (config.last_checkpoint)


@dataclass
class Prepared:
    run: Run
    files: RunFiles
    sources: dict
    head: str | None
    moved: list[dict] = field(default_factory=list)


def prepare(f: RunFiles, model_dir: Path, model_params: dict, provenance) -> Prepared:
    """The run's theta0 (or, for a long run, the fine-tuning run's last epoch), data and store.
    ``provenance(sources)`` -> the job's provenance record (written into every checkpoint's metadata)."""
    start = theta0_init(f.init)  # a control run starts where its theta0 init does (bertscape.controls)
    scratch = load_tensors(f.inputs["init"]) if start == "scratch" else None
    num_labels = TaskSpec(**f.task_spec).num_labels
    model = build_model(model_dir, num_labels, "scratch" if start == "scratch" else "finetune", f.seed, scratch)
    head = head_note(model_dir, num_labels) if start == "finetune" else None
    first = f.first_epoch
    if f.init in LONG_INITS:  # start from the last checkpoint of the regular fine-tuning (scratch) run
        model.load_state_dict(load(full_path(f.inputs["start"], first)))
    spec = TrainSpec(**f.spec, eval_batch_tokens=f.eval_batch_tokens)
    data = {s: load_tensors(f.inputs[s]) for s in ("train", "dev")}
    ident = {k: sha256_path(f.inputs[k]) for k in ("train", "dev", "init", "start") if k in f.inputs}
    out = Path(f.ckpts)
    paths = [str(out / f"epoch{first + e}.safetensors") for e in range(spec.epochs + 1)]
    if f.last == "none":  # the last epoch still feeds the displacement rows before the resume folder goes
        paths[-1] = None
    base = None
    if f.init in LONG_INITS:  # its start is the continued run's last checkpoint: not stored twice; deltas from theta0
        paths[0], base = None, full_path(f.inputs["start"], 0)
    sources = {"model": {**model_identity(model_dir=model_dir, **model_params), **({"head": head} if head else {})}}
    meta = {"task": f.task, "init": f.init, "provenance": provenance(sources)}
    moved: list[dict] = []  # each epoch reduced to what eqs 3-5 need, measured before anything is published
    store = CheckpointStore(paths, out.parent / ".resume", meta, identity=str(ident), storage=f.storage,
                            delta_base=base, keep_intermediate=f.keep, theta0_base=f.inputs.get("init"),
                            displacements=moved, last="fp32" if f.last == "none" else f.last)
    return Prepared(Run(model, data["train"], data["dev"], spec, store), f, sources, head, moved)


# epochs.tsv's columns in the order an uninterrupted run's records have them (train_loss, then evaluate()'s: the
# loss, then bertscape.metrics.glue_metrics' order); records read back from a resume state come with sorted keys
EPOCH_COLUMNS = ("epoch", "train_loss", "dev_loss", "dev_acc", "dev_mcc", "dev_f1", "dev_pearson", "dev_spearman",
                 "dev_mse", "dev_correct")


def epoch_columns(record: dict) -> list[str]:
    """epochs.tsv's columns, the same whether the run was resumed or not."""
    return [k for k in EPOCH_COLUMNS if k in record] + sorted(k for k in record if k not in EPOCH_COLUMNS)


def publish(p: Prepared, steps: list[dict], epochs: list[dict], sidecar) -> str:
    """Write the run's steps.tsv, epochs.tsv and displacements.tsv (epochs numbered from its first), their
    provenance sidecars via ``sidecar(path, sources)``; returns the final dev line for the log."""
    f, first = p.files, p.files.first_epoch
    for r in steps + epochs + p.moved:
        r["epoch"] += first
    for r in steps:
        r["epoch_pos"] += first
    Path(f.ckpts).mkdir(parents=True, exist_ok=True)  # (empty when nothing was published: last "none")
    write_tsv(f.steps, steps, ["epoch", "step", "epoch_pos", "loss", "lr"])
    write_tsv(f.epochs, epochs, epoch_columns(epochs[0]))
    write_tsv(f.displacements, p.moved, DISPLACEMENT_COLUMNS)
    sidecar(f.epochs, p.sources)
    sidecar(f.displacements, p.sources)  # (the trajectory's lineage goes through it)
    return f"{f.task} {f.init} seed {f.seed}: final dev " + \
        ", ".join(f"{k[4:]} {v:.4f}" for k, v in epochs[-1].items() if k.startswith("dev_") and k != "dev_correct")
