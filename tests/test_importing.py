"""Importing export files into posts: mapping, identity, idempotency, atomicity, bad files."""

import os
import zipfile
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from taggit.models import Tag

from blog.importing import import_paths
from blog.models import Author, Category, Post
from tests.conftest import CORPUS, CORPUS_FILES, SAMPLE_POST

pytestmark = pytest.mark.django_db

GOOD = "---\nid: {id}\ntitle: 'Good {id}'\ndate: '2020-01-0{id}T10:00:00+00:00'\nauthor: admin\n---\nBody {id}\n"


def write(folder, name, text, *, mode="w"):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def test_sample_post_is_imported_as_a_reader_sees_it():
    result = import_paths([SAMPLE_POST])
    assert (result.created, result.updated, result.unchanged, result.failed) == (1, 0, 0, 0)
    post = Post.objects.get()
    assert post.source_id == 161
    assert post.title == "Mengenal Microservices: Pengertian, Contoh, dan Kelebihannya"
    assert post.date == datetime(2022, 10, 29, 2, 45, tzinfo=UTC)
    assert post.author.name == "admin"
    assert post.layout == "post"
    assert post.status == Post.Status.PUBLISHED
    assert post.permalink == "/index.php/2022/10/29/mengenal-microservices-pengertian-contoh-dan-kelebihannya/"
    assert (
        post.guid
        == "http://localhost/wordpress/index.php/2022/10/29/mengenal-microservices-pengertian-contoh-dan-kelebihannya/"
    )
    assert post.slug == "mengenal-microservices-pengertian-contoh-dan-kelebihannya"
    assert post.blogger_blog == ["webidevloper.blogspot.com"]
    assert post.blogger_author == ["IDEV.My.ID"]
    assert post.blogger_internal == ["/feeds/2636143461486592706/posts/default/5565145592921102258"]
    assert [category.name for category in post.categories.all()] == ["TutorialBlogger"]
    assert post.front_matter == {}  # every key of the sample has a column
    assert post.body.startswith("\n<div>Apakah Anda pernah melakukan aktivitas *nobar*")
    assert "<h2 id=" in post.body_html  # rendered on save, with heading anchors
    assert post.source_format["order"][:3] == ["id", "title", "date"]


def test_corpus_imports_every_file(corpus_dir):
    result = import_paths([corpus_dir])
    assert result.failures == []
    assert result.created == CORPUS_FILES
    posts = {post.guid: post for post in Post.objects.all()}

    endure = posts["https://www.aggrippino.com/?p=1023"]
    assert endure.title == "Tahan Sahaja… Just Endure"
    assert endure.excerpt == (
        "I never anticipated the intense chronic pain I've had to endure, but that's no excuse for neglect..."
    )
    assert endure.front_matter["spay_email"] == [""]

    asshole = posts["https://www.aggrippino.com/?p=836"]
    assert asshole.status == Post.Status.DRAFT  # published: false
    assert asshole.front_matter == {"inline_featured_image": ["0"]}

    page = posts["https://kabar.example/?page_id=9001"]  # tests/fixtures: a page without permalink
    assert (page.layout, page.permalink) == ("page", "/kabar-markup-cheatsheet/")
    assert page.slug == "kabar-markup-cheatsheet"
    assert page.date == datetime(2013, 7, 24, 9, 19, 37, tzinfo=UTC)

    hugo = posts["https://kabar.example/?p=9003"]  # tests/fixtures: Hugo's taxonomies:/extra: maps
    assert {category.name for category in hugo.categories.all()} == {"Development", "Static Sites"}
    assert {tag.name for tag in hugo.tags.all()} == {"Hugo", "Migration"}
    assert hugo.front_matter["extra"] == {"article_image": {"src": "/wp-content/uploads/moved.png", "alt": "Moved"}}
    assert list(hugo.front_matter)[-2:] == ["taxonomies", "extra"]

    chinese = posts["http://wodiga.com/?p=866"]
    assert chinese.title == "少年，莫贪玩"  # noqa: RUF001 - the fullwidth comma is the title's
    assert chinese.permalink == "/2016/01/19/%e5%b0%91%e5%b9%b4%ef%bc%8c%e8%8e%ab%e8%b4%aa%e7%8e%a9/"
    assert chinese.slug == "少年莫贪玩"
    assert chinese.front_matter == {"views": ["27851", "27851"]}

    assert posts["http://conocimientoabierto.es/?p=458"].categories.get().name == "Sin categoría"
    assert Author.objects.filter(name="Vince Aggrippino").count() == 1
    assert Tag.objects.filter(name__iexact="wordpress").count() == 1


