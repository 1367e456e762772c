"""All nine GLUE tasks (files in GLUE's exact formats, real rows, the hub path on a local dataset) and
custom tasks from the config (csv / tsv / jsonl / hub), with one-line errors naming file and line or key."""
import copy
import json
import logging

import pytest
from conftest import SHARED_GLUE
from test_glue import _class_label, _one_line_error, make_local_hub_repo

from bertscape import BertscapeError
from bertscape.config import validate
from bertscape.data import TASKS, task_spec
from bertscape.data.custom import load_custom
from bertscape.data.glue import load_glue_dir, load_hub
from bertscape.data.prepare import prepare

# GLUE download-script formats of the tasks not in ../shared/glue (header lines exactly as GLUE's files)
COLA = ("gj04\t1\t\tOur friends won't buy this analysis, let alone the next one we propose.\n"
        "gj04\t0\t*\tThey drank the pub.\n"
        "cj99\t1\t\tHe said \"no\" twice.\n")
QQP = ("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
       "0\t1\t2\tWhat is the step by step guide to invest in share market in india?\t"
       "What is the step by step guide to invest in share market?\t0\n"
       "1\t3\t4\tHow can I be a good geologist?\tWhat should I do to be a great geologist?\t1\n"
       "2\t5\t6\tHow do I read and find my YouTube comments?\t\t0\n"          # empty question2
       "3\t7\t8\tWhy \"quotes\"?\n"                                            # a short row
       "4\t9\t10\tWhat is \"x\"?\tWhat's x?\t1\n")
STSB = ("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air plane is taking off.\t5.000\n"
        "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man is playing a large flute.\tA man is playing a flute.\t3.800\n"
        "2\tmain-forum\tdeft-forum\t2014\t0010\tnone\tnone\tI don't \"think\" so.\tNo.\t0.0\n")
QNLI = ("index\tquestion\tsentence\tlabel\n"
        "0\tWhen did the third Digimon series begin?\tUnlike the two seasons before it, it was darker.\tnot_entailment\n"
        "1\tWhat is in front of the Notre Dame Main Building?\tImmediately in front of it is a copper statue.\tentailment\n")
WNLI = ("index\tsentence1\tsentence2\tlabel\n"
        "0\tI stuck a pin through a carrot. When I pulled the pin out, it had a hole.\tThe carrot had a hole.\t1\n"
        "1\tJohn couldn't see the stage with Billy in front of him because he is so short.\tJohn is so short.\t1\n"
        "2\tThe police arrested all of the gang members.\tThe police were trying to stop the drug trade.\t0\n")
MNLI_MM = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
           "sentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n"
           "0\t75290\t75290c\tletters\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tYour contribution helped.\t"
           "Your contributions were of no help.\tcontradiction\tcontradiction\tcontradiction\tcontradiction\t"
           "contradiction\tcontradiction\n")


def _glue(root, files: dict):
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def test_nine_glue_tasks_known_with_glue_metrics():
    assert list(TASKS) == ["CoLA", "SST-2", "MRPC", "QQP", "STS-B", "MNLI", "QNLI", "RTE", "WNLI"]
    assert {t: s.report for t, s in TASKS.items() if s.report != ("acc",)} == {
        "CoLA": ("mcc",), "MRPC": ("f1", "acc"), "QQP": ("f1", "acc"), "STS-B": ("pearson", "spearman")}
    assert TASKS["STS-B"].regression and TASKS["STS-B"].num_labels == 1 and TASKS["MNLI"].num_labels == 3


