"""The flatness record (bertscape.flatness) on a tiny BERT, P4 by Lanczos residual, and C1's flatness rows on
constructed records whose answers are known."""
import math

import pytest
import torch
from test_sharpness import tiny_bert

from bertscape import flatness_claims as FC
from bertscape.flatness import disjoint_subsets, flatness_indices, measure, summary
from bertscape.preconditions import p4_converged, p5_minimum
from bertscape.sharpness import encoder_params

FL = {"lanczos": {"steps": 6, "top": 2, "rtol": 0.01}, "relative_steps": 4, "probes": 3,
      "worst_case": {"rhos": [0.1, 0.2], "steps": 2, "restarts": 2}, "average_case": {"sigmas": [0.05], "draws": 3}}


def test_measure_writes_every_number_finite_and_restores_the_weights(tmp_path):
    model, batches, _ = tiny_bert(tmp_path)
    before = [p.detach().clone() for p in encoder_params(model)]
    rec = measure(model, batches, FL, seed=3)
    s = summary(rec)
    assert set(s) == {"lambda_max", "residual_max", "lambda_min", "residual_min", "trace", "trace_se",
                      "dhd_lambda_max", "dhd_residual", "worst_case_rho0.1", "worst_case_rho0.2",
                      "average_case_sigma0.05"}
    assert all(math.isfinite(v) for v in s.values()), s
    assert rec["examples"] == 6 and len(rec["lanczos"]["top"]) == 2 and len(rec["trace_probes"]) == 3
    assert s["lambda_min"] <= s["lambda_max"] and s["residual_max"] >= 0
    w = rec["worst_case"]["values"]
    assert [len(v["restarts"]) for v in w] == [2, 2] and all(v["sharpness"] == max(v["restarts"]) for v in w)
    assert all(torch.equal(a, b) for a, b in zip(before, encoder_params(model)))
    assert measure(model, batches, FL, seed=3) == rec  # deterministic for a fixed seed


def test_disjoint_subsets_are_disjoint_seeded_and_refuse_too_many():
    parts = disjoint_subsets(24, 8, 3, seed=5)
    assert sorted(torch.cat(parts).tolist()) == list(range(24))
    assert all(torch.equal(a, b) for a, b in zip(parts, disjoint_subsets(24, 8, 3, seed=5)))
    with pytest.raises(ValueError, match="need 32 examples"):
        disjoint_subsets(24, 8, 4, seed=5)
    from bertscape.batches import subset

    assert torch.equal(flatness_indices(24, None, 16, 5), subset(24, 16, 5))  # the surfaces' subset
    assert len(flatness_indices(24, 8, 16, 5)) == 8 and not torch.equal(flatness_indices(24, 8, 16, 5), subset(24, 8, 5))


def record(lmax=2.0, top_res=(1e-3, 1e-3), lmin=-0.01, rmin=1e-3, trace=10.0, dhd=0.5, dhd_res=1e-3,
           worst=(0.01, 0.04), avg=(0.001,)):
    """A flatness record as bertscape.flatness.measure writes it, with the numbers given."""
    return {"examples": 8,
            "lanczos": {"lambda_max": lmax, "residual_max": top_res[0], "lambda_min": lmin, "residual_min": rmin,
                        "top": [lmax, lmax / 2], "top_residual": list(top_res), "steps": 10},
            "relative": {"lambda_max": dhd, "residual_max": dhd_res},
            "trace": {"trace": trace, "se": 0.1},
            "worst_case": {"values": [{"rho": r, "sharpness": w} for r, w in zip((1.0, 2.0), worst)]},
            "average_case": {"values": [{"sigma": 0.1, "mean": a, "se": a / 10} for a in avg]}}


def test_p4_holds_when_every_top_residual_is_within_rtol_and_names_the_key_that_fixes_it():
    ok = p4_converged({"flatness": record()}, "MRPC", "finetune", tol=1e-3, rtol=0.01)
    assert ok["holds"] is True and ok["measured"]["relative_residual"] == pytest.approx(1e-3 / 0.5)
    # a power iteration that still moved does not matter once the Lanczos record is there
    assert p4_converged({"flatness": record(), "rel_change": 0.5, "iterations": 2, "lambda_max": 1.0},
                        "MRPC", "finetune", tol=1e-3, rtol=0.01)["holds"] is True
    bad = p4_converged({"flatness": record(top_res=(0.03, 1e-3))}, "MRPC", "scratch", tol=1e-3, rtol=0.01)
    assert bad["holds"] is False and bad["fix"] == "raise flatness.lanczos.steps" and "0.015" in bad["message"]
    # the 2nd top-k value's residual is reported, not gated: no row reads it
    second = p4_converged({"flatness": record(top_res=(1e-3, 0.03))}, "MRPC", "scratch", tol=1e-3, rtol=0.01)
    assert second["holds"] is True and second["measured"]["top_residual"] == [1e-3, 0.03]
    bad = p4_converged({"flatness": record(dhd_res=0.02)}, "MRPC", "scratch", tol=1e-3, rtol=0.01)
    assert bad["holds"] is False and bad["fix"] == "raise flatness.relative_steps"
    assert bad["measured"]["censored_dhd"] and not bad["measured"]["censored_hessian"]
    # without a flatness record: the power iteration's rule, as before
    old = p4_converged({"rel_change": 0.5, "iterations": 2, "lambda_max": 1.0}, "MRPC", "scratch", 1e-3, 0.01)
    assert old["holds"] is False and old["fix"] == "raise claims.hessian.iterations"


