"""Admin pages of the remote image cache: list with thumbnails, retry action, a post's images."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from blog.models import ImageVariant, RemoteImage


def make_cached(n, post=None):
    image = RemoteImage.objects.create(
        url=f"https://cdn.example.com/{n}.jpg",
        status=RemoteImage.Status.CACHED,
        width=1200,
        height=800,
        format="JPEG",
        original=f"images/{n:02x}/{n:064x}/original.jpg",
    )
    for width in (480, 960):
        ImageVariant.objects.create(
            image=image, width=width, height=width * 2 // 3, format="WEBP", name=f"images/{n}/{width}.webp"
        )
    if post is not None:
        image.posts.add(post)
    return image


def changelist_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


@pytest.mark.django_db
def test_image_list_shows_thumbnails_errors_and_keeps_its_query_count(admin_client):
    url = reverse("admin:blog_remoteimage_changelist")
    admin_client.get(url)  # warm the per-process caches (content types, permissions)
    make_cached(1)
    RemoteImage.objects.create(url="https://gone.example.com/x.png", status="failed", last_error="HTTP 404 NOT FOUND")
    few, response = changelist_queries(admin_client, url)
    html = response.content.decode()
    assert '<img src="/media/images/1/480.webp"' in html  # the narrowest variant as thumbnail
    assert "HTTP 404 NOT FOUND" in html

    for n in range(2, 40):
        make_cached(n)
    many, response = changelist_queries(admin_client, url)
    assert response.context["cl"].result_count == 40
    assert many == few


@pytest.mark.django_db
def test_image_list_filters_by_status_and_searches_urls(admin_client):
    make_cached(1)
    RemoteImage.objects.create(url="https://gone.example.com/kucing.png", status="failed", last_error="HTTP 404")
    base = reverse("admin:blog_remoteimage_changelist")

    failed = admin_client.get(base, {"status__exact": "failed"}).context["cl"].result_list
    found = admin_client.get(base, {"q": "kucing"}).context["cl"].result_list

    assert [image.url for image in failed] == ["https://gone.example.com/kucing.png"]
    assert [image.url for image in found] == ["https://gone.example.com/kucing.png"]


@pytest.mark.django_db
def test_retry_action_queues_failed_images_and_leaves_cached_ones(admin_client):
    cached = make_cached(1)
    failed = RemoteImage.objects.create(url="https://gone.example.com/x.png", status="failed", last_error="timeout")
    refused = RemoteImage.objects.create(url="http://10.0.0.1/y.png", status="refused", last_error="private")

    response = admin_client.post(
        reverse("admin:blog_remoteimage_changelist"),
        {"action": "retry", "_selected_action": [cached.pk, failed.pk, refused.pk]},
        follow=True,
    )

    assert "2 images queued" in response.content.decode()
    statuses = dict(RemoteImage.objects.values_list("url", "status"))
    assert statuses == {cached.url: "cached", failed.url: "pending", refused.url: "pending"}
    assert RemoteImage.objects.get(pk=failed.pk).last_error == ""


@pytest.mark.django_db
def test_image_change_page_loads(admin_client, make_post):
    image = make_cached(1, post=make_post(title="Kucing lucu"))
    response = admin_client.get(reverse("admin:blog_remoteimage_change", args=[image.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Kucing lucu" in html and "/media/images/1/960.webp" in html


@pytest.mark.django_db
def test_post_page_lists_its_images_with_status_in_constant_queries(admin_client, make_post):
    post = make_post()
    make_cached(1, post=post)
    RemoteImage.objects.create(url="https://gone.example.com/x.png", status="failed", last_error="HTTP 410 GONE")
    RemoteImage.objects.get(url="https://gone.example.com/x.png").posts.add(post)
    url = reverse("admin:blog_post_change", args=[post.pk])
    admin_client.get(url)  # warm the per-process caches (content types, permissions)

    few, response = changelist_queries(admin_client, url)
    html = response.content.decode()
    assert "https://cdn.example.com/1.jpg" in html and "Cached" in html
    assert "https://gone.example.com/x.png" in html and "HTTP 410 GONE" in html

    for n in range(2, 12):
        make_cached(n, post=post)
    many, _response = changelist_queries(admin_client, url)
    assert many == few
