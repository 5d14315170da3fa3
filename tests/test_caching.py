"""Whole-page caching, its invalidation on every content change, and conditional GET."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from taggit.models import Tag

from blog.caching import bump_content_version, current_content_version
from blog.models import Post, Redirect
from tests.conftest import REPO, SAMPLE_POSTS


def body(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_a_second_anonymous_request_is_served_from_the_cache(client, sample_post, django_assert_num_queries):
    first = client.get(sample_post.permalink)
    with django_assert_num_queries(0):
        second = client.get(sample_post.permalink)
    assert second.status_code == 200
    assert second.content == first.content
    assert second["Content-Type"] == "text/html; charset=utf-8"


def test_a_cached_page_carries_the_same_security_headers(client, sample_post, django_assert_num_queries):
    first = client.get(sample_post.permalink)
    with django_assert_num_queries(0):
        second = client.get(sample_post.permalink)
    for name in (
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "X-Frame-Options",
        "Cross-Origin-Opener-Policy",
        "Cache-Control",
        "ETag",
        "Last-Modified",
    ):
        assert second[name] == first[name], name
    assert "default-src 'self'" in second["Content-Security-Policy"]
    assert second["Cache-Control"] == "no-cache"


def test_pages_are_served_uncached_when_the_cache_is_down(client, sample_post):
    from django.test import override_settings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    down = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed}/0",
        }
    }
    with override_settings(CACHES=down):
        response = client.get(sample_post.permalink)
        home = client.get("/")  # the archive index and the menu are computed without the cache
    assert response.status_code == 200
    assert "Mengenal Microservices" in response.content.decode()
    assert home.status_code == 200 and "Mengenal Microservices" in home.content.decode()


def _cache_entries() -> int:
    """Return how many entries the real cache backend holds (files, or Redis keys)."""
    from django.core.cache import cache

    if hasattr(cache, "_list_cache_files"):
        return len(cache._list_cache_files())
    client = cache._cache.get_client(write=False)
    return sum(1 for _ in client.scan_iter(match=f"{cache.key_prefix}*"))


def test_query_parameters_the_views_ignore_make_no_cache_entries(client, make_post, django_assert_num_queries):
    import secrets

    for n in range(12):
        make_post(title=f"Listed {n}")
    home = client.get("/")
    page_two = client.get("/page/2/")
    before = _cache_entries()
    for _ in range(2000):
        response = client.get(f"/?utm_source={secrets.token_hex(8)}&fbclid={secrets.token_hex(4)}")
        assert response.status_code == 200
    assert response.content == home.content  # the same page, from the same entry
    with django_assert_num_queries(0):
        assert client.get(f"/?utm={secrets.token_hex(8)}").content == home.content
    assert _cache_entries() == before

    # The parameters a view reads are part of the key: ?page=2 is page 2, with or without utm.
    assert "Listed 11" not in home.content.decode()
    paged = client.get(f"/?page=2&utm={secrets.token_hex(8)}")
    assert "Listed 11" in paged.content.decode()
    assert "Listed 11" in page_two.content.decode()
    assert _cache_entries() == before + 1
    with django_assert_num_queries(0):
        assert client.get(f"/?utm={secrets.token_hex(8)}&page=2").content == paged.content

    # Values without bound are never stored: searches, and page numbers past the last page.
    for _ in range(50):
        assert client.get(f"/search/?q={secrets.token_hex(8)}").status_code == 200
        assert client.get(f"/?page={secrets.randbelow(10**9) + 10}").status_code == 404
        assert client.get(f"/?page={secrets.token_hex(4)}x").status_code == 404
    assert _cache_entries() == before + 1


def test_a_redirect_keeps_the_query_it_was_given(client, sample_post):
    assert client.get("/?p=161")["Location"] == sample_post.permalink  # cached
    response = client.get("/category/tutorialblogger?utm_source=x")
    assert (response.status_code, response["Location"]) == (301, "/category/tutorialblogger/?utm_source=x")
    response = client.get("/category/tutorialblogger?utm_source=y")
    assert (response.status_code, response["Location"]) == (301, "/category/tutorialblogger/?utm_source=y")


def test_cached_redirects_and_404s_answer_the_same(client, sample_post, django_assert_num_queries):
    client.get("/?p=161")
    client.get("/gone/")
    with django_assert_num_queries(0):
        redirect = client.get("/?p=161")
        missing = client.get("/gone/")
    assert (redirect.status_code, redirect["Location"]) == (301, sample_post.permalink)
    assert missing.status_code == 404


def test_an_edit_shows_at_once(client, sample_post, category):
    assert "Mengenal Microservices" in body(client, sample_post.permalink)
    assert "Mengenal Microservices" in body(client, "/")
    sample_post.title = "Microservices, explained again"
    sample_post.save()
    assert "Microservices, explained again" in body(client, sample_post.permalink)
    assert "Microservices, explained again" in body(client, "/")
    assert "Microservices, explained again" in body(client, "/feed/")


def test_changes_to_related_content_show_at_once(client, sample_post, category):
    html = body(client, sample_post.permalink)
    assert ">TutorialBlogger</a>" in html
    category.name = "Tutorial Blogger"
    category.save()
    assert ">Tutorial Blogger</a>" in body(client, sample_post.permalink)

    sample_post.author.display_name = "Admin Kabar"
    sample_post.author.save()
    assert ">Admin Kabar</a>" in body(client, sample_post.permalink)

    sample_post.tags.add("docker")
    assert "#docker</a>" in body(client, sample_post.permalink)
    Tag.objects.filter(name="docker").first().delete()
    assert "#docker</a>" not in body(client, sample_post.permalink)

    sample_post.categories.clear()
    assert ">Tutorial Blogger</a>" not in body(client, sample_post.permalink)


def test_new_redirect_and_deleted_post_show_at_once(client, sample_post):
    assert client.get("/lama/").status_code == 404
    Redirect.objects.create(old_path="/lama/", post=sample_post)
    assert client.get("/lama/").status_code == 301
    sample_post.delete()
    assert client.get(sample_post.permalink).status_code == 404


def test_publishing_a_draft_shows_at_once(client, make_post):
    draft = make_post(title="Fresh news", status=Post.Status.DRAFT)
    assert client.get(draft.permalink).status_code == 404
    assert "Fresh news" not in body(client, "/")
    draft.status = Post.Status.PUBLISHED
    draft.save(update_fields=["status", "updated_at"])
    assert client.get(draft.permalink).status_code == 200
    assert "Fresh news" in body(client, "/")


def test_scheduled_post_appears_when_due_without_any_save(client, make_post):
    make_post(title="Already out")
    due = make_post(title="Due soon", date=timezone.now() + timedelta(seconds=1.5))
    assert "Due soon" not in body(client, "/")
    assert client.get(due.permalink).status_code == 404
    time.sleep(1.6)
    assert "Due soon" in body(client, "/")
    assert client.get(due.permalink).status_code == 200


def test_logged_in_editors_bypass_the_cache(client, sample_post, django_user_model):
    editor = django_user_model.objects.create_user(username="editor", is_staff=True)
    editor.user_permissions.add(Permission.objects.get(codename="change_post"))
    client.get(sample_post.permalink)  # cached for readers
    Post.objects.filter(pk=sample_post.pk).update(title="Changed behind the cache's back")
    assert "Changed behind the cache" not in body(client, sample_post.permalink)
    client.force_login(editor)
    assert "Changed behind the cache" in body(client, sample_post.permalink)


def test_page_cache_can_be_turned_off(client, sample_post, settings):
    settings.PAGE_CACHE_SECONDS = 0
    client.get(sample_post.permalink)
    Post.objects.filter(pk=sample_post.pk).update(title="Seen without cache")
    assert "Seen without cache" in body(client, sample_post.permalink)


@pytest.mark.parametrize("url", ["post", "/2022/10/", "/feed/", "/feed/atom/", "/category/tutorialblogger/"])
def test_revalidation_gets_304_until_content_changes(client, sample_post, url):
    url = sample_post.permalink if url == "post" else url
    first = client.get(url)
    assert first.status_code == 200
    etag, last_modified = first["ETag"], first["Last-Modified"]

    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304

    time.sleep(1.01)  # Last-Modified has whole seconds
    sample_post.title = "A new title"
    sample_post.save()
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert "A new title" in changed.content.decode()
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 200


def test_content_version_only_moves_forward(db):
    first = current_content_version()
    second = bump_content_version()
    third = bump_content_version()
    assert first.stamp < second.stamp < third.stamp


@pytest.mark.django_db(transaction=True)
def test_the_version_is_bumped_again_when_the_transaction_commits(make_post):
    from django.db import transaction

    post = make_post(title="Before")
    with transaction.atomic():
        post.title = "In a transaction"
        post.save()
        inside = current_content_version()
        time.sleep(0.01)
    assert current_content_version().stamp > inside.stamp


@pytest.mark.django_db
def test_an_import_makes_pages_stale_once_per_batch_not_per_post(tmp_path, client, sample_post, monkeypatch):
    from blog import caching
    from blog.importing import BATCH_SIZE, import_paths

    bumps = []
    real_bump = caching.bump_content_version
    monkeypatch.setattr(caching, "bump_content_version", lambda: bumps.append(1) or real_bump())
    client.get(sample_post.permalink)  # cached
    for n in range(BATCH_SIZE + 5):  # two batches
        (tmp_path / f"2024-01-01-p{n}.md").write_text(
            f"---\ntitle: P{n}\ndate: 2024-01-01\npermalink: /p{n}/\n---\nBody {n}\n", encoding="utf-8"
        )
    result = import_paths([tmp_path])
    assert result.created == BATCH_SIZE + 5
    assert len(bumps) == 2
    with caching.batched_changes():
        with caching.batched_changes():
            caching.content_changed()
        assert len(bumps) == 2  # the outer block has not ended yet
    assert len(bumps) == 3
    response = client.get("/p3/")
    assert response.status_code == 200  # the new content is served, not a stale 404


# --- Across processes: a real server, and changes made by other processes -----------------


class _Site:
    """The embedded default (SQLite file, file cache) served by gunicorn with two worker processes.

    `extra_env` changes it: REDIS_URL for the Redis cache.
    """

    def __init__(self, tmp_path, **extra_env):
        self.env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "REDIS_URL"}} | {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "CACHE_DIR": str(tmp_path / "cache"),
            "MEDIA_ROOT": str(tmp_path / "media"),
            "TASKS_BACKEND": "database",
            "WEB_CONCURRENCY": "2",
            **extra_env,
        }
        self.manage("migrate", "--noinput")
        self.manage("import_posts", str(SAMPLE_POSTS))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
        env = self.env | {"GUNICORN_BIND": f"127.0.0.1:{self.port}"}
        self.server = subprocess.Popen(gunicorn, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.get("/healthz")
                break
            except OSError:
                if time.monotonic() > deadline or self.server.poll() is not None:
                    raise
                time.sleep(0.2)

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def python(self, code: str) -> str:
        return self.manage("shell", "-c", code)

    def get(self, path: str, **headers) -> tuple[int, dict, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def pages(self, path: str) -> list[str]:
        """Return the bodies of several requests, so that both worker processes answer some."""
        answers = [self.get(path) for _ in range(6)]
        assert {status for status, _, _ in answers} == {200}, path
        return [body for _, _, body in answers]

    def close(self):
        self.server.terminate()
        self.server.communicate(timeout=30)


@pytest.fixture
def site(tmp_path):
    running = _Site(tmp_path)
    yield running
    running.close()


SAMPLE_TITLE = "Mengenal Microservices: Pengertian, Contoh, dan Kelebihannya"
SAMPLE_URL = "/index.php/2022/10/29/mengenal-microservices-pengertian-contoh-dan-kelebihannya/"


def test_changes_from_other_processes_show_on_the_next_request(site, tmp_path):
    assert all(SAMPLE_TITLE in body for body in site.pages("/"))
    status, headers, _ = site.get(SAMPLE_URL)
    assert status == 200
    assert headers["Cache-Control"] == "no-cache"  # browsers ask again every time
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert site.get(SAMPLE_URL, **{"If-None-Match": etag})[0] == 304
    assert site.get(SAMPLE_URL, **{"If-Modified-Since": last_modified})[0] == 304

    # The pages are cached: a write that skips the model's signals is not seen...
    site.python(f"from blog.models import Post; Post.objects.filter(permalink='{SAMPLE_URL}').update(title='Hidden')")
    assert all(SAMPLE_TITLE in body for body in site.pages(SAMPLE_URL))

    # ...but a save in another process (the admin, run_worker, a shell) shows at once, everywhere.
    time.sleep(1.01)  # Last-Modified has whole seconds
    site.python(
        "from blog.models import Post\n"
        f"post = Post.objects.get(permalink='{SAMPLE_URL}')\n"
        "post.title = 'Microservices, saved elsewhere'\n"
        "post.save()\n"
    )
    assert all("Microservices, saved elsewhere" in body for body in site.pages(SAMPLE_URL))
    assert all("Microservices, saved elsewhere" in body for body in site.pages("/"))
    assert site.get(SAMPLE_URL, **{"If-None-Match": etag})[0] == 200
    assert site.get(SAMPLE_URL, **{"If-Modified-Since": last_modified})[0] == 200

    # An import_posts run in another process.
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "2024-05-01-imported-elsewhere.md").write_text(
        "---\ntitle: Imported elsewhere\ndate: 2024-05-01 10:00:00\npermalink: /imported-elsewhere/\n---\nHello.\n",
        encoding="utf-8",
    )
    assert site.get("/imported-elsewhere/")[0] == 404
    site.manage("import_posts", str(folder))
    assert all("Imported elsewhere" in body for body in site.pages("/"))
    assert all("Hello." in body for body in site.pages("/imported-elsewhere/"))


def test_a_post_scheduled_from_another_process_appears_at_its_time(site):
    assert all("Due shortly" not in body for body in site.pages("/"))
    printed = site.python(
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from blog.models import Author, Post\n"
        "due = timezone.now() + timedelta(seconds=4)\n"
        "Post.objects.create(title='Due shortly', slug='due-shortly', permalink='/due-shortly/', date=due,\n"
        "                    author=Author.objects.first(), status=Post.Status.PUBLISHED, body='Soon.')\n"
        "print(due.timestamp())\n"
    )
    due = float(printed.split()[-1])
    assert time.time() < due, "the server took too long to answer: the test proves nothing"
    assert all("Due shortly" not in body for body in site.pages("/"))
    assert site.get("/due-shortly/")[0] == 404
    time.sleep(max(0.0, due - time.time()) + 0.1)
    assert all("Due shortly" in body for body in site.pages("/"))
    assert all("Soon." in body for body in site.pages("/due-shortly/"))


# --- With Redis: each process answers hits from its own memory, and hears every change -------

# A Redis database of this module's own: the test empties it.
REDIS_SITE_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def redis_site(tmp_path):
    import redis

    client = redis.Redis.from_url(REDIS_SITE_URL)
    client.flushdb()
    # One worker process (4 threads): which process answers a request cannot be chosen, and the
    # test must know that the one answering holds the page. Changes come from other processes.
    running = _Site(tmp_path, REDIS_URL=REDIS_SITE_URL, CACHE_KEY_PREFIX="kabar-test", WEB_CONCURRENCY="1")
    yield running, client
    running.close()
    client.flushdb()


def _hidden_edit(site, title: str) -> None:
    """Change the sample post's title in the database only: no signal, so no cache hears of it."""
    site.python(f"from blog.models import Post; Post.objects.filter(permalink='{SAMPLE_URL}').update(title='{title}')")


