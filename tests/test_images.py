"""The remote image cache against a real HTTP server on 127.0.0.1, with images made by Pillow."""

import io
import re
import socket
import time
import warnings
from html.parser import HTMLParser

import pytest
from django.core.files.storage import default_storage
from PIL import Image, features
from werkzeug import Response

from blog.images import discovery
from blog.images.caching import cache_images, cache_post_images
from blog.images.fetching import FetchError, FetchRefused, address_refusal, fetch
from blog.images.rewriting import rewrite_html
from blog.models import ImageVariant, Post, RemoteImage
from tests.conftest import SAMPLE_POST
from tests.images_helpers import ConnectionLog, animated_gif, image_bytes, stored_files


@pytest.fixture(autouse=True)
def image_settings(settings):
    """Let the cache reach the test server, and keep every wait short."""
    settings.IMAGE_CACHE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.IMAGE_CACHE_ALLOWED_PORTS = ["80", "443", "1024-65535"]  # the test servers' ports
    settings.IMAGE_CACHE_CONNECT_TIMEOUT = 1.0
    settings.IMAGE_CACHE_READ_TIMEOUT = 0.5
    settings.IMAGE_CACHE_TOTAL_TIMEOUT = 5.0
    settings.IMAGE_CACHE_RETRIES = 2
    settings.IMAGE_CACHE_RETRY_BACKOFF = 0.01
    settings.IMAGE_CACHE_WIDTHS = [480, 960, 1600]
    settings.IMAGE_CACHE_MAX_BYTES = 20 * 1024 * 1024
    settings.IMAGE_CACHE_MAX_PIXELS = 50_000_000
    return settings


def serve(httpserver, path, content, content_type="image/jpeg", **headers):
    httpserver.expect_request(path).respond_with_data(content, content_type=content_type, headers=headers)
    return httpserver.url_for(path)


def post_with(make_post, *urls, **fields):
    return make_post(body="\n\n".join(f"![picture {n}]({url})" for n, url in enumerate(urls)), **fields)


