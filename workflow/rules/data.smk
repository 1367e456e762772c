# Stage 1 -- data: every source (synthetic, GLUE directory, hub, a custom task's files) writes the same prepared
# JSON-lines splits; tokenisation happens once per split and is cached as safetensors.
# Fetching from the hub runs on the login node (localrule): compute nodes have no internet.

localrules: prepare_data, fetch_model, model_identity


def data_params(task):
    """What decides the prepared rows. No paths: a GLUE directory or a custom task's files enter by content
    (source_files), and the script finds them, like the hub dataset cache, through the config."""
    d = config["data"]
    keep = {"source": d["source"], "max_train": d["max_train"], "max_dev": d["max_dev"], "seed": config["seed"]}
    t = config["tasks"][task]
    if is_custom(config["tasks"], task):  # a custom task brings its own source: only its own entry matters
        keep["custom"] = {k: t[k] for k in CUSTOM_KEYS if t.get(k) is not None and k != "path"}
        return keep
    if task == "MNLI" and d["source"] != "synthetic":
        keep["mnli_dev"] = d["mnli_dev"]
    if d["source"] == "synthetic":
        keep.update(synthetic_train=d["synthetic_train"], synthetic_dev=d["synthetic_dev"])
    elif d["source"] == "hub":
        keep.update(hub_dataset=d["hub_dataset"], hub_revision=d["hub_revision"])
    return keep


def source_files(wildcards):
    """The identity of the files a task's rows are read from (common.smk: by content, not by path or mtime,
    so moving or re-downloading identical files reruns nothing)."""
    return [data_id(wildcards.task)] if data_source_files(wildcards.task) else []


rule prepare_data:
    input:
        rows=source_files,
        code=lib("data/__init__.py", "data/synthetic.py", "data/glue.py", "data/custom.py", "data/prepare.py"),
    output:
        train=f"{R}/data/{{task}}/train.jsonl",
        dev=f"{R}/data/{{task}}/dev.jsonl",
    params:
        data=lambda wc: data_params(wc.task),
    log:
        log("prepare_data/{task}"),
    threads: 1
    script:
        "../scripts/prepare_data.py"


rule fetch_model:
    output:
        f"{config['resources_dir']}/models/{{name}}@{{revision}}/config.json",
    params:
        name=lambda wc: config["model"]["name"],
        revision=lambda wc: config["model"]["revision"],
    log:
        log("fetch_model/{name}@{revision}"),
    script:
        "../scripts/fetch_model.py"


if MODEL_HUB:  # a local or packaged model's identity is written at parse time (common.smk)

    rule model_identity:
        input:
            # as fetch_model's output names it (resources_dir as configured, often a shared absolute cache)
            str(hub_cache_path(config["resources_dir"], config["model"]["name"], config["model"]["revision"]) / "config.json"),
        output:
            MODEL_ID,
        log:
            log("model_identity/model"),
        script:
            "../scripts/model_identity.py"


rule tokenize:
    input:
        rows=f"{R}/data/{{task}}/{{split}}.jsonl",
        model=MODEL_ID,
        code=lib("data/__init__.py", "data/tokenize.py"),
    output:
        tokens(task="{task}", split="{split}"),
    params:
        max_length=config["model"]["max_length"],
    log:
        log("tokenize/{task}-{split}"),
    threads: config["threads"]["light"]
    resources:
        **config["resources"]["light"],
    script:
        "../scripts/tokenize.py"
