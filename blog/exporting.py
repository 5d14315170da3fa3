"""Export posts back to the export format: `_posts/`, `_drafts/` and pages, as the files were.

An imported post is written from the front-matter text it came with: every key whose value
is unchanged is written exactly as it was, only keys whose column or value changed are
written anew (in the file's style). Posts created in the admin get a clean front matter in
the WordPress "to Jekyll" exporter's key order.
"""

import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Prefetch

from blog import frontmatter
from blog.frontmatter import FrontMatterError, PostFields, PostSource
from blog.models import Comment, Post

POST_SUFFIXES = {".md", ".markdown", ".html"}
# Front-matter key a column is written to when the file had none for it.
DEFAULT_KEYS = {
    "source_id": "id",
    "title": "title",
    "date": "date",
    "author": "author",
    "excerpt": "excerpt",
    "layout": "layout",
    "guid": "guid",
    "permalink": "permalink",
    "modified": "modified_time",
    "blogger_blog": "blogger_blog",
    "blogger_author": "blogger_author",
    "blogger_internal": "blogger_internal",
    "categories": "categories",
    "tags": "tags",
}


@dataclass
class ExportResult:
    written: int = 0
    unchanged: int = 0
    paths: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.written + self.unchanged

    def summary(self) -> str:
        """Return the one-line summary the command prints."""
        return (
            f"exported {self.total} posts: written {self.written}, unchanged {self.unchanged} in {self.seconds:.1f} s"
        )


def export_posts(
    directory: str | os.PathLike,
    *,
    drafts: bool = False,
    since: date | datetime | None = None,
    dry_run: bool = False,
) -> ExportResult:
    """Export published posts and pages (and drafts when asked) into `directory`; return the counts."""
    started = time.perf_counter()
    root = Path(directory)
    result = ExportResult()
    posts = (
        Post.objects.select_related("author")
        .prefetch_related("categories", "tags", Prefetch("comments", exported_comments(), to_attr="exported_comments"))
        .order_by("date", "pk")
    )
    if not drafts:
        posts = posts.filter(status=Post.Status.PUBLISHED)
    if since is not None:
        posts = posts.filter(date__gte=since) if isinstance(since, datetime) else posts.filter(date__date__gte=since)
    taken: set[str] = set()
    for post in posts.iterator(chunk_size=500):
        relative = export_path(post)
        if relative in taken:
            stem, suffix = os.path.splitext(relative)
            relative = f"{stem}-{post.pk}{suffix}"
        taken.add(relative)
        target = root / relative
        data = post_bytes(post)
        if target.exists() and target.read_bytes() == data:
            result.unchanged += 1
        else:
            if not dry_run:
                _write_atomically(target, data)
            result.written += 1
        result.paths.append(target)
    result.seconds = time.perf_counter() - started
    return result


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _zone() -> tzinfo:
    return ZoneInfo(settings.TIME_ZONE)


def _original(post: Post) -> tuple[PostSource | None, PostFields | None]:
    """Return the source a post was imported from and what it meant then, if it was imported."""
    if "_export_original" not in post.__dict__:
        post.__dict__["_export_original"] = _read_original(post)
    source, fields = post.__dict__["_export_original"]
    return (PostSource(**{**source.__dict__, "front_matter": dict(source.front_matter)}) if source else None), fields


def _read_original(post: Post) -> tuple[PostSource | None, PostFields | None]:
    source_format = post.source_format or {}
    if not source_format.get("order"):
        return None, None
    source = PostSource.from_format(source_format, body=post.body)
    if not source.front_matter:
        return source, None
    try:
        fields = frontmatter.read_post(source, path=source_format.get("path", ""), tz=_zone())
    except FrontMatterError:
        return source, None
    return source, fields


def export_path(post: Post) -> str:
    """Return the file a post is exported to, relative to the export folder."""
    _source, original = _original(post)
    suffix = PurePosixPath((post.source_format or {}).get("path", "")).suffix.lower()
    suffix = suffix if suffix in POST_SUFFIXES else ".md"
    slug = original.file_slug if original is not None and original.slug == post.slug else post.slug
    if post.status == Post.Status.DRAFT:
        return f"_drafts/{slug}{suffix}"
    if post.is_page:
        return f"{slug}{suffix}"
    zone = original.date.tzinfo if original is not None else _zone()
    return f"_posts/{post.date.astimezone(zone):%Y-%m-%d}-{slug}{suffix}"


