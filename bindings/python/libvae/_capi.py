"""The C API as ctypes sees it: types, one table of signatures, the loader,
and :func:`check`, which turns a failed status into :class:`VaeError`.

Everything that touches ``ctypes.CDLL`` lives here. The rest of the package
calls ``lib().vae_...`` and never declares a signature of its own, so adding a
C function to the bindings is one line in :data:`SIGNATURES`.
tests/test_signatures.py parses include/vae/vae.h and fails when a
``VAE_API`` declaration has no entry here, or an entry disagrees with it.

It imports only :mod:`enums` and :mod:`errors` of the package; every other
module builds on it.
"""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_double,
    c_float,
    c_int,
    c_int32,
    c_size_t,
    c_uint,
    c_uint8,
    c_uint64,
    c_void_p,
)
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .enums import Status
from .errors import LibraryError, VaeError, take_cause

#: Major version of the C library these bindings speak to. A library of
#: another major version has another ABI and is refused.
EXPECTED_MAJOR = 1

#: Environment variable naming the shared library to load (a path).
LIBRARY_ENV = "LIBVAE_LIBRARY"

#: The library's soname, which the system's loader resolves for an installed
#: libvae (Debian's libvae1 and python3-libvae).
SONAME = f"libvae.so.{EXPECTED_MAJOR}"

#: The copy a wheel carries inside the package (tools/package/build-wheel.sh).
BUNDLED = os.path.join(os.path.dirname(os.path.abspath(__file__)), SONAME)


# ---- types ------------------------------------------------------------------


class vae_loss(Structure):
    """``struct vae_loss``: frozen layout, five doubles (nats per image)."""

    _fields_ = [
        ("total", c_double),
        ("recon", c_double),
        ("kl", c_double),
        ("objective", c_double),
        ("kl_weight", c_double),
    ]


# Opaque handles get distinct pointer types, so that ctypes itself refuses a
# dataset where a model is expected.
class vae_config(Structure):
    """Opaque ``vae_config``."""


class vae_model(Structure):
    """Opaque ``vae_model``."""


class vae_optimizer(Structure):
    """Opaque ``vae_optimizer``."""


class vae_dataset(Structure):
    """Opaque ``vae_dataset``."""


config_p = POINTER(vae_config)
model_p = POINTER(vae_model)
optimizer_p = POINTER(vae_optimizer)
dataset_p = POINTER(vae_dataset)
float_p = POINTER(c_float)
double_p = POINTER(c_double)
size_p = POINTER(c_size_t)
int32_p = POINTER(c_int32)
uint8_p = POINTER(c_uint8)
loss_p = POINTER(vae_loss)

# Enums are passed as C int (every vae_* enum here fits one).
c_enum = c_int

#: typedef void (*vae_log_fn)(void *user, vae_log_level level, const char *msg);
log_fn = CFUNCTYPE(None, c_void_p, c_enum, c_char_p)
#: typedef int (*vae_progress_fn)(void *user, size_t batch, size_t batches, const vae_loss *loss);
progress_fn = CFUNCTYPE(c_int, c_void_p, c_size_t, c_size_t, loss_p)
#: typedef int (*vae_sgemm_fn)(void *user, vae_transpose ta, vae_transpose tb, size_t m,
#:     size_t n, size_t k, float alpha, const float *a, size_t lda, const float *b,
#:     size_t ldb, float beta, float *c, size_t ldc);
sgemm_fn = CFUNCTYPE(
    c_int, c_void_p, c_enum, c_enum, c_size_t, c_size_t, c_size_t, c_float,
    float_p, c_size_t, float_p, c_size_t, c_float, float_p, c_size_t,
)
#: typedef int (*vae_allreduce_fn)(void *user, void *buf, size_t count, vae_dtype type);
allreduce_fn = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, c_enum)
#: typedef int (*vae_broadcast_fn)(void *user, void *buf, size_t bytes, int root);
broadcast_fn = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, c_int)

# ---- the signature table ----------------------------------------------------

