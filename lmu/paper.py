"""The LMU paper's psMNIST network and its published pre-trained weights.

:func:`psmnist_lmu` builds the network of the paper (``paper-protocols.md``
§4) with :class:`lmu.LMU`; :func:`load_psmnist_weights` loads the authors'
pre-trained model, a Keras 2.2.4 HDF5 file (``psMNIST-standard.hdf5``,
published on the ``paper`` branch of the LMU repository), into it.

Where the weights file comes from, in this order:

1. ``path=`` given to the function;
2. ``$LMU_PSMNIST_WEIGHTS`` (a path);
3. the user cache, ``$LMU_CACHE_DIR`` or ``~/.cache/lmu-book``;
4. a download from :data:`PSMNIST_WEIGHTS_URL` into that cache (only when the
   network answers; offline the call fails at once and says what to do).

The file's sha256 is checked against :data:`PSMNIST_WEIGHTS_SHA256`.

This module imports TensorFlow/Keras only inside the functions that need a
Keras model; :func:`read_psmnist_weights` uses h5py and NumPy only.
"""

import os
import pathlib
import urllib.request

import numpy as np

from . import data as _data

__all__ = [
    "PSMNIST_CONFIG",
    "PSMNIST_WEIGHTS_URL",
    "PSMNIST_WEIGHTS_SHA256",
    "WEIGHTS_ENV",
    "WeightsFileError",
    "WeightsUnavailableError",
    "psmnist_lmu",
    "psmnist_weights_path",
    "read_psmnist_weights",
    "load_psmnist_weights",
]

#: The paper's psMNIST network (paper-protocols.md §4).
PSMNIST_CONFIG = {"units": 212, "order": 256, "theta": 784, "steps": 784, "n_in": 1, "classes": 10}
PSMNIST_WEIGHTS_URL = (
    "https://raw.githubusercontent.com/nengo/keras-lmu/paper/models/psMNIST-standard.hdf5"
)
PSMNIST_WEIGHTS_SHA256 = "cf4abb0bacbeccd07827c8a21e91a45251d971bef3aa445d54c5eae07406811c"
WEIGHTS_FILENAME = "psMNIST-standard.hdf5"
WEIGHTS_ENV = "LMU_PSMNIST_WEIGHTS"
DOWNLOAD_TIMEOUT_S = 60.0

_U, _D, _N = PSMNIST_CONFIG["units"], PSMNIST_CONFIG["order"], PSMNIST_CONFIG["n_in"]
#: Weight names of the LMU cell in the file and their shapes.
LMU_WEIGHT_SHAPES = {
    "input_encoders": (_N, 1),
    "hidden_encoders": (_U, 1),
    "memory_encoders": (_D, 1),
    "input_kernel": (_N, _U),
    "hidden_kernel": (_U, _U),
    "memory_kernel": (_D, _U),
    "AT": (_D, _D),
    "BT": (1, _D),
}
DENSE_WEIGHT_SHAPES = {"kernel": (_U, PSMNIST_CONFIG["classes"]), "bias": (PSMNIST_CONFIG["classes"],)}


class WeightsFileError(ValueError):
    """The weights file is not the expected one (checksum, missing key, shape, values)."""


class WeightsUnavailableError(RuntimeError):
    """The pre-trained weights are neither given, cached, nor downloadable right now."""


