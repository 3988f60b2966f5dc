"""Datasets: samples as stored (uint8 or float32), with optional labels."""

from __future__ import annotations

import os
from ctypes import byref, c_size_t
from typing import Any, Optional, Tuple, Union

import numpy as np

from . import _args, _capi
from ._capi import as_float_p, as_int32_p, as_uint8_p, check, lib
from ._handle import Handle, Owner, PinnedBuffer
from .enums import DATASET_BORROW, Status
from .errors import VaeError

__all__ = ["Dataset"]

PathLike = Union[str, "os.PathLike[str]"]


def _labels(labels: Any, n: int) -> Optional[np.ndarray]:
    if labels is None:
        return None
    a = np.asarray(labels)
    if a.ndim != 1 or a.shape[0] != n:
        raise VaeError(Status.MISMATCH, f"labels have shape {a.shape} but there are {n} samples")
    if a.size and (not np.issubdtype(a.dtype, np.integer) and a.dtype != np.bool_):
        raise VaeError(Status.INVALID_ARGUMENT, f"labels must be integers, not {a.dtype}")
    # The library checks the range [0, 65535]; out-of-int32 values must not wrap first.
    if a.size and (a.min() < 0 or a.max() > np.iinfo(np.int32).max):
        raise VaeError(Status.INVALID_ARGUMENT,
                       f"labels must lie in [0, 65535]; found {a.min()} to {a.max()}")
    return _args.require(a, np.int32)  # the library copies them