class _Images(HTMLParser):
    """Collect the attributes of every <img> and <source> in a page, as a reader's browser sees them."""

    def __init__(self, html):
        super().__init__()
        self.imgs, self.sources, self.links = [], [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        {"img": self.imgs, "source": self.sources, "a": self.links}.get(tag, []).append(dict(attrs))

    handle_startendtag = handle_starttag


def open_stored(name):
    with default_storage.open(name) as handle:
        return Image.open(io.BytesIO(handle.read()))


# --- formats, sizes, variants ---------------------------------------------------------------

FORMAT_CASES = [
    ("JPEG", "image/jpeg", "jpg", {"JPEG", "WEBP"}),
    ("PNG", "image/png", "png", {"PNG", "WEBP"}),
    ("GIF", "image/gif", "gif", {"GIF", "WEBP"}),
    ("WEBP", "image/webp", "webp", {"WEBP"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("image_format", "content_type", "extension", "variant_formats"), FORMAT_CASES)
def test_each_format_is_cached_with_its_size_and_variants(
    httpserver, make_post, image_format, content_type, extension, variant_formats
):
    content = image_bytes(image_format, (1200, 800))
    url = serve(httpserver, f"/photo.{extension}", content, content_type)
    post_with(make_post, url)

    result = cache_images()

    assert result.cached == [url] and result.ok
    image = RemoteImage.objects.get(url=url)
    assert (image.status, image.width, image.height, image.format) == ("cached", 1200, 800, image_format)
    assert image.size == len(content) and image.attempts == 1 and image.fetched_at is not None
    assert image.original.endswith(f"/original.{extension}")
    with default_storage.open(image.original) as handle:
        assert handle.read() == content  # the master is the original bytes
    variants = {(v.format, v.width, v.height) for v in image.variants.all()}
    # 480 and 960 below the image's width, plus a copy at its own width (never upscaled to 1600).
    assert variants == {(f, w, h) for f in variant_formats for w, h in [(480, 320), (960, 640), (1200, 800)]}
    for variant in image.variants.all():
        stored = open_stored(variant.name)
        assert (stored.format, stored.size) == (variant.format, (variant.width, variant.height))


@pytest.mark.django_db
def test_avif_is_accepted_exactly_when_this_pillow_reads_it(httpserver, make_post):
    supported = features.check("avif")
    content = image_bytes("AVIF", (640, 480)) if supported else b"\x00\x00\x00\x1cftypavif" + b"\x00" * 64
    url = serve(httpserver, "/photo.avif", content, "image/avif")
    post_with(make_post, url)

    cache_images()

    image = RemoteImage.objects.get(url=url)
    if supported:
        assert (image.status, image.format, image.width, image.height) == ("cached", "AVIF", 640, 480)
        assert {v.format for v in image.variants.all()} == {"AVIF", "WEBP"}
    else:
        assert image.status == "failed"


@pytest.mark.django_db
def test_wide_image_gets_the_configured_widths_and_small_image_is_not_upscaled(httpserver, make_post):
    wide = serve(httpserver, "/wide.jpg", image_bytes("JPEG", (2000, 1000)))
    small = serve(httpserver, "/small.png", image_bytes("PNG", (300, 200)), "image/png")
    post_with(make_post, wide, small)

    cache_images()

    wide_widths = sorted(ImageVariant.objects.filter(image__url=wide, format="JPEG").values_list("width", flat=True))
    assert wide_widths == [480, 960, 1600]
    small_variants = set(ImageVariant.objects.filter(image__url=small).values_list("format", "width", "height"))
    assert small_variants == {("PNG", 300, 200), ("WEBP", 300, 200)}


@pytest.mark.django_db
def test_exif_orientation_is_applied_and_metadata_stripped_from_variants(httpserver, make_post):
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned; display rotated 90° clockwise.
    exif[0x010F] = "SecretCam"  # Make
    exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)  # GPSLatitude
    content = image_bytes("JPEG", (800, 600), exif=exif.tobytes())
    url = serve(httpserver, "/turned.jpg", content)
    post_with(make_post, url)

    cache_images()

    image = RemoteImage.objects.get(url=url)
    assert (image.width, image.height) == (600, 800)  # as a reader sees it: portrait
    assert dict(open_stored(image.original).getexif()) == {0x0112: 6}  # the master keeps its orientation only
    assert set(image.variants.values_list("width", "height")) == {(480, 640), (600, 800)}
    for variant in image.variants.all():
        stored = open_stored(variant.name)
        assert stored.size == (variant.width, variant.height)
        assert dict(stored.getexif()) == {}
        assert "exif" not in stored.info and "xmp" not in stored.info


@pytest.mark.django_db
def test_animated_gif_is_served_as_its_original_file(httpserver, make_post):
    content = animated_gif((300, 200), frames=3)
    url = serve(httpserver, "/dance.gif", content, "image/gif")
    post = post_with(make_post, url)

    cache_images()

    image = RemoteImage.objects.get(url=url)
    assert (image.status, image.width, image.height, image.variants.count()) == ("cached", 300, 200, 0)
    post.refresh_from_db()
    (img,) = _Images(post.body_html).imgs
    assert img["src"] == default_storage.url(image.original)
    assert getattr(open_stored(image.original), "n_frames", 1) == 3


# --- failures -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_404_fails_at_once_without_retry(httpserver, make_post):
    url = httpserver.url_for("/gone.jpg")
    httpserver.expect_request("/gone.jpg").respond_with_data("no", status=404)
    post_with(make_post, url)

    result = cache_images()

    assert len(httpserver.log) == 1
    assert [reason for _url, reason in result.failed] == ["HTTP 404 NOT FOUND"]
    image = RemoteImage.objects.get(url=url)
    assert (image.status, image.attempts, image.last_error) == ("failed", 1, "HTTP 404 NOT FOUND")


@pytest.mark.django_db
def test_500_then_200_is_cached_after_a_retry(httpserver, make_post):
    httpserver.expect_oneshot_request("/flaky.png").respond_with_data("oops", status=500)
    url = serve(httpserver, "/flaky.png", image_bytes("PNG", (100, 100)), "image/png")
    post_with(make_post, url)

    result = cache_images()

    assert result.cached == [url]
    assert [entry[1].status_code for entry in httpserver.log] == [500, 200]


@pytest.mark.django_db
def test_5xx_is_retried_a_bounded_number_of_times(httpserver, make_post):
    httpserver.expect_request("/down.png").respond_with_data("busy", status=503)
    post_with(make_post, httpserver.url_for("/down.png"))

    result = cache_images()

    assert len(httpserver.log) == 3  # the first try and IMAGE_CACHE_RETRIES = 2 retries
    assert result.failed[0][1].startswith("HTTP 503")


@pytest.mark.django_db
def test_slow_response_times_out(httpserver, make_post, settings):
    settings.IMAGE_CACHE_READ_TIMEOUT = 0.2
    settings.IMAGE_CACHE_RETRIES = 0

    def slow(request):
        time.sleep(0.6)
        return Response(image_bytes("PNG", (10, 10)), content_type="image/png")

    httpserver.expect_request("/slow.png").respond_with_handler(slow)
    post_with(make_post, httpserver.url_for("/slow.png"))

    started = time.monotonic()
    result = cache_images()

    assert time.monotonic() - started < 0.55
    assert "timed out" in result.failed[0][1]
    assert RemoteImage.objects.get().status == "failed"


@pytest.mark.django_db
def test_oversized_body_is_stopped_while_streaming(httpserver, make_post, settings, _media_root):
    settings.IMAGE_CACHE_MAX_BYTES = 200_000
    offered = 200 * 1024 * 1024
    sent = []

    def endless(request):
        def body():
            chunk = b"\xff" * 65536
            for _ in range(offered // len(chunk)):
                sent.append(len(chunk))
                yield chunk

        # No Content-Length: only counting while reading can stop this one.
        return Response(body(), content_type="image/jpeg", direct_passthrough=True)

    httpserver.expect_request("/huge.jpg").respond_with_handler(endless)
    post_with(make_post, httpserver.url_for("/huge.jpg"))

    result = cache_images()

    assert "larger than the 200000-byte limit" in result.failed[0][1]
    time.sleep(0.2)  # the server's generator stops once the client has closed the connection
    assert sum(sent) < offered / 10, f"the server sent {sum(sent)} bytes"
    assert stored_files(_media_root) == []


@pytest.mark.django_db
def test_content_length_over_the_cap_is_refused_before_reading(httpserver, make_post, settings):
    settings.IMAGE_CACHE_MAX_BYTES = 1000
    url = serve(httpserver, "/big.png", image_bytes("PNG", (400, 400)), "image/png")
    post_with(make_post, url)

    result = cache_images()

    assert result.failed[0][1].startswith("Content-Length ")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content_type", "expected"),
    [("text/html; charset=utf-8", "text/html, not an image"), ("image/jpeg", "HTML page, not an image")],
)
def test_html_instead_of_an_image_fails(httpserver, make_post, content_type, expected, _media_root):
    page = b"<!DOCTYPE html><html><body>Moved. Log in to see this image.</body></html>"
    url = serve(httpserver, "/login.jpg", page, content_type)
    post_with(make_post, url)

    result = cache_images()

    assert expected in result.failed[0][1]
    assert RemoteImage.objects.get().status == "failed"
    assert stored_files(_media_root) == []


@pytest.mark.django_db
def test_an_image_in_a_format_not_allowed_fails_naming_it(httpserver, make_post):
    url = serve(httpserver, "/scan.tif", image_bytes("TIFF", (50, 50)), "image/tiff")
    post_with(make_post, url)

    result = cache_images()

    assert result.failed[0][1].startswith("TIFF images are not accepted")


@pytest.mark.django_db
def test_truncated_image_fails(httpserver, make_post):
    content = image_bytes("PNG", (400, 400), color=(10, 200, 10))
    url = serve(httpserver, "/cut.png", content[: len(content) // 2], "image/png")
    post_with(make_post, url)

    result = cache_images()

    assert "damaged" in result.failed[0][1]


@pytest.mark.django_db
def test_decompression_bomb_is_refused(httpserver, make_post, _media_root):
    pillow_cap, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    # 10 000 x 10 000 pixels, a few kilobytes on the wire: 100 million pixels once decoded.
    bomb = image_bytes("PNG", (10_000, 10_000), mode="1", color=0, optimize=True)
    assert len(bomb) < 100_000
    url = serve(httpserver, "/bomb.png", bomb, "image/png")
    post_with(make_post, url)

    result = cache_images()

    ((refused_url, reason),) = result.refused
    assert refused_url == url
    assert reason.startswith("refused as a decompression bomb: Image size (100000000 pixels) exceeds limit")
    assert RemoteImage.objects.get().status == "refused"
    assert stored_files(_media_root) == []
    assert (Image.MAX_IMAGE_PIXELS, warnings.filters) == (pillow_cap, filters)  # nothing changed globally


# --- addresses and redirects ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:169.254.169.254", "169.254.169.254"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
        ("2002:a00:1::", "10.0.0.1"),
    ],
)
def test_non_public_addresses_are_refused(settings, address, kind):
    import ipaddress

    settings.IMAGE_CACHE_ALLOWED_NETWORKS = []
    assert kind in address_refusal(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(settings, address):
    import ipaddress

    settings.IMAGE_CACHE_ALLOWED_NETWORKS = []
    assert address_refusal(ipaddress.ip_address(address)) == ""


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/x.jpg",
        "http://[::1]/x.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[::ffff:a00:1]/x.jpg",
        "http://0.0.0.0/x.jpg",
        "http://2130706433/x.jpg",  # 127.0.0.1 written as one number
        "ftp://example.com/x.jpg",
        "file:///etc/passwd",
    ],
)
def test_refused_urls_never_open_a_connection(settings, url):
    settings.IMAGE_CACHE_ALLOWED_NETWORKS = []
    with ConnectionLog() as connections, pytest.raises(FetchRefused):
        fetch(url)
    assert connections.hosts == []


def test_loopback_test_server_is_refused_when_the_allow_setting_is_off(settings, httpserver):
    settings.IMAGE_CACHE_ALLOWED_NETWORKS = []
    httpserver.expect_request("/x.png").respond_with_data(image_bytes("PNG", (10, 10)), content_type="image/png")
    with pytest.raises(FetchRefused, match=r"127\.0\.0\.1 is a loopback address"):
        fetch(httpserver.url_for("/x.png"))
    assert httpserver.log == []  # refused before connecting


def test_allowed_networks_are_read_when_the_fetch_runs(settings, httpserver):
    content = image_bytes("PNG", (10, 10))
    httpserver.expect_request("/x.png").respond_with_data(content, content_type="image/png")
    settings.IMAGE_CACHE_ALLOWED_NETWORKS = []
    with pytest.raises(FetchRefused):
        fetch(httpserver.url_for("/x.png"))
    settings.IMAGE_CACHE_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    assert fetch(httpserver.url_for("/x.png")).content == content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://127.0.0.2:{port}/again.png", "127.0.0.2 is a loopback address"),
        ("http://[::ffff:169.254.169.254]/", "carries link-local address 169.254.169.254"),
        ("gopher://127.0.0.1:{port}/", "scheme 'gopher' is not http or https"),
    ],
)
def test_redirect_to_a_forbidden_address_is_refused(httpserver, make_post, settings, target, reason):
    settings.IMAGE_CACHE_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the test server, nothing else
    location = target.format(port=httpserver.port)
    httpserver.expect_request("/jump.png").respond_with_data("", status=302, headers={"Location": location})
    post_with(make_post, httpserver.url_for("/jump.png"))

    with ConnectionLog() as connections:
        result = cache_images()

    ((refused_url, refusal),) = result.refused
    assert refused_url == httpserver.url_for("/jump.png")
    assert reason in refusal
    assert set(connections.hosts) == {"127.0.0.1"}
    assert len(httpserver.log) == 1


