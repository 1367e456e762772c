"""Seeds (issue 24): the config's seeds, data seed and display seed; a DAG in which an extra seed adds only its
per-seed jobs (no full surface, layer surface, view or figure of its own once the claims read a cheaper lattice);
a seed's per-seed outputs bit-identical whether it runs alone or with other seeds."""
import copy
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import LIGHT, REPO, TINY
from conftest import tiny_with as with_

from bertscape import BertscapeError
from bertscape.config import data_seed, validate


@pytest.mark.parametrize("keys, key", [
    ({"seeds": 0}, "seeds"),
    ({"seeds": -2}, "seeds"),
    ({"seeds": [7, 8, 7]}, "seeds"),
    ({"seeds": []}, "seeds"),
    ({"seeds": [7, -1]}, "seeds.1"),
    ({"seeds": [7, 1.5]}, "seeds.1"),
    ({"seeds": "many"}, "seeds"),
    ({"seeds": True}, "seeds"),
    ({"seeds": [7, 8], "display_seed": 9}, "display_seed"),
    ({"display_seed": 8}, "display_seed"),  # seeds absent: the only seed is `seed` (7)
    ({"seeds": 3, "display_seed": 6}, "display_seed"),  # a count runs 7, 8, 9
    ({"display_seed": -1}, "display_seed"),
    ({"data_seed": -1}, "data_seed"),
    ({"data_seed": "shared"}, "data_seed"),
])
def test_bad_seeds_are_one_line_naming_the_key(keys, key):
    with pytest.raises(BertscapeError) as e:
        validate(with_(**keys))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"config key {key}:"), msg


@pytest.mark.parametrize("keys, seeds, display", [
    ({}, [7], 7),  # absent: the single seed of today
    ({"seeds": 1}, [7], 7),
    ({"seeds": 3}, [7, 8, 9], 7),  # a count starts at `seed`, which stays the display seed
    ({"seeds": 3, "display_seed": 9}, [7, 8, 9], 9),
    ({"seeds": [44, 0, 42]}, [44, 0, 42], 44),  # a list keeps its order; display: its first
    ({"seeds": ["3", "4"]}, [3, 4], 3),  # --config seeds=[3,4] arrives as strings (Snakemake's YAML BaseLoader)
    ({"seeds": "2"}, [7, 8], 7),
])
def test_seeds_become_a_list_and_a_display_seed(keys, seeds, display):
    c = validate(with_(**keys))
    assert c["seeds"] == seeds and c["display_seed"] == display
    assert validate(copy.deepcopy(c)) == c  # validating the result again changes nothing


def test_data_seed_shares_one_seed_s_data():
    own, shared = validate(with_(seeds=2)), validate(with_(seeds=2, data_seed=7))
    assert [data_seed(own, s) for s in own["seeds"]] == [7, 8]
    assert [data_seed(shared, s) for s in shared["seeds"]] == [7, 7]


def test_estimate_counts_every_seed_and_the_data_once_per_data_seed():
    from bertscape.estimate import disk, estimate

    one, three = validate(with_()), validate(with_(seeds=3))
    shared = validate(with_(seeds=3, data_seed=8))
    for c in (one, three, shared):
        c["model"]["name"] = "bert-base-cased"
    gpu = [{x.rule: x for x in estimate(c)} for c in (one, three)]
    assert gpu[1]["train"].jobs == 3 * gpu[0]["train"].jobs and gpu[1]["train"].pflop == 3 * gpu[0]["train"].pflop
    d1, d3, ds = ({x.rule: x for x in disk(c)} for c in (one, three, shared))
    assert d3["scratch_init"].bytes == 3 * d1["scratch_init"].bytes and d3["finetune_init"] == d1["finetune_init"]
    assert d3["tokenize"].files == 3 * d1["tokenize"].files and ds["tokenize"] == d1["tokenize"]
    assert ds["train"] == d3["train"]


# ---------------------------------------------------------------- the plan


def plans_of(tmp_path: Path, configs: dict[str, dict]) -> dict[str, list[tuple[str, dict]]]:
    """Every job of the tiny config's DAG (nothing built yet) as (rule, wildcards), for each of several settings,
    planned in one process by tests/replan.py (each an edit of one config file)."""
    cfg, out = tmp_path / "c.yaml", tmp_path / "plans.json"
    cfg.write_text(yaml.safe_dump(TINY))
    edits = [[label, {str(cfg): yaml.safe_dump(with_(**keys))}] for label, keys in configs.items()]
    r = subprocess.run([sys.executable, str(REPO / "tests" / "replan.py"), str(REPO), str(cfg),
                        str(tmp_path / "results"), str(out)], input=json.dumps(edits), capture_output=True,
                       text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=REPO)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    plans = {}
    for label, p in json.loads(out.read_text()).items():
        plans[label] = [(rule, dict(w.split("=", 1) for w in wc)) for rule, *wc in map(str.split, p["planned"])]
    return plans


