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
    log:
        log("scratch_init/init"),
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["light"]
    resources:
        **config["resources"]["light"],
    params:
        seed=config["seed"],
    script:
        "../scripts/scratch_init.py"


rule train:
    input:
        unpack(train_inputs),
        code=lib("modeling.py", "train.py", "landscape.py", "checkpoints.py", "metrics.py", "precision.py"),
    output:
        ckpts=directory(f"{R}/train/{{task}}/{{init}}/checkpoints"),
        steps=f"{R}/train/{{task}}/{{init}}/steps.tsv",
        epochs=f"{R}/train/{{task}}/{{init}}/epochs.tsv",
    log:
        log("train/{task}-{init}"),
    benchmark:
        bench("train/{task}-{init}")
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["train"]
    resources:
        **config["resources"]["train"],
    params:
        spec=lambda wc: cfg.train_params(config, wc.task, wc.init),
        first_epoch=lambda wc: config["tasks"][wc.task]["epochs_finetune"] if wc.init == "long" else 0,
        storage=config["train"]["intermediate_checkpoints"],
        seed=config["seed"],
    script:
        "../scripts/train.py"
