"""Where an address of the old site lives now: one resolver for every old URL shape.

`resolve_old_address(path, query)` is the only place that knows the old shapes. The site's
catch-all view calls it for a path that is no post's permalink and answers with a 301 to what
it returns (or a 404 for None); link checkers and body-link rewriting can call it the same way.

What it understands:

- any spelling of a path: percent-encoded in lower or upper case, or raw UTF-8 (`path_key`);
- `/index.php/…` and a missing trailing slash;
- WordPress's query addresses of the home page: `?p=`, `?page_id=`, `?s=`, `?feed=`, `?m=YYYYMM`;
- Blogger's `?m=1` (mobile), `/search/label/X`, `/feeds/posts/default[/-/X]`;
- WordPress's other feed flavours `…/feed/rss2/`, `…/feed/rss/`, `…/feed/rdf/` → `…/feed/`;
- the site's own pages under another spelling (`/2016/03` → `/2016/03/`);
- nested category addresses `/category/parent/child/` (and their `feed/`, `page/N/`);
- a category, tag or author under WordPress's slug of its name when Kabar's differs
  (`/category/sin-categoria/` for "Sin categoría", whose Kabar slug keeps the accent);
- `/wp-content/uploads/…` of an image Kabar has cached → the cached copy;
- a post's permalink, an editor's redirect, its guid path, its Blogger path, in that order;
- WordPress's guesses: `/YYYY/MM/DD/slug/`, `/YYYY/MM/slug/` and `/slug/` reach the one
  published post with that slug (and that date, when the address has one); when several
  posts could be meant, none is (no wrong post, ever).

Post addresses cost one query: every indexed column at once (permalink_key, guid_path,
blogger_path, slug, and the redirects table through a UNION).
"""

import functools
import re
import unicodedata
from urllib.parse import quote, unquote, urlencode

from django.core.files.storage import default_storage
from django.db.models import DateField, DateTimeField, F, IntegerField, Q, Value
from django.http import Http404, HttpResponsePermanentRedirect, QueryDict
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.encoding import iri_to_uri
from taggit.models import Tag

from blog.frontmatter import make_slug, parse_id
from blog.models import Attachment, Author, Category, Post, Redirect, RemoteImage, path_key

# The name of the site's catch-all URL pattern (permalinks and old addresses).
POST_URL_NAME = "post"

_BLOGGER_MOBILE = {"0", "1"}
_FEED_SUFFIX = r"(?P<suffix>feed/(?:atom/|rss2?/|rdf/)?|page/[0-9]+/)?"
_NESTED_CATEGORY = re.compile(r"^/category/(?P<slugs>(?:[^/]+/){2,}?)" + _FEED_SUFFIX + "$")
_TERM = re.compile(r"^/(?P<kind>category|tag|author)/(?P<slug>[^/]+)/" + _FEED_SUFFIX + "$")
_BLOGGER_LABEL = re.compile(r"^/search/label/(?P<label>[^/]+)/?$")
_BLOGGER_FEED = re.compile(r"^/feeds/posts/(?:default|summary)(?:/-/(?P<label>[^/]+))?/?$")
_DATED_SLUG = re.compile(r"^/(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/(?:(?P<day>[0-9]{2})/)?(?P<slug>[^/]+)/?$")
_BARE_SLUG = re.compile(r"^/(?P<slug>[^/]+)/?$")

# Marks which column of a found row matched; lower wins.
_PERMALINK, _REDIRECT, _GUID, _BLOGGER, _GUESS, _ATTACHMENT = range(6)


def spellings(path: str) -> list[str]:
    """Return the ways a link may write `path`: decoded, percent-encoded in upper and in lower case."""
    key = path_key(path)
    upper = iri_to_uri(quote(key, safe="/:@!$&'()*+,;=~-._"))
    lower = re.sub(r"%[0-9A-F]{2}", lambda match: match.group(0).lower(), upper)
    return list(dict.fromkeys([path, key, upper, lower]))


