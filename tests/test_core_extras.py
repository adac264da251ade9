"""Tests of the core helpers added for the widgets: test signals, delays, eigenvalues."""

import math

import numpy as np
import pytest

import lmu
from lmu.signals import SIGNAL_KINDS, random_steps, sines, spike_train


@pytest.mark.parametrize("kind", SIGNAL_KINDS)
def test_make_signal_is_reproducible_and_shaped(kind):
    a = lmu.make_signal(kind, 500, dt=0.01, cutoff=2.0, seed=3)
    b = lmu.make_signal(kind, 500, dt=0.01, cutoff=2.0, seed=3)
    c = lmu.make_signal(kind, 500, dt=0.01, cutoff=2.0, seed=4)
    assert a.shape == (500,) and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_make_signal_noise_is_band_limited_noise():
    np.testing.assert_array_equal(
        lmu.make_signal("noise", 400, dt=0.01, cutoff=3.0, seed=1),
        lmu.band_limited_noise(400, dt=0.01, cutoff=3.0, seed=1),
    )


def test_sines_rms_and_band():
    x = sines(4000, dt=0.001, cutoff=5.0, rms=0.3, seed=0)
    assert math.isclose(np.sqrt(np.mean(x**2)), 0.3, rel_tol=1e-12)
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, d=0.001)
    # nearly all the power sits at or below the cut-off (leakage aside)
    assert power[freqs > 8.0].sum() < 0.01 * power.sum()
    with pytest.raises(ValueError, match="Nyquist"):
        sines(100, dt=0.1, cutoff=5.0)


def test_random_steps_is_piecewise_constant():
    x = random_steps(2000, dt=0.01, rate=2.0, rms=0.5, seed=0)
    assert x[0] == 0.0
    jumps = np.count_nonzero(np.diff(x))
    # about rate * duration = 40 jumps
    assert 20 <= jumps <= 60
    assert math.isclose(np.sqrt(np.mean(x**2)), 0.5, rel_tol=1e-12)
    # at least one jump even for a tiny rate
    assert np.count_nonzero(np.diff(random_steps(50, rate=1e-9, seed=1))) == 1


def test_spike_train_unit_area():
    x = spike_train(5000, dt=0.002, rate=10.0, seed=0)
    values = np.unique(x)
    np.testing.assert_array_equal(values, [0.0, 500.0])
    assert 60 <= np.count_nonzero(x) <= 140  # about 10 spikes/s for 10 s
    assert np.count_nonzero(spike_train(20, rate=1e-9, seed=0)) == 1


def test_make_signal_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        lmu.make_signal("chirp", 10)


def test_delayed_half_steps_is_a_shift():
    u = np.arange(1.0, 11.0)
    np.testing.assert_allclose(lmu.delayed(u, 3.5), np.r_[0, 0, 0, u[:7]])
    np.testing.assert_allclose(lmu.delayed(u, 0.35, dt=0.1), np.r_[0, 0, 0, u[:7]], atol=1e-12)
    np.testing.assert_allclose(lmu.delayed(u, 0.5), u)
    np.testing.assert_array_equal(lmu.delayed(u, 100.0), np.zeros(10))


def test_delayed_interpolates_between_step_middles():
    u = np.array([2.0, 4.0, 6.0, 8.0])
    # sample k sits at (k - 1/2) dt: no delay reads halfway to the next sample
    np.testing.assert_allclose(lmu.delayed(u, 0.0), [3.0, 5.0, 7.0, 8.0])
    np.testing.assert_allclose(lmu.delayed(u, 1.0), [1.0, 3.0, 5.0, 7.0])
    np.testing.assert_allclose(lmu.delayed(u, 1.75), [0.0, 1.5, 3.5, 5.5])
    batch = np.stack([u, 2 * u])
    np.testing.assert_allclose(lmu.delayed(batch, 1.0)[1], [2.0, 6.0, 10.0, 14.0])
    with pytest.raises(ValueError, match="delay"):
        lmu.delayed(u, -1.0)
    with pytest.raises(TypeError, match="delay"):
        lmu.delayed(u, [1.0])


def test_signal_at_matches_delayed_and_decodes_the_window():
    dt, theta, order = 0.002, 0.4, 24
    u = lmu.band_limited_noise(1000, dt=dt, cutoff=1.5, seed=2)
    times = np.arange(1000) * dt - 0.123
    np.testing.assert_allclose(lmu.signals.signal_at(u, times, dt), lmu.delayed(u, 0.123, dt))
    # the whole window decoded from one state is the signal over [t - theta, t]
    m = lmu.simulate_memory(u, order, theta, dt)
    k = 700
    r = np.linspace(0, 1, 50)
    window = lmu.legendre_decoders(order, r) @ m[k]
    truth = lmu.signals.signal_at(u, k * dt - r * theta, dt)
    assert lmu.nrmse(window, truth) < 1e-3


def test_delayed_is_what_the_memory_decodes():
    dt, theta = 0.001, 0.5
    u = lmu.band_limited_noise(3000, dt=dt, cutoff=2.0, seed=0)
    for r in (0.0, 0.5, 1.0):
        readout = lmu.legendre_decoders(20, [r]).T
        est = lmu.simulate_memory(u, 20, theta, dt, readout=readout)[:, 0]
        target = lmu.delayed(u, r * theta, dt)
        assert lmu.nrmse(est[600:], target[600:]) < 1e-3
        # a plain whole-step shift is off by the hold's half step
        shifted = np.r_[np.zeros(int(r * theta / dt)), u][: u.size]
        assert lmu.nrmse(est[600:], shifted[600:]) > 2e-3


@pytest.mark.parametrize("order", [1, 4, 12])
def test_system_eigenvalues(order):
    A, _ = lmu.legendre_system(order, 2.0)
    lam = lmu.system_eigenvalues(order, 2.0)
    np.testing.assert_allclose(lam, np.sort_complex(np.linalg.eigvals(A)), atol=1e-9)
    assert np.all(lam.real < 0)
    z = lmu.system_eigenvalues(order, 2.0, dt=0.01, method="zoh")
    np.testing.assert_allclose(np.sort_complex(z), np.sort_complex(np.exp(lam * 0.01)), atol=1e-9)
    ze = lmu.system_eigenvalues(order, 2.0, dt=0.01, method="euler")
    np.testing.assert_allclose(np.sort_complex(ze), np.sort_complex(1 + 0.01 * lam), atol=1e-9)


@pytest.mark.parametrize("order", [2, 6, 12, 32])
def test_euler_max_stable_dt_is_the_stability_edge(order):
    bound = lmu.euler_max_stable_dt(order, 1.0)
    below = lmu.system_eigenvalues(order, 1.0, dt=0.99 * bound, method="euler")
    above = lmu.system_eigenvalues(order, 1.0, dt=1.01 * bound, method="euler")
    assert np.abs(below).max() < 1 < np.abs(above).max()
    assert math.isclose(lmu.euler_max_stable_dt(order, 3.0), 3 * bound, rel_tol=1e-9)
