"""Moderating comments in the admin: list, filters, search, bulk actions, the thread on the post, the index."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from blog.comments import CommentSource, upsert_comments
from blog.models import Comment
from tests.test_admin import _change_form_data

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/blog/comment/"


def when(day):
    return datetime(2021, 3, day, 12, tzinfo=UTC)


@pytest.fixture
def moderated(make_post):
    post = make_post(title="Talked about")
    other = make_post(title="Quiet")
    upsert_comments(
        post=post,
        comments=[
            CommentSource(
                source_id="1", date=when(1), body="Lovely", author_name="Ann", author_email="ann@example.com"
            ),
            CommentSource(source_id="2", parent_source_id="1", date=when(2), body="Indeed", author_name="Bob"),
            CommentSource(
                source_id="3",
                date=when(3),
                body="Buy now",
                author_name="Bot",
                author_ip="203.0.113.77",
                status="pending",
            ),
            CommentSource(source_id="4", date=when(4), body="Linked", author_name="Blog", type="pingback"),
        ],
    )
    upsert_comments(post=other, comments=[CommentSource(source_id="9", date=when(5), body="Hmm", status="pending")])
    return post, other


def listed(response) -> list[str]:
    return [comment.source_id for comment in response.context["cl"].result_list]


def test_changelist_filters_and_search(admin_client, moderated):
    _post, other = moderated
    assert sorted(listed(admin_client.get(CHANGELIST))) == ["1", "2", "3", "4", "9"]
    assert sorted(listed(admin_client.get(CHANGELIST + "?status__exact=pending"))) == ["3", "9"]
    assert listed(admin_client.get(CHANGELIST + "?type__exact=pingback")) == ["4"]
    by_post = admin_client.get(CHANGELIST + f"?post={other.pk}")
    assert listed(by_post) == ["9"]
    assert "Quiet" in by_post.content.decode()  # the filter names the post
    assert listed(admin_client.get(CHANGELIST + "?q=ann@example.com")) == ["1"]
    assert listed(admin_client.get(CHANGELIST + "?q=buy")) == ["3"]
    assert listed(admin_client.get(CHANGELIST + "?q=203.0.113.77")) == ["3"]  # by address, for floods


@pytest.mark.parametrize("count", [1, 60])
def test_changelist_query_count_does_not_grow(admin_client, make_post, django_assert_num_queries, count):
    post = make_post()
    upsert_comments(
        post=post,
        comments=[CommentSource(source_id=str(n), date=when(1) + timedelta(minutes=n), body="x") for n in range(count)],
    )
    # session, user, count, filtered count, page of comments with their posts, date hierarchy (range, years)
    with django_assert_num_queries(7):
        response = admin_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == min(count, 50)


@pytest.mark.parametrize(
    ("action", "status"),
    [("approve", "approved"), ("mark_pending", "pending"), ("mark_spam", "spam"), ("trash", "trash")],
)
def test_bulk_actions_change_status_counts_and_pages(admin_client, client, moderated, settings, action, status):
    settings.PAGE_CACHE_SECONDS = 600
    post, _other = moderated
    client.get(post.permalink)  # cached now
    chosen = Comment.objects.filter(source_id__in=["1", "3"], post=post)
    response = admin_client.post(
        CHANGELIST, {"action": action, "_selected_action": [c.pk for c in chosen]}, follow=True
    )
    assert response.status_code == 200
    assert set(Comment.objects.filter(pk__in=[c.pk for c in chosen]).values_list("status", flat=True)) == {status}
    post.refresh_from_db()
    shown = Comment.objects.filter(post=post, status="approved").count()
    assert post.comment_count == shown
    html = client.get(post.permalink).content.decode()
    assert ("Buy now" in html) == (status == "approved")
    assert ("Lovely" in html) == (status == "approved")


def test_post_change_page_shows_the_whole_thread(admin_client, moderated):
    post, _other = moderated
    html = admin_client.get(reverse("admin:blog_post_change", args=[post.pk])).content.decode()
    thread = html[html.index('<ul class="kabar-comment-thread">') :]
    thread = thread[: thread.index("Moderate these comments")]
    for text in ("Ann", "Bob", "Bot", "Pending", "Blog (Pingback)"):
        assert text in thread
    # Bob's reply is nested under Ann's comment.
    assert re.search(r"Ann</a>.*?<ul><li class=\"kabar-comment-approved\"><a [^>]*>Bob</a>", thread, re.S)
    assert f'href="/admin/blog/comment/?post={post.pk}"' in html
    assert 'name="comment_status"' in html


def test_post_comment_status_is_edited_in_the_admin(admin_client, moderated):
    post, _other = moderated
    data = _change_form_data(admin_client, post, comment_status="closed")
    response = admin_client.post(reverse("admin:blog_post_change", args=[post.pk]), data)
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.comment_status == "closed"


def test_admin_index_shows_the_pending_count(admin_client, moderated):
    html = admin_client.get("/admin/").content.decode()
    assert re.search(r"<strong>2</strong> comments awaiting moderation", html)
    assert f'href="{CHANGELIST}?status__exact=pending"' in html


def test_moving_a_reply_in_the_admin_is_kept_by_reimport_and_export(admin_client, moderated):
    post, _other = moderated
    reply = Comment.objects.get(post=post, source_id="2")
    reply.parent = None
    reply.save()
    assert reply.parent_source_id == ""
    upsert_comments(post=post, comments=[CommentSource(source_id="3", date=when(3), body="Buy now!")])
    reply.refresh_from_db()
    assert reply.parent is None


def test_comment_change_page_and_add(admin_client, moderated):
    post, _other = moderated
    comment = Comment.objects.get(post=post, source_id="1")
    html = admin_client.get(reverse("admin:blog_comment_change", args=[comment.pk])).content.decode()
    assert '<div class="kabar-comment"><p>Lovely</p></div>' in html
    response = admin_client.post(
        reverse("admin:blog_comment_add"),
        {
            "post": post.pk,
            "parent": comment.pk,
            "status": "approved",
            "type": "comment",
            "date_0": "2021-03-09",
            "date_1": "10:00:00",
            "author_name": "Editor",
            "author_email": "",
            "author_url": "",
            "body": "An answer from the editor",
        },
    )
    assert response.status_code == 302
    added = Comment.objects.get(author_name="Editor")
    assert (added.source_id, added.parent_source_id) == (f"k{added.pk}", "1")
