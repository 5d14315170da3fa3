"""The public site: permalinks, old addresses, archives, taxonomies, search, previews, templates, queries."""

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from blog.models import Author, Category, Post, Redirect

SAMPLE_PERMALINK = "/index.php/2022/10/29/mengenal-microservices-pengertian-contoh-dan-kelebihannya/"
SAMPLE_GUID_PATH = "/wordpress" + SAMPLE_PERMALINK
SAMPLE_TITLE = "Mengenal Microservices: Pengertian, Contoh, dan Kelebihannya"


def titles(response) -> list[str]:
    """Return the post titles a list page shows, in order."""
    return re.findall(r'<article class="post-summary">\s*<h2><a href="[^"]*">([^<]*)</a>', response.content.decode())


@pytest.fixture
def editor(django_user_model):
    user = django_user_model.objects.create_user(username="editor", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_post"))
    return user


# --- a post at its permalink --------------------------------------------------------------


def test_post_is_served_at_its_own_permalink(client, sample_post):
    response = client.get(SAMPLE_PERMALINK)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<h1 class="p-name">{SAMPLE_TITLE}</h1>' in html
    assert '<h2 id="apa-itu-layanan-mikro">Apa itu Layanan mikro?</h2>' in html
    assert '<img decoding="async" src="/media/uploads/diagram.png" alt="Diagram layanan mikro" loading="lazy">' in html
    assert '<a href="/category/tutorialblogger/" rel="category tag">TutorialBlogger</a>' in html
    assert '<a href="/tag/microservices/" rel="tag">#microservices</a>' in html
    assert '<a href="/author/admin/" rel="author">Admin</a>' in html
    assert "1 min read" in html


def test_post_page_lists_its_own_categories_and_tags_by_name(client, make_post):
    zebra = Category.objects.create(name="Zebra", slug="zebra")
    apple = Category.objects.create(name="Apple", slug="apple")
    Category.objects.create(name="Unused", slug="unused")
    post = make_post(categories=[zebra, apple], tags=["yellow", "blue"])
    make_post(categories=[Category.objects.get(slug="unused")], tags=["other"])
    html = client.get(post.permalink).content.decode()
    categories = re.findall(r'<a href="/category/([^/]+)/" rel="category tag">', html)
    tags = re.findall(r'<a href="/tag/([^/]+)/" rel="tag">', html)
    keywords = re.findall(r'<meta property="article:tag" content="([^"]+)">', html)
    assert (categories, tags, keywords) == (["apple", "zebra"], ["blue", "yellow"], ["blue", "yellow"])


def test_lists_show_each_post_with_its_own_categories_by_name(client, make_post):
    zebra = Category.objects.create(name="Zebra", slug="zebra")
    apple = Category.objects.create(name="Apple", slug="apple")
    make_post(title="Both", categories=[zebra, apple], date=timezone.now() - timedelta(hours=1))
    make_post(title="None", date=timezone.now() - timedelta(hours=2))
    make_post(title="Zebra only", categories=[zebra], date=timezone.now() - timedelta(hours=3))
    html = client.get("/").content.decode()
    summaries = re.findall(r'<article class="post-summary">(.*?)</article>', html, re.S)
    shown = [
        (re.search(r"<h2><a [^>]*>([^<]+)</a>", summary)[1], re.findall(r'href="/category/([^/]+)/"', summary))
        for summary in summaries
    ]
    assert shown == [("Both", ["apple", "zebra"]), ("None", []), ("Zebra only", ["zebra"])]


@pytest.mark.parametrize(
    "permalink", ["/2019/05/kopi-susu.html", "/about/", "/2020/01/02/hello-world/", "/catatan/ünicode/"]
)
def test_any_permalink_shape_is_served(client, make_post, permalink):
    make_post(title="Shaped", permalink=permalink)
    assert client.get(permalink).status_code == 200


def test_page_layout_is_served_without_post_navigation(client, make_post):
    make_post(title="Earlier post")
    make_post(title="About me", permalink="/about/", layout=Post.PAGE_LAYOUT)
    html = client.get("/about/").content.decode()
    assert "About me" in html
    assert "Earlier post" not in html
    assert '"@type": "WebPage"' in html


def test_post_shows_previous_and_next_posts(client, make_post):
    now = timezone.now()
    make_post(title="Oldest", date=now - timedelta(days=3))
    middle = make_post(title="Middle", date=now - timedelta(days=2))
    make_post(title="Newest", date=now - timedelta(days=1))
    make_post(title="Draft in between", date=now - timedelta(days=2, hours=-1), status=Post.Status.DRAFT)
    html = client.get(middle.permalink).content.decode()
    assert re.search(r'rel="prev"><span>← Previous</span> Oldest</a>', html)
    assert re.search(r'rel="next"><span>Next →</span> Newest</a>', html)
    assert "Draft in between" not in html


def test_previous_and_next_skip_pages_and_scheduled_posts_and_order_posts_of_one_moment_by_id(client, make_post):
    moment = timezone.now() - timedelta(days=2)
    first = make_post(title="First of the moment", date=moment)
    second = make_post(title="Second of the moment", date=moment)
    make_post(title="A page", date=moment + timedelta(hours=1), layout=Post.PAGE_LAYOUT, permalink="/a-page/")
    make_post(title="Scheduled", date=timezone.now() + timedelta(days=1))
    first_html = client.get(first.permalink).content.decode()
    second_html = client.get(second.permalink).content.decode()
    assert 'rel="prev"' not in first_html
    assert re.search(r'rel="next"><span>Next →</span> Second of the moment</a>', first_html)
    assert re.search(r'rel="prev"><span>← Previous</span> First of the moment</a>', second_html)
    assert 'rel="next"' not in second_html  # neither the page nor the post not yet due


def test_post_page_meta_tags_and_json_ld(client, sample_post):
    html = client.get(SAMPLE_PERMALINK).content.decode()
    assert f"<title>{SAMPLE_TITLE} — Kabar</title>" in html
    assert f'<link rel="canonical" href="http://testserver{SAMPLE_PERMALINK}">' in html
    assert '<meta name="description" content="Apakah Anda pernah melakukan aktivitas nobar' in html
    assert '<meta property="og:image" content="http://testserver/media/uploads/diagram.png">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)[1])
    assert ld["@type"] == "BlogPosting"
    assert ld["headline"] == SAMPLE_TITLE
    assert ld["datePublished"] == "2022-10-29T02:45:00+00:00"
    assert ld["image"] == "http://testserver/media/uploads/diagram.png"
    assert ld["author"]["name"] == "Admin"


def test_json_ld_cannot_be_closed_by_a_title(client, make_post):
    post = make_post(title="</script><script>alert(1)</script>")
    html = client.get(post.permalink).content.decode()
    assert "<script>alert(1)" not in html


def test_page_shell_has_skip_link_and_stylesheet(client, sample_post):
    html = client.get(SAMPLE_PERMALINK).content.decode()
    assert '<a class="skip-link" href="#content">' in html
    assert '<main id="content"' in html
    assert 'href="/static/css/site.css"' in html
    assert '<html lang="en-us">' in html


# --- old addresses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "canonical"),
    [
        ("/?p=161", SAMPLE_PERMALINK),
        ("/index.php?p=161", SAMPLE_PERMALINK),
        (SAMPLE_GUID_PATH, SAMPLE_PERMALINK),
        ("/index.php/2022/10/29/mengenal-microservices-pengertian-contoh-dan-kelebihannya", SAMPLE_PERMALINK),
        ("/2022/10/mengenal-microservices.html", SAMPLE_PERMALINK),
        ("/2022/10/mengenal-microservices.html?m=1", SAMPLE_PERMALINK),
        ("/index.php/2022/10/", "/2022/10/"),
        ("/index.php/2022/10", "/2022/10/"),
        ("/2022/10", "/2022/10/"),
        ("/index.php/2022/", "/2022/"),
        ("/index.php/category/tutorialblogger/", "/category/tutorialblogger/"),
        ("/index.php/category/tutorialblogger/feed/", "/category/tutorialblogger/feed/"),
        ("/index.php/tag/microservices/", "/tag/microservices/"),
        ("/index.php/author/admin/", "/author/admin/"),
        ("/index.php/feed/", "/feed/"),
        ("/index.php/feed", "/feed/"),
        ("/category/tutorialblogger", "/category/tutorialblogger/"),
        ("/index.php/page/1/?x=1", "/page/1/?x=1"),
        ("/?s=layanan+mikro", "/search/?q=layanan+mikro"),
        ("/?m=202210", "/2022/10/"),
        ("/?feed=rss2", "/feed/"),
    ],
)
def test_old_address_answers_one_redirect_to_a_page_that_exists(client, sample_post, old, canonical):
    response = client.get(old)
    assert response.status_code == 301
    assert response["Location"] == canonical
    assert client.get(canonical).status_code == 200


