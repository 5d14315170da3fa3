"""Write a processed image's files through default_storage, all or nothing."""

import contextlib
import threading
from dataclasses import dataclass, field

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from blog.images import naming
from blog.images.processing import ProcessedImage, Rendition

_locks_guard = threading.Lock()
_locks: dict[str, threading.Lock] = {}


def _lock_for(digest: str) -> threading.Lock:
    """Return the lock that serialises writes of one content hash within this process."""
    with _locks_guard:
        return _locks.setdefault(digest, threading.Lock())


@dataclass(frozen=True)
class StoredVariant:
    rendition: Rendition
    name: str


@dataclass
class StoredImage:
    """Where an image's files are: the original, its variants, and which files this call created."""

    digest: str
    original: str
    variants: list[StoredVariant]
    created: list[str] = field(default_factory=list)


def _write(name: str, content: bytes, created: list[str]) -> None:
    """Write `content` under exactly `name`, unless an equal-named (content-addressed) file exists."""
    if default_storage.exists(name):
        return
    saved = default_storage.save(name, ContentFile(content))
    created.append(saved)
    if saved != name:
        # Another process wrote the same name meanwhile; its file is the same image.
        raise OSError(f"storage saved {name} as {saved}")


def store_image(*, content: bytes, processed: ProcessedImage) -> StoredImage:
    """Store the cleaned original and every rendition, named by the hash of `content`; nothing on failure."""
    digest = naming.content_hash(content)
    original = naming.original_name(digest=digest, extension=processed.format.extension)
    variants = [
        StoredVariant(
            rendition,
            naming.variant_name(digest=digest, width=rendition.width, extension=rendition.spec.format.extension),
        )
        for rendition in processed.renditions
    ]
    created: list[str] = []
    with _lock_for(digest):
        try:
            _write(original, processed.original or content, created)
            for variant in variants:
                _write(variant.name, variant.rendition.content, created)
        except BaseException:
            delete_files(names=created)
            raise
    return StoredImage(digest=digest, original=original, variants=variants, created=created)


def delete_files(*, names: list[str]) -> None:
    """Delete these storage names, ignoring ones already gone."""
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            default_storage.delete(name)
