"""The explorers: an ipywidgets panel whose render function also draws the static figure the built
book shows.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg


def figure_pixels(figure):
    """Render a matplotlib figure (open or closed) to an RGBA ``uint8`` array with Agg."""
    # A closed figure keeps only a bare canvas; draw it with Agg.
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


class Explorer:
    """Redraw ``render(**values)`` whenever one of ``controls`` changes.

    Parameters
    ----------
    render : callable
        ``render(**values) -> matplotlib.figure.Figure``, called with the current value of
        every control under its key.
    controls : dict[str, ipywidgets.ValueWidget]
        The sliders / dropdowns, keyed by the render function's argument names.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
        The most recent figure (kept closed so pyplot does not show it twice).
    renders : int
        How many times ``render`` has run.
    widget : ipywidgets.VBox
        Controls above an output area; displaying the explorer displays this.
    """

    def __init__(self, render: Callable, controls: dict) -> None:
        import ipywidgets as widgets  # local: the front end's packages load only where an explorer is built

        if not callable(render):
            raise TypeError(f"render must be callable, got {type(render).__name__}")
        if not controls:
            raise ValueError("controls must name at least one widget")
        self.render = render
        self.controls = dict(controls)
        self.output = widgets.Output()
        self.figure = None
        self.renders = 0
        for control in self.controls.values():
            control.observe(self._update, names="value")
        self.widget = widgets.VBox([widgets.HBox(list(self.controls.values())), self.output])
        self._update()

    def values(self) -> dict:
        """Current value of every control."""
        return {name: control.value for name, control in self.controls.items()}

    def _update(self, change=None) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        figure = self.render(**self.values())
        plt.close(figure)
        self.figure = figure
        self.renders += 1
        with self.output:
            self.output.clear_output(wait=True)
            display(figure)

    def snapshot(self):
        """The current figure as an RGBA ``uint8`` array (to check that a change redraws it)."""
        return figure_pixels(self.figure)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def explore(render: Callable, controls: dict, *, interactive: bool):
    """The explorer cell every chapter ends a section with, written once.

    In a live kernel (``interactive=True``) display an :class:`Explorer` of ``render`` over
    ``controls`` and return it; in the built book (``interactive=False``, the runner has no front
    end) build nothing and return ``None``: the page shows the static figure drawn above it.
    ``controls`` is a callable returning the dict of widgets, so that ipywidgets is imported only
    when they are built.
    """
    if not interactive:
        return None
    from IPython.display import display  # local: a front end only

    explorer = Explorer(render, controls() if callable(controls) else controls)
    display(explorer)
    return explorer
