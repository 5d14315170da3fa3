"""When images are cached: discover a post's images, fetch and process them in a thread pool, record them.

Worker threads only fetch, process and write files through default_storage; every database
read and write happens in the calling thread as results arrive, so no worker ever opens a
database connection (nothing to close, and SQLite sees one writer).
"""

import html as html_lib
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from blog.caching import batched_changes
from blog.images.discovery import find_images, picture_key
from blog.images.fetching import FetchError, FetchRefused, fetch
from blog.images.processing import ImageRejected, process_image
from blog.images.storing import delete_files, store_image
from blog.models import Attachment, ImageVariant, Post, RemoteImage
from blog.rerendering import rerender_posts

logger = logging.getLogger(__name__)

CHUNK = 500

Progress = Callable[[int, int], None]


@dataclass
class CacheResult:
    """What a caching run did, URL by URL."""

    cached: list[str] = field(default_factory=list)
    already_cached: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    to_fetch: list[str] = field(default_factory=list)
    posts_rerendered: int = 0

    @property
    def ok(self) -> bool:
        """Return whether nothing failed or was refused in this run."""
        return not self.failed and not self.refused


@dataclass(frozen=True)
class _Work:
    pk: int
    url: str
    etag: str
    last_modified: str
    was_cached: bool = False


@dataclass(frozen=True)
class _Outcome:
    work: _Work
    kind: str  # "cached", "unchanged", "failed" or "refused"
    reason: str = ""
    etag: str = ""
    last_modified: str = ""
    digest: str = ""
    format: str = ""
    size: int = 0
    width: int = 0
    height: int = 0
    original: str = ""
    variants: tuple[tuple[int, int, str, str], ...] = ()
    created: tuple[str, ...] = ()


def post_images(*, post: Post) -> list[str]:
    """Return the master URLs of the images `post` shows (rendered body, raw body, front matter)."""
    from blog import rendering

    urls = find_images(
        html=rendering.render_post(post.body, variables=post.template_variables()).html,
        body=post.body,
        front_matter=post.front_matter,
        base_url=post.old_site_url,
    )
    # A WordPress thumbnail (photo-300x200.jpg) of a known attachment: its original is cached too,
    # and shown in its place.
    originals = {picture_key(url) for url in urls} - set(urls)
    if originals:
        urls += list(Attachment.objects.filter(url__in=originals).values_list("url", flat=True))
    return urls


def discover(*, posts: Iterable[Post]) -> dict[int, list[str]]:
    """Return each post's image URLs, by post id."""
    return {post.pk: post_images(post=post) for post in posts}


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing(urls: list[str]) -> dict[str, RemoteImage]:
    found = {}
    for chunk in _chunks(urls):
        found.update({image.url: image for image in RemoteImage.objects.filter(url__in=chunk)})
    return found


def _record_links(found: dict[int, list[str]]) -> dict[str, RemoteImage]:
    """Create the records of new URLs and link every post to exactly its images; return the records."""
    urls = list(dict.fromkeys(url for post_urls in found.values() for url in post_urls))
    through = RemoteImage.posts.through
    with transaction.atomic():
        for chunk in _chunks(urls):
            RemoteImage.objects.bulk_create(
                [RemoteImage(url=url, path=urlsplit(url).path) for url in chunk], ignore_conflicts=True
            )
        records = _existing(urls)
        for post_ids in _chunks(list(found)):
            through.objects.filter(post_id__in=post_ids).delete()
        links = [
            through(post_id=post_id, remoteimage_id=records[url].pk)
            for post_id, post_urls in found.items()
            for url in post_urls
        ]
        through.objects.bulk_create(links, ignore_conflicts=True, batch_size=CHUNK)
    return records