def test_glue_formats_of_the_other_tasks(tmp_path, caplog):
    g = _glue(tmp_path, {"CoLA/train.tsv": COLA, "CoLA/dev.tsv": COLA, "QQP/train.tsv": QQP, "STS-B/dev.tsv": STSB,
                         "QNLI/dev.tsv": QNLI, "WNLI/train.tsv": WNLI, "MNLI/dev_mismatched.tsv": MNLI_MM})
    cola = load_glue_dir(g, "CoLA", "train")  # no header: the first line is an example
    assert [(r["text_a"], r["label"]) for r in cola] == [
        ("Our friends won't buy this analysis, let alone the next one we propose.", 1), ("They drank the pub.", 0),
        ('He said "no" twice.', 1)]
    with caplog.at_level(logging.WARNING, logger="bertscape.data"):
        qqp = load_glue_dir(g, "QQP", "train")
    assert [r["idx"] for r in qqp] == [0, 1, 2] and [r["label"] for r in qqp] == [0, 1, 1]
    assert qqp[2]["text_a"] == 'What is "x"?'
    assert "skipped 2 incomplete row(s)" in caplog.text and "train.tsv:4" in caplog.text
    sts = load_glue_dir(g, "STS-B", "dev")
    assert [r["label"] for r in sts] == [5.0, 3.8, 0.0] and all(isinstance(r["label"], float) for r in sts)
    assert sts[2]["text_a"] == 'I don\'t "think" so.'
    assert [r["label"] for r in load_glue_dir(g, "QNLI", "dev")] == [1, 0]
    assert [r["label"] for r in load_glue_dir(g, "WNLI", "train")] == [1, 1, 0]
    mm = load_glue_dir(g, "MNLI", "dev", mnli_dev="mismatched")
    assert mm == [{"idx": 0, "text_a": "Your contribution helped.", "text_b": "Your contributions were of no help.",
                   "label": 2}]


@pytest.mark.parametrize("task, name, text, where, what", [
    ("CoLA", "train.tsv", COLA + "gj04\t1\tjust three fields\n", "train.tsv:4", "3 tab-separated fields, expected 4"),
    ("STS-B", "dev.tsv", STSB.replace("\t3.800\n", "\tthree\n"), "dev.tsv:3", "not a finite number"),
    ("STS-B", "dev.tsv", STSB.replace("\t3.800\n", "\t5.2\n"), "dev.tsv:3", "outside [0, 5]"),
    ("QNLI", "dev.tsv", QNLI.replace("\tentailment\n", "\tentails\n"), "dev.tsv:3", "not one of QNLI's labels"),
    ("WNLI", "dev.tsv", WNLI.replace("drug trade.\t0", "drug trade.\t"), "dev.tsv:4", "label ''"),
    ("QQP", "dev.tsv", QQP.replace("\t1\n", "\tyes\n", 1), "dev.tsv:3", "not one of QQP's labels"),
])
def test_malformed_glue_row_is_one_line_naming_file_and_line(tmp_path, task, name, text, where, what):
    g = _glue(tmp_path, {f"{task}/{name}": text})
    with pytest.raises(BertscapeError) as e:
        load_glue_dir(g, task, name.split(".")[0])
    msg = _one_line_error(e)
    assert f"{task}/{where}" in msg and what in msg, msg


@pytest.fixture(scope="module")
def real_glue():
    if not SHARED_GLUE.is_dir():
        pytest.skip("../shared/glue is absent")
    return SHARED_GLUE


def test_real_rows_through_prepare(real_glue):
    """The four real tasks through the pipeline's own entry point, capped like a config would."""
    p = {"source": "glue_dir", "glue_dir": str(real_glue), "max_train": 50, "max_dev": 20, "seed": 3}
    for task in ("SST-2", "MRPC", "RTE", "MNLI"):
        train, dev = prepare(task, p)
        assert len(train) == min(50, len(load_glue_dir(real_glue, task, "train"))) and 0 < len(dev) <= 20
        assert {r["label"] for r in train} <= set(range(task_spec(task).num_labels))
    with pytest.raises(BertscapeError, match="dev_mismatched.tsv: file not found"):  # the sample has no mismatched dev
        prepare("MNLI", {**p, "mnli_dev": "mismatched"})


