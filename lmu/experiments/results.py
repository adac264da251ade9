"""Gather every experiment's comparison table for the book's Results chapter.

Nothing here runs an experiment: full-mode numbers come from the committed
``results/<name>.json``, quick-mode numbers from ``results/quick/<name>.json``
written earlier in the same build (a file older than the build is reported as
"quick run not found in this build"). Each experiment module follows the
contract (``NAME``, ``run``, ``comparison_rows``); a module that is not there
(yet) or fails is shown as a note instead of a table.
"""

import datetime
import importlib
import os
import pathlib

from .common import comparison_table, load_results, results_path

__all__ = ["EXPERIMENTS", "build_started", "quick_status", "gather", "experiment_table"]

#: experiment module name -> (title, chapter file in book/)
EXPERIMENTS = {
    "capacity": ("Memory capacity (delay task)", "capacity.ipynb"),
    "psmnist": ("psMNIST with the LMU", "psmnist.ipynb"),
    "psmnist_phased_lstm": ("psMNIST with a phased LSTM", "psmnist_phased_lstm.ipynb"),
    "mackey_glass": ("Mackey-Glass prediction", "mackey_glass.ipynb"),
    "loihi": ("The LMU on an emulated Loihi chip", "loihi.ipynb"),
    "poisson": ("Poisson spiking: error against the number of neurons", "spiking.ipynb"),
}

NOT_FOUND = "quick run not found in this build"
BUILD_START_ENV = "LMU_BUILD_START"


def _process_start(pid):
    """Start time (UTC datetime) of process ``pid`` from /proc, or None."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: start time, clock ticks after boot
        boot = next(
            int(line.split()[1]) for line in pathlib.Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
        )
        return datetime.datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), datetime.timezone.utc)
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def build_started():
    """When the current build started (UTC), or None if unknown.

    ``$LMU_BUILD_START`` (seconds since the epoch) if set; otherwise the start
    of the parent process — the ``jupyter-book``, ``pytest --nbval`` or
    ``jupyter execute`` process that runs this notebook's kernel and, before
    it, the other chapters.
    """
    env = os.environ.get(BUILD_START_ENV)
    if env:
        try:
            return datetime.datetime.fromtimestamp(float(env), datetime.timezone.utc)
        except ValueError:
            raise ValueError(f"${BUILD_START_ENV} must be seconds since the epoch, got {env!r}") from None
    return _process_start(os.getppid())


def quick_status(name, since=None):
    """This build's quick results of experiment ``name``.

    Parameters
    ----------
    name : str
    since : datetime, optional
        Start of the build (default :func:`build_started`); an older quick
        results file is ignored.

    Returns
    -------
    (dict or None, str)
        The quick ``"results"`` (None if there is none from this build) and a
        note saying where they came from.
    """
    since = build_started() if since is None else since
    path = results_path(name, "quick")
    if not path.exists():
        return None, NOT_FOUND
    written = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
    if since is not None and written < since:
        return None, f"{NOT_FOUND} (the last quick run is from {written:%Y-%m-%d %H:%M} UTC, before this build)"
    data = load_results(name, "quick")
    return data["results"], f"quick run of this build, {written:%Y-%m-%d %H:%M} UTC"


def gather(name, since=None):
    """Comparison rows of one experiment, with notes.

    Returns
    -------
    dict
        ``title``, ``chapter``, ``rows`` (list of row dicts, or None),
        ``notes`` (list of str): why there is no table, where the quick
        numbers came from, and when the full run was made.
    """
    title, chapter = EXPERIMENTS.get(name, (name, f"{name}.ipynb"))
    out = {"name": name, "title": title, "chapter": chapter, "rows": None, "notes": []}
    try:
        module = importlib.import_module(f"{__package__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.{name}":
            out["notes"].append(f"`lmu.experiments.{name}` could not be imported: {exc}")
        else:
            out["notes"].append(f"`lmu.experiments.{name}` is not (yet) part of the package: no table.")
        return out
    quick, quick_note = quick_status(name, since)
    try:
        rows = [dict(row) for row in module.comparison_rows(quick=quick)]
    except Exception as exc:  # a broken module must not hide the other tables
        out["notes"].append(f"`{name}.comparison_rows` failed: {type(exc).__name__}: {exc}")
        return out
    if quick is None:
        for row in rows:
            row["quick"] = NOT_FOUND
    out["rows"] = rows
    out["notes"].append(f"Quick-mode column: {quick_note}.")
    full = load_results(name, "full")
    if full is None:
        out["notes"].append("Full-mode column: no `results/%s.json` in this checkout." % name)
    else:
        prov = full.get("provenance", {})
        wall = prov.get("wall_time_s")
        wall = f", wall time {wall / 60:.0f} min" if isinstance(wall, (int, float)) else ""
        out["notes"].append(f"Full-mode column: `results/{name}.json`, run {prov.get('date', '?')}{wall}.")
    return out


def experiment_table(name, fmt=".4g", since=None):
    """Markdown of one experiment's table and notes (for ``IPython.display.Markdown``)."""
    g = gather(name, since)
    parts = []
    if g["rows"] is not None:
        parts.append(comparison_table(g["rows"], fmt=fmt))
    parts.extend(f"*{note}*" for note in g["notes"])
    return "\n\n".join(parts)
