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


def beat(*, worker_id: str) -> None:
    """Record that the worker `worker_id` is alive now."""
    from blog.models import WorkerHeartbeat

    WorkerHeartbeat.objects.update_or_create(worker_id=worker_id, defaults={"beat_at": timezone.now()})


def forget_worker(*, worker_id: str) -> None:
    """Remove the heartbeat of a worker that stopped cleanly."""
    from blog.models import WorkerHeartbeat

    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()


def requeue_stale_tasks(*, stale_after: timedelta) -> int:
    """Put back in the queue the running tasks whose worker has not beaten for `stale_after`.

    A worker killed mid-task leaves its task marked running forever; Kabar's tasks are
    idempotent (an image already cached is skipped), so running such a task again is safe.
    The worker that claimed a task last is the one running it: while its heartbeat is fresh
    the task stays, however long it runs. A worker with no heartbeat at all (a plain
    `db_worker`) is judged by the task's age alone.
    """
    from django_tasks_db.models import DBTaskResult

    from blog.models import WorkerHeartbeat

    try:
        from django.tasks import TaskResultStatus
    except ImportError:  # Django 5.2: the backport.
        from django_tasks import TaskResultStatus

    cutoff = timezone.now() - stale_after
    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING)
    claims = list(running.values_list("pk", "worker_ids", "started_at"))
    if not claims:
        WorkerHeartbeat.objects.filter(beat_at__lt=cutoff).delete()
        return 0
    workers = {ids[-1] for _pk, ids, _started in claims if ids}
    beats = dict(WorkerHeartbeat.objects.filter(worker_id__in=workers).values_list("worker_id", "beat_at"))
    lost = []
    for pk, ids, started_at in claims:
        last_beat = beats.get(ids[-1]) if ids else None
        if (last_beat or started_at or cutoff) < cutoff:
            lost.append(pk)
    requeued = running.filter(pk__in=lost).update(status=TaskResultStatus.READY, started_at=None) if lost else 0
    # The rows of workers gone for good; a worker that only paused writes its row again.
    WorkerHeartbeat.objects.filter(beat_at__lt=cutoff).delete()
    return requeued


@task()
def check_links_task() -> dict:
    """Run the link check over every public post and store the report for the admin page."""
    from blog.links.checking import check_links, save_report

    report = check_links()
    save_report(report)
    return report.totals()
