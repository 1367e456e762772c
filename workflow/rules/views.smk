# Stage 9b -- 3D views: every surface and layer surface as an interactive 3D page (plotly, plotly.js
# embedded: opens offline; in the HTML report under "3. 3D views") and as a VTK structured grid for
# ParaView. Same axes, colour scales and anchor markers as the 2D figures.


localrules:
    view3d,
    vtk_export,


rule view3d:
    input:
        data=view_inputs,
        code=code_id("view3d.py"),
    output:
        report(
            f"{R}/views/{{view}}_3d.html", caption="../report/view3d.rst", category="3. 3D views", labels=view_labels
        ),
    log:
        log("view3d/{view}"),
    wildcard_constraints:
        view="surfaces|layers",
    conda:
        "../../envs/plot.yaml"
    params:
        style={k: config["figures"][k] for k in ("cmap", "levels")},
    script:
        "../scripts/view3d.py"


rule vtk_export:
    input:
        data=lambda wc: f"{run_dir(DISPLAY)}/{wc.kind}/{wc.task}/{wc.name}.h5",
        code=code_id("vtk_export.py"),
    output:
        f"{R}/views/vtk/{{kind}}/{{task}}/{{name}}.vtk",
    log:
        log("vtk_export/{kind}-{task}-{name}"),
    wildcard_constraints:
        kind="surfaces|layers",
        name="|".join(map(re.escape, INITS + GROUPS)),
    conda:
        "../../envs/plot.yaml"
    params:
        height="train_loss",
    script:
        "../scripts/vtk_export.py"