HUB_MORE = {
    "cola": {"features": [("sentence", "string"), ("label", _class_label("unacceptable", "acceptable")), ("idx", "int32")],
             "splits": {"train": {"sentence": ["ok", "bad one"], "label": [1, 0]},
                        "validation": {"sentence": ["fine"], "label": [1]}}},
    "qqp": {"features": [("question1", "string"), ("question2", "string"),
                         ("label", _class_label("not_duplicate", "duplicate")), ("idx", "int32")],
            "splits": {"train": {"question1": ["q1"], "question2": ["q2"], "label": [1]},
                       "validation": {"question1": ["a", "b"], "question2": ["c", "d"], "label": [0, 1]}}},
    "stsb": {"features": [("sentence1", "string"), ("sentence2", "string"), ("label", "float32"), ("idx", "int32")],
             "splits": {"train": {"sentence1": ["x", "y"], "sentence2": ["x", "z"], "label": [5.0, 0.25]},
                        "validation": {"sentence1": ["u"], "sentence2": ["v"], "label": [2.5]}}},
    "qnli": {"features": [("question", "string"), ("sentence", "string"),
                          ("label", _class_label("entailment", "not_entailment")), ("idx", "int32")],
             "splits": {"train": {"question": ["q"], "sentence": ["s"], "label": [1]},
                        "validation": {"question": ["q"], "sentence": ["s"], "label": [0]}}},
    "wnli": {"features": [("sentence1", "string"), ("sentence2", "string"),
                          ("label", _class_label("not_entailment", "entailment")), ("idx", "int32")],
             "splits": {"train": {"sentence1": ["p"], "sentence2": ["h"], "label": [1]},
                        "validation": {"sentence1": ["p"], "sentence2": ["h"], "label": [0]}}},
    "mnli": {"features": [("premise", "string"), ("hypothesis", "string"),
                          ("label", _class_label("entailment", "neutral", "contradiction")), ("idx", "int32")],
             "splits": {"train": {"premise": ["a"], "hypothesis": ["b"], "label": [0]},
                        "validation_matched": {"premise": ["m"], "hypothesis": ["n"], "label": [2]},
                        "validation_mismatched": {"premise": ["mm"], "hypothesis": ["nn"], "label": [1]}}},
}


def test_hub_path_for_the_other_tasks(tmp_path):
    repo = make_local_hub_repo(tmp_path / "glue", HUB_MORE)
    load = lambda t, s, **kw: load_hub(t, s, dataset=str(repo), cache_dir=tmp_path / "cache", **kw)  # noqa: E731
    assert [r["label"] for r in load("CoLA", "train")] == [1, 0]  # acceptable -> "1"
    assert [(r["text_a"], r["text_b"], r["label"]) for r in load("QQP", "dev")] == [("a", "c", 0), ("b", "d", 1)]
    assert [r["label"] for r in load("STS-B", "train")] == [5.0, 0.25]
    assert load("QNLI", "train")[0]["label"] == 1  # not_entailment
    assert load("WNLI", "train")[0]["label"] == 1 and load("WNLI", "dev")[0]["label"] == 0  # 1 = entailment
    assert load("MNLI", "dev")[0]["text_a"] == "m"
    assert load("MNLI", "dev", mnli_dev="mismatched") == [{"idx": 0, "text_a": "mm", "text_b": "nn", "label": 1}]


# ------------------------------------------------------------------------------------- custom tasks


def _files(d, ext, train: str, dev: str):
    d.mkdir(parents=True, exist_ok=True)
    (d / f"train.{ext}").write_text(train, encoding="utf-8")
    (d / f"dev.{ext}").write_text(dev, encoding="utf-8")
    return d


CSV = 'id,text,other,y\n1,"a, quoted ""one""",b,pos\n2,plain,c,neg\n'
TSV = 'text\tother\ty\na "quoted" one\tb\t0.5\nplain\tc\t4\n'
JSONL = '{"text": "a", "other": "b", "y": 1}\n\n{"text": "c", "other": "d", "y": 0}\n'


def test_custom_csv_tsv_jsonl_in_the_prepared_format(tmp_path):
    c = {"source": "csv", "path": str(_files(tmp_path / "c", "csv", CSV, CSV)), "text_a": "text", "label": "y",
         "labels": ["neg", "pos"]}
    assert load_custom("Mine", c, "train") == [{"idx": 0, "text_a": 'a, quoted "one"', "text_b": None, "label": 1},
                                               {"idx": 1, "text_a": "plain", "text_b": None, "label": 0}]
    t = {"source": "tsv", "path": str(_files(tmp_path / "t", "tsv", TSV, TSV)), "text_a": "text", "text_b": "other",
         "label": "y", "regression": True}
    assert load_custom("Sim", t, "dev") == [{"idx": 0, "text_a": 'a "quoted" one', "text_b": "b", "label": 0.5},
                                            {"idx": 1, "text_a": "plain", "text_b": "c", "label": 4.0}]
    j = {"source": "jsonl", "path": str(_files(tmp_path / "j", "jsonl", JSONL, JSONL)), "text_a": "text",
         "text_b": "other", "label": "y", "labels": [0, 1], "metric": "f1", "dev_split": "dev"}
    assert [r["label"] for r in load_custom("J", j, "train")] == [1, 0]
    assert task_spec("J", {"J": j}).report == ("f1", "acc") and task_spec("Sim", {"Sim": t}).metric == "pearson"


