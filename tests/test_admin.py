"""Admin pages load for a superuser and the post changelist runs a fixed number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from blog.models import Author, Category, Post, Redirect


@pytest.fixture
def admin_client_with_data(admin_client, make_post, category):
    post = make_post(categories=[category], tags=["django", "blog"])
    Redirect.objects.create(old_path="/old/", post=post)
    return admin_client


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Post, Author, Category, Redirect])
def test_admin_pages_load(admin_client_with_data, model):
    opts = model._meta
    obj = model.objects.first()
    for url in [
        reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        reverse(f"admin:{opts.app_label}_{opts.model_name}_add"),
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]),
    ]:
        response = admin_client_with_data.get(url)
        assert response.status_code == 200, url


@pytest.mark.django_db
def test_post_change_page_has_markdownx_editor_and_source_fields(admin_client, make_post):
    post = make_post(guid="http://example.com/?p=1", front_matter={"blogger_orig_url": "x"})
    response = admin_client.get(reverse("admin:blog_post_change", args=[post.pk]))
    html = response.content.decode()
    assert 'class="markdownx' in html
    assert "http://example.com/?p=1" in html
    assert "blogger_orig_url" in html
    assert 'href="/admin/r/' in html  # "view on site"


def _changelist_queries(client):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("admin:blog_post_changelist"))
    assert response.status_code == 200
    return len(ctx.captured_queries), response


@pytest.mark.django_db
def test_post_changelist_query_count_does_not_grow(admin_client, make_post, category):
    make_post(categories=[category], tags=["a"])
    one, response = _changelist_queries(admin_client)
    assert response.context["cl"].result_count == 1
    other = Category.objects.create(name="Other", slug="other")
    for n in range(49):
        make_post(categories=[category, other], tags=["a", f"t{n}"])
    many, response = _changelist_queries(admin_client)
    assert response.context["cl"].result_count == 50
    assert many == one


@pytest.mark.django_db
def test_author_and_category_changelists_count_posts_in_one_query(admin_client, make_post, category):
    for _ in range(3):
        make_post(categories=[category])
    response = admin_client.get(reverse("admin:blog_category_changelist"))
    row = response.context["cl"].result_list[0]
    assert row.post_count == 3
    with CaptureQueriesContext(connection) as small:
        admin_client.get(reverse("admin:blog_author_changelist"))
    for n in range(10):
        Author.objects.create(name=f"a{n}", slug=f"a{n}")
    with CaptureQueriesContext(connection) as large:
        response = admin_client.get(reverse("admin:blog_author_changelist"))
    assert len(large.captured_queries) == len(small.captured_queries)
    assert {a.name: a.post_count for a in response.context["cl"].result_list}["admin"] == 3


@pytest.mark.django_db
def test_bulk_publish_and_unpublish(admin_client, make_post):
    drafts = [make_post(status=Post.Status.DRAFT) for _ in range(3)]
    url = reverse("admin:blog_post_changelist")
    response = admin_client.post(
        url, {"action": "publish", "_selected_action": [p.pk for p in drafts[:2]]}, follow=True
    )
    assert response.status_code == 200
    statuses = dict(Post.objects.values_list("pk", "status"))
    assert [statuses[p.pk] for p in drafts] == ["published", "published", "draft"]
    admin_client.post(url, {"action": "unpublish", "_selected_action": [drafts[0].pk]})
    assert Post.objects.get(pk=drafts[0].pk).status == "draft"
