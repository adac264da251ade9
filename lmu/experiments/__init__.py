"""The paper's experiments, runnable from a chapter or the command line.

Each experiment is a module ``lmu.experiments.<name>`` with a ``run(mode=None, ...)``
function returning a results dict and writing it, with provenance, through
:func:`lmu.experiments.common.save_results`; ``python -m lmu.experiments.<name>
--mode full`` runs it from a shell.
"""
