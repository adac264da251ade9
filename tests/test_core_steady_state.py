"""lmu.steady_state_nrmse: the delay readout's error from the input's spectrum."""

import numpy as np
import pytest

import lmu
from lmu.core import _readout_transfer

ORDERS = [64, 48, 24, 12, 7, 3, 2, 1]


@pytest.mark.parametrize("delay", [0.0, 0.3, 1.0])
def test_recurrence_agrees_with_solving_the_linear_systems(delay):
    theta_freq = np.concatenate([[0.0], np.geomspace(1e-6, 200.0, 120)])
    readout = lmu.legendre_decoders(ORDERS[0], [delay])[0]
    H = _readout_transfer(ORDERS, readout, theta_freq)
    assert H.shape == (len(ORDERS), theta_freq.size)
    for row, order in zip(H, ORDERS):
        expected = lmu.delay_transfer(order, [delay], theta_freq)[:, 0]
        np.testing.assert_allclose(row, expected, rtol=0, atol=1e-12)


def test_steady_state_nrmse_is_the_spectrum_weighted_error():
    # a short input: the sum over its DFT with delay_transfer, written out
    rng = np.random.default_rng(3)
    u = rng.standard_normal(50)
    theta, dt, delay, order = 2.0, 0.1, 0.4, 5
    U = np.fft.rfft(u)
    f = np.arange(U.size) / (u.size * dt)
    weight = np.where((f == 0) | (np.arange(U.size) == u.size // 2), 1.0, 2.0)
    H = lmu.delay_transfer(order, [delay], f, theta=theta)[:, 0]
    err = H - np.exp(-2j * np.pi * f * delay * theta)
    expected = np.sqrt(np.sum(weight * np.abs(U * err) ** 2) / np.sum(weight * np.abs(U) ** 2))
    assert lmu.steady_state_nrmse(u, order, theta, dt, delay) == pytest.approx(expected, rel=1e-12)
    both = lmu.steady_state_nrmse(u, [order, 2], theta, dt, delay)
    assert both.shape == (2,) and both[0] == pytest.approx(expected, rel=1e-12)


def test_a_sinusoid_gives_the_delay_error():
    # one whole number of periods: the steady-state NRMSE is |H - ideal| at f
    dt, steps, theta = 0.01, 1000, 1.5
    f = 7 / (steps * dt)
    u = np.cos(2 * np.pi * f * np.arange(steps) * dt)
    for order in (2, 6):
        shown = lmu.steady_state_nrmse(u, order, theta, dt, 0.8)
        assert shown == pytest.approx(float(lmu.delay_error(order, theta * f, 0.8)), rel=1e-9)


def test_agrees_with_the_time_domain_nrmse_of_a_long_stationary_signal():
    # where the memory's own error dominates (low d), the simulated memory's
    # NRMSE once its start-up transient has decayed is the steady-state one; at high d what
    # remains in the simulation is the sampling (zero-order hold) error
    dt, theta = 0.005, 1.0
    u = lmu.make_signal("noise", 40000, dt=dt, cutoff=1.0, seed=1)
    orders = [1, 2, 3, 4, 6]
    for delay in (0.5, 1.0):
        steady = lmu.steady_state_nrmse(u, orders, theta, dt, delay)
        target = lmu.delayed(u, delay * theta, dt)
        start = int(round(3 * theta / dt))  # the start-up transient has died out
        for order, expected in zip(orders, steady):
            readout = lmu.legendre_decoders(order, [delay]).T
            y = lmu.simulate_memory(u, order, theta, dt, readout=readout)[:, 0]
            measured = float(lmu.nrmse(y[start:], target[start:]))
            assert measured == pytest.approx(expected, rel=0.02), (delay, order)
        assert np.all(np.diff(steady) < 0)  # more order, less error


def test_bad_arguments():
    u = np.ones(8)
    with pytest.raises(ValueError, match="zero everywhere"):
        lmu.steady_state_nrmse(np.zeros(8), 3, 1.0)
    with pytest.raises(ValueError, match="delay"):
        lmu.steady_state_nrmse(u, 3, 1.0, delay=1.5)
    with pytest.raises(ValueError, match="delay"):
        lmu.steady_state_nrmse(u, 3, 1.0, delay=[0.1, 0.2])
    with pytest.raises((TypeError, ValueError), match="orders"):
        lmu.steady_state_nrmse(u, 0, 1.0)
    with pytest.raises(ValueError, match="theta"):
        lmu.steady_state_nrmse(u, 3, -1.0)
    with pytest.raises(ValueError, match="u"):
        lmu.steady_state_nrmse(np.ones((2, 4)), 3, 1.0)
