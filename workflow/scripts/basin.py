"""Rule basin: C1's 2D region around theta1 (train loss <= f(theta1) + claims.tau_loss), followed past the
surface's edge on its lattice where it reaches it (at most claims.basin_points nodes evaluated out there), so
that its area is measured instead of censored (P3). A region inside the grid costs no evaluation (no engine)."""
from pathlib import Path

from bertscape.basins import extend
from bertscape.data import TaskSpec
from bertscape.h5io import read_grid
from bertscape.io import write_json
from bertscape.modeling import load_config, resolve_model_dir
from bertscape.runner import run
from bertscape.surfaces import EngineSpec, open_engine


def main(job):
    p, wc = job.params, job.wildcards
    grid = read_grid(job.input.surface)
    engine = []  # built on the first node past the edge

    def train_loss(alpha: float, beta: float) -> float:
        if not engine:
            mconf = load_config(resolve_model_dir(**job.model()), TaskSpec(**p.task).num_labels)
            inp = job.input
            engine.append(open_engine(EngineSpec("surface", mconf, Path(inp.ckpts), p.epochs, Path(inp.other),
                                                 Path(inp.directions), Path(inp.train), None, p.eval, p.seed))[0])
        return engine[0].evaluate(alpha, beta)["train_loss"]

    region = extend(grid, p.tau, train_loss, p.budget)
    job.log.info("%s %s: region alpha %s beta %s, area %.4g, %d nodes past the grid's edge, %s", wc.task, wc.init,
                 region["alpha_range"], region["beta_range"], region["area"], region["past_edge"],
                 "still open (censored)" if region["censored"] else "closed")
    write_json(job.output[0], {"task": wc.task, "init": wc.init, "metric": "train_loss", "tau": p.tau,
                               "evaluated_in": engine[0].dtype if engine else None, **region, "provenance": job.provenance()})


run(snakemake, main)  # noqa: F821
