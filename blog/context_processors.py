"""Template context of the public site: the site's name and what stylesheets exist."""

import functools

from django.conf import settings
from django.contrib.staticfiles import finders


@functools.cache
def _has_pygments_css() -> bool:
    return finders.find("css/pygments.css") is not None


def site(request) -> dict:
    """Return the site's name and description, and whether the code-highlighting stylesheet exists."""
    return {
        "site_name": settings.SITE_NAME,
        "site_description": settings.SITE_DESCRIPTION,
        "pygments_css": _has_pygments_css(),
    }
