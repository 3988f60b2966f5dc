"""The bindings against include/vae/vae.h: every public function bound with
the header's types, every enum value mirrored, every callback typedef and
struct laid out as declared. A function added to the header without a line
in libvae._capi.SIGNATURES fails here."""

from __future__ import annotations

import ctypes
import pathlib
import re
from typing import Any

import pytest

import libvae
from libvae import _capi
from libvae.enums import C_ENUMS

import c_header

SCALARS = {
    "int": ctypes.c_int,
    "unsigned": ctypes.c_uint,
    "unsigned int": ctypes.c_uint,
    "float": ctypes.c_float,
    "double": ctypes.c_double,
    "size_t": ctypes.c_size_t,
    "uint64_t": ctypes.c_uint64,
    "int32_t": ctypes.c_int32,
    "uint8_t": ctypes.c_uint8,
}


@pytest.fixture(scope="module")
def parsed(header: pathlib.Path) -> c_header.Header:
    return c_header.parse(header.read_text())


def ctype_of(ctype: str, h: c_header.Header) -> Any:
    """The ctypes type that a C type of the header must be bound as."""
    words = [w for w in ctype.split() if w not in ("const",)]
    stars = sum(w.count("*") for w in words)
    base = " ".join(w for w in words if "*" not in w)
    if base == "void" and stars == 0:
        return None
    if base == "char" and stars >= 1:
        t, stars = ctypes.c_char_p, stars - 1
    elif base == "void" and stars >= 1:
        t, stars = ctypes.c_void_p, stars - 1
    elif base in h.opaque and stars >= 1:
        t, stars = getattr(_capi, base[len("vae_"):] + "_p"), stars - 1
    elif base in SCALARS:
        t = SCALARS[base]
    elif base in h.enums:
        t = _capi.c_enum
    elif base in h.callbacks:
        t = getattr(_capi, base[len("vae_"):])
    elif base in h.structs:
        t = getattr(_capi, base)
    else:
        raise AssertionError(f"no ctypes rule for the C type {ctype!r}: extend ctype_of()")
    for _ in range(stars):
        t = ctypes.POINTER(t)
    return t


def test_header_parses(parsed: c_header.Header) -> None:
    # The parser must see the whole API, or the checks below prove nothing.
    assert len(parsed.functions) >= 55
    assert "vae_train_epoch" in parsed.functions
    assert parsed.enums["vae_status"]["VAE_ERR_CALLBACK"] == 11
    assert parsed.functions["vae_model_tensor_info"].params[2] == "const char **"


def test_every_function_is_bound(parsed: c_header.Header) -> None:
    declared = set(parsed.functions)
    bound = set(_capi.SIGNATURES)
    assert sorted(declared - bound) == [], "declared in vae.h but not in SIGNATURES"
    assert sorted(bound - declared) == [], "in SIGNATURES but not declared in vae.h"


def test_signatures_match_the_header(parsed: c_header.Header) -> None:
    wrong = []
    for name, f in parsed.functions.items():
        if name not in _capi.SIGNATURES:
            continue  # reported by test_every_function_is_bound
        restype, argtypes = _capi.SIGNATURES[name]
        want = (ctype_of(f.result, parsed), [ctype_of(p, parsed) for p in f.params])
        if (restype, list(argtypes)) != want:
            wrong.append(f"{name}: bound as {(restype, argtypes)}, header says {want}")
    assert wrong == []


def test_loaded_library_has_every_bound_function() -> None:
    lib = _capi.lib()
    missing = [n for n in _capi.SIGNATURES if isinstance(getattr(lib, n), _capi._Missing)]
    assert missing == []


def test_callback_types_match_the_header(parsed: c_header.Header) -> None:
    assert parsed.callbacks, "the header declares callback typedefs"
    for name, f in parsed.callbacks.items():
        attr = name[len("vae_"):]
        assert hasattr(_capi, attr), f"{name}: no _capi.{attr}"
        cb = getattr(_capi, attr)
        assert cb._restype_ == ctype_of(f.result, parsed), name
        assert list(cb._argtypes_) == [ctype_of(p, parsed) for p in f.params], name


def test_structs_match_the_header(parsed: c_header.Header) -> None:
    for name, fields in parsed.structs.items():
        st = getattr(_capi, name)
        assert [(n, t) for n, t in st._fields_] == \
            [(field, ctype_of(ctype, parsed)) for ctype, field in fields], name


def test_enums_match_the_header(parsed: c_header.Header) -> None:
    assert set(parsed.enums) == set(C_ENUMS), "a C enum without a Python IntEnum (enums.C_ENUMS)"
    for cname, values in parsed.enums.items():
        py, prefix = C_ENUMS[cname]
        want = {}
        for c, v in values.items():
            short = c[len(prefix):] if c.startswith(prefix) else c[len("VAE_"):]
            want[short] = v
        assert {m.name: m.value for m in py} == want, cname


def test_anonymous_constants(parsed: c_header.Header) -> None:
    for cname, value in parsed.anonymous_constants.items():
        assert getattr(libvae.enums, cname[len("VAE_"):]) == value, cname


def test_major_version_matches_the_header(header: pathlib.Path) -> None:
    text = (header.parent / "version.h").read_text()
    major = int(re.search(r"#define VAE_VERSION_MAJOR (\d+)", text).group(1))
    assert major == libvae.EXPECTED_MAJOR
    assert libvae.version_number() // 10000 == major
    assert int(libvae.__version__.split(".")[0]) == major
