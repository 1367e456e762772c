"""GLUE sources: the plain TSV directory of GLUE's download script, and the Hugging Face hub.

Both return rows in the one prepared format (see :func:`bertscape.data.make_row`), in the
source's own order, with ``idx`` the 0-based position of the example in its split.

Directory layout (GLUE's ``download_glue_data.py``)::

    <glue_dir>/CoLA/{train,dev}.tsv           NO header: source  label  original-label  sentence
    <glue_dir>/SST-2/{train,dev}.tsv          sentence  label
    <glue_dir>/MRPC/{train,dev}.tsv           Quality  #1 ID  #2 ID  #1 String  #2 String  (UTF-8 BOM)
    <glue_dir>/QQP/{train,dev}.tsv            id  qid1  qid2  question1  question2  is_duplicate
    <glue_dir>/STS-B/{train,dev}.tsv          index genre filename year old_index source1 source2
                                              sentence1  sentence2  score (float in [0, 5])
    <glue_dir>/MNLI/{train,dev_matched,dev_mismatched}.tsv
                                              ... sentence1  sentence2 ... gold_label (12 / 16 columns)
    <glue_dir>/QNLI/{train,dev}.tsv           index  question  sentence  label
    <glue_dir>/RTE/{train,dev}.tsv            index  sentence1  sentence2  label
    <glue_dir>/WNLI/{train,dev}.tsv           index  sentence1  sentence2  label (0/1)

Columns are selected by header name, never by position (CoLA: by position, it has no header),
and fields are split on tabs with no CSV quoting (sentences contain quote characters). QQP's
files hold rows with missing or empty question fields; like GLUE's reference loaders we skip
those (counted in the job log); in every other task such a row is an error naming file and line.

Hub (``nyu-mll/glue`` by default): ``datasets.load_dataset(dataset, config, split=...)`` with
the configs of :data:`HUB_CONFIGS`; integer labels are mapped to the task's label names through
the split's ``ClassLabel`` feature (STS-B's label is a float). On compute nodes, set
``HF_DATASETS_OFFLINE=1`` (before ``datasets`` is imported) and point ``cache_dir`` at a cache
filled earlier by :func:`fetch_hub`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .. import BertscapeError
from . import TaskSpec, check_rows, make_row, task_spec

SPLITS = ("train", "dev")
MNLI_DEV = ("matched", "mismatched")
log = logging.getLogger("bertscape.data")

# task -> (text_a column, text_b column or None, label column) in the GLUE TSV files
TSV_COLUMNS: dict[str, tuple[str, str | None, str]] = {
    "CoLA": ("sentence", None, "label"),
    "SST-2": ("sentence", None, "label"),
    "MRPC": ("#1 String", "#2 String", "Quality"),
    "QQP": ("question1", "question2", "is_duplicate"),
    "STS-B": ("sentence1", "sentence2", "score"),
    "MNLI": ("sentence1", "sentence2", "gold_label"),
    "QNLI": ("question", "sentence", "label"),
    "RTE": ("sentence1", "sentence2", "label"),
    "WNLI": ("sentence1", "sentence2", "label"),
}
# files without a header line: the names of their columns, by position
NO_HEADER = {"CoLA": ("source", "label", "original_label", "sentence")}
SKIP_INCOMPLETE = {"QQP"}

HUB_DATASET = "nyu-mll/glue"
HUB_CONFIGS = {"CoLA": "cola", "SST-2": "sst2", "MRPC": "mrpc", "QQP": "qqp", "STS-B": "stsb", "MNLI": "mnli",
               "QNLI": "qnli", "RTE": "rte", "WNLI": "wnli"}
# task -> (text_a column, text_b column or None) on the hub
HUB_COLUMNS: dict[str, tuple[str, str | None]] = {
    "CoLA": ("sentence", None),
    "SST-2": ("sentence", None),
    "MRPC": ("sentence1", "sentence2"),
    "QQP": ("question1", "question2"),
    "STS-B": ("sentence1", "sentence2"),
    "MNLI": ("premise", "hypothesis"),
    "QNLI": ("question", "sentence"),
    "RTE": ("sentence1", "sentence2"),
    "WNLI": ("sentence1", "sentence2"),
}
# hub ClassLabel name -> task label name, where they differ (the GLUE TSV files' names)
HUB_LABEL_NAMES: dict[str, dict[str, str]] = {
    "CoLA": {"unacceptable": "0", "acceptable": "1"},
    "SST-2": {"negative": "0", "positive": "1"},
    "MRPC": {"not_equivalent": "0", "equivalent": "1"},
    "QQP": {"not_duplicate": "0", "duplicate": "1"},
    "WNLI": {"not_entailment": "0", "entailment": "1"},
}


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise BertscapeError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")


def _check_mnli_dev(mnli_dev: str) -> None:
    if mnli_dev not in MNLI_DEV:
        raise BertscapeError(f"config key data.mnli_dev: {mnli_dev!r} is not one of {list(MNLI_DEV)}")


def glue_file(glue_dir: str | os.PathLike, task: str, split: str, mnli_dev: str = "matched") -> Path:
    """The TSV file of one task and split in a GLUE directory (MNLI dev is ``dev_matched.tsv`` or
    ``dev_mismatched.tsv``)."""
    task_spec(task)
    _check_split(split)
    _check_mnli_dev(mnli_dev)
    name = f"dev_{mnli_dev}.tsv" if (task == "MNLI" and split == "dev") else f"{split}.tsv"
    return Path(glue_dir) / task / name


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BertscapeError(f"{where}: not valid UTF-8 ({e.reason} at byte {e.start})") from None


def _fields(raw: bytes, where: str, first: bool) -> list[str] | None:
    """One TSV line as its tab-separated fields; None for a blank line."""
    line = _decode(raw, where)
    if first:
        line = line.removeprefix("\ufeff")
    line = line.rstrip("\r\n")
    if not line.strip():
        return None
    return line.split("\t")


def read_tsv(path: Path, spec: TaskSpec, cols: tuple[str, str | None, str], names: tuple[str, ...] | None = None,
             skip_incomplete: bool = False) -> list[dict]:
    """Rows of a tab-separated file without quoting, columns by header name (or by ``names`` when the
    file has no header). ``skip_incomplete``: rows with missing or empty text/label fields are skipped
    (and counted) instead of being an error."""
    col_a, col_b, col_label = cols
    rows: list[dict] = []
    header: list[str] | None = list(names) if names else None
    skipped, first_skip = 0, None
    try:
        f = open(path, "rb")
    except OSError as e:
        raise BertscapeError(f"{path}: cannot read ({e.strerror})") from None
    seen_line, idx = False, None
    with f:
        for lineno, raw in enumerate(f, 1):
            where = f"{path}:{lineno}"
            fields = _fields(raw, where, first=not seen_line)
            seen_line = True
            if fields is None:
                continue
            if header is None:
                header = [h.strip() for h in fields]
                missing = [c for c in (col_a, col_b, col_label) if c is not None and c not in header]
                if missing:
                    raise BertscapeError(
                        f"{where}: missing column(s) {', '.join(repr(c) for c in missing)} "
                        f"for {spec.name} (header has {header})")
                continue
            if idx is None:
                idx = [header.index(c) if c is not None else None for c in cols]
            if len(fields) != len(header):
                if skip_incomplete and len(fields) < len(header):
                    skipped, first_skip = skipped + 1, first_skip or where
                    continue
                raise BertscapeError(
                    f"{where}: {len(fields)} tab-separated fields, {'the header has' if not names else 'expected'} "
                    f"{len(header)}")
            a, b, y = (fields[i] if i is not None else None for i in idx)
            if skip_incomplete and (not a or (col_b is not None and not b) or not y.strip()):
                skipped, first_skip = skipped + 1, first_skip or where
                continue
            rows.append(make_row(spec, len(rows), a, b, y, where))
    if header is None or (names and not seen_line):
        raise BertscapeError(f"{path}: empty file (no {'header ' if not names else ''}line)")
    if skipped:
        log.warning("%s: skipped %d incomplete row(s) (missing or empty fields; first at %s)", path, skipped, first_skip)
    return check_rows(rows, str(path))


def load_glue_dir(glue_dir: str | os.PathLike, task: str, split: str, mnli_dev: str = "matched") -> list[dict]:
    """Read one split of one task from a GLUE data directory, in file order."""
    spec = task_spec(task)
    _check_split(split)
    glue_dir = Path(glue_dir)
    if not glue_dir.is_dir():
        raise BertscapeError(f"{glue_dir}: GLUE directory not found")
    if not (glue_dir / task).is_dir():
        raise BertscapeError(f"{glue_dir / task}: task directory not found in the GLUE directory")
    path = glue_file(glue_dir, task, split, mnli_dev)
    if not path.is_file():
        raise BertscapeError(f"{path}: file not found")
    return read_tsv(path, spec, TSV_COLUMNS[task], NO_HEADER.get(task), task in SKIP_INCOMPLETE)


# ---------------------------------------------------------------------------------------- hub


def hub_config(task: str) -> str:
    task_spec(task)
    return HUB_CONFIGS[task]


def hub_split(task: str, split: str, mnli_dev: str = "matched") -> str:
    """The hub split name of a project split: ``dev`` is ``validation`` (MNLI: ``validation_matched`` or
    ``validation_mismatched``)."""
    task_spec(task)
    _check_split(split)
    _check_mnli_dev(mnli_dev)
    if split == "train":
        return "train"
    return f"validation_{mnli_dev}" if task == "MNLI" else "validation"


def _one_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return f"{type(e).__name__}: {msg[0]}" if msg else type(e).__name__


def _label_names(ds, spec: TaskSpec, col: str, key: str, rename: dict[str, str]) -> list[str] | None:
    """ClassLabel names of the label column mapped to task label names; None for string/float labels."""
    from datasets import ClassLabel, Value

    feature = ds.features[col]
    if isinstance(feature, Value) and (feature.dtype in ("string", "large_string") or spec.regression):
        return None
    if spec.regression:
        raise BertscapeError(f"{key}: column {col!r} is {feature!r}, not a numeric regression target")
    if not isinstance(feature, ClassLabel):
        raise BertscapeError(
            f"{key}: column {col!r} is {feature!r}, not a ClassLabel (or string) feature; "
            f"integer labels cannot be mapped to {spec.name}'s labels without names")
    names = [rename.get(n, n) for n in feature.names]
    # a ClassLabel whose names are not the labels, but whose integer ids are (labels: ["0", "1"])
    if any(n not in spec.labels for n in names) and all(str(i) in spec.labels for i in range(len(names))):
        names = [str(i) for i in range(len(names))]
    unknown = [n for n, m in zip(feature.names, names) if m not in spec.labels]
    if unknown or len(set(names)) != len(names):
        raise BertscapeError(
            f"{key}: ClassLabel names {feature.names} do not map onto {spec.name}'s labels {list(spec.labels)}")
    return names


def load_hub_split(spec: TaskSpec, dataset: str, config: str | None, split: str, cols: tuple[str, str | None, str],
                   revision: str | None = None, cache_dir: str | os.PathLike | None = None,
                   rename: dict[str, str] | None = None) -> list[dict]:
    """One split of any ``datasets`` dataset (hub id or local directory) in the prepared format.

    Rows whose ClassLabel label is -1 (unlabelled test examples) are dropped; ``idx`` is the position
    in the hub split."""
    key = f"{dataset}[{config + '/' if config else ''}{split}]" + (f"@{revision}" if revision else "")
    try:
        import datasets
    except ImportError as e:  # pragma: no cover - datasets is a dependency
        raise BertscapeError(f"{key}: the 'datasets' library is needed for the hub source ({e})") from None
    try:
        ds = datasets.load_dataset(dataset, config, split=split, revision=revision,
                                   cache_dir=None if cache_dir is None else str(cache_dir))
    except Exception as e:  # network, missing config/split, offline cache miss, ...: one line
        raise BertscapeError(f"{key}: cannot load ({_one_line(e)})") from None

    col_a, col_b, col_label = cols
    wanted = [c for c in (col_a, col_b, col_label) if c is not None]
    missing = [c for c in wanted if c not in ds.column_names]
    if missing:
        raise BertscapeError(f"{key}: missing column(s) {', '.join(repr(c) for c in missing)} "
                             f"(has {ds.column_names})")
    names = _label_names(ds, spec, col_label, key, rename or {})
    data = ds.select_columns(list(dict.fromkeys(wanted))).to_dict()
    rows = []
    for i, (a, label) in enumerate(zip(data[col_a], data[col_label])):
        if names is not None and label is not None:
            if label == -1:  # unlabelled (test split)
                continue
            if not 0 <= label < len(names):
                raise BertscapeError(f"{key}:{i}: label {label} outside ClassLabel range 0..{len(names) - 1}")
            label = names[label]
        b = data[col_b][i] if col_b is not None else None
        rows.append(make_row(spec, i, a, b, label, f"{key}:{i}"))
    return check_rows(rows, key)


def load_hub(task: str, split: str, dataset: str = HUB_DATASET, revision: str | None = None,
             cache_dir: str | os.PathLike | None = None, mnli_dev: str = "matched") -> list[dict]:
    """Read one split of one GLUE task through ``datasets.load_dataset`` (hub id or local directory).
    Offline use: ``HF_DATASETS_OFFLINE=1`` and a ``cache_dir`` filled by :func:`fetch_hub`."""
    spec = task_spec(task)
    return load_hub_split(spec, dataset, hub_config(task), hub_split(task, split, mnli_dev),
                          (*HUB_COLUMNS[task], "label"), revision, cache_dir, HUB_LABEL_NAMES.get(task, {}))


def fetch_hub(tasks=tuple(HUB_CONFIGS), dataset: str = HUB_DATASET, revision: str | None = None,
              cache_dir: str | os.PathLike | None = None, mnli_dev: str = "matched") -> dict[str, dict[str, int]]:
    """Fill the ``datasets`` cache (run where the hub is reachable); returns row counts per task/split."""
    return {t: {s: len(load_hub(t, s, dataset, revision, cache_dir, mnli_dev)) for s in SPLITS} for t in tasks}
