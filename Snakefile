# bertscape: Hao et al. (EMNLP 2019), "Visualizing and Understanding the Effectiveness of BERT",
# as a Snakemake workflow. `snakemake -n` plans everything; see README.md.


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/directions.smk"
include: "workflow/rules/surfaces.smk"
include: "workflow/rules/points.smk"
include: "workflow/rules/trajectories.smk"
include: "workflow/rules/layers.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/views.smk"
include: "workflow/rules/filternorm.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_figures(),
        all_views(),
        f"{R}/summary.md",


onsuccess:
    summary_md = Path(f"{R}/summary.md")
    if summary_md.exists():
        print(
            f"\n{summary_md.read_text()}\nAll outputs are under {R}/ (figures in {R}/figures/). "
            f"HTML report: rerun the same command with --report {R}/report.html"
        )
    claims_json = Path(f"{R}/claims/claims.json")
    if claims_json.exists():  # every failed claim precondition, last thing on screen
        from bertscape.io import read_json
        from bertscape.preconditions import warning

        text = warning(read_json(claims_json).get("preconditions", []))
        if text:
            print(f"\n{text}", file=sys.stderr)
