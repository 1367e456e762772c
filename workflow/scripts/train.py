"""Rule train: fine-tune / train from scratch / continue (long run), a checkpoint per epoch."""
from bertscape.modeling import resolve_model_dir
from bertscape.preempt import watch
from bertscape.runner import run
from bertscape.train import train
from bertscape.trainrun import RunFiles, prepare, publish


def main(job):
    task, init = job.wildcards.task, job.wildcards.init
    inputs = {k: str(job.input[k]) for k in ("train", "dev", "init", "start") if k in job.input.keys()}
    p = job.params
    files = RunFiles(task, init, p.seed, inputs, job.output.ckpts, job.output.steps, job.output.epochs,
                     job.output.displacements, p.task, p.spec, p.first_epoch, p.storage, p.keep, p.eval_batch_tokens, p.last)
    model_dir = resolve_model_dir(**job.model())
    prep = prepare(files, model_dir, p.model, lambda sources: job.provenance(sources=sources))
    if prep.head:
        job.log.info(prep.head)
    r = prep.run
    with watch():  # a time limit or preemption: save the state after the current step and stop (a rerun resumes)
        steps, epochs = train(r.model, r.train, r.dev, r.spec, r.store, dev_every_epoch=p.dev_every_epoch)
    job.log.info(publish(prep, steps, epochs, lambda path, sources: job.sidecar(path, sources=sources)))


run(snakemake, main)  # noqa: F821
