"""Control runs (config ``controls``, issue 26): validation, the plan (each control's per-run jobs per seed, on the
other init's schedule), the claims layer (a control's rows beside the measure, never in a headline) and a tiny run
whose control rows appear in the claims."""
import json
import os
import subprocess
import sys
from collections import Counter

import pytest
import yaml
from conftest import LIGHT, REPO, TINY
from conftest import tiny_with as with_

from bertscape import BertscapeError
from bertscape import evidence as E
from bertscape.claims import lookup
from bertscape.config import epochs, train_params, validate
from bertscape.controls import CONTROLS, as_pair, present, split_measure, tag
from bertscape.h5io import read_grid
from bertscape.imported import no_history

BOTH = ["scratch_matched", "finetune_matched"]
# the per-run stages a control gets (its directions job, directions_control, writes no norm table)
PER_RUN = {"train", "directions_control", "trajectory", "curve", "sharpness", "points"}


# ---------------------------------------------------------------- config

@pytest.mark.parametrize("value, key", [
    (["bogus"], "controls.0"),
    (["scratch_matched", "bogus"], "controls.1"),
    ("scratch_matched", "controls"),
    (["scratch_matched", "scratch_matched"], "controls"),
    (True, "controls"),
])
def test_a_bad_controls_value_is_one_line_naming_the_key(value, key):
    with pytest.raises(BertscapeError) as e:
        validate(with_(controls=value))
    assert str(e.value).startswith(f"config key {key}:") and "\n" not in str(e.value)


def test_the_workflow_refuses_a_bad_control_before_any_job(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(with_(controls=["matched"], results=str(tmp_path / "out"))))
    r = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", str(tmp_path / "c.yaml"), "--cores",
                        "1"], cwd=REPO, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("bertscape:")]
    assert r.returncode != 0 and len(lines) == 1 and "config key controls.0" in lines[0], r.stderr[-2000:]
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()


def test_defaults_are_off_and_a_control_trains_on_the_other_schedule():
    assert validate(with_())["controls"] == []
    assert yaml.safe_load((REPO / "config.yaml").read_text()).get("controls", []) == []
    c = validate(with_(controls=BOTH))
    ft, sc = train_params(c, "MNLI", "finetune", 7), train_params(c, "MNLI", "scratch", 7)
    assert (ft["lr"], ft["epochs"], sc["lr"], sc["epochs"]) == (5e-5, 2, 3e-4, 1)
    assert train_params(c, "MNLI", "scratch_matched", 7) == ft  # everything else equal too (batch, seed, ...)
    assert train_params(c, "MNLI", "finetune_matched", 7) == sc
    assert epochs(c, "MNLI", "scratch_matched") == 2 and epochs(c, "MNLI", "finetune_matched") == 1


# ---------------------------------------------------------------- the plan

@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    """The tiny DAG (nothing built) over two seeds without and with both controls, planned by tests/replan.py."""
    tmp = tmp_path_factory.mktemp("plans")
    cfg, out = tmp / "c.yaml", tmp / "plans.json"
    cfg.write_text(yaml.safe_dump(TINY))
    edits = [[label, {str(cfg): yaml.safe_dump(with_(seeds=[7, 8], **keys))}]
             for label, keys in {"off": {}, "on": {"controls": BOTH},
                                 "on_no_power": {"controls": BOTH, "claims": {"hessian": {"enabled": False}}}}.items()]
    r = subprocess.run([sys.executable, str(REPO / "tests" / "replan.py"), str(REPO), str(cfg), str(tmp / "results"),
                        str(out)], input=json.dumps(edits), capture_output=True, text=True, timeout=600,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=REPO)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    return json.loads(out.read_text())


def jobs(plan) -> list[tuple[str, dict, str]]:
    return [(rule, dict(w.split("=", 1) for w in wc), key) for key in plan["planned"]
            for rule, *wc in [key.split()]]


