"""Plan a finished run again after each of several edits, in one process (a test helper, not part of the library).

    python tests/replan.py PROJECT CONFIGFILE RESULTS PLANS_JSON < edits.json

``edits.json``: ``[[label, {file: text, ...}], ...]``, files relative to PROJECT ({}: no edit). For each edit
the files get their new text, the workflow is parsed and its DAG built through Snakemake's API (with the
rerun triggers of profiles/default, which the API does not read), and the files get their bytes and times back. One process: Python, Snakemake,
the library and torch load once, not once per edit (a `snakemake -n` per edit costs seconds each).
Output: ``{label: {"jobs": {rule: n}, "planned": [job, ...], "reasons": {rule: [kind, ...]}, "all": {rule: n},
"needs": {job: [job, ...]}, "scripts": {rule: script}, "params": {job: {name: value}},
"inputs": {job: [path, ...]}}}``: the jobs planned (per rule, and each by rule and wildcards, with its params and
input files) and why (``code``: its only updated input is its code identity; ``upstream``: an upstream job
reruns; otherwise the reason as Snakemake words it), every job of the DAG per rule, each job's dependencies,
and each rule's script.
"""

import ast
import json
import os
import sys
from pathlib import Path

import yaml
from snakemake.api import SnakemakeApi
from snakemake.settings.enums import Quietness, RerunTrigger
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings


def new_function(text: str) -> str:
    """A semantic edit: what the module defines changes."""
    return text + "\n\ndef added_by_test():\n    return 1\n"


def new_comment(text: str) -> str:
    """A comment and blank lines: nothing the code does changes."""
    return text.replace("\n", "\n\n", 1) + "\n\n# a comment added by the test\n"


def new_docstring(text: str) -> str:
    """The first docstring (module, class or function) reworded; a module docstring added where there is none."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and ast.get_docstring(node):
            const = node.body[0].value
            lines = text.splitlines(keepends=True)
            line = lines[const.lineno - 1]
            col = const.col_offset
            while line[col] not in "\"'":  # string prefix (r, u)
                col += 1
            quote = line[col:col + 3] if line[col:col + 3] in ('"""', "'''") else line[col]
            lines[const.lineno - 1] = line[:col + len(quote)] + "Reworded by the test. " + line[col + len(quote):]
            return "".join(lines)
    return '"""Added by the test."""\n' + text


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
        out: dict = {"jobs": {}, "reasons": {}, "all": {}, "scripts": {}, "planned": [], "needs": {}, "params": {},
                     "inputs": {}}

        def key(job):
            return job.rule.name + "".join(f" {k}={v}" for k, v in sorted(job.wildcards_dict.items()))

        for job in dag.jobs:
            out["all"][job.rule.name] = out["all"].get(job.rule.name, 0) + 1
            out["scripts"][job.rule.name] = Path(job.rule.script).name if job.rule.script else None
            out["needs"][key(job)] = sorted(key(dep) for dep in dag.dependencies[job])
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
            out["planned"].append(key(job))
            out["params"][key(job)] = dict(job.params.items())
            out["inputs"][key(job)] = sorted(map(str, job.input))
            out["reasons"].setdefault(name, set()).add(kind)
        out["planned"].sort()
        out["reasons"] = {k: sorted(v) for k, v in out["reasons"].items()}
        return out


def main(project: str, configfile: str, results: str, plans_json: str) -> None:
    root = Path(project)
    plans = {}
    for label, texts in json.load(sys.stdin):
        saved = {}
        try:
            for file, text in texts.items():
                path = root / file
                saved[path] = path.stat(), path.read_bytes()
                path.write_text(text)
            plans[label] = plan(root, configfile, results)
        finally:
            for path, (st, old) in saved.items():
                path.write_bytes(old)
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    Path(plans_json).write_text(json.dumps(plans, default=str))


if __name__ == "__main__":
    main(*sys.argv[1:])