@pytest.mark.django_db
def test_redirects_are_followed_up_to_five_hops(httpserver, make_post):
    for hop in range(5):
        httpserver.expect_request(f"/hop{hop}").respond_with_data(
            "", status=301, headers={"Location": f"/hop{hop + 1}"}
        )
    serve(httpserver, "/hop5", image_bytes("PNG", (20, 20)), "image/png")
    for hop in range(6, 12):
        httpserver.expect_request(f"/hop{hop}").respond_with_data(
            "", status=302, headers={"Location": f"/hop{hop + 1}"}
        )
    ok, too_far = httpserver.url_for("/hop0"), httpserver.url_for("/hop6")
    post_with(make_post, ok, too_far)

    result = cache_images(concurrency=1)

    assert result.cached == [ok]
    assert result.failed == [(too_far, "more than 5 redirects")]


@pytest.mark.django_db
def test_request_names_kabar_and_asks_for_images(httpserver, make_post):
    url = serve(httpserver, "/ua.png", image_bytes("PNG", (10, 10)), "image/png")
    post_with(make_post, url)

    cache_images()

    request = httpserver.log[0][0]
    assert "Kabar" in request.headers["User-Agent"]
    assert request.headers["Host"] == f"127.0.0.1:{httpserver.port}"


# --- storage ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_same_image_in_two_posts_is_fetched_and_stored_once(httpserver, make_post, _media_root):
    url = serve(httpserver, "/shared.png", image_bytes("PNG", (600, 400)), "image/png")
    first, second = post_with(make_post, url), post_with(make_post, url)

    cache_images()

    image = RemoteImage.objects.get()
    assert set(image.posts.all()) == {first, second}
    assert len(httpserver.log) == 1
    assert len(stored_files(_media_root)) == 1 + 4  # original + 480 and 600 wide, in PNG and WebP


@pytest.mark.django_db
def test_equal_bytes_at_two_urls_share_their_files(httpserver, make_post, _media_root):
    content = image_bytes("PNG", (300, 300))
    one = serve(httpserver, "/a/copy.png", content, "image/png")
    two = serve(httpserver, "/b/copy.png", content, "image/png")
    post_with(make_post, one, two)

    cache_images()

    originals = set(RemoteImage.objects.values_list("original", flat=True))
    assert len(originals) == 1
    assert len(stored_files(_media_root)) == 1 + 2


@pytest.mark.django_db
def test_second_run_downloads_nothing(httpserver, make_post):
    url = serve(httpserver, "/once.png", image_bytes("PNG", (100, 100)), "image/png")
    post_with(make_post, url)
    cache_images()

    again = cache_images()

    assert (again.cached, again.already_cached) == ([], [url])
    assert len(httpserver.log) == 1


