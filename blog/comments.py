"""Comments: the import API every importer calls, threads for the page, new comments, moderation.

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

The rest of the module serves the site: `comments_open()` and `build_thread()` for the post
page, `submit_comment()` with its moderation rules and per-address rate limit for the form,
and `set_status()` for the admin's bulk moderation. Every write that skips model signals
recounts `Post.comment_count` and marks the page cache stale itself.
"""

import ipaddress
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
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
        if not comment.parent_source_id:
            parent_of[comment.pk] = comment.parent_id  # no source link to follow: left as it is
            continue
        parent = by_source.get((comment.post_id, comment.parent_source_id))
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


# --- Showing comments ------------------------------------------------------------------------


def comments_open(post: Post, *, now: datetime | None = None) -> bool:
    """Return whether readers may comment on `post` now: site setting, the post's own status, its age."""
    if not settings.COMMENTS_ENABLED or post.comment_status != Post.CommentStatus.OPEN or not post.is_public:
        return False
    days = settings.COMMENTS_CLOSE_AFTER_DAYS
    return days <= 0 or post.date >= (now or timezone.now()) - timedelta(days=days)


@dataclass(slots=True)
class ShownComment:
    """What a reader sees of a comment: its public columns only (cheaper than a model instance)."""

    pk: int
    parent_id: int | None
    source_id: str
    author_name: str
    author_url: str
    date: datetime
    body_html: str
    type: str
    anchor: str = ""
    display_name: str = ""
    depth: int = 1
    replies_shown: list = field(default_factory=list)
    reply_to: "ShownComment | None" = None
    opens: bool = False
    closes: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.anchor = f"comment-{self.source_id}"
        self.display_name = Comment.name_for_readers(self.author_name)


_SHOWN_COLUMNS = ("id", "parent", "source_id", "author_name", "author_url", "date", "body_html", "type")


def shown_comments(post: Post) -> list[ShownComment]:
    """Return the approved comments, pingbacks and trackbacks of `post`, oldest first (one query)."""
    return [ShownComment(*row) for row in Comment.shown_rows(post, _SHOWN_COLUMNS)]


@dataclass
class Thread:
    """What a post page shows: the conversation as a tree, and the pingbacks/trackbacks apart."""

    comments: list  # top level (Comment or ShownComment); each has .replies_shown, and .reply_to when flattened
    pings: list
    comment_count: int

    def rows(self) -> list:
        """Return the comments in reading order, each with `opens` (its replies follow in a nested
        list) and `closes` (how many nested lists end after it), to render without recursion."""
        rows: list = []
        stack = [iter(self.comments)]
        while stack:
            comment = next(stack[-1], None)
            if comment is None:
                stack.pop()
                if rows and len(stack) > 0:
                    rows[-1].closes.append(None)
                continue
            comment.opens, comment.closes = bool(comment.replies_shown), []
            rows.append(comment)
            if comment.replies_shown:
                stack.append(iter(comment.replies_shown))
        return rows


def build_thread(comments: list, *, max_depth: int) -> Thread:
    """Return `comments` (oldest first) as a thread nested at most `max_depth` levels deep.

    A reply deeper than that is listed at the last level, after the comment it descends
    from, oldest first, with `reply_to` naming the comment it answers (as WordPress does).
    A reply whose parent is not shown (pending, deleted) starts a conversation of its own.
    """
    max_depth = max(1, max_depth)
    pings = [comment for comment in comments if comment.type != Comment.Type.COMMENT]
    conversation = [comment for comment in comments if comment.type == Comment.Type.COMMENT]
    by_pk = {comment.pk: comment for comment in conversation}
    children: dict[int | None, list[Comment]] = {}
    roots: list[Comment] = []
    for comment in conversation:
        comment.replies_shown, comment.reply_to, comment.depth = [], None, 1
        if comment.parent_id in by_pk and comment.parent_id != comment.pk:
            children.setdefault(comment.parent_id, []).append(comment)
        else:
            roots.append(comment)
    placed: set[int] = set()

    def place(container: list[Comment], nodes: list[Comment], depth: int) -> None:
        for node in nodes:
            if node.pk in placed:
                continue
            placed.add(node.pk)
            node.depth = depth
            container.append(node)
            if depth < max_depth:
                place(node.replies_shown, children.get(node.pk, []), depth + 1)
                continue
            # At the last level: every descendant follows as a sibling, oldest first.
            descendants, stack = [], list(children.get(node.pk, []))
            while stack:
                child = stack.pop()
                if child.pk in placed:
                    continue
                placed.add(child.pk)
                descendants.append(child)
                stack.extend(children.get(child.pk, []))
            for child in sorted(descendants, key=lambda c: (c.date, c.pk)):
                child.depth, child.reply_to = depth, by_pk[child.parent_id]
                container.append(child)

    top: list[Comment] = []
    place(top, roots, 1)
    # A reply loop made in the admin is reachable from no root: show it at the top level.
    place(top, [comment for comment in conversation if comment.pk not in placed], 1)
    return Thread(comments=top, pings=pings, comment_count=len(conversation))


