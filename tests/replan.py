"""Plan a finished run again after each of several edits, in one process (a test helper, not part of the library).

    python tests/replan.py PROJECT CONFIGFILE RESULTS PLANS_JSON < edits.json

``edits.json``: ``[[label, file, text], ...]``, files relative to PROJECT (file null: no edit). For each edit the file gets ``text``,
the workflow is parsed and its DAG built through Snakemake's API (the rerun triggers of profiles/default,
which the API does not read), and the file gets its bytes and times back. One process: Python, Snakemake,
the library and torch load once, not once per edit (a `snakemake -n` per edit costs seconds each).
Output: ``{label: {"jobs": {rule: n}, "reasons": {rule: [kind, ...]}, "all": {rule: n}}}``, where a
job's kind is ``code`` (its only updated input is its code identity), ``upstream`` (an upstream job
reruns) or the reason as Snakemake words it; ``all`` counts every job of the DAG per rule.
"""

import json
import os
import sys
from pathlib import Path

import yaml
from snakemake.api import SnakemakeApi
from snakemake.settings.enums import Quietness, RerunTrigger
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings


def triggers(project: Path) -> set:
    names = yaml.safe_load((project / "profiles" / "default" / "config.yaml").read_text())["rerun-triggers"]
    return {RerunTrigger[n.upper().replace("-", "_")] for n in names}


def plan(project: Path, configfile: str, results: str) -> dict:
    with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
        wf = api.workflow(ResourceSettings(cores=1),
                          ConfigSettings(configfiles=[project / configfile], config={"results": results}),
                          snakefile=project / "Snakefile", workdir=project)
        wf.dag(DAGSettings(rerun_triggers=triggers(project)))
        workflow = wf._workflow  # the parsed workflow (Snakemake's API has no public "plan" that returns jobs)
        workflow._prepare_dag(forceall=False, ignore_incomplete=False, lock_warn_only=True)
        workflow._build_dag()
        dag = workflow.dag
        code = {str(job.input.code) for job in dag.jobs if "code" in job.input.keys()}
        out: dict = {"jobs": {}, "reasons": {}, "all": {}}
        for job in dag.jobs:
            out["all"][job.rule.name] = out["all"].get(job.rule.name, 0) + 1
        for job in dag.needrun_jobs():
            r, name = dag.reason(job), job.rule.name
            updated = {str(f) for f in r.updated_input}
            if updated and updated <= code and not (r.missing_output or r.params_changed or r.input_changed):
                kind = "code"
            elif r.updated_input_run and not (updated or r.missing_output or r.params_changed or r.input_changed):
                kind = "upstream"
            else:
                kind = str(r)
            out["jobs"][name] = out["jobs"].get(name, 0) + 1
            out["reasons"].setdefault(name, set()).add(kind)
        out["reasons"] = {k: sorted(v) for k, v in out["reasons"].items()}
        return out


def main(project: str, configfile: str, results: str, plans_json: str) -> None:
    root = Path(project)
    plans = {}
    for label, file, text in json.load(sys.stdin):
        if file is None:
            plans[label] = plan(root, configfile, results)
            continue
        path = root / file
        st, old = path.stat(), path.read_bytes()
        try:
            path.write_text(text)
            plans[label] = plan(root, configfile, results)
        finally:
            path.write_bytes(old)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    Path(plans_json).write_text(json.dumps(plans))


if __name__ == "__main__":
    main(*sys.argv[1:])
