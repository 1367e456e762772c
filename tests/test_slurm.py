"""The workflow on a live SLURM (`.ci/slurm.sh start`) through `profiles/slurm` + `profiles/ci-slurm`.

Skipped unless BERTSCAPE_SLURM=1 and `sinfo` answers. One narrow target (MRPC's fine-tuned surface:
prepare_data x2 local, tokenize x4, train x2, directions, 2 surface shards, local gather) keeps it to
a few minutes on 2 cores. Checks: the jobs really ran as SLURM jobs; the SLURM result equals a local
`--cores 2` run bit for bit; killing one shard's SLURM job fails the run, and the rerun recomputes
that shard only; a train job sent SIGTERM mid-epoch (scancel --signal=TERM) saves its step, fails with one
line, and the profile's retry resumes it to the same checkpoints as a local uninterrupted run.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from bertscape.h5io import read_grid

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
PROFILES = ["--profile", "profiles/slurm", "--workflow-profile", "profiles/ci-slurm"]
TASK, INIT, SHARDS = "MRPC", "finetune", 2  # config/tiny.yaml: grid.shards = 2
TARGET = f"seed7/surfaces/{TASK}/{INIT}.h5"  # config/tiny.yaml: seed 7, the display seed
RUN_TIMEOUT_S = 900  # one snakemake run; the whole module takes ~5-10 min on 2 busy cores


def _why_skip() -> str | None:
    if os.environ.get("BERTSCAPE_SLURM") != "1":
        return "needs a live SLURM: .ci/slurm.sh start, then BERTSCAPE_SLURM=1"
    if shutil.which("sinfo") is None:
        return "BERTSCAPE_SLURM=1 but sinfo is not on PATH"
    try:
        r = subprocess.run(["sinfo", "-h", "-o", "%P %a"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return f"BERTSCAPE_SLURM=1 but sinfo failed: {e}"
    if r.returncode != 0 or " up" not in r.stdout:
        return f"BERTSCAPE_SLURM=1 but sinfo shows no partition up: {(r.stdout + r.stderr).strip()[:300]}"
    return None


WHY_SKIP = _why_skip()
pytestmark = [pytest.mark.slurm, pytest.mark.skipif(WHY_SKIP is not None, reason=str(WHY_SKIP))]


def tree_state() -> dict[str, int]:
    """mtime of every file that decides the results: a run is only comparable to one made from the same tree."""
    files = [REPO / "Snakefile", REPO / "config" / "tiny.yaml"]
    for d in ("src", "workflow", "profiles"):
        files += [f for f in (REPO / d).rglob("*") if f.is_file() and "__pycache__" not in f.parts]
    return {str(f.relative_to(REPO)): f.stat().st_mtime_ns for f in files}


TREE_AT_START = tree_state()


def tree_note() -> str:
    """Appended to comparison failures: edits to the working tree while this module runs change the results."""
    now = tree_state()
    changed = sorted(f for f in TREE_AT_START.keys() | now.keys() if TREE_AT_START.get(f) != now.get(f))
    return f"\nNOTE: files changed while the SLURM tests ran (runs used different code): {changed}" if changed else ""


def _env() -> dict:
    # SLURM jobs inherit this environment (sbatch --export=ALL): the venv's bin first, so the job's
    # snakemake finds the same interpreter and packages even when pytest was started without activation
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def slurm_cmd(work: Path, *extra: str, arrays: bool = False) -> list[str]:
    # the target goes before `extra`: options like --forcerun take any number of values and would swallow it.
    # arrays=False: one SLURM job per shard (profiles/slurm submits shards as arrays; "none" names no rule)
    return [*SNAKEMAKE, *PROFILES, "--configfile", "config/tiny.yaml", "--config", f"results={work / 'slurm'}",
            "--slurm-logdir", str(work / "slurm_logs"), str(work / "slurm" / TARGET),
            *([] if arrays else ["--slurm-array-jobs", "none"]), *extra]


def smk(cmd: list[str], timeout: int = RUN_TIMEOUT_S) -> subprocess.CompletedProcess:
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=_env())
    r.elapsed = time.monotonic() - t0
    r.out = r.stdout + r.stderr
    return r


def job_stats(out: str) -> dict[str, int]:
    """The 'Job stats:' table snakemake prints before running anything: {rule: count}."""
    i = out.find("Job stats:")
    assert i >= 0, f"no 'Job stats:' table in snakemake's output:\n{out[-3000:]}"
    counts = {}
    for line in out[i:].splitlines()[3:]:
        m = re.fullmatch(r"\s*(\w+)\s+(\d+)\s*", line)
        if not m:
            break
        counts[m[1]] = int(m[2])
    return counts


def shard(work: Path, k: int, run: str = "slurm") -> Path:
    return work / run / "seed7" / "surfaces" / TASK / INIT / f"shard{k}.h5"


def slurm_job_id(path: Path) -> str | None:
    return read_grid(path).attrs["provenance"]["slurm_job_id"]


def squeue(*args: str) -> list[str]:
    r = subprocess.run(["squeue", "-h", *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"squeue {' '.join(args)} failed: {r.stderr}"
    return r.stdout.splitlines()


def assert_same_surface(a: Path, b: Path) -> None:
    """Bit-identical grids, anchors included: same engine, same thread count (threads.surface = 1)."""
    ga, gb = read_grid(a), read_grid(b)
    for name in ("alpha", "beta", "done"):
        np.testing.assert_array_equal(getattr(ga, name), getattr(gb, name), err_msg=name)
    assert set(ga.values) == set(gb.values) >= {"train_loss", "dev_error"}
    for metric in ga.values:
        np.testing.assert_array_equal(ga.values[metric], gb.values[metric],
                                      err_msg=f"{metric}: {a} vs {b}{tree_note()}")
    assert set(ga.anchors) == set(gb.anchors) == {"start", "end"}
    for name in ga.anchors:
        assert ga.anchors[name] == gb.anchors[name], f"anchor {name}: {ga.anchors} != {gb.anchors}{tree_note()}"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("slurm_e2e")


@pytest.fixture(scope="module")
def slurm_run(work):
    r = smk(slurm_cmd(work))
    (work / "slurm_run.log").write_text(r.out)
    assert r.returncode == 0, f"SLURM run failed (rc {r.returncode}, {r.elapsed:.0f}s):\n{r.out[-6000:]}"
    return r


@pytest.fixture(scope="module")
def local_run(work):
    r = smk([*SNAKEMAKE, "--configfile", "config/tiny.yaml", "--config", f"results={work / 'local'}",
             "--cores", "2", str(work / "local" / TARGET)])
    (work / "local_run.log").write_text(r.out)
    assert r.returncode == 0, f"local run failed (rc {r.returncode}):\n{r.out[-6000:]}"
    return r


def test_target_runs_as_slurm_jobs(work, slurm_run):
    out = slurm_run.out
    assert job_stats(out) == {"prepare_data": 2, "tokenize": 4, "finetune_init": 1, "train": 2, "directions": 1,
                              "surface_shard": SHARDS, "surface_gather": 1, "total": 13}
    assert re.search(r"SLURM run ID: \S+", out), out[-3000:]
    assert "Falling back to 'sacct'" not in out  # profiles/ci-slurm's squeue status command is in effect
    ids = {}
    for k in range(SHARDS):
        prov = read_grid(shard(work, k)).attrs["provenance"]
        assert prov["rule"] == "surface_shard" and prov["wildcards"]["k"] == str(k)
        jid = prov["slurm_job_id"]
        assert jid is not None and str(jid).isdigit(), f"shard{k} was not computed inside a SLURM job: {jid!r}"
        ids[k] = str(jid)
        # the plugin's per-job log (kept: slurm-keep-successful-logs) and snakemake's own record of the submission
        assert (work / "slurm_logs" / "rule_surface_shard" / f"7_{TASK}_{INIT}_{k}" / f"{jid}.log").is_file()
        assert f"with SLURM jobid {jid} " in out
    assert len(set(ids.values())) == SHARDS, f"shards share a SLURM job: {ids}"
    # slurmctld's view (finished jobs stay listed for MinJobAge=300 s): completed, and tagged with rule and wildcards
    rows = {line.split("|")[0]: line.split("|")[1:] for line in squeue("-t", "all", "-j", ",".join(ids.values()),
                                                                       "-o", "%i|%T|%k")}
    for k, jid in ids.items():
        assert rows.get(jid) == ["COMPLETED", f"rule_surface_shard_wildcards_7_{TASK}_{INIT}_{k}"], rows
    # the gather is a localrule: it ran in snakemake's own process, not in a SLURM job
    merged = read_grid(work / "slurm" / TARGET)
    assert merged.attrs["provenance"]["rule"] == "surface_gather" and merged.attrs["provenance"]["slurm_job_id"] is None
    assert merged.done.all()
    print(f"SLURM run: {slurm_run.elapsed:.0f}s, shard jobs {ids}")


def test_slurm_result_equals_local_run(work, slurm_run, local_run):
    for k in range(SHARDS):
        assert slurm_job_id(shard(work, k, "local")) is None
    assert_same_surface(work / "slurm" / TARGET, work / "local" / TARGET)
    print(f"local run: {local_run.elapsed:.0f}s")


def _wait_for(what: str, check, proc: subprocess.Popen, log: Path, timeout: float, every: float = 0.5):
    """Poll check() until it returns something truthy; fail clearly on timeout or if snakemake exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        if proc.poll() is not None:
            pytest.fail(f"snakemake exited (rc {proc.returncode}) before {what}:\n{log.read_text()[-5000:]}")
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}:\n{log.read_text()[-5000:]}")


