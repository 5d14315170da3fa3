"""Admin pages load for a superuser and the post changelist runs a fixed number of queries."""

import re
from datetime import UTC

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
    assert f'href="{post.permalink}" class="viewsitelink"' in html  # "view on site"


def _changelist_queries(client, query=""):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("admin:blog_post_changelist") + query)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


@pytest.mark.django_db
def test_post_changelist_query_count_does_not_grow(admin_client, make_post, category):
    """Thumbnails, category and tag filters with their counts: a fixed number of queries."""
    image = "![](http://example.com/{n}.png)"
    make_post(categories=[category], tags=["a"], body=image.format(n=0))
    queries = ["", "?tag=a", f"?categories__id__exact={category.pk}", "?tag=a&status__exact=published"]
    one = {query: _changelist_queries(admin_client, query) for query in queries}
    assert {query: response.context["cl"].result_count for query, (_, response) in one.items()} == dict.fromkeys(
        queries, 1
    )
    other = Category.objects.create(name="Other", slug="other")
    for n in range(49):
        make_post(categories=[category, other], tags=["a", f"t{n}"], body=image.format(n=n + 1))
    many = {query: _changelist_queries(admin_client, query) for query in queries}
    assert {query: response.context["cl"].result_count for query, (_, response) in many.items()} == dict.fromkeys(
        queries, 50
    )
    assert {query: count for query, (count, _) in many.items()} == {query: count for query, (count, _) in one.items()}


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


# --- Editing workflow (issue 7) ---------------------------------------------------------------


def _change_form_data(client, post, **changes):
    """Return the change form's fields as the browser sends them, with `changes` applied."""
    date = changes.pop("date", post.date)
    data = {
        "title": post.title,
        "slug": post.slug,
        "permalink": post.permalink,
        "body": post.body,
        "excerpt": post.excerpt,
        "status": post.status,
        "date_0": f"{date:%Y-%m-%d}",
        "date_1": f"{date:%H:%M:%S}",
        "modified_0": "",
        "modified_1": "",
        "author": post.author_id,
        "layout": post.layout,
        "categories": [c.pk for c in post.categories.all()],
        "tags": ", ".join(post.tags.names()),
        "comment_status": post.comment_status,
    }
    data.update(_inline_data(client, reverse("admin:blog_post_change", args=[post.pk])))
    data.update(changes)
    return data


def _inline_data(client, url):
    """Return the inlines' management forms and row ids as the page at `url` has them."""
    data = {}
    for inline in client.get(url).context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name, field in management.fields.items():
            data[management.add_prefix(name)] = management.initial.get(name, field.initial)
        for form in formset.initial_forms:
            data[form.add_prefix(formset.model._meta.pk.name)] = form.instance.pk
            data[form.add_prefix(formset.fk.name)] = formset.instance.pk
    return data


def _changelist_filter(response, title):
    """Return {choice label: selected} of the changelist's filter named `title`."""
    for spec in response.context["cl"].filter_specs:
        if str(spec.title) == title:
            return {str(choice["display"]): choice["selected"] for choice in spec.choices(response.context["cl"])}
    raise AssertionError(f"no filter {title!r}")


@pytest.mark.django_db
def test_changelist_shows_the_first_image_as_a_thumbnail(admin_client, make_post):
    make_post(title="With pictures", body='Text\n\n![one](/media/uploads/ab/first.png)\n\n<img src="/second.png">')
    make_post(title="Only words", body="No picture here.")
    html = admin_client.get(reverse("admin:blog_post_changelist")).content.decode()
    assert html.count('class="kabar-thumb"') == 1
    assert 'src="/media/uploads/ab/first.png"' in html
    assert 'src="/second.png"' not in html


@pytest.mark.django_db
def test_tag_and_category_filters_show_counts_and_filter(admin_client, make_post, category):
    make_post(title="Tagged twice", tags=["django", "python"], categories=[category])
    make_post(title="Tagged once", tags=["django"])
    make_post(title="Not tagged")
    response = admin_client.get(reverse("admin:blog_post_changelist"))
    assert _changelist_filter(response, "tags") == {"All": True, "django (2)": False, "python (1)": False}
    # "-": the posts filed under no category.
    assert _changelist_filter(response, "categories") == {"All": True, "TutorialBlogger (1)": False, "- (2)": False}

    response = admin_client.get(reverse("admin:blog_post_changelist") + "?tag=python")
    assert [post.title for post in response.context["cl"].result_list] == ["Tagged twice"]
    assert _changelist_filter(response, "tags")["python (1)"] is True


@pytest.mark.django_db
def test_view_on_site_of_a_draft_is_its_permalink(admin_client, make_post):
    from datetime import timedelta

    from django.utils import timezone

    draft = make_post(status=Post.Status.DRAFT, permalink="/drafts-too/")
    scheduled = make_post(date=timezone.now() + timedelta(days=3), permalink="/later/")
    public = make_post(permalink="/out-there/")
    for post, label in [(draft, "Preview on site"), (scheduled, "Preview on site"), (public, "View on site")]:
        html = admin_client.get(reverse("admin:blog_post_change", args=[post.pk])).content.decode()
        assert f'<a href="{post.permalink}" class="viewsitelink">{label}</a>' in html


