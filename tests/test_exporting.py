"""Exporting posts back to files: byte for byte where unchanged, and import → export → import is stable."""

from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from taggit.models import Tag

from blog import frontmatter
from blog.exporting import export_posts
from blog.importing import import_paths
from blog.models import Author, Category, Post
from tests.conftest import CORPUS_FILES, SAMPLE_POST

pytestmark = pytest.mark.django_db


def snapshot() -> dict:
    """Return everything a reader or an editor sees of the database, keyed by what identifies it."""
    posts = {}
    for post in Post.objects.select_related("author").prefetch_related("categories", "tags"):
        posts[post.permalink] = {
            "source_id": post.source_id,
            "title": post.title,
            "slug": post.slug,
            "date": post.date,
            "modified": post.modified,
            "author": post.author.slug,
            "layout": post.layout,
            "guid": post.guid,
            "status": post.status,
            "excerpt": post.excerpt,
            "body": post.body,
            "blogger": (post.blogger_blog, post.blogger_author, post.blogger_internal),
            "categories": sorted(category.slug for category in post.categories.all()),
            "tags": sorted(tag.name for tag in post.tags.all()),
            "front_matter": list(post.front_matter.items()),
        }
    return {
        "posts": posts,
        "authors": set(Author.objects.values_list("slug", "name", "display_name", "email")),
        "categories": set(Category.objects.values_list("slug", "name")),
        "tags": set(Tag.objects.values_list("slug", "name")),
    }


def empty_database() -> None:
    Post.objects.all().delete()
    Author.objects.all().delete()
    Category.objects.all().delete()
    Tag.objects.all().delete()


def test_sample_post_exports_byte_for_byte(tmp_path):
    import_paths([SAMPLE_POST])
    result = export_posts(tmp_path / "out")
    assert result.written == 1
    assert (tmp_path / "out" / "_posts" / SAMPLE_POST.name).read_bytes() == SAMPLE_POST.read_bytes()


def test_corpus_round_trip(corpus_dir, tmp_path):
    import_paths([corpus_dir])
    before = snapshot()
    result = export_posts(tmp_path / "out", drafts=True)
    assert result.total == CORPUS_FILES
    exported = {path.name: path for path in (tmp_path / "out").rglob("*.md")}
    for original in corpus_dir.glob("*.md"):
        # The one post with `published: false` is a draft now: same bytes, under _drafts/ without its date.
        name = original.name if original.name in exported else original.name[len("2014-02-27-") :]
        assert exported[name].read_bytes() == original.read_bytes(), original.name
    assert (tmp_path / "out" / "_drafts" / "the-asshole-response.md").exists()
    assert (tmp_path / "out" / "kabar-markup-cheatsheet.md").exists()  # a page, at the top

    empty_database()
    result = import_paths([tmp_path / "out"])
    assert (result.created, result.failed) == (CORPUS_FILES, 0)
    assert snapshot() == before


def test_changed_columns_rewrite_only_their_keys(tmp_path):
    import_paths([SAMPLE_POST])
    post = Post.objects.get()
    post.title = "Microservices, explained"
    post.save()
    post.categories.add(Category.objects.create(name="Cloud Native", slug="cloud-native"))
    post.tags.add("api")
    export_posts(tmp_path)
    text = (tmp_path / "_posts" / SAMPLE_POST.name).read_text(encoding="utf-8")
    original = SAMPLE_POST.read_text(encoding="utf-8")
    assert (
        text.replace(
            "title: 'Microservices, explained'\n",
            "title: 'Mengenal Microservices: Pengertian, Contoh, dan Kelebihannya'\n",
        )
        .replace("    - TutorialBlogger\n    - 'Cloud Native'\n", "    - TutorialBlogger\n")
        .replace("tags:\n    - api\n", "")
        == original
    )
    assert text.index("categories:") < text.index("tags:")


def test_changed_date_keeps_the_files_offset_and_form(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "2011-01-28-a.md").write_text("---\ndate: '2011-01-28 10:50:27 +0100'\npermalink: /a/\n---\n")
    import_paths([tmp_path / "in"])
    Post.objects.update(date=datetime(2012, 2, 2, 23, 30, tzinfo=UTC))
    export_posts(tmp_path / "out")
    exported = tmp_path / "out" / "_posts" / "2012-02-03-a.md"  # the day in the file's own zone
    assert exported.read_text() == "---\ndate: '2012-02-03 00:30:00 +0100'\npermalink: /a/\n---\n"


def test_status_change_writes_the_published_key(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "2020-01-01-a.md").write_text("---\ntitle: A\npublished: false\n---\nx\n")
    import_paths([tmp_path / "in"])
    Post.objects.update(status=Post.Status.PUBLISHED)
    export_posts(tmp_path / "out")
    assert (tmp_path / "out" / "_posts" / "2020-01-01-a.md").read_text() == "---\ntitle: A\npublished: true\n---\nx\n"


