"""Rule train: fine-tune / train from scratch / continue (long run), a checkpoint per epoch."""
from pathlib import Path

from bertscape.checkpoints import DISPLACEMENT_COLUMNS, full_path
from bertscape.data import TaskSpec
from bertscape.io import load_tensors, write_tsv
from bertscape.modeling import build_model, head_note, model_identity, resolve_model_dir
from bertscape.provenance import sha256_path
from bertscape.preempt import watch
from bertscape.runner import run
from bertscape.store import CheckpointStore
from bertscape.train import TrainSpec, train


def main(job):
    task, init = job.wildcards.task, job.wildcards.init
    model_dir = resolve_model_dir(**job.model())
    scratch = load_tensors(job.input.init) if init == "scratch" else None
    num_labels = TaskSpec(**job.params.task).num_labels
    model = build_model(model_dir, num_labels, "scratch" if init == "scratch" else "finetune", job.params.seed, scratch)
    head = head_note(model_dir, num_labels) if init == "finetune" else None
    if head:
        job.log.info(head)
    first = job.params.first_epoch
    if init == "long":  # start from the last checkpoint of the regular fine-tuning run
        model.load_state_dict(load_tensors(full_path(job.input.start, first)))
    spec = TrainSpec(**job.params.spec, eval_batch_tokens=job.params.eval_batch_tokens)
    data = {s: load_tensors(job.input[s]) for s in ("train", "dev")}
    ident = {k: sha256_path(job.input[k]) for k in ("train", "dev", "init", "start") if k in job.input.keys()}
    out = Path(job.output.ckpts)
    paths = [str(out / f"epoch{first + e}.safetensors") for e in range(spec.epochs + 1)]
    base = None
    if init == "long":  # its start is the fine-tuning run's last checkpoint: not stored twice; deltas from that run's theta0
        paths[0], base = None, full_path(job.input.start, 0)
    sources = {"model": {**model_identity(model_dir=model_dir, **job.params.model), **({"head": head} if head else {})}}
    meta = {"task": task, "init": init, "provenance": job.provenance(sources=sources)}
    moved = []  # each epoch reduced to what eqs 3-5 need, measured before anything is published
    store = CheckpointStore(paths, out.parent / ".resume", meta, identity=str(ident), storage=job.params.storage,
                            delta_base=base, keep_intermediate=job.params.keep, theta0_base=job.input.get("init"),
                            displacements=moved)
    with watch():  # a time limit or preemption: save the state after the current step and stop (a rerun resumes)
        steps, epochs = train(model, data["train"], data["dev"], spec, store)
    for r in steps + epochs + moved:
        r["epoch"] += first
    for r in steps:
        r["epoch_pos"] += first
    write_tsv(job.output.steps, steps, ["epoch", "step", "epoch_pos", "loss", "lr"])
    write_tsv(job.output.epochs, epochs, list(epochs[0]))  # epoch, train/dev loss, dev_<GLUE metric>...
    write_tsv(job.output.displacements, moved, DISPLACEMENT_COLUMNS)
    job.sidecar(job.output.epochs, sources=sources)
    job.sidecar(job.output.displacements, sources=sources)  # (the trajectory's lineage goes through it)
    job.log.info("final dev %s", ", ".join(f"{k[4:]} {v:.4f}" for k, v in epochs[-1].items() if k.startswith("dev_")))


run(snakemake, main)  # noqa: F821
