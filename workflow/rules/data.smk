# Stage 1 -- data: every source (synthetic, GLUE directory, hub, a custom task's files) writes the same prepared
# JSON-lines splits; tokenisation happens once per split and is cached as safetensors.
# Fetching from the hub runs on the login node (localrule): compute nodes have no internet.

localrules: prepare_data, fetch_model


def data_params(task):
    d = config["data"]
    keep = {"source": d["source"], "max_train": d["max_train"], "max_dev": d["max_dev"], "seed": config["seed"]}
    t = config["tasks"][task]
    if is_custom(config["tasks"], task):  # a custom task brings its own source: only its own entry matters
        custom = {k: t[k] for k in CUSTOM_KEYS if t.get(k) is not None}
        if "path" in custom:
            custom["path"] = str(Path(custom["path"]).resolve())
        keep["custom"] = custom
        if t["source"] == "hub":
            keep["cache_dir"] = f"{config['resources_dir']}/datasets"
        return keep
    if task == "MNLI" and d["source"] != "synthetic":
        keep["mnli_dev"] = d["mnli_dev"]
    if d["source"] == "synthetic":
        keep.update(synthetic_train=d["synthetic_train"], synthetic_dev=d["synthetic_dev"])
    elif d["source"] == "glue_dir":
        keep["glue_dir"] = str(Path(d["glue_dir"]).resolve())
    else:
        keep.update(hub_dataset=d["hub_dataset"], hub_revision=d["hub_revision"],
                    cache_dir=f"{config['resources_dir']}/datasets")
    return keep


def source_files(wildcards):
    """The files a task's rows are read from (GLUE directory or a custom task's csv/tsv/jsonl)."""
    task = wildcards.task
    if is_custom(config["tasks"], task):
        from bertscape.data.custom import FILE_SOURCES, split_file

        t = config["tasks"][task]
        return [str(split_file(t, s)) for s in ("train", "dev")] if t["source"] in FILE_SOURCES else []
    if config["data"]["source"] != "glue_dir":
        return []
    from bertscape.data.glue import glue_file

    return [str(glue_file(config["data"]["glue_dir"], task, s, config["data"]["mnli_dev"])) for s in ("train", "dev")]


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


rule tokenize:
    input:
        rows=f"{R}/data/{{task}}/{{split}}.jsonl",
        model=model_files(),
        code=lib("data/__init__.py", "data/tokenize.py"),
    output:
        tokens(task="{task}", split="{split}"),
    params:
        model=config["model"]["name"],
        max_length=config["model"]["max_length"],
    log:
        log("tokenize/{task}-{split}"),
    threads: config["threads"]["light"]
    resources:
        **config["resources"]["light"],
    script:
        "../scripts/tokenize.py"
