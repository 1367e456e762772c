"""Code inputs derived from imports (bertscape.codeinputs): the closure of a script inside a package, the
identity of normalised source, and the workflow's rules declaring exactly what their scripts reach."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO

from bertscape.codeinputs import analyse, closure, identity, module_name, refresh

PKG = {
    "pkg/__init__.py": "from .base import VERSION\n",
    "pkg/base.py": "VERSION = 1\n",
    "pkg/a.py": "from . import b\nfrom .sub import c\nimport numpy\n",
    "pkg/b.py": textwrap.dedent("""\
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from . import typed_only
        else:
            from . import at_runtime

        def later():
            import pkg.lazy.deep
        """),
    "pkg/typed_only.py": "",
    "pkg/at_runtime.py": "",
    "pkg/lazy/__init__.py": "",
    "pkg/lazy/deep.py": "",
    "pkg/sub/__init__.py": "from .d import z\n",
    "pkg/sub/c.py": "from ..b import later\nfrom . import d\n",
    "pkg/sub/d.py": "from pkg import a\nz = 1\n",  # a cycle back to a
    "pkg/sub/named.py": "",
    "pkg/unreached.py": "import pkg.a\n",
    "other/x.py": "",
}


def make_package(root: Path) -> Path:
    for name, text in PKG.items():
        (root / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "src" / name).write_text(text)
    return root / "src"


def names(src, files):
    return sorted(Path(os.path.relpath(f, src)).as_posix() for f in files)


def test_closure_follows_every_import_form_and_nothing_else(tmp_path):
    src = make_package(tmp_path)
    script = tmp_path / "script.py"
    script.write_text("import sys\nfrom pkg.a import b\nfrom pkg.sub import named, z\nimport other.x\n")
    assert names(src, closure(script, src, "pkg")) == [
        "pkg/__init__.py", "pkg/a.py", "pkg/at_runtime.py", "pkg/b.py", "pkg/base.py", "pkg/lazy/__init__.py",
        "pkg/lazy/deep.py", "pkg/sub/__init__.py", "pkg/sub/c.py", "pkg/sub/d.py", "pkg/sub/named.py"]
    script.write_text("import pkg\n")  # the package alone: its __init__ and what that imports
    assert names(src, closure(script, src, "pkg")) == ["pkg/__init__.py", "pkg/base.py"]
    script.write_text("from pkg.sub.d import z\n")  # parents run first; the cycle ends
    reached = names(src, closure(script, src, "pkg"))
    assert {"pkg/__init__.py", "pkg/sub/__init__.py", "pkg/sub/d.py", "pkg/a.py"} <= set(reached)
    assert "pkg/typed_only.py" not in reached and "pkg/unreached.py" not in reached


def test_module_names_of_files(tmp_path):
    src = make_package(tmp_path)
    assert module_name(src, src / "pkg" / "sub" / "__init__.py") == "pkg.sub"
    assert module_name(src, src / "pkg" / "sub" / "c.py") == "pkg.sub.c"
    assert module_name(src, tmp_path / "script.py") is None


BASE = textwrap.dedent('''\
    """Module docstring."""
    import os


    def f(x, y=2):
        """Function docstring."""
        return x + y  # a comment


    class C:
        """Class docstring."""

        def g(self):
            return [1, 2,
                    3]
    ''')


@pytest.mark.parametrize("edit", [
    lambda s: s.replace("# a comment", "# another comment"),
    lambda s: s + "\n# a trailing comment\n",
    lambda s: s.replace('"""Function docstring."""', '"""Reworded, and longer:\n\n    two paragraphs."""'),
    lambda s: s.replace('"""Module docstring."""\n', ""),
    lambda s: s.replace('    """Class docstring."""\n', ""),
    lambda s: s.replace("[1, 2,\n                    3]", "[1, 2, 3]").replace("y=2", "y = 2"),
    lambda s: s.replace("\n\n\ndef", "\n\ndef"),
], ids=["comment", "new-comment", "docstring", "no-module-docstring", "no-class-docstring", "layout", "blank-lines"])
def test_comments_docstrings_and_layout_keep_the_identity(edit):
    assert edit(BASE) != BASE and analyse(edit(BASE)).digest == analyse(BASE).digest


@pytest.mark.parametrize("edit", [
    lambda s: s + "\n\ndef h():\n    return 0\n",
    lambda s: s.replace("y=2", "y=3"),
    lambda s: s.replace("x + y", "y + x"),
    lambda s: s.replace("import os", "import sys"),
    lambda s: s.replace('    """Function docstring."""\n', '    "Function docstring."\n    x = x\n'),
], ids=["new-function", "default", "operands", "import", "statement"])
def test_a_change_in_what_the_code_does_changes_the_identity(edit):
    assert edit(BASE) != BASE and analyse(edit(BASE)).digest != analyse(BASE).digest


def test_identity_names_files_relative_to_the_project_and_survives_a_copy(tmp_path):
    src = make_package(tmp_path / "a")
    script = tmp_path / "a" / "script.py"
    script.write_text("from pkg import a\n")
    ident = identity(script, src, "pkg", tmp_path / "a")
    assert list(ident["script"]) == ["script.py"] and "src/pkg/sub/d.py" in ident["modules"]
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # new times, same content
    assert identity(tmp_path / "b" / "script.py", tmp_path / "b" / "src", "pkg", tmp_path / "b") == ident
    (tmp_path / "b" / "src" / "pkg" / "sub" / "d.py").write_text("from pkg import a\nz = 2\n")
    changed = identity(tmp_path / "b" / "script.py", tmp_path / "b" / "src", "pkg", tmp_path / "b")
    assert {k for k in ident["modules"] if ident["modules"][k] != changed["modules"][k]} == {"src/pkg/sub/d.py"}


def test_refresh_writes_only_a_changed_identity(tmp_path):
    path = tmp_path / "sources" / "code" / "x.json"
    ident = {"format": 1, "script": {"s.py": "0" * 64}, "modules": {}}
    assert refresh(path, ident) is True and json.loads(path.read_text()) == ident
    os.utime(path, ns=(1, 1))
    assert refresh(path, dict(ident)) is False and path.stat().st_mtime_ns == 1
    assert refresh(path, {**ident, "modules": {"m.py": "1" * 64}}) is True and path.stat().st_mtime_ns != 1


RECORD_IMPORTS = r"""
import builtins, importlib.util, json, sys
from pathlib import Path
orig, edges = builtins.__import__, set()