def post_bytes(post: Post) -> bytes:
    """Return the file of a post in the export format."""
    source, original = _original(post)
    if source is None:
        return _clean_source(post).encode("utf-8")
    values: dict[str, Any] = {}
    for key in post.source_format["order"]:
        if key in post.front_matter:
            values[key] = post.front_matter[key]
        elif key in source.front_matter:
            values[key] = source.front_matter[key]
    for key, value in post.front_matter.items():
        values.setdefault(key, value)
    current = _current(post)
    for column, value in current.items():
        before = getattr(original, column) if original is not None else None
        if original is not None and _same_column(column, before, value):
            continue
        keys = (original.keys.get(column) if original is not None else None) or []
        if not keys and column in ("categories", "tags") and _set_in_taxonomies(values, column, value):
            continue
        if not keys and column in DEFAULT_KEYS and _has_value(value):
            keys = [DEFAULT_KEYS[column]]
        for key in keys:
            values[key] = _shaped(column, key, value, source.front_matter.get(key), original)
    if "comments" not in post.front_matter:  # an opaque `comments:` (a theme's switch) is not Kabar's list
        comments = _comment_maps(post)
        if comments or "comments" in (original.keys.get("comments", []) if original is not None else []):
            values["comments"] = comments
    source.front_matter = values
    source.body = post.body
    return frontmatter.serialise(source)


def exported_comments():
    """Return the comments an export writes: all but spam and trash (as jekyll-import), in source order."""
    return Comment.objects.exclude(status__in=[Comment.Status.SPAM, Comment.Status.TRASH]).order_by("pk")


def _comment_maps(post: Post) -> list[dict[str, Any]]:
    """Return a post's comments as jekyll-import's `comments:` list, each map as its source wrote it."""
    comments = post.__dict__.get("exported_comments")
    if comments is None:
        comments = exported_comments().filter(post=post)
    return [comment_map(comment) for comment in comments]


def comment_map(comment: Comment) -> dict[str, Any]:
    """Return one comment as a `comments:` item: the source's keys in its order, values from the columns.

    A value whose meaning is unchanged is written as the source had it (an `id` that was a
    number stays a number, a date keeps its text); a comment without a source map gets
    jekyll-import's keys, plus `parent`, `type` and `status` when they are not the defaults.
    """
    original = dict(comment.source_data or {}) or dict.fromkeys(frontmatter.COMMENT_KEYS)
    values: dict[str, Any] = {}
    for key, was in original.items():
        column = frontmatter.COMMENT_COLUMN_KEYS.get(key)
        values[key] = getattr(comment, column) if column else was
    if str(values.get("id")) != comment.source_id:
        values["id"] = int(comment.source_id) if comment.source_id.isdigit() else comment.source_id
    zone = _zone()
    try:
        unchanged = frontmatter.read_comments([values], tz=zone)[0].date == comment.date
    except FrontMatterError:
        unchanged = False
    if not unchanged:
        if isinstance(original.get("date"), str):
            zone = frontmatter.parse_date(original["date"], tz=zone).tzinfo or zone
        values["date"] = frontmatter.format_date(comment.date.astimezone(zone), like=original.get("date"))
        values["date_gmt"] = frontmatter.format_date(comment.date.astimezone(UTC), like=original.get("date_gmt"))
    parent = comment.parent_source_id
    if str(original.get("parent") or "") != parent:
        values["parent"] = (int(parent) if parent.isdigit() else parent) or None
    if frontmatter.wordpress_type(original.get("type")) != comment.type:
        values["type"] = comment.type
    was_status = original.get("status")
    if (Comment.Status.APPROVED if was_status is None else frontmatter.wordpress_status(was_status)) != comment.status:
        values["status"] = comment.status
    return values


def _has_value(value: Any) -> bool:
    return value not in (None, "", [], set())


