"""config/README.md is generated from the schema and documents every key."""
import re

import pytest
from conftest import REPO

from bertscape import BertscapeError
from bertscape.config import SCHEMA, load_schema
from bertscape.configdoc import REGENERATE, keys, reference


def test_config_reference_matches_the_schema():
    committed = (REPO / "config" / "README.md").read_text()
    assert committed == reference(load_schema(SCHEMA)), \
        f"config/README.md is out of date with workflow/schemas/config.schema.yaml: regenerate it with `{REGENERATE}`"


def test_every_key_has_a_row_with_type_default_and_meaning():
    text = (REPO / "config" / "README.md").read_text()
    cells = [re.split(r"(?<!\\)\|", ln) for ln in text.splitlines() if ln.startswith("| `")]  # unescaped pipes
    rows = {c[1].strip().strip("`"): c[2:6] for c in cells}
    schema = load_schema(SCHEMA)
    for key, node, _ in keys(schema):
        typ, default, _, meaning = (c.strip() for c in rows[key])
        assert typ and default and meaning == " ".join(node["description"].split()).replace("|", "\\|"), key
    assert rows["tasks.<TASK>.other_task"][1].strip() == "*required*" and rows["grid.points"][1].strip() == "`41`"
    assert {k for k, _, _ in keys(schema)} >= {"eval.dtype", "layers.groups.<name>", "resources.surface.runtime"}


def test_a_key_without_a_description_is_named():
    schema = {"description": "x", "type": "object", "properties": {
        "a": {"type": "integer", "description": "documented"},
        "b": {"type": "object", "description": "section", "properties": {"c": {"type": "string"}}}}}
    with pytest.raises(BertscapeError, match=r"without a description: b\.c$"):
        reference(schema)
