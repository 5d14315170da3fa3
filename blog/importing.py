"""Import export-format files (a file, a folder, a .zip) into posts: idempotent, atomic per file.

Files are read one at a time and handled in batches: one query per batch finds the files
already imported unchanged (by content hash, before any parsing), one query finds the rows
the others are about (by id, guid, permalink, slug). Authors, categories and tags are looked
up once per run and cached. Each file is then written in its own transaction.
"""

import functools
import hashlib
import logging
import multiprocessing
import os
import time
import traceback
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from taggit.models import Tag, TaggedItem

from blog import frontmatter, rendering, xml_exports
from blog.caching import batched_changes, content_changed
from blog.comments import CommentImportResult, upsert_comments
from blog.frontmatter import FrontMatterError, NoFrontMatterError, PostFields
from blog.links import relinking
from blog.models import Attachment, Author, Category, MenuItem, Post, RemoteImage, site_host

POST_SUFFIXES = {".md", ".markdown", ".html"}
EXPORT_SUFFIXES = {".xml", ".atom"}
# Folders of a Jekyll site that hold templates and build output, not posts.
SKIPPED_FOLDERS = {"_layouts", "_includes", "_site", "_data", "_sass", "node_modules"}
BATCH_SIZE = 200

logger = logging.getLogger(__name__)

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
FAILED = "failed"
SKIPPED = "skipped"  # a file of a folder that is not a post (no front matter: a README, a layout)


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    tracebacks: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    comments: CommentImportResult = field(default_factory=CommentImportResult)
    # Problems that did not stop a file's post from being imported (a comment that could not be).
    warnings: list[tuple[str, str]] = field(default_factory=list)
    # What WordPress and Blogger exports held: posts, pages, comments, attachments, menu items…
    contents: Counter = field(default_factory=Counter)
    skipped_types: Counter = field(default_factory=Counter)
    exports: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed

    @property
    def rate(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        """Return the one-line summary the command prints."""
        skipped = f", skipped {self.skipped} not posts" if self.skipped else ""
        comments = self.comments
        comment_counts = (
            f"; comments: created {comments.created}, updated {comments.updated}, failed {comments.failed}"
            if comments.created or comments.updated or comments.failed
            else ""
        )
        line = (
            f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
            f"failed {self.failed}{skipped}{comment_counts} in {self.seconds:.{2 if self.seconds < 10 else 1}f} s "
            f"({self.rate:.0f} posts/s)"
        )
        if self.exports:
            held = ", ".join(
                f"{self.contents[name]} {name if self.contents[name] != 1 else name[:-1]}" for name in EXPORT_COUNTS
            )
            skipped = sum(self.skipped_types.values())
            kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.skipped_types.items()))
            line += f"; the export held {held}; skipped {skipped}" + (f" ({kinds})" if kinds else "")
        return line


EXPORT_COUNTS = ("posts", "pages", "comments", "attachments", "menu items")


@dataclass
class SourceFile:
    """One file to import: where to report it, its path inside the import root, its bytes or why not."""

    label: str
    path: str
    data: bytes | None = None
    error: str = ""
    listed: bool = False
    rendered: "rendering.Rendered | None" = None  # made by the parallel renderer, when it ran
    comments: CommentImportResult | None = None  # what happened to the file's comments
    warnings: list[str] = field(default_factory=list)
    # A WordPress/Blogger export read so far: its terms are written before its first post,
    # its attachments and menus after its last one (`export_done`).
    export: "xml_exports.ExportContents | None" = None
    export_done: bool = False
    source: "frontmatter.PostSource | None" = None  # an export's post, parsed already


@dataclass
class _Row:
    pk: int
    source_id: int | None
    guid: str
    permalink: str
    slug: str
    source_host: str = ""
    source_path: str = ""


class _Index:
    """Known posts of one batch by each identity key, kept current as the batch is written.

    A WordPress id names a post within its blog: with `scope_to_host` the id of a file from
    another host (of its guid or wordpress_url) is another post, so a second blog can be
    imported beside the first.
    """

    def __init__(self, *, scope_to_host: bool = False) -> None:
        self.scope_to_host = scope_to_host
        self.by_source_id: dict[tuple[str, int], _Row] = {}
        self.by_guid: dict[str, _Row] = {}
        self.by_permalink: dict[str, _Row] = {}
        self.by_slug: dict[str, list[_Row]] = {}
        self.by_file_name: dict[str, list[_Row]] = {}
        # Whether any remote image is cached at all: when none is, a new post's HTML has
        # nothing to point at local files, and rendering skips the look-up.
        self.any_cached_images = True

    def id_key(self, source_id: int | None, host: str) -> tuple[str, int] | None:
        if source_id is None:
            return None
        return (host if self.scope_to_host else "", source_id)

    def by_id(self, source_id: int | None, host: str) -> _Row | None:
        return self.by_source_id.get(self.id_key(source_id, host))

    def add(self, row: _Row) -> None:
        if row.source_id is not None:
            self.by_source_id[self.id_key(row.source_id, row.source_host)] = row
        if row.guid:
            self.by_guid.setdefault(row.guid, row)
        self.by_permalink[row.permalink] = row
        rows = self.by_slug.setdefault(row.slug, [])
        if row not in rows:
            rows.append(row)
        if row.source_path:
            rows = self.by_file_name.setdefault(_file_key(row.source_path), [])
            if row not in rows:
                rows.append(row)

    def remove(self, row: _Row) -> None:
        for mapping, key in (
            (self.by_source_id, self.id_key(row.source_id, row.source_host)),
            (self.by_guid, row.guid),
        ):
            if mapping.get(key) is row:
                del mapping[key]
        if self.by_permalink.get(row.permalink) is row:
            del self.by_permalink[row.permalink]
        if row in self.by_slug.get(row.slug, []):
            self.by_slug[row.slug].remove(row)
        if row.source_path and row in self.by_file_name.get(_file_key(row.source_path), []):
            self.by_file_name[_file_key(row.source_path)].remove(row)

    def find(self, fields: PostFields) -> _Row | None:
        """Return the post a file is about: by id, then guid, then permalink, then file name, then slug."""
        host = site_host(fields.guid, fields.front_matter)
        found = self.by_id(fields.source_id, host)
        if found is not None:
            return found
        candidates = [self.by_guid.get(fields.guid) if fields.guid else None, self.by_permalink.get(fields.permalink)]
        if self.scope_to_host:
            candidates = [row for row in candidates if row is None or row.source_host == host]
        if fields.source_id is None and not fields.guid:
            # Nothing else names it: the one post imported from a file of its name (its permalink,
            # and so its slug, may have changed since), else the one post of its slug.
            for rows in (
                self.by_file_name.get(_file_key(fields.file_slug), []),
                [row for slug in _identity_slugs(fields) for row in self.by_slug.get(slug, [])],
            ):
                same = [row for row in rows if row.source_id is None and not row.guid]
                if len(same) == 1:
                    candidates.append(same[0])
                    break
        for row in candidates:
            # A row with another WordPress id is another post, whatever else it shares.
            if row is not None and (row.source_id is None or row.source_id == fields.source_id):
                return row
        return None


