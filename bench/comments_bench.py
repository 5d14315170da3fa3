"""Benchmark comments: importing them, and a post page that shows 500 of them.

Run: .venv/bin/python bench/comments_bench.py [--comments 500] [--requests 50]

In a temporary SQLite database: imports N comments (a third of them replies) into one post
with `upsert_comments`, imports them again (nothing changes), then renders the post page
uncached (PAGE_CACHE_SECONDS=0) through Django's test client, with no comment and with the
N comments, and prints the time per page and the ratio, measured in the same run.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BODY = (
    "Thanks for writing this up. I tried the second approach on our cluster and it worked,\n"
    "although <em>the first one</em> was faster for us. See https://example.com/notes for details.\n\n"
    "One question: did you measure the latency under load?"
)


def page_ms(client, url: str, requests: int) -> float:
    """Return the median milliseconds of `requests` GETs of `url` (after one warm-up)."""
    assert client.get(url).status_code == 200
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=500, help="Comments on the post (default 500).")
    parser.add_argument("--requests", type=int, default=50, help="Page requests per case (default 50).")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kabar-bench-"))
    try:
        os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
        os.environ["MEDIA_ROOT"] = str(work / "media")
        os.environ["STATIC_ROOT"] = str(work / "static")
        os.environ["PAGE_CACHE_SECONDS"] = "0"
        os.environ["DEBUG"] = "0"
        os.environ.setdefault("SECRET_KEY", "bench-only")
        os.environ["ALLOWED_HOSTS"] = "testserver"
        os.environ["SECURE_SSL_REDIRECT"] = "0"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client

        from blog.comments import CommentSource, upsert_comments
        from blog.models import Author, Post

        call_command("migrate", verbosity=0)
        call_command("collectstatic", verbosity=0, interactive=False)  # DEBUG off: the manifest storage
        author = Author.objects.create(name="admin", slug="admin")
        start = datetime(2020, 1, 1, tzinfo=UTC)
        empty = Post.objects.create(
            title="Quiet", slug="quiet", permalink="/quiet/", author=author, status="published", date=start, body=BODY
        )
        busy = Post.objects.create(
            title="Busy", slug="busy", permalink="/busy/", author=author, status="published", date=start, body=BODY
        )
        sources = [
            CommentSource(
                source_id=str(n),
                parent_source_id=str(n - 1) if n % 3 else "",
                date=start + timedelta(minutes=n),
                body=BODY,
                author_name=f"Reader {n}",
                author_url="https://reader.example/",
            )
            for n in range(1, args.comments + 1)
        ]
        started = time.perf_counter()
        created = upsert_comments(post=busy, comments=sources).created
        first = time.perf_counter() - started
        started = time.perf_counter()
        unchanged = upsert_comments(post=busy, comments=sources).unchanged
        again = time.perf_counter() - started
        print(f"import {created} comments: {first * 1000:.0f} ms ({created / first:.0f} comments/s)")
        print(f"re-import, {unchanged} unchanged: {again * 1000:.0f} ms")

        client = Client()
        quiet_ms = page_ms(client, empty.permalink, args.requests)
        busy_ms = page_ms(client, busy.permalink, args.requests)
        print(f"post page, uncached, no comments: {quiet_ms:.1f} ms (median of {args.requests})")
        print(f"post page, uncached, {args.comments} comments: {busy_ms:.1f} ms = {busy_ms / quiet_ms:.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
