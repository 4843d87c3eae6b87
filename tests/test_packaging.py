"""The package installs and imports on its own; environment.yml stays in step with pyproject.toml."""

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

import companion

ROOT = Path(__file__).resolve().parent.parent
# conda-forge names that differ from PyPI's (checked on anaconda.org/conda-forge): `playwright`
# there is the Node.js tool, the Python bindings are `playwright-python`.
CONDA_TO_PYPI = {"pytorch": "torch", "matplotlib-base": "matplotlib", "playwright-python": "playwright"}
# conda-forge packages that are something else than the PyPI package of the same name.
NOT_THE_PYPI_PACKAGE = {"playwright": "playwright-python"}
# Tools with no PyPI requirement of ours: the interpreter, npm for MathJax, and the compiler and
# build tool GillesPy2's C++ solver needs at first use (pip users have them from the system).
CONDA_ONLY = {"python", "pip", "nodejs", "gxx", "scons"}


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pypi_requirements():
    project = pyproject()
    reqs = [Requirement(r) for r in project["dependencies"]]
    reqs += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    return {r.name.lower(): set(str(r.specifier).split(",")) for r in reqs}


def conda_specs():
    rattler = pytest.importorskip("rattler")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    specs, pip = {}, None
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip = dep["pip"]
            continue
        spec = rattler.MatchSpec(dep, strict=True)  # raises on a malformed spec
        specs[spec.name.normalized] = spec
    return specs, pip


def test_environment_yml_has_the_same_packages_as_pyproject():
    specs, pip = conda_specs()
    assert pip == ["-e ."], "environment.yml must install this package with pip, editable"
    conda = {CONDA_TO_PYPI.get(name, name) for name in specs} - CONDA_ONLY
    assert conda == set(pypi_requirements())


def test_environment_yml_names_conda_forge_packages_not_their_namesakes():
    specs, _ = conda_specs()
    for name, right in NOT_THE_PYPI_PACKAGE.items():
        assert name not in specs, f"conda-forge's {name!r} is not the PyPI package; use {right!r}"


def test_environment_yml_uses_the_same_version_ranges():
    specs, _ = conda_specs()
    pypi = pypi_requirements()
    for name, spec in specs.items():
        if name in CONDA_ONLY:
            continue
        conda_range = set(str(spec.version).replace(" ", "").split(","))
        assert conda_range == pypi[CONDA_TO_PYPI.get(name, name)], name
    python = set(str(specs["python"].version).split(","))
    assert python == {pyproject()["requires-python"]}


def test_torch_is_the_cpu_build_on_conda():
    specs, _ = conda_specs()
    assert str(specs["pytorch"].build).startswith("cpu")


def test_version_is_the_installed_metadata_version():
    assert companion.__version__ == importlib.metadata.version("kexue-companion")


def test_package_imports_without_the_book_tooling():
    # Block every book/lab/test tool at import time: the kernels must not need them.
    blocked = ["jupyter_book", "jupytext", "ipywidgets", "IPython", "nbclient", "nbformat", "yaml",
               "jupyterlab", "sklearn", "playwright"]
    code = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError('blocked ' + name)
sys.meta_path.insert(0, Block())
import pkgutil, companion
for module in pkgutil.iter_modules(companion.__path__):
    importlib.import_module('companion.' + module.name)
print('ok', companion.__version__)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ok {companion.__version__}"


def test_smoke_switch_rejects_unknown_values(monkeypatch):
    monkeypatch.setenv("COMPANION_SMOKE", "maybe")
    with pytest.raises(ValueError, match=r"COMPANION_SMOKE='maybe' is not understood"):
        companion.is_smoke()
    monkeypatch.setenv("COMPANION_SMOKE", "1")
    assert companion.budget(full=100, smoke=3) == 3
    monkeypatch.setenv("COMPANION_SMOKE", "0")
    assert companion.budget(full=100, smoke=3) == 100
