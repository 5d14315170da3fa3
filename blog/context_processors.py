"""Template context of the public site: the site's name and what stylesheets exist."""

import functools

from django.conf import settings
from django.contrib.staticfiles import finders


@functools.cache
def _has_pygments_css() -> bool:
    return finders.find("css/pygments.css") is not None


PREFERRED_MENUS = ("primary", "main", "main-menu", "header", "top", "menu-1")


class Navigation:
    """The site's menu, read from the database when a template first asks for it (one query)."""

    def __init__(self) -> None:
        self._items: list | None = None

    def _load(self) -> list:
        if self._items is None:
            from django.db import DatabaseError

            from blog.models import MenuItem

            try:
                rows = list(MenuItem.objects.select_related("post", "category"))
            except DatabaseError:  # the error page must render when the database is down
                rows = []
            self._items = _tree(rows, _chosen_menu(rows))
        return self._items

    def __iter__(self):
        return iter(self._load())

    def __bool__(self) -> bool:
        return bool(self._load())


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


def _tree(rows: list, menu: str) -> list:
    """Return the menu's top-level items, each with `subitems`; links to posts readers cannot see are left out."""
    items = [row for row in rows if row.menu == menu and (row.post_id is None or row.post.is_public)]
    by_parent: dict[int | None, list] = {}
    known = {row.pk for row in items}
    for row in items:
        by_parent.setdefault(row.parent_id if row.parent_id in known else None, []).append(row)
    for row in items:
        row.subitems = by_parent.get(row.pk, [])
    return by_parent.get(None, [])


def site(request) -> dict:
    """Return the site's name, description and navigation, and whether the code-highlighting stylesheet exists."""
    return {
        "site_name": settings.SITE_NAME,
        "site_description": settings.SITE_DESCRIPTION,
        "pygments_css": _has_pygments_css(),
        "navigation": Navigation(),
    }
