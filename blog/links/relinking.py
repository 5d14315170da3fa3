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
    _state.pending = {"moved": set(), "appeared": False}
    try:
        yield
    finally:
        pending, _state.pending = _state.pending, None
    _relink(moved=pending["moved"], appeared=pending["appeared"])


def post_changed(post, *, old_permalink: str | None) -> None:
    """Re-link what links to `post` after it was added, moved, published or unpublished."""
    moved = {path for path in (old_permalink, post.permalink) if path} if old_permalink is not None else set()
    pending = getattr(_state, "pending", None)
    if pending is not None:
        pending["moved"] |= moved
        pending["appeared"] = pending["appeared"] or post.is_public
        return
    _relink(moved=moved, appeared=post.is_public, exclude=post.pk)


def post_deleted(sender, instance, **kwargs) -> None:
    """Re-render the posts that linked to a deleted post (their links fall back to what the body says)."""
    if kwargs.get("raw"):
        return
    _relink(moved={instance.permalink}, appeared=False, exclude=instance.pk)


def _relink(*, moved: set[str], appeared: bool, exclude: int | None = None) -> None:
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
        relink_unresolved(exclude=exclude)


def relink_unresolved(*, exclude: int | None = None) -> int:
    """Resolve again the links that named nothing when their post was rendered; return how many posts changed."""
    from blog.models import Post

    candidates = [
        pk
        for pk, links in Post.objects.exclude(internal_links={}).exclude(pk=exclude).values_list("pk", "internal_links")
        if any(not target for target in links.values())
    ]
    changed = 0
    for post in Post.objects.filter(pk__in=candidates).only(
        "pk", "body_html", "internal_links", "guid", "front_matter", "blogger_blog", "permalink"
    ):
        result = resolve_unresolved(body_html=post.body_html, links=post.internal_links, extra_hosts=post.old_hosts())
        if result.html != post.body_html or result.links != post.internal_links:
            Post.objects.filter(pk=post.pk).update(body_html=result.html, internal_links=result.links)
            changed += 1
    if changed:
        from blog.caching import content_changed

        content_changed()
    return changed
