"""A headless matplotlib backend for runs: ``plt.show()`` saves, it does not open windows.

Selected with ``MPLBACKEND=module://runyard_mpl_backend``. Each ``plt.show()``
saves every open figure (in figure-number order) as ``Figure001.png``,
``Figure002.png``, ... in ``$RUNYARD_PLOTS_DIR`` (else ``./plots``), then closes
them. The numbering continues across calls. ``Figure.show()`` saves that one
figure and leaves it open. Everything else is matplotlib's Agg backend.
"""

from __future__ import annotations

import os

from matplotlib._pylab_helpers import Gcf
from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_count = 0


def _plots_dir() -> str:
    return os.environ.get("RUNYARD_PLOTS_DIR") or os.path.join(os.getcwd(), "plots")


def save_figure(figure: Figure) -> str:
    """Save ``figure`` as the next ``FigureNNN.png``; returns its path."""
    global _count
    _count += 1
    d = _plots_dir()
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"Figure{_count:03d}.png")
    figure.savefig(path, format="png")
    return path


class FigureManager(FigureManagerBase):
    """Shows a figure by saving it."""

    def show(self) -> None:
        save_figure(self.canvas.figure)

    @classmethod
    def pyplot_show(cls, *, block=None) -> None:
        managers = sorted(Gcf.get_all_fig_managers(), key=lambda m: m.num)
        for manager in managers:
            save_figure(manager.canvas.figure)
        if managers:
            Gcf.destroy_all()


class FigureCanvas(FigureCanvasAgg):
    manager_class = FigureManager


def new_figure_manager(num, *args, FigureClass=Figure, **kwargs):
    """A manager for a new figure (the classic module-backend entry point)."""
    return new_figure_manager_given_figure(num, FigureClass(*args, **kwargs))


def new_figure_manager_given_figure(num, figure):
    return FigureManager(FigureCanvas(figure), num)


def show(*args, block=None, **kwargs) -> None:
    """``plt.show()``: save every open figure, then close them."""
    FigureManager.pyplot_show(block=block)
