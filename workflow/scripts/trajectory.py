"""Rule trajectory: every epoch projected onto the surface coordinates (eqs 3-5) from the inner products the train
job measured, with the bound on each point's error due to storage of the epochs in between while the run trained
(0 for fp32; bertscape.trajectory.error_norm)."""
from bertscape import BertscapeError
from bertscape.io import read_tsv, write_tsv
from bertscape.runner import run
from bertscape.trajectory import error_norm, project_products


def main(job):
    rows = read_tsv(job.input.run)
    n1sq = rows[-1]["norm2_delta1"]
    if "long" in job.input.keys():  # the long run, projected with the delta1 of the run it continues
        more = read_tsv(job.input.long)
        if more[0]["norm2_delta1"] != n1sq:
            raise BertscapeError(f"{job.input.long}: continues a run whose delta1 is not the one of {job.input.run}")
        rows += more
    out = [{"epoch": int(r["epoch"]), **project_products(r["dot_delta1"], r["norm2"], n1sq),
            "err_bound": error_norm(r["err2"], n1sq)} for r in rows]
    write_tsv(job.output[0], out, ["epoch", "d_alpha", "d_beta", "cos", "norm_ratio", "clamped", "err_bound"])
    job.log.info("largest error bound from checkpoint storage: %.3g", max(r["err_bound"] for r in out))
    job.sidecar(job.output[0])


run(snakemake, main)  # noqa: F821
