"""Background work: caching a post's remote images, re-rendering posts.

Tasks go through Django's tasks API (built in from Django 6.0, the django-tasks backport on
5.2). The queue is the one `settings.TASKS` names: by default the database, drained by any
number of `manage.py db_worker` processes; `TASKS_BACKEND=immediate` runs the work inline.
"""

from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the backport.
    from django_tasks import task


@task()
def cache_images_task(post_ids: list[int]) -> dict:
    """Cache the remote images of the given posts and re-render them."""
    from blog.images.caching import cache_images
    from blog.models import Post

    result = cache_images(posts=list(Post.objects.filter(pk__in=post_ids)))
    return {
        "cached": len(result.cached),
        "already_cached": len(result.already_cached),
        "failed": len(result.failed),
        "refused": len(result.refused),
    }


@task()
def render_posts_task(post_ids: list[int]) -> int:
    """Re-render the given posts; return how many changed."""
    from blog.models import Post
    from blog.rerendering import rerender_posts

    return rerender_posts(posts=Post.objects.filter(pk__in=post_ids)).changed


def enqueue_image_caching(*, post_ids: Iterable[int]) -> None:
    """Queue caching of the posts' images once the current transaction commits."""
    ids = sorted(set(post_ids))
    if ids:
        transaction.on_commit(lambda: cache_images_task.enqueue(ids))


def enqueue_rendering(*, post_ids: Iterable[int]) -> None:
    """Queue re-rendering of the posts once the current transaction commits."""
    ids = sorted(set(post_ids))
    if ids:
        transaction.on_commit(lambda: render_posts_task.enqueue(ids))


def requeue_stale_tasks(*, older_than: timedelta) -> int:
    """Put back in the queue tasks left running longer than `older_than` by a worker that died.

    A worker killed mid-task leaves its task marked running forever; Kabar's tasks are
    idempotent (an image already cached is skipped), so running such a task again is safe.
    """
    from django_tasks_db.models import DBTaskResult

    try:
        from django.tasks import TaskResultStatus
    except ImportError:  # Django 5.2: the backport.
        from django_tasks import TaskResultStatus

    stale = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=timezone.now() - older_than)
    return stale.update(status=TaskResultStatus.READY, started_at=None)


@task()
def check_links_task() -> dict:
    """Run the link check over every public post and store the report for the admin page."""
    from blog.links.checking import check_links, save_report

    report = check_links()
    save_report(report)
    return report.totals()
