"""Images uploaded in the editor are re-encoded by Pillow: oriented, stripped, capped, content-named."""

import hashlib
import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from blog.uploads import UploadError, store_upload

ORIENTATION, MAKE, GPS_IFD = 0x0112, 0x010F, 0x8825


def image_bytes(image_format="PNG", size=(40, 20), color="red", **save_options):
    output = io.BytesIO()
    Image.new("RGB", size, color).save(output, image_format, **save_options)
    return output.getvalue()


def stored_files(media_root):
    return sorted(path.relative_to(media_root).as_posix() for path in media_root.rglob("*") if path.is_file())


def open_stored(name):
    with default_storage.open(name) as stored:
        data = stored.read()
    return data, Image.open(io.BytesIO(data))


def jpeg_with_gps_taken_sideways():
    """Return a JPEG stored 40x20 (left half red, right half blue) that a camera shot rotated, with GPS."""
    image = Image.new("RGB", (40, 20), "blue")
    image.paste("red", (0, 0, 20, 20))
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # display rotated 90° clockwise
    exif[MAKE] = "KabarCam"
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "S", 2: (6.0, 10.0, 30.0), 3: "E", 4: (106.0, 49.0, 0.0)})
    output = io.BytesIO()
    image.save(output, "JPEG", exif=exif, quality=95)
    return output.getvalue()


@pytest.mark.django_db
def test_jpeg_is_turned_upright_and_loses_its_exif_and_gps(_media_root):
    original = jpeg_with_gps_taken_sideways()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the input really carries GPS

    stored = store_upload(content=original, filename="holiday.jpg")

    data, image = open_stored(stored.name)
    assert (image.format, image.size) == ("JPEG", (20, 40))
    assert (stored.width, stored.height) == (20, 40)
    # Upright: what was the left (red) half is now the top.
    top, bottom = image.convert("RGB").getpixel((10, 5)), image.convert("RGB").getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60
    assert dict(image.getexif()) == {}
    assert b"Exif" not in data
    assert b"KabarCam" not in data


@pytest.mark.django_db
def test_stored_under_content_hash_and_same_image_twice_is_one_file(_media_root):
    content = image_bytes("PNG")
    first = store_upload(content=content, filename="a.png")
    second = store_upload(content=content, filename="b.png")

    data, _ = open_stored(first.name)
    digest = hashlib.sha256(data).hexdigest()
    assert first.name == f"uploads/{digest[:2]}/{digest}.png"
    assert first.url == f"/media/uploads/{digest[:2]}/{digest}.png"
    assert (first.created, second.created) == (True, False)
    assert second.name == first.name
    assert stored_files(_media_root) == [first.name]


@pytest.mark.django_db
def test_longest_side_is_capped_by_the_setting(settings, _media_root):
    settings.UPLOAD_MAX_DIMENSION = 100
    stored = store_upload(content=image_bytes("WEBP", size=(300, 150)), filename="wide.webp")
    _, image = open_stored(stored.name)
    assert (image.format, image.size) == ("WEBP", (100, 50))
    assert stored.name.endswith(".webp")

    small = store_upload(content=image_bytes("GIF", size=(60, 30)), filename="small.gif")
    assert (small.format, small.width, small.height) == ("GIF", 60, 30)


def test_default_size_limits():
    from django.conf import settings

    assert settings.UPLOAD_MAX_DIMENSION == 2560
    assert settings.UPLOAD_MAX_BYTES == 10 * 1024 * 1024


@pytest.mark.django_db
def test_animated_gif_keeps_its_frames(_media_root):
    frames = [Image.new("RGB", (30, 30), color) for color in ("red", "green", "blue")]
    output = io.BytesIO()
    frames[0].save(output, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0, comment=b"secret")
    assert Image.open(output).n_frames == 3
    stored = store_upload(content=output.getvalue(), filename="spin.gif")
    data, image = open_stored(stored.name)
    assert image.n_frames == 3
    assert b"secret" not in data


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"%PDF-1.4 not an image at all", "notes.pdf", "'notes.pdf' is not an image Kabar can read"),
        (image_bytes("BMP"), "old.bmp", "'old.bmp' is a BMP file; accepted formats: JPEG, PNG, GIF, WEBP."),
        (image_bytes("PNG")[:60], "cut.png", "'cut.png' is a damaged image"),
    ],
)
def test_what_is_not_an_allowed_image_is_refused_and_nothing_stored(_media_root, content, filename, message):
    with pytest.raises(UploadError, match="^" + message.replace(".", r"\.")):
        store_upload(content=content, filename=filename)
    assert stored_files(_media_root) == []


@pytest.mark.django_db
def test_too_many_bytes_or_pixels_is_refused(settings, _media_root):
    settings.UPLOAD_MAX_BYTES = 1000
    big = image_bytes("PNG").ljust(2048, b"\0")
    with pytest.raises(UploadError, match=r"'big.png' is 2.0\sKB; images up to 1000\sbytes are accepted\."):
        store_upload(content=big, filename="big.png")

    settings.UPLOAD_MAX_BYTES = 10_000_000
    settings.UPLOAD_MAX_PIXELS = 10_000
    with pytest.raises(UploadError, match=r"'bomb.png' is 200x200 pixels; at most 10,000 pixels are accepted\."):
        store_upload(content=image_bytes("PNG", size=(200, 200)), filename="bomb.png")
    assert stored_files(_media_root) == []


@pytest.mark.django_db
@pytest.mark.parametrize("image_format", ["PNG", "WEBP"])
def test_png_and_webp_lose_their_metadata(_media_root, image_format):
    from PIL import PngImagePlugin

    exif = Image.Exif()
    exif[MAKE] = "KabarCam"
    options = {"exif": exif}
    if image_format == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("Author", "Someone Private")
        options["pnginfo"] = text
    else:
        options["xmp"] = b"<x:xmpmeta>Someone Private</x:xmpmeta>"
    original = image_bytes(image_format, **options)
    assert b"KabarCam" in original and b"Someone Private" in original

    stored = store_upload(content=original, filename=f"x.{image_format.lower()}")
    data, image = open_stored(stored.name)
    assert image.format == image_format
    assert b"KabarCam" not in data
    assert b"Someone Private" not in data
