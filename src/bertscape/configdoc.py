"""The config reference (config/README.md), generated from the schema: every key with its type, default,
constraints and meaning. Regenerate with ``bertscape config-reference -o config/README.md``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from . import BertscapeError

REGENERATE = "bertscape config-reference -o config/README.md"
_CONSTRAINTS = (("minimum", ">= {}"), ("exclusiveMinimum", "> {}"), ("maximum", "<= {}"), ("exclusiveMaximum", "< {}"),
                ("minLength", "length >= {}"), ("minItems", ">= {} items"), ("maxItems", "<= {} items"),
                ("minProperties", ">= {} entries"))


def _type(node: dict) -> str:
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    t = node.get("type", "any")
    types = t if isinstance(t, list) else [t]
    out = []
    for x in types:
        if x == "array" and isinstance(node.get("items"), dict):
            inner = _type(node["items"])
            out.append(f"list of {inner}")
        elif x == "object" and "additionalProperties" in node and isinstance(node["additionalProperties"], dict) \
                and not node.get("properties"):
            out.append("mapping")
        else:
            out.append(x)
    return " or ".join(out)


def _value(v) -> str:
    return "—" if v is ... else f"`{json.dumps(v)}`"


def keys(schema: dict, prefix: str = "") -> Iterator[tuple[str, dict, bool]]:
    """(dotted key, schema node, required) for every key, depth first in the schema's order. Entries of a
    mapping whose names the user chooses are shown as ``<TITLE>``, the title of its ``propertyNames``, or ``<name>``
    (``tasks.<TASK>``, ``layers.groups.<name>``)."""
    required = set(schema.get("required", []))
    for name, node in (schema.get("properties") or {}).items():
        key = f"{prefix}{name}"
        yield key, node, name in required
        if node.get("properties"):
            yield from keys(node, key + ".")
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            placeholder = f"<{(node.get('propertyNames') or {}).get('title', 'name')}>"  # the schema names it
            yield f"{key}.{placeholder}", extra, False
            if extra.get("properties"):
                yield from keys(extra, f"{key}.{placeholder}.")


def reference(schema: dict) -> str:
    """config/README.md as text. Raises BertscapeError naming every key without a ``description``."""
    undocumented = [k for k, node, _ in keys(schema) if not node.get("description")]
    if undocumented:
        raise BertscapeError("schema keys without a description: " + ", ".join(undocumented))
    lines = [
        "# Config reference",
        "",
        "<!-- generated from workflow/schemas/config.schema.yaml by `" + REGENERATE + "`; do not edit by hand -->",
        "",
        schema.get("description", "").rstrip(".") + ". Every key below is optional unless marked *required*;",
        "a missing key takes its default. A section given as `{}` takes the defaults of all its keys.",
        "`--configfile X` replaces `config.yaml` whole; `--config key=value` overrides single keys.",
        "",
    ]
    rows = list(keys(schema))
    sections = [("top level", [r for r in rows if "." not in r[0] and not r[1].get("properties")
                               and not isinstance(r[1].get("additionalProperties"), dict)])]
    for top, node, _ in rows:
        if "." not in top and (node.get("properties") or isinstance(node.get("additionalProperties"), dict)):
            sections.append((f"`{top}`: {node['description'].rstrip('.')}",
                             [r for r in rows if r[0] == top or r[0].startswith(top + ".")]))
    for title, members in sections:
        lines += [f"## {title}", "", "| key | type | default | constraints | meaning |", "|---|---|---|---|---|"]
        lines += [_row(*r) for r in members] + [""]
    return "\n".join(lines)


def _row(key: str, sub: dict, required: bool) -> str:
    cons = [fmt.format(sub[c]) for c, fmt in _CONSTRAINTS if c in sub]
    names = sub.get("propertyNames", {})
    if "enum" in names:
        cons.append("names: " + ", ".join(names["enum"]))
    elif "description" in names:
        cons.append("names: " + " ".join(names["description"].split()))
    if sub.get("additionalProperties") is False and sub.get("properties"):
        cons.append("no other keys")
    if sub.get("required"):
        cons.append("requires " + ", ".join(f"`{r}`" for r in sub["required"]))
    default = "*required*" if required else _value(sub.get("default", ...))
    meaning = " ".join(sub["description"].split()).replace("|", "\\|")
    return f"| `{key}` | {_type(sub)} | {default} | {'; '.join(cons) or '—'} | {meaning} |"


def write_reference(schema_path: str | Path, out: str | Path | None) -> str:
    from .config import load_schema

    text = reference(load_schema(schema_path))
    if out is not None:
        from .io import write_text

        write_text(out, text)
    return text
