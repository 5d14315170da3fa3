"""Old addresses and dates exactly as the old site had them, through the real site and importer.

Inputs are real exports (the corpus's Chinese-slug posts of hacperme's blog and nazionlinux's
`/void-linux-servizi/`) and hand-written fixtures in tests/fixtures/oldlinks/.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from blog.importing import import_paths
from blog.models import Category, Post, RemoteImage
from blog.oldlinks import resolve_old_address, spellings
from tests.conftest import CORPUS, REPO

FIXTURES = Path(__file__).parent / "fixtures" / "oldlinks"
YOUTH = CORPUS / "hacperme__hacperme_blog__2016-01-19-e5b091e5b9b4efbc8ce88eabe8b4aae78ea9.md"
SUITCASE = CORPUS / "hacperme__hacperme_blog__2016-03-27-xinglixiang_backdoor.md"
VOID = CORPUS / "nazionlinux__nazionlinux.github.io__2021-01-13-void-linux-servizi.md"
# The name its exporter gave it (the corpus copy is named after its repository).
VOID_AS_EXPORTED = "2021-01-13-void-linux-servizi.md"
PATTERN = FIXTURES / "2011-01-28-name-that-pattern.md"
BLOGGER = FIXTURES / "2012-03-05-hello-blogger.md"

# The title as WordPress exported it in the permalink (lower case), as browsers send it (upper
# case), and raw. (\uff0c: a full-width comma.)
YOUTH_TITLE = "少年\uff0c莫贪玩"
YOUTH_LOWER = "/2016/01/19/%e5%b0%91%e5%b9%b4%ef%bc%8c%e8%8e%ab%e8%b4%aa%e7%8e%a9/"
YOUTH_UPPER = YOUTH_LOWER.upper().replace("%2F", "/")
YOUTH_RAW = f"/2016/01/19/{YOUTH_TITLE}/"


@pytest.fixture
def void(tmp_path):
    """Return nazionlinux's /void-linux-servizi/ post under the name its exporter gave it."""
    path = tmp_path / "exported" / VOID_AS_EXPORTED
    path.parent.mkdir()
    shutil.copyfile(VOID, path)
    return path


def imported(*paths, **options):
    result = import_paths([str(path) for path in paths], **options)
    assert result.failed == 0, result.failures
    return result


def redirect_of(client, url, **extra):
    response = client.get(url, **extra)
    assert response.status_code == 301, (url, response.status_code)
    return response["Location"]


def ends_at_200(client, url):
    """Return the final URL after at most one redirect, asserting the page is a 200."""
    response = client.get(url)
    if response.status_code == 301:
        url = response["Location"]
        response = client.get(url)
    assert response.status_code == 200, url
    return url


# --- permalinks in any encoding ------------------------------------------------------------


@pytest.mark.django_db
def test_every_spelling_of_a_chinese_permalink_reaches_the_post(client):
    imported(YOUTH, SUITCASE)
    assert Post.objects.get(source_id=866).permalink == YOUTH_LOWER
    for spelling in (YOUTH_LOWER, YOUTH_UPPER, YOUTH_RAW):
        response = client.get(spelling)
        assert response.status_code == 200, spelling
        assert f'<h1 class="p-name">{YOUTH_TITLE}</h1>' in response.content.decode()
    # Served by gunicorn (RAW_URI: the path as the client wrote it): only the exported form is
    # the page, the others are one redirect to it.
    assert client.get(YOUTH_LOWER, RAW_URI=YOUTH_LOWER).status_code == 200
    assert redirect_of(client, YOUTH_UPPER, RAW_URI=YOUTH_UPPER) == YOUTH_LOWER
    raw_as_gunicorn_reads_it = YOUTH_RAW.encode().decode("latin-1")
    assert redirect_of(client, YOUTH_RAW, RAW_URI=raw_as_gunicorn_reads_it) == YOUTH_LOWER
    # Without its trailing slash, or under /index.php/: one redirect too.
    assert redirect_of(client, YOUTH_UPPER.rstrip("/")) == YOUTH_LOWER
    assert redirect_of(client, "/index.php" + YOUTH_RAW) == YOUTH_LOWER