@pytest.mark.django_db
def test_refresh_asks_conditionally_and_304_changes_nothing(httpserver, make_post):
    content = image_bytes("PNG", (100, 100))
    httpserver.expect_oneshot_request("/etag.png").respond_with_data(
        content, content_type="image/png", headers={"ETag": '"v1"', "Last-Modified": "Sat, 29 Oct 2022 02:45:00 GMT"}
    )
    httpserver.expect_request("/etag.png", headers={"If-None-Match": '"v1"'}).respond_with_data("", status=304)
    url = httpserver.url_for("/etag.png")
    post_with(make_post, url)
    cache_images()
    before = RemoteImage.objects.get()

    result = cache_images(refresh=True)

    after = RemoteImage.objects.get()
    assert result.already_cached == [url] and result.cached == []
    request = httpserver.log[1][0]
    assert request.headers["If-Modified-Since"] == "Sat, 29 Oct 2022 02:45:00 GMT"
    assert httpserver.log[1][1].status_code == 304
    assert (after.status, after.original, after.etag) == ("cached", before.original, '"v1"')
    assert after.fetched_at > before.fetched_at


@pytest.mark.django_db
def test_failed_images_are_skipped_until_retried(httpserver, make_post):
    httpserver.expect_oneshot_request("/later.png").respond_with_data("no", status=404)
    url = serve(httpserver, "/later.png", image_bytes("PNG", (50, 50)), "image/png")
    post_with(make_post, url)
    assert cache_images().failed

    skipped = cache_images()
    retried = cache_images(retry_failed=True)

    assert skipped.skipped == [(url, "failed earlier: HTTP 404 NOT FOUND")] and skipped.ok
    assert retried.cached == [url]
    image = RemoteImage.objects.get()
    assert (image.status, image.attempts, image.last_error) == ("cached", 2, "")


@pytest.mark.django_db
def test_nothing_partial_is_left_in_storage_after_failures(httpserver, make_post, settings, _media_root):
    settings.IMAGE_CACHE_MAX_PIXELS = 1_000_000
    httpserver.expect_request("/404.png").respond_with_data("", status=404)
    serve(httpserver, "/page.png", b"<html><body>hi</body></html>", "text/html")
    serve(httpserver, "/bomb.png", image_bytes("PNG", (2000, 1000)), "image/png")
    serve(httpserver, "/broken.jpg", image_bytes("JPEG", (500, 500))[:400])
    paths = ["/404.png", "/page.png", "/bomb.png", "/broken.jpg"]
    post_with(make_post, *(httpserver.url_for(path) for path in paths), "http://10.0.0.1/private.png")

    result = cache_images()

    assert len(result.failed) + len(result.refused) == 5 and not result.cached
    assert stored_files(_media_root) == []
    assert not ImageVariant.objects.exists()


@pytest.mark.django_db
def test_a_storage_failure_halfway_removes_the_files_already_written(httpserver, make_post, settings, _media_root):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "tests.images_storage.ThirdSaveFails"},
    }
    url = serve(httpserver, "/disk.png", image_bytes("PNG", (1200, 800)), "image/png")
    post_with(make_post, url)

    result = cache_images()

    assert result.failed == [(url, "could not store the files: [Errno 28] No space left on device")]
    assert stored_files(_media_root) == []
    assert RemoteImage.objects.get().status == "failed"


# --- concurrency --------------------------------------------------------------------------


@pytest.mark.django_db
def test_many_images_in_parallel_respect_the_per_host_limit(make_post, settings):
    from tests.images_server import LatencyServer

    # No read timeout on a loaded machine: a request given up stays counted by the server until
    # its thread runs again, while the fetcher, within its limit, already asks again.
    settings.IMAGE_CACHE_READ_TIMEOUT = 10.0
    settings.IMAGE_CACHE_TOTAL_TIMEOUT = 30.0
    images = {f"/img/{n}.png": (image_bytes("PNG", (64, 48 + n)), "image/png") for n in range(12)}
    with LatencyServer(images, latency=0.1) as server:
        post_with(make_post, *server.urls)
        started = time.monotonic()
        result = cache_images(concurrency=8, per_host=3)
        elapsed = time.monotonic() - started

    assert len(result.cached) == 12
    assert server.requests == 12  # each image asked for once
    assert server.max_in_flight == 3
    assert elapsed < 12 * 0.1  # in parallel, not one after another


