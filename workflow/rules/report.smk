# Stage 10 -- report: the paper's claims as numbers with criteria (claims.tsv/.json/.html) and their
# preconditions P1-P4 (preconditions.tsv; a failed one makes the claims that need it n/a), the
# top Hessian eigenvalue at theta1 (sharpness), a one-page summary, and the pieces of the HTML
# report that `snakemake --report` assembles (figures with captions, the claims page).

localrules: summary, claims

HESSIAN = config["claims"]["hessian"]


rule sharpness:
    input:
        ckpts=lambda wc: ckpt_dir(wc.task, wc.init),
        train=lambda wc: tokens(wc.task, "train"),
        model=MODEL_ID,
        code=lib("sharpness.py", "landscape.py", "metrics.py", "modeling.py", "surfaces.py", "precision.py"),
    output:
        f"{R}/claims/sharpness/{{task}}/{{init}}.json",
    params:
        epochs=lambda wc: cfg.epochs(config, wc.task, wc.init),
        eval={k: config["eval"][k] for k in ("train_subset", "batch_tokens")},
        hessian={k: HESSIAN[k] for k in ("iterations", "tol")},
        seed=config["seed"],
    log:
        log("sharpness/{task}-{init}"),
    benchmark:
        bench("sharpness/{task}-{init}")
    wildcard_constraints:
        init="finetune|scratch",
    threads: config["threads"]["surface"]
    resources:
        **config["resources"]["surface"],
    script:
        "../scripts/sharpness.py"


def claims_inputs(wildcards):
    both = [(t, i) for t in TASKS for i in INITS]
    inp = {
        "surfaces": [f"{R}/surfaces/{t}/{i}.h5" for t, i in both],
        "curves": [f"{R}/curves/{t}/{i}.h5" for t, i in both],
        "epochs": [f"{R}/train/{t}/{i}/epochs.tsv" for t, i in both],
        "trajectories": [f"{R}/trajectories/{t}/{i}.tsv" for t, i in both] + ([f"{R}/trajectories/{LONG}/long.tsv"] if LONG else []),
        "directions": [f"{R}/directions/{t}/{i}.json" for t, i in both],
        "rollback": [f"{R}/layers/{t}/rollback.tsv" for t in ROLLBACK_TASKS],
        "layers": [f"{R}/layers/{t}/{g}.h5" for t in LAYER_TASKS for g in GROUPS],
        "hessian": [f"{R}/claims/sharpness/{t}/{i}.json" for t, i in both] if HESSIAN["enabled"] else [],
    }
    # C2's chance loss of a regression task is the variance of its training targets
    inp["targets"] = [f"{R}/data/{t}/train.jsonl" for t in TASKS if SPECS[t].regression]
    if LONG:
        inp["long_epochs"] = f"{R}/train/{LONG}/long/epochs.tsv"
    return inp


rule claims:
    input:
        unpack(claims_inputs),
        code=lib("claims.py", "preconditions.py", "report.py", "h5io.py", "audit.py", "data/__init__.py"),
    output:
        tsv=f"{R}/claims/claims.tsv",
        preconditions=f"{R}/claims/preconditions.tsv",
        json=f"{R}/claims/claims.json",
        table1=f"{R}/claims/table1_vs_paper.tsv",
        html=report(f"{R}/claims/claims.html", caption="../report/claims.rst", category="2. Claims"),
    params:
        tasks=TASKS,
        long=LONG,
        n_labels={t: SPECS[t].num_labels for t in TASKS if not SPECS[t].regression},
        metrics={t: SPECS[t].metric for t in TASKS},
        claims={k: v for k, v in config["claims"].items() if k != "hessian"},
        hessian_tol=HESSIAN["tol"],
        data_source=config["data"]["source"],  # names the training-set size key in a precondition's fix
        task_configs={t: config["tasks"][t] for t in TASKS},
    log:
        log("claims/claims"),
    script:
        "../scripts/claims.py"


rule summary:
    input:
        figures=all_figures(),
        directions=[f"{R}/directions/{t}/{i}.json" for t in TASKS for i in INITS],
        epochs=[f"{R}/train/{t}/{i}/epochs.tsv" for t in TASKS for i in INITS],
        claims=f"{R}/claims/claims.json",
        code=lib("summary.py", "preconditions.py", "data/__init__.py"),
    params:
        report={t: list(SPECS[t].report) for t in TASKS},
    output:
        f"{R}/summary.md",
    log:
        log("summary/summary"),
    script:
        "../scripts/summary.py"
