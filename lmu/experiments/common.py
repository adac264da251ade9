"""Shared plumbing of the experiments: provenance, results files, progress, CLI.

Results of ``full`` runs go to ``results/<name>.json`` (committed, shown in the
book beside the paper's numbers); ``quick`` runs go to
``results/quick/<name>.json`` (not committed), so a quick build never
overwrites a full result. ``$LMU_RESULTS_DIR`` moves the whole folder.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import sys
import time
from importlib import metadata

import numpy as np

from ..mode import MODES, get_mode

__all__ = [
    "results_dir",
    "results_path",
    "checkpoint_dir",
    "provenance",
    "save_results",
    "load_results",
    "full_and_quick",
    "progress",
    "save_training_state",
    "load_training_state",
    "comparison_table",
    "cli",
]

_REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
_VERSIONED = ("numpy", "scipy", "tensorflow-cpu", "tensorflow", "keras", "nengo", "nengo-loihi", "lmu-book")


def results_dir():
    """Folder of results files: ``$LMU_RESULTS_DIR`` or ``<repo>/results``."""
    return pathlib.Path(os.environ.get("LMU_RESULTS_DIR", _REPO_ROOT / "results"))


def results_path(name, mode=None):
    """Path of the results file of experiment ``name`` in ``mode``."""
    mode = get_mode(mode)
    base = results_dir()
    return base / f"{name}.json" if mode == "full" else base / "quick" / f"{name}.json"


def checkpoint_dir(name, mode=None):
    """Folder for resumable checkpoints of experiment ``name`` (created, not committed)."""
    path = results_dir() / "checkpoints" / f"{name}-{get_mode(mode)}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _versions():
    out = {"python": platform.python_version()}
    for pkg in _VERSIONED:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def provenance(mode, seeds, data=None, epochs=None, wall_time_s=None, **extra):
    """A record of how a result was made.

    Parameters
    ----------
    mode : {"quick", "full"}
    seeds : int or list or dict
        Every seed the run used.
    data : dict, optional
        Where the data came from and how much (e.g. ``{"source": ..., "n_train": ...}``).
    epochs : int or dict, optional
    wall_time_s : float, optional
        Wall time of the run, in seconds.
    **extra
        Anything else worth keeping (protocol deviations, command line, ...).
    """
    return {
        "mode": get_mode(mode),
        "seeds": seeds,
        "data": data,
        "epochs": epochs,
        "wall_time_s": None if wall_time_s is None else round(float(wall_time_s), 2),
        "versions": _versions(),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv) if sys.argv and sys.argv[0] else None,
        **extra,
    }


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return str(obj)  # JSON has no NaN/inf: keep them visible as text
    if isinstance(obj, pathlib.Path):
        return str(obj)
    return obj


def save_results(name, results, provenance, path=None):
    """Write ``{"experiment", "results", "provenance"}`` as JSON; return the path.

    The file is written to a temporary name first and then renamed, so an
    interrupted run never leaves a half-written results file.
    """
    path = pathlib.Path(path) if path is not None else results_path(name, provenance["mode"])
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = _jsonable({"experiment": name, "results": results, "provenance": provenance})
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path


def load_results(name, mode="full"):
    """Read a results file; ``None`` if that experiment was not run in ``mode``."""
    path = results_path(name, mode)
    if not path.exists():
        return None
    return json.loads(path.read_text())


def save_training_state(model, path, extra=None):
    """Save what a Keras training run needs to resume exactly: weights and optimizer state.

    (A ``.keras`` file reloaded with ``keras.models.load_model`` drops the
    optimizer's moments when the optimizer has not been built yet, so a run
    resumed from it would restart Adam from zero.)

    Parameters
    ----------
    model : keras.Model
        A compiled model that has been trained for at least one step.
    path : path-like
        The ``.npz`` file to write (atomically).
    extra : dict of str to array_like, optional
        More arrays to keep in the same file, one array per key (e.g. the
        best weights so far).
    """
    path = pathlib.Path(path)
    arrays = {f"weight_{i}": np.asarray(v.numpy()) for i, v in enumerate(model.weights)}
    arrays.update({f"optimizer_{i}": np.asarray(v.numpy()) for i, v in enumerate(model.optimizer.variables)})
    arrays.update({f"extra_{k}": np.asarray(v) for k, v in (extra or {}).items()})
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    os.replace(tmp, path)
    return path


def load_training_state(model, path):
    """Restore weights and optimizer state saved by :func:`save_training_state`.

    ``model`` must be built and compiled exactly as the saved one.

    Returns
    -------
    dict
        The ``extra`` arrays saved with the state.
    """
    with np.load(pathlib.Path(path)) as data:
        arrays = {k: data[k] for k in data.files}
    n_saved = sum(k.startswith("weight_") for k in arrays)
    weights = [arrays.get(f"weight_{i}") for i in range(len(model.weights))]
    if n_saved != len(model.weights) or any(
        tuple(w.shape) != tuple(v.shape) for w, v in zip(weights, model.weights)
    ):
        raise ValueError(f"{path} does not hold the weights of this model (different layers or shapes)")
    for var, value in zip(model.weights, weights):
        var.assign(value)
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    n_opt = sum(k.startswith("optimizer_") for k in arrays)
    if n_opt != len(optimizer.variables):
        raise ValueError(
            f"{path} holds {n_opt} optimizer variables, the model's optimizer has {len(optimizer.variables)}"
        )
    for i, var in enumerate(optimizer.variables):
        var.assign(arrays[f"optimizer_{i}"])
    return {k[len("extra_"):]: v for k, v in arrays.items() if k.startswith("extra_")}


def full_and_quick(name, quick=None):
    """The results an experiment's comparison table compares.

    Parameters
    ----------
    name : str
        The experiment.
    quick : dict, optional
        Quick-mode results, or a whole quick results payload (with
        ``"results"``); default: this build's quick results file, if any.

    Returns
    -------
    full, quick : dict or None
        The ``"results"`` of the committed full-mode file and of the quick run,
        ``None`` where there is none.
    """
    full = load_results(name, "full")
    if quick is None:
        quick = load_results(name, "quick")
    if quick is not None and "results" in quick and "provenance" in quick:
        quick = quick["results"]
    return (full["results"] if full else None), quick


def progress(iterable=None, **kwargs):
    """A tqdm progress bar that suits both notebooks and terminals.

    Disabled when ``$LMU_PROGRESS=0``.
    """
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", os.environ.get("LMU_PROGRESS", "1") == "0")
    kwargs.setdefault("mininterval", 1.0)
    return tqdm(iterable, **kwargs)


def _fmt(value, fmt):
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return format(value, fmt)


def comparison_table(rows, fmt=".2f"):
    """A Markdown table of the paper's numbers beside ours.

    Parameters
    ----------
    rows : list of dict
        Each with keys ``"quantity"``, ``"paper"``, ``"full"`` and ``"quick"``
        (numbers, or strings such as ``"not run here: <reason>"``).
    fmt : str
        Format of numbers.

    Returns
    -------
    str
        A Markdown table; show it with ``IPython.display.Markdown``.
    """
    lines = [
        "| quantity | paper | this project, full mode | this build, quick mode |",
        "| --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['quantity']} | {_fmt(row.get('paper'), fmt)} | "
            f"{_fmt(row.get('full'), fmt)} | {_fmt(row.get('quick'), fmt)} |"
        )
    return "\n".join(lines)


def cli(run, description, argv=None, options=None):
    """Minimal command line for an experiment module.

    ``python -m lmu.experiments.<name> [--mode quick|full] [--seed N]`` calls
    ``run(mode=..., seed=...)`` and prints where the results were written.

    Parameters
    ----------
    run : callable
        The experiment's ``run(mode=None, seed=..., **kw)``.
    description : str
        Shown by ``--help``.
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).
    options : dict, optional
        Extra options, ``{"--flag": argparse keyword arguments}``; each one
        given on the command line is passed to ``run`` as the keyword named by
        its ``dest`` (default: the flag without dashes, ``-`` → ``_``).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--mode", choices=MODES, default=None, help="quick (default) or full")
    parser.add_argument("--seed", type=int, default=None, help="override the protocol's seed")
    extra = []
    for flag, spec in (options or {}).items():
        spec = dict(spec)
        spec.setdefault("dest", flag.lstrip("-").replace("-", "_"))
        spec.setdefault("default", None)
        parser.add_argument(flag, **spec)
        extra.append(spec["dest"])
    args = parser.parse_args(argv)
    kwargs = {"mode": args.mode}
    if args.seed is not None:
        kwargs["seed"] = args.seed
    for dest in extra:
        if getattr(args, dest) is not None:
            kwargs[dest] = getattr(args, dest)
    start = time.perf_counter()
    out = run(**kwargs)
    print(f"done in {time.perf_counter() - start:.1f} s")
    return out
