"""Rule fetch_model (login node): download a pinned hub model snapshot into the resources cache."""
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
        write_text(dest / "COMMIT", model_info(job.params.name, revision=job.params.revision).sha + "\n")
    except Exception as e:  # network, auth, unknown repo or revision
        raise BertscapeError(f"model.name: cannot fetch {job.params.name}@{job.params.revision} ({type(e).__name__}: {e})")
    if not Path(job.output[0]).is_file():
        raise BertscapeError(f"model.name: {job.params.name} has no config.json")


run(snakemake, main)  # noqa: F821
