"""The export format, parsed and written back without a database."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from blog import frontmatter
from blog.frontmatter import FrontMatterError, parse, read_post, serialise
from tests.conftest import CORPUS, FIXTURE_POSTS, SAMPLE_POST

JAKARTA = ZoneInfo("Asia/Jakarta")


def post(text: str, *, path: str = "_posts/2020-01-02-hello.md", tz=UTC):
    return read_post(parse(text.encode()), path=path, tz=tz)


def test_sample_post_writes_back_byte_for_byte():
    data = SAMPLE_POST.read_bytes()
    source = parse(data)
    assert list(source.front_matter)[:3] == ["id", "title", "date"]
    assert source.front_matter["date"] == "2022-10-29T02:45:00+00:00"
    assert source.body.startswith("\n<div>Apakah Anda pernah")
    assert serialise(source) == data


@pytest.mark.parametrize(
    "path", sorted([*CORPUS.glob("*.md"), *FIXTURE_POSTS.glob("*.md")]), ids=lambda path: path.name[:40]
)
def test_corpus_file_writes_back_byte_for_byte(path):
    data = path.read_bytes()
    assert serialise(parse(data)) == data


def test_crlf_and_bom_are_kept():
    data = "\ufeff---\r\ntitle: 'Héllo'\r\ntags:\r\n    - a\r\n---\r\nBody\r\nline\r\n".encode()
    source = parse(data)
    assert source.bom is True
    assert source.newline == "\r\n"
    assert source.front_matter == {"title": "Héllo", "tags": ["a"]}
    assert source.body == "Body\r\nline\r\n"
    assert serialise(source) == data
    source.front_matter["tags"] = ["a", "b"]
    expected = "\ufeff---\r\ntitle: 'Héllo'\r\ntags:\r\n    - a\r\n    - b\r\n---\r\nBody\r\nline\r\n"
    assert serialise(source) == expected.encode()


def test_only_the_changed_key_is_written_anew():
    data = SAMPLE_POST.read_bytes()
    source = parse(data)
    source.front_matter["title"] = "Microservices: a new title"
    text = serialise(source).decode()
    original = data.decode()
    assert "title: 'Microservices: a new title'\n" in text
    assert text.replace("title: 'Microservices: a new title'\n", "") == original.replace(
        "title: 'Mengenal Microservices: Pengertian, Contoh, dan Kelebihannya'\n", ""
    )


def test_new_keys_follow_the_exporters_style():
    source = parse(b"---\nid: 1\n---\nbody")
    source.front_matter.update({"author": "Vince Aggrippino", "count": "2048", "categories": ["Social Media", "Go"]})
    assert serialise(source).decode() == (
        "---\nid: 1\nauthor: 'Vince Aggrippino'\ncount: '2048'\ncategories:\n    - 'Social Media'\n    - Go\n---\nbody"
    )


def test_comments_and_blank_lines_survive():
    data = b"---\n# exported 2022\ntitle: x\n\n# the date\ndate: 2020-01-01\n---\n"
    source = parse(data)
    source.front_matter["title"] = "y"
    assert serialise(source) == b"---\n# exported 2022\ntitle: y\n\n# the date\ndate: 2020-01-01\n---\n"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"Just text, no front matter\n", "has no front matter"),
        (b"---\ntitle: x\nno closing line\n", "not closed"),
        (b"---\ntitle: [unclosed\n---\n", "not valid YAML"),
        (b"---\n- a\n- b\n---\n", "not a map of keys to values but a list"),
        (b"---\njust a string\n---\n", "not a map of keys to values but a string"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (b"---\ntitle: caf\xe9\n---\n", "not UTF-8"),
        (b"---\ntitle: a\ntitle: b\n---\n", "key more than once"),
        (b"---\nkey: !!binary aGVsbG8=\n---\n", "bytes value is not supported"),
    ],
)
def test_bad_files_raise_one_clear_reason(data, reason):
    with pytest.raises(FrontMatterError, match=reason):
        parse(data)


def test_yaml_error_names_the_line_of_the_file():
    with pytest.raises(FrontMatterError, match=r"line 3"):
        parse(b"---\ntitle: ok\nbad: [x\n---\n")


def test_numeric_title_stays_text_as_written():
    assert post("---\ntitle: 2048\n---\n").title == "2048"
    assert post("---\ntitle: 1.50\n---\n").title == "1.50"


def test_html_entities_and_doubled_quotes_in_titles_are_what_a_reader_sees():
    fields = post("---\ntitle: 'Tahan Sahaja&#8230; Just Endure'\nexcerpt: 'I''ve had to &amp; more'\n---\n")
    assert fields.title == "Tahan Sahaja… Just Endure"
    assert fields.excerpt == "I've had to &amp; more"  # excerpts are HTML, rendered later


def test_unicode_titles_are_kept():
    assert post("---\ntitle: '🚀 Launch ❤️ “quoted”'\n---\n").title == "🚀 Launch ❤️ “quoted”"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("'2022-10-29T02:45:00+00:00'", datetime(2022, 10, 29, 2, 45, tzinfo=UTC)),
        ("2014-02-27T14:14:46+08:00", datetime(2014, 2, 27, 6, 14, 46, tzinfo=UTC)),  # bare YAML timestamp
        ("'2011-01-28 10:50:27 +0100'", datetime(2011, 1, 28, 9, 50, 27, tzinfo=UTC)),  # jekyll-import
        ("2011-01-28 10:50:27 -05:00", datetime(2011, 1, 28, 15, 50, 27, tzinfo=UTC)),
        ("'2020-05-06T07:08:09Z'", datetime(2020, 5, 6, 7, 8, 9, tzinfo=UTC)),
        ("'2020-05-06T07:08:09.123456+02:00'", datetime(2020, 5, 6, 5, 8, 9, 123456, tzinfo=UTC)),
        ("2020-05-06T07:08:09.5Z", datetime(2020, 5, 6, 7, 8, 9, 500000, tzinfo=UTC)),
        ("'2020-05-06 07:08'", datetime(2020, 5, 6, 0, 8, tzinfo=UTC)),  # no zone: TIME_ZONE (Jakarta, +7)
        ("2020-05-06", datetime(2020, 5, 5, 17, 0, tzinfo=UTC)),  # date only: midnight in Jakarta
    ],
)
def test_dates_in_every_written_form(written, expected):
    assert post(f"---\ndate: {written}\n---\n", tz=JAKARTA).date == expected


@pytest.mark.parametrize("written", ["'2019-13-01'", "'2019-02-30 10:00'", "'yesterday'", "2019", "'2019-01-01 25:00'"])
def test_invalid_dates_name_the_field_and_value(written):
    with pytest.raises(FrontMatterError, match=r"^date .* is not a valid date$"):
        post(f"---\ndate: {written}\n---\n")


def test_missing_date_comes_from_the_file_name():
    fields = post("---\ntitle: x\n---\n", path="_posts/2019-03-04-from-name.md", tz=JAKARTA)
    assert fields.date == datetime(2019, 3, 4, tzinfo=JAKARTA)
    assert fields.permalink == "/2019/03/04/from-name/"
    with pytest.raises(FrontMatterError, match="has no date"):
        post("---\ntitle: x\n---\n", path="about.md")


def test_permalink_date_is_the_files_own_day_not_the_utc_day():
    # 01:30 in Jakarta on the 19th is still the 18th in UTC; the post stays on the 19th.
    fields = post("---\ndate: '2016-01-19T01:30:00+07:00'\n---\n", path="_posts/2016-01-19-early.md")
    assert fields.date.astimezone(UTC).day == 18
    assert fields.permalink == "/2016/01/19/early/"


def test_permalink_is_kept_verbatim():
    fields = post("---\npermalink: /2016/01/19/%e5%b0%91%e5%b9%b4/\n---\n", path="2016-01-19-e5b091e5b9b4.md")
    assert fields.permalink == "/2016/01/19/%e5%b0%91%e5%b9%b4/"
    assert fields.slug == "少年"  # the exporter's file name is the encoded slug without its '%' signs


@pytest.mark.parametrize(
    ("permalink", "path", "slug"),
    [
        # A copy of an export under another name: WordPress's slug is the permalink's.
        (
            "/void-linux-servizi/",
            "nazionlinux__nazionlinux.github.io__2021-01-13-void-linux-servizi.md",
            "void-linux-servizi",
        ),
        ("/2016/01/19/%E5%B0%91%E5%B9%B4/", "_posts/2016-01-19-renamed.md", "少年"),
        ("/index.php/2022/10/29/Hello-World", "_posts/2022-10-29-x.md", "hello-world"),
        ("/2010/05/hello-world.html", "_posts/2010-05-01-x.md", "hello-world"),
        ("/about/team/", "team-page.md", "team"),
        # No slug in the last segment (a post id, punctuation, too long): the file name's slug.
        ("/segue-o-escrutinio-neste-blogue/39/", "_posts/2008-03-09-segue-o-escrutinio.md", "segue-o-escrutinio"),
        ("/2020/01/02/%E2%80%A6/", "_posts/2020-01-02-ellipsis.md", "ellipsis"),
        ("/", "_posts/2020-01-02-root.md", "root"),
        (f"/{'x' * 256}/", "_posts/2020-01-02-long.md", "long"),
    ],
)
def test_slug_is_the_permalinks_last_segment_else_the_file_names(permalink, path, slug):
    fields = post(f"---\ndate: 2020-01-02\npermalink: {permalink}\n---\n", path=path)
    assert (fields.slug, fields.permalink) == (slug, permalink)


def test_a_slug_key_wins_over_the_permalink():
    assert post("---\nslug: own\npermalink: /2020/01/02/other/\n---\n").slug == "own"


def test_max_slug_is_the_posts_slug_column():
    from blog.models import Post

    assert Post._meta.get_field("slug").max_length == frontmatter.MAX_SLUG


def test_exporter_draft_permalink_is_not_used_but_kept():
    fields = post("---\npermalink: /?p=42\n---\n", path="_drafts/2020-01-02-wip.md")
    assert fields.permalink == "/2020/01/02/wip/"
    assert fields.status == frontmatter.DRAFT
    assert fields.keys["permalink"] == ["permalink"]


def test_permalink_that_is_no_site_path_is_refused():
    with pytest.raises(FrontMatterError, match=r"permalink 'http://x\.example/a' is not a site path"):
        post("---\npermalink: http://x.example/a\n---\n")


def test_pages_live_at_their_slug():
    fields = post("---\nlayout: page\ndate: 2020-01-01\n---\n", path="about-me.md")
    assert (fields.layout, fields.permalink) == ("page", "/about-me/")
    assert post("---\ntype: page\ndate: 2020-01-01\n---\n", path="x/contact.md").permalink == "/contact/"


@pytest.mark.parametrize(
    ("keys", "status"),
    [
        ("published: false", frontmatter.DRAFT),
        ("published: true", frontmatter.PUBLISHED),
        ("status: draft", frontmatter.DRAFT),
        ("status: private", frontmatter.DRAFT),
        ("status: publish", frontmatter.PUBLISHED),
        ("status: publish\npublished: false", frontmatter.DRAFT),
    ],
)
def test_published_and_status_keys(keys, status):
    assert post(f"---\n{keys}\n---\n").status == status


@pytest.mark.parametrize(
    ("written", "names"),
    [
        ("[Programming, WordPress]", ["Programming", "WordPress"]),
        ("'Programming, Social Media'", ["Programming", "Social Media"]),
        ("python django", ["python", "django"]),
        ("\n    - 'Sin categoría'\n    - 2048", ["Sin categoría", "2048"]),
        ("[]", []),
        ("", []),
    ],
)
def test_categories_and_tags_as_list_or_string(written, names):
    fields = post(f"---\ncategories: {written}\ntags: {written}\n---\n")
    assert fields.categories == names
    assert fields.tags == names


def test_author_as_string_or_map():
    assert post("---\nauthor: 'Vince Aggrippino'\n---\n").author == frontmatter.AuthorFields(
        name="Vince Aggrippino", slug="vince-aggrippino"
    )
    fields = post("---\nauthor:\n  login: jdoe\n  email: j@example.com\n  display_name: Jane Doe\n---\n")
    assert fields.author == frontmatter.AuthorFields(
        name="jdoe", slug="jdoe", display_name="Jane Doe", email="j@example.com"
    )


def test_keys_without_a_column_are_kept_in_order_with_their_shape():
    text = (
        "---\nid: 7\ntitle: x\nviews:\n    - '27851'\nmeta:\n  _edit_last: '1'\n  nested: {a: [1, 2]}\n"
        "date_gmt: '2011-01-28 09:50:27 +0000'\ncategories: [a]\ntaxonomies:\n  tags: [Eclipse]\n---\n"
    )
    fields = post(text)
    assert list(fields.front_matter) == ["views", "meta", "date_gmt", "taxonomies"]
    assert fields.front_matter["meta"] == {"_edit_last": "1", "nested": {"a": [1, 2]}}
    assert fields.front_matter["views"] == ["27851"]
    assert fields.tags == ["Eclipse"]  # from the Hugo taxonomies map, as there is no tags key
    assert fields.source_id == 7


def test_jekyll_import_keys():
    fields = post(
        "---\nlayout: post\ntitle: Old\nwordpress_id: 12\nblogger_id: tag:blogger.com,1999:blog-1.post-2\n"
        "blogger_orig_url: https://x.blogspot.com/2008/03/old.html\nmodified_time: '2008-03-10T10:00:00.001+01:00'\n"
        "thumbnail: https://x/y.jpg\ndate: '2008-03-09 10:00:00 +0100'\n---\n",
        path="2008-03-09-old.html",
    )
    assert fields.source_id == 12
    assert fields.guid == "tag:blogger.com,1999:blog-1.post-2"
    assert fields.permalink == "/2008/03/old.html"
    assert fields.modified == datetime(2008, 3, 10, 9, 0, 0, 1000, tzinfo=UTC)
    assert list(fields.front_matter) == ["blogger_orig_url", "thumbnail"]


# --- Generated front matter ----------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
_scalar = st.one_of(_text, st.integers(-(10**9), 10**9), st.booleans(), st.none())
_value = st.recursive(
    _scalar,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=10,
)
_key = st.from_regex(r"[A-Za-z_][A-Za-z0-9_ -]{0,20}", fullmatch=True).filter(lambda key: key.strip() == key)
_front_matter = st.dictionaries(_key, _value, min_size=1, max_size=8)


def _file(front_matter: dict, body: str) -> bytes:
    text = "---\n" + "".join(frontmatter.dump_key(key, value) for key, value in front_matter.items()) + "---\n"
    return (text + body).encode()


@settings(max_examples=150, deadline=None)
@given(_front_matter, _text, st.data())
def test_generated_front_matter_round_trips(front_matter, body, data):
    encoded = _file(front_matter, body)
    source = parse(encoded)
    assert source.front_matter == front_matter
    assert list(source.front_matter) == list(front_matter)
    assert source.body == body
    assert serialise(source) == encoded

    key = data.draw(st.sampled_from(list(front_matter)))
    source.front_matter[key] = data.draw(_value)
    changed = parse(serialise(source))
    assert changed.front_matter == source.front_matter
    assert [changed.raw[other] for other in front_matter if other != key] == [
        parse(encoded).raw[other] for other in front_matter if other != key
    ]


def test_the_loader_is_safe():
    with pytest.raises(FrontMatterError):
        parse(b"---\nx: !!python/object/apply:os.system ['true']\n---\n")
    assert frontmatter._BaseLoader is yaml.CSafeLoader


def test_format_date_keeps_the_written_form():
    moment = datetime(2011, 1, 28, 10, 50, 27, tzinfo=timezone(timedelta(hours=1)))
    assert frontmatter.format_date(moment, like="2011-01-01 00:00:00 +0100") == "2011-01-28 10:50:27 +0100"
    assert frontmatter.format_date(moment, like="2011-01-01T00:00:00+01:00") == "2011-01-28T10:50:27+01:00"


def test_flow_style_front_matter_is_written_back_in_block_style():
    source = parse(b"---\n{id: 3, title: Flow, tags: [a, b]}\n---\nbody\n")
    assert source.front_matter == {"id": 3, "title": "Flow", "tags": ["a", "b"]}
    assert serialise(source) == b"---\nid: 3\ntitle: Flow\ntags:\n    - a\n    - b\n---\nbody\n"


def test_fast_key_writer_gives_exactly_what_the_yaml_dumper_gives():
    """dump_key's fast path (the common shapes) must write what PyYAML's dumper writes, character for character."""
    import random

    import yaml

    from blog import frontmatter as fm

    def dumped(key, value, indent):
        return yaml.dump(
            {key: value},
            Dumper=fm._Dumper,
            allow_unicode=True,
            default_flow_style=False,
            sort_keys=False,
            indent=indent,
            width=float("inf"),
        )

    rng = random.Random(14)
    letters = [*"abcXYZ019 -_:'\"#&*?!%@`,[]{}|<>=.~/\\\t\n", "é", "你", "🦊", "\u2028", "\x85", "\ufeff", "\xa0"]
    words = [
        *("true", "false", "yes", "no", "on", "off", "null", "~", "123", "1.5", "0x1f", "1e3", "2020-01-01"),
        *(".inf", "-1", "+1", "...x", "---x", "=", "<<", "0o17", "1_000", "y", "Y", "NULL", "", " x", "x "),
        *("a: b", "- a", "#x", "x #y", "'q'", '"d"', "C++", "Hiking in the Alps", "https://x.org/?p=1", "/a/b/"),
    ]
    keys = ["key", "my key", "123", "true", "é", "a:b", "x-y", "_k", "", "- k"]
    checked = 0
    for number in range(4000):
        text = rng.choice(words) if rng.random() < 0.3 else "".join(rng.choices(letters, k=rng.randint(0, 8)))
        value = rng.choice(
            [
                text,
                number,
                rng.random() < 0.5,
                [text, rng.choice(words)],
                {"login": text, "display_name": rng.choice(words)},
                [{"id": number, "author": text, "content": rng.choice(words)}],
            ]
        )
        key = rng.choice(keys)
        for indent in (2, 4):
            fast = fm._fast_dump_key(key, value, indent)
            if fast is not None:
                checked += 1
                assert fast == dumped(key, value, indent), (key, value, indent)
            assert fm.dump_key(key, value, indent=indent) == dumped(key, value, indent)
    assert checked > 4000  # the fast path is the common one