@pytest.mark.parametrize("ext, train, key, what", [
    ("csv", "id,text\n1,a\n", "train.csv:1", "missing column(s) 'y'"),
    ("csv", CSV + "3,more,d,meh\n", "train.csv:4", "label 'meh' is not one of Mine's labels"),
    ("csv", CSV + '3,"broken,d\n', "train.csv", "fields"),
    ("csv", "id,text,other,y\n", "train.csv", "no examples"),
    ("jsonl", JSONL + '{"text": "x"}\n', "train.jsonl:4", "missing column(s) 'y'"),
    ("jsonl", JSONL + "[1, 2]\n", "train.jsonl:4", "not a JSON object"),
    ("tsv", TSV + "x\ty\tlots\n", "train.tsv:4", "not a finite number"),
])
def test_custom_errors_name_file_and_line_and_write_nothing(tmp_path, ext, train, key, what):
    regression = ext == "tsv"
    good = {"csv": CSV, "jsonl": JSONL, "tsv": TSV}[ext]
    d = _files(tmp_path / "d", ext, train, good)
    c = {"source": ext, "path": str(d), "text_a": "text", "label": "y",
         **({"regression": True} if regression else {"labels": ["neg", "pos"] if ext == "csv" else [0, 1]})}
    out = tmp_path / "prepared"
    with pytest.raises(BertscapeError) as e:
        prepare("Mine", {"source": "hub", "custom": c, "max_train": None, "max_dev": None, "seed": 0})
    msg = _one_line_error(e)
    assert f"{d}/{key}" in msg and what in msg, msg
    assert not out.exists()


def test_custom_hub_task_through_load_dataset_on_a_local_directory(tmp_path):
    """A plain directory of csv files is a dataset for ``datasets.load_dataset`` (its splits: the file names)."""
    d = tmp_path / "ds"
    d.mkdir()
    (d / "train.csv").write_text("premise,hyp,score\np one,h one,0.5\np two,h two,1.5\n")
    (d / "validation.csv").write_text("premise,hyp,score\nq,r,2.0\n")
    c = {"source": "hub", "hub_dataset": str(d), "text_a": "premise", "text_b": "hyp", "label": "score",
         "regression": True}
    rows = prepare("Sim", {"source": "glue_dir", "custom": c, "max_train": None, "max_dev": None, "seed": 0,
                           "cache_dir": str(tmp_path / "cache")})
    assert rows == ([{"idx": 0, "text_a": "p one", "text_b": "h one", "label": 0.5},
                     {"idx": 1, "text_a": "p two", "text_b": "h two", "label": 1.5}],
                    [{"idx": 0, "text_a": "q", "text_b": "r", "label": 2.0}])
    with pytest.raises(BertscapeError) as e:
        load_custom("Sim", {**c, "dev_split": "test"}, "dev", tmp_path / "cache")
    assert "test" in _one_line_error(e)


def _cfg(tmp_path, **task):
    return {"results": str(tmp_path / "r"), "data": {"source": "synthetic"}, "layers": {"tasks": []},
            "train": {"long_run": {"task": None}},
            "tasks": {"SST-2": {"other_task": "Mine"}, "Mine": {"other_task": "SST-2", **task}}}


