# Report -- a one-page summary of where every figure is and the headline numbers.

localrules: summary


rule summary:
    input:
        figures=all_figures(),
        directions=[f"{R}/directions/{t}/{i}.json" for t in TASKS for i in INITS],
        epochs=[f"{R}/train/{t}/{i}/epochs.tsv" for t in TASKS for i in INITS],
        code=lib("summary.py"),
    output:
        f"{R}/summary.md",
    log:
        log("summary/summary"),
    script:
        "../scripts/summary.py"
