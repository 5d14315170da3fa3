"""Whole-page caching of the public site, keyed by a content version bumped on every change.

Every public page of an anonymous GET/HEAD is stored in the configured cache under a key
that includes the content version. Saving or deleting content bumps the version (see
`blog.signals`), so the next request renders afresh and old entries simply expire. The
version is a timestamp: it doubles as the pages' Last-Modified. Scheduled posts become
public without a save, so the version also remembers when the next one is due and is
bumped when that moment has passed.
"""

import functools
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.handlers.exception import response_for_exception
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response, set_response_etag
from django.utils.http import http_date

VERSION_KEY = "kabar:site:version"
PAGE_KEY_PREFIX = "kabar:site:page"
CACHED_STATUSES = {200, 301, 404}
KEPT_HEADERS = ("Content-Type", "Location", "Content-Language", "X-Robots-Tag", "Vary")


@dataclass(frozen=True)
class ContentVersion:
    stamp: float
    next_publish: float | None

    @property
    def last_modified(self) -> int:
        return int(self.stamp)


def _cache():
    return caches[getattr(settings, "PAGE_CACHE_ALIAS", "default")]


def _page_cache_seconds() -> int:
    return int(getattr(settings, "PAGE_CACHE_SECONDS", 600))


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


def current_content_version() -> ContentVersion:
    """Return the content version in force, bumping it when a scheduled post has come due."""
    version = _cache().get(VERSION_KEY)
    if not isinstance(version, ContentVersion):
        version = ContentVersion(stamp=time.time(), next_publish=_next_publish())
        if not _cache().add(VERSION_KEY, version, None):
            version = _cache().get(VERSION_KEY) or version
    elif version.next_publish is not None and time.time() >= version.next_publish:
        version = bump_content_version()
    return version


def page_cache_key(request: HttpRequest, version: ContentVersion) -> str:
    """Return the cache key of the page `request` asks for, at `version`."""
    # The path as the client spelled it when the server tells: '%E5' and '%e5' get different
    # answers (a redirect and the page), so they are different entries.
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    spelled = f"raw:{raw}" if raw else request.get_full_path()
    address = f"{request.scheme}://{request.get_host()}{spelled}"
    digest = hashlib.blake2b(address.encode(), digest_size=16).hexdigest()
    return f"{PAGE_KEY_PREFIX}:{version.stamp:.6f}:{digest}"


def _bypasses_cache(request: HttpRequest) -> bool:
    if request.method not in {"GET", "HEAD"} or _page_cache_seconds() <= 0:
        return True
    user = getattr(request, "user", None)
    return user is not None and user.is_authenticated


def _is_cacheable(response: HttpResponse) -> bool:
    return (
        not (settings.DEBUG and response.status_code == 404)
        and response.status_code in CACHED_STATUSES
        and not response.streaming
        and not response.cookies
        and "private" not in response.get("Cache-Control", "")
        and "no-store" not in response.get("Cache-Control", "")
    )


def _rebuild(entry: tuple) -> HttpResponse:
    status, headers, content = entry
    response = HttpResponse(content, status=status)
    for name, value in headers:
        response.headers[name] = value
    return response


def cache_public_page(view):
    """Return `view` wrapped in the whole-page cache and conditional GET (ETag, Last-Modified)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if _bypasses_cache(request):
            return view(request, *args, **kwargs)
        version = current_content_version()
        key = page_cache_key(request, version)
        entry = _cache().get(key)
        if entry is not None:
            response = _rebuild(entry)
        else:
            try:
                response = view(request, *args, **kwargs)
            except Http404 as exc:
                # Rendered here, as the handler would, so that old links bots keep asking for
                # stay cheap; with DEBUG on the technical page is rendered and not cached.
                response = response_for_exception(request, exc)
            if hasattr(response, "render") and callable(response.render):
                response = response.render()
            if not _is_cacheable(response):
                return response
            set_response_etag(response)
            response.headers["Last-Modified"] = http_date(version.last_modified)
            headers = [(name, response[name]) for name in (*KEPT_HEADERS, "ETag", "Last-Modified") if name in response]
            _cache().set(key, (response.status_code, headers, response.content), _page_cache_seconds())
        if response.status_code != 200:
            return response
        return get_conditional_response(
            request,
            etag=response.get("ETag"),
            last_modified=version.last_modified,
            response=response,
        )

    return wrapper
