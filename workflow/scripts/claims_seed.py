"""Rule claims_seed: one seed's claim rows (bertscape.claims.evaluate) gated by that seed's preconditions (P1-P5)
and, for imported runs, by their missing training history; rules claims aggregates every seed's file."""
from bertscape.audit import sources
from bertscape.claims import evaluate
from bertscape.imported import imported_runs, no_history
from bertscape.io import write_json
from bertscape.runner import run


def main(job):
    params = dict(job.params.items())
    r = evaluate(dict(job.input.items()), params.pop("input_keys"), params)
    r["claims"] = no_history(r["claims"], [f"{t}/{i}" for t, i in imported_runs(params["task_configs"])],
                             params["long"])
    write_json(job.output[0], {"seed": params["seed"], **r,
                               "provenance": job.provenance(sources=sources(list(job.input.surfaces)))})


run(snakemake, main)  # noqa: F821