def test_sample_post_old_links_reach_the_post(client, sample_post):
    for old in ["/?p=161", sample_post.guid]:
        response = client.get(old, follow=True)
        assert response.redirect_chain == [(SAMPLE_PERMALINK, 301)]
        assert SAMPLE_TITLE in response.content.decode()


def test_admin_redirect_leads_to_the_post(client, sample_post):
    Redirect.objects.create(old_path="/microservices-lama/", post=sample_post)
    response = client.get("/microservices-lama/")
    assert (response.status_code, response["Location"]) == (301, SAMPLE_PERMALINK)


def test_unknown_wordpress_id_and_unknown_path_are_404(client, sample_post):
    assert client.get("/?p=999").status_code == 404
    assert client.get("/?p=abc").status_code == 404
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_old_addresses_of_a_draft_do_not_reveal_it(client, sample_post):
    Post.objects.filter(pk=sample_post.pk).update(status=Post.Status.DRAFT)
    assert client.get("/?p=161").status_code == 404
    assert client.get(sample_post.guid).status_code == 404


def test_guid_path_follows_edits_to_the_guid(sample_post):
    sample_post.guid = "https://old.example/?p=161"
    sample_post.save(update_fields=["guid"])
    sample_post.refresh_from_db()
    assert sample_post.guid_path == ""
    assert sample_post.blogger_path == "/2022/10/mengenal-microservices.html"