def test_each_control_adds_its_per_run_jobs_to_every_seed_and_nothing_else(plans):
    off, on = jobs(plans["off"]), jobs(plans["on"])
    assert not [k for _, wc, k in off if wc.get("init") in CONTROLS]
    extra = Counter(r for r, _, _ in on) - Counter(r for r, _, _ in off)
    tasks = len(TINY["tasks"])
    assert extra == Counter({r: 2 * len(BOTH) * tasks for r in PER_RUN})  # 2 seeds x 2 controls x 2 tasks
    for seed in ("7", "8"):
        for c in BOTH:
            mine = Counter(r for r, wc, _ in on if wc.get("seed") == seed and wc.get("init") == c)
            assert mine == Counter({r: tasks for r in PER_RUN})  # no full surface, figure or view of its own


def test_without_the_power_iteration_a_control_gets_no_sharpness_job(plans):
    """A control's rows read only the power iteration's curvature (bertscape.claims.contrasts), so with it off the
    control runs skip the sharpness job (the flatness record: ~40 s a run at the embedded settings); the main runs
    keep theirs."""
    on = jobs(plans["on_no_power"])
    sharp = Counter(wc["init"] for r, wc, _ in on if r == "sharpness")
    assert sharp == Counter({"finetune": 2 * len(TINY["tasks"]), "scratch": 2 * len(TINY["tasks"])})
    per_control = Counter(r for r, wc, _ in on if wc.get("init") == BOTH[0])
    assert per_control == Counter({r: 2 * len(TINY["tasks"]) for r in PER_RUN - {"sharpness"}})


def test_a_control_starts_from_its_theta0_and_trains_on_the_other_schedule(plans):
    p = plans["on"]
    for seed in ("7", "8"):
        for task, t in TINY["tasks"].items():
            key = lambda init: f"train init={init} seed={seed} task={task}"
            sm, fm = p["params"][key("scratch_matched")]["spec"], p["params"][key("finetune_matched")]["spec"]
            assert (sm["lr"], sm["epochs"]) == (t["lr"], t["epochs_finetune"])
            assert (fm["lr"], fm["epochs"]) == (t["scratch_lr"], t["epochs_scratch"])
            assert sm == p["params"][key("finetune")]["spec"] and fm == p["params"][key("scratch")]["spec"]
            assert sm["seed"] == int(seed)
            assert f"scratch_init seed={seed}" in p["needs"][key("scratch_matched")]  # the seed's scratch theta0
            assert "finetune_init" in p["needs"][key("finetune_matched")]  # the shared pre-trained theta0
            assert not any(n.startswith("scratch_init") for n in p["needs"][key("finetune_matched")])
        claims = p["needs"][f"claims_seed seed={seed}"]
        assert {f"points init={c} seed={seed} task={t}" for c in BOTH for t in TINY["tasks"]} <= set(claims)
        for task in TINY["tasks"]:  # a control's points: C1's region alone (no C4 window); the main runs' have both
            pts = lambda init: p["params"][f"points init={init} seed={seed} task={task}"]
            assert all(pts(c)["window"] is None and pts(c)["theta1"] is None for c in BOTH)
            dev_in = lambda init: any("dev.tokens" in n
                                      for n in p["inputs"][f"points init={init} seed={seed} task={task}"])
            assert dev_in("finetune") and not any(dev_in(c) for c in BOTH)
            assert pts("finetune")["window"] is not None and pts("finetune")["theta1"] is not None


# ---------------------------------------------------------------- claims over seeds

def _row(measure: str, ft: float, sc: float, task: str = "MRPC") -> dict:
    return {"claim": "C2", "measure": measure, "task": task, "criterion": "cos after epoch 1: finetune > scratch",
            "holds": ft > sc, "reason": "", "values": {"finetune": {"cos_epoch1": ft, "max_d_beta": 0.0},
                                                     "scratch": {"cos_epoch1": sc, "max_d_beta": 0.0}}}


