"""Rule claims: every claim of the paper as numbers with a criterion (claims.tsv/.json, Table 1 vs paper, HTML),
gated by its preconditions (P1-P4, preconditions.tsv): an n/a names what failed and the key to change."""
from bertscape import claims as C
from bertscape import preconditions as P
from bertscape.audit import sources
from bertscape.data import task_spec
from bertscape.h5io import read_grid
from bertscape.io import read_json, read_jsonl, read_tsv, write_json, write_text, write_tsv
from bertscape.report import claims_html
from bertscape.runner import run


def keyed(paths, n=2, ext=None):
    """results/<kind>/<task>/<init><ext> -> {(task, init): path}; ``ext`` (e.g. ".basin.json") defaults to the last suffix"""
    stem = (lambda s: s[:-len(ext)] if s.endswith(ext) else s) if ext else (lambda s: s.rsplit(".", 1)[0])
    return {tuple(stem(str(p)).split("/")[-n:]): p for p in paths}


def main(job):
    i, p = job.input, job.params
    tasks = p.tasks
    surf = {k: read_grid(v) for k, v in keyed(i.surfaces).items()}
    regions = {k: {x: y for x, y in read_json(v).items() if x not in ("extra_points", "in_grid", "provenance")}
               for k, v in keyed(i.basins, ext=".basin.json").items()}
    curves = {k: read_grid(v) for k, v in keyed(i.curves).items()}
    epochs = {k: read_tsv(v) for k, v in keyed(i.epochs, 3).items()}
    epochs = {(t, init): rows for (t, init, _), rows in epochs.items()}
    traj = {k: read_tsv(v) for k, v in keyed(i.trajectories).items()}
    rollback = {t: read_tsv(v) for (t, _), v in keyed(i.rollback).items()}
    layers = {k: read_grid(v) for k, v in keyed(i.layers).items()}
    groups = {r["group"]: [int(r["first_layer"]), int(r["last_layer"])] for r in next(iter(rollback.values()))
              if r["group"] != "none"} if rollback else {}
    cl = p.claims
    hessian = {k: read_json(v) for k, v in keyed(i.hessian).items()}
    chance = {str(f).split("/")[-2]: C.target_variance([r["label"] for r in read_jsonl(f)])
              for f in i.targets}  # regression tasks: C2's chance loss
    specs = {t: task_spec(t, p.task_configs) for t in tasks}
    checks = P.check_all(curves, surf, hessian, tasks, {t: P.chance_loss(specs[t], chance.get(t)) for t in tasks},
                         cl, p.hessian_tol, p.data_source, regions=regions)
    rows = C.c1_wider_optima(surf, curves, tasks, cl["tau_loss"], regions)
    rows += C.sharpness(hessian, tasks, p.hessian_tol) if hessian else []
    rows += C.c2_easier_optimisation(epochs, curves, traj, tasks, p.n_labels, cl["reach_fraction"], cl["ascent_tol"],
                                     chance)
    if p.long:
        rows += C.c3_overfitting(read_tsv(i.long_epochs), traj[p.long, "long"], surf[p.long, "finetune"], p.long,
                                 cl["acc_tol"], cl["tau_error"], p.metrics[p.long])
    rows += C.c4_consistency(surf, tasks, cl["window"], cl["rho_min"])
    rows += C.c5_lower_layers(rollback, layers, groups)
    rows += C.c6_orthogonal({k: read_json(v) for k, v in keyed(i.directions).items()}, cl["max_abs_cos"])
    rows = P.gate(rows, checks)
    table1 = C.table1_vs_paper(rollback, groups)
    precision = C.precision_rows({f"{kind}/{'/'.join(k)}": g for kind, d in (("surface", surf), ("curve", curves),
                                                                             ("layer", layers)) for k, g in d.items()})
    prov = job.provenance(sources=sources(list(i.surfaces)))
    write_tsv(job.output.tsv, C.flat_rows(rows), ["claim", "measure", "task", "holds", "criterion", "values", "reason"])
    write_tsv(job.output.preconditions, P.flat_rows(checks), P.COLUMNS)
    write_json(job.output.json, {"claims": rows, "tally": C.tally(rows), "preconditions": checks,
                                 "table1_vs_paper": table1, "precision": precision,
                                 "provenance": prov})
    write_tsv(job.output.table1, table1)
    write_text(job.output.html, claims_html(rows, table1, prov, checks, precision))
    if P.warning(checks):
        job.log.warning("%s", P.warning(checks))


run(snakemake, main)  # noqa: F821
