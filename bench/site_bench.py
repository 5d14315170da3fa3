"""Benchmark the public site under gunicorn against a static file of the same size served by WhiteNoise.

Creates N posts (default 10,000) in a temporary SQLite database, collects static files into a
temporary STATIC_ROOT, starts gunicorn on 127.0.0.1 with DEBUG off, warms the page cache, then
drives each URL with wrk (32 connections, a bounded time per URL) and prints requests/s and
p50/p99 latency next to the static file's figures from the same run.

    /work/main/.venv/bin/python bench/site_bench.py [--posts 10000] [--seconds 10] [--connections 32]
"""

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE_POSTS = REPO / "samples" / "posts"


@dataclass(frozen=True)
class Figures:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sample_body() -> str:
    """Return the sample post's body (front matter cut off): realistic text, headings, an image."""
    text = next(SAMPLE_POSTS.glob("*.md")).read_text(encoding="utf-8")
    return text.split("\n---\n", 1)[1]


def create_posts(count: int) -> str:
    """Create `count` published posts in bulk and return the permalink of one in the middle."""
    from django.contrib.contenttypes.models import ContentType
    from taggit.models import Tag, TaggedItem

    from blog.models import Author, Category, Post, path_key
    from blog.rendering import render_post

    body = sample_body()
    rendered = render_post(body)
    author = Author.objects.create(name="admin", slug="admin", display_name="Admin")
    categories = [Category.objects.create(name=f"Category {n}", slug=f"category-{n}") for n in range(10)]
    tags = [Tag.objects.create(name=f"tag{n}", slug=f"tag{n}") for n in range(20)]
    start = datetime(2015, 1, 1, 9, tzinfo=UTC)
    posts = []
    for n in range(count):
        date = start + timedelta(hours=8 * n)
        slug = f"post-{n}"
        posts.append(
            Post(
                source_id=n + 1,
                title=f"Post number {n}: microservices in practice",
                slug=slug,
                date=date,
                author=author,
                guid=f"http://localhost/wordpress/?p={n + 1}",
                permalink=f"/index.php/{date:%Y/%m/%d}/{slug}/",
                # bulk_create skips save(): the columns it derives, for UTC dates
                permalink_key=path_key(f"/index.php/{date:%Y/%m/%d}/{slug}/"),
                date_offset=0,
                local_date=date.date(),
                body=body,
                body_html=rendered.html,
                summary=rendered.summary,
                word_count=rendered.word_count,
                reading_time=rendered.reading_time,
                status=Post.Status.PUBLISHED,
            )
        )
    Post.objects.bulk_create(posts, batch_size=500)
    posts = list(Post.objects.order_by("pk").only("pk", "permalink"))
    through = Post.categories.through
    through.objects.bulk_create(
        [through(post_id=post.pk, category_id=categories[i % 10].pk) for i, post in enumerate(posts)], batch_size=1000
    )
    content_type = ContentType.objects.get_for_model(Post)
    TaggedItem.objects.bulk_create(
        [
            TaggedItem(object_id=post.pk, content_type=content_type, tag=tags[(i + k) % 20])
            for i, post in enumerate(posts)
            for k in (0, 7)
        ],
        batch_size=1000,
    )
    return posts[len(posts) // 2].permalink


def run(command: list[str], env: dict) -> None:
    subprocess.run(command, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"site_bench: gunicorn exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"site_bench: gunicorn did not answer {url} within {timeout:.0f} s")


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, *, seconds: int, connections: int) -> Figures:
    """Return wrk's figures for `url`."""
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", output, re.M)[1])
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", output, re.M)[1])
    problems = re.findall(r"(Non-2xx or 3xx responses: \d+|Socket errors: .*)", output)
    return Figures(rps, p50, p99, "; ".join(problems))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000, help="number of posts to create")
    parser.add_argument("--seconds", type=int, default=10, help="seconds of load per URL")
    parser.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        subprocess.run(["bash", str(REPO / "scripts" / "install-wrk.sh")], check=True)

    workdir = Path(tempfile.mkdtemp(prefix="kabar-bench-"))
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "STATIC_ROOT": str(workdir / "static"),
        "MEDIA_ROOT": str(workdir / "media"),
        "CACHE_DIR": str(workdir / "cache"),  # the embedded default's file cache, this run's own
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on 127.0.0.1; production sits behind TLS
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "ERROR",
    }
    env.pop("REDIS_URL", None)
    os.environ.update(env)
    server = None
    try:
        python = sys.executable
        run([python, "manage.py", "migrate", "--noinput"], env)
        run([python, "manage.py", "collectstatic", "--noinput"], env)

        sys.path.insert(0, str(REPO))
        import django

        django.setup()
        from django.test import Client

        started = time.perf_counter()
        permalink = create_posts(args.posts)
        print(f"created {args.posts} posts in {time.perf_counter() - started:.1f} s")

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        # Rendered for the very host wrk asks for, so absolute URLs in it have the same length.
        page = Client(HTTP_HOST=f"127.0.0.1:{port}").get(permalink)
        assert page.status_code == 200, f"{permalink} answered {page.status_code}"
        # A static file exactly as large as the post page, served by WhiteNoise from STATIC_ROOT.
        (workdir / "static" / "bench-page.html").write_bytes(page.content)

        month = "/" + "/".join(permalink.split("/")[2:4]) + "/"
        server = subprocess.Popen(
            [
                python, "-m", "gunicorn", "config.wsgi:application",
                "--bind", f"127.0.0.1:{port}",
                "--workers", str(args.workers),
                "--worker-class", "gthread",
                "--threads", str(args.threads),
                "--log-level", "warning",
            ],
            cwd=REPO,
            env=env,
        )  # fmt: skip
        wait_until_up(base + "/static/bench-page.html", server)

        urls = {
            "static file (WhiteNoise)": "/static/bench-page.html",
            "post": permalink,
            "home": "/",
            "month archive": month,
            "feed": "/feed/",
        }
        sizes = {}
        for name, path in urls.items():
            with urllib.request.urlopen(base + path) as response:
                sizes[name] = len(response.read())
        # Warm the page cache of every worker process.
        for path in urls.values():
            wrk(base + path, seconds=2, connections=args.connections)

        print(
            f"\n{args.posts} posts · gunicorn {args.workers} workers x {args.threads} threads (gthread) · "
            f"wrk {args.connections} connections x {args.seconds} s per URL · cache warm · 127.0.0.1"
        )
        header = f"{'URL':<26} {'bytes':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs static':>9}"
        print(header)
        print("-" * len(header))
        static_rps = None
        for name, path in urls.items():
            figures = wrk(base + path, seconds=args.seconds, connections=args.connections)
            static_rps = static_rps or figures.requests_per_second
            ratio = figures.requests_per_second / static_rps
            print(
                f"{name:<26} {sizes[name]:>7} {figures.requests_per_second:>9.0f} {figures.p50_ms:>8.2f} "
                f"{figures.p99_ms:>8.2f} {ratio:>8.0%}" + (f"  ({figures.errors})" if figures.errors else "")
            )
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
