"""Find every remote image a post shows, and the full-size file ("master") to cache for each.

HTML is read with html.parser (the rendered body, and the raw body for lazy-load attributes the
sanitizer may drop); Markdown image syntax is read from the raw body, also inside HTML blocks.
URLs that show one picture at several sizes (a srcset, a thumbnail linked to its full-size file,
WordPress `x-300x200.jpg` / Blogger `…/s320/x.jpg`) form a group cached once, as its largest file.
"""

import html as html_lib
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from django.conf import settings
from django.core.files.storage import default_storage

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".avif")
SRC_ATTRIBUTES = ("data-lazy-src", "data-src", "data-original", "src")
SRCSET_ATTRIBUTES = ("data-lazy-srcset", "data-srcset", "srcset")
LAZY_ATTRIBUTES = frozenset({"data-lazy-src", "data-src", "data-original", "data-lazy-srcset", "data-srcset"})
FRONT_MATTER_KEYS = frozenset(
    {
        "image",
        "images",
        "thumbnail",
        "featured_image",
        "featured-image",
        "feature_image",
        "cover",
        "cover_image",
        "header_image",
        "og_image",
        "banner",
        "teaser",
        "header",
        "overlay_image",
        "thumb",
    }
)
NESTED_KEYS = frozenset({"path", "url", "src", "feature", "image", "teaser", "thumbnail", "og_image", "overlay_image"})
BLOGGER_HOSTS = ("blogspot.com", "googleusercontent.com", "ggpht.com")
MAX_URL_LENGTH = 2000

_WORDPRESS_SIZE = re.compile(r"-(\d+)x(\d+)(?=\.[a-z0-9]+$)", re.IGNORECASE)
_BLOGGER_SEGMENT = re.compile(r"/([swh])(\d+)(?:-[a-z0-9-]*)?/(?=[^/]+$)", re.IGNORECASE)
_GOOGLE_SUFFIX = re.compile(r"=([swh])(\d+)[a-z0-9-]*$", re.IGNORECASE)
# Markdown images: ![alt](url "title"), [![alt](thumb)](full) and ![alt][ref] with [ref]: url.
_MD_URL = r"<?([^\s)>]+)>?(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*"
_MD_LINKED_IMAGE = re.compile(r"\[\s*!\[[^\]]*\]\(\s*" + _MD_URL + r"\)\s*\]\(\s*" + _MD_URL + r"\)")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*" + _MD_URL + r"\)")
_MD_REFERENCE_IMAGE = re.compile(r"!\[([^\]]*)\]\[([^\]]*)\]")
_MD_DEFINITION = re.compile(r"^[ ]{0,3}\[([^\]]+)\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)


def parse_srcset(value: str) -> list[tuple[str, int]]:
    """Return the (url, width descriptor or 0) candidates of a srcset attribute."""
    candidates = []
    position, length = 0, len(value)
    while position < length:
        while position < length and (value[position].isspace() or value[position] == ","):
            position += 1
        start = position
        while position < length and not value[position].isspace():
            position += 1
        url = value[start:position]
        descriptor = ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            end = value.find(",", position)
            end = length if end == -1 else end
            descriptor = value[position:end].strip()
            position = end
        if url:
            match = re.fullmatch(r"(\d+)w", descriptor)
            candidates.append((url, int(match.group(1)) if match else 0))
    return candidates


def is_local(url: str) -> bool:
    """Return whether `url` already points at Kabar's own media files."""
    media_url = settings.MEDIA_URL or "/media/"
    if url.startswith(media_url):
        return True
    site_url = getattr(settings, "SITE_URL", "")
    if site_url and url.startswith(site_url.rstrip("/") + "/" + media_url.lstrip("/")):
        return True
    # On object storage the files' addresses are the bucket's (or its CDN's), not MEDIA_URL.
    storage_base = default_storage.url("x")[:-1]
    return storage_base.startswith(("http://", "https://")) and url.startswith(storage_base)


def absolute_url(url: str, *, base_url: str = "") -> str:
    """Return `url` as an absolute http(s) URL to fetch, or '' when it is not one (data:, local, …).

    Relative paths resolve against `base_url` (the post's guid); protocol-relative `//host/x`
    becomes https.
    """
    url = html_lib.unescape(url.strip())
    if not url or url.startswith(("data:", "blob:", "#")) or is_local(url):
        return ""
    if "{{" in url or "{%" in url:  # template code of the old generator ("{{ image }}"), no address
        return ""
    if url.startswith("//"):
        url = "https:" + url
    elif not urlsplit(url).scheme:
        base = urlsplit(base_url)
        if base.scheme not in ("http", "https") or not base.netloc:
            return ""
        url = urljoin(base_url, url)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    path = quote(parts.path, safe="/%:@!$&'()*+,;=~-._")
    query = quote(parts.query, safe="/%:@!$&'()*+,;=?~-._")
    url = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path or "/", query, ""))
    return url if len(url) <= MAX_URL_LENGTH else ""


