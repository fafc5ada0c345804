"""The explorer: redraws on a change of a control; the explorer cell helper builds nothing in the book."""

import numpy as np
import pytest


def test_explorer_redraws_when_a_control_changes():
    import ipywidgets as widgets
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from deblurkit.book.widgets import Explorer

    def render(level):
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.imshow(np.full((4, 4), level), vmin=0, vmax=1, cmap="gray")
        ax.set_title(f"level {level:.1f}")
        return fig

    slider = widgets.FloatSlider(value=0.2, min=0, max=1)
    explorer = Explorer(render, {"level": slider})
    before = explorer.snapshot()
    assert explorer.renders == 1 and explorer.values() == {"level": 0.2}
    slider.value = 0.9
    assert explorer.renders == 2
    assert not np.array_equal(before, explorer.snapshot())


def test_explorer_rejects_missing_controls():
    from deblurkit.book.widgets import Explorer

    with pytest.raises(ValueError, match="controls"):
        Explorer(lambda: None, {})


def test_explore_builds_nothing_for_the_built_book_and_an_explorer_in_a_kernel(monkeypatch):
    import ipywidgets as widgets
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from deblurkit.book import widgets as book_widgets

    built = []

    def controls():
        built.append(1)
        return {"level": widgets.FloatSlider(value=0.5, min=0, max=1)}

    def render(level):
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.set_title(f"{level}")
        return fig

    assert book_widgets.explore(render, controls, interactive=False) is None and built == []
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    explorer = book_widgets.explore(render, controls, interactive=True)
    assert isinstance(explorer, book_widgets.Explorer) and built == [1] and shown[-1] is explorer
    assert explorer.values() == {"level": 0.5}
