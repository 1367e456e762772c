"""Rule train_group (train.fused: true): the runs of one group trained as one batched computation; each run's
checkpoints, resume state and records written where rule train writes them."""
from bertscape.fused import train_fused
from bertscape.modeling import resolve_model_dir
from bertscape.preempt import watch
from bertscape.runner import run
from bertscape.trainrun import RunFiles, prepare, publish


def main(job):
    p = job.params
    model_dir = resolve_model_dir(**job.model())
    prepared = []
    for j, r in enumerate(p.runs):
        inputs = {k: str(job.input[f"{k}_{j}"]) for k in ("train", "dev", "init", "start") if f"{k}_{j}" in job.input.keys()}
        out = {k: str(job.output[f"{k}_{j}"]) for k in ("ckpts", "steps", "epochs", "displacements")}
        files = RunFiles(r["task"], r["init"], r["seed"], inputs, **out, task_spec=r["task_spec"], spec=r["spec"],
                         first_epoch=r["first_epoch"], storage=p.storage, keep=p.keep, eval_batch_tokens=p.eval_batch_tokens,
                         last=r.get("last", p.last))
        prepared.append(prepare(files, model_dir, p.model, lambda sources: job.provenance(sources=sources)))
        if prepared[-1].head:
            job.log.info(prepared[-1].head)
    job.log.info("fused group of %d runs: %s", len(prepared), ", ".join(f"{r['task']}/{r['init']}/seed{r['seed']}"
                                                                        for r in p.runs))
    with watch():  # a time limit or preemption: every run saves its state after the current step; a rerun resumes
        results = train_fused([x.run for x in prepared])
    for x, (steps, epochs) in zip(prepared, results):
        job.log.info(publish(x, steps, epochs, lambda path, sources: job.sidecar(path, sources=sources)))


run(snakemake, main)  # noqa: F821
