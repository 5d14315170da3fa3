"""Comments in and out of the database: the import API every importer calls, and counts.

Importers (the Markdown `comments:` list, WXR, Blogger) turn their comments into
`CommentSource` objects (plain data, see `blog.frontmatter.CommentSource`) and call
`upsert_comments(post=..., comments=[...])`. It is idempotent: a comment is known by its
post and its `source_id`, so importing the same comments again adds nothing, and replies
find their parents by `parent_source_id`, in this call or an earlier one.

    from blog.comments import CommentSource, upsert_comments, wordpress_status, wordpress_type

    result = upsert_comments(
        post=post,
        comments=[
            CommentSource(source_id="12", date=aware_datetime, body="First!", author_name="Ann",
                          status=wordpress_status("1"), type=wordpress_type("")),
            CommentSource(source_id="13", parent_source_id="12", date=..., body="Reply"),
        ],
    )
    result.created, result.updated, result.unchanged, result.failed, result.failures
"""

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from blog.caching import content_changed
from blog.frontmatter import COMMENT_STATUSES, COMMENT_TYPES, CommentSource, wordpress_status, wordpress_type
from blog.models import Comment, Post

__all__ = [
    "CommentImportResult",
    "CommentSource",
    "refresh_comment_counts",
    "upsert_comments",
    "wordpress_status",
    "wordpress_type",
]

# Comment statuses and types counted on a post and shown under it.
SHOWN_STATUS = Comment.Status.APPROVED
# Columns an import writes, compared to tell an update from an unchanged comment.
_IMPORTED_COLUMNS = (
    "parent_source_id",
    "author_name",
    "author_url",
    "author_email",
    "author_ip",
    "user_agent",
    "date",
    "body",
    "type",
    "source_data",
)


@dataclass
class CommentImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (source_id, reason)

    def add(self, other: "CommentImportResult") -> None:
        """Add the counts of `other` to these."""
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed
        self.failures.extend(other.failures)


def _problem(source: CommentSource) -> str:
    """Return why a comment cannot be stored, or ''."""
    if not source.source_id:
        return "has no source id"
    for name in ("source_id", "parent_source_id", "author_name", "author_url", "author_email", "user_agent"):
        limit = Comment._meta.get_field(name).max_length
        if len(getattr(source, name) or "") > limit:
            return f"{name} is longer than {limit} characters"
    if not isinstance(source.date, datetime):
        return f"date {source.date!r} is not a date"
    if source.status is not None and source.status not in COMMENT_STATUSES:
        return f"status {source.status!r} is not one of {', '.join(COMMENT_STATUSES)}"
    if source.type not in COMMENT_TYPES:
        return f"type {source.type!r} is not one of {', '.join(COMMENT_TYPES)}"
    return ""


def _ip(value: str) -> str | None:
    """Return `value` as an IP address, or None when it is none (a source's junk is not kept)."""
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def _values(source: CommentSource) -> dict:
    date = source.date
    if timezone.is_naive(date):
        date = date.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
    return {
        "parent_source_id": "" if source.parent_source_id == source.source_id else source.parent_source_id,
        "author_name": source.author_name or "",
        "author_url": source.author_url or "",
        "author_email": source.author_email or "",
        "author_ip": _ip(source.author_ip),
        "user_agent": source.user_agent or "",
        "date": date,
        "body": source.body or "",
        "type": source.type,
        "source_data": dict(source.source_data),
    }


