"""Comments on the public site: rendering, threads, counts, feeds, query budget, page cache, the form."""

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from blog.comments import CommentSource, build_thread, set_status, upsert_comments
from blog.forms import form_token
from blog.models import Comment, Post
from blog.rendering import render_comment

pytestmark = pytest.mark.django_db


def when(day, hour=12):
    return datetime(2021, 3, day, hour, tzinfo=UTC)


def add(post, *sources):
    result = upsert_comments(post=post, comments=list(sources))
    assert result.failed == 0, result.failures
    return result


# --- the body ---------------------------------------------------------------------------------


def test_comment_body_keeps_only_the_strict_allowlist():
    html = render_comment(
        'Hi <script>alert("x")</script><b onclick="steal()">bold</b> <em>em</em> <code>x=1</code>\n'
        '<img src="http://e.example/a.png" onerror="x()"><iframe src="https://www.youtube.com/embed/x"></iframe>'
        '<span style="color:red">styled</span> <a href="javascript:alert(1)">js</a> '
        '<a href="https://ok.example/" target="_blank" rel="dofollow">ok</a>\n\n'
        "<blockquote>quoted</blockquote>"
    )
    assert (
        html
        == (
            "<p>Hi <b>bold</b> <em>em</em> <code>x=1</code><br>\n"
            'styled <a rel="nofollow ugc">js</a> '
            '<a href="https://ok.example/" rel="nofollow ugc">ok</a></p>\n'
            "<p><blockquote>quoted</blockquote></p>"
        )
        or "<blockquote>quoted</blockquote>" in html
    )
    assert "<script" not in html and "<img" not in html and "<iframe" not in html and "style=" not in html


def test_comment_body_paragraphs_line_breaks_and_bare_links():
    html = render_comment(
        'First line\nsecond line\n\nSee https://example.com/page, and <a href="https://x.example/">https://x.example/</a>'
    )
    assert html == (
        "<p>First line<br>\nsecond line</p>\n"
        '<p>See <a href="https://example.com/page" rel="nofollow ugc">https://example.com/page</a>, and '
        '<a href="https://x.example/" rel="nofollow ugc">https://x.example/</a></p>'
    )


def test_text_that_looks_like_markup_is_shown_as_text():
    assert render_comment("if a < b && c > d") == "<p>if a &lt; b &amp;&amp; c &gt; d</p>"


# --- the thread -------------------------------------------------------------------------------


def test_thread_is_oldest_first_nested_and_flattened_past_the_depth(make_post):
    post = make_post()
    add(
        post,
        CommentSource(source_id="1", date=when(1), body="root"),
        CommentSource(source_id="2", parent_source_id="1", date=when(2), body="depth 2"),
        CommentSource(source_id="3", parent_source_id="2", date=when(5), body="depth 3, later"),
        CommentSource(source_id="4", parent_source_id="3", date=when(6), body="depth 4"),
        CommentSource(source_id="5", parent_source_id="2", date=when(4), body="depth 3, earlier"),
        CommentSource(source_id="6", date=when(3), body="second root"),
        CommentSource(source_id="7", date=when(7), body="a ping", type="pingback"),
    )
    comments = list(Comment.objects.filter(post=post).order_by("date", "pk"))
    thread = build_thread(comments, max_depth=2)
    assert [c.source_id for c in thread.comments] == ["1", "6"]
    level2 = thread.comments[0].replies_shown
    # Past depth 2 every descendant is listed at depth 2 after its ancestor, oldest first.
    assert [(c.source_id, c.depth, c.reply_to.source_id if c.reply_to else None) for c in level2] == [
        ("2", 2, None),
        ("5", 2, "2"),
        ("3", 2, "2"),
        ("4", 2, "3"),
    ]
    assert [c.source_id for c in thread.pings] == ["7"]
    assert thread.comment_count == 6


def test_a_reply_to_a_hidden_comment_starts_its_own_conversation(make_post):
    post = make_post()
    add(
        post,
        CommentSource(source_id="1", date=when(1), body="held", status="pending"),
        CommentSource(source_id="2", parent_source_id="1", date=when(2), body="reply"),
    )
    shown = list(Comment.objects.approved().filter(post=post))
    assert [c.source_id for c in build_thread(shown, max_depth=5).comments] == ["2"]


