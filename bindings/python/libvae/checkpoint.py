"""Checkpoints: a model and, optionally, its optimizer in one file."""

from __future__ import annotations

import os
from ctypes import byref
from typing import Optional, Tuple, Union

from . import _capi
from ._capi import check, lib
from .model import Model
from .optim import Optimizer

__all__ = ["save", "load"]

PathLike = Union[str, "os.PathLike[str]"]


def save(path: PathLike, model: Model, optimizer: Optional[Optimizer] = None) -> None:
    """Save ``model`` (and ``optimizer``'s state) to ``path``, atomically:
    ``path`` always holds either the old or the new checkpoint.
    Format: docs/checkpoint-format.md."""
    model.save(path, optimizer)


def load(path: PathLike, optimizer: bool = True) -> Tuple[Model, Optional[Optimizer]]:
    """Load a checkpoint: ``(model, optimizer)``. The optimizer is None when
    the file holds no optimizer state or ``optimizer`` is False.

    :raises VaeError: FORMAT for a damaged or foreign file, UNSUPPORTED for
        a newer format version, IO when it cannot be read.
    """
    m = _capi.model_p()
    o = _capi.optimizer_p()
    check(lib().vae_checkpoint_load(os.fsencode(path), byref(m),
                                    byref(o) if optimizer else None))
    model = Model._wrap(m)
    return model, (Optimizer._wrap(o, model) if o else None)