class Dataset(Owner):
    """Samples for training and evaluation (``vae_dataset``).

    Build one with :meth:`from_idx` or :meth:`from_array`. ``len(ds)`` is
    the number of samples. Free it with :meth:`close` or a ``with`` block.
    """

    def __init__(self) -> None:
        raise TypeError("use Dataset.from_idx() or Dataset.from_array()")

    @classmethod
    def _wrap(cls, ptr: Any, keep: Any = None) -> "Dataset":
        self = cls.__new__(cls)
        free = lib().vae_dataset_free
        if keep is None:
            self._h = Handle(ptr, free, "dataset")
        else:
            # A borrowed array must outlive the C dataset, which may itself
            # outlive this object (a labels view pins it): the closure holds it.
            kept = [keep]

            def free_and_release(p: Any) -> None:
                free(p)
                kept.clear()
            self._h = Handle(ptr, free_and_release, "dataset")
        return self

    @classmethod
    def from_idx(cls, images: PathLike, labels: Optional[PathLike] = None,
                 max_bytes: int = 0) -> "Dataset":
        """Load IDX files (MNIST layout, raw or gzip); pixels scaled to [0, 1].

        :param max_bytes: refuse data whose pixels would take more bytes
            than this (0: the library's cap, 4 GiB); LIMIT when exceeded.
        """
        out = _capi.dataset_p()
        check(lib().vae_dataset_load_idx(byref(out), os.fsencode(images),
                                         os.fsencode(labels) if labels is not None else None,
                                         _args.u64("max_bytes", max_bytes)))
        return cls._wrap(out)

    @classmethod
    def from_array(cls, data: Any, labels: Any = None, borrow: bool = False) -> "Dataset":
        """A dataset from an array of ``n`` samples: ``[n x dim]``, or
        ``[n x ...]`` whose trailing axes are flattened (``[n x 28 x 28]``).

        uint8 data is scaled by 1/255; float32 data is used as it is (it
        must be finite, and in [0, 1] for a Bernoulli model); other dtypes
        are converted to float32. Labels (integers in [0, 65535]) are copied.

        :param borrow: keep a pointer to ``data`` instead of a copy (no
            memory is duplicated). ``data`` must then be a C-contiguous uint8
            or float32 array; the dataset keeps it alive, and it must not be
            changed while the dataset exists.
        """
        a = np.asarray(data)
        if a.ndim < 2 or a.shape[0] == 0 or a.size == 0:
            raise VaeError(Status.INVALID_ARGUMENT,
                           f"data has shape {a.shape}; it needs [n x dim] with n, dim >= 1")
        if a.dtype not in (np.uint8, np.float32):
            if borrow:
                raise VaeError(Status.INVALID_ARGUMENT,
                               f"cannot borrow {a.dtype} data: it needs a copy as float32")
            a = a.astype(np.float32)
        if borrow and not (a.flags.c_contiguous and a.flags.aligned):
            raise VaeError(Status.INVALID_ARGUMENT,
                           "cannot borrow a non-contiguous or misaligned array: it needs a copy")
        a = _args.require(a, a.dtype).reshape(a.shape[0], -1)
        n, dim = a.shape
        lab = _labels(labels, n)
        out = _capi.dataset_p()
        flags = DATASET_BORROW if borrow else 0
        if a.dtype == np.uint8:
            check(lib().vae_dataset_from_u8(byref(out), as_uint8_p(a), n, dim,
                                            as_int32_p(lab), flags))
        else:
            check(lib().vae_dataset_from_f32(byref(out), as_float_p(a), n, dim,
                                             as_int32_p(lab), flags))
        return cls._wrap(out, keep=a if borrow else None)

    # -- lifetime -------------------------------------------------------------

    def close(self) -> None:
        """Free the dataset now (and release a borrowed array); idempotent."""
        self._h.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<libvae.Dataset closed>"
        return f"<libvae.Dataset {len(self)} x {self.dim}, {self.num_classes} classes>"

    # -- contents -------------------------------------------------------------

    def __len__(self) -> int:
        return int(lib().vae_dataset_count(self._h.get()))

    @property
    def count(self) -> int:
        """Number of samples."""
        return len(self)

    @property
    def dim(self) -> int:
        """Floats per sample."""
        return int(lib().vae_dataset_dim(self._h.get()))

    @property
    def num_classes(self) -> int:
        """1 + the largest label, or 0 without labels."""
        return int(lib().vae_dataset_num_classes(self._h.get()))

    @property
    def labels(self) -> Optional[np.ndarray]:
        """The labels in storage order as a read-only int32 view (no copy),
        or None. The view keeps the dataset's memory alive."""
        p = lib().vae_dataset_labels(self._h.get())
        if not p:
            return None
        addr = _capi.ctypes.cast(p, _capi.c_void_p).value
        return np.asarray(PinnedBuffer(self._h, self, addr, (len(self),), "<i4", True))

    def get(self, first: int = 0, count: Optional[int] = None
            ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Samples ``[first, first + count)`` as float32 ``[count x dim]``
        with their labels (None without labels)."""
        first = _args.size("first", first)
        if count is None:
            count = len(self) - first
        count = _args.size("count", count, 1)
        x = np.empty((count, self.dim), dtype=np.float32)
        lab = np.empty(count, dtype=np.int32) if self.num_classes else None
        check(lib().vae_dataset_get(self._h.get(), first, count, as_float_p(x),
                                    as_int32_p(lab)))
        return x, lab

    def split(self, count: int, seed: int) -> Tuple["Dataset", "Dataset"]:
        """Split at random into two new datasets, e.g. training and validation.

        ``count`` samples drawn without replacement by a permutation seeded
        by ``seed`` go into ``picked``, the others into ``rest``; each keeps
        this dataset's storage order, labels and sample type (bytes stay
        bytes). Both are copies that own their memory: this dataset (and a
        borrowed array behind it) may be closed or changed afterwards.

        :param count: 1 to ``len(self) - 1``.
        :returns: ``(rest, picked)``, of ``len(self) - count`` and ``count``
            samples; close each (or use them in ``with`` blocks).
        """
        n = len(self)
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) \
                or not 1 <= count < n:
            raise VaeError(Status.INVALID_ARGUMENT,
                           f"cannot pick {count!r} of {n} samples: count must be a whole "
                           f"number in [1, {n - 1}]")
        rest, picked = _capi.dataset_p(), _capi.dataset_p()
        check(lib().vae_dataset_split(self._h.get(), int(count), _args.u64("seed", seed), byref(rest),
                                      byref(picked)))
        # Wrap both before anything else can fail, so that neither leaks.
        return Dataset._wrap(rest), Dataset._wrap(picked)

    def shuffle(self, seed: int) -> None:
        """Set the order of :meth:`batch` to a permutation drawn from ``seed``."""
        check(lib().vae_dataset_shuffle(self._h.get(), _args.u64("seed", seed)))

    def batch(self, index: int, batch_size: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Minibatch ``index`` of the current order (identity until
        :meth:`shuffle`); the last one may be short."""
        index = _args.size("index", index)
        batch_size = _args.size("batch_size", batch_size, 1)
        x = np.empty((batch_size, self.dim), dtype=np.float32)
        lab = np.empty(batch_size, dtype=np.int32) if self.num_classes else None
        n = c_size_t()
        check(lib().vae_dataset_batch(self._h.get(), index, batch_size,
                                      as_float_p(x), as_int32_p(lab), byref(n)))
        return x[:n.value], (lab[:n.value] if lab is not None else None)
