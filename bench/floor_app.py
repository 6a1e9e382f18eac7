"""The page of bench/floor.py: one slider, and beside its image whatever ``?show=`` names, all changing with it."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

value = st.slider("Value", 0, 100, 50)
show = st.query_params.get("show", "image")
rng = np.random.default_rng(value)
st.image(np.outer(np.linspace(0, 1, 28), np.full(28, value / 100)), width=280, clamp=True)


def lines() -> go.Figure:
    """A small chart like the classifier's probabilities along a path: 4 lines of 10 points."""
    return go.Figure([go.Scatter(y=rng.random(10), mode="lines+markers") for _ in range(4)]).update_layout(height=320)


def points(n: int) -> go.Figure:
    """A map like the Embeddings page's: ``n`` points in 10 WebGL traces."""
    xy, digit = rng.normal(size=(n, 2)), np.arange(n) % 10
    return go.Figure([go.Scattergl(x=xy[digit == d, 0], y=xy[digit == d, 1], mode="markers", marker={"size": 4})
                      for d in range(10)]).update_layout(height=640)


if show.startswith("chart"):
    for i in range(int(show.removeprefix("chart") or 1)):
        st.plotly_chart(lines(), key=f"chart-{i}")
elif show.startswith("webgl"):
    st.plotly_chart(points(int(show.removeprefix("webgl"))), key="map")
