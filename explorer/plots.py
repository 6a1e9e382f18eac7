"""Plotly figures shared by pages: digit-coloured scatters of codes (held-out 9s marked apart) over optional pictures.

One WebGL trace per digit keeps 10,000 points fluid and gives a clickable legend; every point carries its
row id as ``customdata``, so a selection maps back to images (``explorer.embed.selected_rows``).
"""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go

from .data import HELD_OUT_DIGIT
from .images import png_bytes

# Tableau-10 for the seen digits; the held-out digit is drawn black-outlined diamonds on top of them.
DIGIT_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                 "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#222222")


def digit_label(digit: int) -> str:
    return f"{digit} (held out)" if digit == HELD_OUT_DIGIT else str(digit)


def trace_rows(labels: np.ndarray) -> list[np.ndarray]:
    """The row ids each trace of ``digit_scatter`` shows, in trace order (digits 0-9 present; 9 last)."""
    return [np.flatnonzero(labels == d) for d in range(10) if (labels == d).any()]


def digit_scatter(coords: np.ndarray, labels: np.ndarray, *, size: float = 4, opacity: float = 0.7,
                  height: int = 640, axis_titles: tuple[str, str] = ("", "")) -> go.Figure:
    """Points (N, 2) coloured by digit ``labels`` (N,), one Scattergl trace per digit, row ids in ``customdata``."""
    coords = np.asarray(coords, dtype=np.float32).round(4)  # 4 decimals: a lighter page, no visible change
    figure = go.Figure()
    for rows in trace_rows(labels):
        digit = int(labels[rows[0]])
        held_out = digit == HELD_OUT_DIGIT
        marker = {"color": DIGIT_COLOURS[digit], "size": size * (1.6 if held_out else 1), "opacity": opacity}
        if held_out:
            marker.update(symbol="diamond", opacity=1.0, line={"color": "white", "width": 0.8})
        figure.add_trace(go.Scattergl(
            x=coords[rows, 0], y=coords[rows, 1], customdata=rows, mode="markers", name=digit_label(digit),
            marker=marker, hovertemplate=f"digit {digit}<br>test image #%{{customdata}}<extra></extra>",
        ))
    figure.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10}, dragmode="lasso",
        clickmode="event+select",  # a click selects the point (plotly's default only reports the click)
        legend={"title": {"text": "digit"}, "itemsizing": "constant"},
        xaxis={"title": axis_titles[0], "zeroline": False, "showgrid": False},
        yaxis={"title": axis_titles[1], "zeroline": False, "showgrid": False},
    )
    return figure


def digit_bars(values: dict[int, float], *, text: str, y_title: str, height: int = 280, **yaxis) -> go.Figure:
    """One bar per digit in its colour (outlined, so the held-out digit's dark bar shows on dark themes)."""
    digits = list(values)
    figure = go.Figure(go.Bar(x=[digit_label(d) for d in digits], y=list(values.values()),
                              marker={"color": [DIGIT_COLOURS[d] for d in digits], "line": {"color": "#888888", "width": 1}},
                              text=[format(v, text) for v in values.values()], textposition="outside",
                              textfont={"size": 15}, cliponaxis=False))
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                         xaxis={"type": "category", "title": "digit"}, yaxis={"title": y_title, **yaxis})
    return figure


def add_picture(figure: go.Figure, picture: np.ndarray, x: tuple[float, float], y: tuple[float, float]) -> go.Figure:
    """Put a greyscale picture (H, W) in [0, 1] under the data, stretched over the axis box ``x`` x ``y``."""
    source = "data:image/png;base64," + base64.b64encode(png_bytes(picture)).decode()
    figure.add_layout_image(source=source, xref="x", yref="y", x=x[0], y=y[1], sizex=x[1] - x[0], sizey=y[1] - y[0],
                            sizing="stretch", layer="below")
    figure.update_xaxes(range=list(x), constrain="domain")
    figure.update_yaxes(range=list(y), scaleanchor="x", scaleratio=1)
    return figure


def add_guide(figure: go.Figure, *, x: float | None = None, y: float | None = None, dash: str = "dot",
              text: str | None = None) -> go.Figure:
    """A grey line across the whole plot at ``x`` (vertical) or ``y`` (horizontal), labelled at its lower right end.

    Plotly's ``add_vline`` and ``add_hline`` draw the same but first work out which axes the line spans, a cost
    paid on every rerun of a page that marks where its slider stands.
    """
    vertical = x is not None
    line = {"type": "line", "xref": "x" if vertical else "paper", "yref": "paper" if vertical else "y",
            "x0": x if vertical else 0, "x1": x if vertical else 1, "y0": 0 if vertical else y, "y1": 1 if vertical else y,
            "line": {"color": "grey", "dash": dash}}
    layout = {"shapes": [*figure.layout.shapes, line]}
    if text:
        layout["annotations"] = [*figure.layout.annotations, {
            "text": text, "showarrow": False, "xref": line["xref"], "yref": line["yref"], "x": line["x1"],
            "y": line["y0"], "xanchor": "left" if vertical else "right", "yanchor": "bottom" if vertical else "top"}]
    return figure.update_layout(**layout)


def class_spread(values: np.ndarray, labels: np.ndarray, *, marked: float, marked_text: str, y_title: str,
                 height: int = 300) -> go.Figure:
    """One box per digit of ``values`` (N,) by ``labels`` (N,), in the digits' colours, and a line at ``marked``."""
    figure = go.Figure()
    for d in range(10):
        figure.add_trace(go.Box(y=values[labels == d], name=digit_label(d), marker_color=DIGIT_COLOURS[d],
                                line={"width": 1.5}, boxpoints=False, showlegend=False))
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                         xaxis={"type": "category", "title": "test digits"}, yaxis={"title": y_title})
    return add_guide(figure, y=marked, dash="solid", text=marked_text)


def pixel_map(values: np.ndarray, *, title: str, height: int = 300, diverging: bool = True) -> go.Figure:
    """A 28 x 28 map, square pixels: on a diverging scale centred on zero (red above, blue below), or for values that
    are never negative from white at zero to red."""
    limit = float(np.abs(values).max()) or 1.0
    figure = go.Figure(go.Heatmap(z=values[::-1], zmin=-limit if diverging else 0, zmax=limit,
                                  colorscale="RdBu_r" if diverging else "Reds",
                                  colorbar={"title": {"text": title, "side": "right"}, "thickness": 12}))
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                         xaxis={"visible": False, "constrain": "domain"},
                         yaxis={"visible": False, "scaleanchor": "x", "scaleratio": 1})
    return figure


def plane(points: dict[str, tuple[float, float]], reference: tuple[str, float, float], *, x_title: str,
          y_title: str, height: int = 360) -> go.Figure:
    """Labelled points on two axes and a reference point (a star) they are measured against."""
    names = list(points)
    figure = go.Figure(go.Scatter(x=[points[n][0] for n in names], y=[points[n][1] for n in names], text=names,
                                  mode="markers+text", textposition="top center", marker={"size": 12},
                                  showlegend=False))
    label, x, y = reference
    figure.add_trace(go.Scatter(x=[x], y=[y], text=[label], mode="markers+text", textposition="bottom center",
                                marker={"symbol": "star", "size": 18, "color": DIGIT_COLOURS[HELD_OUT_DIGIT]},
                                showlegend=False))
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                         xaxis={"title": x_title, "rangemode": "tozero"}, yaxis={"title": y_title, "range": [-5, 110]})
    return figure
