"""Rule trajectory: project every epoch checkpoint onto the surface coordinates (eqs 3-5), with the bound on
each point's error due to checkpoint storage (0 for fp32 checkpoints; bertscape.checkpoints.error_norm)."""
from pathlib import Path

from bertscape.checkpoints import displacement, error_norm, full_path
from bertscape.directions import difference, encoder_keys, norm
from bertscape.io import load_tensors, write_tsv
from bertscape.modeling import encoder_prefix
from bertscape.runner import run
from bertscape.trajectory import project


def main(job):
    p = job.params
    base = Path(job.input.theta0)
    theta0 = load_tensors(full_path(base, 0))
    keys = encoder_keys(theta0, encoder_prefix(theta0))
    delta1 = difference(load_tensors(full_path(base, p.epochs)), theta0, keys)  # as the directions rule has it
    ckpts = [(base, e) for e in range(p.epochs + 1)]
    if p.long_epochs:
        ckpts += [(Path(job.input.long), e) for e in range(p.epochs + 1, p.long_epochs + 1)]
    rows, n1 = [], norm(delta1)
    for folder, epoch in ckpts:
        delta_i, err2 = displacement(folder, epoch, full_path(base, 0), theta0, keys)
        rows.append({"epoch": epoch, **project(delta_i, delta1), "err_bound": error_norm(err2, n1)})
    write_tsv(job.output[0], rows, ["epoch", "d_alpha", "d_beta", "cos", "norm_ratio", "clamped", "err_bound"])
    job.log.info("largest error bound from checkpoint storage: %.3g", max(r["err_bound"] for r in rows))
    job.sidecar(job.output[0])


run(snakemake, main)  # noqa: F821