@pytest.mark.parametrize("task, key, what", [
    ({"source": "csv", "text_a": "t", "label": "y", "labels": ["a", "b"]}, "tasks.Mine.path", "required"),
    ({"source": "csv", "path": "/nonexistent/x", "text_a": "t", "label": "y", "labels": ["a", "b"]},
     "tasks.Mine.path", "does not exist"),
    ({"source": "hub", "text_a": "t", "label": "y", "labels": ["a", "b"]}, "tasks.Mine.hub_dataset", "required"),
    ({"source": "tsv", "path": "/", "text_a": "t", "label": "y", "labels": ["a", "b"]}, "tasks.Mine.path",
     "/train.tsv not found (train split)"),
    ({"source": "hub", "hub_dataset": "x/y", "label": "y", "labels": ["a", "b"]}, "tasks.Mine.text_a", "required"),
    ({"source": "hub", "hub_dataset": "x/y", "text_a": "t", "label": "y"}, "tasks.Mine.labels", "needs labels"),
    ({"source": "hub", "hub_dataset": "x/y", "text_a": "t", "label": "y", "labels": ["a", "b"], "regression": True},
     "tasks.Mine.labels", "regression task has no labels"),
    ({"source": "hub", "hub_dataset": "x/y", "text_a": "t", "label": "y", "regression": True, "metric": "acc"},
     "tasks.Mine.metric", "not a regression metric"),
    ({"source": "hub", "hub_dataset": "x/y", "text_a": "t", "label": "y", "labels": ["a", "b", "c"], "metric": "f1"},
     "tasks.Mine.metric", "exactly two labels"),
    ({"source": "xml"}, "tasks.Mine.source", "is not one of"),
    ({"labels": ["a", "b"]}, "tasks.Mine", "unknown task 'Mine'"),
])
def test_custom_task_config_errors_name_the_key(tmp_path, task, key, what):
    with pytest.raises(BertscapeError) as e:
        validate(_cfg(tmp_path, **task))
    msg = _one_line_error(e)
    assert msg.startswith(f"config key {key}") and what in msg, msg


def test_config_errors_for_builtin_tasks(tmp_path):
    c = _cfg(tmp_path, source="hub", hub_dataset="x/y", text_a="t", label="y", labels=["a", "b"])
    validate(copy.deepcopy(c))
    bad = copy.deepcopy(c)
    bad["tasks"]["SST-2"]["labels"] = ["0", "1"]
    with pytest.raises(BertscapeError, match=r"^config key tasks.SST-2.labels: only for a custom task"):
        validate(bad)
    bad = copy.deepcopy(c)
    bad["tasks"]["CoLA"] = bad["tasks"].pop("SST-2")
    bad["tasks"]["Mine"]["other_task"] = "CoLA"
    with pytest.raises(BertscapeError, match=r"^config key tasks.CoLA: synthetic data exists only for"):
        validate(bad)
    bad["data"]["source"] = "hub"
    validate(bad)
    bad["tasks"]["bad/name"] = {"other_task": "CoLA"}
    with pytest.raises(BertscapeError, match=r"^config key tasks: task name 'bad/name'"):
        validate(bad)


def test_tiny_custom_config_is_valid():
    from conftest import REPO
    from bertscape.config import read_yaml

    c = validate(read_yaml(REPO / "config" / "tiny-custom.yaml"))
    assert task_spec("Polarity", c["tasks"]).labels == ("neg", "pos") and task_spec("STS-B", c["tasks"]).regression
    json.dumps(c)


def test_readme_custom_task_example_validates_and_loads(tmp_path, monkeypatch):
    """The worked example in the README: its YAML validates, and files in the formats it shows load."""
    import re

    import yaml
    from conftest import REPO

    text = (REPO / "README.md").read_text()
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "Reviews:" in b)
    c = yaml.safe_load(block)
    monkeypatch.chdir(tmp_path)
    _files(tmp_path / "my_data" / "reviews", "csv", 'id,review,sentiment\n7,"Loud, ""fun"", short.",pos\n',
           "id,review,sentiment\n8,Dull.,neg\n")
    _files(tmp_path / "my_data" / "sim", "jsonl", '{"s1": "A man sings.", "s2": "A man is singing.", "score": 4.6}\n',
           '{"s1": "A cat.", "s2": "A car.", "score": 0.4}\n')
    c = validate({**c, "results": str(tmp_path / "r"), "train": {"long_run": {"task": None}}, "layers": {"tasks": []}})
    assert load_custom("Reviews", c["tasks"]["Reviews"], "train")[0] == {
        "idx": 0, "text_a": 'Loud, "fun", short.', "text_b": None, "label": 1}
    assert load_custom("Similarity", c["tasks"]["Similarity"], "dev")[0]["label"] == 0.4
    assert task_spec("Reviews", c["tasks"]).report == ("f1", "acc")
