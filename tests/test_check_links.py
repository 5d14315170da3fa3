"""check_links: internal links, images, old addresses and external links, as the command and the admin report them."""

import csv
import io
import json
import threading
from datetime import UTC, datetime

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from blog.importing import import_paths
from blog.links.checking import check_links, old_addresses
from blog.models import Category, LinkCheck, Post, RemoteImage
from tests.conftest import CORPUS, SAMPLE_POSTS

pytestmark = pytest.mark.django_db

# The corpus files we may use (ctron/dentrassi.de is CC BY-NC-SA and being removed).
REAL_WORLD = [path for path in sorted(CORPUS.glob("*.md")) if not path.name.startswith("ctron__")]

# Links in those posts to their old sites that name posts and files the exports do not hold,
# read from the files themselves.
NOT_IMPORTED = {
    "/wordpress-where-to-host-at-first/": ["https://www.aggrippino.com/wp-content/uploads/2022/09/cpanel_lantern.svg"],
    "/tahan-sahaja-just-endure/": ["https://www.aggrippino.com/one-armed-programming/"],
    "/se-ahorra-tinta-con-ecofont/125/": [
        "https://conocimientoabierto.es/wp-content/blogs.dir/16/files/galerias/enelblog/ecofont.jpg"
    ],
    "/paypal-cada-vez-me-mosquea-mas/458/": ["http://conocimientoabierto.es/paypal-onl-donaciones/447/"],
    "/cinnamon-2-0-e-gli-errori-di-gioventu/": [
        "http://www.nazionlinux.com/cinnamon-come-risolvere-no-module-named-image/"
    ],
    "/void-linux-servizi/": ["https://www.nazionlinux.com/xfce-aprire-terminale/"],
    "/void-linux-e-arrivato-plasma-6/": [
        "https://www.nazionlinux.com/voidlinux-plasma-desktop-minimale/",
        "https://www.nazionlinux.com/void-linux-bash-alias/",
    ],
}


@pytest.fixture
def real_world(transactional_db):
    result = import_paths([SAMPLE_POSTS, *REAL_WORLD])
    assert result.failed == 0, result.failures
    return result


def test_the_real_world_posts_every_old_address_resolves_and_only_links_to_what_was_not_imported_are_broken(
    real_world,
):
    report = check_links()

    assert report.addresses > 19 * 5  # each post: permalink, ?p=, date archives and feeds, category, author …
    assert report.addresses_ok == report.addresses
    broken = {post.permalink: [p.url for p in post.broken_links] for post in report.posts if post.broken_links}
    assert broken == NOT_IMPORTED
    # The link from nazionlinux's first post to its old home page now leads home.
    first = Post.objects.get(source_id=1, guid__contains="nazionlinux")
    assert first.internal_links == {"http://www.nazionlinux.com": "/"}
    assert report.totals()["links_rewritten"] == 1
    # The sample's four images are remote until cache_images runs.
    sample = next(post for post in report.posts if post.id == Post.objects.get(source_id=161).pk)
    assert sample.images == {"cached": 0, "remote": 4, "failed": 0, "missing": 0}


def test_old_addresses_cover_every_form_the_old_site_answered(make_post, author):
    parent = Category.objects.create(name="Linux", slug="linux")
    child = Category.objects.create(name="Void", slug="void", parent=parent)
    post = make_post(
        source_id=7,
        slug="hello",
        date=datetime(2016, 3, 27, 2, 1, tzinfo=UTC),
        permalink="/hello/",
        guid="http://old.example/index.php/2016/03/27/hello/",
        front_matter={"blogger_orig_url": "https://x.blogspot.com/2016/03/hello.html"},
        categories=[child],
        tags=["ten"],
    )
    addresses = old_addresses(post, subjects=["/category/linux/void/", "/tag/ten/"])
    assert addresses == [
        "/hello/",
        "/index.php/2016/03/27/hello/",
        "/?p=7",
        "/2016/03/hello.html",
        "/2016/03/hello.html?m=1",
        "/2016/",
        "/2016/feed/",
        "/2016/03/",
        "/2016/03/feed/",
        "/2016/03/27/",
        "/2016/03/27/feed/",
        "/category/linux/void/",
        "/category/linux/void/feed/",
        "/tag/ten/",
        "/tag/ten/feed/",
        "/author/admin/",
        "/author/admin/feed/",
    ]
    report = check_links()
    assert (report.addresses_ok, report.addresses) == (17, 17)
    assert not report.broken


