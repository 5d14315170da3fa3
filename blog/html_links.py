"""Read and rewrite the links of stored (sanitized) post HTML: absolute URLs, first image."""

import html
import re
from urllib.parse import urljoin

# The sanitizer writes every attribute double-quoted, with '"' escaped inside: a plain
# pattern on its output is exact, no HTML parser needed per request.
_URL_ATTRIBUTE = re.compile(r'(?P<before>\s(?:src|href|poster|cite)=")(?P<url>[^"]*)(?=")', re.IGNORECASE)
_SRCSET_ATTRIBUTE = re.compile(r'(?P<before>\ssrcset=")(?P<value>[^"]*)(?=")', re.IGNORECASE)
# A start tag as the sanitizer writes it: name, then attributes, each value in double quotes
# (which may hold '>'); text between tags is never matched.
_START_TAG = re.compile(r'<[a-zA-Z][a-zA-Z0-9-]*(?:\s+[^\s"\'>/=]+(?:="[^"]*")?)*\s*/?>')
_IMG_SRC = re.compile(r'<img\b(?:\s+[^\s"\'>/=]+(?:="[^"]*")?)*?\s+src="(?P<url>[^"]+)"', re.IGNORECASE)


def _absolute(url: str, base_url: str) -> str:
    raw = html.unescape(url)
    if raw.startswith("#") or raw.strip() == "":
        return url
    return html.escape(urljoin(base_url, raw), quote=True)


def absolute_links(body_html: str, *, base_url: str) -> str:
    """Return `body_html` with relative src/href/srcset URLs made absolute against `base_url`."""

    def attribute(match: re.Match) -> str:
        return match["before"] + _absolute(match["url"], base_url)

    def srcset(match: re.Match) -> str:
        candidates = []
        for candidate in match["value"].split(","):
            url, _, descriptor = candidate.strip().partition(" ")
            candidates.append(f"{_absolute(url, base_url)} {descriptor}".strip())
        return match["before"] + ", ".join(candidates)

    def tag(match: re.Match) -> str:
        return _SRCSET_ATTRIBUTE.sub(srcset, _URL_ATTRIBUTE.sub(attribute, match[0]))

    return _START_TAG.sub(tag, body_html)


def first_image_src(body_html: str) -> str:
    """Return the src of the first image in `body_html`, or '' when it has none."""
    match = _IMG_SRC.search(body_html)
    return html.unescape(match["url"]) if match else ""


# The href of an <a> start tag as the sanitizer writes it (attribute values in double quotes).
_A_HREF = re.compile(r'(?P<before><a\b(?:\s+[^\s"\'>/=]+(?:="[^"]*")?)*?\s+href=")(?P<url>[^"]*)(?=")', re.IGNORECASE)


def link_hrefs(body_html: str) -> list[str]:
    """Return the href of every <a> in `body_html`, unescaped, in document order."""
    if "<a" not in body_html and "<A" not in body_html:
        return []
    return [html.unescape(match["url"]) for match in _A_HREF.finditer(body_html)]


def replace_link_hrefs(body_html: str, replacements: dict[str, str]) -> str:
    """Return `body_html` with each <a href> found in `replacements` (unescaped keys) replaced."""
    if not replacements:
        return body_html

    def replace(match: re.Match) -> str:
        url = html.unescape(match["url"])
        new = replacements.get(url)
        return match["before"] + (html.escape(new, quote=True) if new is not None else match["url"])

    return _A_HREF.sub(replace, body_html)


_IMG_SRCS = re.compile(r'<img\b(?:\s+[^\s"\'>/=]+(?:="[^"]*")?)*?\s+src="(?P<url>[^"]*)"', re.IGNORECASE)


def image_srcs(body_html: str) -> list[str]:
    """Return the src of every <img> in `body_html`, unescaped, in document order."""
    return [html.unescape(match["url"]) for match in _IMG_SRCS.finditer(body_html)]
