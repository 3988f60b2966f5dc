"""Models: settings, training, evaluation and inference."""

from __future__ import annotations

import ctypes
import dataclasses
import operator
import os
from ctypes import byref, c_char_p, c_double, c_size_t
from typing import (TYPE_CHECKING, Any, Callable, Dict, List, Literal, Optional, Sequence,
                    Tuple, Union, overload)

import numpy as np

from . import _args, _capi, errors
from ._callback import call_back, unraisable_into
from ._capi import as_double_p, as_float_p, check, lib, size_array
from ._handle import Handle, Owner, PinnedBuffer
from .enums import (Activation, Interpolation, KLSchedule, Likelihood, Param, Precision, Side,
                    Status, coerce)
from .errors import VaeError

if TYPE_CHECKING:
    from typing import Protocol

    from .dataset import Dataset

    class Optimizer(Protocol):
        """What the training methods use of a :class:`libvae.optim.Optimizer`
        (its handle and its callbacks). optim.py builds on this module (an
        optimizer is made over a model), so this one does not import it."""

        _h: Handle

        def _thunks(self) -> Tuple[Callable[..., int], ...]: ...

__all__ = ["Loss", "Config", "Model", "TensorInfo", "ProgressFn"]

ArrayLike = Any
ParamKey = Union[Param, int, str]

#: progress(batch, batches, loss) after every batch of an epoch; a truthy
#: return value stops the epoch (VaeError with status CANCELLED).
ProgressFn = Callable[[int, int, "Loss"], Any]


@dataclasses.dataclass(frozen=True)
class Loss:
    """Loss parts of a step or an evaluation, in nats per image.

    :ivar total: the negative ELBO, ``recon + kl``.
    :ivar recon: ``-E_q[log p(x|z)]``, the reconstruction term.
    :ivar kl: ``KL(q(z|x) || N(0, I))``.
    :ivar objective: what training minimises: ``recon + kl_weight * kl``
        (free bits applied).
    :ivar kl_weight: the KL weight in force (beta times the schedule).
    """

    total: float
    recon: float
    kl: float
    objective: float
    kl_weight: float

    @classmethod
    def _from_c(cls, c: _capi.vae_loss) -> "Loss":
        return cls(c.total, c.recon, c.kl, c.objective, c.kl_weight)


# Settings that take an enum accept its name or number too.
_ENUM_SETTINGS = {
    Param.ACTIVATION: Activation,
    Param.LIKELIHOOD: Likelihood,
    Param.KL_SCHEDULE: KLSchedule,
    Param.PRECISION: Precision,
}
# Settings that hold whole numbers (the C API passes every setting as double).
_INTEGER_SETTINGS = {
    Param.INPUT_DIM, Param.LATENT_DIM, Param.COND_DIM, Param.SEED, Param.KL_WARMUP_STEPS,
    Param.KL_CYCLE_STEPS,
}
_BOOL_SETTINGS = {Param.BINARIZE, Param.EVAL_USE_MEAN}


def _param(key: ParamKey) -> Param:
    try:
        return coerce(Param, key)
    except ValueError as e:
        raise VaeError(Status.INVALID_ARGUMENT, str(e)) from None


def _to_c(p: Param, value: Any) -> float:
    if p in _ENUM_SETTINGS:
        try:
            return float(coerce(_ENUM_SETTINGS[p], value))
        except ValueError as e:
            raise VaeError(Status.INVALID_ARGUMENT, f"{p.name.lower()}: {e}") from None
    return float(value)


def _from_c(p: Param, value: float) -> Any:
    if p in _ENUM_SETTINGS:
        return _ENUM_SETTINGS[p](int(value))
    if p in _BOOL_SETTINGS:
        return bool(value)
    if p in _INTEGER_SETTINGS:
        return int(value)
    return value


def _hidden_list(value: Union[int, Sequence[int]]) -> List[int]:
    return [int(value)] if isinstance(value, (int, np.integer)) else [int(v) for v in value]


