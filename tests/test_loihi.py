"""The spiking LMU memory in nengo and on nengo-loihi's emulator (short runs)."""

import importlib.util
import sys
import warnings

import numpy as np
import pytest

nengo = pytest.importorskip("nengo")

from lmu.experiments import loihi as L  # noqa: E402


@pytest.fixture(scope="module")
def u_short():
    return L.input_signal(1.0)


def test_input_is_a_prefix_of_the_full_input():
    short = L.input_signal(0.5)
    full = L.input_signal(50.0)
    np.testing.assert_array_equal(short, full[: short.size])
    assert abs(np.sqrt(np.mean(full**2)) - 0.3) < 1e-12


def test_nengo_network_wiring_realizes_the_ideal_memory(u_short):
    # with Direct-mode (exact) ensembles the network is the mapped system in nengo:
    # it equals the ideal memory, two steps later (input connection + recurrence order)
    net, probes = L.build_network(u_short, neuron_to_neuron=False, input_in_generator=False)
    for ens in net.ensembles:
        ens.neuron_type = nengo.Direct()
    with nengo.Simulator(net, dt=L.PROTOCOL["dt"], progress_bar=False) as sim:
        sim.run_steps(u_short.size)
    x = L._states(sim, probes)
    ideal = L.run_ideal(u_short)
    assert np.max(np.abs(ideal)) > 0.1
    np.testing.assert_allclose(x[2:], ideal[:-2], atol=1e-10)


def test_delay_nrmse_of_the_ideal_memory_is_small_and_can_fail(u_short):
    ideal = L.run_ideal(u_short)
    err = L.delay_nrmse(ideal, u_short, delays=(0.0, 0.25), skip=0.2)
    assert np.all(err < 0.15)
    # a wrong readout (the Legendre coefficients in reverse order) is caught
    wrong = L.delay_nrmse(ideal[:, ::-1], u_short, delays=(0.0,), skip=0.2)
    assert wrong[0] > 0.5


def test_warning_summary_counts_weight_rounding():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("Lost 3 extra bits in weight rounding")
        warnings.warn("Lost 3 extra bits in weight rounding")
        warnings.warn("Lost 1 extra bits in weight rounding")
        warnings.warn("something else")
    s = L.summarize_warnings(caught)
    assert s["total"] == 4
    assert s["weight_rounding"] == {"count": 3, "lost_bits": {"1": 1, "3": 2}}
    assert s["messages"][0] == ["UserWarning: Lost 3 extra bits in weight rounding", 2]


# Bound for the emulator's delay-0 NRMSE over t in [0.2, 1] s, from the full 50 s run
# (results/loihi.json, "delay0_window_nrmse"): measured the same way over each of its 50
# seconds, the emulator's delay-0 NRMSE has median 0.12 and 90th percentile 0.19 (maximum
# 0.41, in seconds where the input stays near zero). The bound 0.2 accepts a typical second
# and rejects a broken memory: with the input filtered twice (only one of the two Loihi
# choices) the quick run scores 0.40. This test's second (the first of the run) scores 0.118;
# the ideal memory alone scores 0.107 there.
EMULATOR_DELAY0_BOUND = 0.2


def test_short_emulator_run_decodes_the_input(u_short):
    if importlib.util.find_spec("nengo_loihi") is None:
        pytest.skip("nengo-loihi is not installed")
    states, info = L.run_loihi(u_short, neuron_to_neuron=True, input_in_generator=True)
    assert info["target"] in ("sim", "loihi")
    err = L.delay_nrmse(states, u_short, delays=(0.0,), skip=0.2)[0]
    assert err < EMULATOR_DELAY0_BOUND
    res = info["resources"]
    assert res["blocks"] >= 6 and res["compartments"] >= 600 and res["synapses"] > 0
    assert info["warnings"]["weight_rounding"]["count"] > 0


def test_nengo_loihi_is_imported_without_tensorflow():
    if importlib.util.find_spec("nengo_loihi") is None:
        pytest.skip("nengo-loihi is not installed")
    nl = L.import_nengo_loihi()
    assert hasattr(nl, "Simulator")
    assert sys.modules.get("tensorflow", "absent") is not None  # the block was lifted
