"""Pinned npm assets: integrity is enforced, only the loaded files are unpacked, a stamp skips
re-fetching. A stand-in ``npm`` on PATH serves local tarballs, so no registry is needed here;
the real fetch is exercised by the book build test."""

import base64
import hashlib
import io
import os
import re
import stat
import tarfile

import pytest

from booktools import assets


def make_tarball(path, files):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


@pytest.fixture
def fake_npm(tmp_path, monkeypatch):
    store = tmp_path / "store"
    store.mkdir()
    calls = tmp_path / "calls.log"
    script = tmp_path / "bin" / "npm"
    script.parent.mkdir()
    # npm pack SPEC --json --pack-destination DIR: copy store/<name>.tgz there, print its JSON.
    script.write_text(f"""#!/bin/sh
echo "$2" >> {calls}
name=$(echo "$2" | tr '/@' '__').tgz
cp {store}/"$name" "$5"/ || exit 1
echo '[{{"filename": "'"$name"'"}}]'
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    return store, calls


def test_unpacks_only_mapped_files_and_skips_source_maps(fake_npm, tmp_path, monkeypatch):
    store, calls = fake_npm
    integrity = make_tarball(store / "_pkg_1.0.tgz", {
        "package/dist/embed.js": b"js", "package/dist/embed.js.map": b"map",
        "package/README.md": b"no",
    })
    monkeypatch.setattr(assets, "PACKAGES", {"pkg": ("@pkg@1.0", integrity, {"package/dist": "w"})})
    out = assets.ensure(tmp_path / "out")
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == [assets.STAMP, "w/embed.js"]
    assert (out / "w" / "embed.js").read_bytes() == b"js"
    assets.ensure(tmp_path / "out")  # stamp matches: npm is not called again
    assert calls.read_text().split() == ["@pkg@1.0"]
    # A wider mapping (a new release of this module) unpacks again.
    monkeypatch.setattr(assets, "PACKAGES", {"pkg": ("@pkg@1.0", integrity, {"package/dist": "w",
                                                                             "package/README.md": "r"})})
    assets.ensure(tmp_path / "out")
    assert calls.read_text().split() == ["@pkg@1.0", "@pkg@1.0"]
    assert (out / "r").read_bytes() == b"no"


def test_integrity_mismatch_is_refused(fake_npm, tmp_path, monkeypatch):
    store, _ = fake_npm
    make_tarball(store / "_pkg_1.0.tgz", {"package/dist/embed.js": b"tampered"})
    monkeypatch.setattr(assets, "PACKAGES", {"pkg": ("@pkg@1.0", "sha512-AAAA", {"package/dist": "w"})})
    with pytest.raises(assets.AssetError, match=r"@pkg@1\.0: integrity mismatch"):
        assets.ensure(tmp_path / "out")


def test_failed_fetch_names_the_package(fake_npm, tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "PACKAGES", {"pkg": ("@missing@9", "sha512-AAAA", {"package": "x"})})
    with pytest.raises(assets.AssetError, match=r"npm pack @missing@9 failed"):
        assets.ensure(tmp_path / "out")


def test_entries_point_inside_the_mapped_folders():
    targets = [t for _, _, mapping in assets.PACKAGES.values() for t in mapping.values()]
    entry = assets.MATHJAX_ENTRY
    assert any(entry == t or entry.startswith(t + "/") for t in targets), entry


# ------------------------------------------------------------------ the real npm, offline

DEAD_PROXY = {"npm_config_proxy": "http://127.0.0.1:9", "npm_config_https_proxy": "http://127.0.0.1:9"}


@pytest.fixture
def real_npm():
    import shutil

    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the real-npm checks need it")


def test_offline_with_npm_s_cache_takes_seconds(real_npm, tmp_path, monkeypatch):
    """What was fetched once builds offline at once (npm's default would retry for minutes)."""
    import time

    try:
        assets.ensure(tmp_path / "online")  # fills npm's cache (a no-op when it is filled)
    except assets.AssetError as err:
        pytest.skip(f"the npm registry is not reachable here, so the cache cannot be filled: {err}")
    for name, value in DEAD_PROXY.items():
        monkeypatch.setenv(name, value)
    started = time.monotonic()
    out = assets.ensure(tmp_path / "offline")
    assert time.monotonic() - started < 30
    # The accessibility explorer's speech rules ship with the pages.
    assert (out / "mathjax" / "sre" / "mathmaps" / "base.json").is_file()
    assert (out / "mathjax" / "sre" / "mathmaps" / "en.json").is_file()


def test_offline_without_a_cache_fails_in_seconds_with_one_line(real_npm, tmp_path, monkeypatch):
    import time

    monkeypatch.setenv("npm_config_cache", str(tmp_path / "empty-npm-cache"))
    for name, value in DEAD_PROXY.items():
        monkeypatch.setenv(name, value)
    started = time.monotonic()
    with pytest.raises(assets.AssetError) as info:
        assets.ensure(tmp_path / "out")
    assert time.monotonic() - started < 30
    message = str(info.value)
    assert "\n" not in message
    assert re.search(r"npm pack mathjax@\S+ failed: it is not in npm's cache .*connect to the network", message)