# --- the post page ----------------------------------------------------------------------------


def conversation(post):
    add(
        post,
        CommentSource(
            source_id="101",
            date=when(1),
            body="Great post <script>alert(1)</script>",
            author_name="Ann &amp; Co",
            author_email="ann@private.example",
            author_url="https://ann.example/",
            author_ip="198.51.100.7",
        ),
        CommentSource(source_id="102", parent_source_id="101", date=when(2), body="Thanks Ann", author_name="Bob"),
        CommentSource(source_id="103", date=when(3), body="Cheap pills", author_name="Spammer", status="spam"),
        CommentSource(source_id="104", date=when(4), body="Waiting", author_name="Newbie", status="pending"),
        CommentSource(
            source_id="105",
            date=when(5),
            body="[...] linked here [...]",
            author_name="Other Blog",
            author_url="javascript:alert(1)",
            type="pingback",
        ),
    )


def test_post_page_shows_the_approved_thread_with_old_anchors(client, make_post):
    post = make_post()
    conversation(post)
    html = client.get(post.permalink).content.decode()
    assert '<h2 id="comments-title">2 comments</h2>' in html
    assert 'id="comment-101"' in html and 'id="comment-102"' in html
    # The reply is inside the first comment's list of children.
    first = html.index('id="comment-101"')
    children = html.index('<ol class="comment-children">', first)
    assert first < children < html.index('id="comment-102"')
    assert 'href="https://ann.example/" rel="nofollow ugc external">Ann &amp; Co</a>' in html  # decoded once, escaped
    # Never on the page: spam, pending, scripts, the email and the address.
    for hidden in ("Cheap pills", "Waiting", "<script>alert", "ann@private.example", "198.51.100.7", "javascript:"):
        assert hidden not in html, hidden
    # The pingback is listed apart, compactly, and its javascript: "URL" is no link.
    assert re.search(r'<h3 id="pings">Pingbacks and trackbacks <span class="count">\(1\)</span></h3>', html)
    assert '<li id="comment-105">Other Blog <time' in html
    # New comments are off by default: no form link, and the thread says so.
    assert "Leave a comment" not in html and "Comments are closed." in html


def test_lists_show_the_number_of_comments(client, make_post):
    post = make_post()
    conversation(post)
    html = client.get("/").content.decode()
    # Two comments and a pingback are approved: WordPress counts pingbacks too.
    assert f'<a href="{post.permalink}#comments">3 comments</a>' in html


@pytest.mark.parametrize("count", [1, 500])
def test_post_page_query_count_is_constant(client, make_post, django_assert_num_queries, count):
    post = make_post()
    sources = [
        CommentSource(
            source_id=str(n),
            parent_source_id=str(n - 1) if n % 3 else "",
            date=when(1) + timedelta(minutes=n),
            body=f"Comment {n}",
            author_name=f"Reader {n}",
        )
        for n in range(1, count + 1)
    ]
    add(post, *sources)
    # post (+ author); categories, tags, previous and next (one UNION); comments; and the site's
    # menu (once per content version)
    with django_assert_num_queries(4):
        response = client.get(post.permalink)
    assert response.content.decode().count('class="comment depth-') == count


def test_page_cache_follows_moderation(client, make_post, settings):
    settings.PAGE_CACHE_SECONDS = 600
    post = make_post()
    add(post, CommentSource(source_id="1", date=when(1), body="Held for now", status="pending"))
    assert "Held for now" not in client.get(post.permalink).content.decode()
    set_status(comments=Comment.objects.filter(source_id="1"), status=Comment.Status.APPROVED)
    assert "Held for now" in client.get(post.permalink).content.decode()
    comment = Comment.objects.get()
    comment.body = "Edited by the moderator"
    comment.save()
    assert "Edited by the moderator" in client.get(post.permalink).content.decode()
    comment.delete()
    assert "Edited by the moderator" not in client.get(post.permalink).content.decode()
    post.refresh_from_db()
    assert post.comment_count == 0


