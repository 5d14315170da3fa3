"""The link report of `check_links` and the admin: every link, image and old address of every public post.

Old addresses are asked of the site itself: its URL conf and views, through Django's
RequestFactory (no server, no network). An address is fine when it answers 200, or a 301 whose
target answers 200.
"""

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import Http404, QueryDict
from django.test import RequestFactory
from django.urls import Resolver404, resolve
from taggit.models import Tag, TaggedItem

from blog.frontmatter import parse_id
from blog.html_links import image_srcs, link_hrefs
from blog.links.external import check_external
from blog.links.hosts import host_of, strip_prefix
from blog.links.rewriting import EXTERNAL, INTERNAL, classify, site_hosts
from blog.models import Author, Category, Post, RemoteImage, path_key, url_path

CHUNK = 500
# The date archives answered in bulk: a day's page, and every year, month and day feed.
DATE_URL_NAMES = ("day", *(f"{span}-feed{atom}" for span in ("year", "month", "day") for atom in ("", "-atom")))
# The subject feeds answered in bulk, and the model whose slug they need.
SUBJECT_FEEDS = {
    f"{kind}-feed{atom}": model
    for kind, model in (("category", Category), ("tag", Tag), ("author", Author))
    for atom in ("", "-atom")
}
IMAGE_STATES = ("cached", "remote", "failed", "missing")
LINK_STATES = ("resolve", "rewritten", "broken")


@dataclass
class Problem:
    url: str
    reason: str


@dataclass
class PostReport:
    """What one post's links, images and old addresses came to."""

    id: int
    title: str
    permalink: str
    links: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LINK_STATES, 0))
    images: dict[str, int] = field(default_factory=lambda: dict.fromkeys(IMAGE_STATES, 0))
    addresses: int = 0
    addresses_ok: int = 0
    external: int = 0
    external_ok: int = 0
    broken_links: list[Problem] = field(default_factory=list)
    broken_images: list[Problem] = field(default_factory=list)
    broken_addresses: list[Problem] = field(default_factory=list)
    broken_external: list[Problem] = field(default_factory=list)

    @property
    def broken(self) -> bool:
        return bool(self.broken_links or self.broken_images or self.broken_addresses or self.broken_external)

    def problems(self) -> list[tuple[str, str, str]]:
        """Return (kind, url, reason) for everything broken in this post."""
        kinds = (
            ("link", self.broken_links),
            ("image", self.broken_images),
            ("old address", self.broken_addresses),
            ("external link", self.broken_external),
        )
        return [(kind, problem.url, problem.reason) for kind, problems in kinds for problem in problems]


@dataclass
class LinkReport:
    """The whole report: one entry per public post, the site-wide old addresses, and totals."""

    posts: list[PostReport] = field(default_factory=list)
    addresses: int = 0  # distinct old addresses asked
    addresses_ok: int = 0
    external_checked: bool = False
    seconds: float = 0.0

    @property
    def broken(self) -> bool:
        return any(post.broken for post in self.posts) or self.addresses_ok < self.addresses

    def totals(self) -> dict[str, int]:
        totals: Counter = Counter()
        for post in self.posts:
            for state, count in post.links.items():
                totals[f"links_{state}"] += count
            for state, count in post.images.items():
                totals[f"images_{state}"] += count
            totals["external"] += post.external
            totals["external_ok"] += post.external_ok
        totals["posts"] = len(self.posts)
        totals["posts_broken"] = sum(post.broken for post in self.posts)
        totals["addresses"] = self.addresses
        totals["addresses_ok"] = self.addresses_ok
        return {key: totals[key] for key in sorted(totals)}

    def as_dict(self) -> dict:
        return {
            "summary": self.totals(),
            "external_checked": self.external_checked,
            "seconds": round(self.seconds, 3),
            "posts": [{**asdict(post), "broken": post.broken} for post in self.posts],
        }


