"""Render a post's Markdown/HTML body to sanitized HTML (placeholder until the renderer lands)."""

import math
import re
from dataclasses import dataclass, field

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark")


@dataclass(frozen=True)
class Rendered:
    html: str
    toc: list[dict] = field(default_factory=list)
    summary: str = ""
    word_count: int = 0
    reading_time: int = 0


def sanitize(html: str) -> str:
    """Return `html` with everything outside the allowlist removed."""
    return nh3.clean(html)


def render_post(body: str, *, excerpt: str = "") -> Rendered:
    """Return the rendered post: HTML, table of contents, summary and counts."""
    html = sanitize(_markdown.render(body))
    text = nh3.clean(html, tags=set())
    words = len(re.findall(r"\w+", text))
    summary = (excerpt or text).strip()[:300]
    return Rendered(html=html, summary=summary, word_count=words, reading_time=math.ceil(words / 200))


def render(body: str) -> str:
    """Return `body` rendered to safe HTML."""
    return render_post(body).html
