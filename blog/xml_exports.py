"""Read WordPress (WXR) and Blogger export files into the plain sources the Markdown path uses.

Pure code, no Django models. Each post or page of an export becomes a `PostSource` whose
front matter is what the WordPress "to Jekyll" exporter (WordPress) or jekyll-import
(Blogger) would have written for it, in their key order, so the one importer upserts it
and `export_posts` writes the very same file back. Comments become a `comments:` list in
jekyll-import's shape. The file is read as a stream (lxml's iterparse, every element let go
once read) with entities, DTDs and network access off.
"""

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from lxml import etree

from blog.frontmatter import PostSource, make_slug

WXR = "wxr"
BLOGGER = "blogger"
# How far into a file its kind is looked for: the namespaces are declared on the root element.
SNIFF_BYTES = 64 * 1024

_WXR_NAMESPACE = re.compile(rb"""xmlns:wp\s*=\s*["'](https?://wordpress\.org/export/1\.[0-2]/)["']""")
_BLOGGER_MARKS = (
    b"schemas.google.com/blogger/2008/kind#",
    b"schemas.google.com/blogger/2018",
    b"tag:blogger.com,1999:",
)

CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
ATOM = "http://www.w3.org/2005/Atom"
APP = "http://purl.org/atom/app#"
THREAD = "http://purl.org/syndication/thread/1.0"
MEDIA = "http://search.yahoo.com/mrss/"
BLOGGER_2018 = "http://schemas.google.com/blogger/2018"
KIND_SCHEME = "http://schemas.google.com/g/2005#kind"
KIND_PREFIX = "http://schemas.google.com/blogger/2008/kind#"
LABEL_SCHEME = "http://www.blogger.com/atom/ns#"

# Post types that are content; anything else that is not skipped below imports under its own
# layout (custom post types), as the exporter writes them.
IMPORTED_TYPES = {"post", "page"}
# Full-site editing and other machinery of a WordPress install, and revisions: not content.
SKIPPED_TYPES = {
    "revision",
    "auto-draft",
    "wp_template",
    "wp_template_part",
    "wp_global_styles",
    "wp_navigation",
    "wp_block",
    "wp_font_family",
    "wp_font_face",
    "custom_css",
    "customize_changeset",
    "oembed_cache",
    "user_request",
    "wp_pattern_category",
}
# Front-matter keys the importer gives a meaning: a custom field of the same name goes under
# `custom_fields` instead, so it cannot change what the post is.
RESERVED_KEYS = {
    "id",
    "title",
    "date",
    "author",
    "excerpt",
    "layout",
    "guid",
    "permalink",
    "status",
    "published",
    "slug",
    "image",
    "categories",
    "tags",
    "comments",
    "format",
    "sticky",
    "menu_order",
    "parent",
    "post_password",
    "comment_status",
    "custom_fields",
    "type",
    "wordpress_id",
    "blogger_id",
    "blogger_orig_url",
    "modified_time",
    "taxonomies",
}
_ZERO_DATE = "0000-00-00 00:00:00"


class XmlExportError(ValueError):
    """An export file that cannot be read; the message names the place and the reason."""


@dataclass
class Term:
    """A category, tag or other term declared in an export: its slug, name and parent's slug."""

    taxonomy: str
    slug: str
    name: str
    parent: str = ""
    description: str = ""
    term_id: int | None = None


@dataclass
class AttachmentSource:
    """A media item of a WXR export: its WordPress id, file URL, title and the post it belongs to."""

    source_id: int
    url: str
    title: str = ""
    parent: int | None = None
    link: str = ""


@dataclass
class MenuItemSource:
    """One entry of a WordPress navigation menu (nav_menu_item), as plain data."""

    source_id: int
    menu: str
    title: str
    order: int
    parent: int | None
    kind: str  # post_type, taxonomy, custom
    object: str  # post, page, category, post_tag, custom
    object_id: int | None
    url: str


@dataclass
class ExportItem:
    """One post or page of an export: where to report it, its exporter-style file path, its source."""

    label: str
    path: str
    source: PostSource
    kind: str
    comments: int = 0


