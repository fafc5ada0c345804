"""A small ipywidgets explorer: controls -> a render function -> a matplotlib figure.

The same render function draws the static figure the book shows, so the HTML page never
depends on a live kernel, and the explorer's callback can be tested without a browser.

Notebooks build an explorer only when their ``interactive`` parameter is true (the default
for a reader). The book's headless execution sets it false: there is no frontend to show
widgets to, and a cell that drives widgets can stall nbclient (jupyter/nbclient#312).
"""

from __future__ import annotations

from typing import Callable


def figure_pixels(figure):
    """Render a matplotlib figure (open or closed) to an RGBA ``uint8`` array with Agg."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

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
        import ipywidgets as widgets

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
