"""The pinned enums of include/vae/vae.h as IntEnums.

Member names are the C names without their prefix (``VAE_ERR_IO`` is
``Status.IO``, ``VAE_PARAM_LATENT_DIM`` is ``Param.LATENT_DIM``).
tests/test_signatures.py checks every enum here against the header, value by
value, so a value added there and not here fails a test.
"""

from __future__ import annotations

import enum
from typing import Type, TypeVar, Union


class Status(enum.IntEnum):
    """``vae_status``: the result of every fallible call."""

    OK = 0
    INVALID_ARGUMENT = 1
    OUT_OF_MEMORY = 2
    IO = 3
    FORMAT = 4
    UNSUPPORTED = 5
    MISMATCH = 6
    NUMERIC = 7
    CANCELLED = 8
    LIMIT = 9
    UNAVAILABLE = 10
    CALLBACK = 11


class LogLevel(enum.IntEnum):
    """``vae_log_level``."""

    ERROR = 0
    WARN = 1
    INFO = 2
    DEBUG = 3


class Likelihood(enum.IntEnum):
    """``vae_likelihood``: the decoder's output distribution p(x|z)."""

    BERNOULLI = 0
    GAUSSIAN = 1
    GAUSSIAN_LEARNED = 2


class Activation(enum.IntEnum):
    """``vae_activation``: the hidden layers' nonlinearity."""

    RELU = 0
    TANH = 1
    LEAKY_RELU = 2
    ELU = 3
    SOFTPLUS = 4


class KLSchedule(enum.IntEnum):
    """``vae_kl_schedule``: how the KL weight evolves with the step count."""

    CONSTANT = 0
    LINEAR = 1
    CYCLICAL = 2


class Param(enum.IntEnum):
    """``vae_param``: the settings of a model (architecture, then objective)."""

    INPUT_DIM = 1
    LATENT_DIM = 2
    COND_DIM = 3
    ACTIVATION = 4
    LIKELIHOOD = 5
    SEED = 6
    LEAKY_SLOPE = 7
    BETA = 20
    KL_SCHEDULE = 21
    KL_WARMUP_STEPS = 22
    KL_CYCLE_STEPS = 23
    FREE_BITS = 24
    BINARIZE = 25
    GAUSSIAN_LOGVAR = 26
    LOGVAR_MIN = 27
    LOGVAR_MAX = 28
    EVAL_USE_MEAN = 29
    PRECISION = 30


class Precision(enum.IntEnum):
    """``vae_precision``: arithmetic of the large matrix products."""

    FP32 = 0
    BF16 = 1


class Side(enum.IntEnum):
    """``vae_side``: which half of the network a hidden-layer list describes."""

    ENCODER = 1
    DECODER = 2
    BOTH = 3


class OptimKind(enum.IntEnum):
    """``vae_optim_kind``."""

    ADAM = 0
    SGD = 1


class OptimParam(enum.IntEnum):
    """``vae_optim_param``: optimizer hyper-parameters."""

    LR = 1
    BETA1 = 2
    BETA2 = 3
    EPS = 4
    WEIGHT_DECAY = 5
    MOMENTUM = 6


class Transpose(enum.IntEnum):
    """``vae_transpose``: the transposition flags of a host sgemm."""

    NO_TRANS = 0
    TRANS = 1


class Interpolation(enum.IntEnum):
    """``vae_interpolation``: the path between two latent points."""

    LINEAR = 0
    SLERP = 1


class DType(enum.IntEnum):
    """``vae_dtype``: the element type of a buffer given to an all-reduce."""

    F32 = 0
    F64 = 1


#: ``VAE_DATASET_BORROW``: keep a pointer to the caller's data instead of a copy.
DATASET_BORROW = 1

#: Each C enum of vae.h: its Python class and the prefix its value names
#: lose (VAE_OK, the one status without VAE_ERR_, loses VAE_).
C_ENUMS = {
    "vae_status": (Status, "VAE_ERR_"),
    "vae_log_level": (LogLevel, "VAE_LOG_"),
    "vae_likelihood": (Likelihood, "VAE_LIKELIHOOD_"),
    "vae_activation": (Activation, "VAE_ACTIVATION_"),
    "vae_kl_schedule": (KLSchedule, "VAE_KL_"),
    "vae_param": (Param, "VAE_PARAM_"),
    "vae_precision": (Precision, "VAE_PRECISION_"),
    "vae_side": (Side, "VAE_"),
    "vae_optim_kind": (OptimKind, "VAE_OPTIM_"),
    "vae_optim_param": (OptimParam, "VAE_OPTIM_"),
    "vae_transpose": (Transpose, "VAE_"),
    "vae_interpolation": (Interpolation, "VAE_INTERP_"),
    "vae_dtype": (DType, "VAE_DTYPE_"),
}

E = TypeVar("E", bound=enum.IntEnum)


def coerce(enum_type: Type[E], value: Union[E, int, str]) -> E:
    """``value`` as a member of ``enum_type``: a member, its number, or its name
    in any case (``"relu"``, ``"leaky-relu"``, ``"LEAKY_RELU"``).

    :raises ValueError: for anything else, naming the valid choices.
    """
    if isinstance(value, enum_type):
        return value
    if isinstance(value, str):
        key = value.strip().upper().replace("-", "_")
        if key in enum_type.__members__:
            return enum_type[key]
    elif isinstance(value, int) and not isinstance(value, bool):
        try:
            return enum_type(value)
        except ValueError:
            pass
    choices = ", ".join(m.name.lower() for m in enum_type)
    raise ValueError(f"{value!r} is not a {enum_type.__name__}; choose one of {choices}")
