"""What the image cache produces: the allowed formats and the variants of one image."""

from dataclasses import dataclass, field

from django.conf import settings
from PIL import features


@dataclass(frozen=True)
class ImageFormat:
    """A format Kabar accepts, as Pillow names it, with its file extension and save options."""

    name: str
    extension: str
    media_type: str
    save_options: dict = field(default_factory=dict)


FORMATS: dict[str, ImageFormat] = {
    "JPEG": ImageFormat("JPEG", "jpg", "image/jpeg", {"quality": 82, "progressive": True}),
    # PNG variants are the fallback behind WebP: fast zlib, the WebP copy is the small one.
    "PNG": ImageFormat("PNG", "png", "image/png", {"compress_level": 1}),
    "GIF": ImageFormat("GIF", "gif", "image/gif", {}),
    # method 2 of 0-6: about half the encoding time of the default 4, for a few percent in size.
    "WEBP": ImageFormat("WEBP", "webp", "image/webp", {"quality": 80, "method": 2}),
    "AVIF": ImageFormat("AVIF", "avif", "image/avif", {"quality": 60, "speed": 8}),
}

# Every browser Kabar serves decodes WebP, and it is usually the smallest: the first choice.
WEBP = "WEBP"


def allowed_formats() -> tuple[str, ...]:
    """Return the Pillow format names the cache accepts (AVIF only when this Pillow build reads it)."""
    names = ["JPEG", "PNG", "GIF", "WEBP"]
    if features.check("avif"):
        names.append("AVIF")
    return tuple(names)


@dataclass(frozen=True)
class VariantSpec:
    """One resized copy to make: its width and format (the height follows the aspect ratio)."""

    width: int
    format: ImageFormat

    def height_for(self, *, width: int, height: int) -> int:
        """Return the height of this variant for a source of `width` x `height`."""
        return max(1, round(height * self.width / width))


def variant_specs(*, width: int, source_format: str, animated: bool) -> list[VariantSpec]:
    """Return the variants to make of an image `width` pixels wide in `source_format`.

    Each configured width smaller than the image, plus the image's own width when it is not
    wider than the largest configured one (a metadata-free copy at full size): never upscaled.
    Animated images get no variants: they are served as their original file.
    """
    if animated:
        return []
    configured = sorted({int(w) for w in settings.IMAGE_CACHE_WIDTHS if int(w) > 0})
    widths = [w for w in configured if w < width]
    if not configured or width <= configured[-1]:
        widths.append(width)
    names = [WEBP] if source_format == WEBP else [WEBP, source_format]
    return [VariantSpec(width=w, format=FORMATS[name]) for name in names for w in widths]