# --- drafts, scheduled posts, previews ---------------------------------------------------


@pytest.mark.parametrize("state", ["draft", "scheduled"])
def test_unpublished_post_is_404_for_readers_and_a_preview_for_staff(client, make_post, editor, state):
    if state == "draft":
        post = make_post(title="Not yet", status=Post.Status.DRAFT)
    else:
        post = make_post(title="Not yet", date=timezone.now() + timedelta(days=2))
    assert client.get(post.permalink).status_code == 404
    assert "Not yet" not in client.get("/").content.decode()

    client.force_login(editor)
    response = client.get(post.permalink)
    assert response.status_code == 200
    assert '<p class="preview-banner" role="status"><strong>Preview</strong>' in response.content.decode()
    assert response["X-Robots-Tag"] == "noindex"
    assert "no-store" in response["Cache-Control"]

    client.logout()
    assert client.get(post.permalink).status_code == 404


def test_staff_without_change_permission_cannot_preview(client, make_post, django_user_model):
    post = make_post(status=Post.Status.DRAFT)
    client.force_login(django_user_model.objects.create_user(username="viewer", is_staff=True))
    assert client.get(post.permalink).status_code == 404


# --- archives ------------------------------------------------------------------------------


@pytest.fixture
def dated_posts(make_post, author):
    def at(day: int, month: int, title: str, **fields):
        return make_post(title=title, date=datetime(2021, month, day, 12, tzinfo=UTC), **fields)

    return [
        at(3, 1, "January third"),
        at(20, 1, "January twentieth"),
        at(20, 1, "January draft", status=Post.Status.DRAFT),
        at(5, 3, "March fifth"),
        at(5, 3, "A March page", layout=Post.PAGE_LAYOUT, permalink="/march-page/"),
    ]


def test_home_lists_newest_first_and_paginates(client, make_post, settings):
    now = timezone.now()
    for day in range(1, 13):
        make_post(title=f"Day {day}", date=now - timedelta(days=day))
    first = client.get("/")
    assert titles(first) == [f"Day {day}" for day in range(1, 11)]
    assert titles(client.get("/?page=2")) == ["Day 11", "Day 12"]
    assert titles(client.get("/page/2/")) == ["Day 11", "Day 12"]
    assert client.get("/page/3/").status_code == 404


def test_year_month_and_day_archives(client, dated_posts):
    assert titles(client.get("/2021/")) == ["March fifth", "January twentieth", "January third"]
    january = client.get("/2021/01/")
    assert titles(january) == ["January twentieth", "January third"]
    assert "<h1>Posts from January 2021</h1>" in january.content.decode()
    assert '<a href="/2021/03/" rel="next">March 2021 →</a>' in january.content.decode()
    assert 'rel="prev"' not in january.content.decode()  # no month with posts before it
    march = client.get("/2021/03/").content.decode()
    assert '<a href="/2021/01/" rel="prev">← January 2021</a>' in march
    assert 'rel="next"' not in march
    assert titles(client.get("/2021/01/20/")) == ["January twentieth"]