def _download(work: _Work, *, host_limits: dict[str, threading.Semaphore]) -> _Outcome:
    """Return the outcome of fetching, checking and storing one image (runs in a worker thread)."""
    try:
        with host_limits[urlsplit(work.url).hostname or ""]:
            fetched = fetch(work.url, etag=work.etag, last_modified=work.last_modified)
        if fetched.not_modified:
            return _Outcome(work, "unchanged", etag=fetched.etag, last_modified=fetched.last_modified)
        processed = process_image(fetched.content)
        try:
            stored = store_image(content=fetched.content, processed=processed)
        except OSError as error:
            return _Outcome(work, "failed", f"could not store the files: {error}")
    except FetchRefused as error:
        return _Outcome(work, "refused", error.reason)
    except FetchError as error:
        return _Outcome(work, "failed", error.reason)
    except ImageRejected as error:
        return _Outcome(work, "refused" if error.refused else "failed", error.reason)
    except Exception as error:  # One bad image must not stop the run; the reason is recorded.
        logger.exception("caching %s failed", work.url)
        return _Outcome(work, "failed", f"unexpected error: {type(error).__name__}: {error}")
    return _Outcome(
        work,
        "cached",
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        digest=stored.digest,
        format=processed.format.name,
        size=len(fetched.content),
        width=processed.width,
        height=processed.height,
        original=stored.original,
        variants=tuple(
            (v.rendition.width, v.rendition.height, v.rendition.spec.format.name, v.name) for v in stored.variants
        ),
        created=tuple(stored.created),
    )


def _save_outcome(outcome: _Outcome) -> str:
    """Write one outcome to its record; return the record's old content hash when its files changed."""
    now = timezone.now()
    updates = {"attempts": F("attempts") + 1, "updated_at": now}
    if outcome.kind in ("failed", "refused"):
        # A refresh that fails keeps the cached copy: the old host going away is why it exists.
        if not outcome.work.was_cached:
            updates["status"] = outcome.kind
        updates["last_error"] = outcome.reason
        RemoteImage.objects.filter(pk=outcome.work.pk).update(**updates)
        return ""
    updates.update(status=RemoteImage.Status.CACHED, last_error="", fetched_at=now)
    updates.update(etag=outcome.etag[:500], last_modified=outcome.last_modified[:100])
    if outcome.kind == "unchanged":
        RemoteImage.objects.filter(pk=outcome.work.pk).update(**updates)
        return ""
    with transaction.atomic():
        old_hash = (
            RemoteImage.objects.select_for_update().filter(pk=outcome.work.pk).values_list("content_hash", flat=True)
        ).first()
        updates.update(
            content_hash=outcome.digest,
            format=outcome.format,
            size=outcome.size,
            width=outcome.width,
            height=outcome.height,
            original=outcome.original,
        )
        RemoteImage.objects.filter(pk=outcome.work.pk).update(**updates)
        ImageVariant.objects.filter(image_id=outcome.work.pk).delete()
        ImageVariant.objects.bulk_create(
            ImageVariant(image_id=outcome.work.pk, width=width, height=height, format=fmt, name=name)
            for width, height, fmt, name in outcome.variants
        )
    return old_hash if old_hash and old_hash != outcome.digest else ""


def _delete_unused_files(*, digest: str) -> None:
    """Delete the files of content hash `digest` when no record uses them any more."""
    from django.core.files.storage import default_storage

    from blog.images.naming import image_folder

    if RemoteImage.objects.filter(content_hash=digest).exists():
        return
    folder = image_folder(digest)
    try:
        _dirs, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    delete_files(names=[f"{folder}/{name}" for name in files])


def _select_work(
    records: Iterable[RemoteImage], *, retry_failed: bool, refresh: bool, result: CacheResult
) -> list[_Work]:
    """Return the records to fetch now, filing the others into `result`."""
    work = []
    for record in records:
        status = record.status
        conditional = status == RemoteImage.Status.CACHED
        if status == RemoteImage.Status.CACHED and not refresh:
            result.already_cached.append(record.url)
            continue
        if status in (RemoteImage.Status.FAILED, RemoteImage.Status.REFUSED) and not retry_failed:
            result.skipped.append((record.url, f"{status} earlier: {record.last_error}"))
            continue
        etag, last_modified = (record.etag, record.last_modified) if conditional else ("", "")
        work.append(_Work(record.pk, record.url, etag, last_modified, was_cached=conditional))
    return work


