"""Finding and checking the shared library."""

from __future__ import annotations

import ctypes.util
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from libvae import _capi


def test_env_variable_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBVAE_LIBRARY", "/nonexistent/libvae.so.1")
    with pytest.raises(_capi.LibraryError, match="LIBVAE_LIBRARY=/nonexistent/libvae.so.1"):
        _capi.find_library()


def test_the_bundled_library_comes_before_the_system(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: pathlib.Path) -> None:
    bundled = tmp_path / _capi.SONAME
    monkeypatch.delenv("LIBVAE_LIBRARY", raising=False)
    monkeypatch.setattr(_capi, "BUNDLED", str(bundled))
    assert _capi.find_library() == _capi.SONAME   # no copy inside: the system's loader
    bundled.write_bytes(b"")
    assert _capi.find_library() == str(bundled)   # a wheel's copy
    monkeypatch.setenv("LIBVAE_LIBRARY", "/nonexistent/libvae.so.1")
    with pytest.raises(_capi.LibraryError, match="LIBVAE_LIBRARY=/nonexistent"):
        _capi.find_library()                      # the variable overrides it


def test_the_bundled_copy_sits_beside_the_loader() -> None:
    assert pathlib.Path(_capi.BUNDLED) == pathlib.Path(os.path.abspath(_capi.__file__)).parent / "libvae.so.1"


def test_import_fails_clearly_without_the_library() -> None:
    r = subprocess.run([sys.executable, "-c", "import libvae"], capture_output=True, text=True,
                       env={**os.environ, "LIBVAE_LIBRARY": "/nonexistent/libvae.so.1"})
    assert r.returncode != 0
    assert "LibraryError: LIBVAE_LIBRARY=/nonexistent/libvae.so.1: no such file" in r.stderr


def test_a_library_that_is_not_libvae_is_refused() -> None:
    other = ctypes.util.find_library("z") or ctypes.util.find_library("m")
    if other is None:
        pytest.skip("no other shared library to try")
    with pytest.raises(_capi.LibraryError, match="not libvae"):
        _capi.load_library(other)


def test_another_major_version_is_refused(tmp_path: pathlib.Path) -> None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build a fake libvae 2.0.0")
    src = tmp_path / "fake.c"
    src.write_text('unsigned vae_version_number(void) { return 20003; }\n'
                   'const char *vae_version_string(void) { return "2.0.3"; }\n')
    lib = tmp_path / "libvae.so.2"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    with pytest.raises(_capi.LibraryError) as info:
        _capi.load_library(str(lib))
    message = str(info.value)
    assert "libvae 2.0.3 has major version 2" in message
    assert f"need major version {_capi.EXPECTED_MAJOR}" in message


def test_the_loaded_library_is_the_one_asked_for() -> None:
    wanted = os.environ.get("LIBVAE_LIBRARY")
    if not wanted:
        pytest.skip("LIBVAE_LIBRARY not set")
    with open("/proc/self/maps") as f:
        maps = f.read()
    assert os.path.realpath(wanted) in maps


def test_the_wheel_installs_every_module() -> None:
    """bindings/python/meson.build lists the wheel's files one by one: a
    module added to the package must be added there too."""
    here = pathlib.Path(_capi.__file__).parent
    listed = set(re.findall(r"'libvae/([^']+)'", (here.parent / "meson.build").read_text()))
    present = {p.name for p in here.iterdir() if p.suffix == ".py" or p.name == "py.typed"}
    assert present - listed == set(), "not in the wheel's list"
