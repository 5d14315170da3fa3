"""Point a post's rendered HTML at the cached files: local src, srcset, sizes, width and height.

Images that are not cached (pending, failed, refused) keep their original URL, so a page never
shows a broken local link. Everything but the rewritten start tags is left byte for byte.
"""

import html as html_lib
import re
from dataclasses import dataclass, field

from django.core.files.storage import default_storage

from blog.images.discovery import (
    LAZY_ATTRIBUTES,
    ElementImages,
    Tag,
    absolute_url,
    element_images,
    picture_key,
    scan_html,
)
from blog.images.specs import FORMATS, WEBP

# The src for browsers that ignore srcset: a mid-size file, not the largest.
PREFERRED_SRC_WIDTH = 960


@dataclass(frozen=True)
class CachedFile:
    width: int
    height: int
    format: str
    name: str


@dataclass
class CachedImage:
    """What rewriting needs of one cached image: its size, its original and its variants."""

    url: str
    width: int
    height: int
    format: str
    original: str
    variants: list[CachedFile] = field(default_factory=list)

    def variants_in(self, format_name: str) -> list[CachedFile]:
        return sorted((v for v in self.variants if v.format == format_name), key=lambda v: v.width)

    def srcset(self, format_name: str) -> str:
        return ", ".join(f"{default_storage.url(v.name)} {v.width}w" for v in self.variants_in(format_name))

    def src(self) -> str:
        """Return the URL of the fallback file: the original-format variant nearest below 960 px."""
        own = self.variants_in(self.format)
        if not own:
            return default_storage.url(self.original)
        fitting = [v for v in own if v.width <= PREFERRED_SRC_WIDTH]
        return default_storage.url((fitting[-1] if fitting else own[0]).name)


def load_cached_images(*, urls: list[str]) -> dict[str, CachedImage]:
    """Return the cached images among `urls` with their variants, in one query."""
    from blog.models import RemoteImage

    if not urls:
        return {}
    rows = RemoteImage.objects.filter(url__in=urls, status=RemoteImage.Status.CACHED).values_list(
        "url",
        "width",
        "height",
        "format",
        "original",
        "variants__width",
        "variants__height",
        "variants__format",
        "variants__name",
    )
    images: dict[str, CachedImage] = {}
    for url, width, height, image_format, original, v_width, v_height, v_format, v_name in rows:
        image = images.setdefault(url, CachedImage(url, width or 0, height or 0, image_format, original))
        if v_name:
            image.variants.append(CachedFile(v_width, v_height, v_format, v_name))
    return {url: image for url, image in images.items() if image.original and image.width and image.height}


def _attribute_text(attrs: list[tuple[str, str | None]]) -> str:
    return "".join(f" {name}" if value is None else f' {name}="{html_lib.escape(value)}"' for name, value in attrs)


def _set(attrs: list[tuple[str, str | None]], name: str, value: str | None) -> None:
    """Set attribute `name` in place (keeping its position), appending it when absent; None removes it."""
    for index, (key, _old) in enumerate(attrs):
        if key == name:
            if value is None:
                del attrs[index]
            else:
                attrs[index] = (name, value)
            return
    if value is not None:
        attrs.append((name, value))


def _dimension(tag: Tag, name: str) -> int:
    value = tag.get(name).strip().removesuffix("px")
    return int(value) if value.isdigit() and int(value) > 0 else 0


def _img_tag(tag: Tag, image: CachedImage) -> tuple[str, str]:
    """Return the new <img> start tag for a cached image, and the <source> for WebP before it ('' if none)."""
    attrs = [(name, value) for name, value in tag.attrs if name not in LAZY_ATTRIBUTES]
    width, height = _dimension(tag, "width"), _dimension(tag, "height")
    if width and not height:
        height = max(1, round(width * image.height / image.width))
    elif height and not width:
        width = max(1, round(height * image.width / image.height))
    elif not width:
        width, height = image.width, image.height
    largest = max((v.width for v in image.variants), default=image.width)
    shown = min(width, largest)
    sizes = f"(max-width: {shown}px) 100vw, {shown}px"
    _set(attrs, "src", image.src())
    own_srcset = image.srcset(image.format)
    _set(attrs, "srcset", own_srcset or None)
    _set(attrs, "sizes", sizes if own_srcset else None)
    _set(attrs, "width", str(width))
    _set(attrs, "height", str(height))
    source = ""
    webp_srcset = image.srcset(WEBP) if image.format != WEBP else ""
    if webp_srcset and not tag.in_picture:
        source_attrs = [("type", FORMATS[WEBP].media_type), ("srcset", webp_srcset), ("sizes", sizes)]
        source = f"<source{_attribute_text(source_attrs)}>"
    return f"<img{_attribute_text(attrs)}>", source


