# Stage 10 -- report: the paper's claims as numbers with criteria (claims.tsv/.json/.html) and their
# preconditions P1-P4 (preconditions.tsv; a failed one makes the claims that need it n/a), the
# top Hessian eigenvalue at theta1 (sharpness), a one-page summary, and the pieces of the HTML
# report that `snakemake --report` assembles (figures with captions, the claims page).


localrules:
    summary,
    claims_seed,
    claims,


HESSIAN = config["claims"]["hessian"]
FOREST_CLAIMS = ["C1", "C2", "C3", "C4", "C5", "C6"]  # one forest plot per claim (bertscape.claims.TITLES)


rule sharpness:
    input:
        ckpts=lambda wc: ckpt_dir(wc.task, wc.init, wc.seed),
        train=lambda wc: tokens(wc.task, "train", wc.seed),
        model=MODEL_ID,
        code=code_id("sharpness.py"),
    output:
        f"{R}/seed{{seed}}/claims/sharpness/{{task}}/{{init}}.json",
    log:
        log("sharpness/seed{seed}/{task}-{init}"),
    benchmark:
        bench("sharpness/seed{seed}/{task}-{init}")
    wildcard_constraints:
        init="|".join([*cfg.INITS, *ctl.CONTROLS]),
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["surface"]
    resources:
        **config["resources"]["surface"],
    params:
        model=MODEL,
        task=task_params,
        epochs=lambda wc: cfg.epochs(config, wc.task, wc.init),
        eval={k: config["eval"][k] for k in ("train_subset", "batch_tokens")},
        hessian={k: HESSIAN[k] for k in ("enabled", "iterations", "tol")},
        flatness=config["flatness"],
        seed=seed_param,
    script:
        "../scripts/sharpness.py"


rule seed_barrier:  # cross-seed (needs >= 2 seeds): the path between two seeds' theta1 (bertscape.crossseed)
    input:
        a=lambda wc: ckpt_dir(wc.task, wc.init, wc.seed_a),
        b=lambda wc: ckpt_dir(wc.task, wc.init, wc.seed_b),
        init_a=lambda wc: init_file(wc.init, wc.seed_a),  # theta0's shared encoder (shared-base checkpoints)
        init_b=lambda wc: init_file(wc.init, wc.seed_b),
        train_a=lambda wc: tokens(wc.task, "train", wc.seed_a),
        train_b=lambda wc: tokens(wc.task, "train", wc.seed_b),
        model=MODEL_ID,
        code=code_id("seed_barrier.py"),
    output:
        f"{R}/seeds{{seed_a}}-{{seed_b}}/paths/{{task}}/{{init}}.h5",
    log:
        log("seed_barrier/seeds{seed_a}-{seed_b}/{task}-{init}"),
    benchmark:
        bench("seed_barrier/seeds{seed_a}-{seed_b}/{task}-{init}")
    wildcard_constraints:
        init="finetune|scratch",
        seed_a=r"\d+",
        seed_b=r"\d+",
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["surface"]
    resources:
        **config["resources"]["surface"],
    params:
        model=MODEL,
        task=task_params,
        epochs=lambda wc: cfg.epochs(config, wc.task, wc.init),
        eval={
            k: config["eval"][k]
            for k in ("train_subset", "batch_tokens", "dtype", "precision_nodes", "precision_budget")
        },
        nodes=config["grid"]["curve_points"],  # over [0, 1]
        seeds=lambda wc: [int(wc.seed_a), int(wc.seed_b)],
    script:
        "../scripts/seed_barrier.py"


rule claims_seed:  # one seed's claims rows, gated by that seed's preconditions (bertscape.claims.evaluate)
    input:
        unpack(claims_inputs),
        code=code_id("claims_seed.py"),
    output:
        f"{R}/seed{{seed}}/claims/rows.json",
    log:
        log("claims_seed/seed{seed}"),
    conda:
        "../../envs/plot.yaml"
    params:
        seed=seed_param,
        tasks=TASKS,
        long=LONG,
        n_labels={t: SPECS[t].num_labels for t in TASKS if not SPECS[t].regression},
        metrics={t: SPECS[t].metric for t in TASKS},
        claims={k: v for k, v in config["claims"].items() if k != "hessian"},
        hessian_tol=HESSIAN["tol"],
        flatness_rtol=config["flatness"]["lanczos"]["rtol"],
        layer_groups=config["layers"]["groups"],  # the norm table's group rows (the directions job writes none)
        data_source=config["data"]["source"],  # names the training-set size key in a precondition's fix
        task_configs={t: config["tasks"][t] for t in TASKS},
        input_keys=claims_keys,  # (task, init) of each input, aligned with claims_inputs
    script:
        "../scripts/claims_seed.py"


rule claims:  # every seed's rows together: claims.tsv/.json, preconditions, Table 1 vs paper, the claims page
    input:
        rows=[f"{run_dir(s)}/claims/rows.json" for s in SEEDS],
        paths=[p for _, p in cross_seed_keyed()],  # none with one seed
        code=code_id("claims.py"),
    output:
        tsv=f"{R}/claims/claims.tsv",
        preconditions=f"{R}/claims/preconditions.tsv",
        json=f"{R}/claims/claims.json",
        table1=f"{R}/claims/table1_vs_paper.tsv",
        html=report(
            f"{R}/claims/claims.html",
            caption="../report/claims.rst",
            category="2. Claims",
            labels={"claim": "all", **report_labels("claims page", seeds=SEEDS)},
        ),
        forest=[
            report(
                f"{R}/claims/forest_{c}.png",
                caption="../report/forest.rst",
                category="2. Claims",
                labels={"claim": c, **report_labels(f"forest plot {c}", seeds=SEEDS)},
            )
            for c in FOREST_CLAIMS
        ],
    log:
        log("claims/claims"),
    conda:
        "../../envs/plot.yaml"
    params:
        model=config["model"]["name"],  # what theta0 is, said next to every verdict (bertscape.modelcards)
        long=LONG,
        claims={k: v for k, v in config["claims"].items() if k != "hessian"},
        task_configs={t: config["tasks"][t] for t in TASKS},  # which runs are imported (no training history)
        seeds=SEEDS,  # aligned with input.rows
        display_seed=DISPLAY,
        tasks=TASKS,
        path_keys=[k for k, _ in cross_seed_keyed()],  # (task, init, seed_a, seed_b), aligned with input.paths
        forest_claims=FOREST_CLAIMS,  # aligned with output.forest
        style=config["figures"],
    script:
        "../scripts/claims.py"


rule summary:
    input:
        figures=all_figures(),
        directions=[f"{run_dir(DISPLAY)}/directions/{t}/{i}.json" for t in TASKS for i in INITS],
        epochs=[f"{run_dir(DISPLAY)}/train/{t}/{i}/epochs.tsv" for t in TASKS for i in INITS],
        claims=f"{R}/claims/claims.json",
        code=code_id("summary.py"),
    output:
        f"{R}/summary.md",
    log:
        log("summary/summary"),
    conda:
        "../../envs/plot.yaml"
    params:
        report={t: list(SPECS[t].report) for t in TASKS},
        epoch_keys=[(t, i) for t in TASKS for i in INITS],  # aligned with input.epochs
    script:
        "../scripts/summary.py"
