# Stages 5-6 -- 1D curves f(a) = J(theta0 + a delta1) (eq. 1, Figure 5) and 2D surfaces
# f(a, b) = J(theta0 + a delta1 + b delta2) (eq. 2, Figures 1, 3, 4, 6): training loss on a
# seeded training subset and dev error on the dev set, at the same weights. Each surface is
# split into `grid.shards` jobs; a local gather merges them (bit-identical for any count).


localrules:
    surface_gather,


rule curve:
    input:
        unpack(landscape_inputs),
        code=code_id("landscape_shard.py"),
    output:
        f"{R}/seed{{seed}}/curves/{{task}}/{{init}}.h5",
    log:
        log("curve/seed{seed}/{task}-{init}"),
    benchmark:
        bench("curve/seed{seed}/{task}-{init}")
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["surface"]
    resources:
        **config["resources"]["surface"],
    params:
        **eval_params(),
        model=MODEL,
        task=task_params,
        kind="curve",
        axis=lambda wc: [config["grid"]["min"], config["grid"]["max"], config["grid"]["curve_points"]],
        epochs=lambda wc: cfg.epochs(config, wc.task, wc.init),
        dev=False,  # Figure 5 and the claims use the training loss only
    script:
        "../scripts/landscape_shard.py"


rule dense_path:  # C2: the straight path theta0 -> theta1 at claims.path_points nodes over alpha in [0, 1]
    # One job per seed for its main runs: the process start and the imports (~2.6 s) are paid once, not per run
    # (issue 26's cost); a run's grid is the same as from a job of its own.
    input:
        unpack(dense_path_inputs),
        code=code_id("dense_path.py"),
    output:
        [f"{R}/seed{{seed}}/paths/{t}/{i}.h5" for t, i in MAIN_RUNS],
    log:
        log("dense_path/seed{seed}"),
    benchmark:
        bench("dense_path/seed{seed}")
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["surface"]
    resources:
        **config["resources"]["surface"],
    params:
        **eval_params(dtype="fp32"),  # its rise is read to 1e-4 nats (claims.tie_bands.path_ascent_dense)
        model=MODEL,
        runs=[[t, i] for t, i in MAIN_RUNS],  # the order of the outputs and of every input list
        tasks={t: dataclasses.asdict(SPECS[t]) for t in TASKS},
        axis=path_axis(config["claims"]["path_points"]),
        epochs=[cfg.epochs(config, t, i) for t, i in MAIN_RUNS],
    script:
        "../scripts/dense_path.py"


rule surface_shard:
    input:
        unpack(landscape_inputs),
        code=code_id("landscape_shard.py"),
    output:
        f"{R}/seed{{seed}}/surfaces/{{task}}/{{init}}/shard{{k}}.h5",
    log:
        log("surface_shard/seed{seed}/{task}-{init}-{k}"),
    benchmark:
        bench("surface_shard/seed{seed}/{task}-{init}-{k}")
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["surface"]
    resources:
        **config["resources"]["surface"],
    params:
        **eval_params(),
        model=MODEL,
        task=task_params,
        kind="surface",
        axis=lambda wc: [config["grid"]["min"], config["grid"]["max"], config["grid"]["points"]],
        epochs=lambda wc: cfg.epochs(config, wc.task, wc.init),
        shards=SHARDS,
        dev=True,
    script:
        "../scripts/landscape_shard.py"


rule surface_gather:
    input:
        shards=lambda wc: [f"{run_dir(wc.seed)}/surfaces/{wc.task}/{wc.init}/shard{k}.h5" for k in range(SHARDS)],
        code=code_id("gather.py"),
    output:
        f"{R}/seed{{seed}}/surfaces/{{task}}/{{init}}.h5",
    log:
        log("surface_gather/seed{seed}/{task}-{init}"),
    conda:
        "../../envs/plot.yaml"
    script:
        "../scripts/gather.py"