@pytest.mark.django_db
def test_the_permalink_look_up_is_one_indexed_query(client):
    imported(YOUTH)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(YOUTH_UPPER).status_code == 200
    post_queries = [query["sql"] for query in queries if 'FROM "blog_post"' in query["sql"]]
    # The post itself; then only the previous and next posts.
    assert "permalink_key" in post_queries[0]
    assert len([sql for sql in post_queries if "permalink_key" in sql]) == 1
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + post_queries[0].replace("%", "%%"), [])
            plan = " ".join(row[0] for row in cursor.fetchall())
        assert "permalink_key" in plan and "Index" in plan, plan


@pytest.mark.django_db
def test_kabar_links_to_the_permalink_exactly_as_exported(client):
    imported(YOUTH, SUITCASE)
    suitcase = Post.objects.get(source_id=899)
    href = f'href="{YOUTH_LOWER}"'
    assert href in client.get("/").content.decode()  # the list
    assert href in client.get("/category/生活/").content.decode()  # a category page
    assert href in client.get(suitcase.permalink).content.decode()  # previous/next
    page = client.get(YOUTH_LOWER).content.decode()
    assert f'<link rel="canonical" href="http://testserver{YOUTH_LOWER}">' in page
    assert f"<link>http://testserver{YOUTH_LOWER}</link>" in client.get("/feed/").content.decode()
    assert f"<loc>http://testserver{YOUTH_LOWER}</loc>" in client.get("/sitemap.xml").content.decode()
    assert redirect_of(client, "/?p=866") == YOUTH_LOWER
    assert redirect_of(client, "/index.php?p=866") == YOUTH_LOWER


@pytest.mark.django_db
def test_the_resolver_answers_for_links_as_posts_write_them():
    imported(YOUTH)
    # A link in a body, in any spelling, resolves to the permalink as exported; so does a canonical one.
    assert resolve_old_address(YOUTH_UPPER.rstrip("/")) == YOUTH_LOWER
    assert resolve_old_address(YOUTH_LOWER) == YOUTH_LOWER
    assert resolve_old_address("/index.php", "p=866") == YOUTH_LOWER
    assert resolve_old_address("/", "p=999") is None
    assert resolve_old_address("/", "s=arduino") == "/search/?q=arduino"
    assert resolve_old_address("/2016/01") == "/2016/01/"
    assert resolve_old_address("/nothing/here/") is None


@pytest.mark.django_db
def test_a_changed_permalink_redirects_from_every_spelling_of_the_old_one(client):
    imported(YOUTH)
    post = Post.objects.get(source_id=866)
    post.permalink, post.slug = "/youth/", "youth"  # (no slug guess could find it either)
    post.save()
    for spelling in (YOUTH_LOWER, YOUTH_UPPER, YOUTH_RAW):
        assert redirect_of(client, spelling) == "/youth/", spelling


def test_spellings_of_a_path():
    assert set(spellings(YOUTH_RAW)) == {YOUTH_RAW, YOUTH_UPPER, YOUTH_LOWER}
    assert set(spellings(YOUTH_LOWER)) == {YOUTH_RAW, YOUTH_UPPER, YOUTH_LOWER}


# --- dates as the author saw them -----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_a_post_keeps_its_own_date_whatever_the_server_zone(client, settings, zone):
    settings.TIME_ZONE = zone
    imported(SUITCASE)  # date: '2016-03-27T02:01:07+08:00' (26 March in UTC)
    post = Post.objects.get(source_id=899)
    assert post.local_date.isoformat() == "2016-03-27"
    page = client.get(post.permalink).content.decode()
    assert '<time datetime="2016-03-27T02:01:07+08:00">27 March 2016</time>' in page
    assert '"datePublished": "2016-03-27T02:01:07+08:00"' in page
    for archive in ("/2016/03/27/", "/2016/03/", "/2016/"):
        assert "行李箱也有后门" in client.get(archive).content.decode(), archive
    assert client.get("/2016/03/26/").status_code == 404
    assert 'href="/2016/03/">March 2016</a>' in client.get("/archives/").content.decode()


