# Stage 2-3 -- init and train. One random encoder initialisation is shared by every scratch
# run (theta0 is the same point for all scratch tasks), and the pre-trained encoder is written once
# for every fine-tuning run; each run publishes theta0 (its head + a reference to that shared
# encoder) and its last epoch in fp32, logs the training loss per step and per epoch (Figure 2),
# and reduces every epoch to what the trajectory needs (displacements.tsv, bertscape.checkpoints);
# train.keep_intermediate: true also publishes the epochs in between.


#
# train.fused: true: the runs are trained in groups (bertscape.traingroups), one job per group (a rule per group,
# train_group_g0, g1, ...: a rule's outputs are fixed, a group's are its runs' own files), each run's files where
# rule train writes them; rule train then matches no run (its init constraint matches nothing), so exactly one
# rule makes a run's files. Imported runs stay with import_checkpoint. (The groups: common.smk, TRAIN_GROUPS.)


rule scratch_init:
    input:
        model=MODEL_ID,
        code=code_id("scratch_init.py"),
    output:
        f"{R}/seed{{seed}}/init/scratch.safetensors",
    log:
        log("scratch_init/seed{seed}/init"),
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["light"]
    resources:
        **config["resources"]["light"],
    params:
        model=MODEL,
        seed=seed_param,
    script:
        "../scripts/scratch_init.py"


rule finetune_init:
    input:
        model=MODEL_ID,
        code=code_id("finetune_init.py"),
    output:
        f"{R}/init/finetune.safetensors",
    log:
        log("finetune_init/init"),
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["light"]
    resources:
        **config["resources"]["light"],
    params:
        model=MODEL,
    script:
        "../scripts/finetune_init.py"


rule train:
    input:
        unpack(train_inputs),
        code=code_id("train.py"),
    output:
        ckpts=directory(f"{R}/seed{{seed}}/train/{{task}}/{{init}}/checkpoints"),
        steps=f"{R}/seed{{seed}}/train/{{task}}/{{init}}/steps.tsv",
        epochs=f"{R}/seed{{seed}}/train/{{task}}/{{init}}/epochs.tsv",
        displacements=f"{R}/seed{{seed}}/train/{{task}}/{{init}}/displacements.tsv",
    log:
        log("train/seed{seed}/{task}-{init}"),
    benchmark:
        bench("train/seed{seed}/{task}-{init}")
    wildcard_constraints:
        init=TRAIN_INITS,
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["train"]
    resources:
        **config["resources"]["train"],
    params:
        model=MODEL,
        task=task_params,
        eval_batch_tokens=config["eval"]["batch_tokens"],
        spec=lambda wc: cfg.train_params(config, wc.task, wc.init, int(wc.seed)),
        first_epoch=lambda wc: cfg.epochs(config, wc.task, cfg.LONG_INITS[wc.init]) if wc.init in cfg.LONG_INITS else 0,
        storage=config["train"]["intermediate_checkpoints"],
        keep=config["train"]["keep_intermediate"],
        last=lambda wc: cfg.last_checkpoint(config, wc.init),  # "none": a long run publishes no weights
        dev_every_epoch=lambda wc: wc.init in cfg.LONG_INITS,  # only C3 reads a per-epoch dev score (the long runs')
        seed=seed_param,
    script:
        "../scripts/train.py"


ruleorder: import_checkpoint > train


rule import_checkpoint:
    input:
        unpack(import_inputs),
        code=code_id("import_checkpoint.py"),
    output:
        ckpts=directory(f"{R}/seed{{seed}}/train/{{task}}/{{init}}/checkpoints"),
        steps=f"{R}/seed{{seed}}/train/{{task}}/{{init}}/steps.tsv",
        epochs=f"{R}/seed{{seed}}/train/{{task}}/{{init}}/epochs.tsv",
        displacements=f"{R}/seed{{seed}}/train/{{task}}/{{init}}/displacements.tsv",
    log:
        log("import_checkpoint/seed{seed}/{task}-{init}"),
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["light"]
    resources:
        **config["resources"]["light"],
    params:
        model=MODEL,
        task=task_params,
        eval_batch_tokens=config["eval"]["batch_tokens"],
        ref=lambda wc: IMPORTED.get((wc.task, wc.init)),
        key=lambda wc: f"tasks.{wc.task}.{imp.KEYS.get(wc.init)}",
        epochs=lambda wc: cfg.epochs(config, wc.task, wc.init),
        seed=seed_param,
    script:
        "../scripts/import_checkpoint.py"


for gid, members in TRAIN_GROUPS.items():

    rule:
        name:
            f"train_group_{gid}"
        input:
            **group_inputs(members),
            model=MODEL_ID,
            code=code_id("train_group.py"),
        output:
            **group_outputs(members),
        log:
            log(f"train_group/{gid}"),
        benchmark:
            bench(f"train_group/{gid}")
        conda:
            "../../envs/torch.yaml"
        threads: config["threads"]["train"]
        resources:
            **config["resources"]["train"],
        params:
            model=MODEL,
            runs=[run_params(*r) for r in members],
            eval_batch_tokens=config["eval"]["batch_tokens"],
            storage=config["train"]["intermediate_checkpoints"],
            keep=config["train"]["keep_intermediate"],
            last=config["train"]["last_checkpoint"],
        script:
            "../scripts/train_group.py"
