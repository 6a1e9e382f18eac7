"""Latent Explorer: the app's pages, with their titles, icons and addresses, run through Streamlit's navigation.

``streamlit run app.py`` (or ``./start.sh``) starts here; each page's script is in ``app_pages/``, listed in
``explorer.ui.PAGES``. The folder is not called ``pages/``: Streamlit takes a folder of that name beside the entry
point for its older automatic menu, and a server whose first visitor opens a page's own address would keep it.
"""

import streamlit as st

from explorer import ui

st.navigation(ui.navigation(), position="hidden").run()
