"""Changing a post's permalink records a redirect from the old one, in the model layer."""

import pytest

from blog.models import Post, Redirect


def redirects():
    return dict(Redirect.objects.values_list("old_path", "post__permalink"))


@pytest.mark.django_db
def test_changing_the_permalink_keeps_the_old_path_as_a_redirect(make_post):
    post = make_post(permalink="/2020/01/02/first-name/")
    post.permalink = "/2020/01/02/better-name/"
    post.save()
    assert redirects() == {"/2020/01/02/first-name/": "/2020/01/02/better-name/"}

    post = Post.objects.get(pk=post.pk)
    post.permalink = "/about-better-name/"
    post.save()
    # Both old paths now lead to where the post is.
    assert redirects() == {
        "/2020/01/02/first-name/": "/about-better-name/",
        "/2020/01/02/better-name/": "/about-better-name/",
    }


@pytest.mark.django_db
def test_saving_without_a_permalink_change_records_nothing(make_post):
    post = make_post()
    post.title = "New title"
    post.save()
    Post.objects.get(pk=post.pk).save()
    post.permalink = "/elsewhere/"
    post.save(update_fields=["title"])  # the permalink column is not written: no redirect either
    assert redirects() == {}


@pytest.mark.django_db
def test_changing_back_removes_the_redirect_that_would_shadow_the_post(make_post):
    post = make_post(permalink="/a/")
    post.permalink = "/b/"
    post.save()
    post.permalink = "/a/"
    post.save()
    assert redirects() == {"/b/": "/a/"}


@pytest.mark.django_db
def test_a_post_taking_over_an_old_path_removes_its_redirect(make_post):
    moved = make_post(permalink="/old/")
    moved.permalink = "/new/"
    moved.save()
    other = make_post(permalink="/other/")
    other.permalink = "/old/"
    other.save()
    assert redirects() == {"/other/": "/old/"}

    moved.permalink = "/newer/"
    moved.save()
    make_post(permalink="/new/")  # a new post created at an old path: that path is the post's now
    assert redirects() == {"/other/": "/old/"}
