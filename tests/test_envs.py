"""envs/*.yaml (conda, one per family of rules) pin what pyproject.toml pins, and every rule that runs a job has one."""
import re
import tomllib

import yaml
from conftest import REPO
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

CONDA_NAME = {"torch": "pytorch"}  # PyPI name -> conda-forge name where they differ
HEAD_NODE_ONLY = {"snakemake-executor-plugin-slurm"}  # the executor runs where snakemake runs, never in a job


def pyproject_pins() -> dict[str, SpecifierSet]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return {CONDA_NAME.get(r.name, r.name): r.specifier for r in map(Requirement, deps)}


def env_pins(path) -> dict[str, SpecifierSet]:
    doc = yaml.safe_load(path.read_text())
    out = {}
    for dep in doc["dependencies"]:
        for spec in dep["pip"] if isinstance(dep, dict) else [dep]:
            m = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", spec.strip())
            out[m.group(1).lower()] = SpecifierSet(m.group(2).replace(" ", ""))
    return out


def test_env_files_pin_exactly_what_pyproject_pins():
    pins = pyproject_pins()
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert [p.name for p in envs] == ["plot.yaml", "torch.yaml"]
    covered = set()
    for path in envs:
        for name, spec in env_pins(path).items():
            if name in ("python", "pip"):
                continue
            assert name in pins, f"{path.name}: {name} is not a dependency in pyproject.toml"
            assert spec == pins[name], f"{path.name}: {name}{spec} but pyproject.toml pins {name}{pins[name]}"
            covered.add(name)
    assert set(pins) - covered == HEAD_NODE_ONLY, "pyproject dependencies in no env file"
    assert "pytorch" not in env_pins(REPO / "envs" / "plot.yaml")  # light jobs stay light


def test_every_rule_that_runs_a_job_has_a_conda_env():
    files = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    rules = 0
    for f in files:
        for block in re.split(r"\n(?=rule \w+:)", f.read_text())[1:]:
            name = re.match(r"rule (\w+):", block).group(1)
            body = re.split(r"\n(?=\S)", block)[0]
            if not re.search(r"\n    (script|shell|run|notebook|wrapper):", body):
                continue  # rule all: no job
            rules += 1
            env = re.search(r'\n    conda:\n        "([^"]+)"', body)
            assert env, f"{f.name}: rule {name} has no conda: env"
            assert (f.parent / env.group(1)).resolve().is_file(), f"rule {name}: {env.group(1)} does not exist"
    assert rules >= 20