def _drop_redis_pages(client) -> None:
    """Delete the pages Redis holds, keeping the content version: only process memory has them now."""
    for key in client.scan_iter(match="kabar-test:*:kabar:site:page:*"):
        client.delete(key)


def _many(site, path: str) -> set[str]:
    """Return the titles of 24 answers."""
    titles = set()
    for _ in range(24):
        status, _, body = site.get(path)
        assert status == 200, path
        titles.add(body.split("<title>", 1)[1].split("</title>", 1)[0])
    return titles


def _invalidation_connections(client) -> list[dict]:
    return [c for c in client.client_list(_type="pubsub") if c["db"] == "13" and "TRACKING" not in c.get("flags", "")]


def test_with_redis_hits_come_from_process_memory_and_every_change_is_heard(redis_site):
    site, client = redis_site
    assert all(SAMPLE_TITLE in title for title in _many(site, SAMPLE_URL))

    # Redis loses the page and the database changes behind the cache's back: the workers still
    # answer the page they hold, so a hit reads neither Redis's copy nor the database.
    _hidden_edit(site, "Edited behind the back")
    _drop_redis_pages(client)
    assert all(SAMPLE_TITLE in title for title in _many(site, SAMPLE_URL))

    # A save in another process: Redis tells every worker at once.
    site.python(
        "from blog.models import Post\n"
        f"post = Post.objects.get(permalink='{SAMPLE_URL}')\n"
        "post.title = 'Saved elsewhere'\n"
        "post.save()\n"
    )
    assert all("Saved elsewhere" in title for title in _many(site, SAMPLE_URL))

    # FLUSHDB (an operator clearing the cache, say after restoring a backup) empties every copy.
    _hidden_edit(site, "Restored from a backup")
    client.flushdb()
    assert all("Restored from a backup" in title for title in _many(site, SAMPLE_URL))

    # Conditional GET and HEAD answer from memory as Django would.
    status, headers, _ = site.get(SAMPLE_URL)
    assert site.get(SAMPLE_URL, **{"If-None-Match": headers["ETag"]})[0] == 304
    request = urllib.request.Request(f"http://127.0.0.1:{site.port}{SAMPLE_URL}", method="HEAD")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200 and response.read() == b""
        assert response.headers["Content-Length"] == headers["Content-Length"]
        assert response.headers["Content-Security-Policy"] == headers["Content-Security-Policy"]
    # A host outside ALLOWED_HOSTS gets Django's 400, never a cached page.
    assert site.get(SAMPLE_URL, Host="evil.example")[0] == 400
    # An editor (a session cookie) is never answered from memory.
    status, headers, _ = site.get(SAMPLE_URL, Cookie="sessionid=x")
    assert status == 200 and "private" in headers["Cache-Control"]