def test_a_control_row_is_decided_beside_its_measure_and_never_in_the_headline():
    cl = validate(with_())["claims"]
    # fine-tune beats scratch on every task and seed, but not the schedule-matched scratch run
    docs = {s: {"claims": [_row("direction_epoch1", 0.9, 0.1, t) for t in ("MRPC", "RTE", "SST-2")]
                + tag([_row("direction_epoch1", 0.1, 0.9, t) for t in ("MRPC", "RTE", "SST-2")], "scratch_matched")}
            for s in (1, 2, 3)}
    doc = E.aggregate(docs, cl, 1)
    pooled = [r for r in doc["decisions"] if r["scope"] == E.POOLED]
    assert [r["measure"] for r in pooled] == ["direction_epoch1", "direction_epoch1@scratch_matched"]
    assert [r["verdict"] for r in pooled] == ["holds", "does not hold"]
    (head,) = doc["headlines"]
    assert head["verdict"] == "holds" and head["measures"] == ["direction_epoch1"]
    assert "| C2 | direction_epoch1@scratch_matched | does not hold |" in E.markdown(doc)
    rows = E.flat_rows(doc["decisions"])
    assert all(r["criterion"].startswith("[finetune vs scratch_matched]") for r in rows if "@" in r["measure"])


def test_control_names_and_roles():
    assert lookup("C1", "basin_area_2d@finetune_matched") is lookup("C1", "basin_area_2d")
    assert split_measure("basin_area_2d@scratch_matched") == ("basin_area_2d", "scratch_matched")
    with pytest.raises(KeyError):
        lookup("C1", "basin_area_2d@bogus")
    d = {(t, i): f"{t}/{i}" for t in ("A", "B") for i in ("finetune", "scratch", "long", *BOTH)}
    assert as_pair(d, "scratch_matched") == {("A", "finetune"): "A/finetune", ("B", "finetune"): "B/finetune",
                                             ("A", "scratch"): "A/scratch_matched", ("B", "scratch"): "B/scratch_matched"}
    assert as_pair(d, "finetune_matched")[("A", "finetune")] == "A/finetune_matched"
    assert present(d) == BOTH and present({("A", "finetune"): 1}) == []
    # an imported fine-tuned checkpoint has no history: the scratch_matched contrast of its C2 rows is n/a too
    rows = tag([{"claim": "C2", "measure": "epochs_to_loss", "task": "A", "criterion": "", "holds": True}],
               "scratch_matched") + tag([{"claim": "C2", "measure": "epochs_to_loss", "task": "A", "criterion": "",
                                          "holds": True}], "finetune_matched")
    out = no_history(rows, ["A/finetune"], None)
    assert out[0]["holds"] is None and "A/finetune" in out[0]["reason"] and out[1]["holds"] is True


# ---------------------------------------------------------------- end to end

