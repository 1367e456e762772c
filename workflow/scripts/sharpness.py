"""Rule sharpness: top Hessian eigenvalue of the training loss at theta1 (power iteration on HVPs)."""

import torch

from bertscape.batches import eval_batches
from bertscape.checkpoints import full_path, load
from bertscape.data import TaskSpec
from bertscape.io import load_tensors, write_json
from bertscape.modeling import resolve_model_dir
from bertscape.runner import run
from bertscape.sharpness import load_for_hessian, top_eigenvalue


def main(job):
    p = job.params
    model_dir = resolve_model_dir(**job.model())
    theta1 = load(full_path(job.input.ckpts, p.epochs))
    train = load_tensors(job.input.train)  # the training-loss surfaces' seeded subset
    batches = eval_batches(train, None, p.eval, p.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_for_hessian(model_dir, theta1, TaskSpec(**p.task).num_labels).to(device)
    r = top_eigenvalue(model, batches, p.hessian["iterations"], p.hessian["tol"], p.seed)
    job.log.info("%s %s: lambda_max %.5g after %d iterations", job.wildcards.task, job.wildcards.init,
                 r["lambda_max"], r["iterations"])
    write_json(job.output[0], {"task": job.wildcards.task, "init": job.wildcards.init, **r,
                               "provenance": job.provenance()})


run(snakemake, main)  # noqa: F821
