"""The workflow by Snakemake's own standards: `snakemake --lint` finds nothing (paper and embedded configs),
and the Snakefile and rule files are snakefmt-formatted (`snakefmt Snakefile workflow/rules` fixes that)."""
import os
import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.parametrize("configfile", ["config.yaml", "config/embedded.yaml"])
def test_snakemake_lint_finds_nothing(configfile):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--configfile", configfile], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "Lints for" not in out, out[-4000:]


def test_snakefmt_check_passes():
    files = ["Snakefile", *sorted(str(p.relative_to(REPO)) for p in (REPO / "workflow" / "rules").glob("*.smk"))]
    r = subprocess.run([sys.executable, "-m", "snakefmt", "--check", *files], cwd=REPO, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, f"run `snakefmt Snakefile workflow/rules` to format:\n{(r.stdout + r.stderr)[-3000:]}"
