"""GLUE loaders: the TSV directory of GLUE's download script and the hub path via ``datasets``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from bertscape import BertscapeError
from bertscape.data import TASKS
from bertscape.data.glue import load_glue_dir, load_hub

SHARED_GLUE = Path(__file__).resolve().parents[1].parent / "shared" / "glue"

# rows without header, per ../shared/glue/README.md
REAL_COUNTS = {
    ("SST-2", "train"): 67349, ("SST-2", "dev"): 872,
    ("MRPC", "train"): 3667, ("MRPC", "dev"): 408,
    ("RTE", "train"): 2490, ("RTE", "dev"): 277,
    ("MNLI", "train"): 48, ("MNLI", "dev"): 5,
}


def _one_line_error(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg, msg
    return msg


# ------------------------------------------------------------------------- real GLUE rows


@pytest.fixture(scope="module")
def real_glue() -> Path:
    if not (SHARED_GLUE / "README.md").is_file():
        pytest.skip(f"real GLUE rows not available at {SHARED_GLUE}")
    return SHARED_GLUE


@pytest.mark.parametrize("task,split", sorted(REAL_COUNTS))
def test_real_glue_rows(real_glue, task, split):
    rows = load_glue_dir(real_glue, task, split)
    spec = TASKS[task]
    assert len(rows) == REAL_COUNTS[task, split]
    assert [r["idx"] for r in rows] == list(range(len(rows)))
    labels = Counter(r["label"] for r in rows)
    assert set(labels) == set(range(len(spec.labels)))  # every class present, nothing else
    for r in rows:
        assert set(r) == {"idx", "text_a", "text_b", "label"}
        assert isinstance(r["text_a"], str) and r["text_a"]
        assert "\ufeff" not in r["text_a"] and "\t" not in r["text_a"] and "\n" not in r["text_a"]
        if spec.pair:
            assert isinstance(r["text_b"], str) and r["text_b"]
            assert "\ufeff" not in r["text_b"] and "\t" not in r["text_b"] and "\n" not in r["text_b"]
        else:
            assert r["text_b"] is None


def test_real_glue_known_rows(real_glue):
    mrpc = load_glue_dir(real_glue, "MRPC", "train")
    # BOM stripped from the header, so 'Quality' is found; first row read verbatim, quotes kept
    assert mrpc[0] == {
        "idx": 0,
        "text_a": 'Amrozi accused his brother , whom he called " the witness " , of deliberately distorting his evidence .',
        "text_b": 'Referring to him as only " the witness " , Amrozi accused his brother of deliberately distorting his evidence .',
        "label": 1,
    }
    assert Counter(r["label"] for r in load_glue_dir(real_glue, "MRPC", "dev")) == {1: 279, 0: 129}
    mrpc_dev = load_glue_dir(real_glue, "MRPC", "dev")
    assert mrpc_dev[0]["text_b"].startswith('" The foodservice pie business')  # leading quote kept

    sst = load_glue_dir(real_glue, "SST-2", "train")
    assert sst[0]["text_a"].strip() == "hide new secretions from the parental units" and sst[0]["label"] == 0
    assert Counter(r["label"] for r in sst) == {1: 37569, 0: 29780}

    rte = load_glue_dir(real_glue, "RTE", "train")
    assert rte[0]["text_b"] == "Weapons of Mass Destruction Found in Iraq."
    assert rte[0]["label"] == TASKS["RTE"].labels.index("not_entailment")
    assert sum('"' in r["text_a"] + r["text_b"] for r in rte) > 100  # quotes survive (no CSV quoting)

    # MNLI: 12 columns in train, 16 in dev; text and gold label picked by header name
    mnli_train = load_glue_dir(real_glue, "MNLI", "train")
    assert mnli_train[0]["text_a"] == "That's all right." and mnli_train[0]["text_b"] == "That's fine."
    assert Counter(r["label"] for r in mnli_train) == {0: 16, 1: 16, 2: 16}
    mnli_dev = load_glue_dir(real_glue, "MNLI", "dev")
    assert mnli_dev[0]["text_a"] == "The new rights are nice enough"
    assert mnli_dev[0]["label"] == TASKS["MNLI"].labels.index("neutral")
    assert not any("(" in r["text_a"] for r in mnli_dev)  # not the parse columns


# ------------------------------------------------------------------- small written files


def _write(root: Path, task: str, name: str, text: str | bytes) -> Path:
    path = root / task / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def test_bom_quotes_crlf_and_column_order(tmp_path):
    _write(tmp_path, "MRPC", "dev.tsv",
           "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n"
           '1\t1\t2\tHe said " hi " .\t" Hi , " he said .\r\n'
           "0\t3\t4\tA 'b' c\tD \"e\r\n")
    rows = load_glue_dir(tmp_path, "MRPC", "dev")
    assert rows == [
        {"idx": 0, "text_a": 'He said " hi " .', "text_b": '" Hi , " he said .', "label": 1},
        {"idx": 1, "text_a": "A 'b' c", "text_b": 'D "e', "label": 0},
    ]
    # MNLI dev: columns chosen by name, wherever they are; dev file is dev_matched.tsv
    _write(tmp_path, "MNLI", "dev_matched.tsv",
           "gold_label\tlabel1\tsentence2\tindex\tsentence1\n"
           "contradiction\tneutral\tB0\t0\tA0\n"
           "entailment\tentailment\tB1\t1\tA1\n\n")  # trailing blank line is ignored
    rows = load_glue_dir(tmp_path, "MNLI", "dev")
    assert [(r["text_a"], r["text_b"], r["label"]) for r in rows] == [("A0", "B0", 2), ("A1", "B1", 0)]


def test_missing_column_names_column_and_file(tmp_path):
    path = _write(tmp_path, "RTE", "train.tsv", "index\tsentence1\tsentence2\tlbl\n0\ta\tb\tentailment\n")
    with pytest.raises(BertscapeError) as e:
        load_glue_dir(tmp_path, "RTE", "train")
    msg = _one_line_error(e)
    assert f"{path}:1" in msg and "'label'" in msg


def test_malformed_row_names_file_and_line(tmp_path):
    path = _write(tmp_path, "SST-2", "train.tsv", "sentence\tlabel\ngood\t1\nbad row without a tab\nok\t0\n")
    with pytest.raises(BertscapeError) as e:
        load_glue_dir(tmp_path, "SST-2", "train")
    msg = _one_line_error(e)
    assert f"{path}:3:" in msg and "fields" in msg
    path = _write(tmp_path, "SST-2", "dev.tsv", "sentence\tlabel\na\t1\textra\n")
    with pytest.raises(BertscapeError, match=f"{path}:2:"):
        load_glue_dir(tmp_path, "SST-2", "dev")


def test_bad_label_names_file_and_line(tmp_path):
    path = _write(tmp_path, "RTE", "dev.tsv",
                  "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tc\td\tmaybe\n")
    with pytest.raises(BertscapeError) as e:
        load_glue_dir(tmp_path, "RTE", "dev")
    msg = _one_line_error(e)
    assert f"{path}:3:" in msg and "'maybe'" in msg
    path = _write(tmp_path, "MNLI", "train.tsv", "sentence1\tsentence2\tgold_label\na\tb\t-\n")
    with pytest.raises(BertscapeError, match=f"{path}:2:"):
        load_glue_dir(tmp_path, "MNLI", "train")


def test_empty_file_header_only_and_bad_encoding(tmp_path):
    path = _write(tmp_path, "SST-2", "train.tsv", "")
    with pytest.raises(BertscapeError) as e:
        load_glue_dir(tmp_path, "SST-2", "train")
    assert str(path) in _one_line_error(e) and "empty" in str(e.value)
    path = _write(tmp_path, "SST-2", "dev.tsv", "sentence\tlabel\n")
    with pytest.raises(BertscapeError) as e:
        load_glue_dir(tmp_path, "SST-2", "dev")
    assert str(path) in _one_line_error(e) and "no examples" in str(e.value)
    path = _write(tmp_path, "RTE", "dev.tsv", b"index\tsentence1\tsentence2\tlabel\n0\ta\xff\tb\tentailment\n")
    with pytest.raises(BertscapeError, match=f"{path}:2:.*UTF-8"):
        load_glue_dir(tmp_path, "RTE", "dev")


def test_missing_dir_task_dir_file_and_bad_split(tmp_path):
    with pytest.raises(BertscapeError) as e:
        load_glue_dir(tmp_path / "nope", "RTE", "train")
    assert str(tmp_path / "nope") in _one_line_error(e)
    with pytest.raises(BertscapeError, match="RTE"):
        load_glue_dir(tmp_path, "RTE", "train")
    (tmp_path / "MNLI").mkdir()
    _write(tmp_path, "MNLI", "dev.tsv", "sentence1\tsentence2\tgold_label\na\tb\tneutral\n")
    with pytest.raises(BertscapeError) as e:  # MNLI dev must be dev_matched.tsv
        load_glue_dir(tmp_path, "MNLI", "dev")
    assert "dev_matched.tsv" in _one_line_error(e)
    with pytest.raises(BertscapeError, match="split"):
        load_glue_dir(tmp_path, "MNLI", "test")
    with pytest.raises(BertscapeError, match="unknown task"):
        load_glue_dir(tmp_path, "QQQ", "train")


# --------------------------------------------------------- hub path, on a local dataset repo


def _class_label(*names):
    return {"class_label": {"names": {str(i): n for i, n in enumerate(names)}}}


# The layout of nyu-mll/glue on the hub: <config>/<split>-00000-of-00001.parquet plus a README
# whose YAML declares `configs` (data files per split) and `dataset_info` (ClassLabel names).
HUB_SPEC = {
    "sst2": {
        "features": [("sentence", "string"), ("label", _class_label("negative", "positive")), ("idx", "int32")],
        "splits": {
            "train": {"sentence": ["a fine film ", "dull"], "label": [1, 0]},
            "validation": {"sentence": ['it " works "', "unlabelled", "meh"], "label": [1, -1, 0]},
        },
    },
    "mrpc": {
        "features": [("sentence1", "string"), ("sentence2", "string"),
                     ("label", _class_label("not_equivalent", "equivalent")), ("idx", "int32")],
        "splits": {
            "train": {"sentence1": ["s1", "s2"], "sentence2": ["t1", "t2"], "label": [0, 1]},
            "validation": {"sentence1": ["u1"], "sentence2": ["v1"], "label": [1]},
        },
    },
    "rte": {
        "features": [("sentence1", "string"), ("sentence2", "string"),
                     ("label", _class_label("entailment", "not_entailment")), ("idx", "int32")],
        "splits": {
            "train": {"sentence1": ["p"], "sentence2": ["h"], "label": [1]},
            "validation": {"sentence1": ["p2", "p3"], "sentence2": ["h2", "h3"], "label": [0, 1]},
        },
    },
    "mnli": {
        "features": [("premise", "string"), ("hypothesis", "string"),
                     ("label", _class_label("entailment", "neutral", "contradiction")), ("idx", "int32")],
        "splits": {
            "train": {"premise": ["a", "b", "c"], "hypothesis": ["x", "y", "z"], "label": [0, 1, 2]},
            "validation_matched": {"premise": ['He said "no".', "q"], "hypothesis": ["h", "r"], "label": [2, 0]},
            "validation_mismatched": {"premise": ["m"], "hypothesis": ["n"], "label": [1]},
        },
    },
}


def make_local_hub_repo(root: Path, spec: dict) -> Path:
    """Write a dataset repo the way the hub stores one; plain pyarrow parquet (no HF schema
    metadata), so the ClassLabel names can only come from the README's ``dataset_info``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    configs, infos = [], []
    for config, c in spec.items():
        (root / config).mkdir(parents=True, exist_ok=True)
        data_files = []
        for split, cols in c["splits"].items():
            n = len(cols["label"])
            ltype = pa.float64() if any(isinstance(x, float) for x in cols["label"]) else pa.int64()
            table = {k: pa.array(v, ltype if k == "label" else pa.string()) for k, v in cols.items()}
            table["idx"] = pa.array(range(n), pa.int32())
            pq.write_table(pa.table(table), root / config / f"{split}-00000-of-00001.parquet")
            data_files.append({"split": split, "path": f"{config}/{split}-*"})
        configs.append({"config_name": config, "data_files": data_files})
        infos.append({"config_name": config,
                      "features": [{"name": k, "dtype": t} for k, t in c["features"]]})
    card = yaml.safe_dump({"dataset_info": infos, "configs": configs}, sort_keys=False)
    (root / "README.md").write_text(f"---\n{card}---\n# local copy of a GLUE-like dataset\n")
    return root


