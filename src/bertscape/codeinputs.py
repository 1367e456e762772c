"""The code a workflow script runs, derived from its imports, and its identity by content.

A rule's ``script:`` reaches the library modules its import statements name, and theirs, and so on (the
import closure inside one package; parent packages' ``__init__`` too, as Python runs them). The closure is
read from the syntax tree, never kept by hand, so it follows any module layout. Each reached file's
identity is the sha256 of its *normalised* source: the syntax tree without docstrings, so comments,
formatting and docstrings do not count, and any change to what the code does does. A rule takes the
identity of its script's closure (a small JSON file, rewritten only when it changes) as its code input:
Snakemake then reruns exactly the rules whose scripts reach a module whose code changed.

Imports inside ``if TYPE_CHECKING:`` do not count (they never run); imports inside functions do (they run
when the function does). Imports computed at run time (``importlib``) cannot be seen: the library uses none.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .io import write_text

FORMAT = 1  # bump when the normalisation changes: every identity is rewritten once, every rule reruns once


@dataclass(frozen=True)
class Source:
    """What a file's content says: its normalised hash and its import statements."""

    digest: str
    imports: tuple[tuple[int, str, tuple[str, ...]], ...]  # (level, module, names); ``import a.b``: (0, "a.b", ())


def _strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return body[1:]
    return body


_DOCUMENTED = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _render(node, out: list[str], imports: list | None) -> None:
    """A version-stable rendering of a syntax tree into ``out``: node types and fields, no positions,
    docstrings dropped, empty fields (None, []) left out so a field that a newer Python adds empty changes
    nothing; constants by ``repr`` (1, 1.0, True and '1' differ). Import statements are collected into
    ``imports`` on the way, except under ``if TYPE_CHECKING:`` (``imports`` None: not collecting)."""
    if isinstance(node, ast.AST):
        if imports is not None:
            if isinstance(node, ast.Import):
                imports.extend((0, a.name, ()) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                imports.append((node.level, node.module or "", tuple(a.name for a in node.names)))
        typing_only = isinstance(node, ast.If) and _is_type_checking(node.test)
        out.append(type(node).__name__ + "(")
        for name in node._fields:
            value = getattr(node, name, None)
            if name == "body" and isinstance(node, _DOCUMENTED):
                value = _strip_docstring(value)
            if value is None or (isinstance(value, list) and not value):
                continue
            out.append(name + "=")
            _render(value, out, None if typing_only and name == "body" else imports)
        out.append(")")
    elif isinstance(node, list):
        out.append("[")
        for v in node:
            _render(v, out, imports)
        out.append("]")
    else:
        out.append(repr(node))
    out.append(",")


@lru_cache(maxsize=None)
def analyse(text: str, filename: str = "<source>") -> Source:
    """The normalised hash and the imports of one file's source (cached by content)."""
    out: list[str] = []
    imports: list[tuple[int, str, tuple[str, ...]]] = []
    _render(ast.parse(text, filename=filename), out, imports)
    return Source(hashlib.sha256("".join(out).encode()).hexdigest(), tuple(imports))


def _read(path: Path) -> Source:
    return analyse(path.read_text(encoding="utf-8"), str(path))


def module_file(src: Path, name: str) -> Path | None:
    """The file of module ``name`` below ``src`` (``a.b`` -> a/b.py or a/b/__init__.py), None if there is none."""
    base = src.joinpath(*name.split("."))
    for f in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def module_name(src: Path, path: Path) -> str | None:
    """The dotted name of a file below ``src`` (None outside it)."""
    try:
        rel = path.resolve().relative_to(src.resolve())
    except ValueError:
        return None
    parts = list(rel.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or None


def _targets(importer: str | None, is_package: bool, level: int, module: str, names: tuple[str, ...]) -> list[str]:
    """The module names an import statement may run: the module, its parent packages, and every imported name
    (a name that is a submodule is that submodule; other names are simply not found as files)."""
    if level:
        if importer is None:
            return []  # a relative import outside any package
        base = importer.split(".") if is_package else importer.split(".")[:-1]
        base = base[: len(base) - (level - 1)] if level > 1 else base
        module = ".".join([*base, module] if module else base)
    parts = module.split(".")
    out = [".".join(parts[: i + 1]) for i in range(len(parts))]
    out += [f"{module}.{n}" for n in names if n != "*"]
    return out


def _reach(script: Path, src: Path, package: str) -> dict[Path, Source]:
    """{file: Source} for every file of ``package`` that running ``script`` can import."""
    found: dict[str, Path | None] = {}  # module name -> its file (None: not a module, e.g. a function's name)
    reached: dict[Path, Source] = {}
    todo: list[tuple[Path, str | None]] = [(script, module_name(src, script))]
    while todo:
        f, name = todo.pop()
        source = _read(f)
        if name is not None:
            reached[f] = source
        for level, module, names in source.imports:
            for target in _targets(name, f.name == "__init__.py", level, module, names):
                if target in found or target.split(".")[0] != package:
                    continue
                g = found[target] = module_file(src, target)
                if g is not None and g != script:
                    todo.append((g, target))
    return reached


def closure(script: str | os.PathLike, src: str | os.PathLike, package: str) -> list[Path]:
    """Every file of ``package`` (below ``src``) that running ``script`` can import, sorted by path."""
    return sorted(_reach(Path(script), Path(src), package))


def identity(script: str | os.PathLike, src: str | os.PathLike, package: str, root: str | os.PathLike) -> dict:
    """``{"format", "script": {name: sha256}, "modules": {name: sha256}}`` for a script and its closure; names
    relative to ``root`` (the project), so a copy of the project has the same identity."""
    root, script = Path(root), Path(script)

    def name(p: Path) -> str:
        return Path(os.path.relpath(p, root)).as_posix()

    reached = _reach(script, Path(src), package)
    return {
        "format": FORMAT,
        "script": {name(script): _read(script).digest},
        "modules": {name(m): reached[m].digest for m in sorted(reached)},
    }


def refresh(path: str | os.PathLike, ident: dict) -> bool:
    """Write ``ident`` to ``path`` (atomically) unless it already says exactly that. Returns whether it was
    (re)written: an unchanged identity keeps its file and mtime, so nothing reruns."""
    path = Path(path)
    text = json.dumps(ident, indent=2, sort_keys=True) + "\n"
    if path.is_file() and path.read_text() == text:
        return False
    write_text(path, text)
    return True