#: name -> (restype, argtypes), in the order of include/vae/vae.h.
SIGNATURES: Dict[str, Tuple[Any, List[Any]]] = {
    # status, errors, version, logging
    "vae_status_string": (c_char_p, [c_enum]),
    "vae_last_error": (c_char_p, []),
    "vae_version_number": (c_uint, []),
    "vae_version_string": (c_char_p, []),
    "vae_log_set": (None, [log_fn, c_void_p]),
    # configuration
    "vae_config_create": (c_enum, [POINTER(config_p)]),
    "vae_config_free": (None, [config_p]),
    "vae_config_set": (c_enum, [config_p, c_enum, c_double]),
    "vae_config_get": (c_enum, [config_p, c_enum, double_p]),
    "vae_config_set_hidden": (c_enum, [config_p, c_enum, size_p, c_size_t]),
    "vae_config_set_layers": (c_enum, [config_p, c_enum, c_char_p]),
    "vae_config_layers": (c_char_p, [config_p, c_enum]),
    "vae_config_set_input_shape": (c_enum, [config_p, c_size_t, c_size_t, c_size_t]),
    "vae_param_bounds": (c_enum, [c_enum, double_p, double_p]),
    # model
    "vae_model_create": (c_enum, [POINTER(model_p), config_p]),
    "vae_model_free": (None, [model_p]),
    "vae_model_set": (c_enum, [model_p, c_enum, c_double]),
    "vae_model_get": (c_enum, [model_p, c_enum, double_p]),
    "vae_model_hidden": (c_enum, [model_p, c_enum, size_p, c_size_t, size_p]),
    "vae_model_layers": (c_char_p, [model_p, c_enum]),
    "vae_model_param_count": (c_size_t, [model_p]),
    "vae_model_params": (float_p, [model_p]),
    "vae_model_grads": (float_p, [model_p]),
    "vae_model_tensor_count": (c_size_t, [model_p]),
    "vae_model_tensor_info": (
        c_enum, [model_p, c_size_t, POINTER(c_char_p), size_p, size_p, size_p]),
    "vae_model_steps": (c_uint64, [model_p]),
    "vae_model_epochs": (c_uint64, [model_p]),
    "vae_model_backward": (c_enum, [model_p, float_p, float_p, c_size_t, loss_p]),
    "vae_model_train_step": (
        c_enum, [model_p, optimizer_p, float_p, float_p, c_size_t, loss_p]),
    "vae_train_epoch": (
        c_enum, [model_p, optimizer_p, dataset_p, c_size_t, progress_fn, c_void_p, loss_p]),
    "vae_model_evaluate": (c_enum, [model_p, dataset_p, loss_p]),
    "vae_model_encode": (c_enum, [model_p, float_p, float_p, c_size_t, float_p, float_p]),
    "vae_model_decode": (c_enum, [model_p, float_p, float_p, c_size_t, float_p]),
    "vae_model_sample": (c_enum, [model_p, float_p, c_size_t, c_uint64, float_p, float_p]),
    "vae_model_reconstruct": (c_enum, [model_p, float_p, float_p, c_size_t, float_p]),
    # evaluation and exploration
    "vae_model_iwae": (
        c_enum, [model_p, dataset_p, c_size_t, c_uint64, double_p, double_p, double_p]),
    "vae_model_active_units": (c_enum, [model_p, dataset_p, c_double, size_p, double_p]),
    "vae_model_interpolate": (
        c_enum, [model_p, float_p, float_p, float_p, c_enum, c_size_t, float_p, float_p]),
    "vae_model_traverse": (
        c_enum, [model_p, float_p, float_p, c_size_t, c_double, c_double, c_size_t, float_p,
                 float_p]),
    # optimizer
    "vae_optimizer_create": (c_enum, [POINTER(optimizer_p), model_p, c_enum]),
    "vae_optimizer_free": (None, [optimizer_p]),
    "vae_optimizer_set": (c_enum, [optimizer_p, c_enum, c_double]),
    "vae_optimizer_get": (c_enum, [optimizer_p, c_enum, double_p]),
    "vae_optimizer_param_bounds": (c_enum, [c_enum, c_enum, double_p, double_p]),
    "vae_optimizer_kind": (c_enum, [optimizer_p]),
    "vae_optimizer_step": (c_enum, [optimizer_p]),
    # data-parallel training
    "vae_optimizer_set_collective": (
        c_enum, [optimizer_p, allreduce_fn, broadcast_fn, c_void_p, c_int, c_int]),
    # dataset
    "vae_dataset_load_idx": (c_enum, [POINTER(dataset_p), c_char_p, c_char_p, c_uint64]),
    "vae_dataset_from_u8": (
        c_enum, [POINTER(dataset_p), uint8_p, c_size_t, c_size_t, int32_p, c_uint]),
    "vae_dataset_from_f32": (
        c_enum, [POINTER(dataset_p), float_p, c_size_t, c_size_t, int32_p, c_uint]),
    "vae_dataset_free": (None, [dataset_p]),
    "vae_dataset_count": (c_size_t, [dataset_p]),
    "vae_dataset_dim": (c_size_t, [dataset_p]),
    "vae_dataset_num_classes": (c_size_t, [dataset_p]),
    "vae_dataset_labels": (int32_p, [dataset_p]),
    "vae_dataset_get": (c_enum, [dataset_p, c_size_t, c_size_t, float_p, int32_p]),
    "vae_dataset_shuffle": (c_enum, [dataset_p, c_uint64]),
    "vae_dataset_batch": (
        c_enum, [dataset_p, c_size_t, c_size_t, float_p, int32_p, size_p]),
    "vae_dataset_split": (
        c_enum, [dataset_p, c_size_t, c_uint64, POINTER(dataset_p), POINTER(dataset_p)]),
    # checkpoints
    "vae_checkpoint_save": (c_enum, [c_char_p, model_p, optimizer_p]),
    "vae_checkpoint_load": (c_enum, [c_char_p, POINTER(model_p), POINTER(optimizer_p)]),
    # backends and threads
    "vae_backend_count": (c_size_t, []),
    "vae_backend_name": (c_char_p, [c_size_t]),
    "vae_backend_active": (c_char_p, []),
    "vae_backend_select": (c_enum, [c_char_p]),
    "vae_set_sgemm": (None, [sgemm_fn, c_void_p]),
    "vae_set_threads": (c_enum, [c_int]),
    "vae_get_threads": (c_int, []),
}


