"""The memory state m(t) over time, and the window it holds at one instant."""

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory

import lmu
from lmu.signals import SIGNAL_KINDS

from ._base import RAMP, Explorer, dropdown, float_slider, int_slider
from .delay import _SignalMixin

__all__ = ["MemoryStateExplorer"]


class MemoryStateExplorer(_SignalMixin, Explorer):
    """Watch the memory ``m(t)`` and decode the whole window it holds at a time ``t``.

    Top: the input ``u(t)`` with the window ``[t − θ, t]`` shaded, and the
    window decoded from the single state ``m(t)`` at the cursor
    (``P̃(θ′/θ) · m(t)`` for ``θ′`` from 0 to ``θ``, drawn at the times
    ``t − θ′``) over the true past input (:func:`lmu.signals.signal_at`).
    Middle: ``m(t)`` as a heatmap (order × time). Bottom: the lines
    ``m_i(t)`` (all ``d``, or ``max_lines`` of them spread over the indices)
    with the colour ramp of the basis. Moving the cursor only
    re-decodes the cached memory; ``θ``, ``d`` and the signal re-simulate it
    (:func:`lmu.simulate_memory`).

    Parameters
    ----------
    theta : float, default 1.0
        Window ``θ`` in seconds (slider 0.1 to ``duration / 2``).
    order : int, default 12
        Memory order ``d`` (slider 1 to ``max_order``).
    t : float, optional
        Cursor time in seconds (slider 0 to ``duration``); default 60% of
        the duration.
    signal : {"noise", "sines", "steps", "spikes"}
        Test signal (:func:`lmu.make_signal`).
    cutoff : float, default 1.0
        Cut-off frequency (noise, sines) or event rate (steps, spikes), Hz.
    seed : int, default 0
        Seed of the test signal.
    duration : float, default 10.0
        Length of the input in seconds.
    steps : int, default 2000
        Number of samples (``dt = duration / steps``).
    n_window : int, default 200
        Delays at which the window is decoded.
    max_order : int, default 64
        Upper end of the ``d`` slider.
    max_lines : int, default 16
        At most this many states are drawn as lines (spread evenly over
        ``0 … d−1``, always with the first and the last); the heatmap shows
        all ``d``. More lines than this are no longer readable, and cost the
        most drawing time.
    backend : {"auto", "inline", "ipympl", "none"}
        How the figure is shown; see :class:`lmu_viz.Explorer`.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    widget : ipywidgets.VBox
    window_nrmse : float
        NRMSE of the decoded window against the true past input (nan if the
        past input is zero).

    Examples
    --------
    >>> from lmu_viz import MemoryStateExplorer
    >>> explorer = MemoryStateExplorer(theta=1.0, order=12, t=5.0)
    >>> explorer                      # doctest: +SKIP  (shows the widget)
    >>> explorer.update(t=7.5)        # doctest: +SKIP  (moves the cursor only)
    """

    _live_params = frozenset({"t"})
    _fast_params = frozenset({"t"})

    def __init__(
        self, theta=1.0, order=12, t=None, signal="noise", cutoff=1.0, seed=0,
        duration=10.0, steps=2000, n_window=200, max_order=64, max_lines=16, backend="auto",
    ):
        self.steps = int(steps)
        self.duration = float(duration)
        if self.steps < 10 or not self.duration > 0:
            raise ValueError("steps must be >= 10 and duration > 0")
        self.dt = self.duration / self.steps
        self.cutoff = float(cutoff)
        self.seed = int(seed)
        self.max_order = int(max_order)
        self.n_window = int(n_window)
        self.max_lines = int(max_lines)
        if self.max_lines < 2:
            raise ValueError(f"max_lines must be >= 2, got {max_lines}")
        self.window_nrmse = float("nan")
        self._shown_signal = None
        self._scale = 0.0  # the colour scale and the lines' y range are ±_scale
        if t is None:
            t = 0.6 * self.duration
        controls = {
            "theta": self._theta_slider(theta),
            "order": int_slider("order d", order, 1, self.max_order),
            "t": float_slider(
                "cursor t (s)", t, 0.0, self.duration - self.dt, self.dt, readout_format=".3f"
            ),
            "signal": dropdown("signal", SIGNAL_KINDS, signal),
        }
        super().__init__(controls, figsize=(7.2, 6.6), backend=backend)

    # -- view -------------------------------------------------------------------
    def _build(self):
        fig = self.figure
        grid = fig.add_gridspec(3, 1, height_ratios=[1.25, 1, 1])
        self.ax_input = fig.add_subplot(grid[0])
        self.ax_heat = fig.add_subplot(grid[1], sharex=self.ax_input)
        self.ax_lines = fig.add_subplot(grid[2], sharex=self.ax_input)
        t = np.arange(self.steps) * self.dt
        self.t = t
        ax = self.ax_input
        (self.input_line,) = ax.plot(t, np.zeros_like(t), color="0.6", lw=1.0, label="input u(t)")
        (self.truth_line,) = ax.plot([], [], color="black", lw=2.0, label="true past window")
        (self.window_line,) = ax.plot(
            [], [], color="#d62728", lw=1.6, ls="--", label="decoded from m(t) at the cursor"
        )
        blend = blended_transform_factory(ax.transData, ax.transAxes)
        self.window_patch = Rectangle(
            (0, 0), 1, 1, transform=blend, facecolor="#f4a6a0", alpha=0.35, edgecolor="none",
            zorder=0,
        )
        ax.add_patch(self.window_patch)
        ax.set_ylabel("u (a.u.)")
        ax.legend(loc="upper left", fontsize=8, ncol=3, framealpha=1.0, fancybox=False)
        self.title = ax.set_title("", y=1.0)  # a fixed position: no costly placement at each draw
        ax.tick_params(labelbottom=False)

        self.heat = self.ax_heat.imshow(
            np.zeros((1, self.steps)), aspect="auto", origin="lower", cmap="RdBu_r",
            interpolation="nearest", extent=(0, self.duration, -0.5, 0.5),
        )
        self.heat_bar = fig.colorbar(self.heat, ax=self.ax_heat, pad=0.01, fraction=0.04)
        self.heat_bar.set_label("mᵢ(t)")
        self.ax_heat.set_ylabel("index i")
        self.ax_heat.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        self.ax_heat.tick_params(labelbottom=False)

        # colour = position i / (d - 1), so the colour bar never changes
        self.lines = LineCollection([], cmap=RAMP, linewidths=0.9)
        self.lines.set_clim(0.0, 1.0)
        self.ax_lines.add_collection(self.lines)
        self.lines_bar = fig.colorbar(self.lines, ax=self.ax_lines, pad=0.01, fraction=0.04)
        self.lines_bar.set_ticks([0.0, 0.5, 1.0], labels=["0", "(d − 1)/2", "d − 1"])
        self.lines_bar.set_label("index i")
        self.lines_note = self.ax_lines.text(
            0.99, 0.97, "", transform=self.ax_lines.transAxes, ha="right", va="top", fontsize=8,
            color="0.3",
        )
        self.ax_lines.set_xlabel("time t (s)")
        self.ax_lines.set_ylabel("mᵢ(t)")
        self.ax_lines.set_xlim(0, self.duration)

        self.cursors = [
            a.axvline(0, color="#d62728", lw=1.2) for a in (self.ax_input, self.ax_heat, self.ax_lines)
        ]

    def _fast_artists(self):
        return [
            self.window_patch, self.truth_line, self.window_line, *self.cursors, self.title,
            self.ax_input.get_legend(),
        ]

    def _data_artists(self):
        return [self.heat, self.lines, self.lines_note]

    def line_indices(self, order):
        """Indices ``i`` of the states drawn as lines: all, or ``max_lines`` spread over 0 … d−1."""
        if order <= self.max_lines:
            return np.arange(order)
        return np.unique(np.round(np.linspace(0, order - 1, self.max_lines)).astype(int))

    # -- model ------------------------------------------------------------------
    def _compute(self, changed):
        p = self.params
        kind, theta, order = p["signal"], p["theta"], p["order"]
        u = self._signal(kind, self.cutoff, self.seed)
        m = self._memory(kind, self.cutoff, self.seed, order, theta)
        k = int(np.clip(round(p["t"] / self.dt), 0, self.steps - 1))
        r, basis = self._basis_grid(self.max_order, self.n_window)
        t_k = k * self.dt
        window = basis[:, :order] @ m[k]
        times = t_k - r * theta
        truth = lmu.signals.signal_at(u, times, self.dt)
        try:
            error = float(lmu.nrmse(window, truth))
        except ValueError:  # the past window is all zero
            error = float("nan")
        return {
            "u": u, "m": m, "k": k, "t": t_k, "theta": theta, "order": order, "times": times,
            "window": window, "truth": truth, "nrmse": error, "full": bool(changed - {"t"}),
        }

    def _warnings(self, data):
        if data["t"] < data["theta"]:
            return [
                f"at t = {data['t']:.2f} s < θ the window reaches before the start, "
                "where the input is taken as 0 (the memory starts from rest)"
            ]
        return []

    def _render(self, data):
        self.window_nrmse = data["nrmse"]
        t_k, theta = data["t"], data["theta"]
        if data["full"]:
            self._render_memory(data)
        self.window_line.set_data(data["times"], data["window"])
        self.truth_line.set_data(data["times"], data["truth"])
        self.window_patch.set_x(t_k - theta)
        self.window_patch.set_width(theta)
        for line in self.cursors:
            line.set_xdata([t_k, t_k])
        shown = (
            f"{100 * self.window_nrmse:.3g}%" if np.isfinite(self.window_nrmse) else "undefined"
        )
        self.title.set_text(
            f"t = {t_k:.2f} s, θ = {theta:g} s, d = {data['order']}: window NRMSE = {shown}"
        )

    def _render_memory(self, data):
        u, m, d = data["u"], data["m"], data["order"]
        if self._shown_signal is not u:  # the input line is static: redraw its axes
            self._shown_signal = u
            self.input_line.set_ydata(u)
            self._mark_dirty(self.ax_input)
        lo, hi = min(u.min(), 0.0), max(u.max(), 0.0)
        pad = 0.1 * (hi - lo) if hi > lo else 1.0
        self._set_limits(self.ax_input, ylim=(lo - pad, hi + 3 * pad))
        # the colour and y scale move in steps (1, 2, 5 x 10^k), so that most
        # changes of θ keep the colour bar's and the lines' ticks
        biggest = float(np.abs(m).max()) or 1.0
        if not 0.4 * self._scale < biggest <= self._scale:
            self._scale = _nice_ceil(biggest)
        vmax = self._scale
        self._set_limits(self.ax_heat, ylim=(-0.5, d - 0.5))  # before set_extent, which sets them too
        self.heat.set_data(m.T)
        self.heat.set_extent((0, self.duration, -0.5, d - 0.5))
        if self.heat.get_clim() != (-vmax, vmax):
            self.heat.set_clim(-vmax, vmax)
            self._mark_dirty(self.heat_bar.ax)
        shown = self.line_indices(d)
        segments = np.empty((shown.size, self.steps, 2))
        segments[:, :, 0] = self.t
        segments[:, :, 1] = m[:, shown].T
        self.lines.set_segments(segments)
        self.lines.set_array(shown / max(d - 1, 1))
        self.lines_note.set_text(
            "" if shown.size == d else f"{shown.size} of the {d} states (all in the heatmap)"
        )
        self._set_limits(self.ax_lines, ylim=(-1.05 * vmax, 1.05 * vmax))


def _nice_ceil(value):
    """The smallest of 1, 2, 5 times a power of ten that is >= value (> 0)."""
    power = 10.0 ** np.floor(np.log10(value))
    for step in (1.0, 2.0, 5.0, 10.0):
        if step * power >= value * (1 - 1e-12):
            return float(step * power)
    return float(10 * power)  # pragma: no cover - unreachable
