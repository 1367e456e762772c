"""Rule prepare_data: one task's train/dev rows from the configured source, in the prepared format."""
from bertscape.data.prepare import prepare
from bertscape.io import write_jsonl
from bertscape.runner import run


def main(job):
    train, dev = prepare(job.wildcards.task, job.params.data)
    for rows, path in ((train, job.output.train), (dev, job.output.dev)):
        write_jsonl(path, rows)
        job.sidecar(path, sources={"data": job.params.data})
    job.log.info("%s: %d train, %d dev examples", job.wildcards.task, len(train), len(dev))


run(snakemake, main)  # noqa: F821
