"""What the commands that work on chosen posts share (`cache_images`, `check_links`)."""

from django.core.management.base import CommandError
from django.db.models import QuerySet

from blog.models import Post


def posts_with_ids(post_ids: list[int] | None) -> QuerySet | None:
    """Return the posts `--post ID …` names, or None when it names none.

    Raises CommandError naming the ids no post has, so that a typo fails instead of doing nothing.
    """
    if not post_ids:
        return None
    posts = Post.objects.filter(pk__in=post_ids)
    missing = sorted(set(post_ids) - set(posts.values_list("pk", flat=True)))
    if missing:
        raise CommandError(f"no post with id {', '.join(map(str, missing))}")
    return posts
