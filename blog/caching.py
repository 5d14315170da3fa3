"""Whole-page caching of the public site, valid until the content version changes.

`PageCacheMiddleware` (first in `MIDDLEWARE`) answers an anonymous GET/HEAD of a public page
from the cache before URL resolution, with one cache read that fetches the content version
and the stored page together. A page is stored with the version it was rendered at and every
header the other middleware added (security headers, CSP), so a hit only compares two
numbers. Saving or deleting content bumps the version (see `blog.signals`), so the next
request renders afresh, in every process: the version lives in the configured cache, which
all processes share (Redis, or a folder of files in the embedded default). The version is a
timestamp: it doubles as the pages' Last-Modified. Scheduled posts become public without a
save, so the version also remembers when the next one is due and is bumped when that moment
has passed. Pages carry `Cache-Control: no-cache` with an ETag and a Last-Modified, so
browsers revalidate every time and get a 304 while nothing changed.

Only views wrapped in `cache_public_page` are stored. One entry per address: a new version
overwrites the old page instead of adding one, and query parameters the views do not read
(`utm_*`, `fbclid`, …) are not part of the key.
"""

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.core.cache import caches
from django.core.handlers.exception import response_for_exception
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control, set_response_etag
from django.utils.http import http_date

logger = logging.getLogger(__name__)

VERSION_KEY = "kabar:site:version"
PAGE_KEY_PREFIX = "kabar:site:page"
CACHED_STATUSES = {200, 301, 404}
# Query parameters the public views read whose values are bounded (page numbers, post ids):
# pages are cached per value. The other parameters the views read (q, s, feed, m: search and
# WordPress's query addresses) take any text, so those requests are never cached. Any other
# parameter is ignored by the views, and by the cache key.
KEYED_PARAMS = {"page", "p", "page_id", "attachment_id"}
UNCACHED_PARAMS = {"q", "s", "feed", "m"}
MAX_KEYED_DIGITS = 9
# Set on the request by `cache_public_page`: only the public site's views are stored.
CACHEABLE_ATTR = "_kabar_page_cacheable"
# Set on the request by the middleware: the content version it read, for the views to reuse.
VERSION_ATTR = "_kabar_content_version"
# Set on the request by `per_content_version`: what it returned, by name.
PER_VERSION_ATTR = "_kabar_per_content_version"
T = TypeVar("T")


@dataclass(frozen=True)
class ContentVersion:
    stamp: float
    next_publish: float | None

    @property
    def last_modified(self) -> int:
        return int(self.stamp)

    @property
    def is_due(self) -> bool:
        return self.next_publish is not None and time.time() >= self.next_publish


@dataclass(frozen=True)
class CachedPage:
    stamp: float
    status: int
    headers: tuple[tuple[str, str], ...]
    content: bytes


def _cache():
    return caches[getattr(settings, "PAGE_CACHE_ALIAS", "default")]


def _page_cache_seconds() -> int:
    return int(getattr(settings, "PAGE_CACHE_SECONDS", 0))


def _next_publish() -> float | None:
    from django.utils import timezone

    from blog.models import Post

    upcoming = (
        Post.objects.filter(status=Post.Status.PUBLISHED, date__gt=timezone.now())
        .order_by("date")
        .values_list("date", flat=True)
        .first()
    )
    return upcoming.timestamp() if upcoming else None


def bump_content_version() -> ContentVersion:
    """Return a new content version, stored so that every cached page is stale."""
    # Never go back in time, even when two changes land within one clock tick.
    old = _cache().get(VERSION_KEY)
    stamp = max(time.time(), old.stamp + 0.001 if isinstance(old, ContentVersion) else 0.0)
    version = ContentVersion(stamp=stamp, next_publish=_next_publish())
    _cache().set(VERSION_KEY, version, None)
    return version


def _bump_after_commit() -> None:
    bump_content_version()


_batch = threading.local()