def test_second_import_writes_nothing_and_costs_no_query_per_file(corpus_dir):
    import_paths([corpus_dir])
    before = dict(Post.objects.values_list("pk", "updated_at"))
    with CaptureQueriesContext(connection) as all_files:
        result = import_paths([corpus_dir])
    assert (result.created, result.updated, result.unchanged, result.failed) == (0, 0, CORPUS_FILES, 0)
    assert dict(Post.objects.values_list("pk", "updated_at")) == before
    assert not [query for query in all_files.captured_queries if not query["sql"].startswith("SELECT")]
    with CaptureQueriesContext(connection) as one_file:
        import_paths([next(corpus_dir.glob("*.md"))])
    assert len(all_files) == len(one_file)  # the lookups of the run, nothing per file


def test_changed_file_updates_the_same_row_and_sets_taxonomies_exactly(tmp_path):
    path = write(tmp_path, "2020-01-01-a.md", "---\nid: 5\ntitle: A\ncategories: [One, Two]\ntags: [x, y]\n---\nold\n")
    import_paths([path])
    post = Post.objects.get()
    write(tmp_path, "2020-01-01-a.md", "---\nid: 5\ntitle: A2\ncategories: [Two, Three]\ntags: [y]\n---\nnew\n")
    result = import_paths([path])
    assert (result.created, result.updated) == (0, 1)
    post.refresh_from_db()
    assert (post.pk, post.title, post.body) == (Post.objects.get().pk, "A2", "new\n")
    assert "new" in post.body_html
    assert {category.name for category in post.categories.all()} == {"Two", "Three"}
    assert [tag.name for tag in post.tags.all()] == ["y"]
    assert Category.objects.filter(name="One").exists()  # other posts may still use it


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("id: 9\npermalink: /a/", "id: 9\npermalink: /b/"),  # by id, though the permalink moved
        ("guid: 'http://x/?p=9'\npermalink: /a/", "guid: 'http://x/?p=9'\npermalink: /b/"),  # by guid
        ("permalink: /a/\ntitle: One", "permalink: /a/\ntitle: Two"),  # by permalink
    ],
)
def test_identity_order(tmp_path, first, second):
    import_paths([write(tmp_path, "2020-01-01-a.md", f"---\n{first}\n---\n")])
    pk = Post.objects.get().pk
    result = import_paths([write(tmp_path, "2020-01-01-a.md", f"---\n{second}\n---\nchanged\n")])
    assert result.updated == 1
    assert Post.objects.get().pk == pk


def test_identity_by_file_slug_when_nothing_else(tmp_path):
    import_paths([write(tmp_path, "2020-01-01-moved.md", "---\ntitle: One\n---\n")])
    pk = Post.objects.get().pk
    result = import_paths([write(tmp_path, "2020-01-01-moved.md", "---\ntitle: One\ndate: 2021-05-05\n---\n")])
    assert result.updated == 1
    post = Post.objects.get()
    assert (post.pk, post.permalink) == (pk, "/2021/05/05/moved/")


def test_a_changed_permalink_without_id_or_guid_is_the_same_post_by_its_file_name(tmp_path):
    # The slug comes from the permalink; the file the post is named after still finds it.
    import_paths([write(tmp_path, "2020-01-01-moved.md", "---\ntitle: One\npermalink: /blog/moved/\n---\n")])
    post = Post.objects.get()
    assert post.slug == "moved"
    result = import_paths([write(tmp_path, "2020-01-01-moved.md", "---\ntitle: One\npermalink: /blog/gone/\n---\n")])
    assert (result.created, result.updated) == (0, 1)
    assert Post.objects.values_list("pk", "slug", "permalink").get() == (post.pk, "gone", "/blog/gone/")
    # Renamed again, it is still the file's post: by its file name's slug, not its new slug's.
    result = import_paths([write(tmp_path, "2020-01-01-moved.md", "---\ntitle: One\npermalink: /blog/back/\n---\n")])
    assert (result.created, result.updated) == (0, 1)
    assert Post.objects.values_list("pk", "slug").get() == (post.pk, "back")


