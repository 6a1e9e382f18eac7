"""explorer.embed: projections, the on-disk cache (shipped first), selections mapped back to rows, precompute."""

import os
import shutil

import numpy as np
import pytest
import torch

from explorer import checkpoints, embed, plots, recon
from explorer.__main__ import main
from explorer.data import HELD_OUT_DIGIT, TEST_SIZE, load_mnist

N = 300  # test images used where a function takes a size


def clusters(n_per: int = 40, dims: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ten well separated Gaussian blobs, labelled 0-9."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), n_per)
    centres = rng.normal(0, 20, (10, dims))
    return (centres[labels] + rng.normal(0, 1, (len(labels), dims))).astype(np.float32), labels


class Counting:
    """A ``run`` hook that counts model calls."""

    def __init__(self):
        self.calls, self.sizes = 0, []

    def __call__(self, fn, *args):
        self.calls += 1
        self.sizes.append(len(args[0]))
        return fn(*args)


@pytest.fixture
def own_checkpoints(tiny_checkpoints, tmp_path, monkeypatch, data_cache):
    """A private copy of the tiny checkpoints, so maps stored beside them stay in this test."""
    directory = tmp_path / "checkpoints"
    shutil.copytree(tiny_checkpoints, directory)
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(directory))
    return directory


@pytest.fixture
def vae(own_checkpoints):
    return checkpoints.load("vae")


def test_settings_are_completed_from_defaults_and_checked():
    assert embed.settings_for("umap") == {"n_neighbors": 15, "min_dist": 0.1}
    assert embed.settings_for("umap", min_dist=0.5) == {"n_neighbors": 15, "min_dist": 0.5}
    assert embed.settings_for("pca") == {}
    with pytest.raises(ValueError):
        embed.settings_for("tsne", n_neighbors=5)
    with pytest.raises(ValueError):
        embed.settings_for("isomap")


def test_file_names_key_every_setting():
    sha = "0123456789abcdef" * 4
    assert embed.file_name("vae", sha, "pca", {}) == "vae-0123456789ab-pca.npz"
    assert embed.file_name("vae", sha, "umap", embed.settings_for("umap")) == "vae-0123456789ab-umap-md0.1-nn15.npz"
    names = {embed.file_name("vae", sha, "umap", embed.settings_for("umap", n_neighbors=k), seed, n)
             for k in (15, 30) for seed in (0, 1) for n in (TEST_SIZE, N)}
    assert len(names) == 8


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_projection_shapes_and_seeded_determinism(method):
    z, labels = clusters(dims=60)  # wider than PCA_DIMS: the PCA-first path runs too
    first = embed.project(z, method, embed.settings_for(method), seed=0)
    assert first.shape == (len(z), 2) and first.dtype == np.float32 and np.isfinite(first).all()
    np.testing.assert_array_equal(first, embed.project(z, method, embed.settings_for(method), seed=0))
    mix = embed.neighbour_mix(first, labels)
    assert np.diag(mix).mean() > 0.9  # separated blobs stay separated on the map


def test_neighbour_mix_rows_are_shares():
    z, labels = clusters(dims=2)
    mix = embed.neighbour_mix(z, labels, k=5)
    assert mix.shape == (10, 10)
    np.testing.assert_allclose(mix.sum(1), 1)
    np.testing.assert_allclose(np.diag(mix), 1)  # blobs 20 apart, spread 1: every neighbour is of the same digit


def test_encode_all_batches_and_reports_progress(vae):
    x = load_mnist("test").as_float()[:N]
    run, seen = Counting(), []
    z = embed.encode_all(vae.model, x, batch_size=128, run=run, progress=lambda f, text: seen.append(f))
    assert z.shape == (N, vae.model.latent_dim) and z.dtype == np.float32
    assert run.calls == 3 and seen == sorted(seen) and seen[-1] == 1.0
    np.testing.assert_allclose(z, vae.model.encode(x).numpy(), atol=1e-5)


