"""LMU core: the Legendre Memory Unit in NumPy/SciPy, with Keras 3 layers.

``import lmu`` loads only NumPy and SciPy. The Keras layers (``LMUCell``,
``LMU``, ``Legendre``) are imported, with TensorFlow, on first use.
"""

import importlib
import sys

from .core import (
    delay_error,
    delay_transfer,
    discretize,
    euler_max_stable_dt,
    impulse_response,
    legendre_decoders,
    legendre_system,
    nrmse,
    pade_delay,
    simulate_memory,
    steady_state_nrmse,
    system_eigenvalues,
)
from .mode import get_mode, set_mode
from .signals import band_limited_noise, delayed, make_signal

__version__ = "0.1.0"

# name -> submodule that defines it; imported lazily (they need TensorFlow)
_LAZY = {
    "LMUCell": "layers",
    "LMU": "layers",
    "Legendre": "layers",
    "load_model": "layers",
    "LMUFeedforward": "feedforward",
    "PhasedLSTMCell": "phased_lstm",
}
_SUBMODULES = ("layers", "feedforward", "fast", "reference", "paper", "data", "experiments", "spiking")

__all__ = [
    "legendre_system",
    "discretize",
    "legendre_decoders",
    "impulse_response",
    "simulate_memory",
    "delay_transfer",
    "pade_delay",
    "delay_error",
    "nrmse",
    "band_limited_noise",
    "make_signal",
    "delayed",
    "system_eigenvalues",
    "euler_max_stable_dt",
    "steady_state_nrmse",
    "get_mode",
    "set_mode",
    *_LAZY,
]


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lmu' has no attribute {name!r}")


# Keras can deserialize lmu's layers (keras.models.load_model) only once their
# module is imported. When Keras is already loaded, importing them costs nothing.
if "keras" in sys.modules:
    importlib.import_module(".layers", __name__)
    importlib.import_module(".feedforward", __name__)
