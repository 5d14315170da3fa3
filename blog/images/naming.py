"""Where cached image files go: content-addressed storage names, so equal bytes are stored once."""

import hashlib

PREFIX = "images"


def content_hash(content: bytes) -> str:
    """Return the SHA-256 hex digest that names the files of an image with these bytes."""
    return hashlib.sha256(content).hexdigest()


def image_folder(digest: str) -> str:
    """Return the storage folder of the image whose bytes hash to `digest`."""
    return f"{PREFIX}/{digest[:2]}/{digest}"


def original_name(*, digest: str, extension: str) -> str:
    """Return the storage name of the original bytes, e.g. images/ab/ab12…/original.jpg."""
    return f"{image_folder(digest)}/original.{extension}"


def variant_name(*, digest: str, width: int, extension: str) -> str:
    """Return the storage name of a resized variant, e.g. images/ab/ab12…/960.webp."""
    return f"{image_folder(digest)}/{width}.{extension}"