class Config(Owner):
    """Settings of a model (``vae_config``); defaults are the lesson's
    784-400-2 ReLU Bernoulli VAE with beta 1 and seed 1.

    Keyword arguments are settings by name (see :class:`Param`, lower case:
    ``latent_dim=2, activation="tanh", beta=4.0``), plus ``hidden`` (an int
    or a list, for both sides), ``encoder`` and ``decoder`` (lists; the
    decoder's runs from the latent outwards), ``encoder_layers`` and
    ``decoder_layers`` (layer-spec strings, since libvae 1.1, e.g.
    ``"conv:32:4:2:1,relu,conv:64:4:2:1,relu"``; see
    ``vae_config_set_layers`` in vae.h) and ``input_shape`` (channels,
    height, width of an input image). Usually you pass the same
    keywords to :class:`Model` directly.
    """

    def __init__(self, **settings: Any) -> None:
        out = _capi.config_p()
        check(lib().vae_config_create(byref(out)))
        self._h = Handle(out, lib().vae_config_free, "config")
        try:
            self.update(**settings)
        except BaseException:
            self.close()
            raise

    def update(self, **settings: Any) -> "Config":
        """Apply keyword settings (as the constructor); returns self."""
        hidden = settings.pop("hidden", None)
        encoder = settings.pop("encoder", None)
        decoder = settings.pop("decoder", None)
        layers = {Side.ENCODER: settings.pop("encoder_layers", None),
                  Side.DECODER: settings.pop("decoder_layers", None)}
        shape = settings.pop("input_shape", None)
        for name, value in settings.items():
            self.set(name, value)
        if shape is not None:
            self.set_input_shape(*shape)
        for side, spec in layers.items():
            if spec is not None:
                self.set_layers(side, spec)
        if hidden is not None:
            self.set_hidden(Side.BOTH, hidden)
        if encoder is not None:
            self.set_hidden(Side.ENCODER, encoder)
        if decoder is not None:
            self.set_hidden(Side.DECODER, decoder)
        return self

    def set(self, key: ParamKey, value: Any) -> None:
        """Set one setting (range-checked by the library)."""
        p = _param(key)
        check(lib().vae_config_set(self._h.get(), p, _to_c(p, value)))

    def get(self, key: ParamKey) -> Any:
        """One setting: an int, bool, float or enum member as fits it."""
        p = _param(key)
        v = c_double()
        check(lib().vae_config_get(self._h.get(), p, byref(v)))
        return _from_c(p, v.value)

    def set_hidden(self, side: Union[Side, int, str], widths: Union[int, Sequence[int]]) -> None:
        """Hidden layer widths of one side (or ``"both"``), input side first."""
        sizes = _hidden_list(widths)
        check(lib().vae_config_set_hidden(self._h.get(), coerce(Side, side),
                                          size_array(sizes), len(sizes)))

    def set_layers(self, side: Union[Side, int, str], spec: str) -> None:
        """Layer spec of one side (or ``"both"``); ``""`` restores the
        dense hidden widths."""
        check(lib().vae_config_set_layers(self._h.get(), coerce(Side, side),
                                          spec.encode("ascii")))

    def layers(self, side: Union[Side, int, str] = Side.ENCODER) -> str:
        """Layer spec of one side (``""`` for dense hidden widths)."""
        return (lib().vae_config_layers(self._h.get(), coerce(Side, side)) or b"").decode()

    def set_input_shape(self, channels: int, height: int, width: int) -> None:
        """Input image shape (channels-last rows); sets input_dim too."""
        check(lib().vae_config_set_input_shape(self._h.get(), int(channels), int(height),
                                               int(width)))

    @staticmethod
    def bounds(key: ParamKey) -> Tuple[float, float]:
        """Valid range (inclusive) of a setting."""
        p = _param(key)
        lo, hi = c_double(), c_double()
        check(lib().vae_param_bounds(p, byref(lo), byref(hi)))
        return lo.value, hi.value



