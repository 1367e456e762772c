# Stage 9 -- Figures 1-7 and Table 1 (PNG + PDF), laid out like the paper. Only figure
# settings are params here, and only plots.py is declared as code, so a colour-map change or a
# plotting edit reruns figure jobs and nothing else.

localrules: figure, table1


def figure_inputs(wildcards):
    f = wildcards.fig
    surf = lambda tasks: [f"{R}/surfaces/{t}/{i}.h5" for i in INITS for t in tasks]
    if f in ("fig1_train_loss_surfaces", "fig6_dev_error_surfaces"):
        return surf(TASKS)
    if f == "fig2_training_curves":
        return [f"{R}/train/{t}/{i}/steps.tsv" for i in INITS for t in TASKS]
    if f == "fig3_trajectories":
        tasks = [t for t in ("MRPC", "MNLI") if t in TASKS] or TASKS[:2]
        return surf(tasks) + [f"{R}/trajectories/{t}/{i}.tsv" for i in INITS for t in tasks]
    if f == "fig4_long_run":
        return [f"{R}/surfaces/{LONG}/finetune.h5", f"{R}/trajectories/{LONG}/long.tsv"]
    if f == "fig5_curves":
        return [f"{R}/curves/{t}/{i}.h5" for i in INITS for t in TASKS]
    if f == "fig7_layer_surfaces":
        return [f"{R}/layers/{t}/{g}.h5" for t in LAYER_TASKS for g in GROUPS]
    raise ValueError(f"unknown figure {f}")


rule figure:
    input:
        data=figure_inputs,
        code=lib("plots.py", "h5io.py", "figures.py"),
    output:
        [report(f, caption="../report/figure.rst", category="1. Figures") if f.endswith(".png") else f
         for f in [f"{R}/figures/{{fig}}.{x}" for x in config["figures"]["formats"]]],
    params:
        style=config["figures"],
        tasks=TASKS,
    log:
        log("figure/{fig}"),
    wildcard_constraints:
        fig="fig[1-7]_[a-z_]+",
    script:
        "../scripts/figure.py"


rule table1:
    input:
        data=[f"{R}/layers/{t}/rollback.tsv" for t in ROLLBACK_TASKS],
        code=lib("plots.py", "figures.py", "summary.py", "data/__init__.py"),
    output:
        md=f"{R}/figures/table1_rollback.md",
        tsv=f"{R}/figures/table1_rollback.tsv",
        figs=[report(f, caption="../report/table1.rst", category="1. Figures") if f.endswith(".png") else f
              for f in [f"{R}/figures/table1_rollback.{x}" for x in config["figures"]["formats"]]],
    params:
        style=config["figures"],
        report={t: list(SPECS[t].report) for t in ROLLBACK_TASKS},
    log:
        log("table1/table1"),
    script:
        "../scripts/table1.py"
