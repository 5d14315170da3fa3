"""The comment import API (`upsert_comments`) and jekyll-import's `comments:` list on the Markdown path."""

from datetime import UTC, datetime

import pytest

from blog import frontmatter
from blog.comments import CommentSource, upsert_comments, wordpress_status, wordpress_type
from blog.exporting import export_posts
from blog.importing import import_paths
from blog.models import Comment, Post

pytestmark = pytest.mark.django_db

# A post as jekyll-import's WordPress importer writes it (Ruby's to_yaml: unindented lists,
# Time#to_s dates quoted, the comments sorted by id).
JEKYLL_IMPORT_POST = """\
---
layout: post
status: publish
published: true
title: Hello comments
author:
  display_name: Admin
  login: admin
  email: admin@example.com
  url: ''
author_login: admin
author_email: admin@example.com
wordpress_id: 42
wordpress_url: http://example.com/?p=42
date: '2010-01-02 10:00:00 +0100'
date_gmt: '2010-01-02 09:00:00 +0100'
categories:
- General
tags: []
comments:
- id: 7
  author: Ann
  author_email: ann@example.com
  author_url: http://ann.example/
  date: '2010-01-03 11:00:00 +0100'
  date_gmt: '2010-01-03 10:00:00 +0100'
  content: Nice post!
- id: 9
  author: Bob &amp; Co
  author_email: ''
  author_url: ''
  date: '2010-01-04 12:30:00 +0100'
  date_gmt: '2010-01-04 11:30:00 +0100'
  content: |-
    Thanks <strong>Ann</strong>.

    Second paragraph <script>alert(1)</script>
---
<p>Body</p>
"""


def when(day, hour=12):
    return datetime(2020, 1, day, hour, tzinfo=UTC)


def test_upsert_creates_threads_and_counts(make_post):
    post = make_post()
    result = upsert_comments(
        post=post,
        comments=[
            CommentSource(source_id="2", parent_source_id="1", date=when(2), body="A reply", author_name="Bob"),
            CommentSource(source_id="1", date=when(1), body="First", author_name="Ann", author_ip="192.0.2.1"),
            CommentSource(source_id="3", date=when(3), body="Held", status="pending"),
        ],
    )
    assert (result.created, result.updated, result.unchanged, result.failed) == (3, 0, 0, 0)
    first, reply, held = Comment.objects.filter(post=post).order_by("date")
    assert reply.parent == first  # parent came after its reply in the list
    assert first.status == "approved" and held.status == "pending"
    assert first.author_ip == "192.0.2.1"
    assert first.body_html == "<p>First</p>"
    post.refresh_from_db()
    assert post.comment_count == 2  # the pending one is not counted


def test_upsert_is_idempotent_and_updates_what_changed(make_post):
    post = make_post()
    sources = [
        CommentSource(source_id=1, date=when(1), body="First"),
        CommentSource(source_id=2, parent_source_id=1, date=when(2), body="Reply"),
    ]
    upsert_comments(post=post, comments=sources)
    again = upsert_comments(post=post, comments=sources)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert Comment.objects.count() == 2

    edited = upsert_comments(post=post, comments=[CommentSource(source_id="1", date=when(1), body="First, edited")])
    assert (edited.created, edited.updated) == (0, 1)
    assert Comment.objects.get(source_id="1").body_html == "<p>First, edited</p>"


def test_moderation_survives_a_reimport_without_status(make_post):
    post = make_post()
    upsert_comments(post=post, comments=[CommentSource(source_id="1", date=when(1), body="Buy pills")])
    Comment.objects.filter(source_id="1").update(status="spam")
    upsert_comments(post=post, comments=[CommentSource(source_id="1", date=when(1), body="Buy pills!")])
    assert Comment.objects.get().status == "spam"
    upsert_comments(post=post, comments=[CommentSource(source_id="1", date=when(1), body="x", status="approved")])
    assert Comment.objects.get().status == "approved"


