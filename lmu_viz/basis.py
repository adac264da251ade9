"""The shifted Legendre basis that the memory uses."""

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle

from ._base import RAMP, Explorer, int_slider

__all__ = ["LegendreBasisExplorer"]


class LegendreBasisExplorer(Explorer):
    """Explore the shifted Legendre polynomials ``P̃_0 … P̃_{d-1}``.

    The memory of order ``d`` holds the coefficients of its input's last
    window in this basis; ``P̃_i(θ′/θ)`` is also the readout weight of
    coefficient ``i`` for the delay ``θ′`` (the rows of
    :func:`lmu.legendre_decoders`). The polynomials are drawn over
    ``θ′/θ ∈ [0, 1]`` with one colour ramp; at ``d = 12`` (and 1,000 points)
    this is the paper's basis figure.

    Parameters
    ----------
    order : int, default 12
        Number of polynomials ``d`` shown (slider from 1 to ``max_order``).
    highlight : int or None, default None
        Index ``i`` of a polynomial to draw in bold (slider; -1 = none).
    n_points : int, default 1000
        Points on ``θ′/θ ∈ [0, 1]``.
    max_order : int, default 64
        Upper end of the ``d`` slider.
    backend : {"auto", "inline", "ipympl", "none"}
        How the figure is shown; see :class:`lmu_viz.Explorer`.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    widget : ipywidgets.VBox
    controls : dict
        ``"order"`` and ``"highlight"`` sliders.

    Examples
    --------
    >>> from lmu_viz import LegendreBasisExplorer
    >>> explorer = LegendreBasisExplorer(order=12)
    >>> explorer                      # doctest: +SKIP  (shows the widget)
    >>> explorer.update(order=6, highlight=2)   # same as moving the sliders
    LegendreBasisExplorer(order=6, highlight=2)
    """

    _live_params = frozenset({"order", "highlight"})
    _fast_params = frozenset({"highlight"})

    def __init__(self, order=12, highlight=None, n_points=1000, max_order=64, backend="auto"):
        self.max_order = int(max_order)
        self.n_points = int(n_points)
        if self.max_order < 1 or self.n_points < 2:
            raise ValueError("max_order must be >= 1 and n_points >= 2")
        order_slider = int_slider("order d", min(max(int(order), 1), self.max_order), 1, self.max_order)
        hl = -1 if highlight is None else int(highlight)
        highlight_slider = int_slider(
            "highlight P̃ᵢ (−1: none)", min(max(hl, -1), order_slider.value - 1), -1,
            order_slider.value - 1,
        )
        super().__init__(
            {"order": order_slider, "highlight": highlight_slider}, figsize=(7.2, 4.2),
            backend=backend,
        )

    # -- view -------------------------------------------------------------------
    def _build(self):
        ax = self.figure.add_subplot(1, 1, 1)
        self.ax = ax
        # colour = position i / (d - 1) in the family, so the colour bar never changes
        self.lines = LineCollection([], cmap=RAMP, linewidths=1.6)
        self.lines.set_clim(0.0, 1.0)
        ax.add_collection(self.lines)
        # a translucent white veil dims the family while one polynomial is bold
        self.veil = Rectangle(
            (0, 0), 1, 1, transform=ax.transAxes, facecolor="white", alpha=0.6,
            edgecolor="none", zorder=4, visible=False,
        )
        ax.add_patch(self.veil)
        (self.highlight_line,) = ax.plot([], [], color="#d62728", lw=3.2, zorder=5)
        self.highlight_text = ax.text(
            0.99, 0.03, "", transform=ax.transAxes, ha="right", va="bottom",
            color="#d62728", fontsize=11, zorder=6,
        )
        self.colorbar = self.figure.colorbar(self.lines, ax=ax, pad=0.02)
        self.colorbar.set_ticks([0.0, 0.5, 1.0], labels=["0", "(d − 1)/2", "d − 1"])
        self.colorbar.set_label("index i of P̃ᵢ")
        ax.set_xlim(0, 1)
        ax.set_ylim(-1.08, 1.08)
        ax.axhline(0, color="0.6", lw=0.6, zorder=0)
        ax.set_xlabel("delay θ′/θ (fraction of the window, dimensionless)")
        ax.set_ylabel("P̃ᵢ(θ′/θ)")
        self.title = ax.set_title("", y=1.0)  # a fixed position: no costly placement at each draw

    def _fast_artists(self):
        return [self.veil, self.highlight_line, self.highlight_text]

    def _data_artists(self):
        return [self.lines, self.title]

    # -- model ------------------------------------------------------------------
    def _compute(self, changed):
        p = self.params
        d = p["order"]
        if "order" in changed:
            # keep the highlight slider inside 0 … d-1 (bounds prevent invalid values)
            self._batch = True
            try:
                self.controls["highlight"].max = d - 1
            finally:
                self._batch = False
        r, basis = self._basis_grid(self.max_order, self.n_points)
        return {"r": r, "basis": basis[:, :d], "order": d, "highlight": self.controls["highlight"].value}

    def _render(self, data):
        r, basis, d, h = data["r"], data["basis"], data["order"], data["highlight"]
        segments = np.empty((d, r.size, 2))
        segments[:, :, 0] = r
        segments[:, :, 1] = basis.T
        self.lines.set_segments(segments)
        self.lines.set_array(np.arange(d) / max(d - 1, 1))
        # a dense family reads better (and draws faster) with thinner lines
        self.lines.set_linewidth(1.6 if d <= 16 else 1.0)
        self.veil.set_visible(h >= 0)
        if h >= 0:
            self.highlight_line.set_data(r, basis[:, h])
            self.highlight_text.set_text(f"bold: P̃$_{{{h}}}$")
        else:
            self.highlight_line.set_data([], [])
            self.highlight_text.set_text("")
        self.title.set_text(f"Shifted Legendre polynomials P̃$_0$ … P̃$_{{{d - 1}}}$ (d = {d})")