def test_another_wordpress_id_is_another_post_even_with_the_same_guid(tmp_path):
    import_paths([write(tmp_path, "2020-01-01-a.md", "---\nid: 1\nguid: g\npermalink: /a/\n---\n")])
    result = import_paths([write(tmp_path, "2020-01-01-b.md", "---\nid: 2\nguid: g\npermalink: /b/\n---\n")])
    assert result.created == 1
    assert Post.objects.count() == 2


def test_dry_run_writes_nothing_and_reports_what_would_happen(corpus_dir):
    result = import_paths([corpus_dir], dry_run=True)
    assert (result.created, result.failed) == (CORPUS_FILES, 0)
    assert Post.objects.count() == Author.objects.count() == Category.objects.count() == Tag.objects.count() == 0
    import_paths([corpus_dir])
    write(corpus_dir, "2011-04-21-nazionlinux.md", (corpus_dir / "2011-04-21-nazionlinux.md").read_text() + "more\n")
    result = import_paths([corpus_dir], dry_run=True)
    assert (result.created, result.updated, result.unchanged) == (0, 1, CORPUS_FILES - 1)
    assert "more" not in Post.objects.get(guid="http://www.nazionlinux.com/?p=1").body


def test_zip_input(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(SAMPLE_POST, f"_posts/{SAMPLE_POST.name}")
        zipped.writestr("_drafts/wip.md", "---\ntitle: Work in progress\n---\nbody")
        zipped.writestr("README.md", "Not a post")
        zipped.writestr("_layouts/default.html", "---\nlayout: x\n---\n{{ content }}")
    result = import_paths([archive])
    assert (result.created, result.failed, result.skipped) == (2, 0, 1)
    assert Post.objects.get(title="Work in progress").status == Post.Status.DRAFT
    assert Post.objects.get(source_id=161).status == Post.Status.PUBLISHED


def test_drafts_folder_and_published_false_make_drafts(tmp_path):
    write(tmp_path, "_drafts/2020-01-02-wip.md", "---\ntitle: Wip\npermalink: /?p=77\n---\n")
    write(tmp_path, "_posts/2020-01-03-hidden.md", "---\ntitle: Hidden\npublished: false\n---\n")
    write(tmp_path, "_posts/2020-01-04-shown.md", "---\ntitle: Shown\n---\n")
    import_paths([tmp_path])
    statuses = dict(Post.objects.values_list("title", "status"))
    assert statuses == {"Wip": "draft", "Hidden": "draft", "Shown": "published"}
    assert Post.objects.get(title="Wip").permalink == "/2020/01/02/wip/"  # not /?p=77
    assert Post.objects.get(title="Wip").source_format["raw"]["permalink"] == "permalink: /?p=77\n"


def test_undated_jekyll_draft_is_imported(tmp_path):
    import_paths([write(tmp_path, "_drafts/idea.md", "---\ntitle: Idea\n---\n")])
    post = Post.objects.get()
    assert (post.status, post.slug) == ("draft", "idea")
    assert abs(post.date - datetime.now(UTC)) < timedelta(minutes=1)


def test_page_layout(tmp_path):
    import_paths([write(tmp_path, "about.md", "---\ntitle: About\nlayout: page\ndate: 2020-01-01\n---\nHi\n")])
    post = Post.objects.get()
    assert post.is_page
    assert post.permalink == "/about/"


def test_crlf_and_bom(tmp_path):
    data = "\ufeff---\r\ntitle: 'Ça va'\r\ndate: '2020-02-02T10:00:00+00:00'\r\n---\r\nLine one\r\nLine two\r\n"
    import_paths([write(tmp_path, "2020-02-02-ca-va.md", data.encode(), mode="wb")])
    post = Post.objects.get()
    assert post.title == "Ça va"
    assert post.body == "Line one\r\nLine two\r\n"
    assert post.source_format["bom"] is True


def test_numeric_title_and_unicode(tmp_path):
    write(tmp_path, "2020-01-01-n.md", "---\ntitle: 2048\n---\n")
    write(tmp_path, "2020-01-02-e.md", "---\ntitle: '🚀 Launch ❤️ “quoted”'\n---\n")
    import_paths([tmp_path])
    assert set(Post.objects.values_list("title", flat=True)) == {"2048", "🚀 Launch ❤️ “quoted”"}


def test_permalink_date_differs_from_the_utc_date(tmp_path, settings):
    settings.TIME_ZONE = "UTC"
    write(tmp_path, "2016-01-19-own.md", "---\ndate: '2016-01-19T01:00:00+08:00'\npermalink: /2016/01/19/own/\n---\n")
    write(tmp_path, "2016-01-19-made.md", "---\ndate: '2016-01-19T01:00:00+08:00'\n---\n")
    import_paths([tmp_path])
    own, made = Post.objects.get(slug="own"), Post.objects.get(slug="made")
    assert own.date == datetime(2016, 1, 18, 17, 0, tzinfo=UTC)
    assert own.permalink == "/2016/01/19/own/"
    assert made.permalink == "/2016/01/19/made/"


def test_date_without_zone_is_in_time_zone(tmp_path, settings):
    settings.TIME_ZONE = "Asia/Jakarta"
    import_paths([write(tmp_path, "2020-01-01-a.md", "---\ndate: '2020-01-01 07:30:00'\n---\n")])
    assert Post.objects.get().date == datetime(2020, 1, 1, 0, 30, tzinfo=UTC)


def test_author_map_and_string_categories(tmp_path):
    text = (
        "---\nauthor:\n  login: jdoe\n  email: jdoe@example.com\n  display_name: Jane Doe\n"
        "categories: 'News, Social Media'\ntags: python django\nstatus: publish\ntype: post\n"
        "meta:\n  _edit_last: '1'\nwordpress_id: 44\ndate: '2011-01-28 10:50:27 +0100'\n---\n"
    )
    import_paths([write(tmp_path, "2011-01-28-wp.md", text)])
    post = Post.objects.get()
    assert (post.author.name, post.author.display_name, post.author.email) == ("jdoe", "Jane Doe", "jdoe@example.com")
    assert {category.name for category in post.categories.all()} == {"News", "Social Media"}
    assert {tag.name for tag in post.tags.all()} == {"python", "django"}
    assert post.source_id == 44
    assert post.date == datetime(2011, 1, 28, 10, 50, 27, tzinfo=timezone(timedelta(hours=1)))
    assert post.front_matter == {"type": "post", "meta": {"_edit_last": "1"}}


def test_missing_author_is_the_default_author(tmp_path):
    import_paths([write(tmp_path, "2020-01-01-a.md", "---\ntitle: A\n---\n")])
    assert Post.objects.get().author.slug == "admin"


BAD_FILES = [
    ("2020-01-01-nofm.md", "Just text.\n", "has no front matter"),
    ("2020-01-01-yaml.md", "---\ntitle: [oops\n---\n", "front matter is not valid YAML"),
    ("2020-01-01-list.md", "---\n- a\n---\n", "front matter is not a map"),
    ("2020-01-01-date.md", "---\ndate: '2019-13-01'\n---\n", "date '2019-13-01' is not a valid date"),
    ("2020-01-01-binary.md", b"\x00\x01\x02binary", "is a binary file"),
    ("2020-01-01-latin1.md", "---\ntitle: café\n---\n".encode("latin-1"), "is not UTF-8 text"),
]


@pytest.mark.parametrize(("name", "content", "reason"), BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_bad_file_is_reported_and_the_run_goes_on(tmp_path, name, content, reason):
    bad = write(tmp_path, name, content, mode="wb" if isinstance(content, bytes) else "w")
    good = write(tmp_path, "2020-01-02-good.md", GOOD.format(id=2))
    result = import_paths([bad, good])
    assert (result.created, result.failed) == (1, 1)
    assert len(result.failures) == 1
    label, message = result.failures[0]
    assert label == str(bad)
    assert reason in message
    assert list(Post.objects.values_list("title", flat=True)) == ["Good 2"]


def test_permalink_of_another_post_fails_and_writes_nothing_of_the_file(tmp_path):
    import_paths([write(tmp_path, "2020-01-01-a.md", "---\nid: 1\npermalink: /taken/\n---\n")])
    clash = write(
        tmp_path,
        "2020-01-02-b.md",
        "---\nid: 2\npermalink: /taken/\nauthor: Newcomer\ncategories: [Brand New]\ntags: [fresh]\n---\n",
    )
    result = import_paths([clash, write(tmp_path, "2020-01-03-c.md", GOOD.format(id=3))])
    assert result.failures == [(str(clash), "permalink '/taken/' is already used by another post")]
    assert result.created == 1
    assert not Author.objects.filter(name="Newcomer").exists()
    assert not Category.objects.filter(name="Brand New").exists()
    assert not Tag.objects.filter(name="fresh").exists()


def test_over_the_size_cap(tmp_path, settings):
    settings.IMPORT_MAX_FILE_BYTES = 100
    big = write(tmp_path, "2020-01-01-big.md", "---\ntitle: big\n---\n" + "x" * 200)
    result = import_paths([big])
    assert result.failures == [(str(big), "is larger than the 100 bytes limit (IMPORT_MAX_FILE_BYTES)")]


def test_unreadable_files(tmp_path):
    os.symlink(tmp_path / "gone.md", tmp_path / "2020-01-01-dangling.md")
    archive = tmp_path / "broken.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("2020-01-01-a.md", GOOD.format(id=1))
    data = bytearray(archive.read_bytes())
    data[data.index(b"Body 1")] ^= 0xFF  # corrupt the member: its CRC no longer matches
    archive.write_bytes(bytes(data))
    result = import_paths([tmp_path / "2020-01-01-dangling.md", archive, tmp_path / "missing.md"])
    reasons = dict(result.failures)
    assert reasons[str(tmp_path / "2020-01-01-dangling.md")] == "does not exist"
    assert reasons[f"{archive}:2020-01-01-a.md"].startswith("cannot be read from the archive: Bad CRC-32")
    assert reasons[str(tmp_path / "missing.md")] == "does not exist"
    assert Post.objects.count() == 0


def test_folder_skips_files_without_front_matter_but_a_named_file_fails(tmp_path):
    write(tmp_path, "README.md", "# My blog\n")
    write(tmp_path, "_posts/2020-01-01-good.md", GOOD.format(id=1))
    result = import_paths([tmp_path])
    assert (result.created, result.failed, result.skipped) == (1, 0, 1)
    assert import_paths([tmp_path / "README.md"]).failed == 1


def test_progress_is_called_once_per_file(corpus_dir):
    seen = []
    import_paths([corpus_dir], progress=lambda label, outcome: seen.append(outcome))
    assert seen == ["created"] * CORPUS_FILES


def test_corpus_reads_every_file_of_the_corpus():
    assert len(list(CORPUS.glob("*.md"))) == 19  # the real-world files listed in tests/corpus/SOURCES.tsv


@pytest.mark.django_db
def test_large_batches_render_in_worker_processes_exactly_as_in_process(tmp_path, monkeypatch):
    from blog import importing

    submitted = []
    real_submit = importing._ParallelRenderer.submit
    monkeypatch.setattr(
        importing._ParallelRenderer,
        "submit",
        lambda self, items: submitted.append(futures := real_submit(self, items)) or futures,
    )
    body = (
        "## Heading {n}\n\n<div>Some *emphasis* and **bold** inside a div.</div>\n\n"
        '[caption]<img src="/a.png"> Cap[/caption]\n'
    )
    count = importing.PARALLEL_RENDER_MIN_FILES + 6
    for n in range(count):
        (tmp_path / f"2024-02-03-post-{n}.md").write_text(
            f"---\ntitle: Post {n}\npermalink: /p/{n}/\n---\n" + body.format(n=n), encoding="utf-8"
        )
    result = import_paths([tmp_path])
    assert result.created == count
    assert submitted and submitted[0] is not None  # the batch went to the worker processes
    for post in Post.objects.all():
        stored = (post.body_html, post.toc, post.summary, post.word_count)
        post.render()
        assert stored == (post.body_html, post.toc, post.summary, post.word_count)
        assert "<em>emphasis</em>" in post.body_html and "<figcaption>" in post.body_html


@pytest.mark.django_db
def test_large_import_points_posts_at_images_already_cached(tmp_path):
    from blog import importing
    from blog.models import RemoteImage

    url = "https://cdn.example.com/shared.png"
    RemoteImage.objects.create(
        url=url, status="cached", width=640, height=480, format="PNG", original="images/ab/abc/original.png"
    )
    count = importing.PARALLEL_RENDER_MIN_FILES + 1
    for n in range(count):
        (tmp_path / f"2024-02-03-img-{n}.md").write_text(
            f"---\ntitle: Img {n}\npermalink: /img/{n}/\n---\n![shared]({url})\n", encoding="utf-8"
        )
    assert import_paths([tmp_path]).created == count
    for html in Post.objects.values_list("body_html", flat=True):
        assert "/media/images/ab/abc/original.png" in html
        assert f'src="{url}"' not in html
        assert 'width="640"' in html


# --- Hostile files (issue 17): each gets one line, the good files around it are imported ---------


def _alias_bomb(levels: int) -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, levels + 1)]
    return "---\ntitle: bomb\n" + "\n".join(lines) + "\n---\nBody\n"


