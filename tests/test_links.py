"""Links inside posts that name the old site point at the current address of what they name."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from blog.links.hosts import host_of, known_hosts, normalize_host, post_hosts
from blog.models import OldHost, Post

pytestmark = pytest.mark.django_db


@pytest.fixture
def target(make_post):
    """A post imported from oldblog.example (WordPress id 42), once also on Blogger."""
    return make_post(
        source_id=42,
        title="Target",
        slug="target",
        date=datetime(2020, 1, 2, 10, 0, tzinfo=UTC),
        guid="http://oldblog.example/?p=42",
        permalink="/2020/01/02/target/",
        front_matter={"blogger_orig_url": "https://oldblog.blogspot.com/2020/01/target.html"},
    )


def hrefs(post: Post) -> list[str]:
    from blog.html_links import link_hrefs

    return link_hrefs(post.body_html)


def test_every_form_of_an_old_address_is_pointed_at_the_current_permalink(make_post, target):
    forms = [
        "http://oldblog.example/2020/01/02/target/",
        "https://www.oldblog.example/2020/01/02/target/",
        "https://OldBlog.example/index.php/2020/01/02/target/",
        "http://oldblog.example/?p=42",
        "http://oldblog.example/?page_id=42",
        "http://oldblog.example/index.php?p=42",
        "//oldblog.example/2020/01/02/target",
        "https://oldblog.blogspot.com/2020/01/target.html",
        "http://oldblog.blogspot.de/2020/01/target.html?m=1",
        "/?p=42",
        "/index.php/2020/01/02/target/",
    ]
    body = "\n\n".join(f"[link {n}]({url})" for n, url in enumerate(forms))
    post = make_post(body=body + "\n\n[with a fragment](http://oldblog.example/?p=42#comments)")

    assert hrefs(post) == ["/2020/01/02/target/"] * len(forms) + ["/2020/01/02/target/#comments"]
    assert post.body == body + "\n\n[with a fragment](http://oldblog.example/?p=42#comments)"  # stored as written
    assert post.internal_links["http://oldblog.example/?p=42"] == "/2020/01/02/target/"
    assert not [url for url, found in post.internal_links.items() if not found]


def test_links_to_what_was_not_imported_stay_as_written_and_are_listed(make_post, target):
    post = make_post(
        body="[gone](http://oldblog.example/2019/05/never-imported/) and [id](https://oldblog.example/?p=999) "
        "and [elsewhere](https://example.org/2020/01/02/target/) and [current](/2020/01/02/target/)"
    )

    assert hrefs(post) == [
        "http://oldblog.example/2019/05/never-imported/",
        "https://oldblog.example/?p=999",
        "https://example.org/2020/01/02/target/",
        "/2020/01/02/target/",
    ]
    assert post.internal_links == {
        "http://oldblog.example/2019/05/never-imported/": "",
        "https://oldblog.example/?p=999": "",
        "/2020/01/02/target/": "/2020/01/02/target/",
    }


def test_a_rewritten_link_answers_200_and_the_old_one_a_single_301_to_it(make_post, target):
    post = make_post(body="[t](http://oldblog.example/?p=42)")
    client = Client()
    page = client.get(post.permalink)
    assert 'href="/2020/01/02/target/"' in page.content.decode()
    old = client.get("/?p=42")
    assert (old.status_code, old.headers["Location"]) == (301, "/2020/01/02/target/")
    assert client.get("/2020/01/02/target/").status_code == 200


def test_links_follow_a_later_permalink_change(make_post, target):
    linking = make_post(body="[t](http://oldblog.example/?p=42) and [again](/2020/01/02/target/#top)")
    target.permalink = "/moved/target/"
    target.save()

    linking.refresh_from_db()
    assert hrefs(linking) == ["/moved/target/", "/moved/target/#top"]
    assert linking.body == "[t](http://oldblog.example/?p=42) and [again](/2020/01/02/target/#top)"


def test_links_to_an_unpublished_or_deleted_post_fall_back_to_what_the_body_says(make_post, target):
    linking = make_post(body="[t](http://oldblog.example/?p=42)")
    target.status = Post.Status.DRAFT
    target.save()
    linking.refresh_from_db()
    assert hrefs(linking) == ["http://oldblog.example/?p=42"]
    assert linking.internal_links == {"http://oldblog.example/?p=42": ""}

    target.status = Post.Status.PUBLISHED
    target.save()
    linking.refresh_from_db()
    assert hrefs(linking) == ["/2020/01/02/target/"]

    target.delete()
    linking.refresh_from_db()
    assert hrefs(linking) == ["http://oldblog.example/?p=42"]


def test_a_link_to_a_post_created_later_resolves_when_it_appears(make_post, target):
    linking = make_post(body="[later](http://oldblog.example/?p=77)")
    assert linking.internal_links == {"http://oldblog.example/?p=77": ""}

    make_post(source_id=77, slug="later", permalink="/later/")
    linking.refresh_from_db()
    assert hrefs(linking) == ["/later/"]
    assert linking.internal_links == {"http://oldblog.example/?p=77": "/later/"}


def test_old_hosts_come_from_guid_wordpress_url_blogger_and_wxr_fields():
    assert post_hosts(
        guid="https://www.aggrippino.com/?p=836",
        front_matter={"wordpress_url": "http://vince.example:8080/x", "base_site_url": "https://wxr.example"},
        blogger_blog=["webidevloper.blogspot.com"],
    ) == {"aggrippino.com": "", "vince.example": "", "wxr.example": "", "webidevloper.blogspot.com": ""}
    assert post_hosts(guid="3f2a-not-a-url", front_matter={}, blogger_blog=[]) == {}
    # The folder a blog lived in: from a guid that is the permalink under it, or WXR's base_blog_url.
    assert post_hosts(
        guid="http://localhost/wordpress/index.php/2022/10/29/slug/",
        permalink="/index.php/2022/10/29/slug/",
        front_matter={"base_blog_url": "https://wxr.example/blog/"},
    ) == {"localhost": "/wordpress", "wxr.example": "/blog"}
    assert post_hosts(guid="http://example.com/blog/?p=5", front_matter={}) == {"example.com": "/blog"}
    # A guid in another shape than the permalink says nothing of a folder.
    assert post_hosts(guid="http://old.example/index.php/2016/03/27/hello/", permalink="/hello/", front_matter={}) == {
        "old.example": ""
    }
    assert post_hosts(guid="http://example.com/?p=5", front_matter={}) == {"example.com": ""}
    assert normalize_host("WWW.Example.COM.") == "example.com"
    assert normalize_host("name.blogspot.co.uk") == "name.blogspot.com"
    assert host_of("mailto:x@example.com") == ""


def test_saving_a_post_records_its_hosts_and_the_setting_adds_more(make_post, settings):
    make_post(guid="http://www.oldblog.example/?p=1", front_matter={"wordpress_url": "https://other.example/"})
    assert set(OldHost.objects.values_list("host", flat=True)) == {"oldblog.example", "other.example"}
    settings.OLD_SITE_HOSTS = ["https://www.legacy.example/blog/", "old2.example"]
    assert known_hosts() == {"oldblog.example": "", "other.example": "", "legacy.example": "/blog", "old2.example": ""}

    make_post(slug="hello", permalink="/hello/")
    post = make_post(body="[a](http://legacy.example/blog/hello/) [b](https://old2.example/hello)")
    assert hrefs(post) == ["/hello/", "/hello/"]


def test_links_into_the_folder_the_old_blog_lived_in_are_rewritten(sample_post, make_post):
    """The sample's WordPress lived at http://localhost/wordpress/: its guid shows it."""
    post = make_post(
        body="[a](http://localhost/wordpress/index.php/2022/10/29/"
        "mengenal-microservices-pengertian-contoh-dan-kelebihannya/) "
        "[b](http://localhost/wordpress/?p=161) [c](http://localhost/wordpress/category/tutorialblogger/)"
    )
    assert OldHost.objects.get(host="localhost").path_prefix == "/wordpress"
    assert hrefs(post) == [sample_post.permalink, sample_post.permalink, "/category/tutorialblogger/"]