def test_same_source_id_on_two_posts_are_two_comments(make_post):
    one, two = make_post(), make_post()
    upsert_comments(post=one, comments=[CommentSource(source_id="1", date=when(1), body="On one")])
    upsert_comments(post=two, comments=[CommentSource(source_id="1", date=when(1), body="On two")])
    assert Comment.objects.count() == 2


def test_parent_arriving_in_a_later_call_is_linked(make_post):
    post = make_post()
    upsert_comments(post=post, comments=[CommentSource(source_id="5", parent_source_id="4", date=when(2), body="r")])
    assert Comment.objects.get(source_id="5").parent is None
    upsert_comments(post=post, comments=[CommentSource(source_id="4", date=when(1), body="p")])
    assert Comment.objects.get(source_id="5").parent.source_id == "4"


def test_reply_loops_are_broken(make_post):
    post = make_post()
    upsert_comments(
        post=post,
        comments=[
            CommentSource(source_id="a", parent_source_id="b", date=when(1), body="a"),
            CommentSource(source_id="b", parent_source_id="a", date=when(2), body="b"),
            CommentSource(source_id="c", parent_source_id="c", date=when(3), body="c"),
        ],
    )
    parents = dict(Comment.objects.values_list("source_id", "parent__source_id"))
    assert parents["c"] is None
    assert [parents["a"], parents["b"]].count(None) == 1  # one link of the loop is dropped


def test_bad_comments_fail_alone_with_a_reason(make_post):
    post = make_post()
    result = upsert_comments(
        post=post,
        comments=[
            CommentSource(source_id="1", date=when(1), body="ok", author_ip="not an ip"),
            CommentSource(source_id="2", date=when(1), body="x", author_name="n" * 300),
            CommentSource(source_id="3", date=when(1), body="x", status="approve"),
            CommentSource(source_id="", date=when(1), body="x"),
            CommentSource(source_id="1", date=when(1), body="twice"),
        ],
    )
    assert result.created == 1 and result.failed == 4
    assert [reason for _id, reason in result.failures] == [
        "comment 2: author_name is longer than 255 characters",
        "comment 3: status 'approve' is not one of approved, pending, spam, trash",
        "comment ?: has no source id",
        "comment 1: appears twice",
    ]
    assert Comment.objects.get().author_ip is None  # junk is not kept as an address


def test_wordpress_values_map():
    assert [wordpress_status(v) for v in ("1", 1, "0", "spam", "trash", "post-trashed")] == [
        "approved",
        "approved",
        "pending",
        "spam",
        "trash",
        "trash",
    ]
    assert [wordpress_type(v) for v in ("", None, "pingback", "trackback", "comment")] == [
        "comment",
        "comment",
        "pingback",
        "trackback",
        "comment",
    ]


def test_jekyll_import_comments_are_imported_once(tmp_path):
    (tmp_path / "2010-01-02-hello-comments.md").write_text(JEKYLL_IMPORT_POST, encoding="utf-8")
    result = import_paths([tmp_path])
    assert (result.created, result.failed, result.comments.created) == (1, 0, 2)
    post = Post.objects.get()
    assert "comments" not in post.front_matter  # the comments live in their own rows now
    ann, bob = post.comments.order_by("date")
    assert (ann.source_id, ann.author_name, ann.author_email, ann.author_url) == (
        "7",
        "Ann",
        "ann@example.com",
        "http://ann.example/",
    )
    # date_gmt's clock is the true moment; the +0100 is the offset of the machine that ran the import.
    assert ann.date == datetime(2010, 1, 3, 10, 0, tzinfo=UTC)
    assert bob.author_name == "Bob &amp; Co"  # kept as written; the template shows it decoded once
    assert bob.body_html == "<p>Thanks <strong>Ann</strong>.</p>\n<p>Second paragraph </p>"
    assert post.comment_count == 2

    (tmp_path / "2010-01-02-hello-comments.md").write_text(JEKYLL_IMPORT_POST + "\nMore.\n", encoding="utf-8")
    again = import_paths([tmp_path])
    assert (again.updated, again.comments.created) == (1, 0)
    assert Comment.objects.count() == 2