def rows_for(ft: dict, sc: dict) -> dict:
    h = {("T", "finetune"): {"flatness": ft}, ("T", "scratch"): {"flatness": sc}}
    return {r["measure"]: r for r in FC.c1_flatness(h, ["T"])}


def test_flatness_rows_orient_effects_so_a_flatter_finetune_supports_the_paper():
    flat, sharp = record(lmax=1.0, trace=5.0, dhd=0.2, worst=(0.01, 0.02), avg=(0.0005,)), record()
    rows = rows_for(flat, sharp)
    assert set(rows) == {m.measure for m in FC_MEASURES()}
    for name in ("lanczos_top_eigenvalue", "hessian_trace", "dhd_top_eigenvalue", "adaptive_sharpness",
                 "average_sharpness"):
        r, m = rows[name], lookup(name)
        assert r["holds"] is True and m.effect(r["values"], {}) > 0, name
        swapped = rows_for(sharp, flat)[name]
        assert swapped["holds"] is False and m.effect(swapped["values"], {}) < 0, name
    assert lookup("hessian_trace").effect(rows["hessian_trace"]["values"], {}) == pytest.approx(math.log(2))
    assert lookup("adaptive_sharpness").effect(rows["adaptive_sharpness"]["values"], {}) == pytest.approx(
        (math.log(1) + math.log(2)) / 2)


def test_p5_says_saddle_minimum_or_unconverged_and_gates_no_claim_row():
    saddle = p5_minimum({"flatness": record(lmin=-0.05, rmin=1e-3)}, "MRPC", "finetune", 0.01)
    assert saddle["holds"] is False and "-0.05" in saddle["message"] and "saddle" in saddle["fix"]
    assert p5_minimum({"flatness": record(lmin=-5e-4, rmin=1e-3)}, "MRPC", "finetune", 0.01)["holds"] is True
    loose = p5_minimum({"flatness": record(lmin=-0.05, rmin=0.05)}, "MRPC", "finetune", 0.01)
    assert loose["holds"] is None and "flatness.lanczos.steps" in loose["criterion"]  # 0.05 > 0.01 x 2.0
    assert p5_minimum({"lambda_max": 1.0}, "MRPC", "finetune", 0.01)["holds"] is None
    from bertscape.claims import CLAIMS

    assert not any(n.startswith("P5") for m in CLAIMS for n in m.needs)


def test_no_rows_without_both_records():
    h = {("T", "finetune"): {"flatness": record()}, ("T", "scratch"): {"lambda_max": 1.0}}
    assert FC.c1_flatness(h, ["T"]) == []


def lookup(name):
    from bertscape.claims import lookup as lk

    return lk("C1", name)


def FC_MEASURES():
    from bertscape.claims import CLAIMS

    return [m for m in CLAIMS if m.function is FC.c1_flatness]


@pytest.mark.slow
def test_sharpness_rule_on_the_tiny_config_writes_every_flatness_number(tmp_path):
    """One job of the rule (and what it needs: data, tokens, MRPC's fine-tuning run) on the tiny config."""
    import json

    from test_workflow import smk

    out = tmp_path / "tiny"
    target = out / "seed7" / "claims" / "sharpness" / "MRPC" / "finetune.json"
    r = smk("--configfile", "config/tiny.yaml", "--config", f"results={out}", "--cores", "1", str(target))
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    rec = json.loads(target.read_text())
    assert rec["iterations"] >= 1 and math.isfinite(rec["lambda_max"])  # the power iteration's cross-check
    flat = rec["flatness"]
    assert flat["examples"] == 8 and flat["lanczos"]["steps"] == 4 and len(flat["lanczos"]["top"]) == 2
    s = summary(flat)
    assert set(s) == {"lambda_max", "residual_max", "lambda_min", "residual_min", "trace", "trace_se",
                      "dhd_lambda_max", "dhd_residual", "worst_case_rho1", "average_case_sigma0.05"}
    assert all(math.isfinite(v) for v in s.values()), s


def test_an_unconverged_d_h_d_leaves_the_hessian_rows_decided():
    """P4's parts: D H D's Lanczos residual above rtol makes dhd_top_eigenvalue n/a, while the rows that read H's
    spectrum stand (their own residuals converged); H's unconverged makes the Lanczos row n/a."""
    from bertscape.claims import gate

    def checks(**kw):
        return [p4_converged({"flatness": record(**kw)}, "T", i, tol=1e-3, rtol=0.01) for i in ("finetune", "scratch")]

    rows = list(rows_for(record(lmax=1.0), record(lmax=2.0)).values())
    by = {r["measure"]: r for r in gate(rows, checks(dhd_res=0.2))}
    assert by["dhd_top_eigenvalue"]["holds"] is None and "D H D" in by["dhd_top_eigenvalue"]["reason"]
    assert by["lanczos_top_eigenvalue"]["holds"] is not None and by["lanczos_top_eigenvalue"]["reason"] == ""
    by = {r["measure"]: r for r in gate(rows, checks(top_res=(0.1, 1e-3)))}
    assert by["lanczos_top_eigenvalue"]["holds"] is None and by["dhd_top_eigenvalue"]["holds"] is not None
