"""A worker killed in the middle of a task loses no work: another worker runs it again.

Everything here is real: a SQLite file shared by separate worker processes, an HTTP server
on 127.0.0.1 whose first answer never comes in time, and SIGKILL.
"""

import io
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from tests.conftest import REPO
from tests.processes import manage_shell, site_env


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


class _Server:
    """Serve /photo.png; the first request hangs until released, later ones answer at once."""

    def __init__(self):
        self.first_request = threading.Event()
        self.release = threading.Event()
        self.requests = 0
        body, outer = _png(), self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                if outer.requests == 1:
                    outer.first_request.set()
                    outer.release.wait(60)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/photo.png"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()


@pytest.fixture
def server():
    running = _Server()
    yield running
    running.close()


def test_killed_worker_task_is_run_again_by_another_worker(tmp_path, server):
    env = site_env(tmp_path)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True, timeout=120)
    post_id = manage_shell(
        env,
        "from django.db import transaction; from blog.models import Author, Post; from blog.tasks import "
        "enqueue_image_caching\n"
        "with transaction.atomic():\n"
        "    a = Author.objects.create(name='admin', slug='admin')\n"
        f"    p = Post.objects.create(title='T', slug='t', permalink='/t/', author=a, status='published', "
        f"body='![photo]({server.url})')\n"
        "    enqueue_image_caching(post_ids=[p.pk])\n"
        "print(p.pk)",
    )

    worker = [sys.executable, "manage.py", "run_worker", "--interval", "0.2", "--stale-after", "2"]
    first = subprocess.Popen(worker, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert server.first_request.wait(60), "the first worker never fetched the image"
        first.send_signal(signal.SIGKILL)  # dies mid-task, the download in flight
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    server.release.set()
    state = manage_shell(
        env,
        "from django_tasks_db.models import DBTaskResult; from blog.models import RemoteImage; "
        "print(DBTaskResult.objects.get().status, RemoteImage.objects.filter(status='cached').count())",
    )
    assert state == "RUNNING 0"  # the task is stranded and nothing half-done was recorded as cached

    time.sleep(2.5)  # past --stale-after
    second = subprocess.run([*worker, "--batch"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "requeued 1 task" in second.stderr

    outcome = manage_shell(
        env,
        "from django_tasks_db.models import DBTaskResult; from blog.models import Post, RemoteImage\n"
        "image = RemoteImage.objects.get()\n"
        f"post = Post.objects.get(pk={post_id})\n"
        "print(DBTaskResult.objects.get().status, image.status, image.width, image.height, "
        "RemoteImage.objects.count(), image.url in post.body_html.split('src=')[1][:200])",
    )
    assert outcome == "SUCCESSFUL cached 640 480 1 False"
    assert server.requests == 2


def test_a_long_task_on_a_live_worker_is_not_run_twice(tmp_path, server):
    env = site_env(tmp_path)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True, timeout=120)
    manage_shell(
        env,
        "from django.db import transaction; from blog.models import Author, Post; from blog.tasks import "
        "enqueue_image_caching\n"
        "with transaction.atomic():\n"
        "    a = Author.objects.create(name='admin', slug='admin')\n"
        f"    p = Post.objects.create(title='T', slug='t', permalink='/t/', author=a, status='published', "
        f"body='![photo]({server.url})')\n"
        "    enqueue_image_caching(post_ids=[p.pk])",
    )
    worker = [sys.executable, "manage.py", "run_worker", "--interval", "0.2", "--stale-after", "2"]
    first = subprocess.Popen(worker, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert server.first_request.wait(60), "the first worker never fetched the image"
        time.sleep(4)  # the task has run twice --stale-after, its worker alive and beating
        second = subprocess.run([*worker, "--batch"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert "requeued" not in second.stderr
        state = manage_shell(
            env, "from django_tasks_db.models import DBTaskResult; print(DBTaskResult.objects.get().status)"
        )
        assert state == "RUNNING"
        server.release.set()  # the slow download ends; the first worker finishes its task
        deadline = time.monotonic() + 60
        while manage_shell(
            env, "from django_tasks_db.models import DBTaskResult; print(DBTaskResult.objects.get().status)"
        ) != ("SUCCESSFUL"):
            assert time.monotonic() < deadline, "the first worker never finished its task"
            time.sleep(0.5)
    finally:
        server.release.set()
        first.terminate()
        try:
            first.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            first.kill()
            first.communicate()
    assert server.requests == 1  # one download: the task ran once
    assert manage_shell(env, "from blog.models import WorkerHeartbeat; print(WorkerHeartbeat.objects.count())") == "0"
