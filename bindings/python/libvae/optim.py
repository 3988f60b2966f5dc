"""Optimizers: Adam and SGD over a model's parameters."""

from __future__ import annotations

import ctypes
from ctypes import byref, c_double
from typing import Any, Callable, Optional, Tuple, Union

from . import _capi
from ._callback import call_back
from ._capi import check, lib
from ._handle import Handle, Owner
from .collective import AllreduceFn, BroadcastFn, Collective
from .enums import OptimKind, OptimParam, Status, coerce
from .errors import VaeError
from .model import Model

__all__ = ["Optimizer", "Adam", "SGD"]

OptimKey = Union[OptimParam, int, str]


def _key(key: OptimKey) -> OptimParam:
    try:
        return coerce(OptimParam, key)
    except ValueError as e:
        raise VaeError(Status.INVALID_ARGUMENT, str(e)) from None


class Optimizer(Owner):
    """An optimizer over the parameters of ``model`` (``vae_optimizer``).

    It keeps its model alive; closing the model closes the optimizer too.
    Keyword arguments set hyper-parameters by name: ``lr``, ``beta1``,
    ``beta2``, ``eps``, ``weight_decay``, ``momentum``.
    """

    def __init__(self, model: Model, kind: Union[OptimKind, int, str] = OptimKind.ADAM,
                 **hyper: float) -> None:
        out = _capi.optimizer_p()
        check(lib().vae_optimizer_create(byref(out), model._h.get(), coerce(OptimKind, kind)))
        self._adopt(out, model)
        try:
            for name, value in hyper.items():
                self.set(name, value)
        except BaseException:
            self.close()
            raise

    @classmethod
    def _wrap(cls, ptr: Any, model: Model) -> "Optimizer":
        kind = OptimKind(lib().vae_optimizer_kind(ptr))
        self = Optimizer.__new__({OptimKind.ADAM: Adam, OptimKind.SGD: SGD}.get(kind, Optimizer))
        self._adopt(ptr, model)
        return self

    def _adopt(self, ptr: Any, model: Model) -> None:
        self._model = model
        self._collective: Optional[Collective] = None
        self._h = Handle(ptr, lib().vae_optimizer_free, "optimizer")
        # The C optimizer points into the model: it must be freed first.
        model._h.add_dependent(self._h)

    @property
    def model(self) -> Model:
        """The model this optimizer updates."""
        return self._model

    @property
    def kind(self) -> OptimKind:
        return OptimKind(lib().vae_optimizer_kind(self._h.get()))

    def set(self, key: OptimKey, value: float) -> None:
        """Set a hyper-parameter (range-checked by the library; one the kind
        does not use, such as Adam's momentum, is INVALID_ARGUMENT)."""
        check(lib().vae_optimizer_set(self._h.get(), _key(key), float(value)))

    @staticmethod
    def bounds(kind: Union[OptimKind, int, str], key: OptimKey) -> Tuple[float, float]:
        """Valid range (inclusive) of a setting of optimizers of ``kind``;
        INVALID_ARGUMENT for one that kind does not use (Adam's momentum)."""
        lo, hi = c_double(), c_double()
        check(lib().vae_optimizer_param_bounds(coerce(OptimKind, kind), _key(key), byref(lo),
                                               byref(hi)))
        return lo.value, hi.value

    def get(self, key: OptimKey) -> float:
        """Read a hyper-parameter."""
        v = c_double()
        check(lib().vae_optimizer_get(self._h.get(), _key(key), byref(v)))
        return v.value

    @property
    def lr(self) -> float:
        """Learning rate."""
        return self.get(OptimParam.LR)

    @lr.setter
    def lr(self, value: float) -> None:
        self.set(OptimParam.LR, value)

    def step(self) -> None:
        """Apply the model's current gradient (:attr:`Model.grads`); with a
        collective set, the gradient averaged over the workers."""
        h = self._h.get()
        check(call_back(self._thunks(), lambda: lib().vae_optimizer_step(h)))

    # -- data-parallel training -----------------------------------------------

    def set_collective(self, allreduce: Optional[AllreduceFn],
                       broadcast: Optional[BroadcastFn] = None, rank: int = 0,
                       world_size: int = 1) -> None:
        """Make this optimizer worker ``rank`` of ``world_size`` that train one
        model together (data parallel; docs/scaling.md). libvae does no
        networking: it calls these two Python functions instead.

        - ``allreduce(buf)``: ``buf`` is a writable 1-D numpy view of the C
          buffer, float32 (the gradient) or float64 (loss sums, counts and
          votes). Replace it in place, on every worker, by the element-wise
          sum over all workers, the same bits on each (mpi4py:
          ``comm.Allreduce(MPI.IN_PLACE, buf)``).
        - ``broadcast(buf, root)``: ``buf`` is a writable uint8 view; copy
          worker ``root``'s bytes into every other worker's ``buf`` in place
          (``comm.Bcast(buf, root=root)``).

        The views are valid only during the call. Every worker calls this
        method (it is itself collective: on return each holds worker 0's
        parameters, optimizer state and counters), then trains as usual;
        :meth:`Model.train_epoch`'s ``batch_size`` then counts the images
        per worker per step. The callables run on the thread of the libvae
        call that needs them and are kept alive while the collective is set.

        An exception raised by a callable makes that libvae call fail (the
        parameters and optimizer state stay as they were) and is raised
        again from the Python call that made it (:meth:`Model.train_step`,
        :meth:`step`, :meth:`Model.train_epoch` or this one). A peer must
        then be made to fail too (or it waits for this one): abort the
        barrier, close the communicator.

        :param allreduce: None detaches the optimizer (a single worker
            again; no communication, the other arguments are ignored).
        :raises VaeError: INVALID_ARGUMENT (rank outside ``[0, world_size)``),
            MISMATCH (the workers' models differ in shape, or their
            optimizers in kind), CALLBACK.
        """
        h = self._h.get()
        if allreduce is None:
            check(lib().vae_optimizer_set_collective(h, ctypes.cast(None, _capi.allreduce_fn),
                                                     ctypes.cast(None, _capi.broadcast_fn),
                                                     None, 0, 1))
            self._collective = None
            return
        if broadcast is None:
            raise VaeError(Status.INVALID_ARGUMENT,
                           "a collective needs a broadcast callable as well as the all-reduce")
        for name, v in (("rank", rank), ("world_size", world_size)):
            if not -2**31 <= int(v) < 2**31:
                raise VaeError(Status.INVALID_ARGUMENT, f"{name} = {v}: outside a C int")
        coll = Collective(allreduce, broadcast)
        check(call_back(coll.thunks, lambda: lib().vae_optimizer_set_collective(
            h, coll.c_allreduce, coll.c_broadcast, None, int(rank), int(world_size))))
        self._collective = coll  # on failure the C side keeps the previous one

    def _thunks(self) -> Tuple[Callable[..., int], ...]:
        """The Python functions the C side may call back during a step."""
        return self._collective.thunks if self._collective is not None else ()

    def close(self) -> None:
        """Free the optimizer now; idempotent."""
        self._h.close()
        self._model._h.remove_dependent(self._h)
        self._collective = None

    def __repr__(self) -> str:
        if self.closed:
            return f"<libvae.{type(self).__name__} closed>"
        return f"<libvae.{type(self).__name__} lr={self.lr:g}>"


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015); defaults lr 1e-3, betas 0.9/0.999, eps 1e-8."""

    def __init__(self, model: Model, **hyper: float) -> None:
        super().__init__(model, OptimKind.ADAM, **hyper)


class SGD(Optimizer):
    """SGD with optional momentum; default lr 1e-2."""

    def __init__(self, model: Model, **hyper: float) -> None:
        super().__init__(model, OptimKind.SGD, **hyper)
