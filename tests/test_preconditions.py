"""Preconditions P1-P4 (P2 as P2a and P2b) on synthetic curves, surfaces and power-iteration records whose answers are known."""
import math

import numpy as np
import pytest

from bertscape import claims as C
from bertscape import measures as M
from bertscape import preconditions as P
from bertscape import verdicts as V
from bertscape.data import task_spec
from test_claims import curve, surface

CL = {"learned_fraction": 0.5, "optimum_tol": 0.25, "optimum_loss_tol": 0.01, "tau_loss": 0.1}
CONVERGED = {"lambda_max": 3.0, "iterations": 9, "rel_change": 1e-4}


def bowl(center, floor=0.05, lo=-4.0, hi=4.0, k=0.3):
    """A basin with its minimum at alpha = center, curvature 2k along alpha and 2 along beta."""
    return (surface(lambda a, b: floor + k * (a - center) ** 2 + b ** 2, lo, hi, 81),
            curve(lambda a: floor + k * (a - center) ** 2, lo, hi, 33))


def checks_for(ft, sc, hessian=None, tasks=("MRPC",)):
    curves = {(t, i): g[1] for t in tasks for i, g in (("finetune", ft), ("scratch", sc))}
    surfaces = {(t, i): g[0] for t in tasks for i, g in (("finetune", ft), ("scratch", sc))}
    hessian = hessian if hessian is not None else {(t, i): CONVERGED for t in tasks for i in ("finetune", "scratch")}
    return P.check_all(curves, surfaces, hessian, list(tasks), {t: M.chance_loss(task_spec(t)) for t in tasks}, CL, 1e-3,
                        "synthetic")


def by(checks, p, init):
    return next(c for c in checks if c["precondition"] == p and c["init"] == init)


def test_chance_loss_is_the_uniform_cross_entropy():
    assert M.chance_loss(task_spec("MNLI")) == pytest.approx(math.log(3))
    assert M.chance_loss(task_spec("SST-2")) == pytest.approx(math.log(2))
    assert M.chance_loss(task_spec("STS-B"), 2.49) == 2.49  # regression: Var(train targets), given by the caller
    with pytest.raises(ValueError):
        M.chance_loss(task_spec("STS-B"))


def test_curve_minimum_is_located_between_nodes_and_flagged_at_the_edge():
    a, f, edge = M.curve_minimum(curve(lambda a: (a - 1.3) ** 2, -2, 2, 9))  # nodes every 0.5: 1.0 and 1.5
    assert a == pytest.approx(1.3) and not edge
    a, _, edge = M.curve_minimum(curve(lambda a: 1 - 0.2 * a, -2, 2, 9))  # still falling at the last node
    assert a == 2.0 and edge


def test_all_preconditions_hold_for_two_bowls_around_theta1():
    checks = checks_for(bowl(1.0), bowl(1.1))
    # P5 needs the flatness record (none here): n/a, never a failure
    assert all(c["holds"] or (c["precondition"] == "P5" and c["holds"] is None) for c in checks)
    assert P.warning(checks) == ""


def test_p1_fails_for_a_plateau_at_chance_and_names_the_scratch_keys():
    plateau = (surface(lambda a, b: 0 * a + math.log(2), n=81), curve(lambda a: 0 * a + math.log(2), n=33))
    checks = checks_for(bowl(1.0), plateau)
    p1 = by(checks, "P1", "scratch")
    assert p1["holds"] is False and "tasks.MRPC.epochs_scratch" in p1["fix"] and "tasks.MRPC.scratch_lr" in p1["fix"]
    assert "data.synthetic_train" in p1["fix"] and "1.00 x chance" in p1["message"]
    assert by(checks, "P3", "scratch")["holds"] is False and "fix P1 first" in by(checks, "P3", "scratch")["fix"]
    assert by(checks, "P1", "finetune")["holds"]


def test_p2_fails_when_the_curve_keeps_falling_past_theta1():
    """A bowl centred at 1.67: theta1 is neither at the minimum (P2a) nor on its floor (0.13 above it: P2b)."""
    checks = checks_for(bowl(1.67), bowl(1.0))
    p2 = by(checks, "P2a", "finetune")
    assert p2["holds"] is False and p2["measured"]["alpha_min"] == pytest.approx(1.67, abs=0.01)
    assert p2["message"].startswith("P2a: curve minimum at alpha = 1.67 (theta1 at 1.0), 0.13")  # lowest node 1.75
    assert "tasks.MRPC.epochs_finetune" in p2["fix"] and "tasks.MRPC.lr" in p2["fix"]
    p2b = by(checks, "P2b", "finetune")
    assert p2b["holds"] is False and p2b["measured"]["above_min"] == pytest.approx(0.3 * 0.67 ** 2, abs=0.01)
    assert p2b["message"].startswith("P2b: f(theta1) 0.185 lies 0.13")
    assert by(checks, "P2a", "scratch")["holds"] and by(checks, "P2b", "scratch")["holds"]
    overshot = by(checks_for(bowl(0.5), bowl(1.0)), "P2a", "finetune")
    assert overshot["holds"] is False and overshot["fix"].startswith("lower tasks.MRPC.lr")


