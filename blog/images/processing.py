"""Check downloaded bytes with Pillow and make the resized variants of one image.

The bytes must decode as an allowed format within the pixel cap; the original is kept as the
master with its location and personal metadata removed losslessly (`blog.images.metadata`),
and each variant is a fresh image with EXIF orientation applied and no
metadata (EXIF, GPS, XMP, comments) other than the colour profile. Animated images (GIF, WebP,
APNG) keep their animation by being served as their original file only, without variants.
"""

import contextlib
import io
import logging
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from blog.images.metadata import ORIENTATION, MetadataError, strip_metadata
from blog.images.specs import FORMATS, WEBP, ImageFormat, VariantSpec, allowed_formats, variant_specs

logger = logging.getLogger(__name__)

FORMATS_WITH_ICC = frozenset({"JPEG", "PNG", "WEBP", "AVIF"})
_pixel_cap_lock = threading.Lock()


class PixelBudget:
    """A process-wide budget of pixels decoded at once: a semaphore weighted by pixel count.

    The pixel cap bounds one image; this bounds them all together, so eight threads (or
    uploads) decoding 7000 x 7000 PNGs of 143 KB each wait for each other instead of holding
    gigabytes at once. An image larger than the whole budget waits until it decodes alone.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.in_use = 0
        self.peak = 0  # the most pixels held at once since the process started (for tests and benches)

    @contextlib.contextmanager
    def hold(self, *, pixels: int) -> Iterator[None]:
        """Wait until `pixels` fit in the budget, hold them for the block, then give them back."""
        limit = max(1, settings.IMAGE_DECODE_MAX_PIXELS)
        weight = max(1, min(pixels, limit))
        with self._condition:
            self._condition.wait_for(lambda: self.in_use + weight <= limit)
            self.in_use += weight
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._condition:
                self.in_use -= weight
                self._condition.notify_all()


decode_budget = PixelBudget()


def decoding(*, pixels: int) -> contextlib.AbstractContextManager[None]:
    """Return a context that holds `pixels` of the process-wide decode budget while it runs."""
    return decode_budget.hold(pixels=pixels)


class ImageRejected(Exception):
    """The bytes are not an image Kabar accepts; `refused` marks a policy refusal (too many pixels)."""

    def __init__(self, reason: str, *, refused: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.refused = refused


@dataclass(frozen=True)
class Rendition:
    """One variant made from the image: its spec, its size and its encoded bytes."""

    spec: VariantSpec
    width: int
    height: int
    content: bytes


@dataclass(frozen=True)
class ProcessedImage:
    """An accepted image: its format, its displayed size (orientation applied), the original
    file without metadata, and its variants."""

    format: ImageFormat
    width: int
    height: int
    animated: bool
    renditions: list[Rendition]
    original: bytes = b""


def _allowed_list() -> str:
    return ", ".join("WebP" if name == "WEBP" else name for name in allowed_formats())


def _name_unaccepted(content: bytes) -> str:
    """Return why bytes that no allowed plugin opens are refused, naming what they seem to be."""
    head = content[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return f"the body is an HTML page, not an image (allowed: {_allowed_list()})"
    if head.startswith((b"<?xml", b"<svg")):
        return f"the body is XML/SVG, not a raster image (allowed: {_allowed_list()})"
    try:
        # Only the header is parsed, to name the format in the message.
        with Image.open(io.BytesIO(content)) as other:
            found = other.format
    except Exception:
        found = None
    if found:
        return f"{found} images are not accepted (allowed: {_allowed_list()})"
    return f"the bytes are not an image in an allowed format ({_allowed_list()})"


def _open_checked(content: bytes) -> Image.Image:
    """Return the image opened (header only) in an allowed format and within the pixel cap."""
    # Pillow's pixel cap and warning filters are process-wide: set them only around the
    # header parse, under a lock so the worker threads never interleave their save/restore.
    with _pixel_cap_lock, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous_cap, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, settings.IMAGE_CACHE_MAX_PIXELS
        try:
            return Image.open(io.BytesIO(content), formats=allowed_formats())
        except UnidentifiedImageError:
            raise ImageRejected(_name_unaccepted(content)) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise ImageRejected(f"refused as a decompression bomb: {error}", refused=True) from None
        except Exception as error:  # Pillow raises many types on hostile headers.
            raise ImageRejected(f"the image header is damaged ({error})") from None
        finally:
            Image.MAX_IMAGE_PIXELS = previous_cap


def _decode(content: bytes) -> Image.Image:
    """Return the image fully decoded, after Pillow's verify() and a reopen."""
    with _open_checked(content) as probe:
        format_name = probe.format
        try:
            probe.verify()
        except Exception as error:
            raise ImageRejected(f"the {format_name} data is damaged ({error})") from None
    image = _open_checked(content)
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRejected(f"refused as a decompression bomb: {error}", refused=True) from None
    except Exception as error:
        raise ImageRejected(f"the {format_name} data is damaged ({error})") from None
    return image