def test_the_test_servers_count_is_what_its_clients_had_in_flight():
    # The count the per-host test relies on. A request whose answer is on its way is counted out:
    # its client may ask again as soon as it has read it, and that next request must not find it
    # still counted (under load it did: 4 in flight for a limit of 3).
    import threading
    import urllib.request

    from tests.images_server import LatencyServer

    big = b"x" * (64 * 1024 * 1024)  # more than the sockets buffer: the server is still sending
    with LatencyServer({"/big.png": (big, "image/png"), "/a.png": (b"x", "image/png")}, latency=0) as server:
        with urllib.request.urlopen(server.urls[0]) as answer:  # the status line and headers read
            assert server.in_flight == 0
            assert len(answer.read()) == len(big)
        for _ in range(300):  # one request at a time is one in flight
            with urllib.request.urlopen(server.urls[1]) as answer:
                answer.read()
    assert (server.requests, server.max_in_flight) == (301, 1)

    with LatencyServer({"/a.png": (b"x", "image/png")}, latency=0.5) as server:
        clients = [threading.Thread(target=lambda: urllib.request.urlopen(server.urls[0]).read()) for _ in range(4)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
    assert (server.requests, server.max_in_flight) == (4, 4)  # four waiting at once are four


# --- discovery ------------------------------------------------------------------------------


def test_discovery_finds_every_way_a_post_shows_an_image():
    base = "http://old.example.com/2020/01/02/post/"
    html = """
    <p><img src="https://cdn.example.com/a.png" alt="a"></p>
    <p><img src="data:image/gif;base64,R0lGOD" data-src="https://cdn.example.com/lazy.jpg"></p>
    <p><img data-lazy-src="https://cdn.example.com/lazier.webp"></p>
    <p><img srcset="https://cdn.example.com/set-a.jpg 1x, https://cdn.example.com/set-b.jpg 2x"></p>
    <p><img data-srcset="//cdn.example.com/proto.png 800w"></p>
    <p><a href="https://other.example.com/big.jpg"><img src="https://cdn.example.com/small.gif"></a></p>
    <p><img src="/wp-content/uploads/2020/01/rel.jpg"></p>
    <p><img src="/media/images/ab/cd/960.jpg"><a href="/about/"><img src="https://cdn.example.com/b.png"></a></p>
    """
    body = (
        "<figure><div>![](https://cdn.example.com/md-in-html.png)</div></figure>\n\n"
        '![x](https://cdn.example.com/md.jpg "t")'
    )
    front_matter = {
        "image": "/wp-content/uploads/cover.jpg",
        "thumbnail": {"path": "https://cdn.example.com/th.png"},
        "cover": "A view of the sea",
        "featured_image": True,
    }

    found = discovery.find_images(html=html, body=body, front_matter=front_matter, base_url=base)

    assert set(found) == {
        "https://cdn.example.com/a.png",
        "https://cdn.example.com/lazy.jpg",
        "https://cdn.example.com/lazier.webp",
        "https://cdn.example.com/set-a.jpg",
        "https://cdn.example.com/set-b.jpg",
        "https://cdn.example.com/proto.png",
        "https://other.example.com/big.jpg",
        "https://cdn.example.com/small.gif",
        "http://old.example.com/wp-content/uploads/2020/01/rel.jpg",
        "https://cdn.example.com/b.png",
        "https://cdn.example.com/md-in-html.png",
        "https://cdn.example.com/md.jpg",
        "http://old.example.com/wp-content/uploads/cover.jpg",
        "https://cdn.example.com/th.png",
    }


def test_thumbnails_linked_to_their_full_size_file_cache_only_the_full_size():
    html = """
    <a href="https://1.bp.blogspot.com/-abc/XYZ/AAA/s1600/kucing.jpg">
      <img src="https://1.bp.blogspot.com/-abc/XYZ/AAA/s320/kucing.jpg" width="320"></a>
    <a href="/wp-content/uploads/2019/05/pantai.jpg"><img src="/wp-content/uploads/2019/05/pantai-300x200.jpg"
      srcset="/wp-content/uploads/2019/05/pantai-300x200.jpg 300w,
              /wp-content/uploads/2019/05/pantai-1024x683.jpg 1024w"></a>
    <img srcset="https://cdn.example.com/gunung-640x480.jpg 640w, https://cdn.example.com/gunung-1280x960.jpg 1280w">
    """
    body = "[![](https://cdn.example.com/laut-150x150.png)](https://cdn.example.com/laut.png)"

    found = discovery.find_images(html=html, body=body, base_url="https://blog.example.com/?p=7")

    assert found == [
        "https://1.bp.blogspot.com/-abc/XYZ/AAA/s1600/kucing.jpg",
        "https://blog.example.com/wp-content/uploads/2019/05/pantai.jpg",
        "https://cdn.example.com/gunung-1280x960.jpg",
        "https://cdn.example.com/laut.png",
    ]


def test_relative_paths_without_an_http_guid_are_not_guessed():
    found = discovery.find_images(html='<img src="/wp-content/uploads/x.jpg">', base_url="tag:blogger.com,1999:blog-1")
    assert found == []


def test_template_code_in_an_image_address_is_no_image_to_fetch():
    body = '<img src="{{ image }}" alt="{{ _image_alt }}">\n\n![x]({{ page.image }})\n\n<img src="/a/{% raw %}b.png">'
    assert discovery.find_images(body=body, base_url="https://blog.example.com/?p=7") == []
    assert discovery.find_images(body='<img src="/a/b.png">', base_url="https://blog.example.com/?p=7") == [
        "https://blog.example.com/a/b.png"
    ]


def test_sample_post_images_are_found_in_its_html_blocks():
    text = SAMPLE_POST.read_text()
    expected = re.findall(r"!\[\]\((https://assets-global\.website-files\.com/[^)]+)\)", text)
    found = discovery.find_images(body=text.split("---", 2)[2])
    assert len(expected) == 4 and found == expected


# --- rewriting ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_cached_images_are_rewritten_to_local_files_with_srcset_and_size(httpserver, make_post):
    url = serve(httpserver, "/wide.jpg", image_bytes("JPEG", (2000, 1000)))
    post = post_with(make_post, url)

    cache_images()

    post.refresh_from_db()
    page = _Images(post.body_html)
    (img,), (source,) = page.imgs, page.sources
    image = RemoteImage.objects.get()
    names = {(v.format, v.width): default_storage.url(v.name) for v in image.variants.all()}
    assert img["src"] == names["JPEG", 960]
    assert img["srcset"] == f"{names['JPEG', 480]} 480w, {names['JPEG', 960]} 960w, {names['JPEG', 1600]} 1600w"
    assert (img["width"], img["height"]) == ("2000", "1000")
    assert img["sizes"] == "(max-width: 1600px) 100vw, 1600px"
    assert img["alt"] == "picture 0"
    assert source["type"] == "image/webp"
    assert source["srcset"] == f"{names['WEBP', 480]} 480w, {names['WEBP', 960]} 960w, {names['WEBP', 1600]} 1600w"
    assert url not in post.body_html
    assert image.url == url  # the record keeps where it came from


@pytest.mark.django_db
def test_failed_image_keeps_its_original_url(httpserver, make_post):
    good = serve(httpserver, "/good.png", image_bytes("PNG", (200, 100)), "image/png")
    httpserver.expect_request("/bad.png").respond_with_data("", status=404)
    bad = httpserver.url_for("/bad.png")
    post = post_with(make_post, good, bad)

    cache_images()

    post.refresh_from_db()
    srcs = [img["src"] for img in _Images(post.body_html).imgs]
    assert srcs[0].startswith("/media/images/")
    assert srcs[1] == bad


@pytest.mark.django_db
def test_wordpress_thumbnail_linked_to_full_size_shows_the_cached_master(httpserver, make_post):
    full = image_bytes("JPEG", (1500, 1000))
    serve(httpserver, "/wp-content/uploads/2019/05/pantai.jpg", full)
    body = (
        '<p><a href="/wp-content/uploads/2019/05/pantai.jpg">'
        '<img src="/wp-content/uploads/2019/05/pantai-300x200.jpg" width="300" height="200" alt="Pantai"></a></p>'
    )
    post = make_post(body=body, guid=httpserver.url_for("/?p=12"))

    result = cache_images()

    assert result.cached == [httpserver.url_for("/wp-content/uploads/2019/05/pantai.jpg")]
    assert [entry[0].path for entry in httpserver.log] == ["/wp-content/uploads/2019/05/pantai.jpg"]
    post.refresh_from_db()
    page = _Images(post.body_html)
    image = RemoteImage.objects.get()
    assert page.links[0]["href"] == default_storage.url(image.original)
    (img,) = page.imgs
    assert img["src"].startswith("/media/images/")
    assert (img["width"], img["height"], img["alt"]) == ("300", "200", "Pantai")
    assert img["sizes"] == "(max-width: 300px) 100vw, 300px"


@pytest.mark.django_db
def test_rewriting_html_without_images_runs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert rewrite_html("<p>No pictures.</p>") == "<p>No pictures.</p>"


@pytest.mark.django_db
def test_rendering_a_post_looks_its_images_up_in_one_query(httpserver, make_post, django_assert_num_queries):
    urls = [serve(httpserver, f"/q{n}.png", image_bytes("PNG", (500 + n, 300)), "image/png") for n in range(5)]
    post = post_with(make_post, *urls)
    cache_images()
    unsaved = Post(body=post.body, author=post.author, title="Draft", slug="draft", permalink="/draft/")

    with django_assert_num_queries(1):
        post.render()
    with django_assert_num_queries(1):
        unsaved.render()

    assert unsaved.body_html == post.body_html
    assert len(re.findall(r'<img [^>]*\bsrc="/media/images/', post.body_html)) == 5


@pytest.mark.django_db
def test_the_sample_posts_four_images_are_served_locally(httpserver, make_post):
    text = SAMPLE_POST.read_text()
    remote = re.findall(r"!\[\]\((https://assets-global\.website-files\.com/[^)]+)\)", text)
    base = httpserver.url_for("/").rstrip("/")
    for url in remote:
        path = url.removeprefix("https://assets-global.website-files.com")
        image_format = "JPEG" if path.endswith(".jpeg") else "PNG"
        serve(httpserver, path, image_bytes(image_format, (1000, 560)), f"image/{image_format.lower()}")
    body = text.split("---", 2)[2].replace("https://assets-global.website-files.com", base)
    post = make_post(body=body, guid="http://localhost/wordpress/index.php/2022/10/29/mengenal-microservices/")

    result = cache_images(posts=[post])

    assert len(result.cached) == 4 and result.ok
    post.refresh_from_db()
    assert base not in post.body_html
    imgs = _Images(post.body_html).imgs
    assert len(imgs) == 4
    for img in imgs:
        assert img["src"].startswith("/media/images/")
        assert (img["width"], img["height"]) == ("1000", "560")
    assert cache_post_images(post.pk).already_cached == [base + url[len("https://assets-global.website-files.com") :]
                                                       for url in remote]  # fmt: skip


@pytest.mark.django_db
def test_dry_run_fetches_and_writes_nothing(httpserver, make_post):
    url = serve(httpserver, "/dry.png", image_bytes("PNG", (10, 10)), "image/png")
    post_with(make_post, url)

    result = cache_images(dry_run=True)

    assert result.to_fetch == [url]
    assert httpserver.log == [] and not RemoteImage.objects.exists()


def test_fetch_error_reasons_are_plain_sentences(settings):
    settings.IMAGE_CACHE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.IMAGE_CACHE_RETRIES = 0
    with socket.socket() as closed:  # a port that was just free: nobody listens there
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(FetchError) as caught:
        fetch(f"http://127.0.0.1:{port}/nothing.png")
    assert caught.value.reason.startswith(f"cannot connect to 127.0.0.1:{port}: ")
    assert "object at 0x" not in caught.value.reason


def test_https_goes_to_the_checked_address_and_verifies_the_certificate(settings, tmp_path):
    """A self-signed certificate is rejected: TLS runs with verification through the pinned pool."""
    import ssl
    import subprocess

    from pytest_httpserver import HTTPServer

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.expect_request("/x.png").respond_with_data(image_bytes("PNG", (10, 10)), content_type="image/png")
    server.start()
    settings.IMAGE_CACHE_RETRIES = 0
    try:
        with pytest.raises(FetchError) as caught:
            fetch(f"https://127.0.0.1:{server.port}/x.png")
    finally:
        server.stop()
    assert caught.value.reason.startswith(f"TLS error with 127.0.0.1:{server.port}: ")
    assert "certificate verify failed" in caught.value.reason


@pytest.mark.django_db
def test_post_sharing_an_image_cached_by_another_run_is_rerendered(httpserver, make_post):
    # Two workers, two posts, one image: the run for the second post finds the image cached
    # already, and must still point the second post at the local copy.
    serve(httpserver, "/shared.jpg", image_bytes("JPEG", (800, 600)))
    url = httpserver.url_for("/shared.jpg")
    first, second = make_post(body=f"![a]({url})"), make_post(body=f"![b]({url})")
    cache_images(posts=[first])
    assert url in Post.objects.get(pk=second.pk).body_html  # not linked yet: still remote
    result = cache_images(posts=[Post.objects.get(pk=second.pk)])
    assert result.already_cached == [url] and result.posts_rerendered == 1
    assert url not in Post.objects.get(pk=second.pk).body_html
    assert len(httpserver.log) == 1


# --- Ports and special-purpose ranges (issue 17 #14) ------------------------------------------


@pytest.mark.django_db
def test_a_redirect_to_another_port_of_an_allowed_network_is_refused(httpserver, make_post, settings):
    """The reported attack: 127/8 allowed, a redirect to Redis on 6379."""
    settings.IMAGE_CACHE_ALLOWED_PORTS = [str(httpserver.port)]
    httpserver.expect_request("/jump.png").respond_with_data(
        "", status=302, headers={"Location": "http://127.0.0.1:6379/"}
    )
    post_with(make_post, httpserver.url_for("/jump.png"))
    with ConnectionLog() as connections:
        result = cache_images()
    assert result.refused == [
        (httpserver.url_for("/jump.png"), "port 6379 is not an allowed port (IMAGE_CACHE_ALLOWED_PORTS)")
    ]
    assert connections.hosts == ["127.0.0.1"]  # the test server only, once


def test_allowed_ports_take_ranges_and_refuse_nonsense(settings):
    from django.core.exceptions import ImproperlyConfigured

    from blog.images.fetching import allowed_ports

    settings.IMAGE_CACHE_ALLOWED_PORTS = ["443", "8000-8002"]
    assert allowed_ports() == [range(443, 444), range(8000, 8003)]
    settings.IMAGE_CACHE_ALLOWED_PORTS = ["http"]
    with pytest.raises(ImproperlyConfigured, match="'http' is not a port or a range of ports"):
        allowed_ports()


@pytest.mark.parametrize(
    "address",
    [
        "192.0.0.9",  # IANA special purpose (PCP anycast), though Python calls it global
        "192.0.0.10",
        "192.31.196.1",  # AS112
        "192.52.193.1",  # AMT
        "192.88.99.1",  # 6to4 relay anycast
        "192.175.48.1",  # AS112 direct delegation
        "2620:4f:8000::1",
        "2002:808:808::1",  # 6to4, whatever it carries
        "3fff::1",  # documentation
    ],
)
def test_iana_special_purpose_addresses_are_refused(settings, address):
    """Addresses Python's ipaddress counts as global, in ranges IANA reserves for special purposes."""
    import ipaddress

    settings.IMAGE_CACHE_ALLOWED_NETWORKS = []
    # Python 3.13's ipaddress already calls some of them (6to4) private: refused either way.
    assert address_refusal(ipaddress.ip_address(address)) in {
        f"{address} is a special-purpose address",
        f"{address} is a private address",
    }


# --- The total deadline bounds the whole fetch (issue 17 #2) ----------------------------------


class DripServer:
    """A raw TCP server on 127.0.0.1 that sends `head` at once, then `drip` one byte per `interval`."""

    def __init__(self, *, head: bytes, drip: bytes, interval: float = 0.05):
        import threading

        self.head, self.drip, self.interval = head, drip, interval
        self.connections = 0
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        import threading

        while not self.stop.is_set():
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(client,), daemon=True).start()

    def _answer(self, client):
        with client:
            try:
                client.recv(65536)
                client.sendall(self.head)
                for byte in self.drip:
                    if self.stop.wait(self.interval):
                        return
                    client.sendall(bytes([byte]))
            except OSError:
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.listener.close()


