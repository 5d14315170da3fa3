"""Time the site's own /media/ route (blog/media.py) against Django's django.views.static.serve.

Run: .venv/bin/python bench/media_bench.py [--requests N]
Both answer through the full middleware stack and the real URL conf (Django's test client, in
this process), for a 120 KB cached image: a plain GET, a conditional GET (the browser has the
file: 304), a Range request, and a HEAD. Prints requests per second (best of 5 rounds taking
turns) and the ratio of the two, measured in one run. django.views.static.serve has no ETag
and no Range: its conditional GET uses If-Modified-Since, its "Range" answer is the whole file.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="kabar-bench-media-")
os.environ["PAGE_CACHE_SECONDS"] = "0"

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.static import serve  # noqa: E402

import config.urls  # noqa: E402

ROUNDS = 5
DIGEST = "ab" + "0123456789abcdef" * 3 + "0123456789abcd"
NAME = f"images/{DIGEST[:2]}/{DIGEST}/960.webp"

# Django's own view beside ours, under another prefix, for the comparison only.
urlpatterns = [
    path("django-static/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}),
    *config.urls.urlpatterns,
]


def drain(response) -> int:
    return sum(len(chunk) for chunk in response.streaming_content) if response.streaming else len(response.content)


def rate(client: Client, url: str, requests: int, method: str = "get", **headers) -> tuple[float, int]:
    """Return requests per second and the last status for `requests` requests of `url`."""
    call = getattr(client, method)
    start = time.perf_counter()
    for _ in range(requests):
        response = call(url, **headers)
        drain(response)
        response.close()
    return requests / (time.perf_counter() - start), response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per case (default 2000)")
    requests = parser.parse_args().requests
    file = Path(settings.MEDIA_ROOT) / NAME
    file.parent.mkdir(parents=True)
    file.write_bytes(os.urandom(120 * 1024))
    client = Client(SERVER_NAME="127.0.0.1")  # a host ALLOWED_HOSTS lists
    ours, django_serve = f"/media/{NAME}", f"/django-static/{NAME}"
    first = client.get(ours)
    etag, modified = first["ETag"], first["Last-Modified"]
    cases = [
        ("GET", {}, {}),
        ("conditional GET", {"HTTP_IF_NONE_MATCH": etag}, {"HTTP_IF_MODIFIED_SINCE": modified}),
        ("Range 0-1023", {"HTTP_RANGE": "bytes=0-1023"}, {"HTTP_RANGE": "bytes=0-1023"}),
        ("HEAD", {}, {}),
    ]
    print(f"{requests} requests per case, 120 KB file, full middleware stack")
    print(f"{'case':<18}{'/media/ req/s':>15}{'status':>8}{'static.serve req/s':>20}{'status':>8}{'ratio':>7}")
    with override_settings(ROOT_URLCONF=__name__):
        for label, our_headers, their_headers in cases:
            method = "head" if label == "HEAD" else "get"
            # Rounds taking turns, best kept: other processes on a shared machine slow one round, not both.
            our_rate = their_rate = 0.0
            for _round in range(ROUNDS):
                rate_now, our_status = rate(client, ours, requests // ROUNDS, method, **our_headers)
                our_rate = max(our_rate, rate_now)
                rate_now, their_status = rate(client, django_serve, requests // ROUNDS, method, **their_headers)
                their_rate = max(their_rate, rate_now)
            print(
                f"{label:<18}{our_rate:>15,.0f}{our_status:>8}{their_rate:>20,.0f}{their_status:>8}"
                f"{our_rate / their_rate:>7.2f}"
            )


if __name__ == "__main__":
    main()