def test_an_old_address_two_posts_claim_is_reported_broken(make_post):
    make_post(slug="a", permalink="/a/", front_matter={"blogger_orig_url": "https://x.blogspot.com/2016/03/same.html"})
    make_post(slug="b", permalink="/b/", front_matter={"blogger_orig_url": "https://x.blogspot.com/2016/03/same.html"})

    report = check_links()

    broken = {
        (post.permalink, problem.url, problem.reason) for post in report.posts for problem in post.broken_addresses
    }
    assert broken == {
        ("/a/", "/2016/03/same.html", "answers 404"),
        ("/a/", "/2016/03/same.html?m=1", "answers 404"),
        ("/b/", "/2016/03/same.html", "answers 404"),
        ("/b/", "/2016/03/same.html?m=1", "answers 404"),
    }
    assert report.addresses - report.addresses_ok == 2
    assert report.broken


def test_images_are_counted_cached_remote_failed_and_missing(make_post):
    post = make_post(body="![a](https://img.example/a.jpg) ![b](https://img.example/b.jpg) ![c](/media/uploads/c.png)")
    for url, status in (("https://img.example/a.jpg", "pending"), ("https://img.example/b.jpg", "failed")):
        image = RemoteImage.objects.create(url=url, status=status, last_error="HTTP 404" if status == "failed" else "")
        image.posts.add(post)

    entry = check_links().posts[0]
    assert entry.images == {"cached": 0, "remote": 1, "failed": 1, "missing": 1}
    assert [(p.url, p.reason) for p in entry.broken_images] == [
        ("https://img.example/b.jpg", "failed: HTTP 404"),
        ("/media/uploads/c.png", "the file is missing from media storage"),
    ]

    default_storage.save("uploads/c.png", ContentFile(b"png"))
    assert check_links().posts[0].images["missing"] == 0


def test_a_rewritten_link_and_one_already_current_are_counted_apart(make_post):
    make_post(source_id=5, slug="t", permalink="/t/", guid="http://old.example/?p=5")
    make_post(body="[a](http://old.example/?p=5) [b](/t/) [c](http://old.example/nothing/)")

    entry = check_links().posts[-1]
    assert entry.links == {"resolve": 1, "rewritten": 1, "broken": 1}
    assert [(p.url, p.reason) for p in entry.broken_links] == [
        ("http://old.example/nothing/", "nothing on this site has this address")
    ]


def test_a_link_whose_target_stopped_answering_is_broken(make_post):
    make_post(source_id=5, slug="t", permalink="/t/", guid="http://old.example/?p=5")
    make_post(body="[a](http://old.example/?p=5) [b](/category/never-was/)")
    # A bulk update skips the re-linking that saving a post does: the stored HTML is stale.
    Post.objects.filter(slug="t").update(status=Post.Status.DRAFT)

    entry = check_links().posts[-1]
    assert [(p.url, p.reason) for p in entry.broken_links] == [
        ("http://old.example/?p=5", "/t/: answers 404"),
        ("/category/never-was/", "nothing on this site has this address"),
    ]


def test_the_command_prints_a_table_stores_the_report_and_exits_1_when_something_is_broken(make_post):
    make_post(slug="ok", permalink="/ok/")
    broken = make_post(
        slug="bad", permalink="/bad/", guid="http://old.example/?p=1", body="[x](http://old.example/gone/)"
    )
    out = io.StringIO()

    with pytest.raises(CommandError) as error:
        call_command("check_links", stdout=out, stderr=io.StringIO())

    assert error.value.returncode == 1
    text = out.getvalue()
    assert (
        f"/bad/ (id {broken.pk}): {broken.title}\n"
        "  broken link: http://old.example/gone/: nothing on this site has this address"
    ) in text
    assert "internal links  resolve 0       rewritten 0     broken 1" in text
    assert "2 posts checked, 1 with something broken" in text
    stored = LinkCheck.objects.get()
    assert stored.broken and [post["permalink"] for post in stored.posts] == ["/bad/"]


