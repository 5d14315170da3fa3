"""Whole-page caching of the public site, valid until the content version changes.

`PageCacheApp` (around Django's WSGI application, `config/wsgi.py`) answers an anonymous
GET/HEAD of a public page from the cache before Django's request handling, and
`PageCacheMiddleware` (first in `MIDDLEWARE`) stores what a miss renders (and answers hits
itself where there is no WSGI, in the test client or under ASGI). A look-up is one cache read
that fetches the content version and the stored page together; with Redis, each process also
keeps a copy of both in memory that Redis's invalidation messages keep exact (`_LocalCopy`),
so most hits read nothing at all. A page is stored with the version it was rendered at and every
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
import os
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import TypeVar

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import setting_changed
from django.db import connection, transaction
from django.dispatch import receiver
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
    local = _local_copy()
    if local is not None:  # at once for this process; the others hear it from Redis
        local.forget()
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
    if version is not None:
        return version
    local = _local_copy()
    if local is None:
        return _version_in_force(_cache().get(VERSION_KEY))
    generation, version, _ = local.get(VERSION_KEY)
    if version is None:
        version = _version_in_force(_cache().get(VERSION_KEY))
        local.remember(generation, version)
    return version


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
    local = _local_copy()
    if local is not None:
        generation, _, held = local.get(key)
        if held is not None:
            return pickle.loads(held)  # a copy of its own for each request
    try:
        version = current_content_version(request)
        stored = _cache().get(key)
    except Exception as exc:
        logger.warning("page cache: cannot read %s (%s)", key, exc)
        return compute()
    if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == version.stamp:
        value = stored[1]
    else:
        value = compute()
        try:
            _cache().set(key, (version.stamp, value), None)
        except Exception as exc:
            logger.warning("page cache: cannot store %s (%s)", key, exc)
    if local is not None:
        local.remember(generation, version, key, pickle.dumps(value))
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


class _LocalCopy:
    """This process's copy of the content version and of the pages last read at it (Redis only).

    A hit then needs no round trip to Redis, and the copy stays exact: Redis tells this
    process whenever the version key changes. The copy's own connection asks for Redis's
    client-side-caching invalidations of that one key (`CLIENT TRACKING on REDIRECT <itself>
    BCAST PREFIX <key>`, Redis 6 or later), and every request first reads what has arrived with
    a poll that does not wait. Any write to the key from any process, its expiry or eviction,
    FLUSHDB/FLUSHALL, or a lost connection empties the copy, and requests read Redis again
    until it is refilled. Redis queues the message before it answers the writer, so a request
    that starts after a change was made sees it. Pages are kept most recently used first,
    within `PAGE_CACHE_LOCAL_BYTES`.
    """

    RETRY_SECONDS = 1.0

    def __init__(self, cache, max_bytes: int):
        self.server_url = cache._servers[0]
        self.key = cache.make_and_validate_key(VERSION_KEY)
        self.max_bytes = max_bytes
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.connection = None
        self.retry_at = 0.0
        self.version: ContentVersion | None = None
        # Pages by their cache key, and the values of `per_content_version`, pickled.
        self.entries: OrderedDict[str, CachedPage | bytes] = OrderedDict()
        self.size = 0
        self.generation = 0

    def _forget(self) -> None:
        self.version = None
        self.entries.clear()
        self.size = 0
        self.generation += 1

    def _connect(self) -> None:
        # RESP2: the invalidations then come as pub/sub messages on this connection.
        connection = redis.ConnectionPool.from_url(self.server_url, protocol=2, socket_timeout=5).make_connection()
        try:
            connection.connect()
            connection.send_command("CLIENT", "ID")
            own_id = connection.read_response()
            connection.send_command("CLIENT", "TRACKING", "on", "REDIRECT", own_id, "BCAST", "PREFIX", self.key)
            connection.read_response()
            connection.send_command("SUBSCRIBE", "__redis__:invalidate")
            connection.read_response()
        except Exception as exc:
            connection.disconnect()
            self.retry_at = time.monotonic() + self.RETRY_SECONDS
            logger.warning("page cache: no invalidations from Redis (%s); reading Redis on every request", exc)
            return
        self.connection = connection
        self._forget()

    def _poll(self) -> bool:
        """Read the invalidations that have arrived (under the lock); return whether the copy holds."""
        if self.pid != os.getpid():  # a forked child: the socket is the parent's
            self.connection, self.pid = None, os.getpid()
            self._forget()
        if self.connection is None:
            if time.monotonic() < self.retry_at:
                return False
            self._connect()
            return self.connection is not None
        try:
            while self.connection.can_read(timeout=0):
                self.connection.read_response()
                self._forget()
        except Exception as exc:
            logger.warning("page cache: lost the invalidations connection to Redis (%s)", exc)
            self.connection.disconnect()
            self.connection = None
            self._forget()
            return False
        return True

    def get(self, key: str) -> tuple[int, ContentVersion | None, CachedPage | bytes | None]:
        """Return the copy's generation, its version (None when unknown) and what it holds at `key`."""
        with self.lock:
            if not self._poll() or self.version is None or self.version.is_due:
                return self.generation, None, None
            entry = self.entries.get(key)
            if entry is not None:
                self.entries.move_to_end(key)
            return self.generation, self.version, entry

    def remember(
        self, generation: int, version: ContentVersion, key: str = "", entry: CachedPage | bytes | None = None
    ) -> None:
        """Keep `version` (read from Redis) and `entry` (a page, or a pickled value) at `key`.

        Unless the version key changed since `generation` was read: then what was read may be old.
        """
        with self.lock:
            if not self._poll() or self.generation != generation or version.is_due:
                return
            if self.version is None or self.version.stamp != version.stamp:
                self._forget()
                self.version = version
            if entry is None or key in self.entries:
                return
            self.entries[key] = entry
            self.size += _entry_bytes(entry)
            while self.size > self.max_bytes and self.entries:
                _, dropped = self.entries.popitem(last=False)
                self.size -= _entry_bytes(dropped)

    def forget(self) -> None:
        with self.lock:
            self._forget()


