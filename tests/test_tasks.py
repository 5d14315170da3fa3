"""The task queue: enqueueing after commit, re-rendering, and recovery of a dead worker's tasks."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from blog import tasks
from blog.models import Post, WorkerHeartbeat


@pytest.mark.django_db
def test_enqueue_waits_for_commit_and_queues_one_task(make_post, django_capture_on_commit_callbacks):
    posts = [make_post(), make_post()]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        tasks.enqueue_image_caching(post_ids=[posts[1].pk, posts[0].pk, posts[1].pk])
        assert not DBTaskResult.objects.exists()  # nothing before the commit
    assert len(callbacks) == 1
    queued = DBTaskResult.objects.get()
    assert queued.status == "READY"
    assert queued.task_path == "blog.tasks.cache_images_task"
    assert queued.args_kwargs["args"] == [sorted(p.pk for p in posts)]


@pytest.mark.django_db
def test_enqueue_nothing_for_no_posts(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        tasks.enqueue_rendering(post_ids=[])
    assert callbacks == []
    assert not DBTaskResult.objects.exists()


@pytest.mark.django_db
def test_render_task_rerenders_stale_html(make_post):
    post = make_post(body="Some **bold** words.")
    fresh = make_post(body="Already *fine*.")
    Post.objects.filter(pk=post.pk).update(body_html="<p>stale</p>")
    changed = tasks.render_posts_task.call([post.pk, fresh.pk])
    assert changed == 1
    assert "<strong>bold</strong>" in Post.objects.get(pk=post.pk).body_html


@pytest.mark.django_db
def test_requeue_stale_tasks_goes_by_the_workers_heartbeat(make_post, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for _n in range(5):
            tasks.enqueue_rendering(post_ids=[make_post().pk])
    now = timezone.now()
    hour_ago = now - timedelta(hours=1)
    # (worker, when its task started, its last heartbeat or None for a worker without one)
    claims = {
        "long-task-live-worker": (hour_ago, now - timedelta(seconds=5)),
        "dead-worker": (now - timedelta(seconds=30), now - timedelta(minutes=2)),
        "no-heartbeat-old": (hour_ago, None),
        "no-heartbeat-young": (now - timedelta(seconds=10), None),
    }
    results = list(DBTaskResult.objects.order_by("enqueued_at"))
    for result, (worker, (started, last_beat)) in zip(results, claims.items(), strict=False):
        result.claim(worker)
        DBTaskResult.objects.filter(pk=result.pk).update(started_at=started)
        if last_beat is not None:
            WorkerHeartbeat.objects.create(worker_id=worker, beat_at=last_beat)
    # The fifth task: claimed by a dead worker first, then by a live one that runs it now.
    results[4].claim("dead-worker")
    results[4].claim("long-task-live-worker")

    assert tasks.requeue_stale_tasks(stale_after=timedelta(minutes=1)) == 2
    status = {
        result.worker_ids[-1] + ("-again" if len(result.worker_ids) > 1 else ""): result.status
        for result in DBTaskResult.objects.all()
    }
    assert status == {
        "long-task-live-worker": "RUNNING",
        "dead-worker": "READY",
        "no-heartbeat-old": "READY",
        "no-heartbeat-young": "RUNNING",
        "long-task-live-worker-again": "RUNNING",
    }
    assert DBTaskResult.objects.get(status="READY", worker_ids=["dead-worker"]).started_at is None
    # The dead worker's heartbeat is gone with it; the live one's stays.
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["long-task-live-worker"]


@pytest.mark.django_db
def test_cache_images_task_caches_and_rerenders(make_post, httpserver, settings):
    from tests.images_helpers import image_bytes

    settings.IMAGE_CACHE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.IMAGE_CACHE_ALLOWED_PORTS = ["80", "443", "1024-65535"]
    httpserver.expect_request("/a.png").respond_with_data(image_bytes("PNG", (600, 400)), content_type="image/png")
    post = make_post(body=f"![a]({httpserver.url_for('/a.png')})")
    outcome = tasks.cache_images_task.call([post.pk])
    assert outcome == {"cached": 1, "already_cached": 0, "failed": 0, "refused": 0}
    assert httpserver.url_for("/a.png") not in Post.objects.get(pk=post.pk).body_html
    assert tasks.cache_images_task.call([post.pk])["already_cached"] == 1