def _rerender(*, image_ids: list[int], found: dict[int, list[str]]) -> int:
    """Render again the posts that show these newly cached images, and this run's posts whose
    HTML still shows the remote URL of a cached image; return how many changed.

    The second set matters when another worker cached a shared image first: its re-render ran
    before this run linked its posts to the image.
    """
    all_urls = list({url for urls in found.values() for url in urls})
    cached_urls = set()
    for chunk in _chunks(all_urls):
        cached = RemoteImage.objects.filter(status=RemoteImage.Status.CACHED, url__in=chunk)
        cached_urls.update(cached.values_list("url", flat=True))
    stale = []
    for chunk in _chunks([pk for pk, urls in found.items() if cached_urls.intersection(urls)]):
        for pk, body_html in Post.objects.filter(pk__in=chunk).values_list("pk", "body_html"):
            shown = cached_urls.intersection(found[pk])
            if any(url in body_html or html_lib.escape(url) in body_html for url in shown):
                stale.append(pk)
    posts = Post.objects.filter(Q(images__in=image_ids) | Q(pk__in=stale)).values("pk")
    with batched_changes():
        return rerender_posts(posts=Post.objects.filter(pk__in=posts)).changed


def cache_images(
    *,
    posts: Iterable[Post] | None = None,
    retry_failed: bool = False,
    refresh: bool = False,
    concurrency: int | None = None,
    per_host: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> CacheResult:
    """Cache the images of `posts` (all posts when None) and re-render the posts whose images changed.

    With `posts=None` the run also picks up pending records no post was read for (an admin
    "retry"). `refresh` asks the server again for cached images, conditionally (ETag /
    Last-Modified; a 304 changes nothing).
    """
    result = CacheResult()
    selected = Post.objects.all() if posts is None else posts
    if hasattr(selected, "only"):
        selected = selected.only("pk", *Post.RENDER_INPUT_FIELDS).iterator(chunk_size=CHUNK)
    found = discover(posts=selected)
    urls = list(dict.fromkeys(url for post_urls in found.values() for url in post_urls))
    if dry_run:
        records = _existing(urls)
        known = [records[url] for url in urls if url in records]
        work = _select_work(known, retry_failed=retry_failed, refresh=refresh, result=result)
        result.to_fetch = [item.url for item in work] + [url for url in urls if url not in records]
        return result
    records = _record_links(found)
    candidates = [records[url] for url in urls]
    if posts is None:
        candidates += RemoteImage.objects.filter(status=RemoteImage.Status.PENDING).exclude(url__in=urls)
    work = _select_work(candidates, retry_failed=retry_failed, refresh=refresh, result=result)
    changed = _run(work, concurrency=concurrency, per_host=per_host, result=result, progress=progress)
    result.posts_rerendered = _rerender(image_ids=changed, found=found)
    return result


def _run(
    work: list[_Work],
    *,
    concurrency: int | None,
    per_host: int | None,
    result: CacheResult,
    progress: Progress | None,
) -> list[int]:
    """Fetch `work` in a bounded pool with a per-host limit; return the ids of images now cached anew."""
    if not work:
        return []
    concurrency = max(1, concurrency or settings.IMAGE_CACHE_CONCURRENCY)
    per_host = max(1, per_host or settings.IMAGE_CACHE_PER_HOST)
    limits: dict[str, threading.Semaphore] = defaultdict(lambda: threading.BoundedSemaphore(per_host))
    for item in work:
        limits[urlsplit(item.url).hostname or ""]  # created here, before the threads start
    changed = []
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="kabar-images") as pool:
        futures = [pool.submit(_download, item, host_limits=dict(limits)) for item in work]
        for done, future in enumerate(as_completed(futures), start=1):
            outcome = future.result()
            try:
                old_hash = _save_outcome(outcome)
            except DatabaseError as error:
                delete_files(names=list(outcome.created))
                result.failed.append((outcome.work.url, f"database error: {error}"))
            else:
                if outcome.kind == "cached":
                    result.cached.append(outcome.work.url)
                    changed.append(outcome.work.pk)
                elif outcome.kind == "unchanged":
                    result.already_cached.append(outcome.work.url)
                else:
                    getattr(result, outcome.kind).append((outcome.work.url, outcome.reason))
                if old_hash:
                    _delete_unused_files(digest=old_hash)
            if progress is not None:
                progress(done, len(work))
    return changed


def cache_post_images(post_id: int, **options) -> CacheResult:
    """Cache the images of one post (what a background task wraps)."""
    return cache_images(posts=Post.objects.filter(pk=post_id), **options)
