"""`manage.py cache_images` end to end, against a real HTTP server on 127.0.0.1."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from blog.models import RemoteImage
from tests.images_helpers import image_bytes


@pytest.fixture(autouse=True)
def image_settings(settings):
    settings.IMAGE_CACHE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.IMAGE_CACHE_ALLOWED_PORTS = ["80", "443", "1024-65535"]
    settings.IMAGE_CACHE_READ_TIMEOUT = 0.5
    settings.IMAGE_CACHE_RETRIES = 0


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("cache_images", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_command_caches_a_posts_images_and_prints_a_summary(httpserver, make_post):
    httpserver.expect_request("/a.png").respond_with_data(image_bytes("PNG", (200, 100)), content_type="image/png")
    post = make_post(body=f"![a]({httpserver.url_for('/a.png')})")
    other = make_post(body=f"![b]({httpserver.url_for('/b.png')})")

    out, err = run("--post", str(post.pk))

    assert out.strip() == "1 cached, 0 already cached, 0 failed, 0 refused; 1 posts re-rendered."
    assert err == ""
    assert list(RemoteImage.objects.values_list("url", "status")) == [(httpserver.url_for("/a.png"), "cached")]
    assert not other.images.exists()

    out, _err = run("--post", str(post.pk))
    assert out.strip() == "0 cached, 1 already cached, 0 failed, 0 refused; 0 posts re-rendered."


@pytest.mark.django_db
def test_command_lists_failures_and_exits_with_status_1(httpserver, make_post):
    httpserver.expect_request("/missing.jpg").respond_with_data("", status=404)
    missing = httpserver.url_for("/missing.jpg")
    make_post(body=f"![x]({missing})\n\n![y](http://169.254.169.254/latest/meta-data/x.png)")
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("cache_images", "--all", stdout=out, stderr=err)

    assert caught.value.returncode == 1
    assert err.getvalue().splitlines() == [
        f"failed {missing}: HTTP 404 NOT FOUND",
        "refused http://169.254.169.254/latest/meta-data/x.png: 169.254.169.254 is a link-local address",
    ]
    assert "0 cached, 0 already cached, 1 failed, 1 refused" in out.getvalue()


@pytest.mark.django_db
def test_command_dry_run_fetches_nothing(httpserver, make_post):
    make_post(body=f"![x]({httpserver.url_for('/x.png')})")

    out, _err = run("--all", "--dry-run", "--verbosity", "2")

    assert out.splitlines() == [
        f"would fetch {httpserver.url_for('/x.png')}",
        "Dry run: 1 to fetch, 0 already cached, 0 failed earlier (not retried).",
    ]
    assert httpserver.log == [] and not RemoteImage.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give either --post ID … or --all"),
        (["--all", "--post", "1"], "give either --post ID … or --all"),
        (["--post", "999999"], "no post with id 999999"),
        (["--all", "--concurrency", "0"], "--concurrency must be at least 1, not 0"),
    ],
)
def test_command_rejects_bad_arguments_in_one_line(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