def looks_like_image(url: str) -> bool:
    """Return whether a link target is an image file (by extension, or a Blogger image host)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.path.lower().endswith(IMAGE_EXTENSIONS) or host.endswith(BLOGGER_HOSTS)


def picture_key(url: str) -> str:
    """Return `url` with its size marks removed: equal keys are one picture at different sizes."""
    parts = urlsplit(url)
    path = _WORDPRESS_SIZE.sub("", parts.path)
    if (parts.hostname or "").endswith(BLOGGER_HOSTS):
        path = _GOOGLE_SUFFIX.sub("", _BLOGGER_SEGMENT.sub("/s0/", path))
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def size_rank(url: str) -> float:
    """Return how large the file behind `url` probably is, from its size marks (inf: unsized)."""
    path = urlsplit(url).path
    for pattern in (_WORDPRESS_SIZE, _BLOGGER_SEGMENT, _GOOGLE_SUFFIX):
        match = pattern.search(path)
        if match:
            number = int(match.group(2) if pattern is not _WORDPRESS_SIZE else match.group(1))
            return number or math.inf
    return math.inf


@dataclass
class Tag:
    """A start tag found in HTML: its name, attributes, where it is, the <a> around it, if in <picture>."""

    name: str
    attrs: list[tuple[str, str | None]]
    start: int
    end: int
    link: "Tag | None" = None
    in_picture: bool = False

    def get(self, name: str) -> str:
        return next((value or "" for key, value in self.attrs if key == name), "")


_NEWLINE = re.compile("\n")


class _TagScanner(HTMLParser):
    """Collect <img>, <source> and image-wrapping <a> start tags with their exact positions."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.line_starts = [0] + [match.end() for match in _NEWLINE.finditer(text)]
        self.tags: list[Tag] = []
        self.link: Tag | None = None
        self.picture_depth = 0

    def _tag(self, name: str, attrs: list) -> Tag:
        line, column = self.getpos()
        start = self.line_starts[line - 1] + column
        raw = self.get_starttag_text() or ""
        return Tag(name, attrs, start, start + len(raw), self.link, self.picture_depth > 0)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "a":
            self.link = self._tag(tag, attrs)
        elif tag == "picture":
            self.picture_depth += 1
        elif tag in ("img", "source"):
            self.tags.append(self._tag(tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag in ("img", "source"):
            self.tags.append(self._tag(tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self.link = None
        elif tag == "picture":
            self.picture_depth = max(0, self.picture_depth - 1)


def scan_html(text: str) -> list[Tag]:
    """Return the <img> and <source> tags of `text`, in order, each with its enclosing link."""
    scanner = _TagScanner(text)
    scanner.feed(text)
    scanner.close()
    return scanner.tags


@dataclass
class ElementImages:
    """What one <img>/<source> shows: each URL it names mapped to the master to cache for it."""

    shown: str = ""
    masters: dict[str, str] = field(default_factory=dict)
    link: str = ""

    @property
    def shown_master(self) -> str:
        return self.masters.get(self.shown, "")


def element_images(tag: Tag, *, base_url: str = "") -> ElementImages:
    """Return the URLs an <img>/<source> tag names (src, srcset, lazy attributes, its link) and their masters."""
    sized: list[tuple[str, int]] = []
    shown = ""
    for name in SRC_ATTRIBUTES:
        url = absolute_url(tag.get(name), base_url=base_url)
        if url:
            sized.append((url, 0))
            shown = shown or url
    for name in SRCSET_ATTRIBUTES:
        for candidate, width in parse_srcset(tag.get(name)):
            url = absolute_url(candidate, base_url=base_url)
            if url:
                sized.append((url, width))
                shown = shown or url
    link = absolute_url(tag.link.get("href"), base_url=base_url) if tag.link else ""
    if link and looks_like_image(link):
        sized.append((link, 0))
    else:
        link = ""
    groups: dict[str, list[tuple[str, int]]] = {}
    for url, width in sized:
        groups.setdefault(picture_key(url), []).append((url, width))
    masters = {}
    for members in groups.values():
        urls = [url for url, _width in members]
        if link in urls:
            master = link
        else:
            master = max(members, key=lambda member: max(member[1], size_rank(member[0])))[0]
        masters.update(dict.fromkeys(urls, master))
    return ElementImages(shown=shown, masters=masters, link=link)


def _markdown_images(body: str, *, base_url: str) -> Iterator[ElementImages]:
    """Yield the images of Markdown syntax in `body`, wherever it sits (also inside HTML blocks)."""
    linked_spans = []
    for match in _MD_LINKED_IMAGE.finditer(body):
        linked_spans.append(match.span())
        link = Tag("a", [("href", match.group(2))], 0, 0)
        yield element_images(Tag("img", [("src", match.group(1))], 0, 0, link), base_url=base_url)
    for match in _MD_IMAGE.finditer(body):
        if not any(start <= match.start() < end for start, end in linked_spans):
            yield element_images(Tag("img", [("src", match.group(1))], 0, 0), base_url=base_url)
    definitions = {label.strip().lower(): url for label, url in _MD_DEFINITION.findall(body)}
    for alt, label in _MD_REFERENCE_IMAGE.findall(body):
        url = definitions.get((label or alt).strip().lower())
        if url:
            yield element_images(Tag("img", [("src", url)], 0, 0), base_url=base_url)


def _front_matter_values(value: object) -> Iterator[str]:
    """Yield the strings of a front-matter image value (a string, a list, or a dict like {path: …})."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _front_matter_values(item)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if str(key).lower() in NESTED_KEYS:
                yield from _front_matter_values(item)


def front_matter_images(front_matter: Mapping, *, base_url: str = "") -> list[str]:
    """Return the image URLs named by front-matter keys such as image, thumbnail, featured_image."""
    urls = []
    for key, value in (front_matter or {}).items():
        lowered = str(key).lower()
        if lowered in FRONT_MATTER_KEYS or lowered.endswith(("_image", "-image", "_thumbnail")):
            for text in _front_matter_values(value):
                url = absolute_url(text, base_url=base_url)
                # A relative value must name an image file: `cover: A caption` is not a path.
                if url and (text.strip().startswith(("http://", "https://", "//")) or looks_like_image(url)):
                    urls.append(url)
    return urls


def find_images(
    *, html: str = "", body: str = "", front_matter: Mapping | None = None, base_url: str = ""
) -> list[str]:
    """Return the master URLs of every image in the rendered `html`, the raw `body` and the front matter."""
    elements: list[ElementImages] = [element_images(tag, base_url=base_url) for tag in scan_html(html)]
    if body:
        elements += [element_images(tag, base_url=base_url) for tag in scan_html(body)]
        elements += list(_markdown_images(body, base_url=base_url))
    masters = [master for element in elements for master in element.masters.values()]
    masters += front_matter_images(front_matter or {}, base_url=base_url)
    return list(dict.fromkeys(masters))