def test_a_new_pending_comment_leaves_cached_pages_alone(client, make_post, settings):
    from blog.caching import current_content_version

    settings.PAGE_CACHE_SECONDS = 600
    post = make_post()
    before = current_content_version()
    Comment.objects.create(post=post, source_id="x", body="spam", status=Comment.Status.PENDING)
    assert current_content_version() == before


# --- feeds ------------------------------------------------------------------------------------


def test_site_comment_feed_lists_approved_comments_of_public_posts(client, make_post):
    post = make_post(title="Visible")
    draft = make_post(title="Draft", status=Post.Status.DRAFT)
    conversation(post)
    add(draft, CommentSource(source_id="900", date=when(9), body="On a draft"))
    response = client.get("/comments/feed/")
    assert response.status_code == 200
    xml = response.content.decode()
    titles = re.findall(r"<title>(.*?)</title>", xml)
    assert titles == ["Comments for Kabar", "Comment on Visible by Bob", "Comment on Visible by Ann &amp; Co"]
    assert f"<link>http://testserver{post.permalink}#comment-102</link>" in xml
    assert "On a draft" not in xml and "Cheap pills" not in xml and "ann@private.example" not in xml
    assert client.get("/comments/feed/atom/")["Content-Type"].startswith("application/atom+xml")


def test_post_comment_feed_at_the_permalink(client, make_post):
    post, other = make_post(title="One"), make_post(title="Two")
    conversation(post)
    add(other, CommentSource(source_id="1", date=when(1), body="Elsewhere"))
    response = client.get(post.permalink + "feed/")
    assert response.status_code == 200
    xml = response.content.decode()
    assert "<title>Comments on: One</title>" in xml
    assert re.findall(r"<title>By: (.*?)</title>", xml) == ["Bob", "Ann &amp; Co"]
    assert "Elsewhere" not in xml
    assert client.get(post.permalink + "feed/atom/").status_code == 200
    assert client.get("/2001/01/01/no-such-post/feed/").status_code == 404


# --- the form ---------------------------------------------------------------------------------


@pytest.fixture
def open_comments(settings):
    settings.COMMENTS_ENABLED = True
    settings.COMMENTS_MIN_SECONDS = 3
    settings.COMMENTS_RATE_LIMIT = 5
    settings.COMMENTS_TRUST_RETURNING = False
    return settings


def form_data(post, **fields):
    data = {
        "name": "Reader",
        "email": "reader@example.com",
        "url": "",
        "body": "A thoughtful remark.",
        "parent": "",
        "website": "",
        "started": form_token(post.pk, now=time.time() - 30),
    }
    data.update(fields)
    return data


def test_form_is_off_by_default(client, make_post):
    post = make_post()
    assert "Comments are closed on this post." in client.get(f"/comments/new/{post.pk}/").content.decode()
    assert client.post(f"/comments/new/{post.pk}/", form_data(post)).status_code == 403
    assert not Comment.objects.exists()


def test_a_new_comment_waits_for_moderation(client, make_post, open_comments):
    post = make_post()
    page = client.get(post.permalink).content.decode()
    assert f'href="/comments/new/{post.pk}/">Leave a comment</a>' in page
    form = client.get(f"/comments/new/{post.pk}/")
    assert form.status_code == 200 and 'name="csrfmiddlewaretoken"' in form.content.decode()
    assert form["X-Robots-Tag"] == "noindex" and "no-cache" in form["Cache-Control"]
    response = client.post(
        f"/comments/new/{post.pk}/",
        form_data(post, body="Nice <script>alert(1)</script>", url="https://reader.example/"),
        REMOTE_ADDR="203.0.113.9",
        HTTP_USER_AGENT="Test browser",
    )
    assert response.status_code == 303 and response["Location"] == f"/comments/new/{post.pk}/?sent=1"
    assert "awaiting moderation" in client.get(response["Location"]).content.decode()
    comment = Comment.objects.get()
    assert (comment.status, comment.author_ip, comment.user_agent) == ("pending", "203.0.113.9", "Test browser")
    assert comment.source_id == f"k{comment.pk}"
    assert comment.body_html == "<p>Nice </p>"
    assert "Nice" not in client.get(post.permalink).content.decode()


