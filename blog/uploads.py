"""Images uploaded in the editor: decoded and re-encoded by Pillow, stored under a content hash.

Re-encoding is the safety measure: whatever the upload carried besides pixels (EXIF with GPS
positions, XMP, comments, trailing bytes, a polyglot payload) does not survive, and the
stored file is one Pillow wrote itself. The name is the SHA-256 of the stored bytes, so the
same image uploaded twice is one file.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.template.defaultfilters import filesizeformat
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from blog.images.processing import decoding

# Pillow format name → file extension. Anything else is refused.
ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}


class UploadError(ValueError):
    """An upload Kabar refuses; the message is meant for the editor."""


@dataclass(frozen=True)
class StoredUpload:
    name: str
    url: str
    format: str
    width: int
    height: int
    size: int
    created: bool


def store_upload(*, content: bytes, filename: str = "") -> StoredUpload:
    """Store an uploaded image re-encoded without metadata; raise UploadError when refused."""
    check_size(size=len(content), filename=filename)
    encoded, image_format, width, height = _reencode(content=content, label=_label(filename))
    digest = hashlib.sha256(encoded).hexdigest()
    prefix = settings.MARKDOWNX_MEDIA_PATH.strip("/") or "uploads"
    name = f"{prefix}/{digest[:2]}/{digest}.{ALLOWED_FORMATS[image_format]}"
    created = not default_storage.exists(name)
    if created:
        stored_name = default_storage.save(name, ContentFile(encoded))
        if stored_name != name:  # a concurrent upload of the same image won the race
            default_storage.delete(stored_name)
    return StoredUpload(
        name=name,
        url=default_storage.url(name),
        format=image_format,
        width=width,
        height=height,
        size=len(encoded),
        created=created,
    )


def check_size(*, size: int, filename: str = "") -> None:
    """Raise UploadError when an upload of `size` bytes is over settings.UPLOAD_MAX_BYTES."""
    max_bytes = settings.UPLOAD_MAX_BYTES
    if size > max_bytes:
        raise UploadError(
            f"{_label(filename)} is {filesizeformat(size)}; images up to {filesizeformat(max_bytes)} are accepted."
        )


def _label(filename: str) -> str:
    return f"'{filename}'" if filename else "The upload"


def _reencode(*, content: bytes, label: str = "The upload") -> tuple[bytes, str, int, int]:
    """Return the image re-encoded by Pillow (oriented, metadata dropped, size capped), its format and size."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))
            image_format = image.format
            if image_format not in ALLOWED_FORMATS:
                allowed = ", ".join(ALLOWED_FORMATS)
                raise UploadError(f"{label} is a {image_format or 'unknown'} file; accepted formats: {allowed}.")
            frames = _check_frames(image, label=label)
            # Every frame is decoded and kept until the new file is written.
            with decoding(pixels=image.width * image.height * frames):
                encoded = _encode(image, image_format)
    except UploadError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(f"{label} is not an image Kabar can read (JPEG, PNG, GIF or WebP).") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise UploadError(f"{label} is a damaged image: {error}.") from None
    with Image.open(io.BytesIO(encoded)) as result:
        return encoded, image_format, result.width, result.height


def _check_frames(image: Image.Image, *, label: str) -> int:
    """Return the number of frames; raise UploadError when there are too many, or too many pixels in all.

    Frames are counted by seeking one by one and the count stops at the limits: a GIF of
    400,000 tiny frames costs no more to refuse than one of UPLOAD_MAX_FRAMES.
    """
    max_frames, max_pixels = settings.UPLOAD_MAX_FRAMES, settings.UPLOAD_MAX_PIXELS
    frame_pixels = image.width * image.height
    frames = 1
    try:
        while frames <= max_frames and frames * frame_pixels <= max_pixels:
            image.seek(frames)
            frames += 1
    except EOFError:
        pass
    image.seek(0)
    if frames * frame_pixels > max_pixels:
        raise UploadError(
            f"{label} is {image.width}x{image.height} pixels"
            + (f" in {frames} frames or more" if frames > 1 else "")
            + f"; at most {max_pixels:,} pixels are accepted."
        )
    if frames > max_frames:
        raise UploadError(f"{label} has more than {max_frames:,} frames; at most {max_frames:,} are accepted.")
    return frames


def _prepare(frame: Image.Image, image_format: str) -> Image.Image:
    """Return the frame upright, within the size cap and in a mode its format can write."""
    frame = ImageOps.exif_transpose(frame) or frame
    if image_format == "JPEG" and frame.mode not in {"RGB", "L", "CMYK"}:
        frame = frame.convert("RGB")
    limit = settings.UPLOAD_MAX_DIMENSION
    if max(frame.size) > limit:
        if frame.mode == "P":
            frame = frame.convert("RGBA")
        frame = frame.copy()
        frame.thumbnail((limit, limit), Image.Resampling.LANCZOS)
    return frame


def _encode(image: Image.Image, image_format: str) -> bytes:
    """Return `image` written anew in `image_format`, carrying pixels and colour profile only."""
    icc_profile = image.info.get("icc_profile")
    options: dict = {"format": image_format}
    if icc_profile and image_format != "GIF":
        options["icc_profile"] = icc_profile
    if image_format == "JPEG":
        options.update(quality=88, optimize=True)
    elif image_format == "WEBP":
        options.update(quality=88)
    frames = [_prepare(frame.copy(), image_format) for frame in ImageSequence.Iterator(image)]
    for frame in frames:
        # Only what drawing needs survives: EXIF, XMP and comments are left behind.
        frame.info = {key: frame.info[key] for key in ("transparency", "duration") if key in frame.info}
    first = frames[0]
    if len(frames) > 1:
        options.update(
            save_all=True,
            append_images=frames[1:],
            duration=image.info.get("duration", 100),
            loop=image.info.get("loop", 0),
        )
    output = io.BytesIO()
    first.save(output, **options)
    return output.getvalue()
