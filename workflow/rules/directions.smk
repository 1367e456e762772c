# Stage 4 -- directions (§3.1-3.2): delta1 = theta1 - theta0 on the target task, delta2 =
# theta2 - theta0 from the same kind of run on another task, rescaled to ||delta1||.
# Encoder parameters only; the task head stays at theta1's learned values. Only their norms (the whole
# encoder's and the per-layer table), cosine and the scale of delta2 are stored: every job that needs the
# tensors recomputes them from the two runs' fp32 checkpoints (the same code, so bit-identical), which keeps
# 2 model sizes per run off disk.


rule directions:
    input:
        run=lambda wc: ckpt_dir(wc.task, wc.init, wc.seed),
        other=lambda wc: ckpt_dir(config["tasks"][wc.task]["other_task"], wc.init, wc.seed),
        model=MODEL_ID,
        code=code_id("directions.py"),
    output:
        stats=f"{R}/seed{{seed}}/directions/{{task}}/{{init}}.json",
        # the per-layer norm table of the run (bertscape.layernorms): C1's relative units and the claims page;
        # written here because this job already holds theta0 and theta1 (a job of its own was 5.6 s of start-up)
        norms=f"{R}/seed{{seed}}/norms/{{task}}/{{init}}.json",
    log:
        log("directions/seed{seed}/{task}-{init}"),
    wildcard_constraints:
        init="|".join(cfg.INITS),  # the main runs; a control's runs take directions_control (no norm table)
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["light"]
    resources:
        **config["resources"]["light"],
    params:
        model=MODEL,
        epochs=lambda wc: cfg.epochs(config, wc.task, wc.init),
        other_epochs=lambda wc: cfg.epochs(config, config["tasks"][wc.task]["other_task"], wc.init),
        other_task=lambda wc: config["tasks"][wc.task]["other_task"],
    script:
        "../scripts/directions.py"


# a control run (controls:) needs only the stats: no claim or page reads its norm table (4.4 s a job)
use rule directions as directions_control with:
    output:
        stats=f"{R}/seed{{seed}}/directions/{{task}}/{{init}}.json",
    log:
        log("directions/seed{seed}/{task}-{init}"),
    wildcard_constraints:
        init="|".join(ctl.CONTROLS),