@pytest.mark.django_db
def test_feeds_keep_the_instant_and_the_offset(client, settings):
    settings.TIME_ZONE = "America/New_York"
    imported(SUITCASE)
    rss = client.get("/feed/").content.decode()
    assert "<pubDate>Sun, 27 Mar 2016 02:01:07 +0800</pubDate>" in rss
    atom = client.get("/feed/atom/").content.decode()
    assert "<published>2016-03-27T02:01:07+08:00</published>" in atom


@pytest.mark.django_db
def test_a_date_without_offset_is_in_the_site_zone(client, settings, tmp_path):
    settings.TIME_ZONE = "Asia/Tokyo"
    post_file = tmp_path / "2020-05-01-late.md"
    post_file.write_text("---\ntitle: Late\ndate: 2020-05-01 23:30:00\n---\nBody.\n", encoding="utf-8")
    imported(post_file)
    post = Post.objects.get(title="Late")
    assert (post.date_offset, post.local_date.isoformat()) == (540, "2020-05-01")
    settings.TIME_ZONE = "UTC"  # moving the server later does not move the post to another day
    assert "Late" in client.get("/2020/05/01/").content.decode()
    assert '<time datetime="2020-05-01T23:30:00+09:00">' in client.get(post.permalink).content.decode()


@pytest.mark.django_db
def test_date_archive_feeds_as_wordpress_has_them(client):
    imported(SUITCASE, YOUTH)
    for url in ("/2016/feed/", "/2016/03/feed/", "/2016/03/27/feed/", "/2016/03/feed/atom/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "行李箱也有后门" in response.content.decode(), url
    assert YOUTH_TITLE in client.get("/2016/feed/").content.decode()
    assert YOUTH_TITLE not in client.get("/2016/03/feed/").content.decode()
    assert client.get("/2016/13/feed/").status_code == 404
    assert redirect_of(client, "/2016/03/feed/rss2/") == "/2016/03/feed/"
    assert redirect_of(client, "/feed/rdf/") == "/feed/"
    assert redirect_of(client, "/category/生活/feed/rss2/") == "/category/%E7%94%9F%E6%B4%BB/feed/"


@pytest.mark.django_db
def test_date_archives_are_paged_at_wordpress_addresses(client, make_post):
    from datetime import UTC, datetime

    for day in range(1, 13):  # one more page than POSTS_PER_PAGE (10)
        make_post(title=f"March {day}", date=datetime(2016, 3, day, 12, tzinfo=UTC))
    second = client.get("/2016/03/page/2/").content.decode()
    assert "March 2<" in second and "March 1<" in second and "March 3<" not in second
    assert client.get("/2016/page/2/").status_code == 200
    assert client.get("/2016/03/page/3/").status_code == 404


# --- WordPress's guesses --------------------------------------------------------------------


@pytest.mark.django_db
def test_old_shapes_of_a_post_are_guessed(client, void):
    imported(void, PATTERN)
    for old in (
        "/2021/01/13/void-linux-servizi/",
        "/2021/01/void-linux-servizi/",
        "/index.php/2021/01/13/void-linux-servizi/",
        "/index.php/void-linux-servizi/",
        "/void-linux-servizi",
    ):
        assert redirect_of(client, old) == "/void-linux-servizi/", old
    for old in (
        "/2011/01/28/name-that-pattern/",
        "/2011/01/name-that-pattern/",
        "/name-that-pattern/",
        "/index.php/2011/01/28/name-that-pattern",
    ):
        assert redirect_of(client, old) == "/posts/2011/name-that-pattern/", old
    # Another day or month is another post on WordPress: no guess.
    assert client.get("/2021/01/14/void-linux-servizi/").status_code == 404
    assert client.get("/2011/02/name-that-pattern/").status_code == 404


@pytest.mark.django_db
def test_a_renamed_export_file_is_guessed_by_its_permalinks_slug(client, tmp_path):
    # The corpus copy's name is not the exporter's: the slug WordPress had is in the permalink.
    imported(VOID)
    post = Post.objects.get()
    assert (post.slug, post.permalink) == ("void-linux-servizi", "/void-linux-servizi/")
    for old in ("/2021/01/13/void-linux-servizi/", "/2021/01/void-linux-servizi/", "/index.php/void-linux-servizi"):
        assert redirect_of(client, old) == "/void-linux-servizi/", old
    assert client.get("/void-linux-servizi/").status_code == 200
    # Importing it again changes nothing, and the export is still the file as it was.
    result = imported(VOID)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)
    call_command("export_posts", str(tmp_path / "out"), stdout=StringIO())
    (exported,) = (tmp_path / "out").rglob("*.md")
    assert exported.read_bytes() == VOID.read_bytes()


