"""Home page placeholder: lists the checkpoints found and the ones still missing."""

import streamlit as st

from explorer import checkpoints

st.title("Latent Explorer")
for name in ("flow", "vae", "vae2", "gan", "classifier"):
    try:
        card = checkpoints.read_card(name)
        st.write(f"**{name}**: {card['kind']}, metrics {card['metrics']}")
    except checkpoints.CheckpointError as err:
        st.warning(str(err))