class _Lookups:
    """Authors, categories and tags by slug, loaded once per run; misses are created on demand."""

    def __init__(self, *, dry_run: bool, scope_to_host: bool = False) -> None:
        self.dry_run = dry_run
        self.scope_to_host = scope_to_host
        # The file that claimed each id in this run: a second file with it is a conflict.
        self.claimed: dict[tuple[str, int], str] = {}
        self.authors = dict(Author.objects.values_list("slug", "pk"))
        self.categories = dict(Category.objects.values_list("slug", "pk"))
        self.category_names: dict[str, int] = {}
        self.tags = dict(Tag.objects.values_list("slug", "pk"))
        self.tag_names = {name.lower(): pk for name, pk in Tag.objects.values_list("name", "pk")}
        self.post_type = ContentType.objects.get_for_model(Post).pk
        # Hashes of every imported file, read once: finding unchanged files costs no query per file
        # (source_hash has no index, and the body columns before it make a scan per batch slow).
        self.hashes = set(Post.objects.exclude(source_hash="").values_list("source_hash", flat=True))
        # Posts without id or guid by the name of the file they came from, read once likewise:
        # such a file names its post by its file name (source_path has no index either).
        self.by_file_name: dict[str, list[int]] = {}
        for pk, source_path in (
            Post.objects.filter(source_id__isnull=True, guid="")
            .exclude(source_path="")
            .values_list("pk", "source_path")
        ):
            self.by_file_name.setdefault(_file_key(source_path), []).append(pk)

    def author(self, fields: PostFields) -> int | None:
        author = fields.author or frontmatter.AuthorFields(
            name=settings.IMPORT_DEFAULT_AUTHOR, slug=frontmatter.make_slug(settings.IMPORT_DEFAULT_AUTHOR) or "admin"
        )
        if author.slug not in self.authors and not self.dry_run:
            self.authors[author.slug] = Author.objects.create(
                name=author.name, slug=author.slug, display_name=author.display_name, email=author.email
            ).pk
        return self.authors.get(author.slug)

    def category_ids(self, names: list[str]) -> list[int]:
        ids = []
        for name in names:
            # An export's categories were made from its own slugs (apply_terms): found by name.
            pk = self.category_names.get(name.lower())
            slug = frontmatter.make_slug(name) or name
            if pk is None and slug not in self.categories and not self.dry_run:
                self.categories[slug] = Category.objects.create(name=name, slug=slug).pk
            pk = pk or self.categories.get(slug)
            if pk is not None and pk not in ids:
                ids.append(pk)
        return ids

    def apply_terms(self, terms: list[xml_exports.Term]) -> None:
        """Create an export's categories (with their slugs, descriptions and parents) and tags."""
        categories = [term for term in terms if term.taxonomy == "category"]
        for term in categories:
            slug = frontmatter.make_slug(term.slug) or frontmatter.make_slug(term.name) or term.slug
            if slug not in self.categories and not self.dry_run:
                self.categories[slug] = Category.objects.create(
                    name=term.name[:200], slug=slug[:200], description=term.description
                ).pk
            if slug in self.categories:
                self.category_names[term.name.lower()] = self.categories[slug]
        if not self.dry_run:
            for term in categories:
                slug = frontmatter.make_slug(term.slug) or term.slug
                parent = self.categories.get(frontmatter.make_slug(term.parent) or term.parent) if term.parent else None
                if slug in self.categories and parent != self.categories[slug]:
                    Category.objects.filter(pk=self.categories[slug]).exclude(parent_id=parent).update(parent_id=parent)
        for term in terms:
            if term.taxonomy != "post_tag" or self.dry_run:
                continue
            slug = frontmatter.make_slug(term.slug) or term.slug
            if slug not in self.tags and term.name.lower() not in self.tag_names:
                self.tags[slug] = self.tag_names[term.name.lower()] = Tag.objects.create(
                    name=term.name[:100], slug=slug[:100]
                ).pk

    def tag_ids(self, names: list[str]) -> list[int]:
        ids = []
        for name in names:
            slug = frontmatter.make_slug(name) or name
            pk = self.tags.get(slug) or self.tag_names.get(name.lower())
            if pk is None and not self.dry_run:
                pk = Tag.objects.create(name=name, slug=slug).pk
                self.tags[slug] = self.tag_names[name.lower()] = pk
            if pk is not None and pk not in ids:
                ids.append(pk)
        return ids

    def forget_new(self) -> None:
        """Drop cached rows a rolled-back transaction may have taken with it."""
        self.authors = dict(Author.objects.values_list("slug", "pk"))
        self.categories = dict(Category.objects.values_list("slug", "pk"))
        known = set(self.categories.values())
        self.category_names = {name: pk for name, pk in self.category_names.items() if pk in known}
        self.tags = dict(Tag.objects.values_list("slug", "pk"))
        self.tag_names = {name.lower(): pk for name, pk in Tag.objects.values_list("name", "pk")}