def test_the_command_formats_json_and_csv_and_dry_run_stores_nothing(make_post):
    make_post(slug="bad", permalink="/bad/", guid="http://old.example/?p=1", body="[x](http://old.example/gone/)")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_links", "--format", "json", "--dry-run", stdout=out)
    data = json.loads(out.getvalue())
    assert data["summary"]["links_broken"] == 1
    assert data["posts"][0]["broken_links"] == [
        {"url": "http://old.example/gone/", "reason": "nothing on this site has this address"}
    ]

    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_links", "--format", "csv", "--dry-run", stdout=out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["post_id", "permalink", "title", "kind", "url", "reason"]
    assert rows[1][1:] == [
        "/bad/",
        rows[1][2],
        "link",
        "http://old.example/gone/",
        "nothing on this site has this address",
    ]
    assert not LinkCheck.objects.exists()


def test_the_command_exits_0_when_nothing_is_broken(make_post):
    make_post(slug="ok", permalink="/ok/", body="[home](/)")
    out = io.StringIO()
    call_command("check_links", stdout=out)
    assert "1 posts checked, 0 with something broken" in out.getvalue()
    assert "external links  not checked (--external)" in out.getvalue()


def test_external_links_head_then_get_cached_and_never_private_without_the_setting(make_post, httpserver, settings):
    settings.IMAGE_CACHE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.IMAGE_CACHE_ALLOWED_PORTS = ["80", "443", "1024-65535"]  # the test server's port
    settings.IMAGE_CACHE_RETRIES = 0
    httpserver.expect_request("/ok", method="HEAD").respond_with_data("", status=200)
    httpserver.expect_request("/no-head", method="HEAD").respond_with_data("", status=405)
    httpserver.expect_request("/no-head", method="GET").respond_with_data("hello", status=200)
    httpserver.expect_request("/moved", method="HEAD").respond_with_data("", status=301, headers={"Location": "/ok"})
    httpserver.expect_request("/gone").respond_with_data("", status=404)
    urls = [httpserver.url_for(path) for path in ("/ok", "/no-head", "/moved", "/gone")]
    make_post(body=" ".join(f"[{n}]({url})" for n, url in enumerate(urls)))

    report = check_links(external=True)
    entry = report.posts[0]
    assert (entry.external, entry.external_ok) == (4, 3)
    assert [(p.url, p.reason) for p in entry.broken_external] == [(urls[3], "HTTP 404")]
    asked = len(httpserver.log)
    # HEAD first; GET only where HEAD was refused (405) or failed (404: some servers 404 a HEAD).
    assert sorted((request.method, request.path) for request, _response in httpserver.log) == [
        ("GET", "/gone"),
        ("GET", "/no-head"),
        ("HEAD", "/gone"),
        ("HEAD", "/moved"),
        ("HEAD", "/no-head"),
        ("HEAD", "/ok"),
        ("HEAD", "/ok"),
    ]

    # Answers are reused: a second run asks nothing.
    check_links(external=True)
    assert len(httpserver.log) == asked

    # Off by default, and a private address is refused unless the setting allows it.
    assert check_links().posts[0].external == 0
    settings.IMAGE_CACHE_ALLOWED_NETWORKS = []
    settings.LINK_CHECK_CACHE_SECONDS = 0
    from django.core.cache import cache

    cache.clear()
    entry = check_links(external=True).posts[0]
    assert entry.external_ok == 0
    assert all("loopback" in p.reason for p in entry.broken_external)


def test_external_checks_respect_the_per_host_limit(make_post, settings):
    import time

    from tests.images_server import LatencyServer

    settings.IMAGE_CACHE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.IMAGE_CACHE_ALLOWED_PORTS = ["80", "443", "1024-65535"]  # the test server's port
    with LatencyServer({f"/{n}": (b"x", "text/html") for n in range(8)}, latency=0.2) as server:
        make_post(body=" ".join(f"[{n}]({url})" for n, url in enumerate(server.urls)))
        started = time.perf_counter()
        entry = check_links(external=True, concurrency=8, per_host=2).posts[0]
        elapsed = time.perf_counter() - started
    assert entry.external_ok == 8
    # Two at a time from one host: eight answers, each 0.2 s late, take at least four rounds.
    assert elapsed >= 4 * 0.2
    assert server.max_in_flight >= 2  # and the two slots were used at once
    assert threading.active_count() < 50


