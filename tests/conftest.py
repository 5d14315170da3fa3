"""Shared fixtures: a private media folder and cache per test, and small post factories."""

import itertools
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone

REPO = Path(__file__).resolve().parent.parent
SAMPLE_POSTS = REPO / "samples" / "posts"
SAMPLE_POST = next(SAMPLE_POSTS.glob("*.md"))
# Real-world exports (tests/corpus/README.md: sources and licences) and our own hand-made files.
CORPUS = REPO / "tests" / "corpus" / "posts"
FIXTURE_POSTS = REPO / "tests" / "fixtures" / "posts"

_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Give every test its own MEDIA_ROOT, so no test sees another's files."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _clear_cache(settings, tmp_path):
    """Give every test an empty cache: its own folder for the file cache, a flushed Redis database."""
    if settings.CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": str(tmp_path / "cache")}}
    from blog.links.hosts import forget_memo

    cache.clear()
    forget_memo()  # the old-site hosts a test recorded are rolled back with it
    yield
    cache.clear()
    forget_memo()


@pytest.fixture
def author(db):
    from blog.models import Author

    return Author.objects.create(name="admin", slug="admin", display_name="Admin")


@pytest.fixture
def category(db):
    from blog.models import Category

    return Category.objects.create(name="TutorialBlogger", slug="tutorialblogger")


@pytest.fixture
def make_post(db, author):
    """Return a function that creates a published post; keyword arguments override fields."""
    from blog.models import Post

    def make(**fields):
        n = next(_counter)
        fields.setdefault("title", f"Post {n}")
        fields.setdefault("slug", f"post-{n}")
        fields.setdefault("date", timezone.now() - timedelta(days=n))
        fields.setdefault("permalink", f"/{fields['date']:%Y/%m/%d}/{fields['slug']}/")
        fields.setdefault("author", author)
        fields.setdefault("status", Post.Status.PUBLISHED)
        fields.setdefault("body", f"Hello *world* number {n}.")
        categories = fields.pop("categories", [])
        tags = fields.pop("tags", [])
        post = Post.objects.create(**fields)
        if categories:
            post.categories.set(categories)
        if tags:
            post.tags.set(tags)
        return post

    return make


# 19 real-world files and 3 of ours.
CORPUS_FILES = 22


@pytest.fixture
def corpus_dir(tmp_path):
    """Return a folder with the corpus files under their original names (SOURCES.tsv), as exported, and ours."""
    import csv

    folder = tmp_path / "corpus"
    folder.mkdir()
    with (CORPUS.parent / "SOURCES.tsv").open(encoding="utf-8") as sources:
        for row in csv.DictReader(sources, delimiter="\t"):
            shutil.copyfile(CORPUS / row["saved_name"], folder / Path(row["path"]).name)
    for path in FIXTURE_POSTS.glob("*.md"):
        shutil.copyfile(path, folder / path.name)
    return folder


@pytest.fixture
def sample_post(make_post, category):
    """Return the sample post (id 161, WordPress guid, /index.php/ permalink) with headings and a local image."""
    from datetime import UTC, datetime

    return make_post(
        source_id=161,
        title="Mengenal Microservices: Pengertian, Contoh, dan Kelebihannya",
        slug="mengenal-microservices-pengertian-contoh-dan-kelebihannya",
        date=datetime(2022, 10, 29, 2, 45, tzinfo=UTC),
        guid="http://localhost/wordpress/index.php/2022/10/29/mengenal-microservices-pengertian-contoh-dan-kelebihannya/",
        permalink="/index.php/2022/10/29/mengenal-microservices-pengertian-contoh-dan-kelebihannya/",
        categories=[category],
        tags=["microservices"],
        front_matter={"blogger_orig_url": "https://webidevloper.blogspot.com/2022/10/mengenal-microservices.html"},
        body=(
            "Apakah Anda pernah melakukan aktivitas *nobar* bersama teman-teman?\n\n"
            "## Apa itu Layanan mikro?\n\n"
            "![Diagram layanan mikro](/media/uploads/diagram.png)\n\n"
            "## Manfaat Penggunaan Layanan mikro\n\n"
            "Terdapat beberapa kelebihan menggunakan *layanan mikro*.\n"
        ),
    )


@pytest.fixture(scope="session")
def httpserver_listen_address():
    """Serve pytest-httpserver on 127.0.0.1 itself: 'localhost' may also resolve to ::1."""
    return ("127.0.0.1", 0)


# Debian's Chromium, driven by Playwright, for the browser tests (scripts/install-browser.sh).
CHROMIUM = os.environ.get("KABAR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(monkeypatch):
    """Return a headless Chromium browser (Playwright driving Debian's chromium)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/install-browser.sh or set KABAR_CHROMIUM")
    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are plain
    # sync code. Set for these tests only: subprocesses other tests start must not inherit it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