def fallback_to_old_address(view):
    """Wrap a view so that its 404 becomes one redirect when the path is an old address of a page."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Http404:
            target = resolve_old_address(request.path_info, request.META.get("QUERY_STRING", ""))
            if target is None or path_key(target.split("?", 1)[0]) == request.path_info:
                raise
            return HttpResponsePermanentRedirect(target)

    return wrapper


def resolve_old_address(path: str, query: str = "") -> str | None:
    """Return the URL (path and query) where the old address `path`?`query` lives now, or None.

    `path` may be decoded (a request's `path_info`) or percent-encoded in any case (a link in a
    post). The result is a post's permalink exactly as exported, another page of the site, or a
    cached image's URL. An address that is already canonical resolves to itself.
    """
    params = QueryDict(query, mutable=True)
    if params.get("m") in _BLOGGER_MOBILE:
        del params["m"]  # Blogger's mobile view of the same page
    key = path_key(path)
    base = key[len("/index.php") :] or "/" if key == "/index.php" or key.startswith("/index.php/") else key
    if base == "/":
        target = wordpress_query_target(params)
        return _with_query("/", params) if target == "" else target
    forms = list(dict.fromkeys([base, base if base.endswith("/") else base + "/"]))
    target = _term_target(forms[-1], params)
    if target is not None:
        return target or None
    for form in forms:
        try:
            match = resolve(form)
        except Resolver404:
            continue
        if match.url_name != POST_URL_NAME:
            return _with_query(form, params)
    for shape in (_feed_flavour_target, _blogger_target, _nested_category_target, _uploads_target):
        target = shape(base, params)
        if target is not None:
            return target or None
    permalink = _post_target(forms)
    return _with_query(permalink, params) if permalink else None


def wordpress_query_target(params) -> str | None:
    """Return where WordPress's query-string addresses of the home page live ('' for none given)."""
    for name in ("p", "page_id"):
        if name in params:
            source_id = parse_id(params[name])
            return None if source_id is None else source_id_targets([source_id]).get(source_id)
    if "attachment_id" in params:
        # A WordPress media item's address: its file (Kabar's cached copy once there is one).
        source_id = parse_id(params["attachment_id"])
        attachment = Attachment.objects.filter(source_id=source_id).first() if source_id is not None else None
        return attachment.file_url() if attachment is not None else None
    if "s" in params:
        return "/search/?" + urlencode({"q": params["s"]})
    if "feed" in params:
        return "/feed/atom/" if params["feed"] == "atom" else "/feed/"
    month = params.get("m", "")
    if re.fullmatch(r"[0-9]{4}(?:[0-9]{2}){0,2}", month):
        return "/" + "/".join(part for part in (month[:4], month[4:6], month[6:8]) if part) + "/"
    return ""


def source_id_targets(source_ids) -> dict[int, str]:
    """Return the permalink each WordPress id (`?p=`, `?page_id=`) names: one query for them all.

    An id names the one published post that has it; two blogs imported side by side
    (--scope-to-host) may share an id, and then it names none (left out of the result).
    """
    now = timezone.now()
    found: dict[int, list[str]] = {}
    # `published()` checked here, not in SQL: given `status`, SQLite walks the (status, date) index
    # instead of the source_id one (as in `_post_target`).
    rows = (
        Post.objects.filter(source_id__in=set(source_ids))
        .order_by()
        .values_list("source_id", "permalink", "status", "date")
    )
    for source_id, permalink, status, date in rows:
        if status == Post.Status.PUBLISHED and date <= now:
            found.setdefault(source_id, []).append(permalink)
    return {source_id: permalinks[0] for source_id, permalinks in found.items() if len(permalinks) == 1}


def wordpress_slug(name: str) -> str:
    """Return the slug WordPress gives a name (sanitize_title): accents dropped, other UTF-8 escaped."""
    text = "".join(char for char in unicodedata.normalize("NFKD", name) if not unicodedata.combining(char))
    text = "".join(char if char.isascii() else quote(char).lower() for char in text.lower().replace(".", "-"))
    text = re.sub(r"[^%a-z0-9 _-]", "", text)
    return re.sub(r"-+", "-", re.sub(r"\s+", "-", text)).strip("-")


_TERM_MODELS = {"category": (Category, "name"), "tag": (Tag, "name"), "author": (Author, "name")}