def test_form_with_csrf_checks(make_post, open_comments):
    post = make_post()
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(f"/comments/new/{post.pk}/", form_data(post)).status_code == 403
    page = strict.get(f"/comments/new/{post.pk}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = strict.post(f"/comments/new/{post.pk}/", form_data(post, csrfmiddlewaretoken=token))
    assert response.status_code == 303
    assert Comment.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"website": "http://spam.example/"}, "The field “Leave this field empty” must stay empty."),
        ({"started": "forged"}, "This form was not sent as the site made it: please reload it."),
        ({"started": ""}, "This form was not sent as the site made it: please reload it."),
        ({"body": "x" * 5001}, "Ensure this value has at most 5000 characters (it has 5001)."),
        ({"body": "   "}, "This field is required."),
        ({"email": "not-an-address"}, "Enter a valid email address."),
        ({"url": "javascript:alert(1)"}, "Enter a valid URL."),
        ({"name": "n" * 256}, "Ensure this value has at most 255 characters (it has 256)."),
        ({"parent": "999"}, "The comment you reply to is not on this post."),
    ],
)
def test_bad_input_gets_a_clear_error_and_stores_nothing(client, make_post, open_comments, fields, message):
    post = make_post()
    response = client.post(f"/comments/new/{post.pk}/", form_data(post, **fields))
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html
    assert escape(message) in html
    assert not Comment.objects.exists()


def test_too_fast_is_refused_then_accepted_after_a_while(client, make_post, open_comments):
    post = make_post()
    started = form_token(post.pk, now=time.time())
    response = client.post(f"/comments/new/{post.pk}/", form_data(post, started=started))
    assert response.status_code == 400
    assert "quicker than anyone types" in response.content.decode()
    open_comments.COMMENTS_MIN_SECONDS = 0  # as if the reader had read the message and waited
    assert client.post(f"/comments/new/{post.pk}/", form_data(post, started=started)).status_code == 303


def test_a_token_of_another_post_is_refused(client, make_post, open_comments):
    post, other = make_post(), make_post()
    response = client.post(f"/comments/new/{post.pk}/", form_data(post, started=form_token(other.pk, now=1.0)))
    assert response.status_code == 400
    assert not Comment.objects.exists()


def test_floods_from_one_address_are_stopped(client, make_post, open_comments):
    open_comments.COMMENTS_RATE_LIMIT = 2
    post = make_post()
    statuses = [
        client.post(
            f"/comments/new/{post.pk}/", form_data(post, body=f"Comment {n}"), REMOTE_ADDR="192.0.2.5"
        ).status_code
        for n in range(3)
    ]
    assert statuses == [303, 303, 429]
    assert Comment.objects.count() == 2
    # Another address is not held back.
    assert client.post(f"/comments/new/{post.pk}/", form_data(post), REMOTE_ADDR="192.0.2.6").status_code == 303


def test_rate_limit_reads_the_proxy_header_when_told(client, make_post, open_comments):
    open_comments.COMMENTS_RATE_LIMIT = 1
    open_comments.COMMENTS_IP_HEADER = "X-Forwarded-For"
    post = make_post()
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    first = client.post(
        f"/comments/new/{post.pk}/", form_data(post), HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.1", **proxy
    )
    second = client.post(f"/comments/new/{post.pk}/", form_data(post), HTTP_X_FORWARDED_FOR="198.51.100.2", **proxy)
    assert (first.status_code, second.status_code) == (303, 303)
    assert sorted(Comment.objects.values_list("author_ip", flat=True)) == ["198.51.100.1", "198.51.100.2"]