class SiteAnswers:
    """Ask the site how it answers an address: its URL conf and views, in this process, no server."""

    def __init__(self) -> None:
        base = urlsplit(settings.SITE_URL) if settings.SITE_URL else None
        allowed = [host for host in settings.ALLOWED_HOSTS if host not in ("*",) and not host.startswith(".")]
        host = (base.netloc if base else "") or (allowed[0] if allowed else "localhost")
        self.factory = RequestFactory(HTTP_HOST=host)
        self.secure = bool(base and base.scheme == "https") or settings.SECURE_SSL_REDIRECT
        # A signed-in reader without staff rights: sees what anyone sees, and goes past the page
        # cache: a page is looked up (every query its view makes); its template is not rendered.
        self.reader = User(username="kabar-link-check", is_active=True)
        self.answers: dict[str, tuple[int, str]] = {}

    def answer(self, url: str) -> tuple[int, str]:
        """Return (status, Location) of a GET for the site path `url`."""
        if url in self.answers:
            return self.answers[url]
        request = self.factory.get(url, secure=self.secure)
        request.user = self.reader
        try:
            match = resolve(request.path_info)
            # The page cache's wrapper renders the template; its status is known before that.
            view = getattr(match.func, "unrendered", match.func)
            response = view(request, *match.args, **match.kwargs)
            result = (response.status_code, response.get("Location", ""))
        except (Http404, Resolver404):
            result = (404, "")
        except Exception as error:  # the report names it; one page's error must not stop the check
            result = (500, f"{type(error).__name__}: {error}")
        self.answers[url] = result
        return result

    def prefetch(self, addresses: Iterable[str]) -> None:
        """Answer in bulk, by the rule each view applies, what its view answers by one lookup.

        Each address is resolved through the URL conf like a request. Filled in here:

        - `/?p=ID` and `/?page_id=ID` (HomeView): a 301 to the permalink of the one public post with
          that id (`oldlinks.source_id_targets`, the resolver's own look-up), else a 404;
        - a post permalink (PostView): 200 when a public post has it;
        - a day archive (DayView): 200 when a public post is listed that day;
        - a year, month or day feed (DateFeed): 200 for any valid date;
        - a category, tag or author feed (SubjectFeed): 200 when one has the slug.

        Everything else, and every 404 but the ids', is asked of the view itself.
        """
        from blog.oldlinks import POST_URL_NAME, source_id_targets

        addresses = [address for address in dict.fromkeys(addresses) if address not in self.answers]
        by_id: dict[str, int] = {}
        for address in addresses:
            parts = urlsplit(address)
            params = QueryDict(parts.query)
            if parts.path == "/" and len(params) == 1 and len(params.getlist(name := next(iter(params)))) == 1:
                source_id = parse_id(params[name]) if name in ("p", "page_id") else None
                if source_id is not None:
                    by_id[address] = source_id
        ids = list(by_id.values())
        targets: dict[int, str] = {}
        for start in range(0, len(ids), CHUNK):
            targets |= source_id_targets(ids[start : start + CHUNK])
        for address, source_id in by_id.items():
            self.answers[address] = (301, targets[source_id]) if source_id in targets else (404, "")

        permalinks: dict[str, str] = {}
        days: list[tuple[str, date, str]] = []
        slugs: dict[type, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for address in [*addresses, *targets.values()]:
            if address in self.answers or "?" in address:
                continue
            try:
                match = resolve(unquote(address))
            except Resolver404:
                continue
            name = match.url_name
            if name == POST_URL_NAME:
                permalinks[path_key(address)] = address
            elif name in DATE_URL_NAMES:
                kwargs = match.kwargs
                try:
                    day = date(int(kwargs["year"]), int(kwargs.get("month") or 1), int(kwargs.get("day") or 1))
                except ValueError:
                    continue
                days.append((address, day, name))
            elif name in SUBJECT_FEEDS:
                slugs[SUBJECT_FEEDS[name]][match.kwargs["slug"]].append(address)
        public = Post.objects.published()
        keys = list(permalinks)
        for start in range(0, len(keys), CHUNK):
            for key in public.filter(permalink_key__in=keys[start : start + CHUNK]).values_list(
                "permalink_key", flat=True
            ):
                self.answers[permalinks[key]] = (200, "")
        listed = set()
        day_pages = sorted({day for _address, day, name in days if name == "day"})
        for start in range(0, len(day_pages), CHUNK):
            chunk = day_pages[start : start + CHUNK]
            listed |= set(public.posts().filter(local_date__in=chunk).values_list("local_date", flat=True))
        for address, day, name in days:
            if name != "day" or day in listed:
                self.answers[address] = (200, "")
        for model, named in slugs.items():
            wanted = list(named)
            for start in range(0, len(wanted), CHUNK):
                for slug in model.objects.filter(slug__in=wanted[start : start + CHUNK]).values_list("slug", flat=True):
                    for address in named[slug]:
                        self.answers[address] = (200, "")

    def problem(self, url: str) -> str:
        """Return why the site path `url` does not answer 200 or one 301 to 200 ('' when it does)."""
        status, location = self.answer(url)
        if status == 200:
            return ""
        if status in (301, 308) and location:
            parts = urlsplit(location)
            if parts.netloc and host_of(location) not in site_hosts():
                return f"{status} to another site: {location}"
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if is_media(target):
                return "" if media_exists(target) else f"{status} to {location}, a file that is missing"
            second, _ = self.answer(target)
            return "" if second == 200 else f"{status} to {location}, which answers {second}"
        if status == 500 and location:
            return f"error: {location}"
        return f"answers {status}" + (f" to {location}" if location else "")


def is_media(url: str) -> bool:
    return bool(settings.MEDIA_URL) and urlsplit(url).path.startswith(settings.MEDIA_URL)


def media_exists(url: str) -> bool:
    """Return whether a local media URL names a file the storage has."""
    name = urlsplit(url).path[len(settings.MEDIA_URL) :]
    try:
        return bool(name) and default_storage.exists(name)
    except Exception:  # a storage that cannot answer: the file is not known to be there
        return False


def _date_addresses(day) -> list[str]:
    year, month, dom = f"{day:%Y}", f"{day:%m}", f"{day:%d}"
    archives = [f"/{year}/", f"/{year}/{month}/", f"/{year}/{month}/{dom}/"]
    return [form for archive in archives for form in (archive, archive + "feed/")]


class _Taxonomy:
    """The category, tag and author addresses of posts, loaded once per chunk."""

    def __init__(self) -> None:
        rows = Category.objects.values_list("pk", "slug", "parent_id")
        self.categories = {pk: (slug, parent) for pk, slug, parent in rows}

    def category_path(self, pk: int) -> str:
        """Return WordPress's address of a category: its ancestors' slugs first."""
        slugs, seen = [], set()
        while pk is not None and pk not in seen and pk in self.categories:
            seen.add(pk)
            slug, pk = self.categories[pk]
            slugs.append(slug)
        return "/category/" + "/".join(reversed(slugs)) + "/"

    def for_posts(self, post_ids: list[int]) -> dict[int, list[str]]:
        found: dict[int, list[str]] = defaultdict(list)
        for post_id, category_id in Post.categories.through.objects.filter(post_id__in=post_ids).values_list(
            "post_id", "category_id"
        ):
            found[post_id].append(self.category_path(category_id))
        for post_id, slug in TaggedItem.objects.filter(
            object_id__in=post_ids, content_type__app_label="blog", content_type__model="post"
        ).values_list("object_id", "tag__slug"):
            found[post_id].append(f"/tag/{slug}/")
        return found


def old_addresses(post: Post, *, subjects: list[str], hosts: dict[str, str] | None = None) -> list[str]:
    """Return every address the old site answered for `post`: its own forms, then its archives and feeds."""
    own = [post.permalink]
    guid = post.guid.strip()
    if guid.startswith(("http://", "https://")):
        # As the new site answers it: without the folder the old blog lived in (http://host/blog/?p=5).
        parts = urlsplit(guid)
        path = strip_prefix(parts.path or "/", hosts.get(host_of(guid), "")) if hosts else parts.path or "/"
        form = path + (f"?{parts.query}" if parts.query else "")
        if form != "/":
            own.append(form)
    if post.source_id is not None:
        own.append(f"/?p={post.source_id}")
        if post.is_page:
            own.append(f"/?page_id={post.source_id}")
    for key in ("blogger_orig_url", "blogger_permalink"):
        value = str((post.front_matter or {}).get(key) or "").strip()
        path = url_path(value) if "://" in value else value
        if path.startswith("/"):
            own += [path, path + "?m=1"]
    shared: list[str] = []
    if not post.is_page:
        day = post.local_date or post.date.date()
        shared += _date_addresses(day)
        for subject in [*subjects, post.author.get_absolute_url()]:
            shared += [subject, subject + "feed/"]
    return list(dict.fromkeys(own + shared))


def _image_counts(report: PostReport, post: Post, records: list[tuple[str, str, str]]) -> None:
    for url, status, error in records:
        state = {"cached": "cached", "pending": "remote"}.get(status, "failed")
        report.images[state] += 1
        if state == "failed":
            report.broken_images.append(Problem(url, f"{status}: {error}" if error else status))
    for src in dict.fromkeys(image_srcs(post.body_html)):
        if is_media(src):
            if not media_exists(src):
                report.images["missing"] += 1
                report.broken_images.append(Problem(src, "the file is missing from media storage"))
        elif not records and src.startswith(("http://", "https://", "//")):
            report.images["remote"] += 1  # not looked at by the image cache yet


def _link_counts(report: PostReport, post: Post, answers: SiteAnswers, hosts: dict[str, str]) -> list[str]:
    """Count the post's internal links; return its external links."""
    links = dict(post.internal_links or {})
    external = []
    for href in dict.fromkeys(link_hrefs(post.body_html)):
        link = classify(href, hosts=hosts)
        if link.kind == EXTERNAL:
            external.append(href if "://" in href else "https:" + href)
        elif link.kind == INTERNAL and href not in links and href not in links.values() and link.host:
            # Rendered before links were rewritten: nothing vouches for it.
            links[href] = ""
    # In the order the body has them (PostgreSQL's jsonb does not keep the keys' order).
    body = post.body or ""
    for original, target in sorted(links.items(), key=lambda item: (body.find(item[0]) % (len(body) + 1), item[0])):
        if not target:
            report.links["broken"] += 1
            report.broken_links.append(Problem(original, "nothing on this site has this address"))
            continue
        problem = (
            ("" if media_exists(target) else "the file is missing") if is_media(target) else answers.problem(target)
        )
        if problem:
            report.links["broken"] += 1
            report.broken_links.append(Problem(original, f"{target}: {problem}"))
        elif original.split("#")[0] != target:
            report.links["rewritten"] += 1
        else:
            report.links["resolve"] += 1
    return external


def check_links(
    *,
    posts: QuerySet[Post] | None = None,
    external: bool = False,
    concurrency: int | None = None,
    per_host: int | None = None,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> LinkReport:
    """Return the link report of the public posts (all, or those of `posts`)."""
    started = time.perf_counter()
    report = LinkReport(external_checked=external)
    answers = SiteAnswers()
    hosts = site_hosts()
    taxonomy = _Taxonomy()
    queryset = (posts if posts is not None else Post.objects.all()).published().select_related("author")
    ids = list(queryset.order_by("pk").values_list("pk", flat=True))
    address_results: dict[str, str] = {}
    external_of: dict[int, list[str]] = {}
    chunks = [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)]
    iterator = progress(chunks) if progress else chunks
    for chunk in iterator:
        subjects = taxonomy.for_posts(chunk)
        images: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
        for post_id, url, status, error in RemoteImage.posts.through.objects.filter(post_id__in=chunk).values_list(
            "post_id", "remoteimage__url", "remoteimage__status", "remoteimage__last_error"
        ):
            images[post_id].append((url, status, error))
        chunk_posts = list(queryset.filter(pk__in=chunk).order_by("pk"))
        addresses = {post.pk: old_addresses(post, subjects=subjects[post.pk], hosts=hosts) for post in chunk_posts}
        targets = [target.split("#")[0] for post in chunk_posts for target in post.internal_links.values() if target]
        answers.prefetch([*(address for forms in addresses.values() for address in forms), *targets])
        for post in chunk_posts:
            entry = PostReport(post.pk, post.title, post.permalink)
            external_of[post.pk] = _link_counts(entry, post, answers, {**post.old_hosts(), **hosts})
            _image_counts(entry, post, images[post.pk])
            for address in addresses[post.pk]:
                if address not in address_results:
                    address_results[address] = answers.problem(address)
                entry.addresses += 1
                if address_results[address]:
                    entry.broken_addresses.append(Problem(address, address_results[address]))
                else:
                    entry.addresses_ok += 1
            report.posts.append(entry)
    report.addresses = len(address_results)
    report.addresses_ok = sum(not problem for problem in address_results.values())
    if external:
        results = check_external(
            [url for urls in external_of.values() for url in urls], concurrency=concurrency, per_host=per_host
        )
        for entry in report.posts:
            for url in external_of[entry.id]:
                entry.external += 1
                if results[url]:
                    entry.broken_external.append(Problem(url, results[url]))
                else:
                    entry.external_ok += 1
    report.seconds = time.perf_counter() - started
    return report


def save_report(report: LinkReport):
    """Store the report for the admin: its totals and the posts with something broken."""
    from blog.models import LinkCheck

    data = report.as_dict()
    return LinkCheck.objects.create(
        seconds=report.seconds,
        broken=report.broken,
        external_checked=report.external_checked,
        summary=data["summary"],
        posts=[post for post in data["posts"] if post["broken"]],
    )
