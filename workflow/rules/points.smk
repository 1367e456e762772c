# The nodes of a 2D surface the claims read, without the surface (bertscape.sparse): what a seed that draws no
# full surface evaluates. C1's region by the basin rule's flood fill started on an empty grid (every node it
# reaches and its rim, past the edge up to claims.basin_points; training subset only), C4's windows (within
# claims.window of (1, 0), and claims.theta1_window) and, for the long run's task, the cell around the long run's
# last point (C3), both with the dev set (a control run's rows read neither: its points are C1's region alone,
# with no dev set). The points grid has the surface's lattice, anchors and attributes, NaN
# where not evaluated.


rule points:
    input:
        unpack(points_inputs),
        code=code_id("points.py"),
    output:
        grid=f"{R}/seed{{seed}}/points/{{task}}/{{init}}.h5",
        basin=f"{R}/seed{{seed}}/points/{{task}}/{{init}}.basin.json",
    log:
        log("points/seed{seed}/{task}-{init}"),
    benchmark:
        bench("points/seed{seed}/{task}-{init}")
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["surface"]
    resources:
        **config["resources"]["surface"],
    params:
        **eval_params(),
        model=MODEL,
        task=task_params,
        axis=lambda wc: [config["grid"]["min"], config["grid"]["max"], config["grid"]["points"]],
        epochs=lambda wc: cfg.epochs(config, wc.task, wc.init),
        tau=config["claims"]["tau_loss"],
        budget=config["claims"]["basin_points"],
        window=lambda wc: None if wc.init in ctl.CONTROLS else config["claims"]["window"],  # a control: no C4
        theta1=lambda wc: None if wc.init in ctl.CONTROLS else config["claims"]["theta1_window"],
    script:
        "../scripts/points.py"