@dataclass
class ExportContents:
    """What an export holds besides its posts: terms, attachments, menus and what was skipped."""

    kind: str
    site_url: str = ""
    terms: list[Term] = field(default_factory=list)
    attachments: dict[int, AttachmentSource] = field(default_factory=dict)
    menu_items: list[MenuItemSource] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)


def sniff(head: bytes) -> str | None:
    """Return WXR or BLOGGER when the first bytes of a file are such an export, else None."""
    if b"<rss" in head and _WXR_NAMESPACE.search(head):
        return WXR
    if b"<feed" in head and any(mark in head for mark in _BLOGGER_MARKS):
        return BLOGGER
    return None


def _events(stream: IO[bytes], tags: tuple[str, ...]) -> Iterator[etree._Element]:
    """Yield each finished element named in `tags`, and fail on anything but an undeclared prefix.

    WordPress.com writes `atom:link` without declaring `atom:`; libxml2 reads past that in
    recover mode. Any other error (a truncated file, a stray `&`) ends the file with its line.
    """
    context = etree.iterparse(
        stream,
        events=("end",),
        tag=tags,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,  # libxml2 keeps its limits (10 MB per text node, nesting depth)
        recover=True,
        remove_comments=False,
    )
    seen_errors = 0
    try:
        for _event, element in context:
            log = context.error_log
            if len(log) > seen_errors:
                _check_errors(log, seen_errors)
                seen_errors = len(log)
            yield element
    except etree.XMLSyntaxError as exc:
        raise XmlExportError(f"is not well-formed XML: {_reason(exc.msg)} (line {exc.lineno})") from None
    _check_errors(context.error_log, seen_errors)
    if context.root is None:
        raise XmlExportError("is not well-formed XML: the file is empty")


def _check_errors(log, start: int) -> None:
    for entry in list(log)[start:]:
        if entry.domain_name == "NAMESPACE" or entry.level_name == "WARNING":
            continue
        raise XmlExportError(f"is not well-formed XML: {_reason(entry.message)} (line {entry.line})")


def _reason(message: str) -> str:
    return (message or "unknown error").strip().splitlines()[0].rstrip(".").split(", line ")[0]


def _release(element: etree._Element) -> None:
    """Let an element and the siblings read before it go: memory stays bounded by one item."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _text(element: etree._Element | None) -> str:
    if element is None:
        return ""
    if not len(element):
        return element.text or ""
    # An undeclared or unexpanded entity is a child node: keep the text around it.
    return (element.text or "") + "".join(child.tail or "" for child in element)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _int(text: str) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


# --- WordPress (WXR) ----------------------------------------------------------------------


def _wxr_namespace(head: bytes) -> str:
    match = _WXR_NAMESPACE.search(head)
    if not match:
        raise XmlExportError("is not a WordPress export (no wp: namespace)")
    return match.group(1).decode()


def _wordpress_date(local: str, gmt: str) -> str:
    """Return an item's date as the exporter wrote it: ISO 8601 with the site's offset of that day."""
    local, gmt = (local or "").strip(), (gmt or "").strip()
    if not local or local.startswith("0000"):
        return ""
    try:
        moment = datetime.strptime(local, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return ""
    if gmt and not gmt.startswith("0000"):
        try:
            offset = moment - datetime.strptime(gmt, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            offset = None
        # Offsets are whole quarter hours; a few seconds between the two columns are noise.
        if offset is not None and abs(offset) < timedelta(hours=15):
            minutes = round(offset.total_seconds() / 900) * 15
            return moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat()
    return moment.isoformat()


def _rss_date(text: str) -> str:
    try:
        return parsedate_to_datetime(text.strip()).isoformat() if text.strip() else ""
    except (TypeError, ValueError):
        return ""


def _url_path(url: str) -> str:
    """Return the path (and query) of a URL: a post's permalink on the old site."""
    parts = urlsplit(url.strip())
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