def test_a_bad_comments_list_keeps_the_post_and_the_key(tmp_path):
    text = JEKYLL_IMPORT_POST.replace("- id: 9\n", "- id:\n")
    (tmp_path / "2010-01-02-hello-comments.md").write_text(text, encoding="utf-8")
    result = import_paths([tmp_path])
    assert result.created == 1
    assert result.warnings == [
        (str(tmp_path / "2010-01-02-hello-comments.md"), "comments not imported: comments[1]: has no id")
    ]
    post = Post.objects.get()
    assert len(post.front_matter["comments"]) == 2  # nothing lost: the key is kept as it was
    assert not Comment.objects.exists()


def test_comments_true_is_a_theme_switch_not_comments(tmp_path):
    (tmp_path / "2020-01-01-x.md").write_text("---\ntitle: x\ncomments: true\n---\nHi\n", encoding="utf-8")
    result = import_paths([tmp_path])
    assert result.warnings == []
    assert Post.objects.get().front_matter == {"comments": True}


def test_export_writes_jekyll_import_comments_back_byte_for_byte(tmp_path):
    source = tmp_path / "in" / "_posts" / "2010-01-02-hello-comments.md"
    source.parent.mkdir(parents=True)
    source.write_text(JEKYLL_IMPORT_POST, encoding="utf-8")
    import_paths([tmp_path / "in"])
    result = export_posts(tmp_path / "out")
    assert result.written == 1
    assert (tmp_path / "out" / "_posts" / "2010-01-02-hello-comments.md").read_text(
        encoding="utf-8"
    ) == JEKYLL_IMPORT_POST


def test_export_writes_what_moderation_and_new_comments_changed(tmp_path, make_post):
    source = tmp_path / "in" / "2010-01-02-hello-comments.md"
    source.parent.mkdir(parents=True)
    source.write_text(JEKYLL_IMPORT_POST, encoding="utf-8")
    import_paths([tmp_path / "in"])
    post = Post.objects.get()
    Comment.objects.filter(source_id="9").update(status="pending")
    Comment.objects.filter(source_id="7").update(status="spam")
    upsert_comments(
        post=post,
        comments=[
            CommentSource(
                source_id="k50", parent_source_id="9", date=datetime(2010, 1, 5, 8, 0, tzinfo=UTC), body="Later"
            )
        ],
    )
    export_posts(tmp_path / "out")
    text = (tmp_path / "out" / "_posts" / "2010-01-02-hello-comments.md").read_text(encoding="utf-8")
    fm = frontmatter.parse_text(text).front_matter
    assert [c["id"] for c in fm["comments"]] == [9, "k50"]  # spam is not exported, as jekyll-import
    assert fm["comments"][0]["status"] == "pending"
    assert fm["comments"][1] == {
        "id": "k50",
        "author": "",
        "author_email": "",
        "author_url": "",
        "date": "2010-01-05T08:00:00+00:00",
        "date_gmt": "2010-01-05T08:00:00+00:00",
        "content": "Later",
        "parent": 9,
    }
    # ...and importing the export elsewhere gives the same comments back.
    Post.objects.all().delete()
    import_paths([tmp_path / "out"])
    assert sorted(Comment.objects.values_list("source_id", "status", "parent__source_id")) == [
        ("9", "pending", None),
        ("k50", "approved", "9"),
    ]


def test_replies_made_in_kabar_keep_their_parent_through_a_reimport(make_post):
    post = make_post()
    upsert_comments(post=post, comments=[CommentSource(source_id="1", date=when(1), body="Imported")])
    parent = Comment.objects.get()
    reply = Comment.objects.create(post=post, parent=parent, source_id="x1", body="Made here", status="approved")
    assert reply.parent_source_id == "1"  # the source link follows the parent given
    upsert_comments(post=post, comments=[CommentSource(source_id="1", date=when(1), body="Imported, edited")])
    reply.refresh_from_db()
    assert reply.parent == parent