def test_empty_date_archives_are_404(client, dated_posts):
    assert client.get("/2021/02/").status_code == 404
    assert client.get("/2020/").status_code == 404
    assert client.get("/2021/01/21/").status_code == 404
    assert client.get("/2021/13/").status_code == 404


def test_archives_page_counts_posts_per_month(client, dated_posts):
    html = client.get("/archives/").content.decode()
    assert '<a href="/2021/01/">January 2021</a> <span class="count">(2)</span>' in html
    assert '<a href="/2021/03/">March 2021</a> <span class="count">(1)</span>' in html
    assert html.index("March 2021") < html.index("January 2021")


def test_category_page_includes_child_categories(client, make_post, category):
    child = Category.objects.create(name="Blogger SEO", slug="blogger-seo", parent=category)
    grandchild = Category.objects.create(name="Meta tags", slug="meta-tags", parent=child)
    other = Category.objects.create(name="Kuliner", slug="kuliner")
    make_post(title="In parent", categories=[category])
    make_post(title="In child", categories=[child])
    make_post(title="In grandchild and parent", categories=[grandchild, category])
    make_post(title="Elsewhere", categories=[other])
    response = client.get("/category/tutorialblogger/")
    assert sorted(titles(response)) == ["In child", "In grandchild and parent", "In parent"]
    assert "<h1>Category: TutorialBlogger</h1>" in response.content.decode()
    assert titles(client.get("/category/blogger-seo/")) == ["In child", "In grandchild and parent"]
    assert client.get("/category/nope/").status_code == 404


def test_empty_category_is_a_page_with_no_posts(client, category):
    response = client.get("/category/tutorialblogger/")
    assert response.status_code == 200
    assert "No posts here yet." in response.content.decode()


def test_tag_and_author_pages(client, make_post, author):
    other_author = Author.objects.create(name="budi", slug="budi", display_name="Budi")
    make_post(title="Tagged by admin", tags=["api"])
    make_post(title="Tagged by Budi", tags=["api", "go"], author=other_author)
    make_post(title="Untagged")
    assert sorted(titles(client.get("/tag/api/"))) == ["Tagged by Budi", "Tagged by admin"]
    assert titles(client.get("/tag/go/")) == ["Tagged by Budi"]
    assert titles(client.get("/author/budi/")) == ["Tagged by Budi"]
    assert client.get("/tag/nope/").status_code == 404
    assert client.get("/author/nope/").status_code == 404


def test_search_finds_title_and_body_words_of_published_posts(client, make_post):
    make_post(title="Belajar Django", body="Kerangka web.")
    make_post(title="Resep kopi", body="Seduh dengan air, lalu *django* di akhir.")
    make_post(title="Django draft", status=Post.Status.DRAFT)
    make_post(title="Unrelated", body="Nothing here.")
    response = client.get("/search/?q=DJANGO")
    assert sorted(titles(response)) == ["Belajar Django", "Resep kopi"]
    assert response["X-Robots-Tag"] == "noindex"
    assert "Nothing matched your search." in client.get("/search/?q=zzzz").content.decode()
    assert titles(client.get("/search/?q=")) == []


# --- query budgets -----------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 200])
def test_query_count_is_constant_whatever_the_number_of_posts(
    client, make_post, category, django_assert_num_queries, count
):
    child = Category.objects.create(name="Child", slug="child", parent=category)
    posts = [
        make_post(categories=[category, child], tags=["api", f"t{n % 5}"], date=timezone.now() - timedelta(hours=n + 1))
        for n in range(count)
    ]
    newest = posts[0]
    month = f"/{newest.date:%Y/%m}/"
    budgets = [
        # The archive index (months and their counts) and the site's menu, once per content
        # version for every page.
        ("/archives/", 2),
        ("/category/", 1),  # every category with its count
        ("/tag/", 1),  # (the content type is cached by now)
        ("/author/", 1),
        (f"/{newest.local_date:%Y/%m}/feed/", 3),  # items, categories, tags
        # post (+ author); categories, tags, previous and next (one UNION); comments
        (newest.permalink, 3),
        # Lists show no tags: page and categories.
        ("/", 2),  # page, categories: the years and the count come from the archive index
        (month, 2),  # page, categories: whether it has posts, how many, its neighbours: the index
        (f"/{newest.date:%Y}/", 7),  # exists, months, count, page, categories, previous and next year
        (f"/{newest.date:%Y/%m/%d}/", 6),  # no list of days
        ("/category/tutorialblogger/", 6),  # category, two levels of children, count, page, categories
        ("/tag/api/", 4),
        ("/author/admin/", 4),
        ("/search/?q=hello", 3),
        ("/feed/", 3),  # items, categories, tags
        ("/category/tutorialblogger/feed/atom/", 6),
    ]
    for url, queries in budgets:
        with django_assert_num_queries(queries):
            assert client.get(url).status_code == 200, url


