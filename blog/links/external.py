"""Check links to other sites with the image cache's safe fetcher: HEAD, then GET; bounded; answers cached."""

import hashlib
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache

from blog.images.fetching import FetchError, probe

CACHE_PREFIX = "kabar:linkcheck:"


def _cache_key(url: str) -> str:
    return CACHE_PREFIX + hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def _check(url: str, limits: dict[str, threading.Semaphore]) -> str:
    """Return why `url` is broken ('' when it answers 2xx)."""
    with limits[urlsplit(url).hostname or ""]:
        try:
            status = probe(url)
        except FetchError as error:
            return error.reason
    return "" if 200 <= status < 300 else f"HTTP {status}"


def check_external(
    urls: list[str],
    *,
    concurrency: int | None = None,
    per_host: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, str]:
    """Return, for each URL, why it is broken ('' when it works); answers are reused for LINK_CHECK_CACHE_SECONDS."""
    urls = list(dict.fromkeys(urls))
    keys = {url: _cache_key(url) for url in urls}
    known = cache.get_many(list(keys.values())) if urls else {}
    results = {url: known[keys[url]] for url in urls if keys[url] in known}
    todo = [url for url in urls if url not in results]
    if not todo:
        return results
    concurrency = max(1, concurrency or settings.IMAGE_CACHE_CONCURRENCY)
    per_host = max(1, per_host or settings.IMAGE_CACHE_PER_HOST)
    limits: dict[str, threading.Semaphore] = defaultdict(lambda: threading.BoundedSemaphore(per_host))
    for url in todo:
        limits[urlsplit(url).hostname or ""]  # made before the threads start
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="kabar-links") as pool:
        futures = {pool.submit(_check, url, dict(limits)): url for url in todo}
        for done, future in enumerate(as_completed(futures), start=1):
            url = futures[future]
            results[url] = future.result()
            if progress is not None:
                progress(done, len(todo))
    seconds = settings.LINK_CHECK_CACHE_SECONDS
    if seconds > 0:
        cache.set_many({keys[url]: results[url] for url in todo}, seconds)
    return results
