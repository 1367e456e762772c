"""Rule import_checkpoint: a model the user already trained as theta1 of a run, written as the train rule's outputs."""
from pathlib import Path

from bertscape.checkpoints import DISPLACEMENT_COLUMNS
from bertscape.data import TaskSpec
from bertscape.imported import check_compatible, checkpoint_dir, import_run, load_checkpoint, split_ref
from bertscape.io import load_tensors, write_tsv
from bertscape.modeling import model_identity, resolve_model_dir
from bertscape.runner import run


def main(job):
    task, init, p = job.wildcards.task, job.wildcards.init, job.params
    model_dir = resolve_model_dir(**job.model())
    ckpt = checkpoint_dir(p.ref, job.location("resources_dir"), p.key)
    check_compatible(ckpt, model_dir, p.key, p.model["name"])
    num_labels = TaskSpec(**p.task).num_labels
    theta1, loaded = load_checkpoint(ckpt, model_dir, num_labels, p.key)
    name, rev = split_ref(p.ref)
    sources = {"model": model_identity(model_dir=model_dir, **p.model),
               "checkpoint": {**model_identity(name, ckpt, rev), "config_key": p.key, **loaded}}
    meta = {"task": task, "init": init, "imported": p.ref, "provenance": job.provenance(sources=sources)}
    epochs, moved = import_run(theta1, model_dir, num_labels, init, p.seed, Path(job.input.init),
                               load_tensors(job.input.dev), p.eval_batch_tokens, p.epochs, Path(job.output.ckpts),
                               meta)
    write_tsv(job.output.steps, [], ["epoch", "step", "epoch_pos", "loss", "lr"])
    write_tsv(job.output.epochs, epochs, list(epochs[0]))
    write_tsv(job.output.displacements, moved, DISPLACEMENT_COLUMNS)
    job.sidecar(job.output.epochs, sources=sources)
    job.sidecar(job.output.displacements, sources=sources)
    job.log.info("imported %s as theta1 of %s/%s (epoch %d); dev %s", ckpt, task, init, p.epochs,
                 ", ".join(f"{k[4:]} {v:.4f}" for k, v in epochs[-1].items() if k.startswith("dev_")))


run(snakemake, main)  # noqa: F821