def _working_copy(image: Image.Image, *, target: str) -> Image.Image:
    """Return `image` in a mode that resizes smoothly and saves as `target`."""
    if target == "JPEG":
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def _encode(image: Image.Image, spec: VariantSpec, *, icc_profile: bytes | None) -> bytes:
    """Return `image` encoded as the spec's format, with no metadata but the colour profile."""
    clean = image.copy()
    clean.info = {}
    options = dict(spec.format.save_options)
    if icc_profile and spec.format.name in FORMATS_WITH_ICC:
        options["icc_profile"] = icc_profile
    buffer = io.BytesIO()
    clean.save(buffer, format=spec.format.name, **options)
    return buffer.getvalue()


def process_image(content: bytes) -> ProcessedImage:
    """Return the checked image and its variants; raise ImageRejected for bytes Kabar refuses."""
    with _open_checked(content) as header:
        pixels = header.width * header.height
    # Held until the variants are made: the decoded image and its resizes live that long.
    with decoding(pixels=pixels):
        return _process(content)


def _process(content: bytes) -> ProcessedImage:
    image = _decode(content)
    with image:
        # A JPEG with extra pictures (MPO, from phone cameras) is a JPEG to browsers.
        image_format = FORMATS["JPEG" if image.format == "MPO" else image.format]
        animated = bool(getattr(image, "is_animated", False))
        icc_profile = image.info.get("icc_profile")
        oriented = image if animated else ImageOps.exif_transpose(image)
        width, height = oriented.size
        renditions = []
        working: dict[str, Image.Image] = {}  # kept alive: their id() keys the resizes below
        resized: dict[tuple[int, tuple[int, int]], Image.Image] = {}
        specs = variant_specs(width=width, source_format=image_format.name, animated=animated)
        for spec in sorted(specs, key=lambda spec: (spec.format.name, -spec.width)):
            if spec.format.name not in working:
                working[spec.format.name] = _working_copy(oriented, target=spec.format.name)
            source = working[spec.format.name]
            size = (spec.width, spec.height_for(width=width, height=height))
            # Formats that share a working image share its resizes, and each width is made from
            # the next larger one: the slowest steps, done once and on ever smaller images.
            key = (id(source), size)
            if key not in resized:
                larger = [made for (owner, _size), made in resized.items() if owner == id(source)]
                start = min(larger, key=lambda made: made.width) if larger else source
                resized[key] = start if start.size == size else start.resize(size, Image.Resampling.LANCZOS)
            renditions.append(Rendition(spec, *size, _encode(resized[key], spec, icc_profile=icc_profile)))
        renditions.sort(key=lambda rendition: (rendition.spec.format.name != WEBP, rendition.width))
        original = _clean_original(content, image=image, image_format=image_format, icc_profile=icc_profile)
    return ProcessedImage(
        format=image_format, width=width, height=height, animated=animated, renditions=renditions, original=original
    )


def _clean_original(
    content: bytes, *, image: Image.Image, image_format: ImageFormat, icc_profile: bytes | None
) -> bytes:
    """Return the original file without location and personal metadata: losslessly when Kabar can."""
    orientation = image.getexif().get(ORIENTATION, 1) if image_format.name == "JPEG" else 1
    try:
        cleaned = strip_metadata(content, image_format=image.format or "", orientation=orientation)
        with Image.open(io.BytesIO(cleaned), formats=allowed_formats()) as check:
            check.verify()
        if cleaned != content or not {"exif", "xmp", "comment"} & set(image.info):
            return cleaned
    except (MetadataError, OSError, SyntaxError, ValueError) as error:
        logger.warning("re-encoding an original whose metadata could not be removed losslessly: %s", error)
    # A format Kabar cannot rewrite block by block (AVIF), or a structure it could not follow:
    # the decoded pixels written anew, upright, carry nothing else.
    spec = VariantSpec(width=image.width, format=image_format)
    upright = ImageOps.exif_transpose(image) if image_format.name == "JPEG" else image
    return _encode(_working_copy(upright, target=image_format.name), spec, icc_profile=icc_profile)
