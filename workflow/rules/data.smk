# Stage 1 -- data: every source (synthetic, GLUE directory, hub, a custom task's files) writes the same prepared
# JSON-lines splits; tokenisation happens once per split and is cached as safetensors.
# Fetching from the hub runs on the login node (localrule): compute nodes have no internet.


localrules:
    prepare_data,
    fetch_model,


rule prepare_data:
    input:
        rows=source_files,
        code=code_id("prepare_data.py"),
    output:
        train=f"{R}/data/seed{{seed}}/{{task}}/train.jsonl",
        dev=f"{R}/data/seed{{seed}}/{{task}}/dev.jsonl",
    log:
        log("prepare_data/seed{seed}/{task}"),
    conda:
        "../../envs/torch.yaml"
    threads: 1
    params:
        data=lambda wc: data_params(wc.task, wc.seed),
    script:
        "../scripts/prepare_data.py"


rule fetch_model:
    output:
        f"{config['resources_dir']}/models/{{name}}@{{revision}}/config.json",
    log:
        log("fetch_model/{name}@{revision}"),
    conda:
        "../../envs/torch.yaml"
    params:
        name=lambda wc: config["model"]["name"],
        revision=lambda wc: config["model"]["revision"],
    script:
        "../scripts/fetch_model.py"


if MODEL_HUB:  # a local or packaged model's identity is written at parse time (common.smk)

    rule model_identity:  # local (login node) like fetch_model; declared here: it exists only for hub models
        input:
            # as fetch_model's output names it (resources_dir as configured, often a shared absolute cache)
            str(
                hub_cache_path(config["resources_dir"], config["model"]["name"], config["model"]["revision"])
                / "config.json"
            ),
        output:
            MODEL_ID,
        log:
            log("model_identity/model"),
        localrule: True
        conda:
            "../../envs/plot.yaml"
        script:
            "../scripts/model_identity.py"


rule tokenize:
    input:
        rows=f"{R}/data/seed{{seed}}/{{task}}/{{split}}.jsonl",
        model=MODEL_ID,
        code=code_id("tokenize.py"),
    output:
        f"{R}/data/seed{{seed}}/{{task}}/{{split}}.tokens.safetensors",
    log:
        log("tokenize/seed{seed}/{task}-{split}"),
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]["light"]
    resources:
        **config["resources"]["light"],
    params:
        model=MODEL,
        max_length=config["model"]["max_length"],
    script:
        "../scripts/tokenize.py"
