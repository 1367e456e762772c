"""Rule sharpness: at theta1, the top Hessian eigenvalue by power iteration (claims.hessian) and the flatness
record (config flatness: Lanczos spectrum, Hutchinson trace, D H D, adaptive and average-case sharpness)."""

import torch

from bertscape.batches import eval_batches
from bertscape.checkpoints import full_path, load
from bertscape.data import TaskSpec
from bertscape.flatness import flatness_batches, measure
from bertscape.io import load_tensors, write_json
from bertscape.modeling import resolve_model_dir
from bertscape.runner import run
from bertscape.sharpness import load_for_hessian, top_eigenvalue


def main(job):
    p = job.params
    model_dir = resolve_model_dir(**job.model())
    theta1 = load(full_path(job.input.ckpts, p.epochs))
    train = load_tensors(job.input.train)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_for_hessian(model_dir, theta1, TaskSpec(**p.task).num_labels).to(device)
    out, what = {"task": job.wildcards.task, "init": job.wildcards.init}, f"{job.wildcards.task} {job.wildcards.init}"
    if p.hessian["enabled"]:  # on the training-loss surfaces' seeded subset
        r = top_eigenvalue(model, eval_batches(train, None, p.eval, p.seed), p.hessian["iterations"],
                           p.hessian["tol"], p.seed)
        job.log.info("%s: power iteration lambda_max %.5g after %d iterations", what, r["lambda_max"], r["iterations"])
        out.update(r)
    if p.flatness["enabled"]:
        rec = measure(model, flatness_batches(train, p.flatness["examples"], p.eval, p.seed),
                      p.flatness, p.seed)
        lz = rec["lanczos"]
        job.log.info("%s: Lanczos lambda_max %.5g (residual %.2g), lambda_min %.4g (residual %.2g), trace %.4g +- "
                     "%.2g, D H D lambda_max %.4g", what, lz["lambda_max"], lz["residual_max"], lz["lambda_min"],
                     lz["residual_min"], rec["trace"]["trace"], rec["trace"]["se"], rec["relative"]["lambda_max"])
        out["flatness"] = rec
    write_json(job.output[0], {**out, "provenance": job.provenance()})


run(snakemake, main)  # noqa: F821