# ---- loading ----------------------------------------------------------------


def find_library() -> str:
    """Which library to load: ``$LIBVAE_LIBRARY`` when set, else the copy
    inside this package (:data:`BUNDLED`, in a wheel), else :data:`SONAME`,
    for the system's loader to find (an installed libvae).

    :raises LibraryError: ``$LIBVAE_LIBRARY`` names no file.
    """
    path = os.environ.get(LIBRARY_ENV)
    if path:
        if not os.path.exists(path):
            raise LibraryError(f"{LIBRARY_ENV}={path}: no such file")
        return path
    if os.path.exists(BUNDLED):
        return BUNDLED
    return SONAME


class _Missing:
    """Stands in for a function the loaded library lacks (an older minor version)."""

    def __init__(self, name: str, version: str) -> None:
        self.__name__ = name
        self._version = version

    def __call__(self, *args: Any) -> Any:
        raise VaeError(Status.UNSUPPORTED,
                       f"{self.__name__} is not in the loaded libvae {self._version}")


def load_library(path: str) -> ctypes.CDLL:
    """Load the library at ``path``, check its major version, bind :data:`SIGNATURES`.

    :raises LibraryError: the file does not load, is not libvae, or has a
        major version other than :data:`EXPECTED_MAJOR`.
    """
    try:
        cdll = ctypes.CDLL(path)
    except OSError as e:
        if path == SONAME:
            raise LibraryError(
                f"libvae not found: the system's loader has no {SONAME} ({e}); install "
                f"libvae (Debian: libvae1), install the libvae wheel, or set {LIBRARY_ENV} "
                f"to the path of {SONAME}") from e
        raise LibraryError(f"{path}: cannot load: {e}") from e
    try:
        number = cdll.vae_version_number
        version_string = cdll.vae_version_string
    except AttributeError:
        raise LibraryError(f"{path}: not libvae (no vae_version_number)") from None
    number.restype, number.argtypes = c_uint, []
    version_string.restype, version_string.argtypes = c_char_p, []
    major = number() // 10000
    version = version_string().decode()
    if major != EXPECTED_MAJOR:
        raise LibraryError(
            f"{path}: libvae {version} has major version {major}, but these bindings "
            f"need major version {EXPECTED_MAJOR} (libvae.so.{EXPECTED_MAJOR}); set "
            f"{LIBRARY_ENV} to a libvae.so.{EXPECTED_MAJOR}")
    for name, (restype, argtypes) in SIGNATURES.items():
        try:
            f = getattr(cdll, name)
        except AttributeError:
            setattr(cdll, name, _Missing(name, version))
            continue
        f.restype = restype
        f.argtypes = argtypes
    return cdll


