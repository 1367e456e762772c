"""Rule trajectory: project every epoch checkpoint onto the surface coordinates (eqs 3-5)."""
from pathlib import Path

from bertscape.directions import difference, split
from bertscape.io import load_tensors, write_tsv
from bertscape.runner import run
from bertscape.trajectory import project


def main(job):
    p = job.params
    delta1, _ = split(load_tensors(job.input.delta))
    keys = sorted(delta1)
    base = Path(job.input.theta0)
    theta0 = load_tensors(base / "epoch0.safetensors")
    ckpts = [(e, base / f"epoch{e}.safetensors") for e in range(p.epochs + 1)]
    if p.long_epochs:
        ckpts += [(e, Path(job.input.long) / f"epoch{e}.safetensors") for e in range(p.epochs + 1, p.long_epochs + 1)]
    rows = []
    for epoch, path in ckpts:
        r = project(difference(load_tensors(path), theta0, keys), delta1)
        rows.append({"epoch": epoch, **r})
    write_tsv(job.output[0], rows, ["epoch", "d_alpha", "d_beta", "cos", "norm_ratio", "clamped"])
    job.sidecar(job.output[0])


run(snakemake, main)  # noqa: F821
