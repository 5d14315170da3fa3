"""Read and write the export format: YAML front matter between `---` lines, then the body.

Pure code, no Django models. Parsing keeps what writing back needs to reproduce the file
byte for byte: the original text of every top-level key, the key order, the line endings,
the delimiters and the byte-order mark. Writing emits a key's original text while its value
is unchanged and new YAML, in the file's style, only for keys whose value changed.

`read_post()` interprets the keys the WordPress "to Jekyll" exporter and jekyll-import write
into plain `PostFields`; it is the one place that knows what each key means.
"""

import codecs
import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import yaml
from django.utils.text import slugify

try:  # libyaml is several times faster; the pure-Python loader gives the same values.
    _BaseLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader

BOM = "\ufeff"
POST_LAYOUT = "post"
PAGE_LAYOUT = "page"
DRAFT = "draft"
PUBLISHED = "published"
# The exporter's key order, used for posts that never had a file (created in the admin).
EXPORTER_KEY_ORDER = ("id", "title", "date", "author", "excerpt", "layout", "guid", "permalink")
# WordPress post statuses that are not visible to readers: only "publish" is ("future" is
# WordPress's scheduled post, which its cron publishes; Kabar leaves that to an editor).
_DRAFT_STATUSES = {"draft", "pending", "private", "future", "auto-draft", "trash", "inherit"}

_OPENING = re.compile(r"---[ \t]*(\r\n|\n|\r)")
# A closing line starts after any line break: old Mac files end lines with a lone CR.
_CLOSING = re.compile(r"(?<=[\r\n])(?:---|\.\.\.)[ \t]*(?:\r\n|\n|\r|\Z)")
_DATE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"(?:(?:[Tt]|[ \t]+)(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?)?"
    r"(?:[ \t]*(?P<zone>[Zz]|[+-]\d{1,2}(?::?\d{2})?))?"
)
# What one file's front matter may expand to (YAML aliases repeat what they point at): values
# and bytes. The importer passes its settings; these are the defaults for pure use.
MAX_NODES = 100_000
# The longest slug a post keeps (its column's length): a longer permalink segment is no slug.
MAX_SLUG = 255
MAX_BYTES = 5 * 1024 * 1024
_FILE_NAME = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})-(?P<slug>.+)")
# Symfony's YAML dumper (used by the exporter) single-quotes strings with these characters.
_QUOTE_STYLE = re.compile(r"[\s'\":{}\[\],&*#?]|^[-?|<>=!%@`]")


class FrontMatterError(ValueError):
    """A file whose front matter cannot be read; the message names the field and the reason."""


class NoFrontMatterError(FrontMatterError):
    """A text file that does not start with front matter (in a folder: not a post, e.g. a README)."""


class _Loader(_BaseLoader):
    """Safe loader that keeps YAML timestamps as their text, so dates are written back unchanged."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


class _Dumper(yaml.SafeDumper):
    """Dumper in the exporter's style: indented lists, quotes where Symfony would put them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "'" if _QUOTE_STYLE.search(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


@dataclass
class PostSource:
    """One file of the export format: front matter, body, and how the file wrote them."""

    front_matter: dict[str, Any]
    body: str
    raw: dict[str, str] = field(default_factory=dict)
    head: str = "---\n"
    tail: str = "---\n"
    newline: str = "\n"
    bom: bool = False
    indent: int = 4
    flow: str = ""  # the whole front matter, when its keys share lines ({a: 1, b: 2}) and cannot be split

    def to_format(self) -> dict[str, Any]:
        """Return what writing the file back needs, as JSON-ready data."""
        return {
            "order": list(self.front_matter),
            "raw": self.raw,
            "head": self.head,
            "tail": self.tail,
            "newline": self.newline,
            "bom": self.bom,
            "indent": self.indent,
            **({"flow": self.flow} if self.flow else {}),
        }

    @classmethod
    def from_format(cls, source_format: dict[str, Any], *, body: str) -> "PostSource":
        """Return the source a stored `source_format` describes, with its original values."""
        raw = source_format.get("raw", {})
        newline = source_format.get("newline", "\n")
        original_text = "".join(raw.values()) or source_format.get("flow", "")
        front_matter = _load_mapping(original_text) if original_text else {}
        return cls(
            front_matter=front_matter,
            body=body,
            raw=dict(raw),
            head=source_format.get("head", "---" + newline),
            tail=source_format.get("tail", "---" + newline),
            newline=newline,
            bom=source_format.get("bom", False),
            indent=source_format.get("indent", 4),
            flow=source_format.get("flow", ""),
        )


