"""render_posts: re-render stored posts, count what changed, write nothing on --dry-run."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from blog.models import Post
from blog.rerendering import rerender_posts


def _stale(post, html="<p>old renderer output</p>"):
    Post.objects.filter(pk=post.pk).update(body_html=html)


@pytest.mark.django_db
def test_rerender_posts_changes_only_stale_posts(make_post):
    stale, fresh = make_post(body="## Title\n\ntext"), make_post(body="*fine*")
    _stale(stale)
    result = rerender_posts(posts=Post.objects.all())
    assert (result.checked, result.changed) == (2, 1)
    assert "<h2" in Post.objects.get(pk=stale.pk).body_html
    assert Post.objects.get(pk=fresh.pk).body_html == fresh.body_html


@pytest.mark.django_db
def test_render_posts_command_all_and_dry_run(make_post):
    posts = [make_post(body=f"Body **{n}**") for n in range(3)]
    for post in posts[:2]:
        _stale(post)
    out = StringIO()
    call_command("render_posts", "--all", "--dry-run", stdout=out)
    assert "rendered 3, would change 2" in out.getvalue()
    assert Post.objects.get(pk=posts[0].pk).body_html == "<p>old renderer output</p>"
    out = StringIO()
    call_command("render_posts", "--all", stdout=out)
    assert "rendered 3, changed 2" in out.getvalue()
    assert "<strong>0</strong>" in Post.objects.get(pk=posts[0].pk).body_html


@pytest.mark.django_db
def test_render_posts_default_renders_posts_without_html_and_post_option(make_post):
    empty, stale = make_post(body="*a*"), make_post(body="*b*")
    _stale(empty, html="")
    _stale(stale)
    out = StringIO()
    call_command("render_posts", stdout=out)
    assert "rendered 1, changed 1" in out.getvalue()
    assert Post.objects.get(pk=stale.pk).body_html == "<p>old renderer output</p>"
    call_command("render_posts", "--post", str(stale.pk), stdout=StringIO())
    assert "<em>b</em>" in Post.objects.get(pk=stale.pk).body_html
    with pytest.raises(CommandError, match="No post with id 999999"):
        call_command("render_posts", "--post", "999999", stdout=StringIO())