@contextmanager
def batched_changes() -> Iterator[None]:
    """Bump the content version once, when the block ends, for all the changes made in it.

    For bulk writes (an import batch): one bump per save would empty the page cache hundreds
    of times a second while readers are being served.
    """
    outer = getattr(_batch, "active", False)
    _batch.active = True
    try:
        yield
    finally:
        if not outer:
            _batch.active = False
            if getattr(_batch, "changed", False):
                _batch.changed = False
                content_changed()


def content_changed() -> None:
    """Mark the site's content as changed: now, and again when the current transaction commits."""
    if getattr(_batch, "active", False):
        _batch.changed = True
        return
    bump_content_version()
    # A request served between this change and its commit would cache the old content
    # under the new version: bump once more after the commit, once per transaction (a
    # rollback drops the pending callback with the rest).
    if connection.in_atomic_block and not any(
        callback is _bump_after_commit for _, callback, _ in connection.run_on_commit
    ):
        transaction.on_commit(_bump_after_commit)


def _version_in_force(stored) -> ContentVersion:
    if not isinstance(stored, ContentVersion):
        version = ContentVersion(stamp=time.time(), next_publish=_next_publish())
        if not _cache().add(VERSION_KEY, version, None):
            version = _cache().get(VERSION_KEY) or version
        return version
    if stored.is_due:
        return bump_content_version()
    return stored


def current_content_version(request: HttpRequest | None = None) -> ContentVersion:
    """Return the content version in force, bumping it when a scheduled post has come due."""
    version = getattr(request, VERSION_ATTR, None)  # read already by the middleware
    return version if version is not None else _version_in_force(_cache().get(VERSION_KEY))


def per_content_version(name: str, compute: Callable[[], T], *, request: HttpRequest | None = None) -> T:
    """Return `compute()`, computed once per content version and shared by every process.

    For what many pages show and every change may alter (the archive index): a request reads
    it from the cache instead of scanning every post.
    """
    # A page may ask several times (the month archive: its count, its neighbours): once a request.
    known = getattr(request, PER_VERSION_ATTR, None) if request is not None else None
    if known is not None and name in known:
        return known[name]
    value = _per_content_version(name, compute, request)
    if request is not None:
        setattr(request, PER_VERSION_ATTR, {**(known or {}), name: value})
    return value


def _per_content_version(name: str, compute: Callable[[], T], request: HttpRequest | None) -> T:
    key = f"kabar:site:{name}"
    try:
        version = current_content_version(request)
        stored = _cache().get(key)
    except Exception as exc:
        logger.warning("page cache: cannot read %s (%s)", key, exc)
        return compute()
    if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == version.stamp:
        return stored[1]
    value = compute()
    try:
        _cache().set(key, (version.stamp, value), None)
    except Exception as exc:
        logger.warning("page cache: cannot store %s (%s)", key, exc)
    return value


@dataclass(frozen=True)
class _Address:
    key: str
    keyed_query: bool  # the key has query parameters (a page number, a post id)
    ignored_params: bool  # the query had parameters that are not part of the key


def _address(request: HttpRequest) -> _Address | None:
    """Return where the page `request` asks for is cached, or None when it is never cached."""
    query = []
    ignored = False
    for name, values in request.GET.lists():
        if name in UNCACHED_PARAMS:
            return None
        if name not in KEYED_PARAMS:
            ignored = True
            continue
        if len(values) != 1 or not (values[0].isascii() and values[0].isdigit()) or len(values[0]) > MAX_KEYED_DIGITS:
            return None
        query.append(f"{name}={values[0]}")
    # The path as the client spelled it when the server tells (gunicorn's RAW_URI): '%E5' and
    # '%e5' get different answers (a redirect and the page), so they are different entries.
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    path = "raw:" + raw.split("?", 1)[0] if raw else request.path
    address = f"{request.scheme}://{request.get_host()}{path}?{'&'.join(sorted(query))}"
    digest = hashlib.blake2b(address.encode(), digest_size=16).hexdigest()
    return _Address(key=f"{PAGE_KEY_PREFIX}:{digest}", keyed_query=bool(query), ignored_params=ignored)


