"""Benchmark Kabar against a minimal Wagtail site with the same content, side by side.

Builds the Wagtail peer in its own virtual environment under bench/out/ (Wagtail is not a
Kabar dependency: it is installed there from PyPI on first use), generates N posts with
bench/import_bench.py's generator, imports them into Kabar with `import_posts`, and loads the
very same rendered HTML into Wagtail: a `BlogPage` (title, date, summary, the body in a
`RichTextField`) under a `BlogIndexPage` listing 10 a page. Both run on PostgreSQL and Redis,
DEBUG off, under gunicorn with the same settings (2 sync workers, no access log) on
127.0.0.1, four servers in all: Kabar with its page cache and with it off
(`PAGE_CACHE_SECONDS=0`), Wagtail as shipped and Wagtail with Django's cache middleware. A
static file of the post page's size is served by WhiteNoise from the cached Kabar server, and
the same bytes by a bare WSGI function under the same gunicorn settings (the server's ceiling).

wrk drives each (server, page) pair for a bounded time at 32 connections; the pairs are
interleaved over at least 3 rounds, and the script prints min/median/max requests/s per pair,
the median p99 latency, the ratios and the targets of issue 18, and last:

    ratios: cached_vs_wagtail=X uncached_vs_wagtail=Y cached_vs_static=Z   (medians, post page)

    .venv/bin/python bench/peer_bench.py [--quick] [--posts 5000] [--seconds 10] [--rounds 3]
        [--port 8600] [--database-url postgres://postgres@127.0.0.1:5432/] [--redis-url redis://127.0.0.1:6379/0]

`--quick`: 1,000 posts and 5 s runs. Ports PORT..PORT+4 are used; the databases are
`<prefix>_kabar` and `<prefix>_wagtail` (dropped and created anew), the Redis keys carry the
prefixes `peer-kabar` and `peer-wagtail` (deleted before the run).
"""

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
PEER_VENV = OUT / "wagtail-venv"
PEER_REQUIREMENTS = ["wagtail>=7,<9", "gunicorn", "psycopg[binary]", "redis"]
sys.path.insert(0, str(REPO / "bench"))

from import_bench import write_posts  # noqa: E402
from site_bench import wrk  # noqa: E402

# --- The Wagtail peer: a minimal site, written out at run time (never part of Kabar) --------