class _WxrReader:
    def __init__(self, namespace: str, contents: ExportContents, label: str):
        self.wp = namespace
        self.contents = contents
        # Attachments of the other files of a split export (WordPress.com writes several), read before.
        self.known_attachments: dict[int, AttachmentSource] = {}
        self.label = label
        self.authors: dict[str, dict[str, str]] = {}
        self.excerpt_tag = f"{{{namespace}excerpt/}}encoded"
        self.https_excerpt_tag = self.excerpt_tag.replace("http://", "https://", 1)

    def tags(self) -> tuple[str, ...]:
        wp = self.wp
        names = ("author", "category", "tag", "term", "base_site_url", "base_blog_url")
        return ("item", *(f"{{{wp}}}{name}" for name in names))

    def channel_element(self, element: etree._Element) -> None:
        wp = self.wp
        name = _local(element.tag)
        get = lambda local: _text(element.find(f"{{{wp}}}{local}")).strip()  # noqa: E731
        if name == "author":
            login = get("author_login")
            if login:
                self.authors[login] = {
                    "login": login,
                    "display_name": get("author_display_name"),
                    "email": get("author_email"),
                }
        elif name == "category":
            slug = unquote(get("category_nicename"))
            if slug:
                parent = unquote(get("category_parent"))
                name = get("cat_name") or slug
                term = Term("category", slug, name, parent, get("category_description"), _int(get("term_id")))
                self.contents.terms.append(term)
        elif name == "tag":
            slug = unquote(get("tag_slug"))
            if slug:
                name = get("tag_name") or slug
                self.contents.terms.append(
                    Term("post_tag", slug, name, "", get("tag_description"), _int(get("term_id")))
                )
        elif name == "term":
            slug = unquote(get("term_slug"))
            taxonomy = get("term_taxonomy")
            if slug and taxonomy:
                name, parent = get("term_name") or slug, unquote(get("term_parent"))
                term = Term(taxonomy, slug, name, parent, get("term_description"), _int(get("term_id")))
                self.contents.terms.append(term)
        elif name == "base_blog_url" or (name == "base_site_url" and not self.contents.site_url):
            # WordPress.com's base_site_url is wordpress.com itself; base_blog_url is the blog.
            self.contents.site_url = _text(element).strip()

    def item(self, element: etree._Element) -> ExportItem | None:
        wp = self.wp
        fields: dict[str, str] = {}
        categories: list[tuple[str, str, str]] = []
        meta: list[tuple[str, str]] = []
        comments: list[dict[str, Any]] = []
        for child in element:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            if tag == "category":
                categories.append((child.get("domain") or "category", child.get("nicename") or "", _text(child)))
            elif tag == f"{{{wp}}}postmeta":
                meta.append((_text(child.find(f"{{{wp}}}meta_key")), _text(child.find(f"{{{wp}}}meta_value"))))
            elif tag == f"{{{wp}}}comment":
                comments.append(self.comment(child))
            elif tag in (self.excerpt_tag, self.https_excerpt_tag) or (
                _local(tag) == "encoded" and tag.endswith("/excerpt/}encoded")
            ):
                fields["excerpt"] = _text(child)
            elif tag == f"{{{CONTENT}}}encoded":
                fields["content"] = _text(child)
            elif tag == f"{{{DC}}}creator":
                fields["creator"] = _text(child)
            elif tag.startswith(f"{{{wp}}}"):
                fields["wp:" + _local(tag)] = _text(child)
            elif "}" not in tag:
                fields[tag] = _text(child)
        post_type = fields.get("wp:post_type", "post").strip() or "post"
        source_id = _int(fields.get("wp:post_id", ""))
        if post_type == "attachment":
            self.attachment(source_id, fields, meta)
            return None
        if post_type == "nav_menu_item":
            self.menu_item(source_id, fields, meta, categories)
            return None
        if post_type in SKIPPED_TYPES or fields.get("wp:status") == "auto-draft":
            self.contents.skipped[post_type if post_type in SKIPPED_TYPES else "auto-draft"] += 1
            return None
        return self.post(source_id, post_type, fields, meta, categories, comments)

    def comment(self, element: etree._Element) -> dict[str, Any]:
        wp = self.wp
        get = lambda local: _text(element.find(f"{{{wp}}}comment_{local}"))  # noqa: E731
        comment: dict[str, Any] = {
            "id": _int(get("id")) or get("id").strip(),
            "author": get("author"),
            "author_email": get("author_email").strip(),
            "author_url": get("author_url").strip(),
            "date": _wordpress_date(get("date"), get("date_gmt")),
            "content": get("content"),
        }
        parent = _int(get("parent"))
        if parent:
            comment["parent"] = parent
        kind = get("type").strip()
        if kind and kind != "comment":
            comment["type"] = kind
        approved = get("approved").strip()
        if approved != "1":
            # comment_approved: '0' is held for moderation; 'spam' and 'trash' say what they are.
            comment["status"] = {"0": "pending", "": "pending"}.get(approved, approved)
        return comment

    def attachment(self, source_id: int | None, fields: dict[str, str], meta: list[tuple[str, str]]) -> None:
        self.contents.counts["attachments"] += 1
        url = fields.get("wp:attachment_url", "").strip() or fields.get("guid", "").strip()
        if source_id is not None and url:
            self.contents.attachments[source_id] = AttachmentSource(
                source_id=source_id,
                url=url,
                title=fields.get("title", ""),
                parent=_int(fields.get("wp:post_parent", "")) or None,
                link=_url_path(fields["link"]) if fields.get("link", "").strip() else "",
            )

    def menu_item(
        self,
        source_id: int | None,
        fields: dict[str, str],
        meta: list[tuple[str, str]],
        categories: list[tuple[str, str, str]],
    ) -> None:
        self.contents.counts["menu items"] += 1
        values = dict(meta)
        menu = next((unquote(slug) for domain, slug, _name in categories if domain == "nav_menu"), "")
        if source_id is None:
            return
        self.contents.menu_items.append(
            MenuItemSource(
                source_id=source_id,
                menu=menu,
                title=fields.get("title", ""),
                order=_int(fields.get("wp:menu_order", "")) or 0,
                parent=_int(values.get("_menu_item_menu_item_parent", "")) or None,
                kind=values.get("_menu_item_type", "custom"),
                object=values.get("_menu_item_object", "custom"),
                object_id=_int(values.get("_menu_item_object_id", "")),
                url=values.get("_menu_item_url", "").strip(),
            )
        )

    def post(
        self,
        source_id: int | None,
        post_type: str,
        fields: dict[str, str],
        meta: list[tuple[str, str]],
        categories: list[tuple[str, str, str]],
        comments: list[dict[str, Any]],
    ) -> ExportItem:
        status = fields.get("wp:status", "publish").strip() or "publish"
        title = fields.get("title", "")
        login = fields.get("creator", "").strip()
        # WordPress renames the slug of a trashed post so that a new post can take it.
        slug = unquote(fields.get("wp:post_name", "").strip()).removesuffix("__trashed")
        file_slug = make_slug(slug) or make_slug(title) or f"{post_type}-{source_id}"
        date = _wordpress_date(fields.get("wp:post_date", ""), fields.get("wp:post_date_gmt", "")) or _rss_date(
            fields.get("pubDate", "")
        )
        fm: dict[str, Any] = {}
        if source_id is not None:
            fm["id"] = source_id
        fm["title"] = title
        if date:
            fm["date"] = date
        author = self.authors.get(login)
        if author and (author["display_name"] not in ("", login) or author["email"]):
            fm["author"] = {key: value for key, value in author.items() if value}
        elif login:
            fm["author"] = login
        if fields.get("excerpt", "").strip():
            fm["excerpt"] = fields["excerpt"]
        fm["layout"] = post_type
        if fields.get("guid", "").strip():
            fm["guid"] = fields["guid"].strip()
        link_path = _url_path(fields["link"]) if fields.get("link", "").strip() else ""
        # The page shown as the static front page has the site's root as its link: the home
        # page is the site's own, so the page keeps an address of its own (/<slug>/).
        if link_path and link_path != "/":
            fm["permalink"] = link_path
        if status != "publish":
            fm["status"] = status
        if fields.get("wp:post_password", ""):
            fm["post_password"] = fields["wp:post_password"]
        post_format = next((slug for domain, slug, _name in categories if domain == "post_format"), "")
        if post_format:
            fm["format"] = post_format.removeprefix("post-format-")
        if fields.get("wp:is_sticky", "0").strip() not in ("", "0"):
            fm["sticky"] = True
        if _int(fields.get("wp:menu_order", "")):
            fm["menu_order"] = _int(fields["wp:menu_order"])
        if _int(fields.get("wp:post_parent", "")):
            fm["parent"] = _int(fields["wp:post_parent"])
        if fields.get("wp:comment_status", "open").strip() not in ("", "open"):
            fm["comment_status"] = fields["wp:comment_status"].strip()
        custom: dict[str, Any] = {}
        taken = RESERVED_KEYS | set(fm)
        for key, value in meta:
            if not key or key.startswith("_"):
                continue
            target = custom if key in taken else fm
            if key in target:
                previous = target[key]
                target[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                target[key] = value
        if custom:
            fm["custom_fields"] = custom
        thumbnail = _int(dict(meta).get("_thumbnail_id", ""))
        attachment = self.contents.attachments.get(thumbnail) or self.known_attachments.get(thumbnail)
        if thumbnail and attachment is not None:
            fm["image"] = attachment.url
        names: dict[str, list[str]] = {}
        for domain, _slug, name in categories:
            if domain in ("post_format", "nav_menu") or not name.strip():
                continue
            key = {"category": "categories", "post_tag": "tags", "tag": "tags"}.get(domain, domain)
            if name not in names.setdefault(key, []):
                names[key].append(name)
        for key in ("categories", "tags"):
            if names.get(key):
                fm[key] = names.pop(key)
        for key, values in names.items():  # custom taxonomies, under their own name
            (custom if key in RESERVED_KEYS or key in fm else fm)[key] = values
        if comments:
            fm["comments"] = sorted(comments, key=lambda comment: (isinstance(comment["id"], str), comment["id"]))
        kind = "pages" if post_type == "page" else "posts"
        self.contents.counts[kind] += 1
        self.contents.counts["comments"] += len(comments)
        if status in ("publish", "future") and post_type != "page" and date:
            path = f"_posts/{date[:10]}-{file_slug}.md"
        elif post_type == "page" and status == "publish":
            path = f"{file_slug}.md"
        else:
            path = f"_drafts/{file_slug}.md"
        label = f"{self.label}: item {source_id if source_id is not None else '?'} ({post_type} '{file_slug}')"
        source = PostSource(front_matter=fm, body=fields.get("content", ""))
        return ExportItem(label=label, path=path, source=source, kind=kind, comments=len(comments))


def _post_type(element: etree._Element, namespace: str) -> str:
    return _text(element.find(f"{{{namespace}}}post_type")).strip()


class WxrFile:
    """A WordPress export: `scan()` reads terms, authors, attachments and menus; `items()` the posts."""

    def __init__(self, open_stream: Callable[[], IO[bytes]], *, label: str):
        self.open_stream = open_stream
        with open_stream() as stream:
            self.reader = _WxrReader(_wxr_namespace(stream.read(SNIFF_BYTES)), ExportContents(kind=WXR), label)
        self.contents = self.reader.contents

    def scan(self) -> None:
        """Read what posts need before they are written: a post's featured image comes after it."""
        reader = self.reader
        with self.open_stream() as stream:
            for element in _events(stream, reader.tags()):
                if element.tag != "item":
                    reader.channel_element(element)
                elif _post_type(element, reader.wp) in ("attachment", "nav_menu_item"):
                    reader.item(element)
                _release(element)
        for source_id, attachment in self.contents.attachments.items():
            reader.known_attachments.setdefault(source_id, attachment)

    def items(self) -> Iterator[ExportItem]:
        """Yield every post and page; count what is skipped."""
        reader = self.reader
        with self.open_stream() as stream:
            for element in _events(stream, ("item",)):
                item = None
                if _post_type(element, reader.wp) not in ("attachment", "nav_menu_item"):
                    item = reader.item(element)
                _release(element)
                if item is not None:
                    yield item


# --- Blogger -------------------------------------------------------------------------------


def _entry_kind(entry: etree._Element) -> str:
    """Return post, page, comment, settings, template… for a classic or a 2018 Blogger entry."""
    typed = entry.find(f"{{{BLOGGER_2018}}}type")
    if typed is not None and typed.text:
        return typed.text.strip().lower()
    for category in entry.findall(f"{{{ATOM}}}category"):
        if category.get("scheme") == KIND_SCHEME:
            return (category.get("term") or "").removeprefix(KIND_PREFIX)
    return ""


def _blogger_comment(entry: etree._Element) -> tuple[str, dict[str, Any]] | None:
    """Return the post id a comment entry belongs to and the comment, or None when it names none."""
    post_id = _text(entry.find(f"{{{BLOGGER_2018}}}parent")).strip()
    reply = entry.find(f"{{{THREAD}}}in-reply-to")
    if not post_id and reply is not None:
        post_id = (reply.get("ref") or "").strip()
    if not post_id:
        return None
    author = entry.find(f"{{{ATOM}}}author")
    comment: dict[str, Any] = {
        "id": _text(entry.find(f"{{{ATOM}}}id")).strip(),
        "author": _text(author.find(f"{{{ATOM}}}name")).strip() if author is not None else "",
        "author_email": _text(author.find(f"{{{ATOM}}}email")).strip() if author is not None else "",
        "author_url": _text(author.find(f"{{{ATOM}}}uri")).strip() if author is not None else "",
        "date": _text(entry.find(f"{{{ATOM}}}published")).strip(),
        "content": _text(entry.find(f"{{{ATOM}}}content")),
    }
    parent = _text(entry.find(f"{{{BLOGGER_2018}}}inReplyTo")).strip()
    if not parent:
        for link in entry.findall(f"{{{ATOM}}}link"):
            if link.get("rel") == "related" and link.get("href"):
                parent = link.get("href").rstrip("/").rsplit("/", 1)[-1]
    if parent:
        # A classic export names the parent comment by its number, the 2018 one by its full id.
        comment["parent"] = parent if parent.startswith("tag:") else _sibling_id(comment["id"], parent)
    status = _text(entry.find(f"{{{BLOGGER_2018}}}status")).strip().upper()
    if status and status != "LIVE":
        comment["status"] = "trash" if status in ("DELETED", "SOFT_TRASHED", "TRASHED") else "pending"
    return post_id, comment


def _sibling_id(comment_id: str, number: str) -> str:
    """Return the full id of comment `number` of the same blog as `comment_id`."""
    head, _dot, _tail = comment_id.rpartition(".post-")
    return f"{head}.post-{number}" if head else number


class BloggerFile:
    """A Blogger export: `scan()` reads the comments by post; `items()` the posts and pages."""

    def __init__(self, open_stream: Callable[[], IO[bytes]], *, label: str):
        self.open_stream = open_stream
        self.label = label
        self.contents = ExportContents(kind=BLOGGER)
        self.comments: dict[str, list[dict[str, Any]]] = {}

    def scan(self) -> None:
        """Read every comment: Blogger writes them after the posts they belong to."""
        with self.open_stream() as stream:
            for element in _events(stream, (f"{{{ATOM}}}entry", f"{{{ATOM}}}link")):
                if _local(element.tag) == "link":
                    parent = element.getparent()
                    if parent is not None and _local(parent.tag) == "feed" and element.get("rel") == "alternate":
                        self.contents.site_url = element.get("href") or ""
                    continue
                if _entry_kind(element) == "comment":
                    found = _blogger_comment(element)
                    if found is not None:
                        self.comments.setdefault(found[0], []).append(found[1])
                _release(element)

    def items(self) -> Iterator[ExportItem]:
        """Yield every post and page; count comments and what is skipped."""
        contents = self.contents
        with self.open_stream() as stream:
            for element in _events(stream, (f"{{{ATOM}}}entry",)):
                kind = _entry_kind(element)
                item = None
                if kind in ("post", "page"):
                    item = _blogger_post(element, kind, label=self.label, contents=contents, comments=self.comments)
                    contents.counts["comments"] += item.comments
                elif kind != "comment":
                    contents.skipped[kind or "unknown entry"] += 1
                _release(element)
                if item is not None:
                    yield item


def open_export(
    open_stream: Callable[[], IO[bytes]], *, label: str, known_attachments: dict | None = None
) -> "WxrFile | BloggerFile | None":
    """Return the reader of a WordPress or Blogger export, or None when the file is neither.

    `known_attachments`: the attachments of the export's files read before this one (a split
    export), by id; this file's are added to it once scanned.
    """
    with open_stream() as stream:
        kind = sniff(stream.read(SNIFF_BYTES))
    if kind == WXR:
        export = WxrFile(open_stream, label=label)
        if known_attachments is not None:
            export.reader.known_attachments = known_attachments
        return export
    if kind == BLOGGER:
        return BloggerFile(open_stream, label=label)
    return None


def _blogger_post(
    entry: etree._Element, kind: str, *, label: str, contents: ExportContents, comments: dict[str, list]
) -> ExportItem:
    entry_id = _text(entry.find(f"{{{ATOM}}}id")).strip()
    title = _text(entry.find(f"{{{ATOM}}}title"))
    published = _text(entry.find(f"{{{ATOM}}}published")).strip()
    updated = _text(entry.find(f"{{{ATOM}}}updated")).strip()
    author = entry.find(f"{{{ATOM}}}author")
    author_name = _text(author.find(f"{{{ATOM}}}name")).strip() if author is not None else ""
    author_uri = _text(author.find(f"{{{ATOM}}}uri")).strip() if author is not None else ""
    url = ""
    for link in entry.findall(f"{{{ATOM}}}link"):
        if link.get("rel") == "alternate" and link.get("href"):
            url = link.get("href").strip()
    filename = _text(entry.find(f"{{{BLOGGER_2018}}}filename")).strip()
    if not url and filename:
        url = contents.site_url.rstrip("/") + "/" + filename.lstrip("/") if contents.site_url else filename
    labels = [
        category.get("term", "").strip()
        for category in entry.findall(f"{{{ATOM}}}category")
        if category.get("scheme") != KIND_SCHEME and category.get("term", "").strip()
    ]
    draft = _text(entry.find(f"{{{APP}}}control/{{{APP}}}draft")).strip().lower() == "yes"
    status = _text(entry.find(f"{{{BLOGGER_2018}}}status")).strip().upper()
    thumbnail = entry.find(f"{{{MEDIA}}}thumbnail")
    fm: dict[str, Any] = {"layout": kind, "title": title}
    if published:
        fm["date"] = published
    if author_name:
        fm["author"] = author_name
    if labels:
        fm["tags"] = list(dict.fromkeys(labels))
    if updated:
        fm["modified_time"] = updated
    if thumbnail is not None and thumbnail.get("url"):
        fm["thumbnail"] = thumbnail.get("url")
    fm["blogger_id"] = entry_id
    if url:
        fm["blogger_orig_url"] = url
    if draft or status == "DRAFT":
        fm["published"] = False
    elif status and status != "LIVE":
        fm["status"] = "trash" if "TRASH" in status else status.lower()
    if author_uri:
        fm["author_uri"] = author_uri
    post_comments = sorted(comments.get(entry_id, []), key=lambda comment: comment["date"])
    if post_comments:
        fm["comments"] = post_comments
    stem = urlsplit(url).path.rsplit("/", 1)[-1].removesuffix(".html") if url else ""
    file_slug = make_slug(stem) or make_slug(title) or "post-" + entry_id.rsplit("-", 1)[-1]
    if fm.get("published") is False or "status" in fm:
        path = f"_drafts/{file_slug}.html"
    elif kind == "page":
        path = f"{file_slug}.html"
    else:
        path = f"_posts/{published[:10]}-{file_slug}.html"
    plural = "pages" if kind == "page" else "posts"
    contents.counts[plural] += 1
    return ExportItem(
        label=f"{label}: entry {entry_id.rsplit('.', 1)[-1] or '?'} ({kind} '{file_slug}')",
        path=path,
        source=PostSource(front_matter=fm, body=_text(entry.find(f"{{{ATOM}}}content"))),
        kind=plural,
        comments=len(post_comments),
    )