@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One parameter tensor: ``name`` (e.g. ``"encoder.0.weight"``), shape
    ``rows x cols`` and ``offset`` (first float) in the flat buffer."""

    name: str
    rows: int
    cols: int
    offset: int


def _floats(name: str, x: ArrayLike, cols: int) -> Tuple[np.ndarray, bool]:
    """``x`` as a C-contiguous float32 [n x cols] (a view when it already is
    one), and whether it was a single 1-D row."""
    a = _args.require(x, np.float32)
    single = a.ndim == 1
    if single:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[1] != cols or a.shape[0] == 0:
        raise VaeError(Status.MISMATCH,
                       f"{name} has shape {np.shape(x)} but the model needs [n x {cols}] "
                       "with n >= 1")
    return a, single


def _count(name: str, value: Any, minimum: int) -> int:
    """A whole number >= minimum for a size_t argument (ctypes would wrap a
    negative one into a huge count)."""
    return _args.size(name, value, minimum)


def _out(name: str, out: Optional[np.ndarray], rows: int, cols: int) -> np.ndarray:
    if out is None:
        return np.empty((rows, cols), dtype=np.float32)
    if (not isinstance(out, np.ndarray) or out.dtype != np.float32
            or not out.flags.c_contiguous or not out.flags.aligned
            or not out.flags.writeable or out.size != rows * cols):
        raise VaeError(Status.MISMATCH,
                       f"{name} must be a writable, aligned, C-contiguous float32 array of "
                       f"{rows} x {cols}")
    return out


class Model(Owner):
    """A Variational Autoencoder (``vae_model``).

    ``Model(latent_dim=2, hidden=400, seed=1)`` creates one from keyword
    settings (see :class:`Config`); ``Model(config=cfg)`` from a
    :class:`Config`. Free it with :meth:`close` or a ``with`` block; it is
    also freed when collected. Arrays in are float32 row-major ``[n x dim]``
    (other dtypes and layouts are converted); a 1-D array is one row and
    gives a 1-D result.
    """

    def __init__(self, config: Optional[Config] = None, **settings: Any) -> None:
        if config is not None and settings:
            raise TypeError("pass either a Config or keyword settings, not both")
        own = config is None
        cfg = Config(**settings) if own else config
        try:
            out = _capi.model_p()
            check(lib().vae_model_create(byref(out), cfg._h.get()))
        finally:
            if own:
                cfg.close()
        self._adopt(out)

    @classmethod
    def _wrap(cls, ptr: Any) -> "Model":
        self = cls.__new__(cls)
        self._adopt(ptr)
        return self

    def _adopt(self, ptr: Any) -> None:
        self._h = Handle(ptr, lib().vae_model_free, "model")
        self._input_dim = int(self._get(Param.INPUT_DIM))
        self._latent_dim = int(self._get(Param.LATENT_DIM))
        self._cond_dim = int(self._get(Param.COND_DIM))

    # -- lifetime -------------------------------------------------------------

    def close(self) -> None:
        """Free the model now (its optimizers first). Parameter views already
        taken stay valid: the memory goes when the last one does. Idempotent."""
        self._h.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<libvae.Model closed>"
        shape = [self._input_dim, *self.hidden(Side.ENCODER), self._latent_dim,
                 *self.hidden(Side.DECODER), self._input_dim]
        return (f"<libvae.Model {'-'.join(map(str, shape))}, {self.param_count} parameters, "
                f"{self.epochs} epochs>")

    # -- settings -------------------------------------------------------------

    def _get(self, p: Param) -> float:
        v = c_double()
        check(lib().vae_model_get(self._h.get(), p, byref(v)))
        return v.value

    def get(self, key: ParamKey) -> Any:
        """Any setting of the model (an int, bool, float or enum member)."""
        p = _param(key)
        return _from_c(p, self._get(p))

    def set(self, key: ParamKey, value: Any) -> None:
        """Change an objective setting (``beta``, ``free_bits``, ...) on the
        live model; architecture settings raise INVALID_ARGUMENT."""
        p = _param(key)
        check(lib().vae_model_set(self._h.get(), p, _to_c(p, value)))

    @property
    def settings(self) -> Dict[str, Any]:
        """Every setting by name."""
        return {p.name.lower(): self.get(p) for p in Param}

    @property
    def input_dim(self) -> int:
        """Floats per sample."""
        return self._input_dim

    @property
    def latent_dim(self) -> int:
        """Latent dimensions."""
        return self._latent_dim

    @property
    def cond_dim(self) -> int:
        """Width of the conditioning vector (0: none)."""
        return self._cond_dim

    def hidden(self, side: Union[Side, int, str] = Side.ENCODER) -> List[int]:
        """Hidden layer widths of the encoder or the decoder."""
        s = coerce(Side, side)
        n = c_size_t()
        check(lib().vae_model_hidden(self._h.get(), s, None, 0, byref(n)))
        sizes = (c_size_t * n.value)()
        check(lib().vae_model_hidden(self._h.get(), s, sizes, n.value, byref(n)))
        return list(sizes)

    def layers(self, side: Union[Side, int, str] = Side.ENCODER) -> str:
        """Layer spec of the encoder or the decoder (``""`` for dense widths)."""
        return (lib().vae_model_layers(self._h.get(), coerce(Side, side)) or b"").decode()

    @property
    def steps(self) -> int:
        """Training steps taken (drives the KL schedule)."""
        return int(lib().vae_model_steps(self._h.get()))

    @property
    def epochs(self) -> int:
        """Epochs completed by :meth:`train_epoch`."""
        return int(lib().vae_model_epochs(self._h.get()))

    # -- parameters -----------------------------------------------------------

    @property
    def param_count(self) -> int:
        """Number of float parameters."""
        return int(lib().vae_model_param_count(self._h.get()))

    def _view(self, address: Any, count: int, readonly: bool) -> np.ndarray:
        addr = ctypes.cast(address, ctypes.c_void_p).value
        buf = PinnedBuffer(self._h, self, addr or 0, (count,), "<f4", readonly)
        return np.asarray(buf)

    @property
    def params(self) -> np.ndarray:
        """The flat parameter buffer as a writable float32 view (no copy):
        writes reach the model. The view keeps the model's memory alive,
        even past :meth:`close`."""
        return self._view(lib().vae_model_params(self._h.get()), self.param_count, False)

    @property
    def grads(self) -> np.ndarray:
        """The gradient of the last :meth:`backward` or training step, as a
        read-only view in the layout of :attr:`params`."""
        return self._view(lib().vae_model_grads(self._h.get()), self.param_count, True)

    def tensors(self) -> List[TensorInfo]:
        """Every parameter tensor, in buffer order."""
        out = []
        name, rows, cols, offset = c_char_p(), c_size_t(), c_size_t(), c_size_t()
        for i in range(lib().vae_model_tensor_count(self._h.get())):
            check(lib().vae_model_tensor_info(self._h.get(), i, byref(name), byref(rows),
                                              byref(cols), byref(offset)))
            out.append(TensorInfo(name.value.decode(), rows.value, cols.value, offset.value))
        return out

    def tensor(self, name: str) -> np.ndarray:
        """One tensor as a writable [rows x cols] view into :attr:`params`."""
        for t in self.tensors():
            if t.name == name:
                return self.params[t.offset:t.offset + t.rows * t.cols].reshape(t.rows, t.cols)
        raise KeyError(name)

    # -- training -------------------------------------------------------------

    def _cond(self, cond: Optional[ArrayLike], n: int) -> Optional[np.ndarray]:
        if cond is None:
            return None  # the library says whether one was needed
        c, _ = _floats("cond", cond, self._cond_dim)
        if c.shape[0] != n:
            raise VaeError(Status.MISMATCH, f"cond has {c.shape[0]} rows but x has {n}")
        return c

    def backward(self, x: ArrayLike, cond: Optional[ArrayLike] = None) -> Loss:
        """Forward and backward pass on one batch: fills :attr:`grads` with
        the gradient of the batch-mean objective; the parameters are unchanged."""
        a, _ = _floats("x", x, self._input_dim)
        c = self._cond(cond, a.shape[0])
        loss = _capi.vae_loss()
        check(lib().vae_model_backward(self._h.get(), as_float_p(a), as_float_p(c),
                                       a.shape[0], byref(loss)))
        return Loss._from_c(loss)

    def train_step(self, optimizer: "Optimizer", x: ArrayLike,
                   cond: Optional[ArrayLike] = None) -> Loss:
        """One step on the batch ``x``: backward, then the optimizer's update.
        A non-finite loss raises NUMERIC and changes nothing."""
        a, _ = _floats("x", x, self._input_dim)
        c = self._cond(cond, a.shape[0])
        loss = _capi.vae_loss()
        m, o = self._h.get(), optimizer._h.get()
        check(call_back(optimizer._thunks(), lambda: lib().vae_model_train_step(
            m, o, as_float_p(a), as_float_p(c), a.shape[0], byref(loss))))
        return Loss._from_c(loss)

    def train_epoch(self, optimizer: "Optimizer", dataset: "Dataset", batch_size: int = 128,
                    progress: Optional[ProgressFn] = None) -> Loss:
        """Train one epoch over ``dataset`` in an order shuffled from the
        seed and the epoch count; returns the mean loss over the epoch.

        :param progress: called as ``progress(batch, batches, loss)`` after
            every batch. A truthy return value stops the epoch after that
            batch with :class:`VaeError` ``CANCELLED`` (its ``.loss`` holds
            the mean so far). An exception raised inside it, or by a signal
            handler during the epoch (Ctrl-C), also stops the epoch after the
            current batch and is re-raised here. The steps taken stay in the
            model; the epoch count advances only when the epoch ran to its end.
        """
        batch = _count("train_epoch: batch_size", batch_size, 1)
        mean = _capi.vae_loss()
        raised: List[BaseException] = []

        # Installed even without ``progress``: running Python between batches
        # lets a signal handler (Ctrl-C's KeyboardInterrupt) stop the epoch.
        def trampoline(user: Any, batch: int, batches: int, loss: Any) -> int:
            try:
                if raised or progress is None:
                    return 1 if raised else 0
                return 1 if progress(batch, batches, Loss._from_c(loss.contents)) else 0
            except BaseException as e:  # noqa: B902 - KeyboardInterrupt too
                raised.append(e)
                return 1

        cb = _capi.progress_fn(trampoline)
        with unraisable_into((trampoline, *optimizer._thunks()), raised):
            status = lib().vae_train_epoch(self._h.get(), optimizer._h.get(),
                                           dataset._h.get(), batch, cb, None,
                                           byref(mean))
        if raised:
            errors.discard_pending()
            raise raised[0]
        try:
            check(status)
        except VaeError as e:
            if e.status == Status.CANCELLED:
                e.loss = Loss._from_c(mean)
            raise
        return Loss._from_c(mean)

    def evaluate(self, dataset: "Dataset") -> Loss:
        """Mean loss over ``dataset`` without changing the model (the latent
        noise is seeded from the model's seed: the same on every call)."""
        mean = _capi.vae_loss()
        check(lib().vae_model_evaluate(self._h.get(), dataset._h.get(), byref(mean)))
        return Loss._from_c(mean)

    # -- inference ------------------------------------------------------------

    def encode(self, x: ArrayLike, cond: Optional[ArrayLike] = None
               ) -> Tuple[np.ndarray, np.ndarray]:
        """Posterior parameters of q(z|x): ``(mu, logvar)``, each [n x latent_dim]."""
        a, single = _floats("x", x, self._input_dim)
        c = self._cond(cond, a.shape[0])
        n = a.shape[0]
        mu = np.empty((n, self._latent_dim), dtype=np.float32)
        logvar = np.empty_like(mu)
        check(lib().vae_model_encode(self._h.get(), as_float_p(a), as_float_p(c), n,
                                     as_float_p(mu), as_float_p(logvar)))
        return (mu[0], logvar[0]) if single else (mu, logvar)

    def decode(self, z: ArrayLike, cond: Optional[ArrayLike] = None,
               out: Optional[np.ndarray] = None) -> np.ndarray:
        """The likelihood's mean for latents ``z`` [n x latent_dim]: pixel
        probabilities for Bernoulli, means for Gaussian. ``out`` may be a
        float32 array to write into."""
        a, single = _floats("z", z, self._latent_dim)
        c = self._cond(cond, a.shape[0])
        o = _out("out", out, a.shape[0], self._input_dim)
        check(lib().vae_model_decode(self._h.get(), as_float_p(a), as_float_p(c), a.shape[0],
                                     as_float_p(o)))
        return o.reshape(-1) if single and out is None else o

    def reconstruct(self, x: ArrayLike, cond: Optional[ArrayLike] = None,
                    out: Optional[np.ndarray] = None) -> np.ndarray:
        """``decode(encode(x).mu)``: the reconstruction at the posterior mean."""
        a, single = _floats("x", x, self._input_dim)
        c = self._cond(cond, a.shape[0])
        o = _out("out", out, a.shape[0], self._input_dim)
        check(lib().vae_model_reconstruct(self._h.get(), as_float_p(a), as_float_p(c),
                                          a.shape[0], as_float_p(o)))
        return o.reshape(-1) if single and out is None else o

    def sample(self, n: int, seed: int = 1, cond: Optional[ArrayLike] = None,
               return_z: bool = False, out: Optional[np.ndarray] = None
               ) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """Decode ``n`` draws z ~ N(0, I) from a stream seeded by ``seed``
        (the model's training noise is untouched). Returns the decoded
        [n x input_dim], or ``(x, z)`` with ``return_z``."""
        n = _count("sample: n", n, 1)
        seed = _args.u64("sample: seed", seed)
        c = self._cond(cond, n)
        o = _out("out", out, n, self._input_dim)
        z = np.empty((n, self._latent_dim), dtype=np.float32) if return_z else None
        check(lib().vae_model_sample(self._h.get(), as_float_p(c), n, seed,
                                     as_float_p(o), as_float_p(z)))
        return (o, z) if return_z else o

    # -- evaluation and exploration --------------------------------------------

    @overload
    def iwae(self, dataset: "Dataset", k: int, seed: int = ...,
             per_image: Literal[False] = ...) -> float: ...

    @overload
    def iwae(self, dataset: "Dataset", k: int, seed: int = ..., *,
             per_image: Literal[True]) -> Tuple[float, np.ndarray, np.ndarray]: ...

    @overload
    def iwae(self, dataset: "Dataset", k: int, seed: int, per_image: Literal[True]
             ) -> Tuple[float, np.ndarray, np.ndarray]: ...

    def iwae(self, dataset: "Dataset", k: int, seed: int = 1, per_image: bool = False
             ) -> Union[float, Tuple[float, np.ndarray, np.ndarray]]:
        """Importance-weighted bound on log p(x) (Burda et al. 2015), in nats
        per image (higher is better; ``-iwae`` compares with
        :attr:`Loss.total`, the negative ELBO):
        ``L_k(x) = log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)``, ``z_i ~ q(z|x)``.

        :param k: importance samples per image, >= 1 (k decoder passes per
            image); ``k=1`` is a one-sample ELBO estimate.
        :param seed: seeds the draws; image i's come from (seed, i) alone.
            The model's parameters and training noise are untouched.
        :param per_image: also return each image's bound and ELBO.
        :returns: the mean of ``L_k`` over ``dataset``; with ``per_image``,
            ``(mean, bound, elbo)``, the last two float64 ``[len(dataset)]``
            in storage order, where ``elbo`` is the mean of the same k log
            weights, so ``bound >= elbo`` image by image (equal for k = 1).
        :raises VaeError: MISMATCH when the data does not fit the model,
            NUMERIC when a log weight is not finite.
        """
        k = _count("iwae: k", k, 1)
        mean = c_double()
        n = len(dataset)
        bound = np.empty(n, dtype=np.float64) if per_image else None
        elbo = np.empty(n, dtype=np.float64) if per_image else None
        seed = _args.u64("iwae: seed", seed)
        check(lib().vae_model_iwae(self._h.get(), dataset._h.get(), k, seed, byref(mean),
                                   as_double_p(bound), as_double_p(elbo)))
        if per_image:
            assert bound is not None and elbo is not None
            return mean.value, bound, elbo
        return mean.value

    def active_units(self, dataset: "Dataset", threshold: float = 0.01
                     ) -> Tuple[int, np.ndarray]:
        """Active latent units (Burda et al. 2015): dimension j is active when
        the variance over ``dataset`` of its posterior mean, ``Var_x(mu_j(x))``,
        exceeds ``threshold`` (latent units squared). A collapsed dimension's
        posterior ignores x, so its mean does not vary.

        :returns: ``(count, variances)``: the number of active dimensions and
            float64 ``[latent_dim]`` variances (divided by the count).
        """
        active = c_size_t()
        variances = np.empty(self._latent_dim, dtype=np.float64)
        check(lib().vae_model_active_units(self._h.get(), dataset._h.get(), float(threshold),
                                           byref(active), as_double_p(variances)))
        return int(active.value), variances

    def _point(self, name: str, v: ArrayLike, cols: int) -> np.ndarray:
        a, _ = _floats(name, v, cols)
        if a.shape[0] != 1:
            raise VaeError(Status.MISMATCH,
                           f"{name} has shape {np.shape(v)} but must be one vector of {cols}")
        return a

    def _path_cond(self, cond: Optional[ArrayLike]) -> Optional[np.ndarray]:
        return None if cond is None else self._point("cond", cond, self._cond_dim)

    def interpolate(self, z0: ArrayLike, z1: ArrayLike, steps: int,
                    kind: Union[Interpolation, int, str] = Interpolation.LINEAR,
                    cond: Optional[ArrayLike] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Decode ``steps`` evenly spaced points ``t = i / (steps - 1)`` of a
        path from ``z0`` (t = 0) to ``z1`` (t = 1); the ends are z0 and z1
        exactly.

        :param z0, z1: latent points, ``[latent_dim]`` each.
        :param steps: points on the path, >= 2.
        :param kind: ``"linear"``, ``(1 - t) z0 + t z1``, or ``"slerp"``, the
            great-circle path, which keeps the norm when ``|z0| = |z1|``
            (and falls back to linear for parallel or zero vectors).
        :param cond: ``[cond_dim]`` conditioning shared by every point, for a
            conditional model.
        :returns: ``(images, zs)``: the decoded points ``[steps x input_dim]``
            (as :meth:`decode`) and the points ``[steps x latent_dim]``.
        """
        try:
            k = coerce(Interpolation, kind)
        except ValueError as e:
            raise VaeError(Status.INVALID_ARGUMENT, str(e)) from None
        a = self._point("z0", z0, self._latent_dim)
        b = self._point("z1", z1, self._latent_dim)
        c = self._path_cond(cond)
        steps = _count("interpolate: steps", steps, 2)
        images = np.empty((steps, self._input_dim), dtype=np.float32)
        zs = np.empty((steps, self._latent_dim), dtype=np.float32)
        check(lib().vae_model_interpolate(self._h.get(), as_float_p(a), as_float_p(b),
                                          as_float_p(c), k, steps, as_float_p(images),
                                          as_float_p(zs)))
        return images, zs

    def traverse(self, z: ArrayLike, dim: int, lo: float, hi: float, steps: int,
                 cond: Optional[ArrayLike] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Latent traversal: decode ``steps`` copies of ``z`` whose dimension
        ``dim`` sweeps evenly from ``lo`` to ``hi`` (both included; lo > hi
        sweeps down), the other dimensions held fixed.

        :param z: the base point, ``[latent_dim]``.
        :param dim: the dimension swept, in ``[0, latent_dim)``.
        :param steps: >= 2.
        :param cond: ``[cond_dim]`` conditioning, for a conditional model.
        :returns: ``(images, zs)``, ``[steps x input_dim]`` and
            ``[steps x latent_dim]``.
        """
        p = self._point("z", z, self._latent_dim)
        c = self._path_cond(cond)
        d = _count("traverse: dim", dim, 0)
        steps = _count("traverse: steps", steps, 2)
        images = np.empty((steps, self._input_dim), dtype=np.float32)
        zs = np.empty((steps, self._latent_dim), dtype=np.float32)
        check(lib().vae_model_traverse(self._h.get(), as_float_p(p), as_float_p(c), d,
                                       float(lo), float(hi), steps, as_float_p(images),
                                       as_float_p(zs)))
        return images, zs

    # -- checkpoints ----------------------------------------------------------

    def save(self, path: Union[str, "os.PathLike[str]"],
             optimizer: Optional["Optimizer"] = None) -> None:
        """Save a checkpoint (atomically), with the optimizer's state when given.
        Format: docs/checkpoint-format.md; :func:`libvae.load` reads it."""
        check(lib().vae_checkpoint_save(os.fsencode(path), self._h.get(),
                                        optimizer._h.get() if optimizer is not None else None))

