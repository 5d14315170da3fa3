"""Template helpers of the public site: absolute URLs, the first image, JSON-LD."""

import json

from django import template
from django.utils.safestring import mark_safe

from blog.html_links import first_image_src

register = template.Library()

# As json_script does: no '<', '>' or '&' can end the <script> element or start a comment.
_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@register.simple_tag(takes_context=True)
def absolute_url(context, url: str) -> str:
    """Return `url` made absolute for the current request."""
    if not url:
        return ""
    return context["request"].build_absolute_uri(url)


@register.filter
def first_image(body_html: str) -> str:
    """Return the src of the first image in the post's HTML ('' when none)."""
    return first_image_src(body_html or "")


@register.filter(is_safe=True)
def ld_json(value) -> str:
    """Return `value` as JSON safe inside <script type="application/ld+json">."""
    return mark_safe(json.dumps(value, ensure_ascii=False, default=str).translate(_SCRIPT_ESCAPES))


@register.filter
def web_url(url: str) -> str:
    """Return `url` when it is an http(s) address a reader may follow, else '' (no javascript: links)."""
    url = (url or "").strip()
    return url if url.lower().startswith(("http://", "https://")) and " " not in url else ""