def iter_files(paths: Iterable[str | os.PathLike]) -> Iterator[SourceFile]:
    """Yield every file to import under `paths` (files, folders, .zip archives), reading lazily."""
    cap = settings.IMPORT_MAX_FILE_BYTES
    # WordPress attachments by id, across the export files of this run: a split export's post
    # finds its featured image in a file read before its own.
    attachments: dict = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            tree = path.resolve()
            # os.walk does not enter linked folders; linked files are checked below.
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_FOLDERS)
                for name in sorted(names):
                    suffix = Path(name).suffix.lower()
                    if name.startswith("."):
                        continue
                    file_path = Path(root, name)
                    if suffix in POST_SUFFIXES:
                        relative = file_path.relative_to(path).as_posix()
                        if file_path.is_symlink() and not file_path.resolve().is_relative_to(tree):
                            # Whoever made the folder (an unpacked upload, a shared checkout) may
                            # point a link at any file this process can read: stay in the tree.
                            yield SourceFile(
                                label=str(file_path),
                                path=relative,
                                error="is a symbolic link to a file outside the folder: not followed",
                            )
                            continue
                        yield _read_file(file_path, _in_drafts(path, relative), cap, listed=False)
                    elif suffix in EXPORT_SUFFIXES:
                        if file_path.is_symlink() and not file_path.resolve().is_relative_to(tree):
                            yield SourceFile(
                                label=str(file_path),
                                path=file_path.relative_to(path).as_posix(),
                                error="is a symbolic link to a file outside the folder: not followed",
                                listed=True,
                            )
                            continue
                        yield from _iter_export(
                            functools.partial(file_path.open, "rb"), str(file_path), attachments=attachments
                        )
        elif path.suffix.lower() == ".zip" and path.is_file():
            yield from _iter_zip(path, cap, attachments=attachments)
        elif path.suffix.lower() in EXPORT_SUFFIXES and path.is_file():
            yield from _iter_export(functools.partial(path.open, "rb"), str(path), listed=True, attachments=attachments)
        else:
            yield _read_file(path, _in_drafts(path.parent, path.name), cap, listed=True)


def _in_drafts(folder: Path, relative: str) -> str:
    """Return `relative` under '_drafts/' when the folder given is itself a drafts folder."""
    return f"_drafts/{relative}" if "_drafts" in folder.absolute().parts else relative


def _read_file(path: Path, relative: str, cap: int, *, listed: bool) -> SourceFile:
    source = SourceFile(label=str(path), path=relative, listed=listed)
    try:
        if path.stat().st_size > cap:
            source.error = f"is larger than the {_size(cap)} limit (IMPORT_MAX_FILE_BYTES)"
        else:
            source.data = path.read_bytes()
    except FileNotFoundError:
        source.error = "does not exist"
    except IsADirectoryError:
        source.error = "is a folder, not a file"
    except OSError as exc:
        source.error = f"cannot be read: {exc.strerror or exc}"
    return source


def _iter_zip(path: Path, cap: int, *, attachments: dict) -> Iterator[SourceFile]:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        yield SourceFile(label=str(path), path=path.name, error=f"is not a readable zip archive: {exc}", listed=True)
        return
    with archive:
        members = [info for info in archive.infolist() if _is_post_member(info)]
        exports = [info for info in archive.infolist() if _is_post_member(info, suffixes=EXPORT_SUFFIXES)]
        refusal = _archive_refusal(archive.infolist(), members, exports)
        if refusal:
            yield SourceFile(label=str(path), path=path.name, error=refusal, listed=True)
            return
        for info in sorted(members + exports, key=lambda info: info.filename):
            if info in exports:
                yield from _iter_export(
                    lambda info=info: archive.open(info), f"{path}:{info.filename}", attachments=attachments
                )
                continue
            source = SourceFile(label=f"{path}:{info.filename}", path=info.filename)
            try:
                with archive.open(info) as stream:
                    data = stream.read(cap + 1)  # the header's size may lie; never read past the cap
                if len(data) > cap:
                    source.error = f"is larger than the {_size(cap)} limit (IMPORT_MAX_FILE_BYTES)"
                else:
                    source.data = data
            except (OSError, zipfile.BadZipFile, RuntimeError) as exc:
                source.error = f"cannot be read from the archive: {exc}"
            yield source


