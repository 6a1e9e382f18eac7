"""The yardstick of bench/latency.py: one slider and one image that changes with it, nothing else."""

import numpy as np
import streamlit as st

value = st.slider("Value", 0, 100, 50)
st.image(np.outer(np.linspace(0, 1, 28), np.full(28, value / 100)), width=280, clamp=True)
