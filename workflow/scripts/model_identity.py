"""Rule model_identity (hub models, after fetch_model): sha256 of every file of the snapshot, written
only when it differs from what the identity file already says (bertscape.identity)."""
from pathlib import Path

from bertscape import identity
from bertscape.runner import run


def main(job):
    changed = identity.refresh_model(job.output[0], Path(job.input[0]).parent)
    job.log.info("%s: %s", job.output[0], "rewritten" if changed else "unchanged")


run(snakemake, main)  # noqa: F821
