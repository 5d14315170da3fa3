"""import_posts on WordPress (WXR) and Blogger exports, end to end through the public site."""

import re
import shutil
import zipfile
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from taggit.models import Tag

from blog.models import Attachment, Author, Category, MenuItem, Post, RemoteImage
from tests.test_xml_exports import BLOGGER, WXR

pytestmark = pytest.mark.django_db

WORDPRESS_SUMMARY = (
    "the export held 6 posts, 2 pages, 3 comments, 1 attachment, 4 menu items; "
    "skipped 3 (1 revision, 1 wp_global_styles, 1 wp_template)"
)


def run(*args: str) -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    call_command("import_posts", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def test_wxr_import_creates_every_post_and_page_and_summarises():
    stdout, stderr = run(str(WXR / "wordpress-6.xml"))
    assert stderr == ""
    assert stdout.startswith(
        "created 8, updated 0, unchanged 0, failed 0; comments: created 3, updated 0, failed 0 in "
    )
    assert stdout.rstrip().endswith(WORDPRESS_SUMMARY)
    assert sorted(Post.objects.values_list("source_id", flat=True)) == [2, 3, 101, 130, 140, 141, 142, 143]
    post = Post.objects.get(source_id=101)
    assert post.title == "Crossing the Gemmi Pass"
    assert post.slug == "crossing-the-gemmi-pass"
    assert post.excerpt == "A day over the Gemmi."
    assert post.guid == "https://fieldnotes.example/?p=101"
    assert post.date.isoformat() == "2024-07-14T08:30:00+00:00"
    assert post.front_matter["format"] == "gallery"
    assert post.front_matter["sticky"] is True
    assert post.front_matter["companion"] == ["Mary", "Charles"]
    assert "comments" not in post.front_matter  # they are Comment rows now
    author = Author.objects.get(slug="ada")
    assert (author.display_name, author.email) == ("Ada Lovelace", "ada@fieldnotes.example")
    assert post.author == author


def test_wxr_categories_keep_their_slugs_descriptions_and_hierarchy(client):
    run(str(WXR / "wordpress-6.xml"))
    alps = Category.objects.get(slug="alps-hiking")
    assert alps.name == "Hiking in the Alps" and alps.parent.slug == "travel"
    assert Category.objects.get(slug="travel").description == "Trips and routes"
    assert Category.objects.get(slug="c-plus-plus").name == "C++"
    assert Category.objects.count() == 3  # the items' categories are the declared ones, not copies
    assert set(Post.objects.get(source_id=101).categories.values_list("slug", flat=True)) == {
        "alps-hiking",
        "c-plus-plus",
    }
    assert set(Tag.objects.values_list("slug", flat=True)) == {"gear", "switzerland"}
    # The old category address works, and a parent category lists its children's posts.
    assert "Crossing the Gemmi Pass" in client.get("/category/c-plus-plus/").content.decode()
    assert "Crossing the Gemmi Pass" in client.get("/category/travel/").content.decode()


def test_only_published_items_are_shown_to_readers(client):
    run(str(WXR / "wordpress-6.xml"))
    public = set(Post.objects.published().values_list("source_id", flat=True))
    assert public == {2, 3, 101}
    assert client.get("/2024/07/14/crossing-the-gemmi-pass/").status_code == 200
    assert client.get("/about/team/").status_code == 200
    # password-protected, private, scheduled ("future") and trashed posts are not shown
    hidden = ("/2024/05/01/members-only/", "/2024/04/01/diary/", "/2031/06/01/next-summer/", "/2019/03/03/old-route/")
    for path in hidden:
        assert client.get(path).status_code == 404, path


def test_old_wordpress_addresses_redirect(client):
    run(str(WXR / "wordpress-6.xml"))
    response = client.get("/?p=101")
    assert (response.status_code, response["Location"]) == (301, "/2024/07/14/crossing-the-gemmi-pass/")
    response = client.get("/?page_id=3")
    assert (response.status_code, response["Location"]) == (301, "/about/team/")
    assert client.get("/?p=141").status_code == 404  # private: no address gives it away


def test_reimport_is_idempotent_and_an_edited_item_updates_in_place(tmp_path):
    run(str(WXR / "wordpress-6.xml"))
    stdout, _stderr = run(str(WXR / "wordpress-6.xml"))
    assert stdout.startswith("created 0, updated 0, unchanged 8, failed 0")
    edited = tmp_path / "export.xml"
    edited.write_text((WXR / "wordpress-6.xml").read_text().replace("We left Kandersteg", "We left Leukerbad"))
    stdout, _stderr = run(str(edited))
    assert stdout.startswith("created 0, updated 1, unchanged 7, failed 0")
    assert Post.objects.count() == 8
    assert "Leukerbad" in Post.objects.get(source_id=101).body_html


def test_dry_run_writes_nothing():
    stdout, _stderr = run(str(WXR / "wordpress-6.xml"), "--dry-run")
    assert stdout.startswith("dry run, nothing written: would have created 8, updated 0")
    assert (Post.objects.count(), Category.objects.count(), Author.objects.count()) == (0, 0, 0)


def test_an_export_inside_a_zip_and_in_a_folder(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(WXR / "wxr-1.1.xml", "site/export.xml")
    stdout, _stderr = run(str(archive))
    assert stdout.startswith("created 1,")
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(WXR / "wxr-1.0.xml", folder / "old.xml")
    (folder / "sitemap.xml").write_text('<?xml version="1.0"?><urlset></urlset>')  # not an export: ignored
    stdout, stderr = run(str(folder))
    assert stdout.startswith("created 1,") and stderr == ""
    assert Post.objects.get(source_id=1).title == "Hello world!"


def test_a_broken_export_is_one_line_and_exit_status_1(tmp_path):
    with pytest.raises(CommandError) as failure:
        run(str(WXR / "broken.xml"), str(WXR / "wxr-1.1.xml"))
    assert failure.value.returncode == 1
    # The other file is still imported; nothing of the broken one is.
    assert list(Post.objects.values_list("source_id", flat=True)) == [42]


def test_broken_export_message(tmp_path):
    stderr = StringIO()
    with pytest.raises(CommandError):
        call_command("import_posts", str(WXR / "broken.xml"), stdout=StringIO(), stderr=stderr)
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{WXR / 'broken.xml'}: is not well-formed XML: ")
    assert lines[0].endswith("(line 21)")


def test_an_xml_file_that_is_no_export_is_refused_by_name(tmp_path):
    other = tmp_path / "feed.xml"
    other.write_text('<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>')
    stderr = StringIO()
    with pytest.raises(CommandError):
        call_command("import_posts", str(other), stdout=StringIO(), stderr=stderr)
    assert stderr.getvalue() == f"{other}: is not a WordPress (WXR) or Blogger export\n"


def test_a_bad_item_is_one_line_and_the_rest_imports(tmp_path):
    text = (WXR / "wordpress-6.xml").read_text()
    # Two items claiming one address: the second is refused by name, the others go in.
    bad = tmp_path / "export.xml"
    bad.write_text(
        text.replace("https://fieldnotes.example/2024/05/01/members-only/", "https://fieldnotes.example/about/")
    )
    stderr = StringIO()
    with pytest.raises(CommandError):
        call_command("import_posts", str(bad), stdout=StringIO(), stderr=stderr)
    assert stderr.getvalue() == (
        f"{bad}: item 140 (post 'members-only'): permalink '/about/' is already used by another post\n"
    )
    assert Post.objects.count() == 7


def test_wxr_comments_become_threaded_comments_on_the_page(client):
    run(str(WXR / "wordpress-6.xml"))
    post = Post.objects.get(source_id=101)
    by_id = {comment.source_id: comment for comment in post.comments.all()}
    assert set(by_id) == {"7", "8", "9"}
    assert by_id["8"].parent == by_id["7"]
    assert (by_id["9"].type, by_id["9"].status) == ("pingback", "pending")
    assert by_id["7"].author_email == "mary@example.org"
    assert post.comment_count == 2  # the pingback waits for moderation
    assert post.comment_status == Post.CommentStatus.OPEN
    assert Post.objects.get(source_id=2).comment_status == Post.CommentStatus.CLOSED
    page = client.get(post.permalink).content.decode()
    assert "What a view!" in page and "It was!" in page
    assert "a fine crossing" not in page and "mary@example.org" not in page
    run(str(WXR / "wordpress-6.xml"))
    assert post.comments.count() == 3


def test_content_through_the_one_renderer(client):
    run(str(WXR / "wordpress-6.xml"), str(WXR / "wordpress-com.xml"))
    html = Post.objects.get(source_id=101).body_html
    assert "wp:paragraph" not in html and "<p>We left Kandersteg at dawn.</p>" in html
    # wpautop: a single newline in WordPress HTML is a line break
    assert "The path climbs steeply.<br" in html
    about = Post.objects.get(source_id=2).body_html
    assert "[caption" not in about and "<figcaption>" in about
    code = Post.objects.get(source_id=77).body_html
    assert "if (a[b[0]]&gt; 1) {}" in code


def test_scripts_and_emoji_survive_to_the_page(client):
    run(str(WXR / "scripts.xml"))
    page = client.get("/2023/02/01/%e4%bd%a0%e5%a5%bd/")
    assert page.status_code == 200
    assert "春眠不觉晓" in page.content.decode()
    assert "🐻‍❄️" in client.get("/2023/02/03/privet-mir/").content.decode()
    assert "این یک نوشتهٔ آزمایشی است." in client.get("/2023/02/02/salam/").content.decode()
    assert Category.objects.get().slug == "生活"


def test_blogger_exports_import_with_old_addresses(client):
    stdout, stderr = run(str(BLOGGER / "classic.xml"), str(BLOGGER / "blogger-2018.xml"))
    assert stderr == ""
    assert stdout.startswith("created 7, updated 0, unchanged 0, failed 0; comments: created 4, updated 0, failed 0")
    assert Post.objects.published().count() == 4
    response = client.get("/2014/03/my-first-sourdough.html")
    assert response.status_code == 200 and "It rose!" in response.content.decode()
    response = client.get("/2014/03/my-first-sourdough.html?m=1")  # Blogger's mobile address
    assert (response.status_code, response["Location"]) == (301, "/2014/03/my-first-sourdough.html")
    assert client.get("/2019/05/lisbon-in-three-days.html").status_code == 200
    assert client.get("/p/about-me.html").status_code == 200
    post = Post.objects.get(permalink="/2019/05/lisbon-in-three-days.html")
    assert sorted(post.tags.names()) == ["City trips", "Portugal"]
    assert post.guid == "tag:blogger.com,1999:blog-7777.post-8888"
    ines, reply = post.comments.order_by("date")
    assert (ines.author_name, ines.author_url, reply.parent) == ("Ines", "https://ines.example/", ines)
    stdout, _stderr = run(str(BLOGGER / "classic.xml"), str(BLOGGER / "blogger-2018.xml"))
    assert stdout.startswith("created 0, updated 0, unchanged 7, failed 0")


def test_wxr_to_markdown_and_back_changes_nothing(tmp_path):
    run(str(WXR / "wordpress-6.xml"), str(BLOGGER / "classic.xml"))
    before = {
        post.pk: (post.title, post.date, post.permalink, post.status, post.front_matter, post.body, post.excerpt)
        for post in Post.objects.all()
    }
    call_command("export_posts", str(tmp_path / "site"), "--drafts", stdout=StringIO())
    exported = (tmp_path / "site" / "_posts" / "2024-07-14-crossing-the-gemmi-pass.md").read_text()
    assert exported.startswith("---\nid: 101\ntitle: 'Crossing the Gemmi Pass'\ndate: '2024-07-14T10:30:00+02:00'\n")
    assert "\ncomments:\n    -   id: 7\n" in exported
    stdout, _stderr = run(str(tmp_path / "site"))
    # The files are byte for byte what the export was read as: nothing to do.
    assert stdout.startswith("created 0, updated 0, unchanged 11, failed 0")
    after = {
        post.pk: (post.title, post.date, post.permalink, post.status, post.front_matter, post.body, post.excerpt)
        for post in Post.objects.all()
    }
    assert after == before


def _export_with_images_at(base: str, tmp_path) -> str:
    """Return the path of the main fixture with its media on `base` (a server on 127.0.0.1)."""
    text = (
        (WXR / "wordpress-6.xml").read_text().replace("https://fieldnotes.example/wp-content/", base + "/wp-content/")
    )
    path = tmp_path / "export.xml"
    path.write_text(text)
    return str(path)


def test_attachments_and_featured_image_before_caching(client, tmp_path):
    run(_export_with_images_at("http://127.0.0.1:9", tmp_path))
    original = "http://127.0.0.1:9/wp-content/uploads/2024/07/gemmi.jpg"
    attachment = Attachment.objects.get()
    assert (attachment.source_id, attachment.url, attachment.post.source_id) == (120, original, 101)
    assert attachment.link_path == "/2024/07/14/crossing-the-gemmi-pass/gemmi/"
    # The image cache knows the file, linked to its post, waiting to be copied.
    image = RemoteImage.objects.get(url=original)
    assert image.status == RemoteImage.Status.PENDING
    assert list(image.posts.values_list("source_id", flat=True)) == [101]
    post = Post.objects.get(source_id=101)
    assert post.image_url == original
    page = client.get(post.permalink).content.decode()
    assert f'<meta property="og:image" content="{original}">' in page
    assert f'<img class="u-photo" src="{original}"' in page
    assert f'<img class="post-thumb" src="{original}"' in client.get("/").content.decode()
    assert f'&lt;img src="{original}"' in client.get("/feed/").content.decode()
    # Old addresses of the media item answer with its file.
    response = client.get("/?attachment_id=120")
    assert (response.status_code, response["Location"]) == (301, original)
    assert client.get("/?attachment_id=999").status_code == 404
    response = client.get("/2024/07/14/crossing-the-gemmi-pass/gemmi/")  # the attachment's own page
    assert (response.status_code, response["Location"]) == (301, original)
    run(_export_with_images_at("http://127.0.0.1:9", tmp_path))
    assert Attachment.objects.count() == 1


def test_featured_image_is_cached_and_served_from_media(client, tmp_path, httpserver, settings):
    from tests.images_helpers import image_bytes

    settings.IMAGE_CACHE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.IMAGE_CACHE_ALLOWED_PORTS = [str(httpserver.port)]
    settings.IMAGE_CACHE_RETRIES = 0
    jpeg = image_bytes("JPEG", (1200, 800))
    httpserver.expect_request("/wp-content/uploads/2024/07/gemmi.jpg").respond_with_data(
        jpeg, content_type="image/jpeg"
    )
    httpserver.expect_request("/wp-content/uploads/2024/07/gemmi-300x200.jpg").respond_with_data(
        image_bytes("JPEG", (300, 200)), content_type="image/jpeg"
    )
    run(_export_with_images_at(httpserver.url_for("").rstrip("/"), tmp_path))
    call_command("cache_images", "--all", stdout=StringIO(), stderr=StringIO())
    original = httpserver.url_for("/wp-content/uploads/2024/07/gemmi.jpg")
    assert RemoteImage.objects.get(url=original).status == RemoteImage.Status.CACHED
    post = Post.objects.get(source_id=101)
    assert post.image_url.startswith(settings.MEDIA_URL) and post.image_url.endswith(".jpg")
    assert f'<img class="u-photo" src="{post.image_url}"' in client.get(post.permalink).content.decode()
    for old_address in ("/?attachment_id=120", "/2024/07/14/crossing-the-gemmi-pass/gemmi/"):
        response = client.get(old_address)
        assert response.status_code == 301 and response["Location"].startswith(settings.MEDIA_URL), old_address


def test_a_featured_image_that_is_no_web_address_is_not_shown(tmp_path):
    text = (WXR / "wordpress-6.xml").read_text()
    bad = tmp_path / "export.xml"
    bad.write_text(
        text.replace("https://fieldnotes.example/wp-content/uploads/2024/07/gemmi.jpg", "javascript:alert(1)")
    )
    run(str(bad))
    post = Post.objects.get(source_id=101)
    assert post.front_matter["image"] == "javascript:alert(1)"  # kept, as the export had it
    assert post.image_url == ""


def test_the_primary_menu_becomes_the_sites_navigation(client):
    run(str(WXR / "wordpress-6.xml"))
    assert MenuItem.objects.count() == 4
    nav = client.get("/").content.decode().split('<nav aria-label="Site">', 1)[1].split("</nav>", 1)[0]
    # Pages (nested as in WordPress), a category and a custom link, in menu order; titles from
    # the menu item or, when it has none, from what it links to.
    assert re.sub(r">\s+<", "><", nav.strip()) == (
        '<ul><li><a href="/about/">About</a><ul><li><a href="/about/team/">The team</a></li></ul></li>'
        '<li><a href="/category/travel/">Travel</a></li>'
        '<li><a href="https://social.example/@ada">Mastodon</a></li></ul>'
    )
    run(str(WXR / "wordpress-6.xml"))
    assert MenuItem.objects.count() == 4


def test_menu_links_to_unsafe_addresses_or_hidden_posts_are_left_out(client, tmp_path):
    text = (WXR / "wordpress-6.xml").read_text()
    bad = tmp_path / "export.xml"
    bad.write_text(text.replace("https://social.example/@ada", "javascript:alert(1)"))
    run(str(bad))
    Post.objects.filter(source_id=3).update(status=Post.Status.DRAFT)
    nav = client.get("/").content.decode().split('<nav aria-label="Site">', 1)[1].split("</nav>", 1)[0]
    assert "javascript" not in nav and "Mastodon" not in nav
    assert "/about/team/" not in nav and '<a href="/about/">About</a>' in nav


def test_without_a_menu_the_site_shows_its_own_links(client):
    run(str(WXR / "wxr-1.1.xml"))
    nav = client.get("/").content.decode().split('<nav aria-label="Site">', 1)[1].split("</nav>", 1)[0]
    assert '<a href="/">Home</a>' in nav and '<a href="/archives/">Archives</a>' in nav


def test_a_thumbnail_of_a_known_attachment_is_shown_as_its_cached_original(tmp_path, httpserver, settings):
    from tests.images_helpers import image_bytes

    settings.IMAGE_CACHE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.IMAGE_CACHE_ALLOWED_PORTS = [str(httpserver.port)]
    settings.IMAGE_CACHE_RETRIES = 0
    for path, size in (("gemmi.jpg", (1600, 1067)), ("gemmi-300x200.jpg", (300, 200))):
        httpserver.expect_request(f"/wp-content/uploads/2024/07/{path}").respond_with_data(
            image_bytes("JPEG", size), content_type="image/jpeg"
        )
    run(_export_with_images_at(httpserver.url_for("").rstrip("/"), tmp_path))
    call_command("cache_images", "--all", stdout=StringIO(), stderr=StringIO())
    original = RemoteImage.objects.get(url=httpserver.url_for("/wp-content/uploads/2024/07/gemmi.jpg"))
    thumbnail = RemoteImage.objects.get(url=httpserver.url_for("/wp-content/uploads/2024/07/gemmi-300x200.jpg"))
    assert original.status == thumbnail.status == RemoteImage.Status.CACHED
    # The About page names only the 300x200 thumbnail; it shows the original's sizes.
    about = Post.objects.get(source_id=2).body_html
    widest = max(original.variants.values_list("width", flat=True))
    assert widest > 300
    assert f"{widest}w" in about
    assert not any(name in about for name in thumbnail.variants.values_list("name", flat=True))
    assert "gemmi-300x200.jpg" not in about


@pytest.mark.parametrize(
    "path", [*sorted(WXR.glob("*.xml")), *sorted(BLOGGER.glob("*.xml"))], ids=lambda path: path.name
)
def test_an_exports_posts_are_exactly_the_files_they_read_as(path):
    """The importer hands on each post parsed already; it must be what parsing its file gives."""
    import functools

    from blog import frontmatter
    from blog.importing import _iter_export

    checked = 0
    for item in _iter_export(functools.partial(path.open, "rb"), str(path)):
        if item.source is not None:
            assert frontmatter.parse(item.data) == item.source, item.label
            checked += 1
    assert checked or path.name in ("broken.xml",)


def test_a_sticky_post_leads_the_home_page(client, make_post):
    run(str(WXR / "wordpress-6.xml"))
    newer = make_post(title="Yesterday's news")
    assert Post.objects.get(source_id=101).sticky
    assert newer.date > Post.objects.get(source_id=101).date
    home = client.get("/").content.decode()
    assert home.index("Crossing the Gemmi Pass") < home.index("Yesterday&#x27;s news")
    Post.objects.filter(source_id=101).update(sticky=False)
    cache.clear()
    home = client.get("/").content.decode()
    assert home.index("Yesterday&#x27;s news") < home.index("Crossing the Gemmi Pass")


def test_menu_and_attachment_changelists_in_a_fixed_number_of_queries(admin_client, tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    def queries(name: str) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(reverse(f"admin:blog_{name}_changelist"))
        assert response.status_code == 200
        return len(captured.captured_queries), response.context["cl"].result_count

    run(str(WXR / "wordpress-6.xml"))
    few = {name: queries(name) for name in ("menuitem", "attachment")}
    assert few["menuitem"][1] == 4 and few["attachment"][1] == 1
    about = Post.objects.get(source_id=2)
    for n in range(30):
        parent = MenuItem.objects.create(menu="primary", post=about, order=10 + n)
        MenuItem.objects.create(menu="footer", title=f"Link {n}", url=f"https://example.org/{n}", parent=parent)
        Attachment.objects.create(source_id=1000 + n, url=f"https://example.org/{n}.jpg", post=about)
    many = {name: queries(name) for name in ("menuitem", "attachment")}
    assert many["menuitem"][1] == 64 and many["attachment"][1] == 31
    assert {name: count for name, (count, _rows) in many.items()} == {
        name: count for name, (count, _rows) in few.items()
    }


def test_a_menu_link_must_be_a_web_address_a_path_or_an_anchor():
    from django.core.exceptions import ValidationError

    for good in ("https://example.org/", "mailto:ada@example.org", "/about/", "#top", ""):
        MenuItem(menu="primary", url=good).clean_fields(exclude=["source_id", "post", "category", "parent"])
    for bad in ("javascript:alert(1)", "data:text/html,x", "//evil.example/"):
        with pytest.raises(ValidationError):
            MenuItem(menu="primary", url=bad).clean_fields(exclude=["source_id", "post", "category", "parent"])


@pytest.mark.parametrize(
    ("image", "guid", "shown"),
    [
        # the exporter's relative upload path, resolved against the old site as the image cache does
        (
            "/wp-content/uploads/2024/05/plasma6.png",
            "http://old.example/?p=5",
            "http://old.example/wp-content/uploads/2024/05/plasma6.png",
        ),
        ("/wp-content/uploads/2024/05/plasma6.png", "", "/wp-content/uploads/2024/05/plasma6.png"),
        ("//cdn.example/a.jpg", "", "https://cdn.example/a.jpg"),
        ("javascript:alert(1)", "http://old.example/?p=5", ""),
        ("data:image/png;base64,AAAA", "", ""),
        (["a.jpg"], "", ""),
    ],
)
def test_the_featured_image_of_markdown_front_matter(make_post, image, guid, shown):
    post = make_post(front_matter={"image": image}, guid=guid)
    assert post.image_url == shown


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_sticky_and_the_featured_image_of_posts_imported_before():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    before, after = [("blog", "0007_link_integrity")], [("blog", "0008_wordpress_exports")]
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    author = old_apps.get_model("blog", "Author").objects.create(name="admin", slug="admin")
    old_post = old_apps.get_model("blog", "Post").objects.create(
        title="Old",
        slug="old",
        permalink="/old/",
        author=author,
        guid="http://old.example/?p=5",
        front_matter={"image": "/wp-content/uploads/a.png", "sticky": True},
    )
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    post = Post.objects.get(pk=old_post.pk)
    assert (post.image_url, post.sticky) == ("http://old.example/wp-content/uploads/a.png", True)


def test_a_split_export_finds_a_featured_image_in_an_earlier_file(tmp_path):
    """WordPress.com splits large exports into several files; the media may sit in another one."""
    text = (WXR / "wordpress-6.xml").read_text()
    head, rest = text.split("\t<item>", 1)
    items = ["\t<item>" + part for part in rest.split("\t<item>")]
    tail = "</channel>\n</rss>\n"
    items[-1] = items[-1].replace(tail, "")
    media = [item for item in items if "<wp:post_type><![CDATA[attachment]]>" in item]
    others = [item for item in items if item not in media]
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "fieldnotes.wordpress.000.xml").write_text(head + "".join(media) + tail)
    (folder / "fieldnotes.wordpress.001.xml").write_text(head + "".join(others) + tail)
    stdout, stderr = run(str(folder))
    assert stderr == "" and stdout.startswith("created 8,")
    post = Post.objects.get(source_id=101)
    assert post.front_matter["image"] == "https://fieldnotes.example/wp-content/uploads/2024/07/gemmi.jpg"
    assert Attachment.objects.get().post == post


def test_site_menu_chooses_which_menu_the_site_shows(client, settings):
    run(str(WXR / "wordpress-6.xml"))
    MenuItem.objects.create(menu="footer", title="Imprint", url="/imprint/")
    settings.SITE_MENU = "footer"
    nav = client.get("/").content.decode().split('<nav aria-label="Site">', 1)[1].split("</nav>", 1)[0]
    assert '<a href="/imprint/">Imprint</a>' in nav and "About" not in nav


def test_the_menu_is_read_once_per_content_version_and_follows_edits(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run(str(WXR / "wordpress-6.xml"))
    client.get("/")
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/about/team/").content.decode()
    assert "Mastodon" in page
    assert not any("blog_menuitem" in query["sql"] for query in captured.captured_queries)
    item = MenuItem.objects.get(title="Mastodon")
    item.title = "Fediverse"
    item.save()  # a change the site shows: the menu is read again
    page = client.get("/about/team/").content.decode()
    assert "Fediverse" in page and "Mastodon" not in page


def test_an_export_in_a_zip_counts_whole_against_the_archive_limit(tmp_path, settings):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(WXR / "wordpress-6.xml", "export.xml")
    settings.IMPORT_MAX_ARCHIVE_BYTES = (WXR / "wordpress-6.xml").stat().st_size - 1
    stderr = StringIO()
    with pytest.raises(CommandError):
        call_command("import_posts", str(archive), stdout=StringIO(), stderr=stderr)
    assert "IMPORT_MAX_ARCHIVE_BYTES" in stderr.getvalue()
    assert Post.objects.count() == 0


def test_an_export_linked_from_outside_the_folder_is_not_followed(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "export.xml").symlink_to(WXR / "wxr-1.1.xml")
    stderr = StringIO()
    with pytest.raises(CommandError):
        call_command("import_posts", str(folder), stdout=StringIO(), stderr=stderr)
    assert (
        stderr.getvalue() == f"{folder / 'export.xml'}: is a symbolic link to a file outside the folder: not followed\n"
    )
    assert Post.objects.count() == 0