def psmnist_lmu(name="psmnist_lmu"):
    """The paper's psMNIST network: one LMU layer and a softmax readout.

    ``LMU(units=212, order=256, theta=784)`` with the paper's initial
    values: ``e_x = 1``, ``e_h = 0``, ``e_m = 0``, ``W_x = 0``, ``W_h = 0``,
    ``W_m`` glorot-normal, all trainable, ``Ā`` and ``B̄`` fixed (ZOH, dt = 1
    step), tanh; its last hidden state feeds ``Dense(10, softmax)``.

    Parameters
    ----------
    name : str
        Name of the Keras model.

    Returns
    -------
    keras.Model
        Input (batch, 784, 1) pixels, output (batch, 10) class probabilities;
        102,027 trainable and 65,792 non-trainable parameters. Not compiled.
    """
    import keras

    from .layers import LMU

    cfg = PSMNIST_CONFIG
    inputs = keras.Input(shape=(cfg["steps"], cfg["n_in"]), name="pixels")
    hidden = LMU(
        cfg["units"],
        cfg["order"],
        cfg["theta"],
        input_encoders_initializer=keras.initializers.Constant(1.0),
        hidden_encoders_initializer="zeros",
        memory_encoders_initializer="zeros",
        input_kernel_initializer="zeros",
        hidden_kernel_initializer="zeros",
        memory_kernel_initializer="glorot_normal",
        name="lmu",
    )(inputs)
    outputs = keras.layers.Dense(cfg["classes"], activation="softmax", name="dense")(hidden)
    return keras.Model(inputs, outputs, name=name)


def _what_to_do():
    return (
        f"Pass path= a local copy of {WEIGHTS_FILENAME}, set ${WEIGHTS_ENV} to its path, "
        f"or go online once so that it can be downloaded from {PSMNIST_WEIGHTS_URL} "
        f"into the cache."
    )


def _download(target):
    if not _data.network_available(PSMNIST_WEIGHTS_URL):
        raise WeightsUnavailableError(
            f"The pre-trained psMNIST weights are not cached at {str(target)!r} and "
            f"{PSMNIST_WEIGHTS_URL} is unreachable (checked with a "
            f"{_data.NETWORK_TIMEOUT_S:g} s timeout). {_what_to_do()}"
        )
    part = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(PSMNIST_WEIGHTS_URL, timeout=DOWNLOAD_TIMEOUT_S) as response:
            with open(part, "wb") as f:
                while block := response.read(1 << 20):
                    f.write(block)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise WeightsUnavailableError(
            f"Downloading {PSMNIST_WEIGHTS_URL} failed ({exc}). {_what_to_do()}"
        ) from None
    digest = _data._sha256(part)
    if digest != PSMNIST_WEIGHTS_SHA256:
        part.unlink(missing_ok=True)
        raise WeightsFileError(
            f"the downloaded {WEIGHTS_FILENAME} has sha256 {digest}, expected "
            f"{PSMNIST_WEIGHTS_SHA256}; it was not kept"
        )
    os.replace(part, target)
    return target


def psmnist_weights_path(path=None, cache_dir=None, download=True):
    """Find (and if needed download) the pre-trained psMNIST weights file.

    Parameters
    ----------
    path : str or path-like, optional
        An explicit file; it must exist.
    cache_dir : str or path-like, optional
        Cache folder; default ``$LMU_CACHE_DIR`` or ``~/.cache/lmu-book``.
    download : bool, default True
        Download into the cache when no local copy is found.

    Returns
    -------
    path : pathlib.Path
    origin : str
        ``"path"``, ``"env"`` (``$LMU_PSMNIST_WEIGHTS``), ``"cache"`` or ``"download"``.

    Raises
    ------
    FileNotFoundError
        ``path`` or ``$LMU_PSMNIST_WEIGHTS`` names a missing file.
    WeightsUnavailableError
        No local copy and no download possible (offline, or ``download=False``).
    """
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a path (str or os.PathLike), got {type(path).__name__}")
        p = pathlib.Path(path).expanduser()
        if not p.is_file():
            raise FileNotFoundError(f"path: no weights file at {str(p)!r}")
        return p, "path"
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        p = pathlib.Path(env).expanduser()
        if not p.is_file():
            raise FileNotFoundError(f"${WEIGHTS_ENV} points at {str(p)!r}, which does not exist")
        return p, "env"
    cached = _data.user_cache_dir(cache_dir) / WEIGHTS_FILENAME
    if cached.is_file():
        return cached, "cache"
    if not download:
        raise WeightsUnavailableError(
            f"The pre-trained psMNIST weights are not cached at {str(cached)!r} and "
            f"download=False. {_what_to_do()}"
        )
    return _download(cached), "download"


