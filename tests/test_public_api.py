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
