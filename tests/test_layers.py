"""The package's layering, checked from its source (DESIGN.md, "Layers").

* no import loops between neurorect's modules (module-level or function-local imports);
* no function-local import of the package face (``from neurorect import <name>``);
* no private name (leading underscore) imported from another neurorect module;
* analysis code (fourier, theory, lif, fit, plotting, crossval's comparison logic) imports
  neither numba nor brian2, not even transitively when it is imported.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "neurorect"
#: Modules whose import must not load numba or brian2 (DESIGN.md: analysis never imports the
#: simulators). crossval runs both simulators inside compare(), at call time only.
ANALYSIS = ("neurorect.fourier", "neurorect.theory", "neurorect.lif", "neurorect.fit",
            "neurorect.plotting", "neurorect.crossval", "neurorect.response",
            "neurorect.transfer", "neurorect.spec", "neurorect.modelfile")
#: Analysis modules that must not even mention numba or brian2 in an import statement.
PURE = ("neurorect.fourier", "neurorect.theory", "neurorect.lif", "neurorect.fit",
        "neurorect.plotting")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The neurorect module an imported dotted name refers to (the longest existing prefix)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _imports(module: str):
    """(target module, imported names, function-local, line) for each neurorect import."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    local_lines = {node.lineno for func in ast.walk(tree)
                   if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for node in ast.walk(func) if isinstance(node, (ast.Import, ast.ImportFrom))}
    for node in ast.walk(tree):
        local = getattr(node, "lineno", None) in local_lines
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "neurorect":
                    yield _resolve(alias.name), (), local, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if base.split(".")[0] != "neurorect":
                continue
            for alias in node.names:
                target = _resolve(f"{base}.{alias.name}")
                if target == f"{base}.{alias.name}":  # a submodule
                    yield target, (), local, node.lineno
                else:
                    yield _resolve(base), (alias.name,), local, node.lineno


def test_no_import_loops():
    graph = {m: {t for t, _, _, _ in _imports(m) if t and t != m and t != "neurorect"}
             for m in MODULES}
    # a package imports its own submodules (re-exports); a submodule may import its package's
    # siblings, but not the package __init__ itself (edges to packages are dropped above only
    # for the face, so an edge submodule -> its own package would be a loop and is kept)
    state: dict[str, int] = {}
    loops: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                loops.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for module in MODULES:
        if module not in state:
            visit(module, [])
    assert not loops, "import loops: " + "; ".join(" -> ".join(loop) for loop in loops)


def test_no_function_local_import_of_the_package_face():
    offenders = [f"{m}:{line}" for m in MODULES
                 for target, names, local, line in _imports(m)
                 if local and target == "neurorect" and names]
    assert not offenders, f"function-local 'from neurorect import ...': {offenders}"


def test_no_private_name_crosses_a_module():
    offenders = [f"{m}:{line} imports {name} from {target}" for m in MODULES
                 for target, names, _, line in _imports(m) for name in names
                 if target and target != m and name.startswith("_") and name != "__version__"]
    assert not offenders, offenders


@pytest.mark.parametrize("module", PURE)
def test_pure_analysis_modules_never_mention_the_simulators(module):
    """Source check: no import statement of numba or brian2 anywhere in these modules."""
    files = [p for m, p in MODULES.items() if m == module or m.startswith(module + ".")]
    assert files, module
    for path in files:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            roots = {n.split(".")[0] for n in names}
            assert roots.isdisjoint({"numba", "brian2"}), (path, node.lineno, names)


def test_importing_analysis_code_loads_neither_numba_nor_brian2():
    """Run-time check in a fresh interpreter: what importing the analysis layer pulls in."""
    script = ("import json, sys\n"
              + "".join(f"import {m}\n" for m in ANALYSIS)
              + "print(json.dumps(sorted(m for m in sys.modules "
                "if m.split('.')[0] in ('numba', 'brian2', 'llvmlite'))))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=PACKAGE.parent)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_every_public_name_resolves_and_errors_share_one_base():
    """Each name of ``neurorect.__all__`` imports (the package face is lazy: a typo in its
    table would only show on first use), and every exception class is a NeurorectError."""
    import neurorect

    for name in neurorect.__all__:
        value = getattr(neurorect, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert issubclass(value, (neurorect.NeurorectError, Warning)), name
    assert set(neurorect.__all__) <= set(dir(neurorect))
