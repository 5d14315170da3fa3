"""Model constraints, the published() queryset and rendering on save."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from blog.models import Category, Post


@pytest.mark.django_db
def test_duplicate_permalink_is_rejected(make_post):
    make_post(permalink="/2022/10/29/same/")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_post(permalink="/2022/10/29/same/")
    assert Post.objects.filter(permalink="/2022/10/29/same/").count() == 1


@pytest.mark.django_db
def test_source_id_unique_when_set_but_many_posts_may_have_none(make_post):
    make_post(source_id=None)
    make_post(source_id=None)
    make_post(source_id=161)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_post(source_id=161)
    assert Post.objects.filter(source_id__isnull=True).count() == 2


@pytest.mark.django_db
def test_published_excludes_drafts_and_scheduled_posts(make_post):
    now = timezone.now()
    public = make_post(date=now - timedelta(minutes=1))
    make_post(date=now - timedelta(days=1), status=Post.Status.DRAFT)
    scheduled = make_post(date=now + timedelta(hours=1))
    assert list(Post.objects.published()) == [public]
    assert scheduled.is_scheduled and not scheduled.is_public
    assert public.is_public and not public.is_scheduled


@pytest.mark.django_db
def test_scheduled_post_appears_when_its_date_comes(make_post):
    post = make_post(date=timezone.now() + timedelta(seconds=30))
    assert not Post.objects.published().exists()
    Post.objects.filter(pk=post.pk).update(date=timezone.now() - timedelta(seconds=1))
    assert list(Post.objects.published()) == [post]


@pytest.mark.django_db
def test_get_absolute_url_is_the_permalink_verbatim(make_post):
    post = make_post(permalink="/index.php/2022/10/29/mengenal-microservices/")
    assert post.get_absolute_url() == "/index.php/2022/10/29/mengenal-microservices/"
    html_shaped = make_post(permalink="/2019/05/slug.html")
    assert html_shaped.get_absolute_url() == "/2019/05/slug.html"


@pytest.mark.parametrize("permalink", ["no-slash/", "//evil.example/x/", "/with space/", "/a#b/"])
def test_permalink_validator_rejects_non_paths(permalink, author):
    post = Post(title="x", slug="x", permalink=permalink, author=author)
    with pytest.raises(ValidationError) as excinfo:
        post.full_clean()
    assert "permalink" in excinfo.value.message_dict


@pytest.mark.django_db
def test_front_matter_keeps_key_order_nested_included(make_post):
    front_matter = {
        "zeta": ["b", "a"],
        "alpha": {"z": 1, "a": {"y": True, "b": None}},
        "mid": "text with ünïcode ✓",
    }
    post = make_post(front_matter=front_matter)
    loaded = Post.objects.get(pk=post.pk).front_matter
    assert list(loaded) == ["zeta", "alpha", "mid"]
    assert list(loaded["alpha"]) == ["z", "a"]
    assert list(loaded["alpha"]["a"]) == ["y", "b"]
    assert loaded == front_matter


@pytest.mark.django_db
def test_save_renders_body_and_rerenders_only_when_changed(make_post):
    post = make_post(body="## Heading\n\nSome **bold** text.")
    assert "<strong>bold</strong>" in post.body_html
    assert "<h2" in post.body_html
    post = Post.objects.get(pk=post.pk)
    post.body_html = "<p>stale but untouched</p>"
    post.title = "New title"
    post.save()
    assert Post.objects.get(pk=post.pk).body_html == "<p>stale but untouched</p>"
    post.body = "Now *emphasis*."
    post.save(update_fields=["body"])
    assert "<em>emphasis</em>" in Post.objects.get(pk=post.pk).body_html


@pytest.mark.django_db
def test_in_category_includes_child_categories(make_post):
    parent = Category.objects.create(name="Tech", slug="tech")
    child = Category.objects.create(name="Python", slug="python", parent=parent)
    grandchild = Category.objects.create(name="Django", slug="django", parent=child)
    other = Category.objects.create(name="Life", slug="life")
    in_parent = make_post(categories=[parent])
    in_grandchild = make_post(categories=[grandchild, parent])
    make_post(categories=[other])
    assert set(Post.objects.in_category(parent)) == {in_parent, in_grandchild}
    assert list(Post.objects.in_category(child)) == [in_grandchild]


@pytest.mark.django_db
def test_category_cannot_be_its_own_ancestor():
    parent = Category.objects.create(name="A", slug="a")
    child = Category.objects.create(name="B", slug="b", parent=parent)
    parent.parent = child
    with pytest.raises(ValidationError):
        parent.full_clean()


@pytest.mark.django_db
def test_template_variables_follow_the_fields_they_name(make_post):
    post = make_post(
        title="First & best",
        body='## {{ title }}\n\n<img src="{{ image }}" alt="cover">\n',
        front_matter={"image": "/wp-content/uploads/cover.png", "views": ["1"]},
    )
    assert '<h2 id="first-best">First &amp; best</h2>' in post.body_html
    assert 'src="/wp-content/uploads/cover.png"' in post.body_html
    post = Post.objects.get(pk=post.pk)
    post.title = "Second"
    post.save()  # only the title changed, and the body names it: the HTML follows
    assert '<h2 id="second">Second</h2>' in Post.objects.get(pk=post.pk).body_html
    post.front_matter = {}
    post.save()
    assert "<img" not in Post.objects.get(pk=post.pk).body_html  # no image left to show


@pytest.mark.django_db
def test_a_body_naming_no_variable_is_not_rendered_again_for_a_title_change(make_post):
    post = Post.objects.get(pk=make_post(body="Plain *text*.").pk)
    post.title = "Renamed"
    post.body_html = "<p>kept as stored</p>"  # a re-render would overwrite this
    post.save()
    assert Post.objects.get(pk=post.pk).body_html == "<p>kept as stored</p>"


def test_a_post_read_by_its_permalink_key_is_the_one_the_orm_reads(make_post, django_assert_num_queries):
    post = make_post(
        title="Ünïcode «title»",
        permalink="/2016/01/19/少年莫贪玩/",
        modified=timezone.now(),
        front_matter={"title": "Ünïcode «title»", "tags": ["a", "b"], "extra": {"n": 1}},
        blogger_author=["someone"],
    )
    expected = Post.objects.select_related("author").get(pk=post.pk)
    with django_assert_num_queries(1):
        found = Post.at_permalink_key(post.permalink_key)
        assert found.author.name == expected.author.name  # read with the post
    for field in Post._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
    for field in type(expected.author)._meta.concrete_fields:
        assert getattr(found.author, field.attname) == getattr(expected.author, field.attname), field.name
    assert found._rendered_from == expected._rendered_from  # a save renders again only when the body changed
    assert Post.at_permalink_key("/2016/01/19/nothing/") is None
