"""Tests of the NumPy/SciPy layer of :mod:`lmu` (no TensorFlow)."""

import subprocess
import sys
from math import comb

import numpy as np
import pytest
import scipy.signal

import lmu


def formula_system(order, theta):
    """A and B written entry by entry from the paper's formula."""
    A = np.zeros((order, order))
    B = np.zeros((order, 1))
    for i in range(order):
        B[i, 0] = (2 * i + 1) * (-1) ** i / theta
        for j in range(order):
            A[i, j] = (2 * i + 1) / theta * (-1 if i < j else (-1) ** (i - j + 1))
    return A, B


def shifted_legendre(i, r):
    """P~_i(r) from the explicit binomial sum."""
    return (-1) ** i * sum(comb(i, j) * comb(i + j, j) * (-r) ** j for j in range(i + 1))


@pytest.mark.parametrize("order", [1, 2, 3, 6, 12, 64])
@pytest.mark.parametrize("theta", [1.0, 784.0, 0.37])
def test_legendre_system_matches_formula(order, theta):
    A, B = lmu.legendre_system(order, theta)
    A_ref, B_ref = formula_system(order, theta)
    assert A.shape == (order, order) and B.shape == (order, 1)
    np.testing.assert_allclose(A, A_ref, rtol=1e-15, atol=0)
    np.testing.assert_allclose(B, B_ref, rtol=1e-15, atol=0)


