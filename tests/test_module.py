"""bertscape as a Snakemake module of another workflow: `module bertscape: snakefile, config` and
`use rule * from bertscape as bertscape_*`, from an outer Snakefile in another directory."""
import json
import os
import subprocess
import sys
from unittest.mock import ANY

import yaml
from conftest import REPO

from bertscape.codeinputs import analyse

OUTER = """\
configfile: "{config}"
config["results"] = "{results}"

module bertscape:
    snakefile: "{snakefile}"
    config: config

use rule * from bertscape as bertscape_*
"""


def test_outer_workflow_uses_every_rule_of_the_module(tmp_path):
    out = tmp_path / "out"
    (tmp_path / "Snakefile").write_text(OUTER.format(config=REPO / "config" / "tiny.yaml", results=out,
                                                     snakefile=REPO / "Snakefile"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the module finds its own library
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")

    def smk(*args):
        r = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", *args], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        return r.stdout + r.stderr

    plan = smk("-n")
    counts = dict(ln.split() for ln in plan[plan.index("Job stats:"):].splitlines()[3:] if len(ln.split()) == 2)
    tiny = yaml.safe_load((REPO / "config" / "tiny.yaml").read_text())
    n_tasks = len(tiny["tasks"])
    long_runs = len(tiny["train"]["long_run"].get("inits", ["finetune", "scratch"]))  # (the schema's default: both)
    assert counts["bertscape_train"] == str(2 * n_tasks + long_runs) and counts["bertscape_all"] == "1"
    assert {"bertscape_surface_shard", "bertscape_view3d", "bertscape_claims", "bertscape_summary"} <= set(counts)
    assert not any(k in counts for k in ("train", "all", "figure"))  # every rule renamed
    # a real job through the module: its library, schema and scripts resolve relative to the module, not here
    rows = out / "data" / "seed7" / "MRPC" / "train.jsonl"
    smk(str(rows))
    rec = json.loads((rows.parent / "train.jsonl.prov.json").read_text())
    assert rec["rule"] == "bertscape_prepare_data" and rec["inputs"]["code"] == {str(out / "sources/code/prepare_data.json"): ANY}
    modules = rec["code"]["identity"]["modules"]  # the module's own library, hashed where it lies
    assert "src/bertscape/data/prepare.py" in modules
    assert all(analyse((REPO / m).read_text()).digest == h for m, h in modules.items())
    assert len(rows.read_text().splitlines()) == tiny["data"]["synthetic_train"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".snakemake", "Snakefile", "out"]
