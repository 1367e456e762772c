# Stage 7 -- optimisation trajectories (§3.3, eqs 3-5): every epoch checkpoint projected onto
# (delta1, delta2) coordinates (Figures 3 and 4). The long run (§5.3) is projected with the
# delta1 of its first, regular fine-tuning phase. Column err_bound: the largest possible error of
# d_alpha and d_beta due to fp16-delta checkpoint storage (0 for fp32 checkpoints).


def trajectory_inputs(wildcards):
    base = "finetune" if wildcards.init == "long" else wildcards.init
    inp = {"theta0": ckpt_dir(wildcards.task, base)}  # delta1 = theta1 - theta0 of that run, recomputed
    if wildcards.init == "long":
        inp["long"] = ckpt_dir(wildcards.task, "long")
    return inp


rule trajectory:
    input:
        unpack(trajectory_inputs),
        code=lib("trajectory.py", "directions.py", "checkpoints.py", "modeling.py"),
    output:
        f"{R}/trajectories/{{task}}/{{init}}.tsv",
    params:
        epochs=lambda wc: cfg.epochs(config, wc.task, "finetune" if wc.init == "long" else wc.init),
        long_epochs=lambda wc: cfg.epochs(config, wc.task, "long") if wc.init == "long" else None,
    log:
        log("trajectory/{task}-{init}"),
    threads: config["threads"]["light"]
    resources:
        **config["resources"]["light"],
    script:
        "../scripts/trajectory.py"