@pytest.mark.parametrize("order", [1, 4, 32, 100, 256])
@pytest.mark.parametrize("theta", [1.0, 10.0, 784.0, 1e5])
def test_zoh_matches_scipy_cont2discrete(order, theta):
    A, B = lmu.legendre_system(order, theta)
    Ad, Bd = lmu.discretize(A, B, dt=1.0, method="zoh")
    C, D = np.eye(order), np.zeros((order, 1))
    Ad_ref, Bd_ref, *_ = scipy.signal.cont2discrete((A, B, C, D), dt=1.0, method="zoh")
    np.testing.assert_allclose(Ad, Ad_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(Bd, Bd_ref, rtol=0, atol=1e-10)


def test_zoh_matches_inverse_formula():
    # Bd = A^{-1} (Ad - I) B, with A invertible
    A, B = lmu.legendre_system(8, 5.0)
    Ad, Bd = lmu.discretize(A, B, dt=0.5)
    np.testing.assert_allclose(Bd, np.linalg.solve(A, (Ad - np.eye(8)) @ B), atol=1e-12)


def test_euler_formula_and_convergence_to_zoh():
    A, B = lmu.legendre_system(6, 1.0)
    Ad, Bd = lmu.discretize(A, B, dt=0.01, method="euler")
    np.testing.assert_allclose(Ad, np.eye(6) + 0.01 * A)
    np.testing.assert_allclose(Bd, 0.01 * B)
    # one unit of time: the Euler system stepped 1/dt times approaches the exact flow
    exact, _ = lmu.discretize(A, B, dt=1.0, method="zoh")
    errors = []
    for dt in [1e-2, 1e-3, 1e-4]:
        Ad, _ = lmu.discretize(A, B, dt=dt, method="euler")
        errors.append(np.abs(np.linalg.matrix_power(Ad, round(1 / dt)) - exact).max())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-3
    # and the simulated memories converge too
    u = lmu.band_limited_noise(4000, dt=1e-3, cutoff=2.0, seed=3)
    zoh = lmu.simulate_memory(u, 6, 1.0, dt=1e-3, method="zoh")
    e1 = np.abs(lmu.simulate_memory(u, 6, 1.0, dt=1e-3, method="euler") - zoh).max()
    u2 = np.repeat(u, 10)
    zoh2 = lmu.simulate_memory(u2, 6, 1.0, dt=1e-4, method="zoh")
    e2 = np.abs(lmu.simulate_memory(u2, 6, 1.0, dt=1e-4, method="euler") - zoh2).max()
    assert e2 < e1 / 5


@pytest.mark.parametrize("order", [1, 5, 12])
def test_decoders_are_shifted_legendre(order):
    delays = np.linspace(0, 1, 7)
    C = lmu.legendre_decoders(order, delays)
    assert C.shape == (7, order)
    ref = np.array([[shifted_legendre(i, r) for i in range(order)] for r in delays])
    np.testing.assert_allclose(C, ref, atol=1e-12)


def test_decoder_endpoints():
    C = lmu.legendre_decoders(10, [0.0, 1.0])
    np.testing.assert_allclose(C[0], (-1.0) ** np.arange(10))
    np.testing.assert_allclose(C[1], np.ones(10))


def loop_memory(u, order, theta, dt=1.0, method="zoh"):
    Ad, Bd = lmu.discretize(*lmu.legendre_system(order, theta), dt=dt, method=method)
    m = np.zeros(order)
    out = []
    for ut in u:
        m = Ad @ m + Bd[:, 0] * ut
        out.append(m)
    return np.array(out)


@pytest.mark.parametrize("method", ["zoh", "euler"])
def test_simulate_memory_equals_step_by_step_loop(rng, method):
    u = rng.normal(size=(3, 700))
    m = lmu.simulate_memory(u, 16, 100.0, method=method)
    assert m.shape == (3, 700, 16)
    for b in range(3):
        ref = loop_memory(u[b], 16, 100.0, method=method)
        np.testing.assert_allclose(m[b], ref, atol=1e-10 * np.abs(ref).max())


def test_simulate_memory_shapes(rng):
    u = rng.normal(size=50)
    m1 = lmu.simulate_memory(u, 4, 10.0)
    assert m1.shape == (50, 4)
    m3 = lmu.simulate_memory(u[None, :, None], 4, 10.0)
    assert m3.shape == (1, 50, 4)
    np.testing.assert_allclose(m3[0], m1)
    C = lmu.legendre_decoders(4, [0, 0.5, 1]).T
    y = lmu.simulate_memory(u, 4, 10.0, readout=C)
    np.testing.assert_allclose(y, m1 @ C, atol=1e-12)
    # groups of sequences give the same answer as one pass
    ub = rng.normal(size=(7, 64))
    np.testing.assert_allclose(
        lmu.simulate_memory(ub, 4, 10.0, max_batch_bytes=1),
        lmu.simulate_memory(ub, 4, 10.0),
        atol=1e-12,
    )


def test_delay_reconstruction_nrmse():
    theta, dt = 1.0, 1e-3
    u = lmu.band_limited_noise(20000, dt=dt, cutoff=1.0, rms=0.5, seed=0)
    delays = np.linspace(0, 1, 5)  # 0, θ/4, …, θ
    steps = np.round(delays * theta / dt).astype(int)
    start = int(2 * theta / dt)
    errors = {}
    for order in [4, 6, 8, 12]:
        y = lmu.simulate_memory(u, order, theta, dt=dt, readout=lmu.legendre_decoders(order, delays).T)
        errs = [
            lmu.nrmse(y[start:, k], u[start - s : len(u) - s]) for k, s in enumerate(steps)
        ]
        errors[order] = max(errs)
    assert errors[12] < 0.01
    assert errors[4] > errors[6] > errors[8] > errors[12]


def test_pade_and_delay_error():
    # the memory's readout at θ' = θ is the [d-1/d] Padé approximant of exp(-iωθ)
    freqs = np.array([0.1, 0.5, 1.0, 2.0])
    for order in [1, 3, 6, 10]:
        H = lmu.delay_transfer(order, [1.0], freqs, theta=1.0)[:, 0]
        np.testing.assert_allclose(H, lmu.pade_delay(order, 2j * np.pi * freqs), rtol=1e-9)
    # the paper's Loihi notebook: θ·f = 1, d = 6 -> 0.70% error
    assert round(100 * float(lmu.delay_error(6, 1.0)), 2) == 0.70
    errs = lmu.delay_error(np.int64(8), [0.25, 0.5, 1.0, 2.0])
    assert np.all(np.diff(errs) > 0)
    assert lmu.delay_error(12, 1.0) < lmu.delay_error(6, 1.0)


def test_delay_error_matches_simulated_sinusoid():
    # independent check: simulate a sine through the discrete memory, decode θ'
    theta, dt, order, f = 1.0, 1e-4, 6, 1.0
    t = np.arange(200000) * dt
    u = np.sin(2 * np.pi * f * t)
    y = lmu.simulate_memory(u, order, theta, dt=dt, readout=lmu.legendre_decoders(order, [1.0]).T)[:, 0]
    ideal = np.sin(2 * np.pi * f * (t - theta))
    steady = t > 10
    amplitude = np.sqrt(2) * np.sqrt(np.mean((y[steady] - ideal[steady]) ** 2))
    # the discretization (dt = θ/10⁴) adds an O(dt) error of its own
    assert amplitude == pytest.approx(float(lmu.delay_error(order, theta * f)), rel=0.05)


def test_unstable_euler_raises():
    with pytest.raises(ValueError, match="unstable"):
        lmu.simulate_memory(np.ones(5000), 32, 1.0, dt=0.5, method="euler")


def test_import_lmu_does_not_import_tensorflow():
    code = "import sys, lmu; lmu.simulate_memory([1.0, 2.0], 3, 4.0); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_band_limited_noise_properties():
    u = lmu.band_limited_noise(10000, dt=1e-3, cutoff=5.0, rms=0.3, seed=7)
    np.testing.assert_allclose(np.sqrt(np.mean(u**2)), 0.3)
    np.testing.assert_array_equal(u, lmu.band_limited_noise(10000, dt=1e-3, cutoff=5.0, rms=0.3, seed=7))
    spectrum = np.abs(np.fft.rfft(u))
    freqs = np.fft.rfftfreq(10000, 1e-3)
    assert spectrum[freqs > 5.0].max() < 1e-9 * spectrum.max()
    z = lmu.band_limited_noise(1000, dt=1e-2, cutoff=2.0, seed=1, start_at_zero=True)
    assert abs(z[0]) < np.abs(np.diff(z)).max()


# --- bad input --------------------------------------------------------------

@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: lmu.legendre_system(0, 1.0), ValueError, "order"),
        (lambda: lmu.legendre_system(-3, 1.0), ValueError, "order"),
        (lambda: lmu.legendre_system(2.5, 1.0), TypeError, "order"),
        (lambda: lmu.legendre_system(4.0, 1.0), TypeError, "order"),
        (lambda: lmu.legendre_system("4", 1.0), TypeError, "order"),
        (lambda: lmu.legendre_system(True, 1.0), TypeError, "order"),
        (lambda: lmu.legendre_system(4, 0.0), ValueError, "theta"),
        (lambda: lmu.legendre_system(4, -1.0), ValueError, "theta"),
        (lambda: lmu.legendre_system(4, np.inf), ValueError, "theta"),
        (lambda: lmu.legendre_system(4, np.nan), ValueError, "theta"),
        (lambda: lmu.legendre_system(4, "1"), TypeError, "theta"),
        (lambda: lmu.discretize(*lmu.legendre_system(4, 1.0), dt=0.0), ValueError, "dt"),
        (lambda: lmu.discretize(*lmu.legendre_system(4, 1.0), dt=-1.0), ValueError, "dt"),
        (lambda: lmu.discretize(*lmu.legendre_system(4, 1.0), method="tustin"), ValueError, "method"),
        (lambda: lmu.discretize(*lmu.legendre_system(4, 1.0), method=None), TypeError, "method"),
        (lambda: lmu.discretize(np.ones((3, 2)), np.ones((3, 1))), ValueError, "A"),
        (lambda: lmu.discretize(np.eye(3), np.ones((2, 1))), ValueError, "B"),
        (lambda: lmu.discretize(np.full((2, 2), np.nan), np.ones((2, 1))), ValueError, "A"),
        (lambda: lmu.legendre_decoders(4, [0.5, 1.2]), ValueError, "delays"),
        (lambda: lmu.legendre_decoders(4, [-0.1]), ValueError, "delays"),
        (lambda: lmu.legendre_decoders(4, [np.nan]), ValueError, "delays"),
        (lambda: lmu.legendre_decoders(0, [0.5]), ValueError, "order"),
        (lambda: lmu.simulate_memory(np.ones((2, 3, 4)), 4, 1.0), ValueError, "u"),
        (lambda: lmu.simulate_memory(np.ones((2, 3, 1, 1)), 4, 1.0), ValueError, "u"),
        (lambda: lmu.simulate_memory(5.0, 4, 1.0), ValueError, "u"),
        (lambda: lmu.simulate_memory([1.0, np.nan], 4, 1.0), ValueError, "u"),
        (lambda: lmu.simulate_memory([1.0, np.inf], 4, 1.0), ValueError, "u"),
        (lambda: lmu.simulate_memory(["a"], 4, 1.0), TypeError, "u"),
        (lambda: lmu.simulate_memory([1.0], 4, 1.0, dt=0), ValueError, "dt"),
        (lambda: lmu.simulate_memory([1.0], 4, 1.0, method="rk4"), ValueError, "method"),
        (lambda: lmu.simulate_memory([1.0], 4, 1.0, readout=np.ones((3, 2))), ValueError, "readout"),
        (lambda: lmu.delay_error(6, -1.0), ValueError, "theta_freq"),
        (lambda: lmu.delay_error(6, 1.0, delay=2.0), ValueError, "delay"),
        (lambda: lmu.nrmse([1.0, 2.0], [0.0, 0.0]), ValueError, "target"),
        (lambda: lmu.nrmse([1.0], [1.0, 2.0]), ValueError, "shape"),
        (lambda: lmu.band_limited_noise(100, cutoff=0.001), ValueError, "cutoff"),
        (lambda: lmu.band_limited_noise(100, cutoff=0.6), ValueError, "Nyquist"),
        (lambda: lmu.get_mode("fast"), ValueError, "mode"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_mode_switch(monkeypatch):
    monkeypatch.delenv("LMU_BOOK_MODE", raising=False)
    lmu.set_mode(None)
    assert lmu.get_mode() == "quick"
    monkeypatch.setenv("LMU_BOOK_MODE", "FULL")
    assert lmu.get_mode() == "full"
    assert lmu.set_mode("quick") == "quick"
    assert lmu.get_mode("full") == "full"
    lmu.set_mode(None)
    monkeypatch.setenv("LMU_BOOK_MODE", "fastest")
    with pytest.raises(ValueError, match="LMU_BOOK_MODE"):
        lmu.get_mode()