def hook(name, globals=None, locals=None, fromlist=(), level=0):
    mod = orig(name, globals, locals, fromlist, level)
    g = globals or {}
    target = importlib.util.resolve_name("." * level + name, g.get("__package__")) if level else name
    found = [".".join(target.split(".")[: i + 1]) for i in range(target.count(".") + 1)]
    found += [f"{target}.{n}" for n in fromlist or () if f"{target}.{n}" in sys.modules]
    edges.update((g.get("__name__"), t) for t in found if t.split(".")[0] == "bertscape")
    return mod

builtins.__import__ = hook
src = Path(sys.argv[1])
for f in sorted((src / "bertscape").rglob("*.py")):
    parts = list(f.relative_to(src).with_suffix("").parts)
    importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
for f in sorted(Path(sys.argv[2]).glob("*.py")):
    try:
        exec(compile(f.read_text(), str(f), "exec"), {"__name__": "script:" + f.name})
    except NameError as e:  # run(snakemake, main): no snakemake object here; every top-level import has run
        assert "snakemake" in str(e), e
print(json.dumps(sorted(edges)))
"""


def test_the_closure_contains_every_module_python_actually_imports():
    """Ground truth from the interpreter: every bertscape module imported while the library and the scripts'
    top-level imports load, followed transitively, is in the static closure of each script."""
    r = subprocess.run([sys.executable, "-c", RECORD_IMPORTS, str(REPO / "src"), str(REPO / "workflow" / "scripts")],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "MPLBACKEND": "Agg"})
    assert r.returncode == 0, r.stderr[-3000:]
    graph: dict[str, set] = {}
    for importer, target in json.loads(r.stdout.splitlines()[-1]):
        graph.setdefault(importer, set()).add(target)
    src = REPO / "src"
    for script in sorted((REPO / "workflow" / "scripts").glob("*.py")):
        seen, todo = set(), [f"script:{script.name}"]
        while todo:
            for t in graph.get(todo.pop(), ()):
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        static = {module_name(src, f) for f in closure(script, src, "bertscape")}
        assert seen and seen <= static, (script.name, seen - static)


WALK = """\
include: {snakefile!r}