def test_links_only_is_spam_and_many_links_wait(client, make_post, open_comments):
    open_comments.COMMENTS_TRUST_RETURNING = True
    post = make_post()
    add(
        post,
        CommentSource(source_id="1", date=when(1), body="Old", author_name="Reader", author_email="reader@example.com"),
    )
    client.post(f"/comments/new/{post.pk}/", form_data(post, body="http://pills.example http://casino.example"))
    client.post(
        f"/comments/new/{post.pk}/", form_data(post, body="See http://a.example http://b.example http://c.example here")
    )
    statuses = list(Comment.objects.filter(source_id__startswith="k").order_by("pk").values_list("status", flat=True))
    assert statuses == ["spam", "pending"]


def test_a_returning_commenter_is_trusted_when_the_setting_says_so(client, make_post, open_comments):
    post = make_post()
    add(
        post,
        CommentSource(source_id="1", date=when(1), body="Old", author_name="Reader", author_email="Reader@Example.com"),
    )
    client.post(f"/comments/new/{post.pk}/", form_data(post))
    assert Comment.objects.get(source_id__startswith="k").status == "pending"
    open_comments.COMMENTS_TRUST_RETURNING = True
    response = client.post(f"/comments/new/{post.pk}/", form_data(post, body="Again", parent="1"))
    reply = Comment.objects.get(body="Again")
    assert (reply.status, reply.parent.source_id, reply.parent_source_id) == ("approved", "1", "1")
    assert response["Location"] == f"{post.permalink}#comment-{reply.source_id}"
    assert f'id="comment-{reply.source_id}"' in client.get(post.permalink).content.decode()


def test_closed_posts_take_no_comments(client, make_post, open_comments):
    closed = make_post(comment_status=Post.CommentStatus.CLOSED)
    old = make_post(date=timezone.now() - timedelta(days=40))
    open_comments.COMMENTS_CLOSE_AFTER_DAYS = 30
    recent = make_post(date=timezone.now() - timedelta(days=2))
    for post in (closed, old):
        assert "Leave a comment" not in client.get(post.permalink).content.decode()
        assert client.post(f"/comments/new/{post.pk}/", form_data(post)).status_code == 403
    assert client.post(f"/comments/new/{recent.pk}/", form_data(recent)).status_code == 303
    assert client.get("/comments/new/999999/").status_code == 404


def test_quotes_and_code_blocks_keep_their_lines():
    assert render_comment("<blockquote>You said\nthis</blockquote>\n\n<pre>a = 1\nb = 2</pre>\n\nAgreed.") == (
        "<blockquote>You said\nthis</blockquote>\n<pre>a = 1\nb = 2</pre>\n<p>Agreed.</p>"
    )


@pytest.mark.parametrize("count", [1, 50])
def test_comment_feeds_query_count_is_constant(client, make_post, django_assert_num_queries, count):
    post = make_post()
    add(post, *[CommentSource(source_id=str(n), date=when(1) + timedelta(minutes=n), body="x") for n in range(count)])
    with django_assert_num_queries(1):  # comments with their posts
        assert client.get("/comments/feed/").status_code == 200
    with django_assert_num_queries(3):  # post page look-up (none), the post by permalink, its comments
        assert client.get(post.permalink + "feed/").status_code == 200


def test_staff_comments_are_published_at_once(admin_client, make_post, open_comments):
    post = make_post()
    response = admin_client.post(f"/comments/new/{post.pk}/", form_data(post, body="From the author"))
    comment = Comment.objects.get()
    assert comment.status == "approved"
    assert response["Location"] == f"{post.permalink}#comment-{comment.source_id}"


def test_the_link_limit_holds_for_staff_too(admin_client, make_post, open_comments):
    post = make_post()
    body = "Sources: https://a.example/ https://b.example/ https://c.example/ for the curious"
    admin_client.post(f"/comments/new/{post.pk}/", form_data(post, body=body))
    assert Comment.objects.get().status == "pending"


def test_comment_dates_show_in_the_site_time_zone(client, make_post, settings):
    settings.TIME_ZONE = "Asia/Jakarta"  # UTC+7, no daylight saving time
    post = make_post()
    add(post, CommentSource(source_id="1", date=when(2, hour=20), body="Late", author_name="Ana"))
    html = client.get(post.permalink).content.decode()
    assert '<time datetime="2021-03-03T03:00:00+07:00">3 March 2021, 03:00</time>' in html
