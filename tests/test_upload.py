"""Uploaded files become MNIST-like digits, and files that cannot give a clear reason naming the file."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from explorer import upload
from explorer.data import load_mnist


@pytest.fixture(scope="module")
def digit() -> np.ndarray:
    return load_mnist("test").images[0].numpy()  # a 7, uint8 (28, 28), white on black


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(float).ravel(), b.astype(float).ravel())[0, 1])


def test_an_mnist_digit_comes_back_unchanged(digit):
    out = upload.load_digit(encode(Image.fromarray(digit)), "seven.png")
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert similarity(out, digit) > 0.99


@pytest.mark.parametrize("mode,fmt", [("RGB", "JPEG"), ("CMYK", "JPEG"), ("1", "PNG"), ("P", "GIF"), ("L", "BMP"),
                                      ("RGBA", "PNG"), ("LA", "PNG")])
def test_dark_ink_on_paper_in_any_mode_becomes_white_on_black(digit, mode, fmt):
    paper = Image.fromarray(255 - np.kron(digit, np.ones((9, 7), np.uint8)))  # large, stretched, dark on light
    out = upload.load_digit(encode(paper.convert(mode), fmt), f"scan.{fmt.lower()}")
    assert out.shape == (28, 28) and out[0].max() == 0  # black background
    assert similarity(out, digit) > 0.8


def test_sixteen_bit_and_float_images_are_rescaled(digit):
    sixteen = Image.fromarray(digit.astype(np.uint16) * 257)
    assert similarity(upload.load_digit(encode(sixteen), "deep.png"), digit) > 0.99
    floats = Image.fromarray(digit.astype(np.float32) / 255)
    assert similarity(upload.load_digit(encode(floats, "TIFF"), "float.tif"), digit) > 0.99


def test_a_stroke_on_a_transparent_canvas_is_the_digit():
    canvas = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).line([(150, 20), (150, 180)], fill=(0, 0, 0, 255), width=20)
    out = upload.load_digit(encode(canvas), "drawn.png")
    assert out.max() == 255 and out[:, :4].max() == 0
    assert out[:, 12:16].mean() > out[:, 4:10].mean()  # a vertical bar in the middle


def test_the_few_shot_pads_drawing_is_the_digit_and_an_empty_pad_is_refused():
    pad = Image.new("RGBA", (280, 280), (0, 0, 0, 255))  # what the pad sends: white pen on opaque black
    draw = ImageDraw.Draw(pad)
    draw.ellipse([90, 40, 190, 130], outline=(255, 255, 255, 255), width=20)  # a 9: a loop and a stem
    draw.line([(185, 90), (175, 250)], fill=(255, 255, 255, 255), width=20)
    out = upload.load_digit(encode(pad), "Drawing 1").astype(float)
    rows = np.flatnonzero(out.max(1) > 60)
    assert rows.max() - rows.min() + 1 in (19, 20, 21)  # the tall side scaled to MNIST's 20-pixel box
    assert out[rows.min(): rows.min() + 10].sum() > out[rows.max() - 9: rows.max() + 1].sum()  # the loop on top
    with pytest.raises(upload.UploadError, match="no digit found"):
        upload.load_digit(encode(Image.new("RGBA", (280, 280), (0, 0, 0, 255))), "Drawing 2")


def test_the_digit_is_centred_in_a_20_pixel_box():
    canvas = Image.new("L", (500, 500), 255)
    ImageDraw.Draw(canvas).ellipse([10, 300, 110, 480], outline=0, width=12)  # off-centre, dark on light
    out = upload.load_digit(encode(canvas), "zero.png").astype(float)
    rows, cols = np.nonzero(out > 0)
    assert rows.max() - rows.min() + 1 <= 21 and max(rows.max() - rows.min(), cols.max() - cols.min()) >= 18
    centre = (np.indices(out.shape) * out).reshape(2, -1).sum(1) / out.sum()
    assert np.allclose(centre, 14, atol=1)


def bomb() -> bytes:
    return encode(Image.new("1", (9000, 9000)))


@pytest.mark.parametrize("data,reason", [
    (b"", "empty"),
    (b"just some text, not a picture", "not an image"),
    (b"%PDF-1.7\n1 0 obj <<>> endobj", "not an image"),
    (None, "truncated or damaged"),
    ("blank", "no digit found"),
    ("bomb", "too large|too many pixels"),
    ("noise", "noise, not a digit"),
])
def test_bad_files_give_clear_errors(digit, data, reason):
    if data is None:
        data = encode(Image.fromarray(digit))[:100]
    elif data == "blank":
        data = encode(Image.new("RGB", (64, 64), (250, 250, 250)))
    elif data == "bomb":
        data = bomb()
    elif data == "noise":
        pixels = np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)
        data = encode(Image.fromarray(pixels))
    with pytest.raises(upload.UploadError, match=reason) as err:
        upload.load_digit(data, "mystery.bin")
    assert str(err.value).startswith("mystery.bin: ") and "DOS" not in str(err.value)


def test_huge_files_are_refused_before_decoding(monkeypatch, digit):
    monkeypatch.setattr(upload, "MAX_BYTES", 100)
    with pytest.raises(upload.UploadError, match="too large"):
        upload.load_digit(encode(Image.fromarray(digit)), "big.png")
