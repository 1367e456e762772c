"""Content identities of external inputs: rewritten only when a file's bytes change."""
import json
import os

from bertscape import identity


def test_identity_is_rewritten_only_when_content_changes(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"n_layers": 2}')
    (model / "model.safetensors").write_bytes(b"\0" * 4096)
    (model / "README.md").write_text("not part of the model")
    ident = tmp_path / "sources" / "model.json"
    assert identity.refresh_model(ident, model)
    names = json.loads(ident.read_text())["files"]
    assert set(names) == {"config.json", "model.safetensors"}
    before = ident.stat().st_mtime_ns
    for f in model.iterdir():  # a reinstall: same bytes, newer times
        os.utime(f, ns=(before + 10**9, before + 10**9))
    assert not identity.refresh_model(ident, model) and ident.stat().st_mtime_ns == before
    (model / "README.md").write_text("edited")
    assert not identity.refresh_model(ident, model)
    (model / "model.safetensors").write_bytes(b"\0" * 4095 + b"\1")
    assert identity.refresh_model(ident, model)
    assert json.loads(ident.read_text())["files"]["model.safetensors"] != names["model.safetensors"]


def test_a_change_hidden_behind_the_old_mtime_is_still_seen(tmp_path):
    (tmp_path / "m").mkdir()
    w = tmp_path / "m" / "model.safetensors"
    w.write_bytes(b"\0" * 64)
    ident = tmp_path / "model.json"
    identity.refresh_model(ident, w.parent)
    st = w.stat()
    w.write_bytes(b"\1" * 64)
    os.utime(w, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: only ctime tells
    assert identity.refresh_model(ident, w.parent)
