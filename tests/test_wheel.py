"""The package as a reader installs it: a wheel, a fresh virtual environment, a folder outside
the repository, and nothing but the package's own dependencies (no scikit-learn, no Jupyter)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.wheel

# Run inside the fresh environment, from an empty folder. Each kernel is checked against a closed
# form, not against a value it produced.
USER_SCRIPT = textwrap.dedent(r'''
    import importlib.util, json, math, os, sys
    import companion
    report = {"file": companion.__file__, "sklearn": importlib.util.find_spec("sklearn") is not None}

    import companion.focal
    report["matplotlib_after_kernels"] = "matplotlib" in sys.modules
    import torch
    import torch.nn.functional as F
    from companion import capsule, fgan, focal, gillespie, nce, vib, data

    s = torch.tensor([[3.0, 4.0]])
    assert torch.allclose(capsule.squash(s).norm(), torch.tensor(25 / 26))
    logits, target = torch.tensor([-2.0, 0.5, 3.0]), torch.tensor([0.0, 1.0, 1.0])
    assert torch.allclose(focal.focal_bce(logits, target, gamma=0.0),
                          F.binary_cross_entropy_with_logits(logits, target))
    counts = torch.tensor([1.0, 16.0, 81.0])
    noise = nce.unigram_noise(counts, alpha=0.75)
    assert torch.allclose(noise, torch.tensor([1.0, 8.0, 27.0], dtype=torch.float64) / 36.0)
    x = torch.linspace(-12, 12, 4001, dtype=torch.float64)
    log_p = -0.5 * (x - 1) ** 2 - 0.5 * math.log(2 * math.pi)
    log_q = -0.5 * x ** 2 - 0.5 * math.log(2 * math.pi)
    assert abs(fgan.divergence_on_grid(log_p, log_q, x, "kl").item() - 0.5) < 1e-6
    mu, logvar = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, math.log(4.0)]])
    expected = 0.5 * ((1 + 1 - 0 - 1) + (4 + 4 - math.log(4) - 1))
    assert abs(vib.kl_std_normal(mu, logvar).item() - expected) < 1e-5
    net = gillespie.ReactionNetwork(["0 -> X", "X -> 0"], rates=[10.0, 1.0])
    final = gillespie.ssa(net, x0=[0], t_max=5.0, n_traj=4000, seed=0).x[:, -1, 0].double()
    mean = 10 * (1 - math.exp(-5))          # Poisson at every time: mean = variance
    assert abs(final.mean().item() - mean) < 5 * math.sqrt(mean / len(final))

    images, labels = data.load_digits()
    assert images.shape == (1797, 8, 8) and sorted(set(labels.tolist())) == list(range(10))

    import matplotlib
    matplotlib.use("agg")
    before = dict(matplotlib.rcParams)
    fig = capsule.plot_squash()
    report["figure"] = type(fig).__name__
    report["rc_unchanged"] = dict(matplotlib.rcParams) == before
    report["plot_home"] = capsule.plot_squash.__module__
    print("REPORT", json.dumps(report))
''')


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A wheel of the package, installed with its dependencies into a new virtual environment."""
    tmp = tmp_path_factory.mktemp("wheel")
    # The environment's setuptools builds it: no isolated build environment to download.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp / "dist"), str(ROOT)], check=True, capture_output=True, text=True)
    wheel, = (tmp / "dist").glob("kexue_companion-*.whl")
    env_dir = tmp / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    # torch==2.13.0 is the wheel these machines hold; any other torch spec downloads gigabytes.
    # No PYTHONPATH: a clone on it (with the build's egg-info) would pass for an installed package.
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "torch==2.13.0", str(wheel)],
                          capture_output=True, text=True, env=clean_env())
    assert done.returncode == 0, done.stderr[-3000:]
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    assert (site / "companion" / "__init__.py").is_file(), "the wheel was not installed"
    return python, wheel


def clean_env():
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COMPANION_SMOKE")}


def run_user(python, code, tmp_path):
    env = clean_env()
    env["MPLCONFIGDIR"] = str(tmp_path / "mpl")
    return subprocess.run([str(python), "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)


def test_wheel_works_outside_the_repository(installed, tmp_path):
    python, wheel = installed
    done = run_user(python, USER_SCRIPT, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.split("REPORT ", 1)[1])
    assert ROOT not in Path(report["file"]).parents, report["file"]
    assert "site-packages" in report["file"]
    assert report["sklearn"] is False, "scikit-learn came with the package's dependencies"
    assert report["matplotlib_after_kernels"] is False, "import companion.focal loaded matplotlib"
    assert report["figure"] == "Figure" and report["rc_unchanged"] is True
    assert report["plot_home"] == "companion.figures.capsule"


def test_no_kernel_module_imports_matplotlib_or_the_book_tooling(installed, tmp_path):
    python, _ = installed
    code = ("import sys, companion.{0}; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('matplotlib', 'booktools', 'jupytext', 'ipywidgets', 'sklearn', 'dask', 'distributed')]; "
            "print(sorted(bad))")
    for module in ("capsule", "focal", "nce", "fgan", "vib", "gillespie", "sweeps", "data", "checks"):
        done = run_user(python, code.format(module), tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip() == "[]", (module, done.stdout)


def test_wheel_carries_the_licence_the_data_and_typing(installed):
    import zipfile

    _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("companion/py.typed", "companion/datasets/digits.npz", "companion/datasets/SOURCE.md"):
        assert needed in names, needed
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith(("booktools/", "tests/", "notebooks/", "benchmarks/")) for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in metadata and "Classifier: Typing :: Typed" in metadata
    # The package page: no command that only works inside a clone of the repository.
    description = metadata.split("\n\n", 1)[1]
    for clone_only in ("make ", "pip install -e", "-e .", "booktools"):
        assert clone_only not in description, clone_only