def test_images_and_own_media_are_not_internal_links(make_post, target):
    post = make_post(
        body="[![x](http://oldblog.example/wp-content/uploads/a.jpg)](/media/uploads/a.jpg) [m](mailto:a@b.c)"
    )
    assert post.internal_links == {}


def test_an_unknown_wordpress_id_resolves_to_nothing_as_the_home_page_answers_404(target):
    from blog.oldlinks import resolve_old_address

    assert resolve_old_address("/", "p=999") is None
    assert Client().get("/?p=999").status_code == 404
    assert resolve_old_address("/", "p=42") == "/2020/01/02/target/"
    assert resolve_old_address("/", "") == "/"


def test_an_import_resolves_links_to_posts_that_come_later_in_the_same_run(tmp_path, transactional_db):
    from blog.importing import import_paths

    (tmp_path / "2020-01-01-first.md").write_text(
        "---\nid: 1\ntitle: First\ndate: '2020-01-01T10:00:00+00:00'\nlayout: post\n"
        "guid: 'http://oldblog.example/?p=1'\npermalink: /2020/01/01/first/\n---\n\n"
        "See [the second](http://www.oldblog.example/2020/01/02/second/) and [by id](https://oldblog.example/?p=2).\n",
        encoding="utf-8",
    )
    (tmp_path / "2020-01-02-second.md").write_text(
        "---\nid: 2\ntitle: Second\ndate: '2020-01-02T10:00:00+00:00'\nlayout: post\n"
        "guid: 'http://oldblog.example/?p=2'\npermalink: /2020/01/02/second/\n---\n\nBack to [first](/?p=1).\n",
        encoding="utf-8",
    )
    result = import_paths([tmp_path])
    assert (result.created, result.failed) == (2, 0)

    first, second = Post.objects.get(source_id=1), Post.objects.get(source_id=2)
    assert hrefs(first) == ["/2020/01/02/second/", "/2020/01/02/second/"]
    assert hrefs(second) == ["/2020/01/01/first/"]
    assert "http://www.oldblog.example/2020/01/02/second/" in first.body  # the stored body is as written


def test_export_writes_the_body_as_imported(make_post, target, tmp_path):
    from blog.exporting import export_posts

    post = make_post(body="[t](http://oldblog.example/?p=42)")
    assert hrefs(post) == ["/2020/01/02/target/"]
    export_posts(tmp_path)
    written = [path.read_text(encoding="utf-8") for path in (tmp_path / "_posts").glob("*.md")]
    assert next(text for text in written if "[t](" in text).endswith("\n[t](http://oldblog.example/?p=42)")


def test_only_links_that_could_name_a_new_post_are_tried_again(make_post, target):
    from blog.links.relinking import post_tokens, url_tokens

    assert url_tokens("http://oldblog.example/blog/?p=77") == {"blog", "77"}
    assert url_tokens("https://x.blogspot.com/2020/01/later.html?m=1") == {"later"}
    later = make_post(
        source_id=77, slug="later", permalink="/2020/01/05/later/", guid="http://oldblog.example/blog/?p=77"
    )
    assert post_tokens(later) == {"later", "77"}