def test_killed_shard_is_the_only_job_rerun(work, slurm_run, local_run):
    victim = SHARDS - 1
    before = {k: slurm_job_id(shard(work, k)) for k in range(SHARDS)}
    log = work / "kill_run.log"
    # force both shards of the finished surface to run again; no retries, so the cancelled job fails the run
    cmd = slurm_cmd(work, "--retries", "0", "--forcerun", "surface_shard")
    run_id = killed = None
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, env=_env(), start_new_session=True)
    try:
        planned = _wait_for("the SLURM run ID and the job stats", lambda: re.search(
            r"SLURM run ID: (\S+).*?Job stats:.*?\ntotal\s+\d+", log.read_text(), re.S), proc, log, timeout=180)
        run_id = planned[1]
        forced = {"surface_shard": SHARDS, "surface_gather": 1, "total": SHARDS + 1}
        assert job_stats(planned[0]) == forced, planned[0] + tree_note()
        comment = f"rule_surface_shard_wildcards_7_{TASK}_{INIT}_{victim}"

        def victim_running():
            rows = [line.split("|") for line in squeue("-n", run_id, "-t", "RUNNING", "-o", "%i|%k")]
            return next((jid for jid, c in rows if c == comment), None)

        killed = _wait_for(f"shard{victim}'s SLURM job to be RUNNING", victim_running, proc, log, timeout=300)
        r = subprocess.run(["scancel", killed], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, f"scancel {killed}: {r.stderr}"
        try:
            rc = proc.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"snakemake did not exit {RUN_TIMEOUT_S}s after scancel {killed}:\n{log.read_text()[-5000:]}")
    finally:
        if proc.poll() is None:  # SIGTERM: snakemake cancels its own SLURM jobs and exits
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        if run_id:  # jobs of this run only (the plugin names every job after its run ID)
            subprocess.run(["scancel", "-n", run_id], capture_output=True, timeout=30)
    out = log.read_text()
    assert rc != 0, f"snakemake succeeded although shard{victim}'s job {killed} was cancelled:\n{out[-5000:]}"
    assert f"SLURM-job '{killed}' failed" in out and "CANCELLED" in out, out[-5000:]
    # the surviving shard ran to completion in this run (snakemake waits for running jobs before exiting)
    kept = shard(work, 0)
    assert kept.exists() and slurm_job_id(kept) not in (None, before[0]), "shard0 was not recomputed by the forced run"
    assert not shard(work, victim).exists(), "the cancelled shard left an output behind"
    kept_stat, kept_bytes = kept.stat().st_mtime_ns, kept.read_bytes()

    again = smk(slurm_cmd(work))
    (work / "rerun.log").write_text(again.out)
    assert again.returncode == 0, f"rerun after the cancelled shard failed:\n{again.out[-6000:]}"
    rerun = {"surface_shard": 1, "surface_gather": 1, "total": 2}
    assert job_stats(again.out) == rerun, again.out[-4000:] + tree_note()
    assert kept.stat().st_mtime_ns == kept_stat and kept.read_bytes() == kept_bytes, "the surviving shard was rewritten"
    new_id = slurm_job_id(shard(work, victim))
    assert new_id is not None and new_id not in (killed, before[victim]), new_id
    assert_same_surface(work / "slurm" / TARGET, work / "local" / TARGET)
    print(f"cancelled job {killed}; rerun ({again.elapsed:.0f}s) recomputed shard{victim} as job {new_id}")


