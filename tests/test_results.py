"""Tests of the Results chapter's gathering helper (lmu.experiments.results)."""

import datetime
import os
import sys
import types

import pytest

from lmu.experiments import common, results

UTC = datetime.timezone.utc


@pytest.fixture
def fake_experiment(monkeypatch, tmp_path):
    """A contract-following experiment module `lmu.experiments.fake_demo`."""
    monkeypatch.setenv("LMU_RESULTS_DIR", str(tmp_path))
    module = types.ModuleType("lmu.experiments.fake_demo")
    module.NAME = "fake_demo"
    seen = []

    def comparison_rows(quick=None):
        seen.append(quick)
        full = common.load_results("fake_demo", "full")
        return [
            {
                "quantity": "accuracy (%)",
                "paper": 97.15,
                "full": full["results"]["acc"] if full else "not run here: too slow",
                "quick": quick["acc"] if quick else None,
            }
        ]

    module.comparison_rows = comparison_rows
    monkeypatch.setitem(sys.modules, "lmu.experiments.fake_demo", module)
    return tmp_path, seen


def test_quick_results_of_this_build_are_shown(fake_experiment):
    tmp_path, seen = fake_experiment
    common.save_results("fake_demo", {"acc": 81.5}, common.provenance("quick", seeds=0))
    before = datetime.datetime.now(UTC) - datetime.timedelta(minutes=5)
    g = results.gather("fake_demo", since=before)
    assert seen == [{"acc": 81.5}]
    assert g["rows"][0]["quick"] == 81.5
    assert g["rows"][0]["full"] == "not run here: too slow"
    md = results.experiment_table("fake_demo", since=before)
    assert "| accuracy (%) | 97.15 | not run here: too slow | 81.5 |" in md
    assert "quick run of this build" in md


def test_stale_or_missing_quick_results_are_not_shown(fake_experiment):
    tmp_path, seen = fake_experiment
    g = results.gather("fake_demo", since=None)
    assert g["rows"][0]["quick"] == results.NOT_FOUND
    path = common.save_results("fake_demo", {"acc": 81.5}, common.provenance("quick", seeds=0))
    common.save_results("fake_demo", {"acc": 90.0}, common.provenance("full", seeds=0))
    old = datetime.datetime.now(UTC).timestamp() - 3600
    os.utime(path, (old, old))
    g = results.gather("fake_demo", since=datetime.datetime.now(UTC) - datetime.timedelta(minutes=1))
    assert g["rows"][0]["quick"] == results.NOT_FOUND  # written before this build
    assert g["rows"][0]["full"] == 90.0
    assert any("before this build" in note for note in g["notes"])
    assert any("results/fake_demo.json" in note for note in g["notes"])


def test_missing_and_broken_modules_become_notes(fake_experiment, monkeypatch):
    g = results.gather("no_such_experiment")
    assert g["rows"] is None and "not (yet) part of the package" in g["notes"][0]
    broken = types.ModuleType("lmu.experiments.broken_demo")

    def comparison_rows(quick=None):
        raise KeyError("acc")

    broken.comparison_rows = comparison_rows
    monkeypatch.setitem(sys.modules, "lmu.experiments.broken_demo", broken)
    g = results.gather("broken_demo")
    assert g["rows"] is None and "KeyError" in g["notes"][0]


def test_build_start(monkeypatch):
    monkeypatch.setenv(results.BUILD_START_ENV, "1700000000")
    assert results.build_started() == datetime.datetime.fromtimestamp(1700000000, UTC)
    monkeypatch.setenv(results.BUILD_START_ENV, "yesterday")
    with pytest.raises(ValueError, match=results.BUILD_START_ENV):
        results.build_started()
    monkeypatch.delenv(results.BUILD_START_ENV)
    started = results.build_started()  # the pytest process's parent: started before now
    if started is not None:
        assert started <= datetime.datetime.now(UTC)


def test_every_contract_experiment_is_listed():
    assert set(results.EXPERIMENTS) == {
        "capacity", "psmnist", "psmnist_phased_lstm", "mackey_glass", "loihi", "poisson"
    }
