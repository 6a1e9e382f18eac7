"""Shared fixtures: tiny real checkpoints of every shipped name, so tests never depend on trained weights."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from explorer import checkpoints
from explorer.data import load_mnist
from explorer.models import build_model
from explorer.models.flow import HALF

# Small but complete architectures: real cards, real safetensors, the real loader; seconds to build.
TINY = {
    "flow": ("flow", {"steps_per_level": 2, "hidden_channels": 16, "dequantizer_channels": 4, "prior_components": 2}),
    "cnf": ("cnf", {"channels": 8, "blocks": 1, "steps": 2, "guide_channels": 8, "guidance": 2.0}),
    "vae": ("vae", {"latent_dim": 8, "channels": [8, 16], "hidden": 32}),
    "vae2": ("vae", {"latent_dim": 2, "channels": [8, 16], "hidden": 32}),
    "gan": ("gan", {"latent_dim": 16, "g_width": 8, "d_width": 8, "e_width": 8}),
    "classifier": ("classifier", {"channels": [8, 16], "hidden": 32}),
}
CARD = {"classes": list(range(9)), "train_size": 0, "epochs": 0, "steps": 0, "batch_size": 16, "train_time_s": 0.0,
        "hardware": "test", "metrics": {}, "command": "tests/conftest.py (untrained)"}


@pytest.fixture(autouse=True)
def seeded_torch():
    """Each test draws the same random numbers whichever tests ran before it in its worker, so no result depends on
    the order pytest-xdist hands tests out."""
    torch.manual_seed(0)


def pytest_collection_modifyitems(items):
    """The slow tiers by folder: ``-m "not browser and not load"`` is the quick run."""
    for item in items:
        path = item.path.as_posix()
        if "/tests/e2e/" in path:
            item.add_marker(pytest.mark.browser)
        elif "/tests/load/" in path:
            item.add_marker(pytest.mark.load)


def build_tiny_checkpoints(directory) -> None:
    torch.manual_seed(0)
    batch = load_mnist("train").seen().as_float()[:256]
    for name, (kind, config) in TINY.items():
        model = build_model(kind, config).eval()
        if hasattr(model, "initialize"):
            model.initialize(batch)  # the flow's data-dependent ActNorm start
        if getattr(model, "prior", None) is not None:  # the flow's level-2 mixture, fitted as training fits it
            model.prior.fit(model.encode(batch)[:, HALF:])
        if kind == "cnf":  # fresh velocity fields are zero everywhere: stir them, so that steps and guidance matter
            with torch.no_grad():
                model.velocity.out[-1].weight.normal_(0, 0.05)
                model.guide.out[-1].weight.normal_(0, 0.05)
        checkpoints.save(model, CARD, name, directory)


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory):
    """A folder with tiny checkpoints flow, cnf, vae, vae2, gan, classifier, made once per test session."""
    directory = tmp_path_factory.mktemp("checkpoints")
    build_tiny_checkpoints(directory)
    return directory


@pytest.fixture
def checkpoint_env(tiny_checkpoints, monkeypatch):
    """Point the app at the tiny checkpoints and start with an empty model cache."""
    import streamlit as st

    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(tiny_checkpoints))
    st.cache_resource.clear()
    yield tiny_checkpoints
    st.cache_resource.clear()


@pytest.fixture
def broken_checkpoints(tiny_checkpoints, tmp_path, monkeypatch):
    """A copy of the tiny checkpoints whose ``flow`` and ``classifier`` weights are truncated; returns the folder."""
    import streamlit as st

    directory = tmp_path / "broken"
    shutil.copytree(tiny_checkpoints, directory)
    for name in ("flow", "classifier"):
        weights, _ = checkpoints.paths(name, directory)
        weights.write_bytes(weights.read_bytes()[: os.path.getsize(weights) // 2])
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(directory))
    st.cache_resource.clear()
    yield directory
    st.cache_resource.clear()


@pytest.fixture
def media(monkeypatch):
    """Every image, GIF or download an AppTest run serves (content, mimetype, filename), by the file id in its URL."""
    from streamlit.runtime.memory_media_file_storage import MemoryFile, MemoryMediaFileStorage

    served: dict[str, MemoryFile] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        served[file_id] = self.get_file(file_id)
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    return served



@pytest.fixture
def data_cache(tmp_path, monkeypatch):
    """An empty data cache (LATENT_EXPLORER_CACHE) that still sees the MNIST file: derived caches start fresh."""
    from explorer.data import cache_file

    load_mnist("test")  # the file exists before it is linked
    directory = tmp_path / "cache"
    directory.mkdir()
    (directory / cache_file().name).symlink_to(cache_file())
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(directory))
    return directory


@pytest.fixture
def deferred(monkeypatch):
    """Download buttons' deferred data (callables) by file id, as (callable, file name): call one to click it."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    recorded: dict[str, tuple] = {}
    original = MediaFileManager.add_deferred

    def recording(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        file_id = original(self, data_callable, mimetype, coordinates, file_name, **kwargs)
        recorded[file_id] = (data_callable, file_name)
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", recording)
    return recorded
