"""Figure helpers shared by pages."""

import plotly.graph_objects as go

import numpy as np

from explorer.plots import add_guide, digit_scatter


def test_guides_span_the_plot_at_their_value_and_keep_what_was_there():
    figure = go.Figure(go.Scatter(x=[0, 10], y=[0, 1]))
    add_guide(figure, x=4)
    add_guide(figure, y=0.3, dash="dash", text="real digits")
    vertical, horizontal = figure.layout.shapes
    assert (vertical.x0, vertical.x1, vertical.xref, vertical.y0, vertical.y1, vertical.yref) == (4, 4, "x", 0, 1, "paper")
    assert (horizontal.y0, horizontal.y1, horizontal.yref, horizontal.x0, horizontal.x1, horizontal.xref) == (
        0.3, 0.3, "y", 0, 1, "paper")
    assert horizontal.line.dash == "dash" and vertical.line.dash == "dot"
    (note,) = figure.layout.annotations
    assert (note.text, note.x, note.xref, note.y, note.yref) == ("real digits", 1, "paper", 0.3, "y")


def test_a_click_on_the_map_selects_its_point():
    figure = digit_scatter(np.zeros((3, 2)), np.array([0, 1, 9]))
    assert figure.layout.clickmode == "event+select" and figure.layout.dragmode == "lasso"
