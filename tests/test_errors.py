"""Bad artifacts and data give one-line errors naming the file, never a bare traceback."""
import numpy as np
import pytest
import torch

from bertscape import BertscapeError
from bertscape.data import check_rows, make_row
from bertscape.h5io import Grid, read_grid, write_grid
from bertscape.io import load_tensors, read_jsonl, save_tensors


def one_line(e) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_truncated_safetensors_checkpoint(tmp_path):
    p = tmp_path / "epoch3.safetensors"
    save_tensors(p, {"w": torch.ones(1000)})
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(BertscapeError) as e:
        load_tensors(p)
    assert str(p) in one_line(e)


def test_truncated_and_wrong_schema_hdf5(tmp_path):
    p = tmp_path / "s.h5"
    write_grid(p, Grid("curve", np.arange(3.0), None, {"train_loss": np.ones(3)}, np.ones(3, bool)))
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(BertscapeError) as e:
        read_grid(p)
    assert str(p) in one_line(e)
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.ones(2)
    with pytest.raises(BertscapeError, match="not a bertscape HDF5 grid"):
        read_grid(tmp_path / "other.h5")


def test_malformed_prepared_rows_name_file_and_line(tmp_path):
    p = tmp_path / "train.jsonl"
    p.write_text('{"idx": 0, "text_a": "a", "text_b": null, "label": 1}\n{"idx": 1, "text_a": \n')
    with pytest.raises(BertscapeError) as e:
        read_jsonl(p)
    assert f"{p}:2:" in one_line(e)


def test_label_outside_the_task_and_empty_dataset():
    with pytest.raises(BertscapeError, match="file.tsv:7: label 'maybe'"):
        make_row("RTE", 0, "a", "b", "maybe", "file.tsv:7")
    with pytest.raises(BertscapeError, match="MRPC train: no examples"):
        check_rows([], "MRPC train")