@pytest.mark.django_db
def test_an_ambiguous_slug_is_a_404_never_a_wrong_post(client, make_post):
    from datetime import UTC, datetime

    first = make_post(slug="hello", permalink="/first/hello/", date=datetime(2020, 1, 1, 12, tzinfo=UTC))
    make_post(slug="hello", permalink="/second/hello/", date=datetime(2021, 6, 1, 12, tzinfo=UTC))
    assert client.get("/hello/").status_code == 404
    assert redirect_of(client, "/2020/01/01/hello/") == first.permalink


@pytest.mark.django_db
def test_a_guess_is_one_query(django_assert_num_queries, void):
    imported(void)
    with django_assert_num_queries(1):
        assert resolve_old_address("/2021/01/13/void-linux-servizi/") == "/void-linux-servizi/"
    with django_assert_num_queries(1):
        assert resolve_old_address("/no-such-post/") is None
    if connection.vendor == "postgresql":
        # Every branch of the query can use an index: with sequential scans priced out, none is left.
        with CaptureQueriesContext(connection) as queries:
            resolve_old_address("/2021/01/13/void-linux-servizi/")
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + queries[0]["sql"].replace("%", "%%"), [])
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Seq Scan" not in plan, plan


# --- Blogger --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_blogger_addresses(client, sample_post):
    imported(BLOGGER)
    post = Post.objects.get(title="Hello from Blogger")
    assert post.permalink == "/2012/03/hello-from-blogger.html"  # from blogger_permalink
    assert client.get(post.permalink).status_code == 200
    assert redirect_of(client, post.permalink + "?m=1") == post.permalink
    # The sample post's blogger_orig_url.
    assert redirect_of(client, "/2022/10/mengenal-microservices.html?m=1") == sample_post.permalink
    assert redirect_of(client, "/search/label/Label%20One") == "/tag/label-one/"
    assert redirect_of(client, "/search/label/TutorialBlogger") == "/category/tutorialblogger/"
    assert client.get("/search/label/Nothing").status_code == 404
    assert redirect_of(client, "/feeds/posts/default") == "/feed/atom/"
    assert redirect_of(client, "/feeds/posts/default?alt=rss") == "/feed/"
    assert redirect_of(client, "/feeds/posts/default/-/TutorialBlogger") == "/category/tutorialblogger/feed/atom/"
    assert redirect_of(client, "/?m=1") == "/"


# --- categories, tags, authors --------------------------------------------------------------


@pytest.mark.django_db
def test_nested_category_addresses(client, make_post):
    parent = Category.objects.create(name="Linux", slug="linux")
    child = Category.objects.create(name="Void Linux", slug="void-linux", parent=parent)
    make_post(categories=[child])
    assert redirect_of(client, "/category/linux/void-linux/") == "/category/void-linux/"
    assert redirect_of(client, "/category/linux/void-linux/feed/") == "/category/void-linux/feed/"
    assert ends_at_200(client, "/category/linux/void-linux/feed/atom/") == "/category/void-linux/feed/atom/"
    assert client.get("/category/void-linux/linux/").status_code == 404  # not that family
    assert client.get("/category/linux/nothing/").status_code == 404