def _load_mapping(text: str) -> dict[str, Any]:
    _node, value = _load(text)
    return value if isinstance(value, dict) else {}


def _load(text: str, *, max_nodes: int = MAX_NODES, max_bytes: int = MAX_BYTES) -> tuple[yaml.Node | None, Any]:
    """Return the YAML document's node and value; raise FrontMatterError when it expands past the limits."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_expansion(node, max_nodes=max_nodes, max_bytes=max_bytes)
            value = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise FrontMatterError(f"front matter is not valid YAML: {_yaml_reason(exc)}") from None
    return node, value


def _check_expansion(root: yaml.Node, *, max_nodes: int, max_bytes: int) -> None:
    """Raise FrontMatterError when the document, aliases expanded, is recursive or over the limits.

    The composed document shares the node an alias points at, so building it is cheap; what
    costs is everything after (storing it as JSON, showing it) that sees each alias expanded.
    The walk counts what that expansion would be and stops at the limit: its cost is bounded
    by the limit, never by the expansion ("billion laughs").
    """
    nodes = size = 0
    on_path: set[int] = set()  # collections being walked: one seen again inside itself is a loop
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            on_path.discard(id(node))
            continue
        nodes += 1
        if nodes > max_nodes:
            raise FrontMatterError(
                f"front matter has more than {max_nodes:,} values once its YAML aliases are expanded"
            )
        if isinstance(node, yaml.ScalarNode):
            size += len(node.value) + 2
        else:
            if id(node) in on_path:
                raise FrontMatterError(
                    f"front matter has a YAML alias inside what it points at (line {node.start_mark.line + 2})"
                )
            on_path.add(id(node))
            stack.append((node, True))
            children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
            stack.extend((child, False) for child in reversed(children))
            size += 2
        if size > max_bytes:
            raise FrontMatterError(
                f"front matter is larger than {max_bytes:,} bytes once its YAML aliases are expanded"
            )


# Byte-order marks of the Unicode encodings other than UTF-8 (Windows editors save UTF-16).
# UTF-32 first: its little-endian mark starts with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def parse(data: bytes, *, max_nodes: int = MAX_NODES, max_bytes: int = MAX_BYTES) -> PostSource:
    """Return the PostSource of a file's bytes (UTF-8, or UTF-16/32 with a byte-order mark)."""
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    if encoding == "utf-8" and b"\x00" in data:
        if re.match(rb"(?:[^\x00]\x00){4}|(?:\x00[^\x00]){4}", data):
            raise FrontMatterError("is UTF-16 text without a byte-order mark: save it as UTF-8")
        raise FrontMatterError(f"is a binary file, not text (a NUL byte at byte {data.index(0)})")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FrontMatterError(f"is not {encoding.upper()} text (byte {exc.start})") from None
    if "\x00" in text:
        raise FrontMatterError("is a binary file, not text (it has a NUL character)")
    return parse_text(text, max_nodes=max_nodes, max_bytes=max_bytes)


def parse_text(text: str, *, max_nodes: int = MAX_NODES, max_bytes: int = MAX_BYTES) -> PostSource:
    """Return the PostSource of a file's text; raise FrontMatterError when it has none."""
    bom = text.startswith(BOM)
    if bom:
        text = text[1:]
    opening = _OPENING.match(text)
    if not opening:
        raise NoFrontMatterError("has no front matter (it must start with a '---' line)")
    newline = opening.group(1)
    closing = _CLOSING.search(text, opening.end())
    if not closing:
        raise FrontMatterError("front matter is not closed by a '---' line")
    yaml_text = text[opening.end() : closing.start()]
    head, tail, body = text[: opening.end()], closing.group(0), text[closing.end() :]
    node, front_matter = _load(yaml_text, max_nodes=max_nodes, max_bytes=max_bytes)
    if front_matter is None:
        front_matter = {}
    if not isinstance(front_matter, dict):
        raise FrontMatterError(f"front matter is not a map of keys to values but a {_kind(front_matter)}")
    if node is not None and len(front_matter) != len(getattr(node, "value", ())):
        raise FrontMatterError("front matter has a key more than once")
    front_matter = {str(key): value for key, value in front_matter.items()}
    _check_plain(front_matter)
    starts = _key_starts(node) if node is not None else None
    flow = ""
    if starts is None:
        # Keys sharing lines (a flow map) or no keys at all: the text cannot be split per key,
        # so writing back gives the same values in block style.
        raw = {}
        if front_matter:
            flow = yaml_text
        else:
            head += yaml_text
    else:
        head += yaml_text[: starts[0]]
        ends = [*starts[1:], len(yaml_text)]
        raw = {key: yaml_text[start:end] for key, start, end in zip(front_matter, starts, ends, strict=True)}
    return PostSource(
        front_matter=front_matter,
        body=body,
        raw=raw,
        head=head,
        tail=tail,
        newline=newline,
        bom=bom,
        indent=_detect_indent(yaml_text),
        flow=flow,
    )