# --- New comments from readers ---------------------------------------------------------------

RATE_KEY = "kabar:comments:rate:{address}"
_URL = re.compile(r"https?://|www\.", re.IGNORECASE)


def client_ip(request: HttpRequest) -> str | None:
    """Return the commenter's address: COMMENTS_IP_HEADER's last entry behind a proxy, else REMOTE_ADDR."""
    value = request.META.get("REMOTE_ADDR", "")
    header = settings.COMMENTS_IP_HEADER
    if header:
        forwarded = request.headers.get(header, "")
        entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
        value = entries[-1] if entries else value
    return _ip(value)


def rate_limited(address: str | None) -> bool:
    """Count one comment from `address` in the shared cache; return whether it is over the limit."""
    if not address or settings.COMMENTS_RATE_LIMIT <= 0:
        return False
    key = RATE_KEY.format(address=address)
    cache.add(key, 0, settings.COMMENTS_RATE_WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, settings.COMMENTS_RATE_WINDOW)
        count = 1
    return count > settings.COMMENTS_RATE_LIMIT


def link_count(body: str) -> int:
    """Return how many links a comment's text holds (bare URLs and <a> tags)."""
    return len(_URL.findall(body)) + len(re.findall(r"<a\s", body, re.IGNORECASE))


def is_links_only(body: str) -> bool:
    """Return whether a comment's text is nothing but links (a spammer's favourite)."""
    text = re.sub(r"<[^>]*>", " ", body)
    words = [word for word in text.split() if not _URL.match(word)]
    return link_count(body) > 0 and len(words) <= 1


def new_comment_status(*, name: str, email: str, body: str, trusted_user: bool = False) -> str:
    """Return the status a new comment gets: pending unless trusted; spam when it is nothing but links."""
    if is_links_only(body):
        return Comment.Status.SPAM
    if link_count(body) > settings.COMMENTS_MAX_LINKS:
        return Comment.Status.PENDING
    if trusted_user:
        return Comment.Status.APPROVED
    if settings.COMMENTS_TRUST_RETURNING and email:
        known = Comment.objects.approved().filter(
            author_email__iexact=email, author_name=name, type=Comment.Type.COMMENT
        )
        if known.exists():
            return Comment.Status.APPROVED
    return Comment.Status.PENDING


def submit_comment(
    *,
    post: Post,
    name: str,
    email: str,
    url: str,
    body: str,
    parent: Comment | None = None,
    ip: str | None = None,
    user_agent: str = "",
    trusted_user: bool = False,
) -> Comment:
    """Store a reader's new comment on `post` with the status moderation rules give; return it.

    Its `source_id` is 'k<pk>': unlike a source's numeric ids, never taken by an import.
    """
    status = new_comment_status(name=name, email=email, body=body, trusted_user=trusted_user)
    comment = Comment(
        post=post,
        parent=parent,
        author_name=name,
        author_email=email,
        author_url=url,
        author_ip=ip,
        user_agent=user_agent[: Comment._meta.get_field("user_agent").max_length],
        body=body,
        status=status,
    )
    return save_new(comment)


def save_new(comment: Comment) -> Comment:
    """Save a comment made on this site, giving it the source id 'k<pk>' (never a source's numeric id)."""
    with transaction.atomic():
        comment.source_id = f"new-{uuid.uuid4().hex}"
        comment.save()
        source_id = f"k{comment.pk}"
        while Comment.objects.filter(post_id=comment.post_id, source_id=source_id).exists():
            source_id += "k"  # only after an import brought a 'k…' id from another database
        comment.source_id = source_id
        comment.parent_source_id = comment.parent.source_id if comment.parent_id else ""
        comment.save(update_fields=["source_id", "parent_source_id"])
    return comment


# --- Moderation ------------------------------------------------------------------------------


def set_status(*, comments: QuerySet, status: str) -> int:
    """Give `comments` the moderation `status`; return how many changed. Counts and pages follow."""
    changing = comments.exclude(status=status)
    post_ids = list(changing.values_list("post_id", flat=True).distinct())
    with transaction.atomic():
        changed = changing.update(status=status, updated_at=timezone.now())
        if changed:
            refresh_comment_counts(post_ids=post_ids)
            content_changed()
    return changed
