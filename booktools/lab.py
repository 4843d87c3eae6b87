"""Set up an environment's JupyterLab for the chapters (``make`` runs this once per .venv).

    python -m booktools.lab

* ``.py`` chapters open as notebooks (Jupytext's viewer is the default for Python files);
* running a chapter changes no tracked file: the server saves a chapter's ``.ipynb`` twin in
  its stored form (:func:`booktools.pairing.strip_on_save`, a pre-save hook; ``booktools`` is
  put on the environment's path so the server can import it), and git's clean filter for
  ``notebooks/*.ipynb`` (``.gitattributes``) covers notebooks saved by anything else.

Everything goes into the environment (``sys.prefix``) and the clone's ``.git/config``; nothing
in the user's home directory changes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VIEWERS = {"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}}}
PRE_SAVE_HOOK = "booktools.pairing.strip_on_save"


def _merge_json(path: Path, update: dict) -> None:
    data = json.loads(path.read_text()) if path.is_file() else {}
    for section, values in update.items():
        data.setdefault(section, {}).update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def setup(prefix: Path = Path(sys.prefix), root: Path = ROOT) -> None:
    _merge_json(prefix / "share/jupyter/lab/settings/overrides.json", VIEWERS)
    # A full server config file: the jupyter_server_config.d folder only enables extensions.
    _merge_json(prefix / "etc/jupyter/jupyter_server_config.json",
                {"ContentsManager": {"pre_save_hook": PRE_SAVE_HOOK}})
    purelib = sysconfig.get_paths(vars={"base": str(prefix), "platbase": str(prefix)})["purelib"]
    Path(purelib).mkdir(parents=True, exist_ok=True)
    Path(purelib, "kexue-booktools.pth").write_text(f"{root}\n")
    if (root / ".git").exists():
        subprocess.run(["git", "config", "filter.notebook.clean",
                        f"{sys.executable} -m booktools.pairing --clean"], cwd=root, check=True)


if __name__ == "__main__":
    setup()
    print(f"JupyterLab set up in {sys.prefix}: .py opens as a notebook, running a chapter "
          f"leaves its files unchanged")