@pytest.mark.django_db
def test_change_form_loads_the_unsaved_changes_script(admin_client, make_post):
    html = admin_client.get(reverse("admin:blog_post_change", args=[make_post().pk])).content.decode()
    assert 'src="/static/blog/admin/editor.js"' in html
    assert 'href="/static/blog/admin/editor.css"' in html


@pytest.mark.django_db
def test_changing_the_slug_of_a_derived_permalink_redirects_the_old_url(admin_client, make_post):
    from datetime import datetime

    post = make_post(slug="first", date=datetime(2021, 5, 6, 7, 8, tzinfo=UTC), permalink="/2021/05/06/first/")
    url = reverse("admin:blog_post_change", args=[post.pk])
    response = admin_client.post(url, _change_form_data(admin_client, post, slug="second"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    post.refresh_from_db()
    assert post.permalink == "/2021/05/06/second/"
    assert dict(Redirect.objects.values_list("old_path", "post")) == {"/2021/05/06/first/": post.pk}


@pytest.mark.django_db
def test_an_own_permalink_stays_when_the_slug_changes(admin_client, make_post):
    post = make_post(slug="first", permalink="/blog/first.html")
    response = admin_client.post(
        reverse("admin:blog_post_change", args=[post.pk]), _change_form_data(admin_client, post, slug="second")
    )
    assert response.status_code == 302
    post.refresh_from_db()
    assert (post.slug, post.permalink) == ("second", "/blog/first.html")
    assert not Redirect.objects.exists()

    response = admin_client.post(
        reverse("admin:blog_post_change", args=[post.pk]),
        _change_form_data(admin_client, post, permalink="/blog/second.html"),
    )
    assert response.status_code == 302
    assert dict(Redirect.objects.values_list("old_path", "post")) == {"/blog/first.html": post.pk}


@pytest.mark.django_db
def test_a_new_post_without_permalink_gets_one_from_date_and_slug(admin_client, author):
    data = {
        "title": "Hello",
        "slug": "hello",
        "permalink": "",
        "body": "## Hi",
        "excerpt": "",
        "status": "draft",
        "date_0": "2024-02-03",
        "date_1": "10:00:00",
        "author": author.pk,
        "layout": "post",
        "tags": "",
        "comment_status": "open",
        **_inline_data(admin_client, reverse("admin:blog_post_add")),
    }
    response = admin_client.post(reverse("admin:blog_post_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    post = Post.objects.get()
    assert post.permalink == "/2024/02/03/hello/"
    assert re.search(r"<h2[^>]*>Hi</h2>", post.body_html)


def _queued_image_caching():
    from django_tasks_db.models import DBTaskResult

    return [
        row.args_kwargs["args"][0]
        for row in DBTaskResult.objects.filter(task_path="blog.tasks.cache_images_task", status="READY")
    ]


@pytest.mark.django_db
def test_saving_in_the_admin_queues_image_caching_without_fetching(
    admin_client, make_post, httpserver, django_capture_on_commit_callbacks, settings
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    post = make_post(body=f"![x]({httpserver.url_for('/photo.png')})")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:blog_post_change", args=[post.pk]), _change_form_data(admin_client, post, title="Edited")
        )
    assert response.status_code == 302
    assert _queued_image_caching() == [[post.pk]]
    assert httpserver.log == []  # queued for a worker: nothing was downloaded during the request


@pytest.mark.django_db
def test_model_save_alone_queues_nothing(make_post, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        make_post(body="![x](http://example.com/a.png)")
    assert callbacks == []
    assert _queued_image_caching() == []


@pytest.mark.django_db
def test_bulk_recache_queues_one_task_and_fetches_nothing(
    admin_client, make_post, httpserver, django_capture_on_commit_callbacks, settings
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    posts = [make_post(body=f"![x]({httpserver.url_for(f'/{n}.png')})") for n in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:blog_post_changelist"),
            {"action": "recache_images", "_selected_action": [p.pk for p in posts[:2]]},
            follow=True,
        )
    assert "Image caching queued for 2 posts" in response.content.decode()
    assert _queued_image_caching() == [sorted(p.pk for p in posts[:2])]
    assert httpserver.log == []


@pytest.mark.django_db
def test_bulk_rerender_renders_again_inline(admin_client, make_post):
    stale, fresh = make_post(body="## Title"), make_post(body="plain")
    Post.objects.filter(pk=stale.pk).update(body_html="<p>old</p>")
    response = admin_client.post(
        reverse("admin:blog_post_changelist"),
        {"action": "rerender", "_selected_action": [stale.pk, fresh.pk]},
        follow=True,
    )
    assert "2 posts re-rendered, 1 of them changed." in response.content.decode()
    assert re.match(r"<h2[^>]*>Title</h2>", Post.objects.get(pk=stale.pk).body_html)


@pytest.mark.django_db
def test_post_list_with_thousands_of_categories_on_one_post(admin_client, make_post, category):
    """Issue 17 #8: one post in 3,000 categories; the list and its filters keep a fixed query count."""
    post = make_post(categories=[category], tags=["a"])
    few, response = _changelist_queries(admin_client, "")
    assert response.status_code == 200
    many_categories = Category.objects.bulk_create(
        Category(name=f"Category {n}", slug=f"category-{n}") for n in range(3000)
    )
    post.categories.add(*many_categories)
    for query in ("", f"?categories__id__exact={many_categories[-1].pk}", "?tag=a"):
        count, response = _changelist_queries(admin_client, query)
        assert response.status_code == 200
        assert response.context["cl"].result_count == 1
        assert count == few
    filters = _changelist_filter(response, "categories")
    assert filters["Category 2999 (1)"] is False
    assert filters["TutorialBlogger (1)"] is False


@pytest.mark.parametrize(
    ("submitted", "stored", "kept"),
    [
        ("\r\n<div>x</div>\r\n", "\n<div>x</div>\n", "\n<div>x</div>\n"),  # unchanged: the stored bytes
        ("a\r\nb  ", "a\r\nb  ", "a\r\nb  "),
        ("a\r\nc", "a\r\nb", "a\r\nc"),  # changed: the stored text's CRLF kept
        ("a\r\nc", "a\nb", "a\nc"),  # changed: LF kept
    ],
)
def test_a_textarea_keeps_the_stored_bytes_and_line_endings(submitted, stored, kept):
    from blog.admin import same_text

    assert same_text(submitted=submitted, stored=stored) == kept


@pytest.mark.django_db
def test_the_editor_author_is_linked_or_created_once(django_user_model):
    from blog.admin import editor_author

    imported = Author.objects.create(name="admin", slug="admin", display_name="Admin")
    admin_user = django_user_model.objects.create_user("admin")
    assert editor_author(admin_user) == imported  # the imported author of the same name is this user
    assert Author.objects.get(pk=imported.pk).user == admin_user
    # An author "dewi" who is another user: the new user "dewi" gets an author of their own.
    Author.objects.create(name="dewi", slug="dewi", user=django_user_model.objects.create_user("other"))
    dewi = django_user_model.objects.create_user("dewi", email="dewi@example.com")
    created = editor_author(dewi)
    assert (created.slug, created.email, created.user) == ("dewi-2", "dewi@example.com", dewi)
    assert editor_author(dewi) == created
    assert Author.objects.count() == 3


@pytest.mark.django_db
def test_the_add_page_writes_nothing_and_saving_makes_the_editor_the_author(client, django_user_model):
    dewi = django_user_model.objects.create_superuser("dewi", "dewi@example.com", "x", first_name="Dewi")
    client.force_login(dewi)
    add = reverse("admin:blog_post_add")
    page = client.get(add)
    assert page.status_code == 200
    assert page.context["adminform"].form["author"].value() is None  # no author row yet: none chosen
    data = {
        "title": "Catatan pertama",
        "slug": "catatan-pertama",
        "permalink": "",
        "body": "Halo.",
        "excerpt": "",
        "status": "draft",
        "date_0": "2024-02-03",
        "date_1": "10:00:00",
        "author": "",
        "layout": "post",
        "tags": "",
        "comment_status": "open",
        **_inline_data(client, add),
    }
    assert Author.objects.count() == 0  # showing the form (twice) wrote nothing

    response = client.post(add, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    author = Author.objects.get()
    assert (author.user, author.name, author.slug, author.display_name, author.email) == (
        dewi,
        "dewi",
        "dewi",
        "Dewi",
        "dewi@example.com",
    )
    post = Post.objects.get()
    assert post.author == author

    # The next new post shows the editor's author; an existing post cannot lose its author.
    assert client.get(add).context["adminform"].form["author"].value() == author.pk
    assert Author.objects.count() == 1
    change = reverse("admin:blog_post_change", args=[post.pk])
    response = client.post(change, _change_form_data(client, post, author=""))
    assert response.status_code == 200
    assert "author" in response.context["adminform"].form.errors
    assert Post.objects.get().author == author


@pytest.mark.django_db
def test_a_new_post_of_an_editor_named_like_an_imported_author_is_theirs(client, django_user_model):
    imported = Author.objects.create(name="admin", slug="admin", display_name="Admin")
    admin = django_user_model.objects.create_superuser("admin", "admin@example.com", "x")
    client.force_login(admin)
    add = reverse("admin:blog_post_add")
    assert client.get(add).context["adminform"].form["author"].value() is None
    assert Author.objects.get().user is None  # not linked by a GET
    data = {
        "title": "Hello",
        "slug": "hello",
        "permalink": "",
        "body": "",
        "excerpt": "",
        "status": "draft",
        "date_0": "2024-02-03",
        "date_1": "10:00:00",
        "layout": "post",
        "tags": "",
        "comment_status": "open",
        **_inline_data(client, add),
    }
    assert client.post(add, data).status_code == 302
    assert Post.objects.get().author == imported
    assert Author.objects.get().user == admin


def test_admin_is_branded_kabar(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "<title>Your blog | Kabar admin</title>" in page
    assert ">Kabar</a>" in page and "Django administration" not in page
