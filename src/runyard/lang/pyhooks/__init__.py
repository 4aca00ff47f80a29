"""Modules runyard puts on a run's ``PYTHONPATH`` (this directory itself, not the package).

- ``runyard_mpl_backend``: a headless matplotlib backend whose ``show()`` saves
  figures as ``plots/FigureNNN.png`` in the run directory.
"""
