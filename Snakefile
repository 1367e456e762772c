# bertscape: Hao et al. (EMNLP 2019), "Visualizing and Understanding the Effectiveness of BERT",
# as a Snakemake workflow. `snakemake -n` plans everything; see README.md.

report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/directions.smk"
include: "workflow/rules/surfaces.smk"
include: "workflow/rules/trajectories.smk"
include: "workflow/rules/layers.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_figures(),
        f"{R}/summary.md",
    default_target: True


onsuccess:
    summary_md = Path(f"{R}/summary.md")
    if summary_md.exists():
        print("\n" + summary_md.read_text() + f"\nAll outputs are under {R}/ (figures in {R}/figures/). "
              f"HTML report: rerun the same command with --report {R}/report.html")
    claims_json = Path(f"{R}/claims/claims.json")
    if claims_json.exists():  # every failed claim precondition, last thing on screen
        from bertscape.io import read_json
        from bertscape.preconditions import warning

        text = warning(read_json(claims_json).get("preconditions", []))
        if text:
            print("\n" + text, file=sys.stderr)
