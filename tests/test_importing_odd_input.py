"""Hostile and odd files: one line each, the rest of the run and of its batch written (issue 17)."""

import codecs
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from blog.importing import BATCH_SIZE, PARALLEL_RENDER_MIN_FILES, import_paths
from blog.models import Post

pytestmark = pytest.mark.django_db


def post_text(n: int, *, head: str = "", body: str = "Body.\n") -> str:
    return f"---\ntitle: 'Post {n}'\ndate: '2020-01-01T10:00:00+00:00'\npermalink: /posts/{n}/\n{head}---\n{body}"


def failures(result) -> dict[str, str]:
    return {label.rsplit("/", 1)[-1]: reason for label, reason in result.failures}


def test_bad_files_in_a_batch_fail_alone_and_every_good_file_of_the_batch_is_written(tmp_path):
    # Enough good files that the batch is rendered by the worker processes too.
    good = PARALLEL_RENDER_MIN_FILES + 6
    assert good < BATCH_SIZE
    for n in range(good):
        (tmp_path / f"good-{n:03}.md").write_text(post_text(n), encoding="utf-8")
    bad = {
        "id-too-large.md": post_text(900, head="id: 99999999999999999999999\n"),
        "nul-permalink.md": '---\ntitle: X\ndate: 2020-01-01\npermalink: "/x\\0y/"\n---\nBody\n',
        "nul-title.md": '---\ntitle: "a\\0b"\ndate: 2020-01-01\n---\nBody\n',
        "nul-byte.md": post_text(901) + "tail \x00 of the body\n",
    }
    for name, text in bad.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    # Odd but fine: an id in other digits is no id (kept as a key); the renderer's own marker
    # characters in a body are just characters.
    (tmp_path / "id-superscript.md").write_text(post_text(902, head="id: '²'\n"), encoding="utf-8")
    marker_body = "\ue003" + "0\ue003 and \ue0039\ue003\n\n{% raw %}{{ liquid }}{% endraw %}\n"
    (tmp_path / "markers.md").write_text(post_text(903, body=marker_body), encoding="utf-8")

    result = import_paths([tmp_path])

    assert failures(result) == {
        "id-too-large.md": "id 99999999999999999999999 is out of range (0 to 9223372036854775807)",
        "nul-permalink.md": "permalink: '/x\\x00y/' has a NUL character",
        "nul-title.md": "title: 'a\\x00b' has a NUL character",
        "nul-byte.md": f"is a binary file, not text (a NUL byte at byte {len(post_text(901)) + len('tail ')})",
    }
    assert (result.created, result.failed, result.tracebacks) == (good + 2, 4, [])
    assert Post.objects.filter(permalink__startswith="/posts/").count() == good + 2
    odd = Post.objects.get(permalink="/posts/902/")
    assert (odd.source_id, odd.front_matter["id"]) == (None, "²")
    marked = Post.objects.get(permalink="/posts/903/")
    assert "\ufffd0\ufffd and \ufffd9\ufffd" in marked.body_html
    assert "{{ liquid }}" in marked.body_html


def test_the_command_names_each_bad_file_and_exits_non_zero(tmp_path):
    (tmp_path / "good.md").write_text(post_text(1), encoding="utf-8")
    (tmp_path / "huge-id.md").write_text(post_text(2, head="id: 99999999999999999999999\n"), encoding="utf-8")
    stderr = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_posts", str(tmp_path), stdout=StringIO(), stderr=stderr)
    assert raised.value.returncode == 1
    lines = stderr.getvalue().splitlines()
    reason = "id 99999999999999999999999 is out of range (0 to 9223372036854775807)"
    assert lines == [f"{tmp_path / 'huge-id.md'}: {reason}"]
    assert Post.objects.get().permalink == "/posts/1/"


@pytest.mark.parametrize(
    ("permalink", "reason"),
    [
        ("'/\\evil.example/x'", "must not contain a backslash"),
        ("'/a\\b/'", "must not contain a backslash"),
        ("/a//evil.example/", "must not contain '//'"),
        ('"/a\\tb/"', "must not contain control characters"),
        ('"/a\\u0085b/"', "must not contain control characters"),
        ('"/a\\u202eb/"', "must not contain control characters"),
        ("/a/../b/", "must not contain '.' or '..' segments"),
        ("/a%2Fb/", "must not contain '%2F'"),
        ("/%e5%B0%91/", "cannot be reached: write its percent-escapes all in upper or all in lower case"),
        ("/admin/", "one of the site's own pages (admin:index)"),
        ("/admin/blog/post/", "one of the site's own pages (admin:blog_post_changelist)"),
        ("/feed/", "one of the site's own pages (feed)"),
        ("/healthz", "one of the site's own pages (healthz)"),
        ("/sitemap.xml", "one of the site's own pages (sitemap)"),
        ("/robots.txt", "one of the site's own pages (robots)"),
        ("/category/news/", "one of the site's own pages (category)"),
        ("/page/2/", "one of the site's own pages (home-page)"),
        ("/2020/", "one of the site's own pages (year)"),
        ("/static/blog/site.css", "is under /static/, where the site serves its own files"),
        ("/media/x.png", "is under /media/, where the site serves its own files"),
    ],
)
def test_permalinks_that_leave_or_shadow_the_site_are_refused_with_one_line(tmp_path, permalink, reason):
    path = tmp_path / "post.md"
    path.write_text(f"---\ntitle: T\ndate: 2020-01-01\npermalink: {permalink}\n---\nBody\n", encoding="utf-8")
    result = import_paths([path])
    assert result.failed == 1 and not Post.objects.exists()
    [(_label, line)] = result.failures
    assert line.startswith("permalink: ") and reason in line and "\n" not in line


