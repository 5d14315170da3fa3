"""Reading WordPress (WXR) and Blogger exports into plain sources, without a database."""

import functools
import io
from pathlib import Path

import pytest

from blog import xml_exports
from blog.frontmatter import serialise_text

FIXTURES = Path(__file__).parent / "fixtures"
WXR = FIXTURES / "wxr"
BLOGGER = FIXTURES / "blogger"


def read(path: Path):
    export = xml_exports.open_export(functools.partial(path.open, "rb"), label=path.name)
    export.scan()
    return export, {item.path: item for item in export.items()}


def from_bytes(data: bytes):
    export = xml_exports.open_export(lambda: io.BytesIO(data), label="export.xml")
    export.scan()
    return export, list(export.items())


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (WXR / "wxr-1.0.xml", xml_exports.WXR),
        (WXR / "wxr-1.1.xml", xml_exports.WXR),
        (WXR / "wordpress-6.xml", xml_exports.WXR),
        (WXR / "wordpress-com.xml", xml_exports.WXR),
        (BLOGGER / "classic.xml", xml_exports.BLOGGER),
        (BLOGGER / "blogger-2018.xml", xml_exports.BLOGGER),
    ],
)
def test_sniff_tells_each_export_by_its_content(path, kind):
    assert xml_exports.sniff(path.read_bytes()[: xml_exports.SNIFF_BYTES]) == kind