@pytest.fixture(scope="module")
def local_hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    return make_local_hub_repo(root / "glue", HUB_SPEC), root / "cache"


def test_hub_path_on_local_repo(local_hub):
    repo, cache = local_hub
    load = lambda task, split: load_hub(task, split, dataset=str(repo), cache_dir=cache)  # noqa: E731

    # MNLI dev is validation_matched (not mismatched); ClassLabel ints -> task label names
    assert load("MNLI", "dev") == [
        {"idx": 0, "text_a": 'He said "no".', "text_b": "h", "label": 2},
        {"idx": 1, "text_a": "q", "text_b": "r", "label": 0},
    ]
    assert [r["label"] for r in load("MNLI", "train")] == [0, 1, 2]
    # SST-2 negative/positive -> "0"/"1"; the -1 (unlabelled) row is dropped, idx is the hub position
    assert load("SST-2", "dev") == [
        {"idx": 0, "text_a": 'it " works "', "text_b": None, "label": 1},
        {"idx": 2, "text_a": "meh", "text_b": None, "label": 0},
    ]
    assert load("SST-2", "train")[0] == {"idx": 0, "text_a": "a fine film ", "text_b": None, "label": 1}
    # MRPC not_equivalent/equivalent -> "0"/"1"
    assert [(r["text_a"], r["text_b"], r["label"]) for r in load("MRPC", "train")] == [("s1", "t1", 0), ("s2", "t2", 1)]
    assert load("MRPC", "dev") == [{"idx": 0, "text_a": "u1", "text_b": "v1", "label": 1}]
    # RTE names are the task's names
    assert [r["label"] for r in load("RTE", "dev")] == [0, 1]
    assert load("RTE", "train") == [{"idx": 0, "text_a": "p", "text_b": "h", "label": 1}]


