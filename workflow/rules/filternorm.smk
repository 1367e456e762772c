# Issue 25, items 2 and 5 -- C1 in filter-normalised units (Li et al. 2018): K seeded filter-normalised random
# directions at theta1, the training loss along each (the delta1 curves' seeded subset), their widths, loss rises
# at fixed radii and the local width; every seed, both inits (bertscape.filternorm, rows: bertscape.filterclaims).

FILTER = config["flatness"]["filter_directions"]


rule filter_curves:
    input:
        ckpts=lambda wc: ckpt_dir(wc.task, wc.init, wc.seed),
        train=lambda wc: tokens(wc.task, "train", wc.seed),
        model=MODEL_ID,
        code=code_id("filter_curves.py"),
    output:
        f"{R}/seed{{seed}}/flatness/filter/{{task}}/{{init}}.json",
    log:
        log("filter_curves/seed{seed}/{task}-{init}"),
    benchmark:
        bench("filter_curves/seed{seed}/{task}-{init}")
    wildcard_constraints:
        init="finetune|scratch",
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
        filter={k: FILTER[k] for k in ("directions", "radius", "points", "radii")},
        tau=config["claims"]["tau_loss"],
        seed=seed_param,
    script:
        "../scripts/filter_curves.py"


rule filter_surface:  # the display seed's only (figure fig1_filter_surfaces asks for it)
    input:
        ckpts=lambda wc: ckpt_dir(wc.task, wc.init, wc.seed),
        train=lambda wc: tokens(wc.task, "train", wc.seed),
        model=MODEL_ID,
        code=code_id("filter_surface.py"),
    output:
        f"{R}/seed{{seed}}/flatness/filter_surfaces/{{task}}/{{init}}.h5",
    log:
        log("filter_surface/seed{seed}/{task}-{init}"),
    benchmark:
        bench("filter_surface/seed{seed}/{task}-{init}")
    wildcard_constraints:
        init="finetune|scratch",
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
        radius=FILTER["radius"],
        points=FILTER["surface_points"],
        tau=config["claims"]["tau_loss"],
        seed=seed_param,
    script:
        "../scripts/filter_surface.py"
