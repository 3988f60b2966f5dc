"""libvae: train and run Variational Autoencoders, from Python.

Bindings over ctypes to the C library libvae (``libvae.so.1``), with numpy
arrays in and out. The library is found through the ``LIBVAE_LIBRARY``
environment variable (a path), else the system's search
(``ctypes.util.find_library("vae")``), and must be of major version 1.

    >>> import libvae
    >>> train = libvae.Dataset.from_idx("train-images-idx3-ubyte.gz",
    ...                                 "train-labels-idx1-ubyte.gz")
    >>> with libvae.Model(latent_dim=2, hidden=400, seed=1) as model:
    ...     adam = libvae.Adam(model, lr=1e-3)
    ...     for epoch in range(10):
    ...         loss = model.train_epoch(adam, train, batch_size=128)
    ...     mu, logvar = model.encode(train.get(0, 16)[0])

Losses are in nats per image (:class:`Loss`). Every failing call raises
:class:`VaeError` with a :class:`Status` and the library's message. Handles
are freed by ``close()``, by a ``with`` block, or when collected; never twice.
The library's diagnostics go to the :mod:`logging` logger ``"libvae"``.
"""

from ._capi import EXPECTED_MAJOR, LIBRARY_ENV, lib as _lib
from .checkpoint import load, save
from .collective import AllreduceFn, BroadcastFn
from .dataset import Dataset
from .enums import (Activation, DType, Interpolation, KLSchedule, Likelihood, LogLevel, OptimKind,
                    OptimParam, Param, Precision, Side, Status, Transpose)
from .errors import ClosedError, LibraryError, VaeError
from .model import Config, Loss, Model, TensorInfo
from .optim import SGD, Adam, Optimizer
from .runtime import (LOGGER_NAME, active_backend, backends, get_threads, log_to_logging,
                      select_backend, set_log_handler, set_sgemm, set_threads, version,
                      version_number)

__version__ = "1.0.0"

__all__ = [
    "Activation", "Adam", "AllreduceFn", "BroadcastFn", "ClosedError", "Config", "DType",
    "Dataset", "EXPECTED_MAJOR", "Interpolation", "KLSchedule", "LIBRARY_ENV", "LOGGER_NAME",
    "LibraryError", "Likelihood", "LogLevel", "Loss", "Model", "OptimKind", "OptimParam",
    "Optimizer", "Param", "Precision", "SGD", "Side", "Status", "TensorInfo", "Transpose", "VaeError",
    "active_backend", "backends", "get_threads", "load", "log_to_logging", "save",
    "select_backend", "set_log_handler", "set_sgemm", "set_threads", "version",
    "version_number",
]

# Find and check the library now, so that a missing or foreign one fails the
# import with a clear message; then give its diagnostics to logging.
_lib()
log_to_logging()
