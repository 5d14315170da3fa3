"""Media on S3-compatible object storage: the image cache and uploads against moto's S3 server."""

import io
import re
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest
from django.core.files.storage import default_storage

from blog.images.caching import cache_images
from blog.models import RemoteImage
from tests.images_helpers import image_bytes

BUCKET = "kabar-media"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """Run moto's S3 server on 127.0.0.1 for this module, with an empty bucket."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint, timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("moto's S3 server did not start") from None
            time.sleep(0.2)
    yield endpoint
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def s3_storage(settings, s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.AWS_S3_ENDPOINT_URL = s3_endpoint
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_QUERYSTRING_AUTH = False
    settings.AWS_DEFAULT_ACL = None
    settings.AWS_S3_FILE_OVERWRITE = False
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    settings.IMAGE_CACHE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.IMAGE_CACHE_ALLOWED_PORTS = ["80", "443", "1024-65535"]
    settings.IMAGE_CACHE_WIDTHS = [480, 960]
    yield client
    for key in [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]:
        client.delete_object(Bucket=BUCKET, Key=key)
    client.delete_bucket(Bucket=BUCKET)


def _keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


@pytest.mark.django_db
def test_image_cache_stores_originals_and_variants_in_the_bucket(s3_storage, httpserver, make_post, tmp_path):
    httpserver.expect_request("/photo.jpg").respond_with_data(
        image_bytes("JPEG", (1200, 800)), content_type="image/jpeg"
    )
    post = make_post(body=f"![A photo]({httpserver.url_for('/photo.jpg')})")
    assert default_storage.__class__.__name__ == "S3Storage"

    result = cache_images(posts=[post])

    assert len(result.cached) == 1 and not result.failed
    record = RemoteImage.objects.get()
    keys = _keys(s3_storage)
    assert record.original in keys
    assert {variant.name for variant in record.variants.all()} <= set(keys)
    assert {(v.width, v.format) for v in record.variants.all()} >= {
        (480, "WEBP"),
        (960, "WEBP"),
        (480, "JPEG"),
        (960, "JPEG"),
    }
    assert not list((tmp_path / "media").rglob("*.*"))  # nothing went to the local disk
    post.refresh_from_db()
    bucket_url = f"{s3_storage.meta.endpoint_url}/{BUCKET}/"
    srcs = re.findall(r'\ssrc="([^"]+)"', post.body_html)
    assert srcs and all(src.startswith(bucket_url) for src in srcs), post.body_html
    assert httpserver.url_for("/photo.jpg") not in post.body_html


@pytest.mark.django_db
def test_failed_image_leaves_nothing_in_the_bucket(s3_storage, httpserver, make_post):
    httpserver.expect_request("/not-an-image.jpg").respond_with_data(b"<html>nope</html>", content_type="text/html")
    post = make_post(body=f"![x]({httpserver.url_for('/not-an-image.jpg')})")
    result = cache_images(posts=[post])
    assert len(result.failed) == 1
    assert _keys(s3_storage) == []


@pytest.mark.django_db
def test_files_in_the_bucket_count_as_local_not_remote(s3_storage, httpserver, make_post):
    from blog.images.discovery import is_local

    name = default_storage.save("uploads/ab/abc.png", io.BytesIO(image_bytes("PNG", (20, 20))))
    uploaded = default_storage.url(name)
    assert uploaded.startswith(f"{s3_storage.meta.endpoint_url}/{BUCKET}/")
    assert is_local(uploaded)
    assert not is_local(httpserver.url_for("/elsewhere.png"))
    post = make_post(body=f"![upload]({uploaded})")
    result = cache_images(posts=[post])
    assert (result.cached, result.failed, result.refused) == ([], [], [])
    assert RemoteImage.objects.count() == 0