def test_a_cache_hit_returns_identical_coords_without_recomputing(vae, monkeypatch):
    assert embed.lookup("vae", vae.sha256, "pca", {}, n=N) is None
    run = Counting()
    first = embed.projection(vae.model, "vae", vae.sha256, "pca", {}, n=N, run=run)
    assert run.calls > 0 and first.coords.shape == (N, 2)
    np.testing.assert_array_equal(first.labels, load_mnist("test").labels[:N].numpy())
    assert first.path.parent == embed.cache_root()

    def fail(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr(embed, "project", fail)
    monkeypatch.setattr(embed, "encode_all", fail)
    again = embed.projection(vae.model, "vae", vae.sha256, "pca", {}, n=N, run=run)
    np.testing.assert_array_equal(again.coords, first.coords)
    assert again.seconds == first.seconds


def test_codes_are_encoded_once_for_all_methods(vae, monkeypatch):
    monkeypatch.setattr(embed, "project", lambda z, method, settings, seed: np.zeros((len(z), 2), np.float32))
    run = Counting()
    embed.projection(vae.model, "vae", vae.sha256, "pca", {}, n=N, run=run)
    calls = run.calls
    embed.projection(vae.model, "vae", vae.sha256, "tsne", embed.settings_for("tsne"), n=N, run=run)
    assert run.calls == calls


def test_shipped_projections_come_first(vae):
    settings = embed.settings_for("umap")
    computed = embed.cache_root() / embed.file_name("vae", vae.sha256, "umap", settings, n=N)
    shipped = embed.shipped_dir() / computed.name
    labels = load_mnist("test").labels[:N].numpy()
    embed.write(computed, np.zeros((N, 2)), labels, 1.0)
    embed.write(shipped, np.ones((N, 2)), labels, 2.0)
    found = embed.lookup("vae", vae.sha256, "umap", settings, n=N)
    assert found.path == shipped and found.seconds == 2.0 and (found.coords == 1).all()
    assert found.coords.dtype == np.float32 and found.labels.dtype == np.int64


def test_a_stored_map_is_read_once_and_shared_read_only(vae, monkeypatch):
    settings, labels = embed.settings_for("pca"), load_mnist("test").labels[:N].numpy()
    path = embed.cache_root() / embed.file_name("vae", vae.sha256, "pca", settings, n=N)
    embed.write(path, np.zeros((N, 2)), labels, 1.0)
    reads = []
    monkeypatch.setattr(embed, "read", lambda p, real=embed.read: reads.append(p) or real(p))
    first = embed.lookup("vae", vae.sha256, "pca", settings, n=N)
    assert embed.lookup("vae", vae.sha256, "pca", settings, n=N) is first and reads == [path]
    assert not first.coords.flags.writeable and not first.labels.flags.writeable
    embed.write(path, np.ones((N, 2)), labels, 2.0)  # computed again: the new file is read
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # as if written a second later
    assert (embed.lookup("vae", vae.sha256, "pca", settings, n=N).coords == 1).all() and len(reads) == 2


@pytest.fixture
def no_round_trips(monkeypatch):
    """A server that has decoded nothing yet."""
    monkeypatch.setattr(embed, "round_trips", embed.RoundTrips(kept=4))


def test_stored_codes_decode_without_encoding(vae, no_round_trips):
    rows = [5, 2, 9]
    x = load_mnist("test").as_float()[rows]
    run = Counting()
    fresh = embed.decoded(vae.model, "vae", vae.sha256, rows, run=run)
    assert run.calls == 2  # encode, then decode
    torch.testing.assert_close(fresh, recon.reconstruct(vae.model, x))
    assert embed.stored_codes("vae", vae.sha256) is None
    z = embed.codes(vae.model, "vae", vae.sha256)
    assert z.shape == (TEST_SIZE, vae.model.latent_dim)
    np.testing.assert_array_equal(embed.stored_codes("vae", vae.sha256), z)
    run, more = Counting(), [6, 1]
    torch.testing.assert_close(embed.decoded(vae.model, "vae", vae.sha256, more, run=run),
                               recon.reconstruct(vae.model, load_mnist("test").as_float()[more]))
    assert run.calls == 1  # decode only
    run = Counting()
    torch.testing.assert_close(embed.encoded(vae.model, "vae", vae.sha256, rows, run=run), torch.from_numpy(z[rows]))
    assert run.calls == 0  # the codes are read, not computed


def test_a_round_trip_is_decoded_once_and_the_most_recent_are_kept(vae, no_round_trips):
    first, run = embed.decoded(vae.model, "vae", vae.sha256, [5, 2], run=Counting()), Counting()
    both = embed.decoded(vae.model, "vae", vae.sha256, [2, 5, 9, 2], run=run)  # another student, more images
    assert run.sizes == [1, 1]  # encode and decode the new row only
    torch.testing.assert_close(both[[1, 0, 3]], torch.cat([first, first[1:]]))
    torch.testing.assert_close(both[2:3], recon.reconstruct(vae.model, load_mnist("test").as_float()[[9]]))
    embed.decoded(vae.model, "vae", vae.sha256, [7, 8], run=Counting())  # five rows: 2, the least recently used, goes
    run = Counting()
    embed.decoded(vae.model, "vae", vae.sha256, [5, 9, 7, 8], run=run)
    assert run.calls == 0
    embed.decoded(vae.model, "vae", vae.sha256, [2], run=run)
    assert run.calls == 2
    embed.decoded(vae.model, "vae", "other weights", [2], run=run)
    assert run.calls == 4  # keyed by the weights too


def test_progress_reaches_done(vae):
    seen = []
    embed.projection(vae.model, "vae", vae.sha256, "pca", {}, n=N, progress=lambda f, text: seen.append((f, text)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("PCA" in text for _, text in seen)


def test_the_shipped_settings_are_the_defaults_then_the_lessons():
    assert embed.shipped_settings("umap") == [{"n_neighbors": 15, "min_dist": 0.1}, {"n_neighbors": 100, "min_dist": 0.1}]
    assert embed.shipped_settings("tsne") == [{"perplexity": 30.0}, {"perplexity": 5.0}]
    assert embed.shipped_settings("pca") == [{}]


def test_precompute_writes_defaults_and_drops_stale_maps(vae, tmp_path):
    out = tmp_path / "embeddings"
    out.mkdir()
    (out / "vae-000000000000-pca.npz").write_bytes(b"stale")
    (out / "vae2-000000000000-pca.npz").write_bytes(b"another checkpoint's")
    logged = []
    (out / "vae-000000000000-codes.npy").write_bytes(b"stale")
    written = embed.precompute(["vae", "classifier", "missing"], methods=("pca",), out=out, log=logged.append)
    assert [p.name for p in written] == [embed.file_name("vae", vae.sha256, "pca", {}),
                                         embed.codes_name("vae", vae.sha256)]
    assert sorted(p.name for p in out.iterdir()) == sorted([p.name for p in written] + ["vae2-000000000000-pca.npz"])
    stored = embed.lookup("vae", vae.sha256, "pca", {})  # the checkpoint folder's embeddings/ is not ``out``
    assert stored is not None and stored.coords.shape == (TEST_SIZE, 2)
    assert any(line.startswith("skipped classifier") for line in logged)
    assert any(line.startswith("skipped missing") for line in logged)


def test_selected_rows_use_customdata_then_trace_positions():
    labels = np.array([3, 9, 3, 0, 9, 1])
    rows = plots.trace_rows(labels)  # traces: 0, 1, 3, 9
    points = [
        {"curve_number": 2, "point_index": 1, "customdata": 2},  # a number
        {"curve_number": 3, "point_index": 0, "customdata": [1]},  # a one-element list
        {"curve_number": 3, "point_index": 1},  # no customdata: the index counts within trace 3 (the 9s)
        {"curve_number": 2, "point_index": 1, "customdata": 2},  # box and lasso may name a point twice
    ]
    assert embed.selected_rows(points, rows) == [2, 1, 4]
    assert embed.selected_rows([]) == []


def test_scatter_traces_carry_their_row_ids():
    z, labels = clusters(n_per=5, dims=2)
    figure = plots.digit_scatter(z, labels)
    assert len(figure.data) == 10
    for trace, rows in zip(figure.data, plots.trace_rows(labels)):
        np.testing.assert_array_equal(trace.customdata, rows)
        np.testing.assert_allclose(trace.x, z[rows, 0], atol=1e-4)
        assert trace.type == "scattergl"
    held_out = figure.data[-1]
    assert held_out.name == plots.digit_label(HELD_OUT_DIGIT) and held_out.marker.symbol == "diamond"
    point = {"curve_number": 9, "point_index": 3, "customdata": int(held_out.customdata[3])}
    assert labels[embed.selected_rows([point])[0]] == HELD_OUT_DIGIT


def test_cli_precompute_stores_maps_beside_the_checkpoints(own_checkpoints, capsys):
    directory = own_checkpoints
    main(["embed", "--precompute", "--names", "vae2", "--methods", "pca"])
    sha = checkpoints.load("vae2").sha256
    assert sorted(p.name for p in (directory / "embeddings").iterdir()) == [
        embed.codes_name("vae2", sha), embed.file_name("vae2", sha, "pca", {})]
    assert "s to compute" in capsys.readouterr().out


def test_digit_bars_keep_every_digit_as_a_category():
    figure = plots.digit_bars({d: d / 10 for d in range(10)}, text=".0%", y_title="share")
    (bars,) = figure.data
    assert list(bars.x) == [str(d) for d in range(9)] + ["9 (held out)"] and figure.layout.xaxis.type == "category"
    assert list(bars.text)[-1] == "90%" and bars.marker.line.width == 1
