"""lmu_viz: interactive widgets that explain the Legendre Memory Unit.

Four explorers, each a controller around one matplotlib figure and a few
ipywidgets controls. Every number comes from :mod:`lmu`; moving a control
recomputes only what that control invalidates (results are cached on their
parameters) and updates the figure's existing artists in place.

- :class:`LegendreBasisExplorer` — the shifted Legendre polynomials
  ``P̃_0 … P̃_{d-1}`` over ``θ′/θ`` (the paper's basis figure at ``d = 12``).
- :class:`DelayReconstructionExplorer` — decode ``u(t − θ′)`` from the
  memory, with the NRMSE live and against the order ``d``.
- :class:`MemoryStateExplorer` — the memory ``m(t)`` as a heatmap and lines,
  and the whole window decoded from the state at a time cursor.
- :class:`SystemExplorer` — ``A``, ``B``, ``Ā``, ``B̄`` and the poles in the s-
  and z-planes, with a warning when Euler is unstable.

Each explorer displays itself in a notebook (or use its ``widget``), exposes
its ``figure`` and ``controls``, explains bad settings in its ``status`` line
instead of raising, and has ``update(**params)`` which does exactly what the
controls do::

    from lmu_viz import DelayReconstructionExplorer
    explorer = DelayReconstructionExplorer(theta=1.0, order=6)
    explorer                          # the widget (last line of a cell)
    explorer.update(delay=0.5)        # same as moving the θ′/θ slider

With the inline backend the figure is a PNG inside an ``ipywidgets.Output``
(so a notebook saved with its widget state shows it in the static book); with
ipympl (``%matplotlib widget``) the figure's canvas is the widget.
"""

from ._base import BACKENDS, Explorer
from .basis import LegendreBasisExplorer
from .delay import SWEEP_ORDERS, DelayReconstructionExplorer
from .memory import MemoryStateExplorer
from .system import SystemExplorer

__all__ = [
    "LegendreBasisExplorer",
    "DelayReconstructionExplorer",
    "MemoryStateExplorer",
    "SystemExplorer",
    "Explorer",
    "BACKENDS",
    "SWEEP_ORDERS",
]
