"""Rule seed_barrier: the training loss on the straight line between two seeds' theta1 (encoder and head), its
barrier, and the cosine of the two seeds' delta1 (C6's null) -- bertscape.crossseed."""
from bertscape import checkpoints as ck
from bertscape.accuracy import check
from bertscape.batches import eval_batches
from bertscape.crossseed import delta_cos, evaluate_line, line_engine, line_grid, line_nodes
from bertscape.data import TaskSpec
from bertscape.directions import encoder_keys
from bertscape.h5io import write_grid
from bertscape.io import load_tensors
from bertscape.modeling import encoder_prefix, load_config, resolve_model_dir
from bertscape.runner import run


def main(job):
    p, inp = job.params, job.input
    a, b = (int(s) for s in p.seeds)
    theta1 = {s: ck.load(ck.full_path(d, p.epochs)) for s, d in ((a, inp.a), (b, inp.b))}
    theta0 = {s: ck.load(ck.full_path(d, 0)) for s, d in ((a, inp.a), (b, inp.b))}
    keys = encoder_keys(theta0[a], encoder_prefix(theta0[a]))
    cos = delta_cos(theta0[a], theta1[a], theta0[b], theta1[b], keys)  # same task, two seeds: C6's null
    del theta0
    # the 1D curves' training subset of each seed, pooled: the path reads the same from either end
    batches = [x for s, f in ((a, inp.train_a), (b, inp.train_b))
               for x in eval_batches(load_tensors(f), None, p.eval, s)]
    task = TaskSpec(**p.task)
    engine = line_engine(load_config(resolve_model_dir(**job.model()), task.num_labels), theta1[a], theta1[b],
                         batches, p.eval["dtype"])
    nodes = line_nodes(p.nodes)
    values = evaluate_line(engine, nodes)
    named = {f"t{k}": {m: float(v[k]) for m, v in values.items()} for k in range(len(nodes))}
    precision = check(engine, named, {f"t{k}": (float(t), 0.0) for k, t in enumerate(nodes)},
                      p.eval["precision_nodes"], a * 1009 + b, p.eval["precision_budget"], job.output[0])
    grid = line_grid(nodes, values, {"task": job.wildcards.task, "init": job.wildcards.init, "seed_a": a, "seed_b": b,
                                     "cos_delta1": cos["cos"], "norm_delta1_a": cos["norm_a"],
                                     "norm_delta1_b": cos["norm_b"],
                                     "n_train_subset": sum(len(x.labels) for x in batches),
                                     "loss": task.loss, "epoch_theta1": p.epochs, **precision,
                                     "provenance": job.provenance()})
    write_grid(job.output[0], grid)
    job.log.info("%s %s seeds %d~%d: barrier %.4g, cos(delta1^a, delta1^b) %.4f", job.wildcards.task,
                 job.wildcards.init, a, b, grid.attrs["barrier"], cos["cos"])


run(snakemake, main)  # noqa: F821
