"""The public surface: __all__, module docstrings, lazy imports, and the README's commands."""

import ast
import pathlib
import re
import subprocess
import sys

import pytest

import skrec

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_all_names_exist_and_are_documented():
    for name in skrec.__all__:
        obj = getattr(skrec, name)
        if not isinstance(obj, str):
            assert obj.__doc__, f"skrec.{name} has no docstring"


@pytest.mark.parametrize("path", sorted((ROOT / "skrec").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_says_what_it_is_for(path):
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring and docstring.splitlines()[0].strip(), f"{path} has no one-line module docstring"


def test_import_skrec_does_not_import_keras():
    code = "import sys, skrec, skrec.metrics, skrec.datasets; assert 'keras' not in sys.modules, 'keras imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        skrec.Nope


def test_readme_has_two_setup_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.+?)\n```", setup, flags=re.S)
    assert len(commands) == 2, commands
    main_job, tests = commands
    assert "examples/multi_task_movielens.py" in main_job
    assert "pytest" in tests
    assert tests in (ROOT / ".ci" / "run").read_text()


def _skrec_imports(path):
    """The skrec modules that the module at ``path`` imports, anywhere in its body."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names if alias.name.startswith("skrec")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("skrec"):
            # `from skrec import metrics` imports the submodule skrec.metrics
            names = {f"{node.module}.{alias.name}" for alias in node.names}
            modules |= (names & _MODULES) or {node.module}
        elif isinstance(node, ast.ImportFrom) and node.level:
            package = _module_name(path).rsplit(".", node.level)[0]
            modules.add(f"{package}.{node.module}" if node.module else package)
    return modules


def _module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


_PATHS = {_module_name(p): p for p in (ROOT / "skrec").rglob("*.py")}
_MODULES = set(_PATHS)

# Data flows one way: each module may import only the modules listed below it in this order
# (skrec.__init__ imports nothing of skrec but lazily, by name).
_LAYERS = [
    "skrec._ensemble",
    "skrec._estimator",
    "skrec._fitting",
    "skrec._serving",
    "skrec._persistence",
    "skrec._requests",
    "skrec._new_ids",
    "skrec._fold_in",
    "skrec._training",
    "skrec._row_sparse",
    "skrec._audiences",
    "skrec._diversity",
    "skrec._explain",
    "skrec._retrieval",
    "skrec._model",
    "skrec._initializers",
    "skrec._recipe",
    "skrec._interactions",
    "skrec._item_item",
    "skrec._features",
    "skrec._frames",
    "skrec._validation",
    "skrec._encoding",
    "skrec._keras",
    "skrec._warnings",
]


def test_no_import_cycle_and_data_flows_one_way():
    graph = {name: _skrec_imports(path) & _MODULES - {name} for name, path in _PATHS.items()}
    order, visiting = [], set()

    def visit(name, chain):
        assert name not in visiting, f"import cycle: {' -> '.join(chain + [name])}"
        if name in order:
            return
        visiting.add(name)
        for target in sorted(graph[name]):
            visit(target, chain + [name])
        visiting.discard(name)
        order.append(name)

    for name in sorted(graph):
        visit(name, [])
    for position, name in enumerate(_LAYERS):
        upward = graph[name] & set(_LAYERS[: position + 1])
        assert not upward, f"{name} imports {sorted(upward)}, which sit above it in the data flow"