def test_yaml_alias_bombs_and_recursive_aliases_fail_alone_and_fast(tmp_path):
    import time

    files = {
        "2020-01-01-six.md": _alias_bomb(6),  # 9**6 = 531,441 values once expanded
        "2020-01-01-nine.md": _alias_bomb(9),  # 387 million
        "2020-01-01-loop.md": "---\ntitle: loop\nloop: &a [*a]\n---\n",
        "2020-01-01-loop-map.md": "---\ntitle: loop\nmeta:\n  self: &m {inner: *m}\n---\n",
        "2020-01-01-bulky.md": "---\nbig: &b " + "x" * 5000 + "\nmany: [" + ", ".join(["*b"] * 1100) + "]\n---\n",
    }
    paths = [write(tmp_path, name, text) for name, text in files.items()]
    good = write(tmp_path, "2020-01-02-good.md", GOOD.format(id=2) + "\n")
    small = write(tmp_path, "2020-01-03-aliases.md", "---\nbase: &base {a: 1}\ncopy: *base\n---\nBody\n")
    started = time.perf_counter()
    result = import_paths([*paths, good, small])
    assert time.perf_counter() - started < 5
    assert dict(result.failures) == {
        str(paths[0]): "front matter has more than 100,000 values once its YAML aliases are expanded",
        str(paths[1]): "front matter has more than 100,000 values once its YAML aliases are expanded",
        str(paths[2]): "front matter has a YAML alias inside what it points at (line 3)",
        str(paths[3]): "front matter has a YAML alias inside what it points at (line 4)",
        str(paths[4]): "front matter is larger than 5,242,880 bytes once its YAML aliases are expanded",
    }
    assert (result.created, result.failed) == (2, 5)
    # Aliases within the limits are read as YAML means them.
    assert Post.objects.get(title="").front_matter == {"base": {"a": 1}, "copy": {"a": 1}}