def test_permalinks_that_look_odd_but_work_are_kept(tmp_path):
    for n, permalink in enumerate(
        ["/index.php/2022/10/29/a/", "/2008/03/title.html", "/%e5%b0%91/", "/feed", "/blog/feed/x/", "/a.b/"]
    ):
        (tmp_path / f"{n}.md").write_text(
            f"---\ntitle: T{n}\ndate: 2020-01-01\npermalink: {permalink}\n---\nBody\n", encoding="utf-8"
        )
    result = import_paths([tmp_path])
    assert (result.created, result.failures) == (6, [])


def test_a_linked_file_outside_the_folder_is_not_read(tmp_path):
    secret = tmp_path / "secret.md"
    secret.write_text(post_text(1, body="the secret\n"), encoding="utf-8")
    folder = tmp_path / "export"
    (folder / "inside").mkdir(parents=True)
    (folder / "inside" / "real.md").write_text(post_text(2), encoding="utf-8")
    (folder / "outside.md").symlink_to(secret)
    (folder / "relative.md").symlink_to("../secret.md")
    (folder / "within.md").symlink_to(folder / "inside" / "real.md")
    (folder / "linked-folder").symlink_to(tmp_path, target_is_directory=True)

    result = import_paths([folder])

    reason = "is a symbolic link to a file outside the folder: not followed"
    assert failures(result) == {"outside.md": reason, "relative.md": reason}
    assert list(Post.objects.values_list("body", flat=True)) == ["Body.\n"]  # real.md (and its link inside)
    assert not Post.objects.filter(body__contains="secret").exists()


def test_cr_only_line_endings_are_read(tmp_path):
    text = "---\rtitle: 'Old Mac'\rdate: 2020-01-02\rtags: [a, b]\r---\rFirst line.\r\rSecond paragraph.\r"
    (tmp_path / "2020-01-02-old-mac.md").write_bytes(text.encode())
    result = import_paths([tmp_path])
    assert (result.created, result.failures, result.skipped) == (1, [], 0)
    post = Post.objects.get()
    assert (post.title, sorted(post.tags.names())) == ("Old Mac", ["a", "b"])
    assert post.body_html == "<p>First line.</p>\n<p>Second paragraph.</p>\n"


@pytest.mark.parametrize(("codec", "bom"), [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE)])
def test_utf16_files_with_a_byte_order_mark_are_imported(tmp_path, codec, bom):
    text = "---\r\ntitle: 'Ünïcode ☃'\r\ndate: 2020-01-02\r\n---\r\nWindows Notepad wrote this.\r\n"
    (tmp_path / "2020-01-02-notepad.md").write_bytes(bom + text.encode(codec))
    result = import_paths([tmp_path])
    assert (result.created, result.failures, result.skipped) == (1, [], 0)
    post = Post.objects.get()
    assert (post.title, post.permalink) == ("Ünïcode ☃", "/2020/01/02/notepad/")
    assert "Windows Notepad wrote this." in post.body_html


def test_utf16_without_a_byte_order_mark_is_named_not_skipped(tmp_path):
    (tmp_path / "no-bom.md").write_bytes(post_text(1).encode("utf-16-le"))
    (tmp_path / "README.md").write_text("# Not a post\n", encoding="utf-8")
    result = import_paths([tmp_path])
    assert failures(result) == {"no-bom.md": "is UTF-16 text without a byte-order mark: save it as UTF-8"}
    assert result.skipped == 1  # README.md: text without front matter is not a post


def test_a_body_the_render_workers_fail_on_costs_only_its_own_output():
    from concurrent.futures import Future

    from blog.importing import _ParallelRenderer
    from blog.rendering import render_post

    done, failed, also_done = Future(), Future(), Future()
    done.set_result(render_post("one"))
    failed.set_exception(IndexError("list index out of range"))
    also_done.set_result(render_post("three"))
    outputs = _ParallelRenderer().results([done, failed, also_done])
    assert [output.html if output else None for output in outputs] == ["<p>one</p>\n", None, "<p>three</p>\n"]
