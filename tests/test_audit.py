"""`bertscape audit`'s text view on a small hand-made lineage: every artifact once, sources grouped, a short
hash on every node, --depth, and no traceback on a closed pipe or a bad path."""
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

from bertscape.audit import combined_hash, render
from bertscape.cli import main as cli
from bertscape.provenance import sha256_path

MODEL = {"kind": "package", "name": "embedded:pkg", "package": "pkg", "version": "1.2.3",
         "files": {"config.json": "a" * 64, "model.safetensors": "b" * 64}}
DATA = {"source": "synthetic", "synthetic_train": 32, "synthetic_dev": 16, "seed": 7, "max_train": None}


def artifact(path, rule, inputs=(), sources=None, **wildcards):
    path.write_text(f"{rule} {wildcards}\n")
    recorded = {}
    for role, files in inputs:
        recorded[role] = {str(f): sha256_path(f) for f in files}
    (path.parent / (path.name + ".prov.json")).write_text(json.dumps(
        {"rule": rule, "wildcards": wildcards, "inputs": recorded, "sources": sources or {}}))
    return path


@pytest.fixture
def lineage(tmp_path):
    """fig <- (surface A, surface B); both surfaces <- ckpt (shared) <- data; every trained node reads 2 model files."""
    model = [tmp_path / "config.json", tmp_path / "vocab.txt"]
    for m in model:
        m.write_text("{}")
    data = artifact(tmp_path / "train.jsonl", "prepare_data", sources={"data": DATA}, task="MRPC")
    ckpt = artifact(tmp_path / "epoch1.safetensors", "train", [("train", [data]), ("model", model)],
                    {"model": MODEL}, task="MRPC", init="finetune")
    sa = artifact(tmp_path / "a.h5", "surface_gather", [("ckpts", [ckpt]), ("model", model)], task="MRPC", init="finetune")
    sb = artifact(tmp_path / "b.h5", "surface_gather", [("ckpts", [ckpt]), ("model", model)], task="MRPC", init="scratch")
    fig = artifact(tmp_path / "fig1.png", "figure", [("data", [sa, sb])], fig="fig1")
    return {"fig": fig, "ckpt": ckpt, "data": data, "model": model}


def test_every_artifact_once_sources_grouped_and_hashed(lineage):
    text = render([lineage["fig"]])
    lines = text.splitlines()
    assert lines[0] == f"under {lineage['fig'].parent}/:"  # paths below are relative to it
    assert sum(" epoch1.safetensors " in ln + " " for ln in lines) == 2  # printed once, referenced once more
    first = next(ln for ln in lines if " epoch1.safetensors " in ln)
    n = first.split("[")[1].split("]")[0]
    assert first.endswith("reads model pkg@1.2.3")
    assert any(ln.strip() == f"ckpts: epoch1.safetensors  -> see [{n}]" for ln in lines)
    assert not any(m.name in text for m in lineage["model"])  # model files are not listed under every node
    nodes = [ln for ln in lines[1:] if "sha256" in ln and not ln.startswith("  ")] + \
        [ln for ln in lines if ln.startswith("  ") and "] " in ln and "sha256" in ln and ": [" in ln]
    assert len(nodes) == 5 and all(len(ln.split("sha256 ")[1].split()[0]) == 12 for ln in nodes)
    fig_sha = combined_hash(sha256_path(lineage["fig"]))[:12]
    assert lines[1] == f"[1] fig1.png  [figure fig=fig1]  sha256 {fig_sha}"
    src = lines[lines.index("sources:") + 1:]
    assert src[0].startswith("  data: synthetic synthetic_train=32 synthetic_dev=16 seed=7  sha256 ")
    assert src[0].endswith(" (recorded identity)") and len(src) == 2
    assert src[1] == f"  model: pkg@1.2.3  sha256 {combined_hash(MODEL['files'])[:12]} (2 weight/config files)"


def test_depth_cuts_the_tree_and_counts_what_it_cut(lineage):
    text = render([lineage["fig"]], depth=1)
    assert "train.jsonl" not in text and "epoch1" not in text
    cut = [ln.strip() for ln in text.splitlines() if "more artifact(s) below" in ln]
    assert cut == ["... 2 more artifact(s) below (--depth 2 or more shows them)",  # a.h5: the checkpoint and its data
                   "... 1 more artifact(s) below (--depth 2 or more shows them)"]  # b.h5: the checkpoint (its data: above)
    assert render([lineage["fig"]], depth=0).splitlines()[2].strip().startswith("... 4 more artifact(s)")


def _cli(*args, **kw):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-m", "bertscape.cli", *args], capture_output=True, text=True, env=env, **kw)


def test_closed_pipe_and_bad_paths_are_not_tracebacks(lineage, tmp_path):
    big = [str(lineage["fig"])] * 1  # --json of a lineage is longer than a pipe buffer once repeated
    for flags in (["--json"], [], ["--prov"]):
        p = subprocess.Popen(f"{sys.executable} -m bertscape.cli audit {' '.join(flags)} {' '.join(big * 400)} | head -1",
                             shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO / "src")})
        out, err = p.communicate(timeout=120)
        assert out and "Traceback" not in err and "BrokenPipe" not in err, (flags, err[-2000:])
    r = _cli("audit", str(tmp_path / "nope.png"))
    assert r.returncode == 2 and r.stderr.strip() == f"bertscape: no such file or directory: {tmp_path / 'nope.png'}"
    (tmp_path / "bad.png").write_text("x")
    (tmp_path / "bad.png.prov.json").write_text("{not json")
    r = _cli("audit", str(tmp_path / "bad.png"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert cli(["audit", "--depth", "-1", str(lineage["fig"])]) == 2
    r = _cli("validate", str(tmp_path / "missing.yaml"))
    assert r.returncode != 0 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