def test_admin_post_gets_a_clean_front_matter_in_the_exporters_order(make_post, tmp_path):
    post = make_post(
        title="Written in the admin",
        slug="written",
        date=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        permalink="/2024/05/06/written/",
        excerpt="Short",
        body="Hello *there*.\n",
        categories=[Category.objects.create(name="News", slug="news")],
        tags=["django"],
    )
    export_posts(tmp_path)
    text = (tmp_path / "_posts" / "2024-05-06-written.md").read_text()
    assert text == (
        "---\ntitle: 'Written in the admin'\ndate: '2024-05-06T07:08:09+00:00'\nauthor: admin\nexcerpt: Short\n"
        "layout: post\npermalink: /2024/05/06/written/\ncategories:\n    - News\ntags:\n    - django\n"
        "---\nHello *there*.\n"
    )
    before = snapshot()
    empty_database()
    import_paths([tmp_path])
    after = snapshot()
    assert after["posts"]["/2024/05/06/written/"] == before["posts"]["/2024/05/06/written/"] | {"author": "admin"}
    assert post.permalink in after["posts"]


def test_drafts_only_when_asked_and_since(make_post, tmp_path):
    make_post(slug="old", date=datetime(2019, 1, 1, tzinfo=UTC))
    make_post(slug="new", date=datetime(2023, 1, 1, tzinfo=UTC))
    make_post(slug="wip", status=Post.Status.DRAFT, date=datetime(2023, 2, 2, tzinfo=UTC))
    assert export_posts(tmp_path / "a").total == 2
    assert sorted(path.name for path in (tmp_path / "a").rglob("*.md")) == ["2019-01-01-old.md", "2023-01-01-new.md"]
    assert export_posts(tmp_path / "b", drafts=True, since=date(2022, 12, 31)).total == 2
    assert sorted(str(path.relative_to(tmp_path / "b")) for path in (tmp_path / "b").rglob("*.md")) == [
        "_drafts/wip.md",
        "_posts/2023-01-01-new.md",
    ]


def test_second_export_rewrites_nothing_and_leaves_no_temporary_files(tmp_path):
    import_paths([SAMPLE_POST])
    out = tmp_path / "out"
    export_posts(out)
    written = out / "_posts" / SAMPLE_POST.name
    mtime = written.stat().st_mtime_ns
    result = export_posts(out)
    assert (result.written, result.unchanged) == (0, 1)
    assert written.stat().st_mtime_ns == mtime
    assert sorted(path.name for path in out.rglob("*")) == [SAMPLE_POST.name, "_posts"]


def test_dry_run_writes_no_file(tmp_path):
    import_paths([SAMPLE_POST])
    assert export_posts(tmp_path / "out", dry_run=True).written == 1
    assert not (tmp_path / "out").exists()


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)
_scalar = st.one_of(_text, st.integers(-1000, 1000), st.booleans(), st.none())
_value = st.recursive(
    _scalar,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_text, children, max_size=3),
    max_leaves=6,
)
_extra_key = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda key: (
        key not in frontmatter.EXPORTER_KEY_ORDER
        and key
        not in {"status", "published", "categories", "tags", "slug", "modified_time", "wordpress_id", "blogger_id"}
        and not key.startswith("blogger_")
        and key != "type"
    )
)
_names = st.lists(st.from_regex(r"[A-Za-z][A-Za-z0-9 ]{0,10}[a-z]", fullmatch=True), max_size=4, unique_by=str.lower)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    title=_text.filter(lambda title: title.strip() == title),
    extra=st.dictionaries(_extra_key, _value, max_size=5),
    categories=_names,
    tags=_names,
    body=st.text(st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\n\r\t"), max_size=80),
)
def test_generated_front_matter_survives_import_export_import(tmp_path_factory, title, extra, categories, tags, body):
    folder = tmp_path_factory.mktemp("generated")
    empty_database()
    front_matter = {"id": 5, "title": title, "date": "2021-03-04T05:06:07+02:00", **extra}
    front_matter |= {"categories": categories, "tags": tags}
    text = "---\n" + "".join(frontmatter.dump_key(key, value) for key, value in front_matter.items()) + "---\n" + body
    (folder / "in").mkdir()
    (folder / "in" / "2021-03-04-generated.md").write_text(text, encoding="utf-8", newline="")
    assert import_paths([folder / "in"]).failures == []
    post = Post.objects.get()
    assert post.title == title or "&" in title  # entities are decoded for display
    assert post.front_matter == extra
    before = snapshot()
    export_posts(folder / "out")
    exported = folder / "out" / "_posts" / "2021-03-04-generated.md"
    assert exported.read_bytes() == text.encode()
    empty_database()
    import_paths([folder / "out"])
    assert snapshot() == before


def test_flow_style_front_matter_exports_its_values_in_order(tmp_path):
    (tmp_path / "in").mkdir()
    flow = "---\n{id: 3, title: Flow, extra: {x: 1}, tags: [a, b]}\n---\nbody\n"
    (tmp_path / "in" / "2020-01-01-f.md").write_text(flow)
    import_paths([tmp_path / "in"])
    Post.objects.update(title="Flowing")
    export_posts(tmp_path / "out")
    exported = (tmp_path / "out" / "_posts" / "2020-01-01-f.md").read_text()
    assert exported == "---\nid: 3\ntitle: Flowing\nextra:\n    x: 1\ntags:\n    - a\n    - b\n---\nbody\n"