def _source_tag(tag: Tag, image: CachedImage) -> str:
    """Return a <source> start tag of a <picture> pointed at the cached variants of its format."""
    attrs = [(name, value) for name, value in tag.attrs if name not in LAZY_ATTRIBUTES]
    format_name = WEBP if image.variants_in(WEBP) and tag.get("type") == FORMATS[WEBP].media_type else image.format
    srcset = image.srcset(format_name) or default_storage.url(image.original)
    _set(attrs, "srcset", srcset)
    _set(attrs, "src", None)
    _set(attrs, "type", FORMATS[format_name].media_type if format_name in FORMATS else None)
    return f"<source{_attribute_text(attrs)}>"


def rewrite_with(html: str, *, found: list[tuple[Tag, ElementImages]], cached: dict[str, CachedImage]) -> str:
    """Return `html` with the tags in `found` whose image is in `cached` rewritten to local files."""
    replacements: dict[int, tuple[int, str]] = {}
    for tag, images in found:
        image = cached.get(images.shown_master)
        if image is None:
            continue
        if tag.name == "source":
            replacements[tag.start] = (tag.end, _source_tag(tag, image))
            continue
        img, source = _img_tag(tag, image)
        replacements[tag.start] = (tag.end, f"<picture>{source}{img}</picture>" if source else img)
        link, link_master = tag.link, images.masters.get(images.link, "")
        if link is not None and link_master in cached:
            attrs = list(link.attrs)
            _set(attrs, "href", default_storage.url(cached[link_master].original))
            replacements[link.start] = (link.end, f"<a{_attribute_text(attrs)}>")
    if not replacements:
        return html
    parts, position = [], 0
    for start in sorted(replacements):
        end, text = replacements[start]
        parts += [html[position:start], text]
        position = end
    parts.append(html[position:])
    return "".join(parts)


# Every URL an attribute of sanitized HTML can name (nh3 writes attribute values in double quotes).
_URL_ATTRIBUTE = re.compile(r'\s(?:src|href|srcset|data-[\w-]*src(?:set)?)="([^"]*)"', re.IGNORECASE)


def _named_urls(html: str, *, base_url: str) -> list[str]:
    """Return every absolute URL the attributes of `html` name (srcset candidates included)."""
    urls = []
    for value in _URL_ATTRIBUTE.findall(html):
        for candidate in value.split(","):
            url = absolute_url(candidate.strip().split(" ")[0], base_url=base_url)
            if url:
                urls.append(url)
    return list(dict.fromkeys(urls))


def rewrite_html(html: str, *, base_url: str = "") -> str:
    """Return `html` with its cached images pointed at local files (one query; none without images)."""
    lowered = html.lower()
    if "<img" not in lowered and "<source" not in lowered:
        return html
    # A master is a URL the page names (discovery never guesses one) or, below, the original
    # of a named WordPress thumbnail, so the cached images among those are all rewriting can
    # use. Most pages have none: a new import, images not fetched yet. Then the page is not parsed.
    named = _named_urls(html, base_url=base_url)
    # That original (photo-300x200.jpg → photo.jpg) is only ever cached when it is known (an
    # imported attachment, or named elsewhere): then it is shown instead of the thumbnail.
    originals = [key for key in dict.fromkeys(picture_key(url) for url in named) if key not in named]
    cached = load_cached_images(urls=named + originals)
    if not cached:
        return html
    found = []
    for tag in scan_html(html):
        images = element_images(tag, base_url=base_url)
        for url in images.masters:
            if picture_key(url) in cached:
                images.masters[url] = picture_key(url)
        found.append((tag, images))
    return rewrite_with(html, found=found, cached=cached)