_lib: Optional[ctypes.CDLL] = None
_lib_lock = threading.Lock()


def lib() -> ctypes.CDLL:
    """The loaded library (found and checked on first use)."""
    global _lib
    if _lib is None:
        with _lib_lock:
            if _lib is None:
                _lib = load_library(find_library())
    return _lib


# ---- status -----------------------------------------------------------------


def check(status: int, what: Optional[str] = None) -> None:
    """Raise :class:`VaeError` for a failed status, with the library's message.

    ``vae_last_error()`` is thread-local in the library and ctypes calls run
    on the calling thread, so the message read here is this call's.
    """
    if status == Status.OK:
        return
    message = lib().vae_last_error().decode(errors="replace") or (what or "")
    try:
        known = Status(status)
    except ValueError:  # a newer library's status: keep its number visible
        known, message = Status.UNSUPPORTED, f"{message} (libvae status {status})"
    error = VaeError(known, message)
    cause, reraise = take_cause()
    if cause is not None and reraise:
        # The host's own exception, raised from the call that ran its
        # callback, with the library's account of the failure as a note.
        if hasattr(cause, "add_note"):  # Python 3.11
            cause.add_note(f"libvae: {error}")
        raise cause
    if cause is not None:
        raise error from cause
    raise error


# ---- array helpers ----------------------------------------------------------


def _data_as(array: Any, dtype: str, ptype: Any) -> Any:
    """A pointer of ``ptype`` to ``array``'s data, or NULL for None. The
    array must already be what C reads: its dtype, C-contiguous and aligned
    (callers convert with ``_args.require``); anything else is a bug here,
    refused rather than passed on."""
    if array is None:
        return None
    flags = array.flags
    if array.dtype != dtype or not flags.c_contiguous or not flags.aligned:
        raise ValueError(f"libvae: a {array.dtype} array (contiguous {flags.c_contiguous}, "
                         f"aligned {flags.aligned}) where C needs aligned contiguous {dtype}")
    return array.ctypes.data_as(ptype)


def as_float_p(array: Any) -> Any:
    """``float *`` to the data of an aligned C-contiguous float32 array, or NULL for None."""
    return _data_as(array, "float32", float_p)


def as_double_p(array: Any) -> Any:
    """``double *`` to the data of an aligned C-contiguous float64 array, or NULL for None."""
    return _data_as(array, "float64", double_p)


def as_int32_p(array: Any) -> Any:
    """``int32_t *`` to the data of an aligned C-contiguous int32 array, or NULL for None."""
    return _data_as(array, "int32", int32_p)


def as_uint8_p(array: Any) -> Any:
    """``uint8_t *`` to the data of a C-contiguous uint8 array, or NULL for None."""
    return _data_as(array, "uint8", uint8_p)


def size_array(values: Sequence[int]) -> Any:
    """A C ``size_t[]`` holding ``values``."""
    return (c_size_t * len(values))(*values)


Callback = Callable[..., Any]
