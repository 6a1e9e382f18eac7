"""Latent Explorer: the app's pages, with their titles, icons and addresses, run through Streamlit's navigation.

``streamlit run app.py`` (or ``./start.sh``) starts here; each page's script is in ``pages/``, listed in
``explorer.ui.PAGES``.
"""

import streamlit as st

from explorer import ui

st.navigation(ui.navigation(), position="hidden").run()