def _term_target(path: str, params: QueryDict) -> str | None:
    """Return a category, tag or author page under Kabar's slug for WordPress's slug of its name.

    None: not such an address, or the slug is Kabar's own; '': no term has that slug.
    """
    match = _TERM.match(path)
    if not match:
        return None
    kind, slug = match.group("kind"), path_key(match.group("slug"))
    model, name_field = _TERM_MODELS[kind]
    terms = list(model.objects.values_list("slug", name_field))
    if any(own == slug for own, _name in terms):
        return None
    found = {own for own, name in terms if slug in (path_key(wordpress_slug(name)), path_key(wordpress_slug(own)))}
    if len(found) != 1:
        return ""
    return _with_query(f"/{kind}/{found.pop()}/{match.group('suffix') or ''}", params)


def _with_query(path: str, params: QueryDict) -> str:
    return f"{path}?{params.urlencode()}" if params else path


def _subject_url(label: str) -> str:
    """Return the page of the category, else the tag, named `label` ('' when there is none)."""
    slug = make_slug(label) or label
    category = Category.objects.filter(Q(slug=slug) | Q(name=label)).values_list("slug", flat=True).first()
    if category:
        return f"/category/{category}/"
    tag = Tag.objects.filter(Q(slug=slug) | Q(name=label)).values_list("slug", flat=True).first()
    return f"/tag/{tag}/" if tag else ""


_FEED_FLAVOUR = re.compile(r"^(?P<page>/(?:.*/)?)feed/(?:rss2?|rdf)/?$")


def _feed_flavour_target(path: str, params: QueryDict) -> str | None:
    """Return the RSS feed for WordPress's `…/feed/rss2/`, `…/feed/rss/` and `…/feed/rdf/`."""
    match = _FEED_FLAVOUR.match(path)
    if not match:
        return None
    target = match.group("page") + "feed/"
    try:
        resolved = resolve(target)
    except Resolver404:
        return ""
    return _with_query(target, params) if resolved.url_name != POST_URL_NAME else ""


def _blogger_target(path: str, params: QueryDict) -> str | None:
    """Return Blogger's label pages and feeds ('' when the label is unknown; None: not that shape)."""
    match = _BLOGGER_LABEL.match(path)
    if match:
        return _subject_url(match.group("label"))
    match = _BLOGGER_FEED.match(path)
    if match:
        feed = "feed/" if params.get("alt") in ("rss", "rss2") else "feed/atom/"
        if not match.group("label"):
            return "/" + feed
        subject = _subject_url(match.group("label"))
        return subject + feed if subject else ""
    return None


def _nested_category_target(path: str, params: QueryDict) -> str | None:
    """Return a child category's page for WordPress's `/category/parent/child/` ('' when the chain is wrong)."""
    match = _NESTED_CATEGORY.match(path)
    if not match:
        return None
    slugs = match.group("slugs").strip("/").split("/")
    categories = {
        slug: (pk, parent)
        for slug, pk, parent in Category.objects.filter(slug__in=slugs).values_list("slug", "pk", "parent_id")
    }
    if len(categories) != len(set(slugs)):
        return ""
    parent = None
    for slug in slugs:
        pk, parent_id = categories[slug]
        if parent_id != parent:
            return ""
        parent = pk
    return _with_query(f"/category/{slugs[-1]}/{match.group('suffix') or ''}", params)


def _uploads_target(path: str, params: QueryDict) -> str | None:
    """Return the cached copy of a WordPress upload ('' when it is not cached; None: not an upload)."""
    if not path.startswith("/wp-content/uploads/"):
        return None
    original = (
        RemoteImage.objects.filter(path__in=spellings(path), status=RemoteImage.Status.CACHED)
        .exclude(original="")
        .values_list("original", flat=True)
        .first()
    )
    return default_storage.url(original) if original else ""


def _guess(path: str):
    """Return (slug spellings, year, month, day) WordPress would guess a post from, or None."""
    match = _DATED_SLUG.match(path) or _BARE_SLUG.match(path)
    if not match:
        return None
    parts = match.groupdict()
    slug = unquote(parts["slug"])
    numbers = [int(parts[name]) if parts.get(name) else None for name in ("year", "month", "day")]
    return list(dict.fromkeys([slug, make_slug(slug)])), *numbers


