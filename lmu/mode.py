"""The one switch between the book's ``quick`` and ``full`` modes.

``quick`` (the default) runs every experiment small enough for CI and the
default book build; ``full`` follows the paper's protocol. Set it for a whole
build with the environment variable ``LMU_BOOK_MODE``, or in one notebook with
:func:`set_mode`.
"""

import os

__all__ = ["MODES", "ENV_VAR", "get_mode", "set_mode"]

MODES = ("quick", "full")
ENV_VAR = "LMU_BOOK_MODE"
_override = None


def _check(mode, source):
    if not isinstance(mode, str) or mode.strip().lower() not in MODES:
        raise ValueError(f"{source} must be one of {MODES}, got {mode!r}")
    return mode.strip().lower()


def get_mode(mode=None):
    """Return the active mode.

    Parameters
    ----------
    mode : {"quick", "full"}, optional
        An explicit mode; it wins over :func:`set_mode` and the environment.

    Returns
    -------
    str
        ``"quick"`` or ``"full"``: the explicit ``mode``, else the one set with
        :func:`set_mode`, else ``$LMU_BOOK_MODE``, else ``"quick"``.
    """
    if mode is not None:
        return _check(mode, "mode")
    if _override is not None:
        return _override
    return _check(os.environ.get(ENV_VAR, "quick"), f"${ENV_VAR}")


def set_mode(mode):
    """Set the mode for this Python process (``None`` returns to the environment)."""
    global _override
    _override = None if mode is None else _check(mode, "mode")
    return get_mode()