@pytest.mark.parametrize(
    ("head", "drip"),
    [
        # The reported attack: a Content-Length of 100,000, then one byte at a time.
        (b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n", b"x" * 100_000),
        # Header lines dripped: the status line never ends within the deadline.
        (b"", b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"y" * 100_000),
        # No Content-Length: a dripped body that would look complete once cut.
        (b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n\r\n", b"x" * 100_000),
    ],
    ids=["body", "headers", "body-without-length"],
)
def test_a_dripping_server_is_cut_off_at_the_total_deadline_retries_included(settings, head, drip):
    settings.IMAGE_CACHE_ALLOWED_PORTS = ["1024-65535"]
    settings.IMAGE_CACHE_READ_TIMEOUT = 0.5  # every byte comes well within it
    settings.IMAGE_CACHE_TOTAL_TIMEOUT = 1.0
    settings.IMAGE_CACHE_RETRIES = 2
    settings.IMAGE_CACHE_RETRY_BACKOFF = 0.01
    with DripServer(head=head, drip=drip) as server:
        started = time.monotonic()
        with pytest.raises(FetchError) as caught:
            fetch(f"http://127.0.0.1:{server.port}/x.png")
        elapsed = time.monotonic() - started
    assert caught.value.reason == "took longer than 1 s (IMAGE_CACHE_TOTAL_TIMEOUT)"
    assert 0.9 < elapsed < 1.4
    assert server.connections == 1  # no retry starts after the deadline


def test_retries_stop_when_their_backoff_would_pass_the_deadline(httpserver, settings):
    settings.IMAGE_CACHE_TOTAL_TIMEOUT = 1.0
    settings.IMAGE_CACHE_RETRIES = 5
    settings.IMAGE_CACHE_RETRY_BACKOFF = 0.4  # 0.4 + 0.8 already pass 1 s
    httpserver.expect_request("/busy.png").respond_with_data("busy", status=503)
    started = time.monotonic()
    with pytest.raises(FetchError, match="HTTP 503"):
        fetch(httpserver.url_for("/busy.png"))
    assert time.monotonic() - started < 1.0
    assert len(httpserver.log) == 2


# --- Pixels decoded at once, all threads together (issue 17 #3) -------------------------------


@pytest.mark.django_db
def test_parallel_large_pngs_stay_within_the_process_wide_decode_budget(httpserver, make_post, settings, monkeypatch):
    """Eight 2000x2000 PNGs of a few KB each, fetched eight at a time: at most two are decoded at once."""
    import threading

    from blog.images import processing

    side = 2000
    settings.IMAGE_DECODE_MAX_PIXELS = 2 * side * side
    settings.IMAGE_CACHE_WIDTHS = [480]
    content = image_bytes("PNG", (side, side))
    assert len(content) < 100_000  # small file, large image
    urls = []
    for n in range(8):
        httpserver.expect_request(f"/big{n}.png").respond_with_data(content, content_type="image/png")
        urls.append(httpserver.url_for(f"/big{n}.png"))
    post_with(make_post, *urls)

    # Measured outside the budget: the pixels of the images being decoded and resized right now.
    lock, in_flight, peak = threading.Lock(), [0], [0]
    original = processing._process

    def measured(data):
        with lock:
            in_flight[0] += side * side
            peak[0] = max(peak[0], in_flight[0])
        try:
            return original(data)
        finally:
            with lock:
                in_flight[0] -= side * side

    monkeypatch.setattr(processing, "_process", measured)
    result = cache_images(concurrency=8)

    assert len(result.cached) == 8
    assert peak[0] == 2 * side * side  # two at once: the budget, and parallel work still happens
    assert processing.decode_budget.in_use == 0


def test_an_image_larger_than_the_whole_budget_decodes_alone(settings):
    import threading

    from blog.images.processing import PixelBudget

    settings.IMAGE_DECODE_MAX_PIXELS = 100
    budget = PixelBudget()
    held = []

    def big():
        with budget.hold(pixels=1000):
            held.append(budget.in_use)

    with budget.hold(pixels=10):
        waiting = threading.Thread(target=big)
        waiting.start()
        waiting.join(0.2)
        assert held == []  # the big one waits for the small one to finish
    waiting.join(2)
    assert held == [100]  # then runs alone, holding the whole budget
    assert budget.in_use == 0


# --- No location or personal metadata in any stored file, originals included (issue 17 #11) ---

SECRET = b"KabarSecretCam"  # in every metadata block below; must appear in no stored file


def _camera_exif(orientation=1):
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    exif[0x010F] = SECRET.decode()  # Make
    exif[0x013B] = "Jane Photographer"  # Artist
    exif.get_ifd(0x8825).update({1: "S", 2: (6.0, 10.0, 30.0), 3: "E", 4: (106.0, 49.0, 0.0)})  # GPS
    return exif.tobytes()


XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>6,10.5S</exif:GPSLatitude>' + SECRET + b"</x:xmpmeta>"


def _segment(marker: int, payload: bytes) -> bytes:
    import struct

    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _jpeg_with_everything():
    """A photo as phones and editors write it: EXIF with GPS and orientation, XMP, IPTC, a comment, trailing bytes."""
    plain = image_bytes("JPEG", (800, 600), exif=_camera_exif(orientation=6), comment=SECRET)
    xmp = _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP)
    iptc = _segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x12\x1c\x02\x50\x00\x0e" + SECRET)
    return plain[:2] + xmp + iptc + plain[2:] + b"trailing " + SECRET


def _png_with_everything():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", SECRET.decode())
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    info.add_text("Comment", SECRET.decode(), zip=True)
    return image_bytes("PNG", (600, 400), pnginfo=info, exif=_camera_exif())


def _gif_with_everything():
    content = image_bytes("GIF", (300, 200), comment=SECRET)
    xmp = b"\x21\xff\x0bXMP DataXMP" + bytes([len(XMP[:255])]) + XMP[:255] + b"\x00"
    return content[:-1] + xmp + b"\x3b"


def _webp_with_everything():
    return image_bytes("WEBP", (600, 400), exif=_camera_exif(), xmp=XMP)


def _entropy_coded_data(jpeg: bytes) -> bytes:
    """Return a JPEG's compressed picture: from its first scan to the end of the image."""
    start = jpeg.index(b"\xff\xda")
    return jpeg[start : jpeg.index(b"\xff\xd9", start) + 2]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make", "path", "content_type"),
    [
        (_jpeg_with_everything, "/photo.jpg", "image/jpeg"),
        (_png_with_everything, "/photo.png", "image/png"),
        (_gif_with_everything, "/photo.gif", "image/gif"),
        (_webp_with_everything, "/photo.webp", "image/webp"),
    ],
    ids=["jpeg", "png", "gif", "webp"],
)
def test_a_linked_original_is_stored_without_location_or_personal_metadata(
    httpserver, make_post, _media_root, make, path, content_type
):
    content = make()
    assert content.count(SECRET) >= 2 and (b"GPS" in content or b"\x88\x25" in content or b"\x25\x88" in content)
    url = serve(httpserver, path, content, content_type=content_type)
    post = make_post(body=f'<a href="{url}"><img src="{url}" alt="A photo"></a>')

    cache_images()

    image = RemoteImage.objects.get(url=url)
    post.refresh_from_db()
    assert f'href="{default_storage.url(image.original)}"' in post.body_html  # the post links to it
    for name in stored_files(_media_root):
        stored = (_media_root / name).read_bytes()
        assert SECRET not in stored, name
        assert b"GPSLatitude" not in stored, name
    with default_storage.open(image.original) as handle:
        original = handle.read()
    cleaned, source = Image.open(io.BytesIO(original)), Image.open(io.BytesIO(content))
    assert cleaned.format == source.format
    assert "xmp" not in cleaned.info and "comment" not in cleaned.info
    assert 0x8825 not in cleaned.getexif() and 0x010F not in cleaned.getexif()
    assert cleaned.convert("RGB").tobytes() == source.convert("RGB").tobytes()  # not one pixel changed
    if source.format == "JPEG":
        assert _entropy_coded_data(original) == _entropy_coded_data(content)  # not re-encoded
        assert dict(cleaned.getexif()) == {0x0112: 6}  # still shown upright
        assert (image.width, image.height) == (600, 800)