def _iter_export(
    open_stream: Callable[[], Any], label: str, *, listed: bool = False, attachments: dict | None = None
) -> Iterator[SourceFile]:
    """Yield the posts of a WordPress or Blogger export as files of the export format.

    Each post becomes the file the WordPress "to Jekyll" exporter (or jekyll-import) would
    have written for it, so it takes the very path a Markdown file takes. Before them comes
    a marker with the export's terms, after them one with its attachments and menus.
    """
    cap = settings.IMPORT_MAX_FILE_BYTES
    try:
        export = xml_exports.open_export(open_stream, label=label, known_attachments=attachments)
    except (OSError, zipfile.BadZipFile, RuntimeError) as exc:
        yield SourceFile(label=label, path="", error=f"cannot be read: {exc}", listed=True)
        return
    if export is None:
        if listed:
            yield SourceFile(label=label, path="", error="is not a WordPress (WXR) or Blogger export", listed=True)
        return
    try:
        export.scan()
        yield SourceFile(label=label, path="", export=export.contents)
        for item in export.items():
            # The file the exporter would have written: each key's text as export_posts writes it back.
            item.source.raw = {key: frontmatter.dump_key(key, value) for key, value in item.source.front_matter.items()}
            data = f"---\n{''.join(item.source.raw.values())}---\n{item.source.body}".encode()
            source = SourceFile(label=item.label, path=item.path, listed=True)
            if len(data) > cap:
                source.error = f"is larger than the {_size(cap)} limit (IMPORT_MAX_FILE_BYTES)"
            else:
                source.data, source.source = data, item.source  # parsed already: no need to read it back
            yield source
    except xml_exports.XmlExportError as exc:
        yield SourceFile(label=label, path="", error=str(exc), listed=True)
        return
    except (OSError, zipfile.BadZipFile, RuntimeError) as exc:
        yield SourceFile(label=label, path="", error=f"cannot be read: {exc}", listed=True)
        return
    yield SourceFile(label=label, path="", export=export.contents, export_done=True)


def _is_post_member(info: zipfile.ZipInfo, *, suffixes: set[str] = POST_SUFFIXES) -> bool:
    member = PurePosixPath(info.filename)
    if info.is_dir() or member.suffix.lower() not in suffixes or member.name.startswith("."):
        return False
    return not any(part.startswith(".") or part in SKIPPED_FOLDERS for part in member.parts[:-1])


def _archive_refusal(
    infos: list[zipfile.ZipInfo], members: list[zipfile.ZipInfo], exports: list[zipfile.ZipInfo] = ()
) -> str:
    """Return why a whole archive is refused (too many members, too many bytes once unpacked), or ''."""
    if len(infos) > settings.IMPORT_MAX_ARCHIVE_FILES:
        return (
            f"has {len(infos):,} members, more than the {settings.IMPORT_MAX_ARCHIVE_FILES:,} "
            "accepted (IMPORT_MAX_ARCHIVE_FILES); nothing of it was imported"
        )
    # Reading a member never goes past its declared size, nor past the file cap: this bounds the
    # bytes the import will unpack before any of it is read.
    total = sum(min(info.file_size, settings.IMPORT_MAX_FILE_BYTES + 1) for info in members)
    # An export is read as a stream, never past its declared size: all of it counts.
    total += sum(info.file_size for info in exports)
    if total > settings.IMPORT_MAX_ARCHIVE_BYTES:
        return (
            f"unpacks to {_size(total)} of posts, more than the {_size(settings.IMPORT_MAX_ARCHIVE_BYTES)} "
            "accepted (IMPORT_MAX_ARCHIVE_BYTES); nothing of it was imported"
        )
    return ""


def _size(count: int) -> str:
    return f"{count / 1_000_000:g} MB" if count >= 1_000_000 else f"{count} bytes"


def _batches(items: Iterable[SourceFile], size: int) -> Iterator[list[SourceFile]]:
    batch: list[SourceFile] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# Below this many files to write in a batch, rendering in the importing process is cheaper
# than handing the bodies to other processes.
PARALLEL_RENDER_MIN_FILES = 64


class _ParallelRenderer:
    """Render post bodies on every core while the importing process writes to the database.

    Rendering is most of an import's cost and is pure (text in, HTML out), so it runs in a
    pool of worker processes, started once per import, one batch ahead of the writes. The
    workers read their settings from the environment (DJANGO_SETTINGS_MODULE), as every Kabar
    process does.
    """

    def __init__(self) -> None:
        self.workers = os.cpu_count() or 1
        self.pool: ProcessPoolExecutor | None = None

    def submit(self, items: list[tuple[str, str]]) -> list[Future | None] | None:
        """Start rendering each (body, excerpt); None when each save had better render its own."""
        if self.workers < 2 or len(items) < PARALLEL_RENDER_MIN_FILES:
            return None
        if self.pool is None:
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
        # A body that names front-matter values ({{ title }}) is rendered by its save, from the
        # post's own fields (rare: not worth sending the values across).
        return [None if "{{" in item[0] else self.pool.submit(rendering.render_pair, item) for item in items]

    def results(self, futures: list[Future | None]) -> list[rendering.Rendered | None]:
        """Return what the workers rendered; None for each body when the pool broke down.

        A pool cannot start, for one, when the importing program is a script without an
        `if __name__ == "__main__":` guard. Each save then renders its own body, as in a
        small import: slower, never wrong.
        """
        outputs: list[rendering.Rendered | None] = []
        for future in futures:
            try:
                outputs.append(future.result() if future is not None else None)
            except BrokenProcessPool:
                logger.warning("import: the render worker processes stopped; rendering in this process")
                self.workers = 1
                return [None] * len(futures)
            except Exception:
                # One body the renderer fails on: its own save renders it again and reports the
                # file, inside the per-file fallback; the rest of the batch keeps its output.
                outputs.append(None)
        return outputs

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


@dataclass
class _Batch:
    """A batch of files read and parsed, waiting to be written."""

    parsed: list[tuple[SourceFile, frontmatter.PostSource, PostFields]]
    hashes: dict[int, str]
    rendering: list[Future | None] | None = None