def test_a_curve_falling_past_theta1_on_the_floor_fails_p2a_holds_p2b_and_gates_nothing():
    floor = lambda a: np.interp(a, [-4, 0, 1, 1.5, 1.75, 4], [0.8, 0.7, 0.0035, 0.0005, 0.56, 0.8])  # measured shape
    fitted = (surface(lambda a, b: floor(a) + b ** 2, n=81), curve(floor, n=33))
    checks = checks_for(fitted, bowl(1.0))
    p2a, p2b = by(checks, "P2a", "finetune"), by(checks, "P2b", "finetune")
    assert p2a["measured"]["alpha_min"] > 1.25 and p2a["holds"] is False and p2b["holds"] is True
    assert p2b["measured"]["above_min"] == pytest.approx(0.0035 - p2b["measured"]["loss_min"])
    assert 0 < p2b["measured"]["above_min"] < 0.01
    rows = C.c1_wider_optima({("MRPC", "finetune"): fitted[0], ("MRPC", "scratch"): bowl(1.0)[0]},
                             {("MRPC", "finetune"): fitted[1], ("MRPC", "scratch"): bowl(1.0)[1]}, ["MRPC"], 0.1)
    assert all(r["reason"] == "" for r in C.gate(rows, checks))  # either clause will do
    assert "P2a" in P.warning(checks) and "(P2b held: the rows that need P2 stand)" in P.warning(checks)
    assert P.table(checks, "MRPC")[1][2].startswith("FAILS: curve minimum") and P.table(checks, "MRPC")[2][2] == "ok"


def test_p2_gates_a_run_only_where_both_of_its_clauses_failed():
    """P2a failed for one run and P2b for the other: each run passed one clause, so nothing is gated."""
    checks = [{"precondition": p, "task": "MRPC", "init": i, "holds": h, "measured": {}, "message": f"{p}: x",
               "fix": "y"} for p, i, h in (("P2a", "finetune", False), ("P2b", "finetune", True),
                                          ("P2a", "scratch", True), ("P2b", "scratch", False))]
    row = {"claim": "C1", "measure": "basin_width_1d", "task": "MRPC", "values": {}, "criterion": "", "holds": True}
    assert C.gate([row], checks)[0]["holds"] is True
    checks[1] = dict(checks[1], holds=False)  # now the fine-tuned run failed both
    gated = C.gate([row], checks)[0]
    assert gated["holds"] is None and gated["reason"] == "P2a: x [finetune]; y; P2b: x [finetune]; y"


def test_p3_fails_when_the_basin_reaches_the_edge_of_a_narrow_grid():
    checks = checks_for(bowl(1.0, lo=-1.0, hi=1.2), bowl(1.0))
    p3 = by(checks, "P3", "finetune")
    assert p3["holds"] is False and "grid.min/grid.max" in p3["fix"] and "fix P1" not in p3["fix"]


def test_a_2d_region_censored_along_beta_leaves_the_1d_width_decidable():
    """A valley along beta leaves the grid in 2D while the curve's interval along alpha lies inside: P3 fails, the
    2D area's row is n/a naming it, the 1D width's row is still decided."""
    valley = (surface(lambda a, b: 0.05 + 0.3 * (a - 1) ** 2 + 0.001 * b ** 2, n=81),
              curve(lambda a: 0.05 + 0.3 * (a - 1) ** 2, n=33))
    checks = checks_for(valley, bowl(1.0))
    p3 = by(checks, "P3", "finetune")
    assert p3["holds"] is False and p3["measured"]["censored_2d"] and not p3["measured"]["censored_1d"]
    assert p3["message"].startswith("P3: the 2D region around theta1 reaches the grid's edge")
    rows = C.c1_wider_optima({("MRPC", "finetune"): valley[0], ("MRPC", "scratch"): bowl(1.0)[0]},
                             {("MRPC", "finetune"): valley[1], ("MRPC", "scratch"): bowl(1.0)[1]}, ["MRPC"], 0.1)
    gated = {r["measure"]: r for r in C.gate(rows, checks)}
    assert gated["basin_area_2d"]["holds"] is None and gated["basin_area_2d"]["reason"].startswith("P3: the 2D region")
    assert gated["basin_width_1d"]["holds"] is not None and gated["basin_width_1d"]["reason"] == ""


