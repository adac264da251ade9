"""Principle-3 mapping (NumPy) and the Poisson-spiking LIF neuron type."""

import numpy as np
import pytest

import lmu
from lmu import spiking


@pytest.mark.parametrize("order, theta, tau, dt", [(6, 1.0, 0.1, 0.001), (12, 0.5, 0.02, 0.002)])
def test_mapped_system_through_lowpass_reproduces_the_discrete_memory(order, theta, tau, dt):
    u = lmu.band_limited_noise(4000, dt=dt, cutoff=1.0, rms=0.3, seed=0)
    A_H, B_H = spiking.legendre_lowpass_mapping(order, theta, tau, dt)
    x = spiking.simulate_mapped(u, A_H, B_H, tau, dt)
    m = lmu.simulate_memory(u, order, theta, dt=dt)
    assert np.max(np.abs(m)) > 0.1  # the memory is really driven
    np.testing.assert_allclose(x, m, rtol=0, atol=1e-10)


def test_unmapped_system_does_not_reproduce_the_memory():
    # the test above can fail: feeding (Ad, Bd) straight into the synapse is wrong
    dt, tau = 0.001, 0.1
    A, B = lmu.legendre_system(6, 1.0)
    Ad, Bd = lmu.discretize(A, B, dt=dt)
    u = lmu.band_limited_noise(2000, dt=dt, cutoff=1.0, rms=0.3, seed=0)
    x = spiking.simulate_mapped(u, Ad, Bd, tau, dt)
    m = lmu.simulate_memory(u, 6, 1.0, dt=dt)
    assert np.max(np.abs(x - m)) > 0.01


def test_lowpass_mapping_formula():
    Ad = np.array([[0.9, 0.1], [0.0, 0.8]])
    Bd = np.array([[0.2], [0.1]])
    a = np.exp(-0.001 / 0.05)
    A_H, B_H = spiking.lowpass_mapping(Ad, Bd, tau=0.05, dt=0.001)
    np.testing.assert_allclose(A_H, (Ad - a * np.eye(2)) / (1 - a))
    np.testing.assert_allclose(B_H, Bd / (1 - a))


def test_lowpass_filter_matches_nengo_lowpass():
    nengo = pytest.importorskip("nengo")
    x = np.random.default_rng(0).normal(size=(300, 2))
    ours = spiking.lowpass_filter(x, 0.05, 0.001)
    theirs = nengo.Lowpass(0.05).filt(x, dt=0.001, y0=0)
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_mapping_rejects_bad_input():
    with pytest.raises(ValueError, match="tau"):
        spiking.lowpass_mapping(np.eye(2), np.ones(2), tau=-1, dt=0.001)
    with pytest.raises(ValueError, match="Bd"):
        spiking.lowpass_mapping(np.eye(2), np.ones(3), tau=0.1, dt=0.001)
    with pytest.raises(ValueError, match="Ad"):
        spiking.lowpass_mapping(np.ones((2, 3)), np.ones(2), tau=0.1, dt=0.001)


# --- the Poisson-spiking LIF neuron (paper-protocols §8) ---------------------------


@pytest.fixture(scope="module")
def poisson():
    pytest.importorskip("nengo")
    from lmu.experiments import poisson

    return poisson


def test_poisson_lif_rates_follow_the_lif_curve(poisson):
    import nengo

    neuron = poisson.PoissonLIF(tau_rc=0.02, tau_ref=0.002)
    lif = nengo.LIFRate(tau_rc=0.02, tau_ref=0.002)
    max_rates = np.array([20.0, 30.0, 40.0, 150.0])
    intercepts = np.array([-0.5, 0.0, 0.3, 0.9])
    gain, bias = neuron.gain_bias(max_rates, intercepts)
    np.testing.assert_allclose(gain, lif.gain_bias(max_rates, intercepts)[0], rtol=1e-10)
    np.testing.assert_allclose(bias, lif.gain_bias(max_rates, intercepts)[1], rtol=1e-10)
    x = np.linspace(-1, 1, 101)
    np.testing.assert_allclose(neuron.rates(x, gain, bias), lif.rates(x, gain, bias), rtol=1e-10)
    # the requested max rates and intercepts come back
    r, c = neuron.max_rates_intercepts(gain, bias)
    np.testing.assert_allclose(r, max_rates, rtol=1e-10)
    np.testing.assert_allclose(c, intercepts, rtol=1e-10)


def test_poisson_lif_spikes_have_height_one_over_dt_and_the_right_mean(poisson):
    neuron = poisson.PoissonLIF()
    dt = 1e-3
    J = np.array([0.5, 1.5, 3.0, 10.0])  # the first is below threshold
    rate = neuron.rate(J)
    state = neuron.make_state(J.size, rng=np.random.RandomState(0))
    steps = 20000
    counts = np.zeros(J.size)
    out = np.zeros(J.size)
    for _ in range(steps):
        neuron.step(dt, J, out, **state)
        k = out * dt
        np.testing.assert_allclose(k, np.round(k), atol=1e-9)  # integer multiples of 1/dt
        counts += k
    assert counts[0] == 0
    expected = rate * dt * steps
    # Poisson: the count's standard deviation is sqrt(expected)
    assert np.all(np.abs(counts[1:] - expected[1:]) < 5 * np.sqrt(expected[1:]))
    assert expected[1] > 100


def test_poisson_population_error_shrinks_with_size(poisson):
    small = poisson.population_rmse(100, seed=0)
    large = poisson.population_rmse(2000, seed=0)
    # 1/sqrt(m) predicts a factor sqrt(20) = 4.5; allow a wide margin
    assert large < small / 2.5
    assert 0.5 * 5 / np.sqrt(2000) < large < 2 * 5 / np.sqrt(2000)
