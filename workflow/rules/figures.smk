# Stage 9 -- Figures 1-7 and Table 1 (PNG + PDF), laid out like the paper. Only figure
# settings are params here, and only the figures package is reached by the scripts, so a colour-map change or a
# plotting edit reruns figure jobs and nothing else.


localrules:
    figure,
    table1,


rule figure:
    input:
        data=figure_inputs,
        code=code_id("figure.py"),
    output:
        [
            (
                report(f, caption="../report/figure.rst", category="1. Figures", labels=figure_labels)
                if f.endswith(".png")
                else f
            )
            for f in [f"{R}/figures/{{fig}}.{x}" for x in config["figures"]["formats"]]
        ],
    log:
        log("figure/{fig}"),
    wildcard_constraints:
        fig="fig[1-7]_[a-z_]+",
    conda:
        "../../envs/plot.yaml"
    params:
        style=config["figures"],
        tasks=TASKS,
        file_keys=figure_keys,
        display_seed=DISPLAY,
    script:
        "../scripts/figure.py"


rule table1:
    input:
        data=[f"{run_dir(DISPLAY)}/layers/{t}/rollback.tsv" for t in ROLLBACK_TASKS],
        code=code_id("table1.py"),
    output:
        md=f"{R}/figures/table1_rollback.md",
        tsv=f"{R}/figures/table1_rollback.tsv",
        figs=[
            (
                report(
                    f,
                    caption="../report/table1.rst",
                    category="1. Figures",
                    labels=report_labels("table1_rollback", ROLLBACK_TASKS, "finetune"),
                )
                if f.endswith(".png")
                else f
            )
            for f in [f"{R}/figures/table1_rollback.{x}" for x in config["figures"]["formats"]]
        ],
    log:
        log("table1/table1"),
    conda:
        "../../envs/plot.yaml"
    params:
        style=config["figures"],
        report={t: list(SPECS[t].report) for t in ROLLBACK_TASKS},
    script:
        "../scripts/table1.py"