def test_p4_fails_for_an_unconverged_power_iteration_and_is_na_when_disabled():
    hessian = {("MRPC", "finetune"): CONVERGED, ("MRPC", "scratch"): {"lambda_max": 2.0, "iterations": 5, "rel_change": 0.12}}
    p4 = by(checks_for(bowl(1.0), bowl(1.0), hessian), "P4", "scratch")
    assert p4["holds"] is False and p4["fix"] == "raise claims.hessian.iterations" and "12.0%" in p4["message"]
    assert by(checks_for(bowl(1.0), bowl(1.0), {}), "P4", "finetune")["holds"] is None


def test_gate_turns_dependent_claim_rows_na_with_the_failed_precondition_and_key():
    ft, sc = bowl(1.67), bowl(1.0)
    checks = checks_for(ft, sc)
    rows = C.c1_wider_optima({("MRPC", "finetune"): ft[0], ("MRPC", "scratch"): sc[0]},
                             {("MRPC", "finetune"): ft[1], ("MRPC", "scratch"): sc[1]}, ["MRPC"], 0.1)
    rows += C.c6_orthogonal({("MRPC", "finetune"): {"other_task": "RTE", "cos_delta1_delta2": 0.01}}, 0.2)
    assert all(r["holds"] is not None for r in rows)  # decided before gating
    gated = C.gate(rows, checks)
    c1 = [r for r in gated if r["claim"] == "C1"]
    assert c1 and all(r["holds"] is None and r["reason"].startswith("P2a: curve minimum at alpha = 1.67") for r in c1)
    assert all("P2b: f(theta1)" in r["reason"] for r in c1)
    assert all("tasks.MRPC.epochs_finetune" in r["reason"] for r in c1)
    c6 = next(r for r in gated if r["claim"] == "C6")
    assert c6["holds"] is True and c6["reason"] == ""
    flat = V.flat_rows(gated)
    assert flat[0]["holds"] == "n/a" and flat[0]["reason"] == c1[0]["reason"]


def test_warning_and_tables_list_every_failure():
    checks = checks_for(bowl(1.67), bowl(1.0), tasks=("MRPC", "MNLI"))
    w = P.warning(checks)
    assert w.startswith("WARNING: 4 of 24") and "MRPC finetune: P2a" in w and "MNLI finetune: P2b" in w
    assert "held" not in w  # both clauses failed: no alternative stands
    t = P.table(checks, "MNLI")
    assert [r[0] for r in t] == ["P1", "P2a", "P2b", "P3", "P4", "P5"] and t[1][2].startswith("FAILS: curve minimum")
    assert t[2][2].startswith("FAILS: f(theta1) 0.185") and t[1][3] == t[2][3] == "ok"
    flat = P.flat_rows(checks)
    assert set(flat[0]) == set(P.COLUMNS) and flat[1]["holds"] == "no" and flat[0]["holds"] == "yes"


def test_claims_page_and_summary_show_a_preconditions_table_per_task():
    from bertscape.report import claims_html
    from bertscape.summary import preconditions_md

    checks = checks_for(bowl(1.67), bowl(1.0), tasks=("MRPC", "MNLI"))
    page = claims_html({"seeds": [42], "preconditions": [{"seed": 42, **c} for c in checks]})
    assert "<h2>Seed 42</h2>" in page and "<h2>Preconditions</h2>" in page and "<h3>MNLI</h3>" in page and "FAILS: curve minimum at alpha = 1.67" in page
    md = "\n".join(preconditions_md(checks))
    assert "### MRPC" in md and "| P2a | at a minimum along delta1 | FAILS: curve minimum" in md
    assert "| P2b | on the loss floor | FAILS: f(theta1)" in md and "WARNING: 4 of 24" in md
    assert "All preconditions hold." in "\n".join(preconditions_md(checks_for(bowl(1.0), bowl(1.0))))


def test_an_na_row_that_needs_no_precondition_still_says_why():
    plateau = (surface(lambda a, b: 0 * a + math.log(2), n=81), curve(lambda a: 0 * a + math.log(2), n=33))
    checks = checks_for(plateau, plateau)
    row = {"claim": "C2", "measure": "epochs_to_loss", "task": "MRPC", "values": {}, "criterion": "", "holds": None}
    r = C.gate([row], checks)[0]
    assert r["reason"].count("P1: train loss at theta1") == 2 and "tasks.MRPC.epochs_finetune" in r["reason"]
    r = C.gate([dict(row, claim="C4", measure="spearman_loss_error")], checks_for(bowl(1.0), bowl(1.0)))[0]
    assert r["holds"] is None and "claims.window" in r["reason"]
