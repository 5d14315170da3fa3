"""Serve MEDIA_ROOT (cached images, editor uploads) from the app, with WhiteNoise's file responder.

Used on the embedded default and on a single server without object storage (settings.SERVE_MEDIA).
WhiteNoise does the HTTP work: ETag and Last-Modified with 304 answers, Range requests (206),
HEAD, and refusing non-canonical paths (`..`, `//`, backslashes), paths outside the root and
directories (no listing). Unlike static files, media change while the site runs, so each
request looks the file up on disk (WhiteNoise's `find_file`, a few stat calls) instead of a scan at start.
"""

import re
from functools import cache
from pathlib import Path

from django.conf import settings
from django.http import Http404
from django.views.decorators.http import require_safe
from whitenoise.base import WhiteNoise
from whitenoise.middleware import WhiteNoiseMiddleware

# Cached images (images/ab/<sha256>/960.webp) and uploads (uploads/ab/<sha256>.png) are named
# by the hash of their bytes: a name never gets other content, so browsers may keep them forever.
CONTENT_HASHED = re.compile(r"/[0-9a-f]{64}[./]")


@cache
def _media_files(root: str) -> WhiteNoise:
    return WhiteNoise(
        None,
        root=root,
        prefix="/",
        autorefresh=True,  # look each file up at request time: media appear while the site runs
        max_age=0,  # other files may be replaced under their name: revalidate (ETag) every time
        allow_all_origins=False,
        immutable_file_test=lambda path, url: bool(CONTENT_HASHED.search(url)),
    )


@require_safe
def serve_media(request, path: str):
    """Return the file at `path` under MEDIA_ROOT, or 404."""
    # MEDIA_ROOT is read per request (tests give each test its own); one responder per root.
    media_files = _media_files(str(Path(settings.MEDIA_ROOT).resolve()))
    static_file = media_files.find_file("/" + path)
    if static_file is None:
        raise Http404("No such media file.")
    return WhiteNoiseMiddleware.serve(static_file, request)
