"""Measure the CPU time of uncached public pages in-process, through Django's test client.

Creates N published posts (default 5,000) in a temporary SQLite database with DEBUG off and
the page cache off, then requests the post, home and month archive pages in turn, interleaved,
and prints the median CPU milliseconds (time.process_time) and the queries of each page. With
--profile PAGE it prints a cProfile profile of that page instead. A CPU measurement in one
process is steady on a shared machine, where requests/s under wrk move with the other load.

    .venv/bin/python bench/page_cpu_bench.py [--posts 5000] [--requests 300]
"""

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=5000, help="number of posts to create")
    parser.add_argument("--requests", type=int, default=300, help="requests per page")
    parser.add_argument("--profile", choices=["post", "home", "archive"], help="profile this page with cProfile")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="kabar-cpu-bench-"))
    env = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "STATIC_ROOT": str(workdir / "static"),
        "MEDIA_ROOT": str(workdir / "media"),
        "CACHE_DIR": str(workdir / "cache"),
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "0",
        "PAGE_CACHE_SECONDS": "0",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "ERROR",
    }
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)
    for command in ("migrate", "collectstatic"):
        subprocess.run(
            [sys.executable, "manage.py", command, "--noinput"], cwd=REPO, check=True, stdout=subprocess.DEVNULL
        )
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "bench"))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from site_bench import create_posts

    permalink = create_posts(args.posts)
    month = "/" + "/".join(permalink.split("/")[2:4]) + "/"
    pages = {"post": permalink, "home": "/", "archive": month}
    client = Client()
    for url in pages.values():
        response = client.get(url)
        assert response.status_code == 200, f"{url} answered {response.status_code}"

    if args.profile:
        import cProfile
        import pstats

        with cProfile.Profile() as profiler:
            for _ in range(args.requests):
                client.get(pages[args.profile])
        pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
            int(os.environ.get("PROFILE_LINES", "60"))
        )
        return

    times = {name: [] for name in pages}
    for _ in range(args.requests):
        for name, url in pages.items():
            started = time.process_time()
            client.get(url)
            times[name].append(time.process_time() - started)
    print(f"{args.posts} posts, {args.requests} requests per page, SQLite, DEBUG off, page cache off")
    for name, url in pages.items():
        with CaptureQueriesContext(connection) as queries:
            size = len(client.get(url).content)
        ms = statistics.median(times[name]) * 1000
        print(f"{name:8} {url:45} {ms:6.2f} ms CPU (median)  {len(queries)} queries  {size} bytes")


if __name__ == "__main__":
    main()