def _bypasses_cache(request: HttpRequest) -> bool:
    # Logged-in users (editors: previews, fresh pages) always carry a session cookie.
    return (
        request.method not in {"GET", "HEAD"}
        or settings.SESSION_COOKIE_NAME in request.COOKIES
        or _page_cache_seconds() <= 0
    )


def _is_storable(response: HttpResponse, address: _Address) -> bool:
    if address.ignored_params and response.status_code != 200:
        return False  # a redirect keeps the query it was given
    if address.keyed_query and response.status_code == 404:
        return False  # ?page=N past the last page, ?p=N of no post: any number of them
    return (
        not (settings.DEBUG and response.status_code == 404)
        and response.status_code in CACHED_STATUSES
        and not response.streaming
        and not response.cookies
        and "private" not in response.get("Cache-Control", "")
        and "no-store" not in response.get("Cache-Control", "")
    )


def _rebuild(page: CachedPage) -> HttpResponse:
    response = HttpResponse(page.content, status=page.status)
    for name, value in page.headers:
        response.headers[name] = value
    return response


def _conditional(request: HttpRequest, response: HttpResponse, version: ContentVersion) -> HttpResponse:
    if response.status_code != 200:
        return response
    return get_conditional_response(
        request, etag=response.get("ETag"), last_modified=version.last_modified, response=response
    )


class PageCacheMiddleware:
    """Answer anonymous GET/HEAD requests for public pages from the page cache, with one cache read."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.skipped_prefixes = tuple(
            "/" + url.lstrip("/") for url in (settings.STATIC_URL, settings.MEDIA_URL) if url and "://" not in url
        )

    def __call__(self, request):
        if _bypasses_cache(request) or request.path.startswith(self.skipped_prefixes):
            return self.get_response(request)
        address = _address(request)
        if address is None:
            return self.get_response(request)
        try:
            found = _cache().get_many([VERSION_KEY, address.key])
            version = _version_in_force(found.get(VERSION_KEY))
        except Exception as exc:  # the cache is down: serve the page uncached rather than fail
            logger.warning("page cache: cannot read the cache (%s); serving uncached", exc)
            return self.get_response(request)
        setattr(request, VERSION_ATTR, version)
        page = found.get(address.key)
        if (
            isinstance(page, CachedPage)
            and page.stamp == version.stamp
            and not (address.ignored_params and page.status != 200)
        ):
            return _conditional(request, _rebuild(page), version)

        response = self.get_response(request)
        if not getattr(request, CACHEABLE_ATTR, False) or not _is_storable(response, address):
            return response
        set_response_etag(response)
        response.headers["Last-Modified"] = http_date(version.last_modified)
        page = CachedPage(
            stamp=version.stamp,
            status=response.status_code,
            headers=tuple(response.headers.items()),
            content=response.content,
        )
        try:
            _cache().set(address.key, page, _page_cache_seconds())
        except Exception as exc:
            logger.warning("page cache: cannot store a page (%s)", exc)
        return _conditional(request, response, version)


def cache_public_page(view):
    """Return `view` marked for the page cache: its pages are stored, and browsers revalidate them."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        setattr(request, CACHEABLE_ATTR, True)
        try:
            response = view(request, *args, **kwargs)
        except Http404 as exc:
            # Rendered here, as the handler would, so that old links bots keep asking for
            # are cached too; with DEBUG on the technical page is rendered and not cached.
            response = response_for_exception(request, exc)
        if hasattr(response, "render") and callable(response.render):
            response = response.render()
        if "Cache-Control" not in response:
            # Browsers ask every time (a 304 while nothing changed): an edit shows at once.
            patch_cache_control(response, no_cache=True)
            if settings.SESSION_COOKIE_NAME in request.COOKIES:
                patch_cache_control(response, private=True)
        return response

    wrapper.unrendered = view  # the view itself, for those who want its answer, not its page (check_links)
    return wrapper