def _set_in_taxonomies(values: dict[str, Any], column: str, names: list[str]) -> bool:
    """Write categories/tags into a Hugo `taxonomies:` map when that is where the file kept them."""
    taxonomies = values.get("taxonomies")
    if not isinstance(taxonomies, dict) or column not in taxonomies:
        return False
    values["taxonomies"] = {**taxonomies, column: names}
    return True


def _current(post: Post) -> dict[str, Any]:
    return {
        "source_id": post.source_id,
        "title": post.title,
        "slug": post.slug,
        "date": post.date,
        "modified": post.modified,
        "author": post.author,
        "excerpt": post.excerpt,
        "layout": post.layout,
        "guid": post.guid,
        "permalink": post.permalink,
        "status": frontmatter.DRAFT if post.status == Post.Status.DRAFT else frontmatter.PUBLISHED,
        "blogger_blog": list(post.blogger_blog),
        "blogger_author": list(post.blogger_author),
        "blogger_internal": list(post.blogger_internal),
        "categories": [category.name for category in post.categories.all()],
        "tags": [tag.name for tag in post.tags.all()],
    }


def _same_column(column: str, before: Any, after: Any) -> bool:
    if column == "author":
        return (before.slug if before else frontmatter.make_slug(settings.IMPORT_DEFAULT_AUTHOR)) == after.slug
    if column in ("categories", "tags"):
        return {frontmatter.make_slug(name) or name.lower() for name in before} == {
            frontmatter.make_slug(name) or name.lower() for name in after
        }
    return before == after


def _shaped(column: str, key: str, value: Any, was: Any, original: PostFields | None) -> Any:
    """Return a column's value for `key`, in the shape the file used for it."""
    if column in ("date", "modified"):
        if value is None:
            return None
        zone = original.date.tzinfo if original is not None else _zone()
        return frontmatter.format_date(value.astimezone(zone), like=was)
    if column == "author":
        if isinstance(was, dict):
            return {**was, "login": value.name, "display_name": value.display_name, "email": value.email}
        return value.name
    if column == "status":
        if key == "published":
            return value == frontmatter.PUBLISHED
        return "publish" if value == frontmatter.PUBLISHED else "draft"
    if column in ("categories", "tags"):
        names = _ordered_names(value, frontmatter.split_names(was))
        if isinstance(was, str):
            return (", " if "," in was else " ").join(names)
        return names
    if column == "source_id" and isinstance(was, str):
        return str(value)
    return value


def _ordered_names(names: list[str], before: list[str]) -> list[str]:
    """Return `names` with the ones the file had first, in the file's order, then the new ones sorted."""
    by_slug = {frontmatter.make_slug(name) or name.lower(): name for name in names}
    kept = [name for name in before if (frontmatter.make_slug(name) or name.lower()) in by_slug]
    kept_slugs = {frontmatter.make_slug(name) or name.lower() for name in kept}
    added = sorted(name for slug, name in by_slug.items() if slug not in kept_slugs)
    return kept + added


def _clean_source(post: Post) -> str:
    """Return the file of a post created in the admin, keys in the exporter's order."""
    values: dict[str, Any] = {}
    if post.source_id is not None:
        values["id"] = post.source_id
    values["title"] = post.title
    values["date"] = frontmatter.format_date(post.date.astimezone(_zone()))
    values["author"] = post.author.name
    if post.excerpt:
        values["excerpt"] = post.excerpt
    values["layout"] = post.layout
    if post.guid:
        values["guid"] = post.guid
    values["permalink"] = post.permalink
    for key in ("blogger_blog", "blogger_author", "blogger_internal"):
        if getattr(post, key):
            values[key] = list(getattr(post, key))
    values.update((key, value) for key, value in post.front_matter.items() if key not in values)
    categories = sorted(category.name for category in post.categories.all())
    tags = sorted(tag.name for tag in post.tags.all())
    if categories:
        values["categories"] = categories
    if tags:
        values["tags"] = tags
    if "comments" not in values:
        comments = _comment_maps(post)
        if comments:
            values["comments"] = comments
    return frontmatter.serialise_text(PostSource(front_matter=values, body=post.body))
