# Stage 8 -- layer groups (§7): surfaces f(a, b) = J(theta1 + a delta1^G + b delta2^G) around
# the fine-tuned point for each group G (Figure 7; f(-1, 0) is the rolled-back model), and the
# rollback table (Table 1): dev score (the task's metric) of theta1 with one group reset to theta0.


localrules:
    layer_gather,


rule layer_shard:
    input:
        unpack(landscape_inputs),
        code=code_id("landscape_shard.py"),
    output:
        f"{R}/seed{{seed}}/layers/{{task}}/{{group}}/shard{{k}}.h5",
    log:
        log("layer_shard/seed{seed}/{task}-{group}-{k}"),
    benchmark:
        bench("layer_shard/seed{seed}/{task}-{group}-{k}")
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["surface"]
    resources:
        **config["resources"]["surface"],
    params:
        **eval_params(),
        model=MODEL,
        task=task_params,
        kind="layer_surface",
        axis=lambda wc: [config["grid"]["min"], config["grid"]["max"], config["grid"]["points"]],
        epochs=lambda wc: cfg.epochs(config, wc.task, "finetune"),
        shards=SHARDS,
        groups=config["layers"]["groups"],
        dev=False,
    script:
        "../scripts/landscape_shard.py"


rule layer_gather:
    input:
        shards=lambda wc: [f"{run_dir(wc.seed)}/layers/{wc.task}/{wc.group}/shard{k}.h5" for k in range(SHARDS)],
        code=code_id("gather.py"),
    output:
        f"{R}/seed{{seed}}/layers/{{task}}/{{group}}.h5",
    log:
        log("layer_gather/seed{seed}/{task}-{group}"),
    conda:
        "../../envs/plot.yaml"
    script:
        "../scripts/gather.py"


rule layer_anchors:  # every seed's C5 train loss at f(-1, 0): the layer grid's anchors without the layer surface
    input:
        unpack(landscape_inputs),
        code=code_id("landscape_shard.py"),
    output:
        f"{R}/seed{{seed}}/layers/{{task}}/{{group}}.anchors.h5",
    log:
        log("layer_anchors/seed{seed}/{task}-{group}"),
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["surface"]
    resources:
        **config["resources"]["surface"],
    params:
        **eval_params(),
        model=MODEL,
        task=task_params,
        kind="layer_surface",
        axis=[0.0, 0.0, 1],  # one node, theta1 itself: the grid is its anchors (finetuned, rollback)
        epochs=lambda wc: cfg.epochs(config, wc.task, "finetune"),
        groups=config["layers"]["groups"],
        dev=False,
    script:
        "../scripts/landscape_shard.py"


rule rollback:
    input:
        ckpts=lambda wc: ckpt_dir(wc.task, "finetune", wc.seed),
        dev=lambda wc: tokens(wc.task, "dev", wc.seed),
        init=f"{R}/init/finetune.safetensors",
        model=MODEL_ID,
        code=code_id("rollback.py"),
    output:
        f"{R}/seed{{seed}}/layers/{{task}}/rollback.tsv",
    log:
        log("rollback/seed{seed}/{task}"),
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["surface"]
    resources:
        **config["resources"]["surface"],
    params:
        model=MODEL,
        task=task_params,
        epochs=lambda wc: cfg.epochs(config, wc.task, "finetune"),
        groups=config["layers"]["groups"],
        batch_tokens=config["eval"]["batch_tokens"],
    script:
        "../scripts/rollback.py"


rule layer_transfer:  # C5's "transferable across tasks" half (descriptive): per group, each task's move and their cosines
    input:
        ckpts=lambda wc: [ckpt_dir(t, "finetune", wc.seed) for t in TASKS],
        init=f"{R}/init/finetune.safetensors",
        model=MODEL_ID,
        code=code_id("layer_transfer.py"),
    output:
        f"{R}/seed{{seed}}/layers/transfer.json",
    log:
        log("layer_transfer/seed{seed}"),
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["light"]
    resources:
        **config["resources"]["light"],
    params:
        model=MODEL,
        tasks=TASKS,
        epochs=lambda wc: {t: cfg.epochs(config, t, "finetune") for t in TASKS},
        groups=config["layers"]["groups"],
    script:
        "../scripts/layer_transfer.py"