def test_front_matter_limits_come_from_the_settings(tmp_path, settings):
    settings.IMPORT_MAX_FRONT_MATTER_NODES = 20
    settings.IMPORT_MAX_FRONT_MATTER_BYTES = 200
    many = write(tmp_path, "2020-01-01-many.md", "---\ntags: [" + ", ".join(f"t{n}" for n in range(20)) + "]\n---\n")
    long = write(tmp_path, "2020-01-01-long.md", "---\ntitle: " + "x" * 300 + "\n---\n")
    fits = write(tmp_path, "2020-01-01-fits.md", "---\ntags: [" + ", ".join(f"t{n}" for n in range(10)) + "]\n---\n")
    result = import_paths([many, long, fits])
    assert dict(result.failures) == {
        str(many): "front matter has more than 20 values once its YAML aliases are expanded",
        str(long): "front matter is larger than 200 bytes once its YAML aliases are expanded",
    }
    assert result.created == 1


def test_categories_and_tags_per_post_are_capped(tmp_path, settings):
    settings.IMPORT_MAX_CATEGORIES = 3
    settings.IMPORT_MAX_TAGS = 2
    names = ", ".join(f"c{n}" for n in range(4))
    categories = write(tmp_path, "2020-01-01-cats.md", f"---\ncategories: [{names}]\n---\n")
    tags = write(tmp_path, "2020-01-01-tags.md", "---\ntags: a b c\n---\n")
    fits = write(tmp_path, "2020-01-02-fits.md", "---\ncategories: [x, y, z]\ntags: [a, b]\n---\n")
    result = import_paths([categories, tags, fits])
    assert dict(result.failures) == {
        str(categories): "categories: 4 given, at most 3 per post are accepted (IMPORT_MAX_CATEGORIES)",
        str(tags): "tags: 3 given, at most 2 per post are accepted (IMPORT_MAX_TAGS)",
    }
    assert result.created == 1
    assert sorted(Category.objects.values_list("name", flat=True)) == ["x", "y", "z"]
    assert sorted(Tag.objects.values_list("name", flat=True)) == ["a", "b"]


