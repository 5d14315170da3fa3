"""Keep links between posts current: when a post moves, appears or goes, re-link the posts that name it.

A post's `body_html` holds the address its internal links had when it was rendered. When
another post's permalink changes, or it is published, unpublished or deleted, the posts that
link to it are rendered again; links that named nothing (the post they name came later in an
import, or was a draft) are tried again. An import defers all of it to the end of the run.
"""

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, unquote, urlsplit

from django.db import transaction
from django.db.models import Q

from blog.links.rewriting import resolve_unresolved

_state = threading.local()


@contextmanager
def deferred() -> Iterator[None]:
    """Re-link once, when the block ends, for every post changed in it (an import run)."""
    outer = getattr(_state, "pending", None)
    if outer is not None:
        yield
        return
    _state.pending = {"moved": set(), "appeared": set()}
    try:
        yield
    finally:
        pending, _state.pending = _state.pending, None
    _relink(moved=pending["moved"], appeared=pending["appeared"])


def post_changed(post, *, old_permalink: str | None) -> None:
    """Re-link what links to `post` after it was added, moved, published or unpublished."""
    moved = {path for path in (old_permalink, post.permalink) if path} if old_permalink is not None else set()
    pending = getattr(_state, "pending", None)
    appeared = post_tokens(post) if post.is_public else set()
    if pending is not None:
        pending["moved"] |= moved
        pending["appeared"] |= appeared
        return
    _relink(moved=moved, appeared=appeared, exclude=post.pk)


def _segments(path: str) -> set[str]:
    """Return the words of a path that can name one post: not dates, page numbers or index.php."""
    words = {unquote(segment).lower().removesuffix(".html") for segment in path.split("/")}
    return {word for word in words if word and not word.isdigit() and word != "index.php"}


def post_tokens(post) -> set[str]:
    """Return what an address naming `post` must contain: its id, slug, or a segment of its old paths."""
    # A guid like http://host/blog/?p=5 names the post by its id; its path is the blog's folder.
    guid_words = _segments(post.guid_path) if "?" not in post.guid else set()
    tokens = {post.slug.lower(), *_segments(post.permalink), *guid_words, *_segments(post.blogger_path)}
    if post.source_id is not None:
        tokens.add(str(post.source_id))
    return tokens - {""}


def url_tokens(url: str) -> set[str]:
    """Return the parts of an address that can name a post: path segments and ?p= / ?page_id= values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    query = parse_qs(parts.query)
    return _segments(parts.path) | {value for key in ("p", "page_id") for value in query.get(key, [])}


def post_deleted(sender, instance, **kwargs) -> None:
    """Re-render the posts that linked to a deleted post (their links fall back to what the body says)."""
    if kwargs.get("raw"):
        return
    _relink(moved={instance.permalink}, appeared=set(), exclude=instance.pk)


def _relink(*, moved: set[str], appeared: set[str], exclude: int | None = None) -> None:
    from blog.models import Post
    from blog.rerendering import rerender_posts

    if moved:
        # Posts whose stored HTML links to an address that changed meaning: render them again
        # from their body, so each link is resolved anew (or falls back to what was written).
        linking = Q()
        for path in moved:
            linking |= Q(body_html__contains=f'href="{html.escape(path, quote=True)}')
        rerender_posts(posts=Post.objects.filter(linking).exclude(pk=exclude))
    if appeared:
        relink_unresolved(tokens=appeared, exclude=exclude)


def relink_unresolved(*, tokens: set[str] | None = None, exclude: int | None = None) -> int:
    """Resolve again the links that named nothing when their post was rendered; return how many posts changed.

    `tokens`: only links that contain one of them (what a new post's addresses are made of) can
    resolve now; None tries every unresolved link.
    """
    from blog.models import Post

    candidates = [
        pk
        for pk, links in Post.objects.exclude(internal_links={}).exclude(pk=exclude).values_list("pk", "internal_links")
        if any(not target and (tokens is None or url_tokens(url) & tokens) for url, target in links.items())
    ]
    with transaction.atomic():  # one commit for all of them, not one per post
        changed = _resolve_again(candidates)
    if changed:
        from blog.caching import content_changed

        content_changed()
    return changed


def _resolve_again(candidates: list[int]) -> int:
    from blog.models import Post

    changed = 0
    for post in (
        Post.objects.filter(pk__in=candidates)
        .only("pk", "body_html", "internal_links", "guid", "front_matter", "blogger_blog", "permalink")
        .iterator(chunk_size=200)
    ):
        result = resolve_unresolved(body_html=post.body_html, links=post.internal_links, extra_hosts=post.old_hosts())
        if result.html != post.body_html or result.links != post.internal_links:
            Post.objects.filter(pk=post.pk).update(body_html=result.html, internal_links=result.links)
            changed += 1
    return changed
