"""Template context of the public site: the site's name and what stylesheets exist."""

import functools

from django.conf import settings
from django.contrib.staticfiles import finders


@functools.cache
def _has_pygments_css() -> bool:
    return finders.find("css/pygments.css") is not None


PREFERRED_MENUS = ("primary", "main", "main-menu", "header", "top", "menu-1")


class Navigation:
    """The site's menu as plain links, computed once per content version (a query at most)."""

    def __init__(self, request=None) -> None:
        self.request = request
        self._items: list | None = None

    def _load(self) -> list:
        if self._items is None:
            from django.db import DatabaseError

            from blog.caching import per_content_version

            try:
                self._items = per_content_version("navigation", _navigation, request=self.request)
            except DatabaseError:  # the error page must render when the database is down
                self._items = []
        return self._items

    def __iter__(self):
        return iter(self._load())

    def __bool__(self) -> bool:
        return bool(self._load())


def _navigation() -> list[dict]:
    """Return the chosen menu's links as plain data: label, href and the links under it."""
    from blog.models import MenuItem

    rows = list(MenuItem.objects.select_related("post", "category"))
    return _tree(rows, _chosen_menu(rows))


def _chosen_menu(rows: list) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.menu] = counts.get(row.menu, 0) + 1
    if settings.SITE_MENU:
        return settings.SITE_MENU
    for name in PREFERRED_MENUS:
        if name in counts:
            return name
    return max(counts, key=lambda name: counts[name], default="")


def _tree(rows: list, menu: str) -> list[dict]:
    """Return the menu's top-level links, each with its `subitems`; links to posts readers cannot see are left out."""
    items = [row for row in rows if row.menu == menu and (row.post_id is None or row.post.is_public)]
    links = {row.pk: {"label": row.label, "href": row.href, "subitems": []} for row in items}
    top = []
    for row in items:
        parent = links.get(row.parent_id)
        (parent["subitems"] if parent is not None else top).append(links[row.pk])
    return top


def site(request) -> dict:
    """Return the site's name, description and navigation, and whether the code-highlighting stylesheet exists."""
    return {
        "site_name": settings.SITE_NAME,
        "site_description": settings.SITE_DESCRIPTION,
        "pygments_css": _has_pygments_css(),
        "navigation": Navigation(request),
    }