def per_seed(jobs, seed: str) -> Counter:
    return Counter(rule for rule, wc in jobs if wc.get("seed") == seed)


# What every seed runs (tiny: MNLI and MRPC, both inits, MRPC's two long runs, layers and rollback on MRPC's tasks)
EVERY_SEED = {"prepare_data": 2, "tokenize": 4, "scratch_init": 1, "train": 6, "directions": 4, "trajectory": 5,
              "curve": 4, "dense_path": 1, "sharpness": 4, "filter_curves": 4, "rollback": 2, "points": 4,
              "layer_anchors": 3, "layer_transfer": 1,
              "claims_seed": 1}
FULL_GRIDS = {"surface_shard", "surface_gather", "layer_shard", "layer_gather"}


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    return plans_of(tmp_path_factory.mktemp("plans"), {"one": {"seeds": [7]}, "two": {"seeds": [7, 8], "display_seed": 7},
                                                       "shared": {"seeds": [7, 8], "data_seed": 7}})


def test_an_extra_seed_adds_only_its_own_per_seed_jobs(plans):
    one, two = plans["one"], plans["two"]
    assert per_seed(two, "7") == per_seed(one, "7")  # the display seed's jobs do not change
    extra = per_seed(two, "8")
    assert {r: extra[r] for r in EVERY_SEED} == EVERY_SEED
    # nothing drawn for it: views, VTK, figures and Table 1 are the display seed's (they name no seed)
    seedless = lambda jobs: Counter(r for r, wc in jobs if "seed" not in wc and r not in ("claims", "seed_barrier"))
    assert seedless(two) == seedless(one)
    assert {"view3d", "vtk_export", "figure", "table1"} <= set(seedless(one))
    assert all(wc.get("seed") in (None, "7") for r, wc in two if r in ("view3d", "vtk_export", "figure"))
    # no full grid for the extra seed: its claims read its points grids and layer anchors (claims_grids)
    assert not set(extra) & FULL_GRIDS and set(extra) == set(EVERY_SEED)
    assert all(per_seed(two, "7")[r] for r in FULL_GRIDS)  # the display seed draws them


def test_a_shared_data_seed_prepares_the_data_once(plans):
    shared = plans["shared"]
    assert "prepare_data" not in per_seed(shared, "8") and "tokenize" not in per_seed(shared, "8")
    assert per_seed(shared, "7")["prepare_data"] == 2 and per_seed(shared, "8")["train"] == 6


def test_the_cross_seed_path_is_planned_only_with_two_seeds(plans):
    """rule seed_barrier: one job per task and init for each pair of consecutive seeds, none with one seed."""
    assert not [1 for r, _ in plans["one"] if r == "seed_barrier"]
    jobs = sorted((wc["task"], wc["init"], wc["seed_a"], wc["seed_b"]) for r, wc in plans["two"] if r == "seed_barrier")
    assert jobs == sorted((t, i, "7", "8") for t in TINY["tasks"] for i in ("finetune", "scratch"))


def test_an_extra_seed_has_no_full_surface_job(plans):
    assert not FULL_GRIDS & set(per_seed(plans["two"], "8"))


def test_filter_directions_run_per_seed_and_their_2d_surface_for_the_display_seed_only(plans):
    """Issue 25: the K filter-normalised curves are C1 rows, so every seed runs them for every run; the 2D
    filter-normalised surface is drawn (fig1_filter_surfaces), so only the display seed computes it."""
    two = plans["two"]
    assert per_seed(two, "7")["filter_curves"] == per_seed(two, "8")["filter_curves"] == 4
    assert per_seed(two, "7")["filter_surface"] == 4 and per_seed(two, "8")["filter_surface"] == 0
    assert ("figure", {"fig": "fig1_filter_surfaces"}) in two


# ---------------------------------------------------------------- alone or with others