def _find_layer_weights(root, names, kind, exclude=()):
    """Map weight base names (``"AT"``) to datasets in one layer group of ``root``.

    Keras 2 stores a layer's weights as ``<layer>/<layer>/<name>:0``; the layer
    of this ``kind`` is the top-level group holding most of ``names``.
    """
    import h5py

    layers = {}

    def visit(name, obj):
        layer = name.split("/", 1)[0]
        if isinstance(obj, h5py.Dataset) and layer not in exclude:
            base = name.rsplit("/", 1)[-1].split(":")[0]
            layers.setdefault(layer, {})[base] = obj

    root.visititems(visit)
    # the layer of this kind: the one holding the most of the wanted names
    best = max(layers, key=lambda k: len(set(layers[k]) & set(names)), default=None)
    if best is None or not set(layers[best]) & set(names):
        raise WeightsFileError(
            f"no {kind} layer found in the weights file (looked for weights {sorted(names)} "
            f"in layers {sorted(layers)})"
        )
    missing = [n for n in names if n not in layers[best]]
    if missing:
        raise WeightsFileError(
            f"the {kind} layer {best!r} of the weights file is missing key(s) "
            f"{[f'{best}/{m}:0' for m in missing]}"
        )
    return best, {n: layers[best][n] for n in names}


def read_psmnist_weights(path=None, check_sha256=True, cache_dir=None, download=True):
    """Read the paper's pre-trained psMNIST weights (NumPy arrays; no Keras needed).

    Parameters
    ----------
    path : str or path-like, optional
        The HDF5 file; default: see :func:`psmnist_weights_path`.
    check_sha256 : bool, default True
        Check that the file is byte for byte the published one. Set it to
        False to read another file of the same layout.
    cache_dir : str or path-like, optional
        Cache folder for the download.
    download : bool, default True
        Allow a download when no local copy exists.

    Returns
    -------
    dict
        ``"lmu"``: dict of float32 arrays ``input_encoders`` (1, 1),
        ``hidden_encoders`` (212, 1), ``memory_encoders`` (256, 1),
        ``input_kernel`` (1, 212), ``hidden_kernel`` (212, 212),
        ``memory_kernel`` (256, 212), ``AT`` (256, 256) ``= (Ā − I)ᵀ``,
        ``BT`` (1, 256) ``= B̄ᵀ``; ``"dense"``: ``kernel`` (212, 10),
        ``bias`` (10,); ``"path"``, ``"origin"``, ``"sha256"``,
        ``"keras_version"`` (as stored in the file).

    Raises
    ------
    WeightsFileError
        Not an HDF5 file, a sha256 mismatch, a missing key, a wrong shape or
        non-finite values; the message names the problem.
    """
    import h5py

    file_path, origin = psmnist_weights_path(path, cache_dir=cache_dir, download=download)
    digest = _data._sha256(file_path)
    if check_sha256 and digest != PSMNIST_WEIGHTS_SHA256:
        raise WeightsFileError(
            f"bad checksum: {str(file_path)!r} has sha256 {digest}, expected "
            f"{PSMNIST_WEIGHTS_SHA256} (the published {WEIGHTS_FILENAME}); the file is corrupted "
            f"or a different one (pass check_sha256=False to read another file of the same layout)"
        )
    try:
        f = h5py.File(file_path, "r")
    except OSError as exc:
        raise WeightsFileError(f"{str(file_path)!r} is not a readable HDF5 file ({exc})") from None
    with f:
        root = f["model_weights"] if "model_weights" in f else f
        lmu_layer, lmu_sets = _find_layer_weights(root, LMU_WEIGHT_SHAPES, "LMU")
        dense_layer, dense_sets = _find_layer_weights(
            root, DENSE_WEIGHT_SHAPES, "Dense", exclude=(lmu_layer,)
        )
        out = {"lmu": {}, "dense": {}}
        for part, layer, sets, shapes in (
            ("lmu", lmu_layer, lmu_sets, LMU_WEIGHT_SHAPES),
            ("dense", dense_layer, dense_sets, DENSE_WEIGHT_SHAPES),
        ):
            for key, shape in shapes.items():
                arr = np.asarray(sets[key][()], dtype=np.float32)
                if arr.shape != shape:
                    raise WeightsFileError(
                        f"wrong shape: {layer}/{key}:0 has shape {arr.shape}, expected {shape} "
                        f"(units={_U}, order={_D})"
                    )
                if not np.all(np.isfinite(arr)):
                    raise WeightsFileError(f"{layer}/{key}:0 contains NaN or infinite values")
                out[part][key] = arr
        version = f.attrs.get("keras_version", root.attrs.get("keras_version"))
    out.update(
        path=str(file_path),
        origin=origin,
        sha256=digest,
        keras_version=version.decode() if isinstance(version, bytes) else version,
    )
    return out


