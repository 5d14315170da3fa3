"""Feeds (RSS 2.0 and Atom, per subject), the sitemap and robots.txt."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from blog.models import Author, Category, Post

ATOM = "{http://www.w3.org/2005/Atom}"


def rss_items(response) -> list[ET.Element]:
    assert response["Content-Type"].startswith("application/rss+xml")
    return ET.fromstring(response.content).findall("./channel/item")


def test_rss_feed_item_of_the_sample_post(client, sample_post):
    response = client.get("/feed/")
    channel = ET.fromstring(response.content).find("channel")
    assert channel.findtext("title") == "Kabar"
    assert channel.findtext("link") == "http://testserver/"
    [item] = rss_items(response)
    assert item.findtext("title") == "Mengenal Microservices: Pengertian, Contoh, dan Kelebihannya"
    assert item.findtext("link") == (
        "http://testserver/index.php/2022/10/29/mengenal-microservices-pengertian-contoh-dan-kelebihannya/"
    )
    assert item.findtext("pubDate") == "Sat, 29 Oct 2022 02:45:00 +0000"
    assert item.findtext("{http://purl.org/dc/elements/1.1/}creator") == "Admin"
    assert [category.text for category in item.findall("category")] == ["TutorialBlogger", "microservices"]
    # Readers keep the old guid: the post is not shown to them again as new after the move.
    guid = item.find("guid")
    assert guid.text == sample_post.guid
    assert guid.get("isPermaLink") == "false"
    description = item.findtext("description")
    assert 'src="http://testserver/media/uploads/diagram.png"' in description
    assert 'alt="Diagram layanan mikro"' in description
    assert '<h2 id="apa-itu-layanan-mikro">Apa itu Layanan mikro?</h2>' in description


def test_atom_feed_has_updated_and_absolute_links(client, make_post):
    make_post(
        title="Edited later",
        date=datetime(2023, 1, 2, 3, 4, tzinfo=UTC),
        modified=datetime(2023, 2, 1, tzinfo=UTC),
        body="See [the other post](/2022/other/) and ![chart](images/chart.png).",
        permalink="/2023/01/edited-later/",
    )
    response = client.get("/feed/atom/")
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == "http://testserver/feed/atom/"
    entry = feed.find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}published") == "2023-01-02T03:04:00+00:00"
    assert entry.findtext(f"{ATOM}updated") == "2023-02-01T00:00:00+00:00"
    assert entry.find(f"{ATOM}author").findtext(f"{ATOM}name") == "Admin"
    summary = entry.findtext(f"{ATOM}summary")
    assert 'href="http://testserver/2022/other/"' in summary
    assert 'src="http://testserver/2023/01/edited-later/images/chart.png"' in summary


def test_feeds_leave_out_drafts_scheduled_posts_and_pages(client, make_post):
    make_post(title="Visible")
    make_post(title="Draft", status=Post.Status.DRAFT)
    make_post(title="Scheduled", date=datetime(2999, 1, 1, tzinfo=UTC))
    make_post(title="A page", layout=Post.PAGE_LAYOUT, permalink="/about/")
    assert [item.findtext("title") for item in rss_items(client.get("/feed/"))] == ["Visible"]


def test_feeds_per_category_tag_and_author(client, make_post, category):
    child = Category.objects.create(name="Child", slug="child", parent=category)
    budi = Author.objects.create(name="budi", slug="budi")
    make_post(title="In child", categories=[child], tags=["go"])
    make_post(title="By Budi", author=budi, tags=["go", "api"])
    make_post(title="Plain")

    def titles(url):
        response = client.get(url)
        assert response.status_code == 200, url
        if url.endswith("atom/"):
            return [entry.findtext(f"{ATOM}title") for entry in ET.fromstring(response.content).findall(f"{ATOM}entry")]
        return [item.findtext("title") for item in rss_items(response)]

    assert titles("/category/tutorialblogger/feed/") == ["In child"]
    assert titles("/category/tutorialblogger/feed/atom/") == ["In child"]
    assert sorted(titles("/tag/go/feed/")) == ["By Budi", "In child"]
    assert titles("/tag/api/feed/atom/") == ["By Budi"]
    assert titles("/author/budi/feed/") == ["By Budi"]
    channel = ET.fromstring(client.get("/category/tutorialblogger/feed/").content).find("channel")
    assert channel.findtext("title") == "Kabar » TutorialBlogger"
    assert channel.findtext("link") == "http://testserver/category/tutorialblogger/"
    assert client.get("/category/nope/feed/").status_code == 404


def test_feed_is_limited_to_the_newest_posts(client, make_post, settings):
    settings.FEED_SIZE = 3
    for day in range(1, 6):
        make_post(title=f"Day {day}", date=datetime(2024, 1, day, tzinfo=UTC))
    assert [item.findtext("title") for item in rss_items(client.get("/feed/"))] == ["Day 5", "Day 4", "Day 3"]


def test_sitemap_lists_posts_pages_categories_and_tags(client, sample_post, make_post):
    make_post(title="About", permalink="/about/", layout=Post.PAGE_LAYOUT, tags=["me"])
    make_post(title="Draft", permalink="/draft/", status=Post.Status.DRAFT, tags=["secret"])
    Category.objects.create(name="Empty", slug="empty")
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    entries = {url.findtext(f"{ns}loc"): url.findtext(f"{ns}lastmod") for url in ET.fromstring(response.content)}
    base = "http://testserver"
    assert set(entries) == {
        base + sample_post.permalink,
        base + "/about/",
        base + "/category/tutorialblogger/",
        base + "/tag/microservices/",
        base + "/tag/me/",
    }
    assert entries[base + sample_post.permalink] is not None


def test_robots_txt_points_at_the_sitemap(client, db):
    response = client.get("/robots.txt")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert "User-agent: *" in lines
    assert "Disallow: /admin/" in lines
    assert "Sitemap: http://testserver/sitemap.xml" in lines


def test_category_page_advertises_its_own_feeds(client, sample_post):
    html = client.get("/category/tutorialblogger/").content.decode()
    rss = "/category/tutorialblogger/feed/"
    atom = "/category/tutorialblogger/feed/atom/"
    assert f'<link rel="alternate" type="application/rss+xml" title="Kabar" href="{rss}">' in html
    assert f'<link rel="alternate" type="application/atom+xml" title="Kabar (Atom)" href="{atom}">' in html
    assert client.get(rss).status_code == 200
    assert client.get(atom).status_code == 200