def numeric_outputs(run: Path) -> dict[str, bytes]:
    """Every number a seed's jobs wrote, as bytes by path under seed<s>/: TSV files, HDF5 datasets (dtype, shape,
    raw bytes: NaN compares as itself), safetensors tensors (the same), and the claim rows (rows.json without its
    provenance). Not compared: provenance records (the job's start time, host, command line: in HDF5 and safetensors
    metadata, .prov.json sidecars), logs and benchmarks (outside seed<s>/)."""
    import h5py
    import torch
    from safetensors.torch import load_file

    raw = lambda a: (f"{a.dtype} {a.shape} ".encode()  # strings (object arrays) by value, not by pointer
                     + (repr(a.tolist()).encode() if a.dtype == object else a.tobytes()))
    out = {}
    for p in sorted(run.rglob("*")):
        rel = str(p.relative_to(run))
        if p.suffix == ".tsv":
            out[rel] = p.read_bytes()
        elif p.suffix == ".h5":
            with h5py.File(p, "r") as f:
                f.visititems(lambda name, d: out.__setitem__(f"{rel}:{name}", raw(np.asarray(d[()])))
                             if isinstance(d, h5py.Dataset) else None)
        elif p.suffix == ".safetensors":
            for k, t in load_file(p).items():
                out[f"{rel}:{k}"] = f"{t.dtype} ".encode() + raw(t.contiguous().view(torch.uint8).numpy())
        elif p.name == "rows.json":
            out[rel] = json.dumps({k: v for k, v in json.loads(p.read_text()).items() if k != "provenance"},
                                  sort_keys=True).encode()
    return out


@pytest.mark.slow
def test_a_seed_s_outputs_are_the_same_alone_or_with_other_seeds(tmp_path):
    """Seed 7 alone and seed 7 beside seed 8 (display 7), each in its own results folder: the same bits in every
    per-seed numeric output of seed 7, and seed 8's differ from them (its own data, theta0 and order)."""
    # the lightest per-seed DAG (conftest.LIGHT; with the curvature and filter-normalised measures this test took
    # 11 min), without the power iteration either
    small = {**LIGHT, "train": {"long_run": {"task": "MRPC", "extra_epochs": 1, "inits": ["finetune"]}},
             "claims": {"hessian": {"enabled": False}}}
    runs = {}
    for name, seeds in (("alone", [7]), ("with", [7, 8])):
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(yaml.safe_dump(with_(**small, seeds=seeds, display_seed=7)))
        results = tmp_path / name
        targets = [str(results / f"seed{s}" / "claims" / "rows.json") for s in seeds]
        r = subprocess.run([sys.executable, "-m", "snakemake", "--configfile", str(cfg), "--config",
                            f"results={results}", "--cores", "2", *targets], cwd=REPO, capture_output=True, text=True,
                           timeout=1800, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        runs[name] = results
    alone, both = numeric_outputs(runs["alone"] / "seed7"), numeric_outputs(runs["with"] / "seed7")
    assert alone.keys() == both.keys() and any(".h5:" in k for k in alone) and any(".safetensors:" in k for k in alone)
    assert [k for k in alone if alone[k] != both[k]] == []
    other = numeric_outputs(runs["with"] / "seed8")  # the same outputs but the display seed's full surfaces
    assert other.keys() == {k for k in alone if not k.startswith("surfaces/")} and any("points/" in k for k in other)
    assert other["train/MRPC/finetune/epochs.tsv"] != alone["train/MRPC/finetune/epochs.tsv"]


# ---------------------------------------------------------------- Figures 2 and 5 over seeds


def thin_lines(fig) -> list:
    return [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_gid() == "other seed"]


def test_figures_2_and_5_draw_each_other_seed_thin_behind_the_display_seed():
    from test_plots import STYLE, curves, training_logs

    from bertscape.figures.curves import fig_curves
    from bertscape.figures.training import fig_training_curves

    tasks = ("MRPC", "MNLI")
    for draw, data in ((fig_training_curves, training_logs), (fig_curves, curves)):
        alone = draw(data(tasks), STYLE)
        beside = draw(data(tasks), STYLE, others=[data(tasks), data(tasks)])
        assert thin_lines(alone) == []
        thin = thin_lines(beside)  # 2 other seeds x 2 tasks x 2 inits
        assert len(thin) == 2 * 2 * 2 and all(ln.get_linewidth() < 1 for ln in thin)
        own = [ln for ax in beside.axes for ln in ax.get_lines() if ln.get_linewidth() == 1.5 and len(ln.get_xdata()) > 1]
        assert len(own) == 2 * 2 and all(ln.get_zorder() > max(t.get_zorder() for t in thin) for ln in own)