def import_paths(
    paths: Iterable[str | os.PathLike],
    *,
    dry_run: bool = False,
    scope_to_host: bool = False,
    progress: Callable[[str, str], None] | None = None,
) -> ImportResult:
    """Import the posts in `paths` (files, folders, .zip archives) and return what happened.

    `scope_to_host`: a WordPress id names a post of one blog (the host of its guid or
    wordpress_url), so posts of a second blog with the same ids are new posts, not updates.
    """
    started = time.perf_counter()
    result = ImportResult()
    lookups = _Lookups(dry_run=dry_run, scope_to_host=scope_to_host)
    renderer = _ParallelRenderer()

    def report(item: SourceFile, outcome: str, reason: str = "") -> None:
        if outcome == FAILED:
            result.failed += 1
            result.failures.append((item.label, reason))
        elif outcome == SKIPPED:
            result.skipped += 1
        else:
            setattr(result, outcome, getattr(result, outcome) + 1)
        result.warnings.extend((item.label, warning) for warning in item.warnings)
        if item.comments is not None:
            result.comments.add(item.comments)
        if progress is not None:
            progress(item.label, outcome)

    def write(batch: _Batch) -> None:
        with batched_changes():  # readers' cached pages go stale once per batch, not per post
            _write_parsed(batch, lookups=lookups, result=result, dry_run=dry_run, report=report, renderer=renderer)
        if settings.DEBUG and not connection.force_debug_cursor:
            # With DEBUG on Django keeps the last 9,000 queries, each INSERT with its post's body and
            # HTML: hundreds of MB on a large import. Nobody is capturing them here, so let them go.
            connection.queries_log.clear()

    finished: list[xml_exports.ExportContents] = []

    def posts_only(files: Iterable[SourceFile]) -> Iterator[SourceFile]:
        for item in files:
            if item.export is None:
                yield item
            elif item.export_done:
                finished.append(item.export)
            else:
                lookups.apply_terms(item.export.terms)

    waiting: _Batch | None = None
    # Links between the posts of this run resolve once they are all written (a post may link
    # to one that comes later).
    with relinking.deferred(), closing(renderer):
        for files in _batches(posts_only(iter_files(paths)), BATCH_SIZE):
            batch = _parse_batch(
                files,
                known=lookups.hashes,
                report=report,
                on_bug=lambda item, text: result.tracebacks.append((item.label, text)),
            )
            if not dry_run and batch.parsed:
                batch.rendering = renderer.submit(
                    [(source.body, fields.excerpt) for _i, source, fields in batch.parsed]
                )
            # The workers render this batch while the previous one is written.
            if waiting is not None:
                write(waiting)
            waiting = batch
        if waiting is not None:
            write(waiting)
    for contents in finished:
        result.exports += 1
        result.contents.update(contents.counts)
        result.skipped_types.update(contents.skipped)
        if not dry_run:
            write_attachments(attachments=list(contents.attachments.values()))
            write_menus(items=contents.menu_items, terms=contents.terms, site_url=contents.site_url)
    result.seconds = time.perf_counter() - started
    return result


def write_attachments(*, attachments: list[xml_exports.AttachmentSource]) -> int:
    """Store an export's attachments and tell the image cache their files; return how many changed.

    Each attachment is found again by its WordPress id. Its file's URL becomes a pending
    record of the image cache, linked to the post it belongs to, so `cache_images` copies it.
    """
    changed = 0
    for start in range(0, len(attachments), 500):
        chunk = attachments[start : start + 500]
        parents = {item.parent for item in chunk if item.parent}
        post_ids = dict(Post.objects.filter(source_id__in=parents).values_list("source_id", "pk"))
        with transaction.atomic():
            existing = {
                row.source_id: row for row in Attachment.objects.filter(source_id__in=[a.source_id for a in chunk])
            }
            new, updated = [], []
            for item in chunk:
                values = {
                    "url": item.url[:2000],
                    "title": item.title[:500],
                    "link_path": item.link[:500] if "?" not in item.link else "",
                    "post_id": post_ids.get(item.parent),
                }
                row = existing.get(item.source_id)
                if row is None:
                    new.append(Attachment(source_id=item.source_id, **values))
                elif any(getattr(row, name) != value for name, value in values.items()):
                    for name, value in values.items():
                        setattr(row, name, value)
                    updated.append(row)
            Attachment.objects.bulk_create(new)
            Attachment.objects.bulk_update(updated, ["url", "title", "link_path", "post"])
            urls = list(dict.fromkeys(item.url[:2000] for item in chunk))
            RemoteImage.objects.bulk_create([RemoteImage(url=url) for url in urls], ignore_conflicts=True)
            images = dict(RemoteImage.objects.filter(url__in=urls).values_list("url", "pk"))
            through = RemoteImage.posts.through
            links = [
                through(remoteimage_id=images[item.url[:2000]], post_id=post_ids[item.parent])
                for item in chunk
                if item.parent in post_ids and item.url[:2000] in images
            ]
            through.objects.bulk_create(links, ignore_conflicts=True)
        changed += len(new) + len(updated)
    return changed


def _menu_url(url: str, *, site_url: str) -> str:
    """Return a custom menu link as the site can show it: a path for the old site's own pages, '' if unsafe."""
    url = url.strip()
    parts = urlsplit(url)
    site = urlsplit(site_url)
    if parts.scheme in ("http", "https") and site.netloc and parts.netloc.lower() == site.netloc.lower():
        return urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    if (
        parts.scheme in ("http", "https", "mailto")
        or url.startswith("#")
        or (url.startswith("/") and not url.startswith("//"))
    ):
        return url[:2000]
    return ""