PEER_FILES = {
    "peer_site/__init__.py": "",
    "peer_site/settings.py": """
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ["SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# As Wagtail's project template ships them (its search app and page views included).
INSTALLED_APPS = [
    "blog",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]
if os.environ.get("PEER_CACHE_MIDDLEWARE") == "1":
    # Django's whole-site cache, as its documentation places it.
    MIDDLEWARE = [
        "django.middleware.cache.UpdateCacheMiddleware",
        *MIDDLEWARE,
        "django.middleware.cache.FetchFromCacheMiddleware",
    ]
    CACHE_MIDDLEWARE_SECONDS = 600
ROOT_URLCONF = "peer_site.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "peer_site.wsgi.application"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["PEER_DB_NAME"],
        "HOST": os.environ["PEER_DB_HOST"],
        "PORT": os.environ["PEER_DB_PORT"],
        "USER": os.environ["PEER_DB_USER"],
        "PASSWORD": os.environ.get("PEER_DB_PASSWORD", ""),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["PEER_REDIS_URL"],
        "KEY_PREFIX": "peer-wagtail",
    }
}
WAGTAILSEARCH_BACKENDS = {
    "default": {
        "BACKEND": "wagtail.search.backends.database",
        "AUTO_UPDATE": os.environ.get("PEER_LOADING") != "1",
    }
}
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"
MEDIA_ROOT = BASE_DIR / "media"
MEDIA_URL = "/media/"
WAGTAIL_SITE_NAME = "Peer"
WAGTAILADMIN_BASE_URL = "http://127.0.0.1"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
""",
    "peer_site/urls.py": """
from django.contrib import admin
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

urlpatterns = [
    path("django-admin/", admin.site.urls),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("", include(wagtail_urls)),
]
""",
    "peer_site/wsgi.py": """
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_site.settings")
application = get_wsgi_application()
""",
    "manage.py": """
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_site.settings")
from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
""",
    "blog/__init__.py": "",
    "blog/models.py": """
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import models
from django.http import Http404
from wagtail.fields import RichTextField
from wagtail.models import Page


class BlogIndexPage(Page):
    subpage_types = ["blog.BlogPage"]

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        posts = BlogPage.objects.live().child_of(self).order_by("-date")
        try:
            context["posts"] = Paginator(posts, 10).page(request.GET.get("page", 1))
        except (EmptyPage, PageNotAnInteger):
            raise Http404
        return context


class BlogPage(Page):
    date = models.DateTimeField(db_index=True)
    summary = models.TextField(blank=True)
    body = RichTextField()
""",
    "blog/management/__init__.py": "",
    "blog/management/commands/__init__.py": "",
    "blog/management/commands/load_posts.py": """
import json

from django.core.management.base import BaseCommand
from django.db import transaction
from wagtail.models import Page, Site

from blog.models import BlogIndexPage, BlogPage


class Command(BaseCommand):
    help = "Load posts exported from Kabar (JSON) as BlogPages under a BlogIndexPage at the site root."

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, path, **options):
        posts = json.loads(open(path, encoding="utf-8").read())
        root = Page.get_first_root_node()
        with transaction.atomic():
            for child in root.get_children():
                child.delete()
            index = root.add_child(instance=BlogIndexPage(title="Blog", slug="blog"))
            Site.objects.all().delete()
            Site.objects.create(hostname="127.0.0.1", port=80, root_page=index, is_default_site=True)
            for post in posts:
                index.add_child(
                    instance=BlogPage(
                        title=post["title"][:255],
                        slug=post["slug"],
                        date=post["date"],
                        summary=post["summary"],
                        body=post["body_html"],
                        first_published_at=post["date"],
                    )
                )
        self.stdout.write(f"loaded {len(posts)} posts")
""",
    "templates/base.html": """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{% block title %}{{ page.title }}{% endblock %} — Peer</title>
  <meta name="description" content="{{ page.search_description }}">
</head>
<body>
  <header><p><a href="/">Peer</a></p></header>
  <main>{% block content %}{% endblock %}</main>
  <footer><p>A Wagtail site.</p></footer>
</body>
</html>
""",
    "templates/blog/blog_page.html": """{% extends "base.html" %}{% load wagtailcore_tags %}
{% block content %}
<article>
  <h1>{{ page.title }}</h1>
  <p><time datetime="{{ page.date|date:'c' }}">{{ page.date|date:'j F Y' }}</time></p>
  {{ page.body|richtext }}
</article>
{% endblock %}
""",
    "templates/blog/blog_index_page.html": """{% extends "base.html" %}{% load wagtailcore_tags %}
{% block content %}
{% for post in posts %}
<article>
  <h2><a href="{% pageurl post %}">{{ post.title }}</a></h2>
  <p><time datetime="{{ post.date|date:'c' }}">{{ post.date|date:'j F Y' }}</time></p>
  <p>{{ post.summary }}</p>
</article>
{% endfor %}
<nav>
  {% if posts.has_previous %}<a href="?page={{ posts.previous_page_number }}">Newer</a>{% endif %}
  {% if posts.has_next %}<a href="?page={{ posts.next_page_number }}">Older</a>{% endif %}
</nav>
{% endblock %}
""",
}


BARE_WSGI_APP = """
from pathlib import Path

BODY = (Path(__file__).parent / "kabar-static" / "bench-page.html").read_bytes()


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(BODY)))])
    return [BODY]
"""


def say(message: str) -> None:
    print(message, flush=True)


