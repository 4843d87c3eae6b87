"""MathJax, fetched from the npm registry for offline pages.

Without it, Jupyter Book pages load MathJax from a CDN, which a reader offline cannot reach.
(The ipywidgets embed manager is not needed: no page carries widget state, see book.py.) The
packages are pinned by version and by the registry's sha512 integrity, unpacked into a git-ignored
folder (never committed), and trimmed to what the pages load (no source maps, no AMD builds).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

# name -> (npm spec, sha512 integrity, {path in package: path in the asset folder})
PACKAGES = {
    "mathjax": (
        "mathjax@3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        {
            "package/es5/tex-mml-chtml.js": "mathjax/tex-mml-chtml.js",
            "package/es5/output/chtml/fonts/woff-v2": "mathjax/output/chtml/fonts/woff-v2",
            "package/es5/input/tex/extensions": "mathjax/input/tex/extensions",
            "package/es5/a11y": "mathjax/a11y",
            "package/es5/ui": "mathjax/ui",
            # Speech and Braille rules for the accessibility explorer (maths menu > Accessibility),
            # which MathJax otherwise requests from _static/mathjax/sre/mathmaps and finds missing.
            "package/es5/sre/mathmaps": "mathjax/sre/mathmaps",
            "package/LICENSE": "mathjax/LICENSE",
        },
    ),
}
# Source maps are never loaded.
SKIP_SUFFIXES = (".map",)

# Paths relative to the asset folder, as Sphinx's html_static_path serves them under _static/.
MATHJAX_ENTRY = "mathjax/tex-mml-chtml.js"

STAMP = ".assets.json"


class AssetError(RuntimeError):
    """Fetching or unpacking a pinned npm package failed."""


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _wanted(member: str, mapping: dict[str, str]) -> str | None:
    if member.endswith(SKIP_SUFFIXES):
        return None
    for source, target in mapping.items():
        if member == source or member.startswith(source + "/"):
            return target + member[len(source):]
    return None


# npm's defaults retry a registry that does not answer for minutes, silently. Ask npm's cache
# first (instant when the package was fetched before), then the registry once, briefly.
ONLINE_FLAGS = ("--fetch-retries=0", "--fetch-timeout=20000")
ONLINE_LIMIT_S = 60


def _npm_reason(stderr: str) -> str:
    """npm's error code and its first explanation, e.g. 'ECONNREFUSED: request to ... failed'."""
    lines = [line.removeprefix("npm error").removeprefix("npm ERR!").strip() for line in stderr.splitlines()]
    code = next((line[5:] for line in lines if line.startswith("code ")), "")
    detail = next((line for line in lines if line and not line.startswith(("code ", "syscall ", "errno ", "at "))
                   and "complete log" not in line), "")
    return ": ".join(filter(None, [code, detail]))


def _pack(npm: str, spec: str, tmp: str) -> str:
    """``npm pack`` ``spec`` into ``tmp``, from npm's cache if it is there; returns the file name."""
    command = [npm, "pack", spec, "--json", "--pack-destination", tmp]
    errors = []
    for flags, limit in ((["--offline"], ONLINE_LIMIT_S), (list(ONLINE_FLAGS), ONLINE_LIMIT_S)):
        try:
            result = subprocess.run(command + flags, capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            errors.append(f"no answer within {limit} s")
            continue
        if result.returncode == 0:
            try:
                return json.loads(result.stdout)[0]["filename"]
            except (ValueError, LookupError, TypeError):
                errors.append(f"unexpected output {result.stdout.strip()[:200]!r}")
                continue
        errors.append(_npm_reason(result.stderr) or f"exit code {result.returncode}")
    raise AssetError(
        f"npm pack {spec} failed: it is not in npm's cache and the npm registry did not answer "
        f"({errors[-1][:300]}); connect to the network (or set npm's proxy or registry) once, "
        "then build again")


def ensure(dest: Path) -> Path:
    """Make ``dest`` hold the pinned assets (fetching with ``npm pack`` if needed); returns it."""
    dest = Path(dest)
    # The stamp names the files too: a folder unpacked by an older mapping is unpacked again.
    wanted = {name: {"spec": spec, "files": mapping} for name, (spec, _, mapping) in PACKAGES.items()}
    stamp = dest / STAMP
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted:
        return dest
    npm = shutil.which("npm")
    if npm is None:
        raise AssetError("npm is not on PATH; it is needed once to fetch MathJax")
    if dest.exists():
        shutil.rmtree(dest)
    with tempfile.TemporaryDirectory() as tmp:
        for spec, integrity, mapping in PACKAGES.values():
            tarball = Path(tmp) / _pack(npm, spec, tmp)
            if _integrity(tarball) != integrity:
                raise AssetError(f"{spec}: integrity mismatch, expected {integrity}")
            with tarfile.open(tarball) as archive:
                for member in archive.getmembers():
                    target = _wanted(member.name, mapping)
                    if target is None or not member.isfile():
                        continue
                    out = dest / target
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(archive.extractfile(member).read())
    stamp.write_text(json.dumps(wanted))
    return dest