def test_sniff_refuses_other_xml():
    assert xml_exports.sniff(b'<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>') is None
    assert xml_exports.sniff(b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>') is None


def test_wxr_post_has_the_exporters_keys_in_its_order():
    _export, items = read(WXR / "wordpress-6.xml")
    post = items["_posts/2024-07-14-crossing-the-gemmi-pass.md"].source
    assert list(post.front_matter) == [
        "id",
        "title",
        "date",
        "author",
        "excerpt",
        "layout",
        "guid",
        "permalink",
        "format",
        "sticky",
        "distance_km",
        "companion",
        "custom_fields",
        "image",
        "categories",
        "tags",
        "comments",
    ]
    fm = post.front_matter
    assert fm["id"] == 101
    # 10:30 local with 08:30 GMT: the site was two hours ahead that day.
    assert fm["date"] == "2024-07-14T10:30:00+02:00"
    assert fm["author"] == {"login": "ada", "display_name": "Ada Lovelace", "email": "ada@fieldnotes.example"}
    assert fm["permalink"] == "/2024/07/14/crossing-the-gemmi-pass/"
    assert fm["format"] == "gallery" and fm["sticky"] is True
    # The featured image comes after the post in the file; the scan found it first.
    assert fm["image"] == "https://fieldnotes.example/wp-content/uploads/2024/07/gemmi.jpg"
    assert fm["categories"] == ["Hiking in the Alps", "C++"]
    assert fm["tags"] == ["Gear", "Switzerland"]
    assert post.body.startswith("<!-- wp:paragraph -->\n<p>We left Kandersteg at dawn.</p>")


def test_wxr_custom_fields_keep_every_value_and_never_shadow_a_field():
    _export, items = read(WXR / "wordpress-6.xml")
    fm = items["_posts/2024-07-14-crossing-the-gemmi-pass.md"].source.front_matter
    assert fm["distance_km"] == "17"  # a string, as WordPress stored it
    # A key with several values is a list, as the exporter writes it.
    assert fm["companion"] == ["Mary", "Charles"]
    # A key named like a field goes under custom_fields: it cannot change the post's title.
    assert fm["custom_fields"] == {"title": "An SEO title"}
    assert fm["title"] == "Crossing the Gemmi Pass"
    assert "_edit_last" not in fm and "_thumbnail_id" not in fm
    text = serialise_text(items["_posts/2024-07-14-crossing-the-gemmi-pass.md"].source)
    assert "distance_km: '17'\n" in text  # quoted, so it reads back as the same string


def test_wxr_comments_keep_threading_type_and_approval():
    _export, items = read(WXR / "wordpress-6.xml")
    comments = items["_posts/2024-07-14-crossing-the-gemmi-pass.md"].source.front_matter["comments"]
    assert [comment["id"] for comment in comments] == [7, 8, 9]
    assert comments[0] == {
        "id": 7,
        "author": "Mary",
        "author_email": "mary@example.org",
        "author_url": "https://mary.example.org/",
        "date": "2024-07-14T12:00:00+02:00",
        "content": "What a view!",
    }
    assert comments[1]["parent"] == 7
    assert comments[2]["type"] == "pingback" and comments[2]["status"] == "pending"
    assert all("192.0.2" not in str(comment) for comment in comments)  # IP addresses are not kept


def test_wxr_statuses_pages_and_paths():
    export, items = read(WXR / "wordpress-6.xml")
    assert set(items) == {
        "_posts/2024-07-14-crossing-the-gemmi-pass.md",
        "about.md",
        "team.md",
        "_drafts/half-written.md",
        "_posts/2024-05-01-members-only.md",
        "_drafts/diary.md",
        "_posts/2031-06-01-next-summer.md",
        "_drafts/old-route.md",
    }
    team = items["team.md"].source.front_matter
    assert (team["layout"], team["permalink"], team["parent"], team["menu_order"]) == ("page", "/about/team/", 2, 3)
    draft = items["_drafts/half-written.md"].source.front_matter
    # A draft's GMT date is 0000-00-00: its date is local time without an offset, not an error.
    assert draft["date"] == "2024-08-01T09:00:00"
    assert draft["status"] == "draft" and draft["permalink"] == "/?p=130"
    assert items["_posts/2024-05-01-members-only.md"].source.front_matter["post_password"] == "hunter2"
    assert items["_drafts/old-route.md"].source.front_matter["status"] == "trash"
    assert export.contents.counts == {"posts": 6, "pages": 2, "comments": 3, "attachments": 1, "menu items": 4}
    assert export.contents.skipped == {"revision": 1, "wp_template": 1, "wp_global_styles": 1}


def test_wxr_terms_attachments_and_menus():
    export, _items = read(WXR / "wordpress-6.xml")
    categories = {term.slug: term for term in export.contents.terms if term.taxonomy == "category"}
    assert categories["alps-hiking"].parent == "travel"
    assert categories["travel"].description == "Trips and routes"
    assert categories["c-plus-plus"].name == "C++"
    attachment = export.contents.attachments[120]
    assert attachment.url.endswith("/2024/07/gemmi.jpg") and attachment.parent == 101
    menu = {item.source_id: item for item in export.contents.menu_items}
    assert menu[202].parent == 201 and menu[202].object_id == 3 and menu[202].title == "The team"
    assert menu[204].url == "https://social.example/@ada"


def test_wxr_1_0_reads_tags_of_the_tag_domain_and_the_duplicate_category_once():
    _export, items = read(WXR / "wxr-1.0.xml")
    fm = items["_posts/2009-09-30-hello-world.md"].source.front_matter
    assert fm["categories"] == ["Uncategorized"]
    assert fm["tags"] == ["retro"]
    assert fm["author"] == "admin"
    assert fm["comments"][0]["author"] == "Mr WordPress"


def test_wxr_1_1_excerpt_and_negative_offset():
    _export, items = read(WXR / "wxr-1.1.xml")
    fm = items["_posts/2012-09-15-river-raid.md"].source.front_matter
    assert fm["excerpt"] == "On the Atari 2600 classic."
    assert fm["date"] == "2012-09-15T09:00:00-05:00"
    assert fm["rating"] == "5"


def test_wordpress_com_https_namespace_undeclared_atom_prefix_cdata_split_and_crlf():
    _export, items = read(WXR / "wordpress-com.xml")
    source = items["_posts/2021-03-04-cdata-end.md"].source
    # XML turns CRLF into LF; the split CDATA section puts the "]]>" back together.
    assert source.body == "First line\nsecond line\n\n<pre>if (a[b[0]]> 1) {}</pre>"
    assert source.front_matter["excerpt"] == "Ends with ]]>"
    assert source.front_matter["author"]["display_name"] == "Dot Com User"


def test_non_latin_scripts_and_emoji_outside_the_bmp():
    export, items = read(WXR / "scripts.xml")
    chinese = items["_posts/2023-02-01-你好.md"].source
    assert chinese.front_matter["title"] == "你好\uff0c世界"  # a full-width comma
    assert chinese.front_matter["permalink"] == "/2023/02/01/%e4%bd%a0%e5%a5%bd/"
    assert chinese.front_matter["date"] == "2023-02-01T20:00:00+08:00"
    persian = items["_posts/2023-02-02-salam.md"].source
    assert persian.front_matter["title"] == "سلام دنیا" and persian.front_matter["tags"] == ["فارسی"]
    assert persian.front_matter["date"] == "2023-02-02T15:30:00+03:30"
    russian = items["_posts/2023-02-03-privet-mir.md"].source
    assert russian.front_matter["title"] == "Привет, мир 🦊 𝄞"
    assert "🐻‍❄️" in russian.body
    assert [term.name for term in export.contents.terms] == ["生活"]
    assert export.contents.terms[0].slug == "生活"  # the nicename, percent-decoded


def test_entities_are_never_expanded():
    _export, items = read(WXR / "entities.xml")
    source = items["_posts/2020-01-01-laughs.md"].source
    assert "lol" not in source.front_matter["title"]
    assert "root:" not in source.body
    assert source.body == "Secret:  end."


def test_a_truncated_file_is_one_clear_error():
    with pytest.raises(xml_exports.XmlExportError, match=r"^is not well-formed XML: .+ \(line 21\)$"):
        read(WXR / "broken.xml")


def test_a_stray_ampersand_is_an_error_with_its_line():
    data = (WXR / "wxr-1.1.xml").read_bytes().replace(b"River Raid, thirty", b"River Raid & thirty")
    with pytest.raises(xml_exports.XmlExportError, match=r"^is not well-formed XML: .*\(line 19\)$"):
        from_bytes(data)


def test_blogger_classic_posts_pages_drafts_labels_and_comments():
    export, items = read(BLOGGER / "classic.xml")
    assert set(items) == {"_posts/2014-03-09-my-first-sourdough.html", "_drafts/unfinished-rye.html", "about-me.html"}
    fm = items["_posts/2014-03-09-my-first-sourdough.html"].source.front_matter
    assert list(fm) == [
        "layout",
        "title",
        "date",
        "author",
        "tags",
        "modified_time",
        "thumbnail",
        "blogger_id",
        "blogger_orig_url",
        "author_uri",
        "comments",
    ]
    assert fm["tags"] == ["Baking", "Sourdough"]
    assert fm["blogger_orig_url"] == "http://kitchendiaries.blogspot.com/2014/03/my-first-sourdough.html"
    first, reply = fm["comments"]
    assert first["author"] == "Tom" and first["author_url"] == "http://tom.example/"
    assert reply["parent"] == "tag:blogger.com,1999:blog-1111.post-5555"
    assert items["_drafts/unfinished-rye.html"].source.front_matter["published"] is False
    assert items["about-me.html"].source.front_matter["layout"] == "page"
    assert export.contents.counts == {"posts": 2, "pages": 1, "comments": 2}
    assert export.contents.skipped == {"settings": 1, "template": 1}


def test_blogger_2018_statuses_filename_and_comments():
    export, items = read(BLOGGER / "blogger-2018.xml")
    fm = items["_posts/2019-05-02-lisbon-in-three-days.html"].source.front_matter
    assert fm["tags"] == ["Portugal", "City trips"]
    assert [comment["author"] for comment in fm["comments"]] == ["Ines", "Sam"]
    assert fm["comments"][1]["parent"] == "tag:blogger.com,1999:blog-7777.post-5678"
    assert items["_drafts/porto.html"].source.front_matter["published"] is False
    # Without the blog's address the old path is kept: it is what a redirect needs.
    assert items["_drafts/porto.html"].source.front_matter["blogger_orig_url"] == "/2019/06/porto.html"
    assert items["_drafts/deleted-trip.html"].source.front_matter["status"] == "trash"
    assert items["contact.html"].source.front_matter["blogger_orig_url"] == "/p/contact.html"
    assert export.contents.counts == {"posts": 3, "pages": 1, "comments": 2}


def test_no_dtd_or_external_entity_is_ever_fetched(httpserver):
    httpserver.expect_request("/evil.dtd").respond_with_data('<!ENTITY leak "LEAKED">')
    httpserver.expect_request("/secret.txt").respond_with_data("SECRET")
    text = (WXR / "wxr-1.1.xml").read_text()
    head, rest = text.split("<rss", 1)
    doctype = (
        f'<!DOCTYPE rss SYSTEM "{httpserver.url_for("/evil.dtd")}" '
        f'[<!ENTITY remote SYSTEM "{httpserver.url_for("/secret.txt")}">]>\n'
    )
    data = (head + doctype + "<rss" + rest).replace("Fuel, bridges", "&remote; &leak; Fuel, bridges").encode()
    data = data.replace(b"<![CDATA[&remote; &leak; Fuel", b"&remote; &leak; <![CDATA[Fuel")
    _export, items = from_bytes(data)
    assert items[0].source.body == "  Fuel, bridges, helicopters."
    assert httpserver.log == []  # nothing was asked of the network


def test_the_blogs_own_address_is_its_base_blog_url():
    export, _items = read(WXR / "wordpress-com.xml")
    assert export.contents.site_url == "https://dotcom.example.wordpress.com"
    export, _items = read(WXR / "wxr-1.0.xml")  # WXR 1.0 has only base_site_url
    assert export.contents.site_url == "http://oldblog.example"


def test_the_static_front_page_does_not_take_the_home_page_address():
    data = (
        (WXR / "wordpress-6.xml")
        .read_bytes()
        .replace(b"<link>https://fieldnotes.example/about/</link>", b"<link>https://fieldnotes.example/</link>")
    )
    _export, items = from_bytes(data)
    about = next(item for item in items if item.path == "about.md").source.front_matter
    assert "permalink" not in about  # the importer gives it /about/


def test_a_byte_order_mark_and_a_declared_latin_1_encoding():
    text = (WXR / "wxr-1.1.xml").read_text().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    text = text.replace("Fuel, bridges, helicopters.", "Carburant, ponts, hélicoptères.")
    _export, items = from_bytes(text.encode("latin-1"))
    assert items[0].source.body == "Carburant, ponts, hélicoptères."
    _export, items = from_bytes(b"\xef\xbb\xbf" + (WXR / "wxr-1.1.xml").read_bytes())
    assert items[0].source.front_matter["title"] == "River Raid, thirty years on"