def _lmu_cell_of(model):
    """The LMU cell and Dense layer of a Keras model built like :func:`psmnist_lmu`."""
    from .layers import LMUCell

    cell = dense = None
    for layer in model.layers:
        if cell is None and isinstance(getattr(layer, "cell", None), LMUCell):
            cell = layer.cell
        elif cell is None and isinstance(layer, LMUCell):
            cell = layer
        if type(layer).__name__ == "Dense":
            dense = layer
    if cell is None:
        raise ValueError("model: no LMU layer (lmu.LMU or keras.layers.RNN(lmu.LMUCell)) found")
    if dense is None:
        raise ValueError("model: no Dense readout layer found")
    return cell, dense


def load_psmnist_weights(model, path=None, check_sha256=True, cache_dir=None, download=True):
    """Load the paper's pre-trained psMNIST weights into ``model``.

    Parameters
    ----------
    model : keras.Model
        A model built by :func:`psmnist_lmu` (or any model with one LMU
        layer of units 212, order 256 on one input, and a Dense(10) readout).
    path : str or path-like, optional
        The HDF5 file; default ``$LMU_PSMNIST_WEIGHTS``, else the cache, else a
        download (see :func:`psmnist_weights_path`).
    check_sha256 : bool, default True
        Check the file against the published sha256.
    cache_dir : str or path-like, optional
        Cache folder for the download.
    download : bool, default True
        Allow a download when no local copy exists.

    Returns
    -------
    dict
        ``path``, ``origin``, ``sha256``, ``keras_version`` of the file and
        ``max_abs_diff_AT``, ``max_abs_diff_BT``: how far the file's
        ``Ā − I`` and ``B̄`` are from this project's ZOH discretization
        (:func:`lmu.discretize`), a check that the two agree on the memory.

    Raises
    ------
    WeightsFileError, WeightsUnavailableError, FileNotFoundError
        See :func:`read_psmnist_weights`.
    ValueError
        The model has no LMU layer or Dense readout, or the shapes differ.
    """
    from .core import discretize, legendre_system

    cell, dense = _lmu_cell_of(model)
    weights = read_psmnist_weights(path, check_sha256=check_sha256, cache_dir=cache_dir, download=download)
    for key, value in weights["lmu"].items():
        var = getattr(cell, key, None)
        if var is None:
            raise ValueError(f"model: the LMU cell has no weight {key!r}")
        if tuple(var.shape) != value.shape:
            raise ValueError(f"model: LMU weight {key!r} has shape {tuple(var.shape)}, the file {value.shape}")
        var.assign(value)
    for key, value in weights["dense"].items():
        var = getattr(dense, key)
        if tuple(var.shape) != value.shape:
            raise ValueError(f"model: Dense {key!r} has shape {tuple(var.shape)}, the file {value.shape}")
        var.assign(value)
    A, B = legendre_system(_D, PSMNIST_CONFIG["theta"])
    Ad, Bd = discretize(A, B, dt=1.0, method="zoh")
    info = {k: weights[k] for k in ("path", "origin", "sha256", "keras_version")}
    info["max_abs_diff_AT"] = float(np.max(np.abs(weights["lmu"]["AT"] - (Ad - np.eye(_D)).T)))
    info["max_abs_diff_BT"] = float(np.max(np.abs(weights["lmu"]["BT"] - Bd.T)))
    return info
