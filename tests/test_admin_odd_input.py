"""The admin refuses the permalinks the importer refuses; the preview survives the renderer's markers."""

import pytest
from django.urls import reverse

from blog.models import Post
from tests.test_admin import _change_form_data
from tests.test_editor import XHR, editor_client  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("permalink", "error"),
    [
        ("/\\evil.example/x", "&#x27;/\\evil.example/x&#x27; must not contain a backslash: browsers read it as"),
        ("/a//evil.example/", "must not contain &#x27;//&#x27;"),
        ("/a\x7fb/", "must not contain control characters"),
        ("/a%2fb/", "must not contain &#x27;%2F&#x27; (an encoded &#x27;/&#x27;)"),
        ("/feed/", "&#x27;/feed/&#x27; is the address of one of the site&#x27;s own pages (feed): choose another"),
        ("/admin/login/", "one of the site&#x27;s own pages (admin:login)"),
        ("/static/x.css", "&#x27;/static/x.css&#x27; is under /static/, where the site serves its own files."),
    ],
)
def test_the_admin_refuses_permalinks_that_leave_or_shadow_the_site(admin_client, make_post, permalink, error):
    post = make_post(permalink="/kept/")
    url = reverse("admin:blog_post_change", args=[post.pk])
    response = admin_client.post(url, _change_form_data(admin_client, post, permalink=permalink))
    assert response.status_code == 200  # the form again, with the error, nothing saved
    assert error in response.content.decode()
    assert list(response.context["adminform"].form.errors) == ["permalink"]
    post.refresh_from_db()
    assert post.permalink == "/kept/"


def test_the_admin_refuses_a_nul_in_a_permalink(admin_client, make_post):
    post = make_post(permalink="/kept/")
    url = reverse("admin:blog_post_change", args=[post.pk])
    response = admin_client.post(url, _change_form_data(admin_client, post, permalink="/a\x00b/"))
    assert response.status_code == 200
    assert "Null characters are not allowed." in response.content.decode()
    assert Post.objects.get().permalink == "/kept/"


def test_preview_of_a_body_with_the_renderers_marker_characters(editor_client):  # noqa: F811
    body = "\ue0039\ue003 \ue000\ue001\ue002\n\n{% raw %}{{ x }}{% endraw %}"
    response = editor_client.post(reverse("markdownx_markdownify"), {"content": body}, **XHR)
    assert response.status_code == 200
    assert response.content.decode() == "<p>\ufffd9\ufffd \ufffd\ufffd\ufffd</p>\n<p>{{ x }}</p>\n"
