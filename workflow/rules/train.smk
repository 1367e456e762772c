# Stage 2-3 -- init and train. One random encoder initialisation is shared by every scratch
# run (theta0 is the same point for all scratch tasks); each run keeps a checkpoint per epoch
# (epoch 0 = theta0) and logs the training loss per step and per epoch (Figure 2): theta0 and the
# last epoch in fp32, the epochs in between as fp16 deltas from theta0 (bertscape.checkpoints).


rule scratch_init:
    input:
        model=MODEL_ID,
        code=lib("modeling.py"),
    output:
        f"{R}/init/scratch.safetensors",
    params:
        seed=config["seed"],
    log:
        log("scratch_init/init"),
    threads: config["threads"]["light"]
    resources:
        **config["resources"]["light"],
    script:
        "../scripts/scratch_init.py"


def train_inputs(wildcards):
    inp = {"train": tokens(wildcards.task, "train"), "dev": tokens(wildcards.task, "dev"), "model": MODEL_ID}
    if wildcards.init == "scratch":
        inp["init"] = f"{R}/init/scratch.safetensors"
    if wildcards.init == "long":  # §5.3: continue the fine-tuned run for more epochs
        inp["start"] = ckpt_dir(wildcards.task, "finetune")
    return inp


rule train:
    input:
        unpack(train_inputs),
        code=lib("modeling.py", "train.py", "landscape.py", "checkpoints.py", "metrics.py", "precision.py"),
    output:
        ckpts=directory(f"{R}/train/{{task}}/{{init}}/checkpoints"),
        steps=f"{R}/train/{{task}}/{{init}}/steps.tsv",
        epochs=f"{R}/train/{{task}}/{{init}}/epochs.tsv",
    params:
        spec=lambda wc: cfg.train_params(config, wc.task, wc.init),
        first_epoch=lambda wc: config["tasks"][wc.task]["epochs_finetune"] if wc.init == "long" else 0,
        storage=config["train"]["intermediate_checkpoints"],
        seed=config["seed"],
    log:
        log("train/{task}-{init}"),
    benchmark:
        bench("train/{task}-{init}")
    threads: config["threads"]["train"]
    resources:
        **config["resources"]["train"],
    script:
        "../scripts/train.py"