def test_with_redis_a_lost_invalidation_connection_falls_back_to_redis_then_reconnects(redis_site):
    site, client = redis_site
    assert all(SAMPLE_TITLE in title for title in _many(site, SAMPLE_URL))
    connections = _invalidation_connections(client)
    assert len(connections) == 1  # one per worker process

    for connection in connections:
        client.client_kill_filter(_id=connection["id"])
    _hidden_edit(site, "Edited behind the back")
    _drop_redis_pages(client)
    # Without its connection a worker cannot know its copy is current: it reads Redis (no page
    # there now), so the page is rendered from the database.
    assert all("Edited behind the back" in title for title in _many(site, SAMPLE_URL))

    time.sleep(1.2)  # the workers try again after a second
    _many(site, SAMPLE_URL)
    assert len(_invalidation_connections(client)) == 1
    _hidden_edit(site, "Edited again")
    _drop_redis_pages(client)
    assert all("Edited behind the back" in title for title in _many(site, SAMPLE_URL))  # from memory again


@pytest.mark.django_db
def test_process_memory_holds_at_most_page_cache_local_bytes(client, make_post, settings):
    from blog import caching

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_SITE_URL,
            "KEY_PREFIX": "kabar-test-bytes",
        }
    }
    settings.PAGE_CACHE_LOCAL_BYTES = 1024 * 1024
    posts = [make_post(title=f"Long {n}", body="word " * 60_000) for n in range(5)]  # pages of 300 KB
    try:
        for post in posts:
            for _ in range(2):  # the first request renders the page, the second reads it from Redis
                assert client.get(post.permalink).status_code == 200
        copy = caching._local_copy()
        assert copy is not None and copy.version is not None
        assert 0 < copy.size <= settings.PAGE_CACHE_LOCAL_BYTES
        assert 1 < len(copy.entries) < len(posts)

        settings.PAGE_CACHE_LOCAL_BYTES = 0
        assert caching._local_copy() is None  # off: every request reads Redis
    finally:
        from django.core.cache import cache

        cache.clear()