def _entry_bytes(entry: CachedPage | bytes) -> int:
    return (len(entry.content) if isinstance(entry, CachedPage) else len(entry)) + 1024


_local: _LocalCopy | None = None
_local_built = False
_local_lock = threading.Lock()


def _local_copy() -> _LocalCopy | None:
    """Return this process's local copy: only with a single Redis server as the page cache."""
    global _local, _local_built
    if not _local_built:
        with _local_lock:
            if not _local_built:
                cache = _cache()
                max_bytes = int(getattr(settings, "PAGE_CACHE_LOCAL_BYTES", 0))
                single_redis = isinstance(cache, RedisCache) and len(cache._servers) == 1
                _local = _LocalCopy(cache, max_bytes) if single_redis and max_bytes > 0 else None
                _local_built = True
    return _local


@receiver(setting_changed)
def _settings_changed(*, setting, **kwargs):
    global _local, _local_built
    if setting in {"CACHES", "PAGE_CACHE_ALIAS", "PAGE_CACHE_LOCAL_BYTES"}:
        with _local_lock:
            if _local is not None and _local.connection is not None:
                _local.connection.disconnect()
            _local, _local_built = None, False


@dataclass(frozen=True)
class _Lookup:
    address: _Address
    version: ContentVersion
    page: CachedPage | None  # the stored page, when it is current


def _is_current(page, version: ContentVersion, address: _Address) -> bool:
    return (
        isinstance(page, CachedPage)
        and page.stamp == version.stamp
        and not (address.ignored_params and page.status != 200)  # a redirect keeps the query it was given
    )


def _skipped_prefixes() -> tuple[str, ...]:
    return tuple("/" + url.lstrip("/") for url in (settings.STATIC_URL, settings.MEDIA_URL) if url and "://" not in url)


def _lookup(request: HttpRequest) -> _Lookup | None:
    """Return what the cache holds for the page `request` asks for; None when it is never cached.

    One cache read: the content version and the page together. Raises when the cache is down.
    """
    if _bypasses_cache(request) or request.path.startswith(_skipped_prefixes()):
        return None
    address = _address(request)
    if address is None:
        return None
    local = _local_copy()
    if local is not None:
        generation, version, page = local.get(address.key)
        if _is_current(page, version, address):
            return _Lookup(address=address, version=version, page=page)
    found = _cache().get_many([VERSION_KEY, address.key])
    version = _version_in_force(found.get(VERSION_KEY))
    page = found.get(address.key)
    current = _is_current(page, version, address)
    if local is not None:
        local.remember(generation, version, address.key, page if current else None)
    return _Lookup(address=address, version=version, page=page if current else None)


# Where `PageCacheApp` leaves its look-up for the middleware, in the WSGI environ (request.META).
LOOKUP_ENVIRON_KEY = "kabar.page_cache.lookup"
_NOT_LOOKED_UP = object()


class PageCacheApp:
    """WSGI application: answer cache hits before Django's request handling, misses through it.

    Wraps Django's WSGI application (`config/wsgi.py`), as WSGI middleware does. A hit costs the
    request object, one cache read and the stored response written out: no middleware chain,
    no URL resolution, no signals, which is most of what a hit cost inside Django. The rules
    are those of `PageCacheMiddleware` (the same functions): anonymous GET/HEAD, ALLOWED_HOSTS,
    the scheme and host in the key, conditional GET. Anything else, and any error (a
    disallowed host, the cache down), goes to Django, which answers as it would without this;
    a miss hands its look-up on to the middleware, so a request still reads the cache once.
    """

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        try:
            request = WSGIRequest(environ.copy())  # it rewrites PATH_INFO, which Django reads again
            lookup = _lookup(request)
        except Exception:
            return self.application(environ, start_response)  # Django answers, and logs, as usual
        if lookup is None or lookup.page is None:
            environ[LOOKUP_ENVIRON_KEY] = lookup
            return self.application(environ, start_response)
        page = lookup.page
        if page.status == 200 and ("HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ):
            response = _conditional(request, _rebuild(page), lookup.version)
            start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
            return [response.content]
        start_response(f"{page.status} {HTTPStatus(page.status).phrase}", list(page.headers))
        return [page.content]


class PageCacheMiddleware:
    """Answer anonymous GET/HEAD requests for public pages from the page cache, with one cache read.

    Behind `PageCacheApp` it answers what the app did not (it stores the pages a miss renders);
    alone (the test client, ASGI) it answers hits too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        lookup = request.META.get(LOOKUP_ENVIRON_KEY, _NOT_LOOKED_UP)
        if lookup is _NOT_LOOKED_UP:
            try:
                lookup = _lookup(request)
            except Exception as exc:  # the cache is down: serve the page uncached rather than fail
                logger.warning("page cache: cannot read the cache (%s); serving uncached", exc)
                return self.get_response(request)
        if lookup is None:
            return self.get_response(request)
        address, version = lookup.address, lookup.version
        setattr(request, VERSION_ATTR, version)
        if lookup.page is not None:
            return _conditional(request, _rebuild(lookup.page), version)

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