def test_addresses_answered_in_bulk_are_answered_as_their_views_answer_them(
    make_post, author, django_assert_num_queries
):
    from taggit.models import Tag

    from blog.links.checking import SiteAnswers

    linux = Category.objects.create(name="Linux", slug="linux")
    Category.objects.create(name="Sin categoría", slug="sin-categoría")
    day = datetime(2016, 3, 27, 12, tzinfo=UTC)
    make_post(source_id=7, slug="hello", date=day, permalink="/hello/", categories=[linux], tags=["ten"])
    make_post(source_id=8, slug="draft", date=day, permalink="/draft/", status=Post.Status.DRAFT)
    make_post(source_id=9, slug="soon", permalink="/soon/", date=datetime(2999, 1, 1, tzinfo=UTC))
    make_post(source_id=10, slug="about", permalink="/about/", layout="page", date=datetime(2016, 3, 28, tzinfo=UTC))
    make_post(source_id=11, guid="http://a.example/?p=11", slug="a", permalink="/a/")
    make_post(source_id=11, guid="http://b.example/?p=11", slug="b", permalink="/b/")
    assert Tag.objects.filter(slug="ten").exists()
    bulk_kinds = {
        # ?p= and ?page_id=: a 301 to the one public post with the id, else 404
        "/?p=7": (301, "/hello/"),
        "/?page_id=10": (301, "/about/"),
        "/?p=8": (404, ""),  # a draft
        "/?p=9": (404, ""),  # not yet published
        "/?p=11": (404, ""),  # two blogs' posts share it
        "/?p=404": (404, ""),
        # permalinks of public posts (the redirects' targets too)
        "/hello/": (200, ""),
        "/about/": (200, ""),
        # a day with a post, and date feeds of any valid date
        "/2016/03/27/": (200, ""),
        "/2016/feed/": (200, ""),
        "/2016/03/feed/atom/": (200, ""),
        "/2016/03/28/feed/": (200, ""),
        "/1999/01/01/feed/": (200, ""),
        # feeds of a category (by its slug as a link spells it), a tag, an author
        "/category/linux/feed/": (200, ""),
        "/category/sin-categor%C3%ADa/feed/": (200, ""),
        "/tag/ten/feed/atom/": (200, ""),
        "/author/admin/feed/": (200, ""),
    }
    left_to_views = [
        "/draft/",  # not public: PostView's own 404 (or a redirect it finds)
        "/soon/",
        "/2016/03/28/",  # a day with only a page: DayView's 404
        "/2016/02/30/",  # no such date
        "/2016/02/30/feed/",
        "/2016/13/feed/",
        "/category/nope/feed/",  # unknown slug: the feed's 404 or its redirect to WordPress's spelling
        "/category/sin-categoria/feed/",
        "/tag/nope/feed/",
        "/?p=abc",
        "/?p=7&m=1",
        "/2016/03/",  # archive pages are asked of their views
        "/category/linux/",
    ]
    bulk = SiteAnswers()
    # One query per kind: ids, permalinks, days, categories, tags, authors.
    with django_assert_num_queries(6):
        bulk.prefetch([*bulk_kinds, *left_to_views])
    assert bulk.answers == bulk_kinds
    views = SiteAnswers()
    assert {address: views.answer(address) for address in bulk_kinds} == bulk_kinds
    # The views answer the rest otherwise than a bulk 200 would have (each rule's other side).
    answered = {address: views.answer(address)[0] for address in left_to_views}
    assert answered == {
        "/draft/": 404,
        "/soon/": 404,
        "/2016/03/28/": 404,
        "/2016/02/30/": 404,
        "/2016/02/30/feed/": 404,
        "/2016/13/feed/": 404,
        "/category/nope/feed/": 404,
        "/category/sin-categoria/feed/": 301,
        "/tag/nope/feed/": 404,
        "/?p=abc": 404,
        "/?p=7&m=1": 301,
        "/2016/03/": 200,
        "/category/linux/": 200,
    }
