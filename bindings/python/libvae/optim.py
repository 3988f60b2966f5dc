"""Optimizers: Adam and SGD over a model's parameters."""

from __future__ import annotations

from ctypes import byref, c_double
from typing import Any, Union

from . import _capi
from ._capi import lib
from ._handle import Handle, Owner
from .enums import OptimKind, OptimParam, Status, coerce
from .errors import VaeError, check
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
        """Set a hyper-parameter (range-checked by the library)."""
        check(lib().vae_optimizer_set(self._h.get(), _key(key), float(value)))

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
        """Apply the model's current gradient (:attr:`Model.grads`)."""
        check(lib().vae_optimizer_step(self._h.get()))

    def close(self) -> None:
        """Free the optimizer now; idempotent."""
        self._h.close()
        self._model._h.remove_dependent(self._h)

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