# -- a train job sent SIGTERM mid-epoch (time limit / preemption) ------------------------------------------------------

TRAIN_TARGET = f"seed7/train/{TASK}/{INIT}/epochs.tsv"


def _end_run(proc: subprocess.Popen, run_id: str | None) -> None:
    """Whatever happened: snakemake stopped (SIGTERM: it cancels its own SLURM jobs), this run's jobs cancelled."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    if run_id:
        subprocess.run(["scancel", "-n", run_id], capture_output=True, timeout=30)
BIGGER = "data={source: synthetic, synthetic_train: 160, synthetic_dev: 16}"  # 10 steps an epoch: room for a signal


def test_train_job_sigterm_mid_epoch_resumes_to_the_same_checkpoints(work):
    """scancel --signal=TERM (what SLURM's --signal=TERM@S and a preemption send) in the middle of an epoch: the job
    saves its step and fails with one line, the profile's retry resumes it, and the checkpoints equal a local run's."""
    local = smk([*SNAKEMAKE, "--configfile", "config/tiny.yaml", "--config", f"results={work / 'tlocal'}", BIGGER,
                 "--cores", "2", str(work / "tlocal" / TRAIN_TARGET)])
    assert local.returncode == 0, local.out[-5000:]
    run = work / "tslurm"
    log = work / "train_sigterm.log"
    cmd = [*SNAKEMAKE, *PROFILES, "--configfile", "config/tiny.yaml", "--config", f"results={run}", BIGGER,
           "--slurm-logdir", str(work / "tslurm_logs"), str(run / TRAIN_TARGET)]
    state = run / "seed7" / "train" / TASK / INIT / ".resume" / "state.json"
    run_id = None
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, env=_env(), start_new_session=True)
    try:
        run_id = _wait_for("the SLURM run ID", lambda: re.search(r"SLURM run ID: (\S+)", log.read_text()), proc, log,
                           timeout=180)[1]
        comment = f"rule_train_wildcards_7_{TASK}_{INIT}"

        def training():  # epoch 0 (theta0, its evaluation) committed: the job is in epoch 1's steps
            rows = [line.split("|") for line in squeue("-n", run_id, "-t", "RUNNING", "-o", "%i|%k")]
            jid = next((j for j, c in rows if c == comment), None)
            return jid if jid and state.exists() else None

        jid = _wait_for("the train job to be in epoch 1", training, proc, log, timeout=600, every=0.2)
        r = subprocess.run(["scancel", "--signal=TERM", jid], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, f"scancel --signal=TERM {jid}: {r.stderr}"
        rc = proc.wait(timeout=RUN_TIMEOUT_S)
    finally:
        _end_run(proc, run_id)
    out = log.read_text()
    assert rc == 0, f"the retried train job did not finish:\n{out[-6000:]}"
    # the stopped attempt's line is in its SLURM log (Snakemake clears the rule's log when it retries the job)
    job_logs = "".join(p.read_text() for p in sorted((work / "tslurm_logs" / "rule_train").rglob("*.log")))
    stops = [x for x in job_logs.splitlines() if x.startswith("bertscape error:")]
    assert len(stops) == 1 and "SIGTERM received: stopped at a safe point" in stops[0] and "after step" in stops[0], \
        job_logs[-3000:]
    assert "Traceback" not in job_logs
    got = sorted((run / "seed7" / "train" / TASK / INIT / "checkpoints").glob("*.safetensors"))
    want = sorted((work / "tlocal" / "seed7" / "train" / TASK / INIT / "checkpoints").glob("*.safetensors"))
    assert [p.name for p in got] == [p.name for p in want] and got
    from bertscape.io import load_tensors

    for a, b in zip(got, want):
        ta, tb = load_tensors(a), load_tensors(b)
        assert all(torch_equal(ta[k], tb[k]) for k in tb), a.name
    assert not state.parent.exists()
    print(f"train job {jid}: {stops[0]}")


def torch_equal(a, b) -> bool:
    import torch

    return torch.equal(a, b)


def test_shards_as_one_job_array_give_the_same_surface(work, slurm_run, local_run):
    """profiles/slurm's slurm-array-jobs: the forced shards go to SLURM as one array; the surface is unchanged."""
    log = work / "array_run.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(slurm_cmd(work, "--forcerun", "surface_shard", arrays=True), cwd=REPO, stdout=fh,
                                stderr=subprocess.STDOUT, env=_env(), start_new_session=True)
    run_id, seen = None, set()
    try:
        run_id = _wait_for("the SLURM run ID", lambda: re.search(r"SLURM run ID: (\S+)", log.read_text()), proc, log,
                           timeout=180)[1]
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while proc.poll() is None and time.monotonic() < deadline:
            # (the forced run's only SLURM jobs are the shards: the gather is local); a task is <arrayid>_<index>
            seen |= {i for i in squeue("-n", run_id, "-t", "all", "-o", "%i") if re.fullmatch(r"\d+_\d+", i)}
            time.sleep(0.5)
        rc = proc.wait(timeout=60)
    finally:
        _end_run(proc, run_id)
    out = log.read_text()
    assert rc == 0, out[-6000:]
    arrays = {jid.split("_")[0] for jid in seen}
    assert len(seen) == SHARDS and len(arrays) == 1, f"the shards were not one array: {seen}\n{out[-3000:]}"
    assert_same_surface(work / "slurm" / TARGET, work / "local" / TARGET)
    print(f"shards as array {arrays}: tasks {sorted(seen)}")
