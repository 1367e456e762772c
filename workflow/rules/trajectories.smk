# Stage 7 -- optimisation trajectories (§3.3, eqs 3-5): every epoch projected onto (delta1, delta2)
# coordinates (Figures 3 and 4), from the inner products the train job measured
# (train/*/*/displacements.tsv). The long run (§5.3) is projected with the delta1 of its first,
# regular fine-tuning phase. Column err_bound: the largest possible error of d_alpha and d_beta due to
# fp16-delta storage of the epochs in between while the run trained (0 where fp32).


rule trajectory:
    input:
        unpack(trajectory_inputs),
        code=code_id("trajectory.py"),
    output:
        f"{R}/seed{{seed}}/trajectories/{{task}}/{{init}}.tsv",
    log:
        log("trajectory/seed{seed}/{task}-{init}"),
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["light"]
    resources:
        **config["resources"]["light"],
    script:
        "../scripts/trajectory.py"