@pytest.mark.slow
def test_a_tiny_run_with_a_control_writes_its_rows(tmp_path):
    """One seed's claims with scratch_matched (no figures, views or full surfaces): its C1/C2 rows and its
    preconditions are there, next to the main ones."""
    out, cfg = tmp_path / "tiny", tmp_path / "c.yaml"
    rows_json = out / "seed7" / "claims" / "rows.json"
    # the tiny config without what no control row reads (layers, the long runs, the flatness record, filter-normalised
    # curves) and on the smallest grid: the control's C1/C2 rows need only its points, curve, sharpness and history
    cfg.write_text(yaml.safe_dump(with_(**LIGHT, controls=["scratch_matched"], train={"long_run": {"task": None}})))
    r = subprocess.run([sys.executable, "-m", "snakemake", "--configfile", str(cfg), "--config",
                        f"results={out}", "--cores", "2", str(out / "claims" / "claims.json")],
                       cwd=REPO, capture_output=True, text=True, timeout=1800, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    doc = json.loads(rows_json.read_text())
    main = {(x["claim"], x["measure"], x["task"]) for x in doc["claims"] if x["claim"] in ("C1", "C2")}
    ctl = {(x["claim"], x["measure"], x["task"]) for x in doc["claims"] if x["measure"].endswith("@scratch_matched")}
    # the main comparison's C1/C2 rows that bertscape.claims.contrasts recomputes (areas, widths, power-iteration
    # sharpness, epochs to loss, path ascent, direction), one per task, and no measure the main rows lack
    base = {"basin_area_2d", "basin_width_1d", "hessian_top_eigenvalue", "epochs_to_loss", "path_ascent",
            "direction_epoch1"}
    assert ctl == {(c, f"{m}@scratch_matched", t) for c, m, t in main if m in base}
    assert {m.split("@")[0] for _, m, _ in ctl} == base
    assert {c["init"] for c in doc["preconditions"]} == {"finetune", "scratch", "scratch_matched"}
    epochs_tsv = (out / "seed7" / "train" / "MNLI" / "scratch_matched" / "epochs.tsv").read_text().splitlines()
    assert int(epochs_tsv[-1].split("\t")[0]) == TINY["tasks"]["MNLI"]["epochs_finetune"]  # scratch's own: 1 epoch
    for task in TINY["tasks"]:  # a control's directions job writes its stats but no norm table (no claim reads it)
        assert (out / "seed7" / "directions" / task / "scratch_matched.json").is_file()
        assert not (out / "seed7" / "norms" / task / "scratch_matched.json").exists()
        assert all((out / "seed7" / "norms" / task / f"{i}.json").is_file() for i in ("finetune", "scratch"))
        # its points are C1's region alone: no C4 window, nothing on the dev set (the main runs' windows have both)
        points = {i: read_grid(out / "seed7" / "points" / task / f"{i}.h5").attrs
                  for i in ("finetune", "scratch_matched")}
        assert points["scratch_matched"]["points_dev_nodes"] == 0 < points["finetune"]["points_dev_nodes"]
        assert points["scratch_matched"]["n_dev"] == 0
        # one dense_path job drew every main run's path (none of a control's), each from its own run's weights:
        # its ends are that run's theta0 and theta1, which the run's curve evaluated too
        assert not (out / "seed7" / "paths" / task / "scratch_matched.h5").exists()
        for init in ("finetune", "scratch"):
            path, curve = (read_grid(out / "seed7" / d / task / f"{init}.h5") for d in ("paths", "curves"))
            assert path.attrs["run_inputs"]["ckpts"].endswith(f"seed7/train/{task}/{init}/checkpoints")
            for end in ("start", "end"):
                assert path.anchors[end]["train_loss"] == pytest.approx(curve.anchors[end]["train_loss"], abs=1e-6)
    claims = json.loads((out / "claims" / "claims.json").read_text())
    assert any(d["measure"] == "basin_area_2d@scratch_matched" for d in claims["decisions"])


def test_the_estimate_counts_a_control_s_runs_but_no_surface_of_it():
    from bertscape.estimate import disk, estimate

    off, on = validate(with_()), validate(with_(controls=["scratch_matched"]))
    gpu = [{x.rule: x for x in estimate(c, arch=(6, 384, 1536))} for c in (off, on)]
    assert gpu[1]["train"].jobs == gpu[0]["train"].jobs + len(TINY["tasks"])
    assert gpu[1]["curve"].jobs == gpu[0]["curve"].jobs + len(TINY["tasks"])
    # a control's points: C1's region on the training subset alone, no C4 window on the dev set
    per_run = lambda rule: gpu[0][rule].pflop / gpu[0][rule].jobs
    assert gpu[1]["points"].jobs == gpu[0]["points"].jobs + len(TINY["tasks"])
    assert 0 < gpu[1]["points"].pflop - gpu[0]["points"].pflop < len(TINY["tasks"]) * per_run("points")
    assert gpu[1]["surface_shard"] == gpu[0]["surface_shard"]
    d = [{x.rule: x for x in disk(c, arch=(6, 384, 1536))} for c in (off, on)]
    assert d[1]["train"].bytes > d[0]["train"].bytes and d[1]["surface_gather"] == d[0]["surface_gather"]