@pytest.mark.django_db
def test_wordpress_slugs_of_names_reach_kabars_pages(client, make_post):
    from urllib.parse import quote

    uncategorized = Category.objects.create(name="Sin categoría", slug="sin-categoría")
    make_post(categories=[uncategorized], tags=["Financiación"])
    # WordPress dropped the accents from its slugs; Kabar's keep them.
    kabar_url = quote("/category/sin-categoría/")
    assert redirect_of(client, "/category/sin-categoria/") == kabar_url
    assert redirect_of(client, "/category/sin-categoria/feed/") == kabar_url + "feed/"
    assert redirect_of(client, "/tag/financiacion/") == quote("/tag/financiación/")
    assert client.get(kabar_url).status_code == 200
    assert client.get("/category/sin-categori/").status_code == 404


@pytest.mark.django_db
def test_index_pages_list_subjects_with_counts(client, django_assert_num_queries):
    from django.contrib.contenttypes.models import ContentType

    imported(YOUTH, SUITCASE, VOID)
    ContentType.objects.clear_cache()
    with django_assert_num_queries(2):  # the categories, and the site's menu (once per content version)
        categories = client.get("/category/").content.decode()
    assert '<a href="/category/生活/">生活</a> <span class="count">(2)</span>' in categories
    assert '<a href="/category/void-linux/">Void Linux</a> <span class="count">(1)</span>' in categories
    with django_assert_num_queries(2):  # the content type, the tags
        tags = client.get("/tag/").content.decode()
    assert '<a href="/tag/开锁/">开锁</a> <span class="count">(1)</span>' in tags
    with django_assert_num_queries(1):
        authors = client.get("/author/").content.decode()
    assert '<a href="/author/hacper/">hacper</a> <span class="count">(2)</span>' in authors
    assert '<a href="/author/nazionlinux/">NazionLinux</a> <span class="count">(1)</span>' in authors


# --- images ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_old_upload_address_redirects_to_the_cached_copy(client):
    imported(VOID)
    stored = default_storage.save("images/ab/void-linux.webp", ContentFile(b"RIFF....WEBP"))
    image = RemoteImage.objects.create(
        url="https://www.nazionlinux.com/wp-content/uploads/2021/01/void-linux.webp",
        status=RemoteImage.Status.CACHED,
        original=stored,
    )
    assert image.path == "/wp-content/uploads/2021/01/void-linux.webp"
    assert redirect_of(client, "/wp-content/uploads/2021/01/void-linux.webp") == default_storage.url(stored)
    assert client.get("/wp-content/uploads/2021/01/other.webp").status_code == 404
    image.status = RemoteImage.Status.FAILED
    image.save()
    cache.clear()  # (image records do not make cached pages stale; a failure after caching is rare)
    assert client.get("/wp-content/uploads/2021/01/void-linux.webp").status_code == 404


@pytest.mark.django_db
def test_relative_upload_urls_are_fetched_from_the_old_host():
    from blog.images.caching import post_images

    imported(PATTERN)
    post = Post.objects.get(source_id=4101)
    assert post_images(post=post) == ["https://patterns.example/wp-content/uploads/2011/01/pattern.png"]
    # A Blogger-style guid is no URL: the wordpress_url front-matter key says where the site was.
    post.guid = "tag:blogger.com,1999:blog-1.post-2"
    post.front_matter = {**post.front_matter, "wordpress_url": "http://old.example/blog/"}
    post.save()
    assert post_images(post=post) == ["http://old.example/wp-content/uploads/2011/01/pattern.png"]


# --- identity conflicts ---------------------------------------------------------------------