def _key_starts(node: yaml.Node) -> list[int] | None:
    """Return where each top-level key's line starts, or None when keys do not start their own lines."""
    if not isinstance(node, yaml.MappingNode) or node.flow_style or not node.value:
        return None
    starts: list[int] = []
    for key_node, _value in node.value:
        start = key_node.start_mark.index - key_node.start_mark.column
        if starts and start <= starts[-1]:
            return None
        starts.append(start)
    return starts


def _detect_indent(yaml_text: str) -> int:
    match = re.search(r"^( +)\S", yaml_text, re.MULTILINE)
    return len(match.group(1)) if match else 4


def _yaml_reason(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    # The context mark is where the broken construct began: the line a person should look at.
    mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
    return f"{problem} (line {mark.line + 2})" if mark is not None else problem


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def _check_plain(value: Any, key: str = "") -> None:
    """Raise FrontMatterError unless `value` is plain data JSON can hold (no sets, no binary)."""
    if isinstance(value, dict):
        for item_key, item in value.items():
            if "\x00" in str(item_key):
                raise FrontMatterError(f"{key or repr(item_key)}: a key has a NUL character")
            _check_plain(item, key or str(item_key))
    elif isinstance(value, list):
        for item in value:
            _check_plain(item, key)
    elif isinstance(value, str):
        # YAML's "\0" escape: no database column can hold it (PostgreSQL refuses it outright).
        if "\x00" in value:
            raise FrontMatterError(f"{key}: {value!r} has a NUL character")
    elif value is not None and not isinstance(value, int | float | bool):
        raise FrontMatterError(f"{key}: a {type(value).__name__} value is not supported in front matter")


def same_value(left: Any, right: Any) -> bool:
    """Return whether two front-matter values are equal in value, type and key order."""
    return json.dumps(left, ensure_ascii=False) == json.dumps(right, ensure_ascii=False)


_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"
# Characters PyYAML's emitter would not write as they are (with allow_unicode), and line breaks.
_NOT_PLAIN_TEXT = re.compile("[^\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010fffe]|[\ufeff\u2028\u2029]")


def _fast_scalar(value: Any) -> str | None:
    """Return a scalar as `_Dumper` writes it, or None when only the dumper itself can tell."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str) or len(value) > 1000 or _NOT_PLAIN_TEXT.search(value):
        return None
    if not value:
        return "''"
    if (
        _QUOTE_STYLE.search(value)
        or value.startswith("...")
        or _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) != _STR_TAG
    ):
        return "'" + value.replace("'", "''") + "'"
    return value


def _fast_map_lines(mapping: dict, first: str, rest: str) -> list[str] | None:
    lines = []
    for key, value in mapping.items():
        key_text, value_text = _fast_scalar(key) if key else None, _fast_scalar(value)
        if key_text is None or value_text is None or len(key_text) > 120:
            return None
        lines.append(f"{rest if lines else first}{key_text}: {value_text}\n")
    return lines


def _fast_dump_key(key: str, value: Any, indent: int) -> str | None:
    """Return what `yaml.dump` gives for the common shapes of front matter, fast; None for the others.

    Scalars, lists of scalars, maps of scalars and lists of such maps, written exactly as the
    pure-Python dumper writes them (tests/test_frontmatter.py compares the two).
    """
    key_text = _fast_scalar(key) if key else None  # an empty key is written as a complex key
    if key_text is None or len(key_text) > 120:
        return None
    pad = " " * indent
    if isinstance(value, list) and value:
        if all(isinstance(item, dict) and item for item in value):
            lines = [f"{key_text}:\n"]
            for item in value:
                item_lines = _fast_map_lines(item, f"{pad}-{' ' * (indent - 1)}", pad + pad)
                if item_lines is None:
                    return None
                lines.extend(item_lines)
            return "".join(lines)
        items = [_fast_scalar(item) for item in value]
        if None in items:
            return None
        return f"{key_text}:\n" + "".join(f"{pad}- {item}\n" for item in items)
    if isinstance(value, dict) and value:
        lines = _fast_map_lines(value, pad, pad)
        return None if lines is None else f"{key_text}:\n" + "".join(lines)
    value_text = _fast_scalar(value)
    return None if value_text is None else f"{key_text}: {value_text}\n"


def dump_key(key: str, value: Any, *, indent: int = 4, newline: str = "\n") -> str:
    """Return the YAML text of one top-level key, in the exporter's style."""
    indent = max(2, min(indent, 9))
    text = _fast_dump_key(key, value, indent)
    if text is not None:
        return text if newline == "\n" else text.replace("\n", newline)
    text = yaml.dump(
        {key: value},
        Dumper=_Dumper,
        allow_unicode=True,
        default_flow_style=False,
        sort_keys=False,
        indent=indent,
        width=float("inf"),
    )
    return text if newline == "\n" else text.replace("\n", newline)


def serialise(source: PostSource) -> bytes:
    """Return the file's bytes: unchanged keys as they were written, changed keys as new YAML."""
    return serialise_text(source).encode("utf-8")


def serialise_text(source: PostSource) -> str:
    """Return the file's text: unchanged keys as they were written, changed keys as new YAML."""
    original = _load_mapping("".join(source.raw.values())) if source.raw else {}
    parts = [BOM if source.bom else "", source.head]
    for key, value in source.front_matter.items():
        raw = source.raw.get(key)
        if raw is not None and key in original and same_value(original[key], value):
            parts.append(raw)
        else:
            if parts[-1] and not parts[-1].endswith(("\n", "\r")):
                parts.append(source.newline)
            parts.append(dump_key(key, value, indent=source.indent, newline=source.newline))
            parts.append(_trailing_trivia(raw or ""))
    if parts[-1] and not parts[-1].endswith(("\n", "\r")):
        parts.append(source.newline)
    parts.append(source.tail)
    if not source.tail.endswith(("\n", "\r")) and source.body:
        parts.append(source.newline)
    parts.append(source.body)
    return "".join(parts)


def _trailing_trivia(raw: str) -> str:
    """Return the blank lines and comments that end a key's text (they belong to the next key)."""
    lines = raw.splitlines(keepends=True)
    count = 0
    for line in reversed(lines):
        if line.strip() and not line.startswith("#"):
            break
        count += 1
    return "".join(lines[len(lines) - count :]) if count else ""


# --- What the keys mean ------------------------------------------------------------------


@dataclass
class AuthorFields:
    name: str
    slug: str
    display_name: str = ""
    email: str = ""


@dataclass
class CommentSource:
    """One comment as an export describes it: plain data for `blog.comments.upsert_comments()`.

    Every importer (the Markdown `comments:` list, WXR, Blogger) turns its comments into these.

    - `source_id`: the comment's id at the source (WordPress comment ID, Blogger comment id);
      it identifies the comment within its post on re-import and becomes the page anchor
      `#comment-<source_id>`. Required, at most 100 characters.
    - `parent_source_id`: the `source_id` of the comment this one replies to ('' for none).
    - `date`: an aware datetime (a naive one is taken to be in the site's TIME_ZONE).
    - `body`: the text as written (WordPress comment HTML or plain text); it is rendered and
      sanitized when stored.
    - `status`: 'approved', 'pending', 'spam' or 'trash'; None when the source does not say
      (a new comment is then approved, an existing one keeps its moderation status).
      `wordpress_status()` maps WordPress's comment_approved values.
    - `type`: 'comment', 'pingback' or 'trackback' (`wordpress_type()` maps WordPress's).
    - `author_email` and `author_ip` are kept for moderation and never shown.
    - `source_data`: keys of the source that have no column, in source order, written back
      by the exporter (the Markdown importer keeps the whole map's key order here).
    """

    source_id: str
    date: datetime
    body: str
    parent_source_id: str = ""
    author_name: str = ""
    author_url: str = ""
    author_email: str = ""
    author_ip: str = ""
    user_agent: str = ""
    status: str | None = None
    type: str = "comment"
    source_data: dict[str, Any] = field(default_factory=dict)


COMMENT_STATUSES = ("approved", "pending", "spam", "trash")
COMMENT_TYPES = ("comment", "pingback", "trackback")
# The keys jekyll-import writes for each comment, in its order; Kabar adds `parent`, `type`
# and `status` after them when they are not the defaults.
COMMENT_KEYS = ("id", "author", "author_email", "author_url", "date", "date_gmt", "content")
# Keys whose value lives only in a column; source_data keeps them as placeholders (None), in place.
COMMENT_COLUMN_KEYS = {
    "author": "author_name",
    "author_email": "author_email",
    "author_url": "author_url",
    "content": "body",
}
_WORDPRESS_STATUSES = {
    "1": "approved",
    "approve": "approved",
    "0": "pending",
    "hold": "pending",
    "post-trashed": "trash",
}


def wordpress_status(value: Any) -> str:
    """Return Kabar's comment status for WordPress's comment_approved value ('1', '0', 'spam', 'trash')."""
    text = _scalar_text(value).strip().lower() if value is not None else ""
    return text if text in COMMENT_STATUSES else _WORDPRESS_STATUSES.get(text, "pending")


def wordpress_type(value: Any) -> str:
    """Return Kabar's comment type for WordPress's comment_type ('' or 'comment', 'pingback', 'trackback')."""
    text = str(value or "").strip().lower()
    return text if text in COMMENT_TYPES else "comment"


def _comment_date(item: dict[str, Any], *, index: int, tz: tzinfo) -> datetime:
    """Return a comment's moment: `date_gmt`'s clock read as UTC when given, else `date`.

    jekyll-import writes both as Ruby Time strings with the offset of the machine that ran it,
    which is not the blog's; the GMT column's clock is the one value that is right.
    """
    gmt = item.get("date_gmt")
    if isinstance(gmt, str) and gmt.strip() and not gmt.startswith("0000"):
        try:
            return parse_date(gmt, key=f"comments[{index}].date_gmt", tz=tz).replace(tzinfo=UTC)
        except FrontMatterError:
            pass
    if item.get("date") in (None, ""):
        raise FrontMatterError(f"comments[{index}]: has no date")
    return parse_date(item["date"], key=f"comments[{index}].date", tz=tz)


def read_comments(value: Any, *, tz: tzinfo | str) -> list[CommentSource]:
    """Return the comments of a jekyll-import `comments:` list; raise FrontMatterError naming the bad item.

    Each item is a map with `id`, `author`, `author_email`, `author_url`, `date`, `date_gmt`
    and `content` (jekyll-import's WordPress importer), and optionally Kabar's `parent`,
    `status` and `type`. Every other key is kept in `source_data`.
    """
    if isinstance(tz, str):
        tz = ZoneInfo(tz)
    if not isinstance(value, list):
        raise FrontMatterError(f"comments is a {_kind(value)}, not a list of comments")
    comments: list[CommentSource] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise FrontMatterError(f"comments[{index}] is a {_kind(item)}, not a map")
        raw_id = item.get("id")
        if raw_id is None or isinstance(raw_id, bool | dict | list) or not str(raw_id).strip():
            raise FrontMatterError(f"comments[{index}]: has no id")
        source_id = _scalar_text(raw_id).strip()
        if len(source_id) > 100:
            raise FrontMatterError(f"comments[{index}]: id is longer than 100 characters")
        if source_id in seen:
            raise FrontMatterError(f"comments[{index}]: id {source_id} is used by another comment of this post")
        seen.add(source_id)
        status = item.get("status")
        if status is not None:
            status = wordpress_status(status)
        comment_type = item.get("type")
        if comment_type not in (None, "") and str(comment_type).lower() not in COMMENT_TYPES:
            raise FrontMatterError(f"comments[{index}]: type {comment_type!r} is not comment, pingback or trackback")
        parent = item.get("parent")
        # Mapped keys stay in source_data as placeholders: they keep their place in the map.
        source_data = {key: (None if key in COMMENT_COLUMN_KEYS else val) for key, val in item.items()}
        comments.append(
            CommentSource(
                source_id=source_id,
                date=_comment_date(item, index=index, tz=tz),
                body=_text(item.get("content")),
                parent_source_id="" if parent in (None, "", 0, "0") else _scalar_text(parent).strip(),
                author_name=_text(item.get("author")),
                author_url=_text(item.get("author_url")),
                author_email=_text(item.get("author_email")),
                status=status,
                type=wordpress_type(comment_type),
                source_data=source_data,
            )
        )
    return comments


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else _scalar_text(value)


@dataclass
class PostFields:
    """A post as its file describes it, with the front-matter keys that fed each column."""

    title: str
    slug: str
    date: datetime
    permalink: str
    layout: str = POST_LAYOUT
    status: str = PUBLISHED
    source_id: int | None = None
    modified: datetime | None = None
    author: AuthorFields | None = None
    excerpt: str = ""
    guid: str = ""
    blogger_blog: list = field(default_factory=list)
    blogger_author: list = field(default_factory=list)
    blogger_internal: list = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    front_matter: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, list[str]] = field(default_factory=dict)
    file_slug: str = ""
    comments: list["CommentSource"] = field(default_factory=list)
    comment_errors: list[str] = field(default_factory=list)


