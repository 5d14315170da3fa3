"""Whole-page caching, its invalidation on every content change, and conditional GET."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from taggit.models import Tag

from blog.caching import bump_content_version, current_content_version
from blog.models import Post, Redirect


def body(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_a_second_anonymous_request_is_served_from_the_cache(client, sample_post, django_assert_num_queries):
    first = client.get(sample_post.permalink)
    with django_assert_num_queries(0):
        second = client.get(sample_post.permalink)
    assert second.status_code == 200
    assert second.content == first.content
    assert second["Content-Type"] == "text/html; charset=utf-8"


def test_cached_redirects_and_404s_answer_the_same(client, sample_post, django_assert_num_queries):
    client.get("/?p=161")
    client.get("/gone/")
    with django_assert_num_queries(0):
        redirect = client.get("/?p=161")
        missing = client.get("/gone/")
    assert (redirect.status_code, redirect["Location"]) == (301, sample_post.permalink)
    assert missing.status_code == 404


def test_an_edit_shows_at_once(client, sample_post, category):
    assert "Mengenal Microservices" in body(client, sample_post.permalink)
    assert "Mengenal Microservices" in body(client, "/")
    sample_post.title = "Microservices, explained again"
    sample_post.save()
    assert "Microservices, explained again" in body(client, sample_post.permalink)
    assert "Microservices, explained again" in body(client, "/")
    assert "Microservices, explained again" in body(client, "/feed/")


def test_changes_to_related_content_show_at_once(client, sample_post, category):
    html = body(client, sample_post.permalink)
    assert ">TutorialBlogger</a>" in html
    category.name = "Tutorial Blogger"
    category.save()
    assert ">Tutorial Blogger</a>" in body(client, sample_post.permalink)

    sample_post.author.display_name = "Admin Kabar"
    sample_post.author.save()
    assert ">Admin Kabar</a>" in body(client, sample_post.permalink)

    sample_post.tags.add("docker")
    assert "#docker</a>" in body(client, sample_post.permalink)
    Tag.objects.filter(name="docker").first().delete()
    assert "#docker</a>" not in body(client, sample_post.permalink)

    sample_post.categories.clear()
    assert ">Tutorial Blogger</a>" not in body(client, sample_post.permalink)


def test_new_redirect_and_deleted_post_show_at_once(client, sample_post):
    assert client.get("/lama/").status_code == 404
    Redirect.objects.create(old_path="/lama/", post=sample_post)
    assert client.get("/lama/").status_code == 301
    sample_post.delete()
    assert client.get(sample_post.permalink).status_code == 404


def test_publishing_a_draft_shows_at_once(client, make_post):
    draft = make_post(title="Fresh news", status=Post.Status.DRAFT)
    assert client.get(draft.permalink).status_code == 404
    assert "Fresh news" not in body(client, "/")
    draft.status = Post.Status.PUBLISHED
    draft.save(update_fields=["status", "updated_at"])
    assert client.get(draft.permalink).status_code == 200
    assert "Fresh news" in body(client, "/")


def test_scheduled_post_appears_when_due_without_any_save(client, make_post):
    make_post(title="Already out")
    due = make_post(title="Due soon", date=timezone.now() + timedelta(seconds=1.5))
    assert "Due soon" not in body(client, "/")
    assert client.get(due.permalink).status_code == 404
    time.sleep(1.6)
    assert "Due soon" in body(client, "/")
    assert client.get(due.permalink).status_code == 200


def test_logged_in_editors_bypass_the_cache(client, sample_post, django_user_model):
    editor = django_user_model.objects.create_user(username="editor", is_staff=True)
    editor.user_permissions.add(Permission.objects.get(codename="change_post"))
    client.get(sample_post.permalink)  # cached for readers
    Post.objects.filter(pk=sample_post.pk).update(title="Changed behind the cache's back")
    assert "Changed behind the cache" not in body(client, sample_post.permalink)
    client.force_login(editor)
    assert "Changed behind the cache" in body(client, sample_post.permalink)


def test_page_cache_can_be_turned_off(client, sample_post, settings):
    settings.PAGE_CACHE_SECONDS = 0
    client.get(sample_post.permalink)
    Post.objects.filter(pk=sample_post.pk).update(title="Seen without cache")
    assert "Seen without cache" in body(client, sample_post.permalink)


@pytest.mark.parametrize("url", ["post", "/2022/10/", "/feed/", "/feed/atom/", "/category/tutorialblogger/"])
def test_revalidation_gets_304_until_content_changes(client, sample_post, url):
    url = sample_post.permalink if url == "post" else url
    first = client.get(url)
    assert first.status_code == 200
    etag, last_modified = first["ETag"], first["Last-Modified"]

    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304

    time.sleep(1.01)  # Last-Modified has whole seconds
    sample_post.title = "A new title"
    sample_post.save()
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert "A new title" in changed.content.decode()
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 200


def test_content_version_only_moves_forward(db):
    first = current_content_version()
    second = bump_content_version()
    third = bump_content_version()
    assert first.stamp < second.stamp < third.stamp


@pytest.mark.django_db(transaction=True)
def test_the_version_is_bumped_again_when_the_transaction_commits(make_post):
    from django.db import transaction

    post = make_post(title="Before")
    with transaction.atomic():
        post.title = "In a transaction"
        post.save()
        inside = current_content_version()
        time.sleep(0.01)
    assert current_content_version().stamp > inside.stamp