@pytest.mark.django_db
def test_an_avif_original_with_metadata_is_re_encoded_without_it(httpserver, make_post, _media_root):
    content = image_bytes("AVIF", (600, 400), exif=_camera_exif(), xmp=XMP)
    assert SECRET in content
    url = serve(httpserver, "/photo.avif", content, content_type="image/avif")
    post_with(make_post, url)

    cache_images()

    image = RemoteImage.objects.get(url=url)
    with default_storage.open(image.original) as handle:
        original = handle.read()
    assert SECRET not in original
    stored = Image.open(io.BytesIO(original))
    assert (stored.format, stored.size) == ("AVIF", (600, 400))
    assert dict(stored.getexif()) == {} and "xmp" not in stored.info


def test_images_of_a_gone_site_come_from_its_mirror_and_keep_their_address(httpserver, make_post, settings):
    serve(httpserver, "/old.example.com/wp-content/uploads/a.png", image_bytes("PNG", (640, 480)), "image/png")
    settings.IMAGE_CACHE_MIRROR = httpserver.url_for("/")
    post = post_with(make_post, "https://old.example.com/wp-content/uploads/a.png")
    result = cache_images(posts=Post.objects.filter(pk=post.pk))
    assert result.cached == ["https://old.example.com/wp-content/uploads/a.png"]
    assert RemoteImage.objects.get().url == "https://old.example.com/wp-content/uploads/a.png"
    post.refresh_from_db()
    assert "old.example.com" not in post.body_html and "/media/images/" in post.body_html
    # The mirror is an address like any other: on 127.0.0.1 only where allowed.
    settings.IMAGE_CACHE_ALLOWED_NETWORKS = []
    with pytest.raises(FetchRefused):
        fetch("https://old.example.com/wp-content/uploads/a.png")
