"""GLUE sources: the plain TSV directory of GLUE's download script, and the Hugging Face hub.

Both return rows in the one prepared format (see :func:`bertscape.data.make_row`), in the
source's own order, with ``idx`` the 0-based position of the example in its split.

Directory layout (GLUE's ``download_glue_data.py``)::

    <glue_dir>/SST-2/{train,dev}.tsv          sentence  label
    <glue_dir>/MRPC/{train,dev}.tsv           Quality  #1 ID  #2 ID  #1 String  #2 String  (UTF-8 BOM)
    <glue_dir>/RTE/{train,dev}.tsv            index  sentence1  sentence2  label
    <glue_dir>/MNLI/{train,dev_matched}.tsv   ... sentence1  sentence2 ... gold_label (12 / 16 columns)

Columns are selected by header name, never by position, and fields are split on tabs with no
CSV quoting (sentences contain quote characters).

Hub (``nyu-mll/glue`` by default): ``datasets.load_dataset(dataset, config, split=...)`` with
configs ``sst2``/``mrpc``/``rte``/``mnli``; integer labels are mapped to the task's label names
through the split's ``ClassLabel`` feature. On compute nodes, set ``HF_DATASETS_OFFLINE=1`` (before
``datasets`` is imported) and point ``cache_dir`` at a cache filled earlier by :func:`fetch_hub`.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import BertscapeError
from . import check_rows, make_row, task_spec

SPLITS = ("train", "dev")

# task -> (text_a column, text_b column or None, label column) in the GLUE TSV files
TSV_COLUMNS: dict[str, tuple[str, str | None, str]] = {
    "SST-2": ("sentence", None, "label"),
    "MRPC": ("#1 String", "#2 String", "Quality"),
    "RTE": ("sentence1", "sentence2", "label"),
    "MNLI": ("sentence1", "sentence2", "gold_label"),
}

HUB_DATASET = "nyu-mll/glue"
HUB_CONFIGS = {"SST-2": "sst2", "MRPC": "mrpc", "RTE": "rte", "MNLI": "mnli"}
# task -> (text_a column, text_b column or None) on the hub
HUB_COLUMNS: dict[str, tuple[str, str | None]] = {
    "SST-2": ("sentence", None),
    "MRPC": ("sentence1", "sentence2"),
    "RTE": ("sentence1", "sentence2"),
    "MNLI": ("premise", "hypothesis"),
}
# hub ClassLabel name -> task label name, where they differ (RTE and MNLI use the same names)
HUB_LABEL_NAMES: dict[str, dict[str, str]] = {
    "SST-2": {"negative": "0", "positive": "1"},
    "MRPC": {"not_equivalent": "0", "equivalent": "1"},
    "RTE": {},
    "MNLI": {},
}


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise BertscapeError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")


def glue_file(glue_dir: str | os.PathLike, task: str, split: str) -> Path:
    """The TSV file of one task and split in a GLUE directory (MNLI dev is ``dev_matched.tsv``)."""
    task_spec(task)
    _check_split(split)
    name = "dev_matched.tsv" if (task == "MNLI" and split == "dev") else f"{split}.tsv"
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


def load_glue_dir(glue_dir: str | os.PathLike, task: str, split: str) -> list[dict]:
    """Read one split of one task from a GLUE data directory, in file order."""
    task_spec(task)
    _check_split(split)
    glue_dir = Path(glue_dir)
    if not glue_dir.is_dir():
        raise BertscapeError(f"{glue_dir}: GLUE directory not found")
    if not (glue_dir / task).is_dir():
        raise BertscapeError(f"{glue_dir / task}: task directory not found in the GLUE directory")
    path = glue_file(glue_dir, task, split)
    if not path.is_file():
        raise BertscapeError(f"{path}: file not found")
    col_a, col_b, col_label = TSV_COLUMNS[task]

    rows: list[dict] = []
    header: list[str] | None = None
    try:
        f = open(path, "rb")
    except OSError as e:
        raise BertscapeError(f"{path}: cannot read ({e.strerror})") from None
    with f:
        for lineno, raw in enumerate(f, 1):
            where = f"{path}:{lineno}"
            fields = _fields(raw, where, first=header is None)
            if fields is None:
                continue
            if header is None:
                header = [h.strip() for h in fields]
                missing = [c for c in (col_a, col_b, col_label) if c is not None and c not in header]
                if missing:
                    raise BertscapeError(
                        f"{where}: missing column(s) {', '.join(repr(c) for c in missing)} "
                        f"for {task} (header has {header})")
                i_a = header.index(col_a)
                i_b = header.index(col_b) if col_b is not None else None
                i_label = header.index(col_label)
                continue
            if len(fields) != len(header):
                raise BertscapeError(
                    f"{where}: {len(fields)} tab-separated fields, the header has {len(header)}")
            rows.append(make_row(task, len(rows), fields[i_a],
                                 fields[i_b] if i_b is not None else None, fields[i_label], where))
    if header is None:
        raise BertscapeError(f"{path}: empty file (no header line)")
    return check_rows(rows, str(path))


# ---------------------------------------------------------------------------------------- hub


def hub_config(task: str) -> str:
    task_spec(task)
    return HUB_CONFIGS[task]


def hub_split(task: str, split: str) -> str:
    """The hub split name of a project split: ``dev`` is ``validation`` (MNLI: ``validation_matched``)."""
    task_spec(task)
    _check_split(split)
    if split == "train":
        return "train"
    return "validation_matched" if task == "MNLI" else "validation"


def _one_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return f"{type(e).__name__}: {msg[0]}" if msg else type(e).__name__


def _label_names(ds, task: str, key: str) -> list[str] | None:
    """ClassLabel names of the label column mapped to task label names; None for string labels."""
    from datasets import ClassLabel, Value

    feature = ds.features["label"]
    if isinstance(feature, Value) and feature.dtype in ("string", "large_string"):
        return None
    if not isinstance(feature, ClassLabel):
        raise BertscapeError(
            f"{key}: column 'label' is {feature!r}, not a ClassLabel (or string) feature; "
            f"integer labels cannot be mapped to {task}'s labels without names")
    spec = task_spec(task)
    rename = HUB_LABEL_NAMES[task]
    names = [rename.get(n, n) for n in feature.names]
    unknown = [n for n, m in zip(feature.names, names) if m not in spec.labels]
    if unknown or len(set(names)) != len(names):
        raise BertscapeError(
            f"{key}: ClassLabel names {feature.names} do not map onto {task}'s labels {list(spec.labels)}")
    return names


def load_hub(task: str, split: str, dataset: str = HUB_DATASET, revision: str | None = None,
             cache_dir: str | os.PathLike | None = None) -> list[dict]:
    """Read one split of one task through ``datasets.load_dataset`` (hub id or local directory).

    Rows with label -1 (unlabelled test examples) are dropped; ``idx`` is the position in the
    hub split. Offline use: ``HF_DATASETS_OFFLINE=1`` and a ``cache_dir`` filled by :func:`fetch_hub`.
    """
    config, hsplit = hub_config(task), hub_split(task, split)
    key = f"{dataset}[{config}/{hsplit}]" + (f"@{revision}" if revision else "")
    try:
        import datasets
    except ImportError as e:  # pragma: no cover - datasets is a dependency
        raise BertscapeError(f"{key}: the 'datasets' library is needed for the hub source ({e})") from None
    try:
        ds = datasets.load_dataset(dataset, config, split=hsplit, revision=revision,
                                   cache_dir=None if cache_dir is None else str(cache_dir))
    except Exception as e:  # network, missing config/split, offline cache miss, ...: one line
        raise BertscapeError(f"{key}: cannot load ({_one_line(e)})") from None

    col_a, col_b = HUB_COLUMNS[task]
    wanted = [c for c in (col_a, col_b, "label") if c is not None]
    missing = [c for c in wanted if c not in ds.column_names]
    if missing:
        raise BertscapeError(f"{key}: missing column(s) {', '.join(repr(c) for c in missing)} "
                             f"(has {ds.column_names})")
    names = _label_names(ds, task, key)
    data = ds.select_columns(wanted).to_dict()
    rows = []
    for i, (a, label) in enumerate(zip(data[col_a], data["label"])):
        if names is not None and label is not None:
            if label == -1:  # unlabelled (test split)
                continue
            if not 0 <= label < len(names):
                raise BertscapeError(f"{key}:{i}: label {label} outside ClassLabel range 0..{len(names) - 1}")
            label = names[label]
        b = data[col_b][i] if col_b is not None else None
        rows.append(make_row(task, i, a, b, label, f"{key}:{i}"))
    return check_rows(rows, key)


def fetch_hub(tasks=tuple(HUB_CONFIGS), dataset: str = HUB_DATASET, revision: str | None = None,
              cache_dir: str | os.PathLike | None = None) -> dict[str, dict[str, int]]:
    """Fill the ``datasets`` cache (run where the hub is reachable); returns row counts per task/split."""
    return {t: {s: len(load_hub(t, s, dataset, revision, cache_dir)) for s in SPLITS} for t in tasks}