def test_server_error_page(client, sample_post, monkeypatch):
    def broken(self, request, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("blog.views.PostView.get", broken)
    client.raise_request_exception = False
    response = client.get(SAMPLE_PERMALINK)
    assert response.status_code == 500
    assert "<h1>Something went wrong</h1>" in response.content.decode()
    assert "database went away" not in response.content.decode()


@pytest.mark.django_db
def test_a_permalink_with_lower_case_escapes_answers_at_the_link_the_site_writes(client, make_post):
    # As the WordPress exporter writes a Chinese slug; the site links to it exactly so.
    post = make_post(title="少年", permalink="/2016/01/19/%e5%b0%91%e5%b9%b4/")
    home = client.get("/").content.decode()
    assert 'href="/2016/01/19/%e5%b0%91%e5%b9%b4/"' in home
    for address in (post.permalink, "/2016/01/19/%E5%B0%91%E5%B9%B4/", "/2016/01/19/少年/"):
        response = client.get(address)
        assert response.status_code == 200, address
        assert "少年" in response.content.decode()
        feed = client.get(address + "feed/")  # the post's comment feed, as its page links it
        assert (feed.status_code, feed["Content-Type"].split(";")[0]) == (200, "application/rss+xml"), address


@pytest.mark.parametrize("page_cache_seconds", [0, 600])
def test_the_archive_index_follows_every_change(client, make_post, settings, page_cache_seconds):
    from datetime import UTC, datetime

    settings.PAGE_CACHE_SECONDS = page_cache_seconds
    for n in range(10):
        make_post(title=f"Spring {n}", date=datetime(2021, 4, 1 + n, tzinfo=UTC))
    home = client.get("/").content.decode()
    assert '<a href="/2021/">2021</a>' in home and "/2019/" not in home
    assert "Page 1 of" not in home  # ten posts: one page
    assert "(10)" in client.get("/archives/").content.decode()

    old = make_post(title="From 2019", date=datetime(2019, 7, 1, tzinfo=UTC))
    home = client.get("/").content.decode()
    assert '<a href="/2019/">2019</a>' in home
    assert "Page 1 of 2" in home
    assert "July 2019" in client.get("/archives/").content.decode()

    due = make_post(title="Due in a moment", date=timezone.now() + timedelta(seconds=1.2))
    assert "Page 1 of 2" in client.get("/").content.decode()
    assert f"/{due.date:%Y/%m}/" not in client.get("/archives/").content.decode()
    time.sleep(1.3)
    assert f"/{due.date:%Y/%m}/" in client.get("/archives/").content.decode()
    assert "Due in a moment" in client.get("/").content.decode()

    old.delete()
    home = client.get("/").content.decode()
    assert "/2019/" not in home
    assert "Page 1 of 2" in home  # ten in 2021 and the one now due
    assert "July 2019" not in client.get("/archives/").content.decode()


def test_month_archive_lists_posts_by_the_date_their_author_saw(client, make_post):
    # 1 April 2021 05:00 in Jakarta (+07:00) is still 31 March in UTC; 31 March 20:00 in
    # Honolulu (-10:00) is already 1 April in UTC.
    make_post(title="Early April in Jakarta", date=datetime(2021, 3, 31, 22, tzinfo=UTC), date_offset=7 * 60)
    make_post(title="Late March in Honolulu", date=datetime(2021, 4, 1, 6, tzinfo=UTC), date_offset=-10 * 60)
    make_post(title="Mid April", date=datetime(2021, 4, 15, 12, tzinfo=UTC), date_offset=0)
    april = client.get("/2021/04/").content.decode()
    march = client.get("/2021/03/").content.decode()
    assert "Early April in Jakarta" in april and "Mid April" in april
    assert "Late March in Honolulu" not in april
    assert "Late March in Honolulu" in march and "Early April in Jakarta" not in march
