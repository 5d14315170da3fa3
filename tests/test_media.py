"""Media files (cached images, uploads) served by the site itself through the real URL conf."""

import os
import subprocess
import sys

import pytest
from django.utils.http import http_date

from tests.conftest import REPO

DIGEST = "ab" + "0123456789abcdef" * 3 + "0123456789abcd"  # 64 hex digits, as the image namer makes


@pytest.fixture
def media_files(_media_root):
    """Write a content-hashed cached image, a hashed upload and a plain file into MEDIA_ROOT."""
    variant = _media_root / "images" / DIGEST[:2] / DIGEST / "960.webp"
    variant.parent.mkdir(parents=True)
    variant.write_bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(range(256)) * 4)
    upload = _media_root / "uploads" / DIGEST[:2] / f"{DIGEST}.png"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 100)
    plain = _media_root / "notes.txt"
    plain.write_text("hello\n", encoding="utf-8")
    (_media_root.parent / "secret.txt").write_text("outside\n", encoding="utf-8")
    return {"variant": variant, "upload": upload, "plain": plain}


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_cached_image_is_served_with_validators_and_a_long_immutable_lifetime(client, media_files):
    variant = media_files["variant"]
    response = client.get(f"/media/images/{DIGEST[:2]}/{DIGEST}/960.webp")
    assert response.status_code == 200
    assert body(response) == variant.read_bytes()
    assert response["Content-Type"] == "image/webp"
    assert response["Content-Length"] == str(variant.stat().st_size)
    assert response["Cache-Control"] == "max-age=315360000, public, immutable"
    assert response["Last-Modified"] == http_date(int(variant.stat().st_mtime))
    assert response["ETag"].startswith('"')
    upload = client.get(f"/media/uploads/{DIGEST[:2]}/{DIGEST}.png")
    assert (upload.status_code, upload["Content-Type"]) == (200, "image/png")
    assert "immutable" in upload["Cache-Control"]


def test_a_file_not_named_by_its_hash_is_revalidated(client, media_files):
    response = client.get("/media/notes.txt")
    assert response.status_code == 200
    assert body(response) == b"hello\n"
    assert response["Cache-Control"] == "max-age=0, public"


def test_conditional_get_answers_304_without_the_body(client, media_files):
    url = f"/media/images/{DIGEST[:2]}/{DIGEST}/960.webp"
    first = client.get(url)
    by_etag = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert by_etag.status_code == 304
    assert body(by_etag) == b""
    by_date = client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert by_date.status_code == 304
    media_files["variant"].write_bytes(b"other bytes, later")
    os.utime(media_files["variant"], (first_mtime := media_files["variant"].stat().st_mtime + 10, first_mtime))
    changed = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert body(changed) == b"other bytes, later"


def test_range_requests_answer_206_with_the_asked_bytes(client, media_files):
    data = media_files["variant"].read_bytes()
    url = f"/media/images/{DIGEST[:2]}/{DIGEST}/960.webp"
    response = client.get(url, HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206
    assert body(response) == data[100:200]
    assert response["Content-Range"] == f"bytes 100-199/{len(data)}"
    tail = client.get(url, HTTP_RANGE="bytes=-10")
    assert (tail.status_code, body(tail)) == (206, data[-10:])
    beyond = client.get(url, HTTP_RANGE=f"bytes={len(data) + 5}-")
    assert beyond.status_code == 416


def test_head_sends_headers_only_and_other_methods_are_refused(client, media_files):
    url = "/media/notes.txt"
    head = client.head(url)
    assert (head.status_code, head["Content-Length"], body(head)) == (200, "6", b"")
    assert client.post(url).status_code == 405


@pytest.mark.parametrize(
    "url",
    [
        "/media/",
        "/media/images/",
        f"/media/images/{DIGEST[:2]}/",
        f"/media/images/{DIGEST[:2]}/{DIGEST}",
        "/media/missing.png",
        "/media/../secret.txt",
        "/media/%2e%2e/secret.txt",
        "/media/images/..%2f..%2fsecret.txt",
        "/media//etc/passwd",
        "/media/images/%5c..%5c..%5csecret.txt",
        "/media/notes.txt/",
    ],
)
@pytest.mark.django_db  # /media/ itself is no media path: the site's catch-all answers it
def test_no_listing_no_traversal_no_missing_file(client, media_files, url):
    response = client.get(url)
    assert response.status_code == 404, url
    assert b"outside" not in response.content
    # No directory listing: the names inside the folders never show.
    assert b"Index of" not in response.content and b"960.webp" not in response.content


def resolves_media(**env) -> str:
    """Return what /media/x resolves to in a fresh process with `env` set."""
    clean = {k: v for k, v in os.environ.items() if k not in {"SERVE_MEDIA", "AWS_STORAGE_BUCKET_NAME", "MEDIA_URL"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    probe = (
        "import django; django.setup(); from django.urls import resolve; "
        "print(resolve('/media/images/x.png').func.__name__)"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=clean, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_media_route_is_on_by_default_and_off_for_object_storage_or_a_front_server():
    assert resolves_media() == "serve_media"
    assert resolves_media(SERVE_MEDIA="0") != "serve_media"
    assert resolves_media(AWS_STORAGE_BUCKET_NAME="kabar-media") != "serve_media"