def write_menus(*, items: list[xml_exports.MenuItemSource], terms: list[xml_exports.Term], site_url: str) -> int:
    """Store an export's navigation menus, each item linked to the post, page or category it names."""
    if not items:
        return 0
    term_slugs = {
        (term.taxonomy, term.term_id): frontmatter.make_slug(term.slug) or term.slug for term in terms if term.term_id
    }
    post_ids = dict(
        Post.objects.filter(source_id__in=[item.object_id for item in items if item.kind == "post_type"]).values_list(
            "source_id", "pk"
        )
    )
    category_ids = dict(
        Category.objects.filter(
            slug__in=[slug for (taxonomy, _id), slug in term_slugs.items() if taxonomy == "category"]
        ).values_list("slug", "pk")
    )
    changed = 0
    with transaction.atomic():
        existing = {row.source_id: row for row in MenuItem.objects.filter(source_id__in=[i.source_id for i in items])}
        rows: dict[int, MenuItem] = {}
        for item in items:
            values: dict[str, Any] = {
                "menu": (frontmatter.make_slug(item.menu) or "menu")[:200],
                "title": item.title[:500],
                "order": item.order,
                "post_id": None,
                "category_id": None,
                "url": "",
            }
            if item.kind == "post_type":
                values["post_id"] = post_ids.get(item.object_id)
            elif item.kind == "taxonomy" and item.object == "category":
                values["category_id"] = category_ids.get(term_slugs.get(("category", item.object_id), ""))
            elif item.kind == "taxonomy" and item.object == "post_tag":
                slug = term_slugs.get(("post_tag", item.object_id))
                values["url"] = f"/tag/{slug}/" if slug else ""
            else:
                values["url"] = _menu_url(item.url, site_url=site_url)
            if not (values["post_id"] or values["category_id"] or values["url"]):
                continue  # what it linked to is not on this site
            row = existing.get(item.source_id) or MenuItem(source_id=item.source_id)
            if row.pk is None or any(getattr(row, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(row, name, value)
                row.save()
                changed += 1
            rows[item.source_id] = row
        for item in items:
            row, parent = rows.get(item.source_id), rows.get(item.parent) if item.parent else None
            parent_id = parent.pk if parent is not None else None
            if row is not None and row.parent_id != parent_id:
                MenuItem.objects.filter(pk=row.pk).update(parent_id=parent_id)
                changed += 1
    if changed:
        content_changed()
    return changed


def _parse_batch(
    files: list[SourceFile], *, known: set[str], report: Callable[..., None], on_bug: Callable[[SourceFile, str], None]
) -> _Batch:
    """Read and parse a batch; report the files that fail, are skipped or are unchanged."""
    hashes = {id(item): hashlib.sha256(item.data).hexdigest() for item in files if item.data is not None}
    parsed: list[tuple[SourceFile, frontmatter.PostSource, PostFields]] = []
    for item in files:
        if item.error:
            report(item, FAILED, item.error)
        elif hashes[id(item)] in known:
            report(item, UNCHANGED)
        else:
            try:
                # An export's post comes parsed already (built by xml_exports, no YAML to guard).
                source = item.source or frontmatter.parse(
                    item.data,
                    max_nodes=settings.IMPORT_MAX_FRONT_MATTER_NODES,
                    max_bytes=settings.IMPORT_MAX_FRONT_MATTER_BYTES,
                )
                fields = frontmatter.read_post(source, path=item.path, tz=settings.TIME_ZONE)
            except NoFrontMatterError as exc:
                # In a folder, a text file that does not start with front matter is not a post (README.md).
                if item.listed:
                    report(item, FAILED, str(exc))
                else:
                    report(item, SKIPPED)
            except FrontMatterError as exc:
                report(item, FAILED, str(exc))
            except Exception as exc:  # a bug must not stop the run: this file fails, the others go on
                report(item, FAILED, f"could not be read: {type(exc).__name__}: {exc}")
                on_bug(item, traceback.format_exc())
            else:
                # Checked before rendering: a body over the limit must not reach the render workers.
                too_long = _too_long(fields, body=source.body)
                if too_long:
                    report(item, FAILED, too_long)
                else:
                    parsed.append((item, source, fields))
        item.data = item.source = None  # stream: let the bytes go as soon as they are parsed
    return _Batch(parsed, hashes)


def _write_parsed(
    batch: _Batch,
    *,
    lookups: _Lookups,
    result: ImportResult,
    dry_run: bool,
    report: Callable[..., None],
    renderer: _ParallelRenderer,
) -> None:
    """Write a parsed batch (or, in a dry run, find out what would happen) and report each file."""
    parsed, hashes = batch.parsed, batch.hashes
    if dry_run:
        index = _index_for([fields for _item, _source, fields in parsed], lookups=lookups)
        outcomes = [
            (item, *_import_one(item, source, fields, source_hash="", index=index, lookups=lookups, dry_run=True))
            for item, source, fields in parsed
        ]
    elif parsed:
        if batch.rendering is not None:
            for (item, _source, _fields), output in zip(parsed, renderer.results(batch.rendering), strict=True):
                item.rendered = output
        outcomes = _write_batch(parsed, hashes, lookups=lookups, result=result)
    else:
        outcomes = []
    for item, outcome, reason in outcomes:
        if outcome in (CREATED, UPDATED):
            lookups.hashes.add(hashes[id(item)])
        item.rendered = None
        report(item, outcome, reason)


def _write_batch(
    parsed: list[tuple[SourceFile, frontmatter.PostSource, PostFields]],
    hashes: dict[int, str],
    *,
    lookups: _Lookups,
    result: ImportResult,
) -> list[tuple[SourceFile, str, str]]:
    """Write a batch in one transaction; when any file breaks it, write the batch again file by file."""
    try:
        with transaction.atomic():
            index = _index_for([fields for _item, _source, fields in parsed], lookups=lookups)
            links = _Links(lookups.post_type)
            outcomes = []
            for item, source, fields in parsed:
                outcome, reason = _import_one(
                    item, source, fields, source_hash=hashes[id(item)], index=index, lookups=lookups, links=links
                )
                outcomes.append((item, outcome, reason))
            links.flush()
        return outcomes
    except Exception:
        lookups.forget_new()
    outcomes = []
    with transaction.atomic():
        index = _index_for([fields for _item, _source, fields in parsed], lookups=lookups)
        for item, source, fields in parsed:
            try:
                # A savepoint per file: a file is written whole or not at all.
                with transaction.atomic():
                    links = _Links(lookups.post_type)
                    outcome, reason = _import_one(
                        item, source, fields, source_hash=hashes[id(item)], index=index, lookups=lookups, links=links
                    )
                    links.flush()
            except DatabaseError as exc:
                lookups.forget_new()
                index = _index_for([fields for _item, _source, fields in parsed], lookups=lookups)
                outcome, reason = FAILED, f"could not be saved: {str(exc).strip().splitlines()[0]}"
            except Exception as exc:  # a bug must not stop the run; the file is rolled back and reported
                lookups.forget_new()
                index = _index_for([fields for _item, _source, fields in parsed], lookups=lookups)
                outcome, reason = FAILED, f"could not be imported: {type(exc).__name__}: {exc}"
                result.tracebacks.append((item.label, traceback.format_exc()))
            outcomes.append((item, outcome, reason))
    return outcomes


class _Links:
    """Category and tag links of new posts, inserted together at the end of a transaction."""

    def __init__(self, post_type: int) -> None:
        self.post_type = post_type
        self.categories: list[Any] = []
        self.tags: list[TaggedItem] = []

    def add(self, post_id: int, category_ids: list[int], tag_ids: list[int]) -> None:
        through = Post.categories.through
        self.categories.extend(through(post_id=post_id, category_id=pk) for pk in category_ids)
        self.tags.extend(TaggedItem(content_type_id=self.post_type, object_id=post_id, tag_id=pk) for pk in tag_ids)

    def flush(self) -> None:
        if self.categories:
            Post.categories.through.objects.bulk_create(self.categories, batch_size=500)
        if self.tags:
            TaggedItem.objects.bulk_create(self.tags, batch_size=500)
        self.categories, self.tags = [], []


def _file_key(path: str) -> str:
    """Return the key a post's file name is known by (of a path, or of a file name's slug)."""
    return frontmatter.make_slug(frontmatter.file_name_slug(path))


def _identity_slugs(fields: PostFields) -> list[str]:
    """Return the slugs that name a file's post when nothing else does: its slug and its file name's.

    The slug comes from the permalink when there is one; a post whose permalink changed is still
    the one its file is named after.
    """
    return list(dict.fromkeys(slug for slug in (fields.slug, frontmatter.make_slug(fields.file_slug)) if slug))


def _index_for(fields_list: list[PostFields], *, lookups: "_Lookups") -> _Index:
    index = _Index(scope_to_host=lookups.scope_to_host)
    if not fields_list:
        return index
    source_ids = {fields.source_id for fields in fields_list if fields.source_id is not None}
    guids = {fields.guid for fields in fields_list if fields.guid}
    permalinks = {fields.permalink for fields in fields_list}
    slugs = {
        slug
        for fields in fields_list
        if fields.source_id is None and not fields.guid
        for slug in _identity_slugs(fields)
    }
    same_file = {
        pk
        for fields in fields_list
        if fields.source_id is None and not fields.guid
        for pk in lookups.by_file_name.get(_file_key(fields.file_slug), [])
    }
    rows = Post.objects.filter(
        Q(source_id__in=source_ids)
        | Q(guid__in=guids)
        | Q(permalink__in=permalinks)
        | Q(slug__in=slugs)
        | Q(pk__in=same_file)
    ).values_list("pk", "source_id", "guid", "permalink", "slug", "source_host", "source_path")
    for row in rows:
        index.add(_Row(*row))
    index.any_cached_images = RemoteImage.objects.filter(status=RemoteImage.Status.CACHED).exists()
    return index


def _import_one(
    item: SourceFile,
    source: frontmatter.PostSource,
    fields: PostFields,
    *,
    source_hash: str,
    index: _Index,
    lookups: _Lookups,
    links: "_Links | None" = None,
    dry_run: bool = False,
) -> tuple[str, str]:
    """Write one file's post (or, in a dry run, only find out what would happen); return the outcome."""
    item.comments, item.warnings = None, [f"comments not imported: {error}" for error in fields.comment_errors]
    row = index.find(fields)
    host = site_host(fields.guid, fields.front_matter)
    conflict = _identity_conflict(item, fields, row, host=host, index=index, lookups=lookups)
    if conflict:
        return FAILED, conflict
    holder = index.by_permalink.get(fields.permalink)
    if holder is not None and holder is not row:
        return FAILED, f"permalink {fields.permalink!r} is already used by another post"
    if row is None and index.by_id(fields.source_id, host) is not None:
        return FAILED, f"id {fields.source_id} is already used by another post"
    id_key = index.id_key(fields.source_id, host)
    if dry_run:
        new_row = _Row(row.pk if row else 0, fields.source_id, fields.guid, fields.permalink, fields.slug, host)
        _replace(index, row, new_row)
        if id_key is not None:
            lookups.claimed[id_key] = item.label
        return (UPDATED if row else CREATED), ""
    values = _column_values(item, source, fields, source_hash=source_hash, lookups=lookups)
    category_ids = lookups.category_ids(fields.categories)
    tag_ids = lookups.tag_ids(fields.tags)
    if row is None:
        post = Post(**values)
        if item.rendered is not None:
            post.render(rendered=item.rendered, cached_images=index.any_cached_images)
        post.save()
        links.add(post.pk, category_ids, tag_ids)
    else:
        post = Post.objects.get(pk=row.pk)
        for name, value in values.items():
            setattr(post, name, value)
        if item.rendered is not None:
            post.render(rendered=item.rendered, cached_images=index.any_cached_images)
        post.save()
        _set_relations(post.pk, category_ids, tag_ids, lookups)
    if fields.comments:
        item.comments = upsert_comments(post=post, comments=fields.comments)
        item.warnings.extend(reason for _source_id, reason in item.comments.failures)
    _replace(index, row, _Row(post.pk, fields.source_id, fields.guid, fields.permalink, fields.slug, host, item.label))
    if row is None and fields.source_id is None and not fields.guid:
        lookups.by_file_name.setdefault(_file_key(item.label), []).append(post.pk)
    if id_key is not None:
        lookups.claimed[id_key] = item.label
    return (UPDATED if row else CREATED), ""


def _identity_conflict(
    item: SourceFile, fields: PostFields, row: _Row | None, *, host: str, index: _Index, lookups: _Lookups
) -> str:
    """Return why a file may not take over the post its id names ('' when it may).

    Two blogs both have a post 54: a file whose id matches a post of another host at another
    permalink is another blog's post, and two files of one run with one id cannot both win.
    """
    id_key = index.id_key(fields.source_id, host)
    if id_key is None:
        return ""
    first = lookups.claimed.get(id_key)
    if first is not None and first != item.label:
        return f"id {fields.source_id} is also the id of {first} in this import: not written"
    if (
        row is not None
        and row.source_id == fields.source_id
        and row.source_host
        and host
        and row.source_host != host
        and row.permalink != fields.permalink
    ):
        return (
            f"id {fields.source_id} is already the post {row.permalink} of {row.source_host}"
            f" (imported from {row.source_path or 'the admin'}), this file is {fields.permalink} of {host}:"
            " not overwritten (to import a second blog, use --scope-to-host)"
        )
    return ""


def _too_long(fields: PostFields, *, body: str = "") -> str:
    """Return why the file's values do not fit their columns or limits ('' when they do)."""
    for name in ("title", "slug", "permalink", "guid", "layout"):
        limit = Post._meta.get_field(name).max_length
        if len(getattr(fields, name)) > limit:
            return f"{name} is longer than {limit} characters"
    # The same validators as the admin's form: one rule for a permalink, however it arrives.
    try:
        Post._meta.get_field("permalink").run_validators(fields.permalink)
    except ValidationError as exc:
        return f"permalink: {' '.join(exc.messages)}"
    for name, setting in (("categories", "IMPORT_MAX_CATEGORIES"), ("tags", "IMPORT_MAX_TAGS")):
        limit = getattr(settings, setting)
        if len(getattr(fields, name)) > limit:
            return f"{name}: {len(getattr(fields, name)):,} given, at most {limit:,} per post are accepted ({setting})"
    if len(body) > settings.RENDER_MAX_BODY_CHARS:
        return (
            f"the body is {len(body):,} characters long, "
            f"at most {settings.RENDER_MAX_BODY_CHARS:,} are accepted (RENDER_MAX_BODY_CHARS)"
        )
    return ""


def _replace(index: _Index, old: _Row | None, new: _Row) -> None:
    if old is not None:
        index.remove(old)
    index.add(new)


def _column_values(
    item: SourceFile, source: frontmatter.PostSource, fields: PostFields, *, source_hash: str, lookups: _Lookups
) -> dict[str, Any]:
    source_format = source.to_format()
    source_format["path"] = item.path
    values: dict[str, Any] = {}
    # WordPress's per-post switch (kept as a key for export): 'closed' stops new comments.
    comment_status = str(fields.front_matter.get("comment_status", "")).strip().lower()
    if comment_status in Post.CommentStatus.values:
        values["comment_status"] = comment_status
    return values | {
        "source_id": fields.source_id,
        "title": fields.title,
        "slug": fields.slug,
        "date": fields.date,
        # The offset the file wrote its date with (the site zone's, for a date without one).
        "date_offset": int(fields.date.utcoffset().total_seconds() // 60),
        "modified": fields.modified,
        "author_id": lookups.author(fields),
        "layout": fields.layout,
        "guid": fields.guid,
        "permalink": fields.permalink,
        "blogger_blog": fields.blogger_blog,
        "blogger_author": fields.blogger_author,
        "blogger_internal": fields.blogger_internal,
        "excerpt": fields.excerpt,
        "body": source.body,
        "status": Post.Status.DRAFT if fields.status == frontmatter.DRAFT else Post.Status.PUBLISHED,
        "front_matter": fields.front_matter,
        "source_format": source_format,
        "source_path": item.label[-1000:],
        "source_hash": source_hash,
    }


def _set_relations(post_id: int, category_ids: list[int], tag_ids: list[int], lookups: _Lookups) -> None:
    through = Post.categories.through
    current = set(through.objects.filter(post_id=post_id).values_list("category_id", flat=True))
    if current - set(category_ids):
        through.objects.filter(post_id=post_id, category_id__in=current - set(category_ids)).delete()
    through.objects.bulk_create([through(post_id=post_id, category_id=pk) for pk in category_ids if pk not in current])
    tagged = TaggedItem.objects.filter(content_type_id=lookups.post_type, object_id=post_id)
    current = set(tagged.values_list("tag_id", flat=True))
    if current - set(tag_ids):
        tagged.filter(tag_id__in=current - set(tag_ids)).delete()
    TaggedItem.objects.bulk_create(
        [
            TaggedItem(content_type_id=lookups.post_type, object_id=post_id, tag_id=pk)
            for pk in tag_ids
            if pk not in current
        ]
    )