def run(command: list, *, env: dict, cwd: Path = REPO) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        sys.exit(f"peer_bench: {' '.join(map(str, command[:4]))} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def peer_python() -> Path:
    """Return the peer's Python, creating its virtual environment with Wagtail when missing."""
    python = PEER_VENV / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import wagtail, gunicorn, psycopg, redis"]).returncode == 0:
        return python
    say(f"installing the Wagtail peer into {PEER_VENV.relative_to(REPO)} (PyPI)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", PEER_VENV], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", *PEER_REQUIREMENTS], check=True)
    return python


def recreate_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url.rstrip("/") + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def analyze(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server_url}/{name}", autocommit=True) as connection:
        connection.execute("ANALYZE")


def drop_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url.rstrip("/") + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def delete_redis_keys(redis_url: str, *prefixes: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    for prefix in prefixes:
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def start_gunicorn(python: Path, app: str, port: int, *, cwd: Path, env: dict) -> subprocess.Popen:
    # The same server settings for both sites: 2 sync workers, no access log.
    command = [python, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    command += ["--worker-class", "sync", "--log-level", "warning"]
    return subprocess.Popen(command, cwd=cwd, env=env)


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"peer_bench: the server for {url} exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"peer_bench: {url} did not answer within {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 posts and 5 s runs")
    parser.add_argument("--posts", type=int, help="posts to generate (default 5000; 1000 with --quick)")
    parser.add_argument("--seconds", type=int, help="seconds of load per run, at most 20 (default 10; 5 with --quick)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds, at least 3 (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections, at most 64 (default 32)")
    parser.add_argument("--port", type=int, default=8600, help="first of the five ports used (default 8600)")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/", help="PostgreSQL server (no database name)"
    )
    parser.add_argument("--database-prefix", default="peer_bench", help="databases: <prefix>_kabar, <prefix>_wagtail")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="Redis database both sites use")
    parser.add_argument("--keep", action="store_true", help="keep the databases and bench/out/peer afterwards")
    args = parser.parse_args()
    posts = args.posts or (1000 if args.quick else 5000)
    seconds = min(args.seconds or (5 if args.quick else 10), 20)
    rounds = max(args.rounds, 3)
    connections = min(args.connections, 64)

    if shutil.which("wrk") is None:
        subprocess.run(["bash", str(REPO / "scripts" / "install-wrk.sh")], check=True)
    python = peer_python()
    work = OUT / "peer"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    server_url = args.database_url.rstrip("/")
    kabar_db, wagtail_db = f"{args.database_prefix}_kabar", f"{args.database_prefix}_wagtail"
    servers: list[subprocess.Popen] = []
    try:
        # --- Kabar: import the generated files, export the rendered posts for the peer ---------
        say(f"generating {posts} posts (bench/import_bench.py's generator)")
        write_posts(work / "export", posts)
        recreate_database(server_url, kabar_db)
        delete_redis_keys(args.redis_url, "peer-kabar", "peer-wagtail")
        kabar_env = {
            **{k: v for k, v in os.environ.items() if k not in {"CACHE_DIR", "PAGE_CACHE_SECONDS"}},
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": f"{server_url}/{kabar_db}",
            "REDIS_URL": args.redis_url,
            "CACHE_KEY_PREFIX": "peer-kabar",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",  # plain HTTP on 127.0.0.1; production sits behind TLS
            "STATIC_ROOT": str(work / "kabar-static"),
            "MEDIA_ROOT": str(work / "kabar-media"),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "LOG_LEVEL": "ERROR",
        }
        run([sys.executable, "manage.py", "migrate", "--noinput"], env=kabar_env)
        run([sys.executable, "manage.py", "collectstatic", "--noinput"], env=kabar_env)
        started = time.perf_counter()
        run([sys.executable, "manage.py", "import_posts", str(work / "export")], env=kabar_env)
        say(f"Kabar: imported {posts} posts in {time.perf_counter() - started:.0f} s")
        export = work / "posts.json"
        run(
            [
                sys.executable,
                "-c",
                "import django, json, sys; django.setup(); from blog.models import Post; "
                "rows = Post.objects.published().posts().order_by('date').values("
                "'title', 'slug', 'date', 'summary', 'body_html', 'permalink'); "
                "json.dump(list(rows), open(sys.argv[1], 'w'), default=str)",
                str(export),
            ],
            env=kabar_env,
        )
        rows = json.loads(export.read_text())
        middle = rows[len(rows) // 2]

        # --- Wagtail: the same rendered HTML in a RichTextField --------------------------------
        site = work / "wagtail"
        for name, text in PEER_FILES.items():
            (site / name).parent.mkdir(parents=True, exist_ok=True)
            (site / name).write_text(text.lstrip("\n"), encoding="utf-8")
        recreate_database(server_url, wagtail_db)
        host_port = re.match(r"postgres(?:ql)?://(?:([^@:]+)(?::([^@]*))?@)?([^:/]+):?(\d+)?", server_url)
        wagtail_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "VIRTUAL_ENV"))},
            "SECRET_KEY": secrets.token_urlsafe(50),
            "PEER_DB_NAME": wagtail_db,
            "PEER_DB_USER": host_port[1] or "postgres",
            "PEER_DB_PASSWORD": host_port[2] or "",
            "PEER_DB_HOST": host_port[3],
            "PEER_DB_PORT": host_port[4] or "5432",
            "PEER_REDIS_URL": args.redis_url,
        }
        run([python, "manage.py", "makemigrations", "blog"], env=wagtail_env, cwd=site)
        run([python, "manage.py", "migrate", "--noinput"], env=wagtail_env, cwd=site)
        started = time.perf_counter()
        run([python, "manage.py", "load_posts", str(export)], env=wagtail_env | {"PEER_LOADING": "1"}, cwd=site)
        say(f"Wagtail {version(python)}: loaded {len(rows)} posts in {time.perf_counter() - started:.0f} s")

        for name in (kabar_db, wagtail_db):  # fresh tables: give the planner its statistics, as autovacuum would
            analyze(server_url, name)

        # --- Four servers ---------------------------------------------------------------------
        ports = {
            name: args.port + n
            for n, name in enumerate(["kabar", "kabar-uncached", "wagtail", "wagtail-cached", "bare-wsgi"])
        }
        servers.append(
            start_gunicorn(
                sys.executable,
                "config.wsgi",
                ports["kabar-uncached"],
                cwd=REPO,
                env=kabar_env | {"PAGE_CACHE_SECONDS": "0"},
            )
        )
        servers.append(start_gunicorn(python, "peer_site.wsgi", ports["wagtail"], cwd=site, env=wagtail_env))
        servers.append(
            start_gunicorn(
                python,
                "peer_site.wsgi",
                ports["wagtail-cached"],
                cwd=site,
                env=wagtail_env | {"PEER_CACHE_MIDDLEWARE": "1"},
            )
        )
        permalink = middle["permalink"]
        month = "/" + "/".join(permalink.strip("/").split("/")[1:3]) + "/"
        kabar_pages = {"post": permalink, "home": "/", "archive": month}
        wagtail_pages = {"post": f"/{middle['slug']}/", "home": "/", "archive": "/?page=2"}
        for server, name in zip(servers, ["kabar-uncached", "wagtail", "wagtail-cached"], strict=True):
            wait_until_up(f"http://127.0.0.1:{ports[name]}/", server)
        status, body = fetch(f"http://127.0.0.1:{ports['kabar-uncached']}{permalink}")
        assert status == 200, f"Kabar answered {status} for {permalink}"
        # A static file as large as the post page, in place before WhiteNoise scans STATIC_ROOT.
        (work / "kabar-static" / "bench-page.html").write_bytes(body)
        # The server's own ceiling: a WSGI function answering the same bytes, nothing else.
        (work / "bare_wsgi.py").write_text(BARE_WSGI_APP, encoding="utf-8")
        servers.append(start_gunicorn(sys.executable, "bare_wsgi:app", ports["bare-wsgi"], cwd=work, env=kabar_env))
        wait_until_up(f"http://127.0.0.1:{ports['bare-wsgi']}/", servers[-1])
        servers.append(start_gunicorn(sys.executable, "config.wsgi", ports["kabar"], cwd=REPO, env=kabar_env))
        wait_until_up(f"http://127.0.0.1:{ports['kabar']}/", servers[-1])
        runs = [
            ("static", "static file (WhiteNoise)", "kabar", "/static/bench-page.html"),
            ("static", "bare WSGI, same bytes", "bare-wsgi", "/"),
        ]
        for page in ("post", "home", "archive"):
            runs += [
                (page, "Kabar, page cache", "kabar", kabar_pages[page]),
                (page, "Wagtail + cache middleware", "wagtail-cached", wagtail_pages[page]),
                (page, "Kabar, no page cache", "kabar-uncached", kabar_pages[page]),
                (page, "Wagtail as shipped", "wagtail", wagtail_pages[page]),
            ]
        sizes = {}
        for page, label, server, path in runs:
            status, body = fetch(f"http://127.0.0.1:{ports[server]}{path}")
            assert status == 200, f"{label} answered {status} for {path}"
            sizes[(page, label)] = len(body)
            wrk(f"http://127.0.0.1:{ports[server]}{path}", seconds=1, connections=connections)  # warm up

        say(
            f"\n{len(rows)} posts · PostgreSQL + Redis · gunicorn 2 sync workers each · wrk {connections} connections"
            f" x {seconds} s · {rounds} interleaved rounds · Kabar month archive vs Wagtail index page 2"
        )
        figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for round_number in range(rounds):
            for page, label, server, path in runs:
                result = wrk(f"http://127.0.0.1:{ports[server]}{path}", seconds=seconds, connections=connections)
                rps, p99, errors = result.requests_per_second, result.p99_ms, result.errors
                figures.setdefault((page, label), []).append((rps, p99))
                if errors:
                    say(f"  round {round_number + 1}, {page}, {label}: {errors}")
            say(f"round {round_number + 1} of {rounds} done")

        header = f"{'page':<8} {'server':<28} {'bytes':>7} {'min':>7} {'median':>7} {'max':>7} {'p99 ms':>7}"
        say("\n" + header + "\n" + "-" * len(header))
        medians = {}
        for (page, label), values in figures.items():
            rates = sorted(rps for rps, _ in values)
            medians[(page, label)] = statistics.median(rates)
            p99 = statistics.median(p for _, p in values)
            say(
                f"{page:<8} {label:<28} {sizes[(page, label)]:>7} {rates[0]:>7.0f} {medians[(page, label)]:>7.0f}"
                f" {rates[-1]:>7.0f} {p99:>7.1f}"
            )

        def ratio(page: str, ours: str, theirs: str) -> float:
            return medians[(page, ours)] / medians[(page, theirs)]

        static = medians[("static", "static file (WhiteNoise)")]
        say("\ntargets (issue 18), medians:")
        for page in ("post", "home", "archive"):
            cached = ratio(page, "Kabar, page cache", "Wagtail + cache middleware")
            uncached = ratio(page, "Kabar, no page cache", "Wagtail as shipped")
            vs_static = medians[(page, "Kabar, page cache")] / static
            p99 = statistics.median(p for _, p in figures[(page, "Kabar, page cache")])
            for name, value, target in (
                (f"{page}: cached vs Wagtail cached", cached, 2.0),
                (f"{page}: uncached vs Wagtail as shipped", uncached, 1.5),
                (f"{page}: cached vs static file", vs_static, 0.8),
            ):
                say(f"  {name:<40} {value:5.2f}x (target ≥ {target}) {'met' if value >= target else 'MISSED'}")
            say(f"  {page + ': cached p99':<40} {p99:5.1f} ms (target < 50) {'met' if p99 < 50 else 'MISSED'}")
        ceiling = static / medians[("post", "Wagtail + cache middleware")]
        say(f"  (the static file itself is {ceiling:.2f}x Wagtail's cached post page on this server;")
        bare = medians[("static", "bare WSGI, same bytes")]
        cached_post = medians[("post", "Kabar, page cache")]
        say(f"   Kabar's cached post page is {cached_post / bare:.2f}x a bare WSGI function's answer)")
        say(
            f"ratios: cached_vs_wagtail={ratio('post', 'Kabar, page cache', 'Wagtail + cache middleware'):.2f} "
            f"uncached_vs_wagtail={ratio('post', 'Kabar, no page cache', 'Wagtail as shipped'):.2f} "
            f"cached_vs_static={medians[('post', 'Kabar, page cache')] / static:.2f}"
        )
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            drop_database(server_url, kabar_db)
            drop_database(server_url, wagtail_db)
            delete_redis_keys(args.redis_url, "peer-kabar", "peer-wagtail")
            shutil.rmtree(work, ignore_errors=True)


def version(python: Path) -> str:
    return subprocess.run(
        [python, "-c", "import wagtail; print(wagtail.__version__)"], capture_output=True, text=True
    ).stdout.strip()


if __name__ == "__main__":
    main()
