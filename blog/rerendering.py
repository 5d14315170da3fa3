"""Re-render stored posts, e.g. after a renderer upgrade or once their images are cached."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from blog.models import Post

RENDERED_FIELDS = ["body_html", "image_url", "toc", "summary", "word_count", "reading_time", "internal_links"]


@dataclass
class RerenderResult:
    checked: int = 0
    changed: int = 0


def rerender_posts(
    *, posts: QuerySet[Post], dry_run: bool = False, progress: Callable[[Iterable], Iterable] | None = None
) -> RerenderResult:
    """Render each post again and store the result where it differs from what is stored."""
    result = RerenderResult()
    iterator = posts.order_by("pk").iterator(chunk_size=500)
    for post in progress(iterator) if progress else iterator:
        before = [getattr(post, name) for name in RENDERED_FIELDS]
        post.render()
        result.checked += 1
        if [getattr(post, name) for name in RENDERED_FIELDS] != before:
            result.changed += 1
            if not dry_run:
                post.save(update_fields=RENDERED_FIELDS)
    return result