def test_hub_errors_are_one_line(tmp_path):
    # config missing from the repo
    repo = make_local_hub_repo(tmp_path / "only_rte", {"rte": HUB_SPEC["rte"]})
    with pytest.raises(BertscapeError) as e:
        load_hub("MNLI", "train", dataset=str(repo), cache_dir=tmp_path / "cache")
    assert "mnli" in _one_line_error(e) and str(repo) in str(e.value)
    # nonexistent dataset path
    with pytest.raises(BertscapeError) as e:
        load_hub("RTE", "train", dataset=str(tmp_path / "absent"), cache_dir=tmp_path / "cache")
    _one_line_error(e)
    # ClassLabel names that do not map onto the task's labels
    bad = {"rte": {**HUB_SPEC["rte"], "features": [("sentence1", "string"), ("sentence2", "string"),
                                                  ("label", _class_label("yes", "no")), ("idx", "int32")]}}
    repo = make_local_hub_repo(tmp_path / "bad_names", bad)
    with pytest.raises(BertscapeError) as e:
        load_hub("RTE", "dev", dataset=str(repo), cache_dir=tmp_path / "cache")
    assert "ClassLabel" in _one_line_error(e)
    # wrong text column names
    renamed = {"mnli": {"features": [("sentence1", "string"), ("sentence2", "string"),
                                     ("label", _class_label("entailment", "neutral", "contradiction")),
                                     ("idx", "int32")],
                        "splits": {"train": {"sentence1": ["a"], "sentence2": ["b"], "label": [0]}}}}
    repo = make_local_hub_repo(tmp_path / "renamed", renamed)
    with pytest.raises(BertscapeError) as e:
        load_hub("MNLI", "train", dataset=str(repo), cache_dir=tmp_path / "cache")
    assert "'premise'" in _one_line_error(e)