def _post_target(forms: list[str]) -> str | None:
    """Return the permalink of the post an old path names, in one query over the indexed columns."""
    now = timezone.now()
    keys = [path_key(form) for form in forms]
    guess = _guess(forms[-1])
    condition = Q(permalink_key__in=keys) | Q(guid_path__in=keys) | Q(blogger_path__in=keys)
    if guess:
        condition |= Q(slug__in=guess[0])
    columns = ("permalink", "permalink_key", "guid_path", "blogger_path", "slug", "local_date", "status", "date")
    # Not `.published()` in SQL: given `status`, SQLite walks the (status, date) index over every
    # published post instead of looking each column of `condition` up in its own index (100+ ms
    # at 10,000 posts). The few rows found are checked here.
    posts = (
        Post.objects.filter(condition).order_by().annotate(via=Value(-1, IntegerField())).values_list(*columns, "via")
    )
    old_paths = [spelling for form in forms for spelling in spellings(form)]
    redirects = (
        Redirect.objects.filter(old_path__in=old_paths, post__status=Post.Status.PUBLISHED, post__date__lte=now)
        .order_by()
        .annotate(
            permalink=F("post__permalink"),
            permalink_key=Value(""),
            guid_path=Value(""),
            blogger_path=Value(""),
            slug=Value(""),
            local_date=F("post__local_date"),
            status=F("post__status"),
            date=F("post__date"),
            via=Value(_REDIRECT, IntegerField()),
        )
        .values_list(*columns, "via")
    )
    # An attachment's own page (WXR <link>): its file, found in the same query.
    attachments = (
        Attachment.objects.filter(link_path__in=old_paths)
        .order_by()
        .annotate(
            permalink=F("url"),
            permalink_key=Value(""),
            guid_path=Value(""),
            blogger_path=Value(""),
            slug=Value(""),
            local_date=Value(None, DateField()),
            status=Value(Post.Status.PUBLISHED),
            date=Value(None, DateTimeField()),
            via=Value(_ATTACHMENT, IntegerField()),
        )
        .values_list(*columns, "via")
    )
    found: dict[int, set[str]] = {}
    # Unordered: Post's default ordering would apply to the union (Django 6.1 refuses it there).
    rows = posts.union(redirects, attachments, all=True).order_by()
    for permalink, permalink_key, guid_path, blogger_path, slug, local_date, status, date, via in rows:
        if via == _ATTACHMENT:
            found.setdefault(_ATTACHMENT, set()).add(permalink)
            continue
        if status != Post.Status.PUBLISHED or date > now:
            continue
        if via == _REDIRECT:
            found.setdefault(_REDIRECT, set()).add(permalink)
            continue
        for rank, column in ((_PERMALINK, permalink_key), (_GUID, guid_path), (_BLOGGER, blogger_path)):
            if column in keys:
                found.setdefault(rank, set()).add(permalink)
        if guess and slug in guess[0] and _same_date(local_date, *guess[1:]):
            found.setdefault(_GUESS, set()).add(permalink)
    for rank in sorted(found):
        if len(found[rank]) == 1:
            target = found[rank].pop()
            return Attachment(url=target).file_url() if rank == _ATTACHMENT else target
        if rank == _GUESS:
            return None  # several posts could be meant: never send a reader to the wrong one
    return None


def _same_date(local_date, year: int | None, month: int | None, day: int | None) -> bool:
    if year is None:
        return True
    if local_date is None or (local_date.year, local_date.month) != (year, month):
        return False
    return day is None or local_date.day == day


def requested_path(request) -> str | None:
    """Return the path exactly as the client spelled it, when the server tells (None: unknown).

    Django's `path_info` is decoded; gunicorn keeps the request line's path in RAW_URI (as
    latin-1 text), uWSGI and Apache in REQUEST_URI.
    """
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if not raw:
        return None
    if "://" in raw.split("?", 1)[0]:
        raw = "/" + raw.split("://", 1)[1].partition("/")[2]
    return raw.split("?", 1)[0]