def test_a_body_longer_than_the_render_limit_is_refused_before_rendering(tmp_path, settings, monkeypatch):
    from blog import rendering

    settings.RENDER_MAX_BODY_CHARS = 1000
    rendered = []
    original = rendering.render_post
    monkeypatch.setattr(rendering, "render_post", lambda body, **kw: rendered.append(body) or original(body, **kw))
    long = write(tmp_path, "2020-01-01-long.md", "---\ntitle: long\n---\n" + "<div>" * 300)
    fits = write(tmp_path, "2020-01-02-fits.md", "---\ntitle: fits\n---\n" + "word " * 199)
    result = import_paths([long, fits])
    assert result.failures == [
        (str(long), "the body is 1,500 characters long, at most 1,000 are accepted (RENDER_MAX_BODY_CHARS)")
    ]
    assert list(Post.objects.values_list("title", flat=True)) == ["fits"]
    assert all("<div>" not in body for body in rendered)


def _zip(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def test_an_archive_over_the_member_or_byte_limit_is_refused_whole(tmp_path, settings):
    settings.IMPORT_MAX_ARCHIVE_FILES = 5
    settings.IMPORT_MAX_ARCHIVE_BYTES = 20_000
    padding = "\n" + "a " * 2500  # 5,000 bytes that compress to almost nothing
    many = _zip(tmp_path / "many.zip", {f"2020-01-0{n}-p{n}.md": GOOD.format(id=n) for n in range(1, 7)})
    big = _zip(tmp_path / "big.zip", {f"2020-01-0{n}-p{n}.md": GOOD.format(id=n) + padding for n in range(1, 6)})
    fits = _zip(tmp_path / "fits.zip", {f"2020-01-0{n}-p{n}.md": GOOD.format(id=n) + padding for n in range(1, 4)})
    result = import_paths([many, big, fits])
    assert result.failures == [
        (str(many), "has 6 members, more than the 5 accepted (IMPORT_MAX_ARCHIVE_FILES); nothing of it was imported"),
        (
            str(big),
            f"unpacks to {5 * len(GOOD.format(id=1) + padding)} bytes of posts, more than the 20000 bytes "
            "accepted (IMPORT_MAX_ARCHIVE_BYTES); nothing of it was imported",
        ),
    ]
    assert result.created == 3


def test_an_archive_of_many_large_members_is_refused_before_unpacking(tmp_path):
    """The reported attack: a few MB of zip holding 200 members of 5 MB each (defaults apply)."""
    import time

    archive = tmp_path / "bomb.zip"
    member = "---\ntitle: x\n---\n" + "a" * (5 * 1024 * 1024 - 20)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zipped:
        for n in range(120):
            zipped.writestr(f"2020-01-01-p{n}.md", member)
    started = time.perf_counter()
    result = import_paths([archive])
    assert time.perf_counter() - started < 2
    assert result.failed == 1 and result.created == 0
    assert "more than the 536.871 MB accepted (IMPORT_MAX_ARCHIVE_BYTES)" in result.failures[0][1]
