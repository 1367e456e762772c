"""Rule fetch_model (login node): download a pinned hub model snapshot into the resources cache."""
import sys
from pathlib import Path

from bertscape import BertscapeError
from bertscape.io import write_text
from bertscape.runner import run


def main(job):
    from huggingface_hub import model_info, snapshot_download

    dest = Path(job.output[0]).parent
    try:
        snapshot_download(job.params.name, revision=job.params.revision, local_dir=str(dest),
                          allow_patterns=["*.json", "*.txt", "*.safetensors", "*.model"])
        # the commit the revision resolved to, for provenance (a branch name moves; a sha does not)
        sha = model_info(job.params.name, revision=job.params.revision).sha
        write_text(dest / "COMMIT", sha + "\n")
    except Exception as e:  # network, auth, unknown repo or revision
        raise BertscapeError(f"model.name: cannot fetch {job.params.name}@{job.params.revision} ({type(e).__name__}: {e})")
    if not Path(job.output[0]).is_file():
        raise BertscapeError(f"model.name: {job.params.name} has no config.json")
    if job.params.revision != sha:  # a branch name moves: tell the user the commit to pin
        msg = f"bertscape: model.revision {job.params.revision!r} resolved to commit {sha}; pin it: model.revision: {sha}"
        job.log.warning(msg)
        print(msg, file=sys.__stderr__)


run(snakemake, main)  # noqa: F821