def parse_date(value: Any, *, key: str = "date", tz: tzinfo) -> datetime:
    """Return the aware datetime a front-matter date means; a date without zone is in `tz`."""
    text = str(value).strip() if isinstance(value, str | int) else None
    match = _DATE.fullmatch(text) if text else None
    if not match:
        raise FrontMatterError(f"{key} {value!r} is not a valid date")
    parts = match.groupdict()
    fraction = (parts["fraction"] or "").ljust(6, "0")[:6]
    try:
        moment = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            int(fraction or 0),
        )
        zone = _zone(parts["zone"]) if parts["zone"] else tz
    except ValueError:
        raise FrontMatterError(f"{key} {value!r} is not a valid date") from None
    return moment.replace(tzinfo=zone)


def _zone(text: str) -> tzinfo:
    if text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = (int(digits[:-2]), int(digits[-2:])) if len(digits) > 2 else (int(digits), 0)
    if hours > 23 or minutes > 59:
        raise ValueError("offset out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def format_date(moment: datetime, *, like: Any = None) -> str:
    """Return `moment` written the way the date `like` was (ISO 8601 unless it used a space)."""
    if isinstance(like, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}", like.strip()):
        return moment.strftime("%Y-%m-%d %H:%M:%S %z")
    return moment.isoformat(timespec="seconds" if not moment.microsecond else "microseconds")


def split_names(value: Any) -> list[str]:
    """Return the names of a categories/tags value: a list, or a comma- or space-separated string."""
    if value is None or value is False:
        return []
    if isinstance(value, list):
        items = [_scalar_text(item) for item in value if item is not None and not isinstance(item, dict | list)]
    else:
        text = _scalar_text(value)
        items = text.split(",") if "," in text else text.split()
    names = []
    for item in items:
        name = item.strip()
        if name and name not in names:
            names.append(name)
    return names


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _string_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _raw_scalar(raw: str | None, value: Any) -> str:
    """Return a scalar's text as the file wrote it (`title: 1.50` stays '1.50')."""
    if raw:
        first_line = raw.splitlines()[0] if raw.splitlines() else ""
        _key, _colon, rest = first_line.partition(":")
        rest = rest.split(" #", 1)[0].strip()
        if rest and rest[0] not in "'\"|>[{&*!":
            return rest
    return "" if value is None else _scalar_text(value)


def make_slug(text: str) -> str:
    """Return a URL slug of `text` that keeps non-Latin letters."""
    return slugify(text, allow_unicode=True)


def file_name_slug(path: str) -> str:
    """Return the slug a post's file name gives: its name without Jekyll's `YYYY-MM-DD-` and suffix."""
    stem = PurePosixPath(path).stem
    name_match = _FILE_NAME.fullmatch(stem)
    return name_match.group("slug") if name_match else stem


def _permalink_slug(permalink: str) -> str:
    """Return the slug a permalink ends with: its last non-empty segment, decoded ('' when unusable).

    WordPress's old addresses name a post by that slug (`/YYYY/MM/DD/slug/`), whatever the
    exporter's file was later renamed to. A segment of digits only is a post id or a page number
    (`/%postname%/%post_id%/`), not a slug; a Jekyll-style `.html` ending is not part of it.
    """
    segments = [segment for segment in permalink.split("/") if segment]
    if not segments:
        return ""
    segment = re.sub(r"\.html?$", "", unquote(segments[-1]), flags=re.IGNORECASE)
    slug = make_slug(segment)
    return "" if slug.isdigit() or len(slug) > MAX_SLUG else slug


# A post's id lives in a 64-bit integer column (WordPress's own post IDs are unsigned 64-bit,
# but never that large in practice); ids are ASCII digits: str.isdigit() also accepts '²' and '①'.
MAX_ID = 2**63 - 1
_ID = re.compile(r"-?[0-9]+")


def parse_id(text: str) -> int | None:
    """Return the post id `text` spells in ASCII digits, or None when it is not one a post can have."""
    if not re.fullmatch(r"[0-9]{1,19}", text):
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def _valid_path(path: str) -> bool:
    return path.startswith("/") and not path.startswith("//") and not any(c.isspace() or c == "#" for c in path)


def read_post(source: PostSource, *, path: str, tz: tzinfo | str, now: datetime | None = None) -> PostFields:
    """Return the post a source describes; raise FrontMatterError naming the field at fault."""
    if isinstance(tz, str):
        tz = ZoneInfo(tz)
    fm = source.front_matter
    used: dict[str, list[str]] = {}

    def take(column: str, *keys: str) -> None:
        used.setdefault(column, []).extend(key for key in keys if key not in used.get(column, []))

    pure = PurePosixPath(path)
    name_match = _FILE_NAME.fullmatch(pure.stem)
    file_slug = file_name_slug(path)
    in_drafts = "_drafts" in pure.parts

    source_id = None
    for key in ("id", "wordpress_id"):
        value = fm.get(key)
        if isinstance(value, bool) or not isinstance(value, int | str):
            continue
        if isinstance(value, str) and not _ID.fullmatch(value):
            continue  # not a number (e.g. 'post-12' or '²'): kept as a front-matter key
        source_id = parse_id(str(value))
        if source_id is None:
            raise FrontMatterError(f"{key} {value!r} is out of range (0 to {MAX_ID})")
        take("source_id", key)
        break

    if "title" in fm:
        title_value = fm["title"]
        title = title_value if isinstance(title_value, str) else _raw_scalar(source.raw.get("title"), title_value)
        title = html.unescape(title)
        take("title", "title")
    else:
        title = ""

    if "date" in fm and fm["date"] not in (None, ""):
        date = parse_date(fm["date"], tz=tz)
        take("date", "date")
    elif name_match:
        date = parse_date(name_match.group("date"), key="file name date", tz=tz)
    elif in_drafts:
        # Jekyll drafts need no date: they get one when published.
        date = (now or datetime.now(UTC)).astimezone(tz).replace(microsecond=0)
    else:
        raise FrontMatterError("has no date (no 'date' key and no YYYY-MM-DD- in the file name)")

    modified = None
    if fm.get("modified_time") not in (None, ""):
        modified = parse_date(fm["modified_time"], key="modified_time", tz=tz)
        take("modified", "modified_time")

    author = None
    if "author" in fm:
        author = _read_author(fm["author"])
        take("author", "author")

    excerpt = ""
    if "excerpt" in fm:
        value = fm["excerpt"]
        excerpt = value if isinstance(value, str) else "" if value is None else _scalar_text(value)
        take("excerpt", "excerpt")

    layout = fm.get("layout")
    if isinstance(layout, str) and layout.strip():
        layout = layout.strip()
        take("layout", "layout")
    else:
        layout = PAGE_LAYOUT if fm.get("type") == PAGE_LAYOUT else POST_LAYOUT

    guid = ""
    for key in ("guid", "blogger_id"):
        if isinstance(fm.get(key), str | int) and str(fm[key]).strip():
            guid = str(fm[key]).strip()
            take("guid", key)
            break

    status = DRAFT if in_drafts else PUBLISHED
    if "published" in fm:
        take("status", "published")
        if fm["published"] is False or str(fm["published"]).lower() in ("false", "no", "0"):
            status = DRAFT
    if "status" in fm:
        take("status", "status")
        if str(fm["status"]).strip().lower() in _DRAFT_STATUSES:
            status = DRAFT
    if fm.get("post_password") not in (None, ""):
        # A password-protected WordPress post is never shown to readers (the key stays kept as is).
        status = DRAFT

    slug = ""
    if isinstance(fm.get("slug"), str | int) and make_slug(str(fm["slug"])):
        slug = make_slug(str(fm["slug"]))
        take("slug", "slug")

    permalink = permalink_slug = ""
    value = fm.get("permalink")
    if "permalink" in fm:
        take("permalink", "permalink")
    if isinstance(value, str) and value.strip() and "?" not in value:
        # What else a path may not hold is the Post model's rule (blog.models.validate_path),
        # checked by the importer as by the admin.
        if not value.startswith("/"):
            raise FrontMatterError(f"permalink {value!r} is not a site path starting with '/'")
        permalink = value
        # The slug WordPress had is the permalink's; the file may have been renamed since.
        permalink_slug = _permalink_slug(permalink)
    elif value not in (None, "") and not isinstance(value, str):
        raise FrontMatterError(f"permalink {value!r} is not a site path starting with '/'")
    else:
        # A Blogger post lives on at its old path, e.g. /2008/03/title.html.
        for key in ("blogger_orig_url", "blogger_permalink"):
            if isinstance(fm.get(key), str) and fm[key].strip():
                blogger_path = urlsplit(fm[key].strip()).path
                if _valid_path(blogger_path) and blogger_path != "/":
                    permalink = blogger_path
                    break

    if not slug:
        slug = permalink_slug or make_slug(file_slug) or make_slug(title) or "post"
    if not permalink:
        # The date as the file wrote it, in its own zone: a zone never moves a post to another day.
        permalink = f"/{slug}/" if layout == PAGE_LAYOUT else f"/{date:%Y/%m/%d}/{slug}/"

    blogger = {}
    for key in ("blogger_blog", "blogger_author", "blogger_internal"):
        blogger[key] = [_scalar_text(item) for item in _string_list(fm.get(key)) if item is not None]
        if key in fm:
            take(key, key)

    categories = split_names(fm.get("categories"))
    if "categories" in fm:
        take("categories", "categories")
    tags = split_names(fm.get("tags"))
    if "tags" in fm:
        take("tags", "tags")
    # Hugo-style `taxonomies:` maps (added by owners who moved on) carry them when the keys are missing.
    taxonomies = fm.get("taxonomies")
    if isinstance(taxonomies, dict):
        if "categories" not in fm and "categories" in taxonomies:
            categories = split_names(taxonomies["categories"])
        if "tags" not in fm and "tags" in taxonomies:
            tags = split_names(taxonomies["tags"])

    comments: list[CommentSource] = []
    comment_errors: list[str] = []
    if isinstance(fm.get("comments"), list) and fm["comments"]:
        # A list of maps is jekyll-import's comments; anything else (`comments: true`, a theme's
        # switch) is not Kabar's to read and stays an opaque key.
        try:
            comments = read_comments(fm["comments"], tz=tz)
            take("comments", "comments")
        except FrontMatterError as exc:
            # The post is still imported; the key is kept as it was, so nothing is lost.
            comment_errors.append(str(exc))

    consumed = {key for keys in used.values() for key in keys}
    return PostFields(
        title=title,
        slug=slug,
        date=date,
        permalink=permalink,
        layout=layout,
        status=status,
        source_id=source_id,
        modified=modified,
        author=author,
        excerpt=excerpt,
        guid=guid,
        categories=categories,
        tags=tags,
        front_matter={key: value for key, value in fm.items() if key not in consumed},
        keys=used,
        file_slug=file_slug,
        comments=comments,
        comment_errors=comment_errors,
        **blogger,
    )


def _read_author(value: Any) -> AuthorFields | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        login = str(value.get("login") or value.get("name") or value.get("display_name") or "").strip()
        display_name = str(value.get("display_name") or "").strip()
        email = str(value.get("email") or "").strip()
        if not login:
            return None
        return AuthorFields(name=login, slug=make_slug(login) or "author", display_name=display_name, email=email)
    if value is None or str(value).strip() == "":
        return None
    name = _scalar_text(value).strip()
    return AuthorFields(name=name, slug=make_slug(name) or "author")