def _post_file(folder: Path, name: str, *, host: str, permalink: str, title: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(
        f"---\nid: 54\ntitle: {title}\ndate: '2019-05-01T10:00:00+00:00'\nguid: 'https://{host}/?p=54'\n"
        f"permalink: {permalink}\n---\nBody of {title}.\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.django_db
def test_another_blogs_post_with_the_same_id_is_named_not_overwritten(tmp_path):
    first = _post_file(tmp_path / "a", "2019-05-01-first.md", host="a.example", permalink="/first/", title="First")
    second = _post_file(tmp_path / "b", "2019-05-01-second.md", host="b.example", permalink="/second/", title="Second")
    call_command("import_posts", str(first), stdout=StringIO())
    stderr = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("import_posts", str(second), stdout=StringIO(), stderr=stderr)
    assert failure.value.returncode == 1
    (line,) = stderr.getvalue().splitlines()
    assert line.startswith(f"{second}: id 54 is already the post /first/ of a.example")
    assert str(first) in line and "--scope-to-host" in line
    assert list(Post.objects.values_list("title", "permalink")) == [("First", "/first/")]
    # The same blog moved to https or another host, at the same permalink: an update, not a conflict.
    moved = _post_file(tmp_path / "c", "2019-05-01-first.md", host="new.example", permalink="/first/", title="First!")
    imported(moved)
    assert list(Post.objects.values_list("title", "source_host")) == [("First!", "new.example")]


@pytest.mark.django_db
def test_two_files_of_one_run_with_one_id(tmp_path):
    folder = tmp_path / "blog"
    _post_file(folder, "2019-05-01-a.md", host="a.example", permalink="/a/", title="A")
    _post_file(folder, "2019-05-01-b.md", host="a.example", permalink="/b/", title="B")
    result = import_paths([folder])
    assert (result.created, result.failed) == (1, 1)
    ((label, reason),) = result.failures
    assert label.endswith("2019-05-01-b.md")
    assert reason == f"id 54 is also the id of {folder / '2019-05-01-a.md'} in this import: not written"
    assert list(Post.objects.values_list("title", flat=True)) == ["A"]


@pytest.mark.django_db
def test_a_second_blog_on_purpose_with_scope_to_host(client, tmp_path):
    first = _post_file(tmp_path / "a", "2019-05-01-first.md", host="a.example", permalink="/first/", title="First")
    second = _post_file(tmp_path / "b", "2019-05-01-second.md", host="b.example", permalink="/second/", title="Second")
    call_command("import_posts", str(first), "--scope-to-host", stdout=StringIO())
    call_command("import_posts", str(second), "--scope-to-host", stdout=StringIO())
    assert sorted(Post.objects.values_list("source_host", "source_id", "title")) == [
        ("a.example", 54, "First"),
        ("b.example", 54, "Second"),
    ]
    call_command("import_posts", str(second), "--scope-to-host", stdout=StringIO())  # idempotent
    assert Post.objects.count() == 2
    assert client.get("/?p=54").status_code == 404  # two posts have that id: neither is guessed


# --- smaller --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_folder_import_names_the_files_that_are_not_posts(tmp_path):
    folder = tmp_path / "site"
    shutil.copytree(FIXTURES, folder)
    out = StringIO()
    call_command("import_posts", str(folder), verbosity=2, stdout=out)
    lines = out.getvalue().splitlines()
    assert f"skipped, not a post (no front matter): {folder / 'README.md'}" in lines
    assert "created 2, updated 0, unchanged 0, failed 0, skipped 1 not posts in" in lines[-1]
    quiet = StringIO()
    call_command("import_posts", str(folder), stdout=quiet)
    assert "README.md" not in quiet.getvalue() and "skipped 1 not posts" in quiet.getvalue()


@pytest.mark.django_db
def test_sitemap_lastmod_is_the_posts_own_last_change(client):
    imported(BLOGGER, YOUTH)
    sitemap = client.get("/sitemap.xml").content.decode()
    # modified_time '2012-04-01T10:00:00.000-07:00'; the other has none: its date.
    assert "<lastmod>2012-04-01</lastmod>" in sitemap
    assert "<lastmod>2016-01-19</lastmod>" in sitemap
    page = client.get("/2012/03/hello-from-blogger.html").content.decode()
    # The same instant, written in the post's own offset (its date's: -08:00).
    assert '<meta property="article:modified_time" content="2012-04-01T09:00:00-08:00">' in page


# --- through a real server ------------------------------------------------------------------


def _raw_get(port: int, target: bytes) -> tuple[int, str]:
    """Send a GET with `target` exactly as given (no client re-encoding); return status and Location."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split()[1]), headers.get("Location", "")


def test_gunicorn_answers_the_exported_spelling_and_redirects_the_others(tmp_path):
    from tests.test_production import PRODUCTION_ENV, _closed_port

    port = _closed_port()
    env = {
        **os.environ,
        **PRODUCTION_ENV,
        "SECURE_SSL_REDIRECT": "0",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    for command in (["migrate", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"], ["import_posts", str(YOUTH)]):
        done = subprocess.run(
            [sys.executable, "manage.py", *command], cwd=REPO, env=env, capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr.decode()
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
    server = subprocess.Popen(gunicorn, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert _raw_get(port, b"/healthz")[0] == 200
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        assert _raw_get(port, YOUTH_LOWER.encode()) == (200, "")
        assert _raw_get(port, YOUTH_UPPER.encode()) == (301, YOUTH_LOWER)
        # A browser given the raw UTF-8 address sends it percent-encoded in upper case (above),
        # and gunicorn may refuse raw non-ASCII bytes in a request line itself.
        assert _raw_get(port, YOUTH_RAW.encode()) in {(400, ""), (301, YOUTH_LOWER)}
        assert _raw_get(port, b"/?p=866") == (301, YOUTH_LOWER)
        assert _raw_get(port, YOUTH_LOWER.encode()) == (200, "")  # again, from the page cache
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.django_db
def test_relative_uploads_are_cached_from_the_old_host_and_their_old_address_follows(
    client, settings, httpserver, tmp_path
):
    from tests.images_helpers import image_bytes

    settings.IMAGE_CACHE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.IMAGE_CACHE_ALLOWED_PORTS = [str(httpserver.port)]
    settings.IMAGE_CACHE_READ_TIMEOUT = 0.5
    settings.IMAGE_CACHE_RETRIES = 0
    upload = "/wp-content/uploads/2011/01/pattern.png"
    httpserver.expect_request(upload).respond_with_data(image_bytes("PNG", (300, 200)), content_type="image/png")
    # The fixture, moved to the test's "old host": its guid names the blog it came from.
    post_file = tmp_path / PATTERN.name
    post_file.write_text(
        PATTERN.read_text(encoding="utf-8").replace("https://patterns.example/", httpserver.url_for("/")),
        encoding="utf-8",
    )
    imported(post_file)
    call_command("cache_images", "--all", stdout=StringIO())
    image = RemoteImage.objects.get()
    assert (image.url, image.status) == (httpserver.url_for(upload), RemoteImage.Status.CACHED)
    # The old address of the upload now leads to the cached copy, and the post shows it.
    location = redirect_of(client, upload)
    assert location.startswith(settings.MEDIA_URL) and default_storage.exists(location[len(settings.MEDIA_URL) :])
    page = client.get("/posts/2011/name-that-pattern/").content.decode()
    assert f'src="{upload}"' not in page and settings.MEDIA_URL in page


@pytest.mark.django_db
def test_the_admin_shows_the_date_as_written_and_the_blogs_host(admin_client, settings):
    settings.TIME_ZONE = "Europe/Rome"
    imported(SUITCASE)
    post = Post.objects.get(source_id=899)
    page = admin_client.get(f"/admin/blog/post/{post.pk}/change/").content.decode()
    assert '<div class="readonly">2016-03-27T02:01:07+08:00</div>' in page
    assert '<div class="readonly">wodiga.com</div>' in page
