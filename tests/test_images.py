import io

import numpy as np
import pytest
from PIL import Image

from painter.data.images import ImageError, MAX_PIXELS, load_array, load_image


def _save(path, im, fmt="JPEG", **kw):
    im.save(path, fmt, **kw)
    return path


@pytest.fixture
def rgb():
    # left half red, right half blue: orientation and colour are checkable
    a = np.zeros((40, 60, 3), np.uint8)
    a[:, :30] = (255, 0, 0)
    a[:, 30:] = (0, 0, 255)
    return Image.fromarray(a)


def test_rgb_jpeg_roundtrip(tmp_path, rgb):
    im = load_image(_save(tmp_path / "a.jpg", rgb, quality=100))
    assert im.mode == "RGB" and im.size == (60, 40)
    px = np.asarray(im)
    assert px[20, 5, 0] > 240 and px[20, 55, 2] > 240


def test_cmyk_becomes_rgb(tmp_path, rgb):
    path = _save(tmp_path / "cmyk.jpg", rgb.convert("CMYK"), quality=100)
    assert Image.open(path).mode == "CMYK"
    px = np.asarray(load_image(path))
    assert load_image(path).mode == "RGB"
    assert px[20, 5, 0] > 200 and px[20, 5, 2] < 60   # still red on the left


def test_grayscale_becomes_rgb(tmp_path, rgb):
    im = load_image(_save(tmp_path / "g.jpg", rgb.convert("L")))
    px = np.asarray(im)
    assert im.mode == "RGB" and np.all(px[..., 0] == px[..., 1])


def test_png_behind_jpg_name_with_alpha_on_white(tmp_path):
    a = np.zeros((10, 10, 4), np.uint8)
    a[..., 1] = 255
    a[:, :5, 3] = 255        # left opaque green, right fully transparent
    path = _save(tmp_path / "really_png.jpg", Image.fromarray(a, "RGBA"), fmt="PNG")
    px = np.asarray(load_image(path))
    assert tuple(px[5, 2]) == (0, 255, 0) and tuple(px[5, 8]) == (255, 255, 255)


def test_palette_image(tmp_path, rgb):
    px = np.asarray(load_image(_save(tmp_path / "p.png", rgb.convert("P"), fmt="PNG")))
    assert px.shape == (40, 60, 3)


def test_exif_orientation_is_applied(tmp_path, rgb):
    exif = Image.Exif()
    exif[0x0112] = 6   # display rotated 90 degrees clockwise
    im = load_image(_save(tmp_path / "r.jpg", rgb, exif=exif, quality=100))
    assert im.size == (40, 60)                         # width and height swapped
    px = np.asarray(im)
    assert px[5, 20, 0] > 240 and px[55, 20, 2] > 240  # red now on top, blue at the bottom


def test_truncated_file_named_in_error(tmp_path, rgb):
    data = io.BytesIO()
    rgb.save(data, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    with pytest.raises(ImageError) as err:
        load_image(path)
    assert str(err.value).startswith(str(path)) and "truncated" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("content,reason", [(b"", "file is empty"), (b"not an image at all", "not an image")])
def test_bad_files(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=reason):
        load_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        load_image(tmp_path / "nope.jpg")


def test_huge_image_decoded_at_reduced_size(tmp_path):
    # 12000 x 16000 = 192 MP: above Pillow's default bomb limit (2 x 89.5 MP) yet below painter's.
    assert 12000 * 16000 > 2 * Image.MAX_IMAGE_PIXELS and 12000 * 16000 < MAX_PIXELS
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (12000, 16000), (10, 200, 30)).save(path, quality=50)
    im = load_image(path, size=256)
    assert min(im.size) >= 256 and max(im.size) <= 16000 // 8 * 2   # drafted, not full size
    assert Image.MAX_IMAGE_PIXELS == 89478485                       # global limit left as it was


def test_over_the_limit_is_refused(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (3000, 3000)).save(path)
    with pytest.raises(ImageError, match="too large"):
        load_image(path, max_pixels=1_000_000)


def test_load_array_square_crop(tmp_path, rgb):
    a = load_array(_save(tmp_path / "a.jpg", rgb), size=32)
    assert a.shape == (32, 32, 3) and a.dtype == np.uint8
