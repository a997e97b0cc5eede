"""The two install descriptions agree, and the two commands the README promises exist."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins(requirements):
    return dict(re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", r).groups() for r in requirements)


def test_environment_yml_pins_exactly_what_pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pins = _pins([p for p in pip_section if "==" in p])
    assert conda_pins == _pins(declared)
    assert "python=3.11" in env["dependencies"]


def test_every_dependency_is_pinned_to_one_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for req in project["dependencies"]:
        assert "==" in req, f"{req} is not pinned"


def test_ci_runs_make_test_and_readme_shows_both_commands():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme


def test_make_book_renders_without_training_and_says_so_as_the_readme_does():
    import subprocess

    # --no-print-directory: under `make test` the inherited MAKEFLAGS would add "Leaving directory" lines.
    plan = subprocess.run(
        ["make", "-n", "--no-print-directory", "-o", ".venv/.installed", "-o", "mathjax", "book"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "visent.reporting.report" in plan and "jupyter-book build" in plan
    for training in ("visent run", "visent train", "visent cv", "papermill", "visent synth", "visent extract"):
        assert training not in plan, f"make book would run {training!r}"
    last = plan.strip().splitlines()[-1]
    assert "nothing was trained" in last and "committed result files" in last
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "`make book` trains nothing: it renders the result files committed under `results/`" in readme