import json as _json

for _r in workflow.rules:
    _inputs = {{k: v for k, v in _r.input.items() if isinstance(v, str)}}
    _all = [str(v) for v in _r.input if isinstance(v, str)]
    print("RULE " + _json.dumps({{"name": _r.name, "script": _r.script, "code": _inputs.get("code"), "all": _all}}))
"""
NO_CODE_INPUT = {"fetch_model", "model_identity"}  # outputs identified by content or by name@revision (README)


def test_every_rule_declares_exactly_what_its_script_reaches(tmp_path):
    """Walks every rule of the workflow: a scripted rule's code input is its own script's identity, naming
    exactly the modules the script can import (a module it reaches and does not declare, or declares and
    cannot reach, fails), and no rule lists library files by hand."""
    (tmp_path / "Snakefile").write_text(WALK.format(snakefile=str(REPO / "Snakefile")))
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(tmp_path / "Snakefile"), "--list-rules",
                        "--configfile", "config/tiny.yaml", "--config", f"results={out}"],
                       cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    rules = [json.loads(ln[5:]) for ln in r.stdout.splitlines() if ln.startswith("RULE ")]
    scripted = [x for x in rules if x["script"]]
    assert len(scripted) >= 20 and {x["name"] for x in scripted if not x["code"]} <= NO_CODE_INPUT
    src = REPO / "src"
    for rule in scripted:
        assert not any(f.endswith(".py") for f in rule["all"]), rule
        if rule["name"] in NO_CODE_INPUT:
            continue
        script = REPO / "workflow" / "scripts" / Path(rule["script"]).name
        assert Path(rule["code"]) == out / "sources" / "code" / f"{script.stem}.json", rule
        declared = json.loads(Path(rule["code"]).read_text())
        assert list(declared["script"]) == [f"workflow/scripts/{script.name}"], rule
        reached = {Path(os.path.relpath(f, REPO)).as_posix() for f in closure(script, src, "bertscape")}
        assert set(declared["modules"]) == reached, (rule["name"], reached ^ set(declared["modules"]))


def test_every_module_edit_changes_exactly_the_identities_of_the_scripts_that_reach_it(tmp_path):
    """For every library module and every script of the workflow (in a copy): a new function changes the code
    identity of exactly the scripts whose closure holds the file; a comment or a docstring changes none.
    (tests/test_workflow.py plays the same edits through Snakemake on a finished run.)"""
    from replan import new_comment, new_docstring, new_function

    shutil.copytree(REPO / "src" / "bertscape", tmp_path / "src" / "bertscape",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "workflow" / "scripts", tmp_path / "workflow" / "scripts")
    src, scripts = tmp_path / "src", sorted((tmp_path / "workflow" / "scripts").glob("*.py"))

    def identities():
        return {s.name: identity(s, src, "bertscape", tmp_path) for s in scripts}

    before = identities()
    reach = {s.name: set(closure(s, src, "bertscape")) for s in scripts}
    files = sorted((src / "bertscape").rglob("*.py")) + scripts
    assert len(files) > 40
    for f in files:
        text = f.read_text()
        f.write_text(new_function(text))
        changed = {k for k, v in identities().items() if v != before[k]}
        f.write_text(text)
        assert changed == {s.name for s in scripts if f in reach[s.name] or f == s}, f
        for edit in (new_comment, new_docstring):  # an identity is a function of its files' digests and imports
            assert analyse(edit(text)) == analyse(text), (f, edit.__name__)