def upsert_comments(*, post: Post, comments: list[CommentSource]) -> CommentImportResult:
    """Create or update `post`'s comments from their sources; return the counts.

    Idempotent: a comment is identified by (`post`, `source_id`); one already stored is
    updated when a column differs and counted unchanged otherwise. Its status changes only
    when the source states one (so moderation done in Kabar survives a re-import of a
    source that has no status). Replies are linked to their parent by `parent_source_id`
    once both are stored, whatever the order or the call they arrive in. A comment that
    cannot be stored is counted in `failed` with its reason; the others are stored. Comments
    are never deleted here. The post's comment count and the page cache are brought up to
    date. Runs in one transaction; a few queries per call, whatever the number of comments.
    """
    result = CommentImportResult()
    if not comments:
        return result
    with transaction.atomic():
        existing = {comment.source_id: comment for comment in Comment.objects.filter(post=post)}
        new: list[Comment] = []
        changed: list[Comment] = []
        seen: set[str] = set()
        for source in comments:
            source.source_id = str(source.source_id).strip()
            source.parent_source_id = str(source.parent_source_id or "").strip()
            problem = _problem(source) or ("appears twice" if source.source_id in seen else "")
            if problem:
                result.failed += 1
                result.failures.append((source.source_id, f"comment {source.source_id or '?'}: {problem}"))
                continue
            seen.add(source.source_id)
            values = _values(source)
            comment = existing.get(source.source_id)
            if comment is None:
                comment = Comment(post=post, source_id=source.source_id, status=source.status or SHOWN_STATUS, **values)
                comment.render()
                new.append(comment)
                continue
            differs = [name for name, value in values.items() if getattr(comment, name) != value]
            if source.status is not None and comment.status != source.status:
                differs.append("status")
                comment.status = source.status
            if not differs:
                result.unchanged += 1
                continue
            for name in differs:
                if name != "status":
                    setattr(comment, name, values[name])
            if "body" in differs:
                comment.render()
            changed.append(comment)
        Comment.objects.bulk_create(new, batch_size=500)
        if changed:
            now = timezone.now()
            for comment in changed:
                comment.updated_at = now
            Comment.objects.bulk_update(
                changed, [*_IMPORTED_COLUMNS, "status", "body_html", "updated_at"], batch_size=500
            )
        result.created, result.updated = len(new), len(changed)
        if new or changed:
            link_parents(post_ids=[post.pk])
            refresh_comment_counts(post_ids=[post.pk])
            content_changed()
    return result


def link_parents(*, post_ids: list[int]) -> int:
    """Point each comment of these posts at the comment its `parent_source_id` names; return how many changed.

    A parent that is not stored (yet) leaves the comment at the top level; a link that would
    make a loop is not made.
    """
    comments = list(
        Comment.objects.filter(post_id__in=post_ids).only("pk", "post_id", "source_id", "parent_source_id", "parent_id")
    )
    by_source = {(comment.post_id, comment.source_id): comment for comment in comments}
    parent_of = {}
    for comment in comments:
        parent = by_source.get((comment.post_id, comment.parent_source_id)) if comment.parent_source_id else None
        parent_of[comment.pk] = parent.pk if parent is not None and parent.pk != comment.pk else None
    for comment in comments:
        # Walk up: a loop (A replies to B replies to A) is broken at the comment that closes it.
        ancestor, steps = parent_of[comment.pk], 0
        while ancestor is not None and steps <= len(comments):
            if ancestor == comment.pk:
                parent_of[comment.pk] = None
                break
            ancestor, steps = parent_of.get(ancestor), steps + 1
    changed = [comment for comment in comments if comment.parent_id != parent_of[comment.pk]]
    for comment in changed:
        comment.parent_id = parent_of[comment.pk]
    Comment.objects.bulk_update(changed, ["parent"], batch_size=500)
    return len(changed)


def refresh_comment_counts(*, post_ids: list[int] | None = None) -> None:
    """Store on each post (these, or all) the number of its approved comments, pingbacks and trackbacks."""
    posts = Post.objects.all() if post_ids is None else Post.objects.filter(pk__in=post_ids)
    approved = (
        Comment.objects.filter(post=OuterRef("pk"), status=SHOWN_STATUS)
        .order_by()
        .values("post")
        .annotate(count=Count("pk"))
        .values("count")
    )
    posts.update(comment_count=Coalesce(Subquery(approved), Value(0)))
