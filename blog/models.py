"""Kabar's content: authors, categories, posts, old URLs and the remote image cache."""

import html
import re
from datetime import datetime, timedelta
from datetime import timezone as fixed_zone
from typing import TYPE_CHECKING
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, connections, models
from django.db.models import Q
from django.utils import timezone
from django.utils.encoding import escape_uri_path, repercent_broken_unicode
from django.utils.translation import gettext_lazy as _
from markdownx.models import MarkdownxField
from taggit.managers import TaggableManager
from taggit.models import Tag, TaggedItem

from blog.fields import OrderedJSONField

if TYPE_CHECKING:
    from blog import rendering


def validate_path(value: str) -> None:
    """Raise ValidationError unless `value` is a path on this site that a browser keeps on it.

    Browsers read a backslash as '/', so '/\\evil.example/x' (like '//evil.example/x') is a
    link to another host; control characters, '//', dot segments and an encoded '/' (%2F)
    make a path that browsers rewrite or that never reaches the post.
    """
    if not value.startswith("/"):
        raise ValidationError(_("'%(value)s' must be a path starting with '/'."), params={"value": value})
    for pattern, message in _PATH_PROBLEMS:
        if pattern.search(value):
            raise ValidationError(message, params={"value": value}, code="invalid_path")


_PATH_PROBLEMS = [
    (re.compile(r"\\"), _("'%(value)s' must not contain a backslash: browsers read it as '/'.")),
    (re.compile(r"//"), _("'%(value)s' must not contain '//': browsers read '//host' as another site.")),
    (
        re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"),
        _("%(value)r must not contain control characters (tabs, line breaks, NUL, bidirectional overrides, …)."),
    ),
    (re.compile(r"[\s#?]"), _("'%(value)s' must not contain spaces, '#' or '?'.")),
    (re.compile(r"(?:^|/)\.{1,2}(?:/|$)"), _("'%(value)s' must not contain '.' or '..' segments.")),
    (re.compile(r"%2f", re.I), _("'%(value)s' must not contain '%%2F' (an encoded '/'): no request can reach it.")),
]
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def permalink_lookups(path: str) -> list[str]:
    """Return the permalinks a request for `path` (Django's decoded path_info) may stand for.

    The path as decoded, and percent-encoded in upper case (Django's way) and in lower case
    (WordPress's way: '/%e5%b0%91/').
    """
    encoded = escape_uri_path(path)
    return sorted({path, encoded, _PERCENT_ESCAPE.sub(lambda match: match[0].lower(), encoded)})


def validate_reachable(value: str) -> None:
    """Raise ValidationError when no request reaches `value` (e.g. percent-escapes in mixed case)."""
    path_info = repercent_broken_unicode(unquote_to_bytes(value)).decode()
    if value not in permalink_lookups(path_info) and not re.search(r"%2f", value, re.I):  # %2F: validate_path
        raise ValidationError(
            _("'%(value)s' cannot be reached: write its percent-escapes all in upper or all in lower case."),
            params={"value": value},
            code="unreachable_path",
        )


def validate_not_reserved(value: str) -> None:
    """Raise ValidationError when `value` is an address the site itself answers (the admin, feeds, …).

    Derived from the URL conf (any pattern before the permalink catch-all) and from the
    static and media URLs, so a post never hides behind, or hides, one of the site's pages.
    """
    from django.urls import Resolver404, resolve

    from blog.views import POST_URL_NAME

    prefixes = [url for url in (settings.STATIC_URL, settings.MEDIA_URL) if url]
    for prefix in ("/" + url.lstrip("/") for url in prefixes if "://" not in url):
        if value.startswith(prefix) or value == prefix.rstrip("/"):
            raise ValidationError(
                _("'%(value)s' is under %(prefix)s, where the site serves its own files."),
                params={"value": value, "prefix": prefix},
                code="reserved_path",
            )
    try:
        match = resolve(value)
    except Resolver404:  # e.g. a path with a NUL: validate_path refuses it
        return
    if match.url_name != POST_URL_NAME:
        raise ValidationError(
            _("'%(value)s' is the address of one of the site's own pages (%(name)s): choose another permalink."),
            params={"value": value, "name": match.view_name or match.route},
            code="reserved_path",
        )


def path_key(path: str) -> str:
    """Return `path` decoded, as a request's `path_info` is: every spelling of an address has one key.

    '/2016/01/19/%e5%b0%91/', '/2016/01/19/%E5%B0%91/' and '/2016/01/19/少/' share the key
    '/2016/01/19/少/'.
    """
    return unquote(path)


def url_path(url: str) -> str:
    """Return the decoded path of `url` ('' for none or the bare root), to find a post by an old address."""
    path = urlsplit(url.strip()).path if url else ""
    return "" if path in {"", "/"} else path_key(path)


def http_url(value) -> str:
    """Return `value` when it is an absolute http(s) URL, else ''."""
    text = str(value or "").strip()
    return text if urlsplit(text).scheme in ("http", "https") and urlsplit(text).netloc else ""


def old_site_url(guid: str, front_matter) -> str:
    """Return an absolute URL of a post on its old site (guid, wordpress_url, Blogger URL), or ''."""
    front_matter = front_matter or {}
    for value in (guid, front_matter.get("wordpress_url"), front_matter.get("blogger_orig_url")):
        if http_url(value):
            return http_url(value)
    return ""


def site_host(guid: str, front_matter) -> str:
    """Return the host of the blog a post came from ('' when its file does not say)."""
    return (urlsplit(old_site_url(guid, front_matter)).hostname or "").lower()


def featured_image_url(front_matter: dict, *, base_url: str = "", cached_images: bool = True) -> str:
    """Return the URL of a post's featured image (its `image` key): the cached copy when there is one.

    A relative path resolves against the post's old address, as the image cache resolves it; only
    http(s) URLs and site paths are taken: the value comes from an untrusted export.
    """
    from blog.images.discovery import absolute_url
    from blog.images.rewriting import load_cached_images

    value = (front_matter or {}).get("image")
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > 2000 or any(char.isspace() for char in text):
        return ""
    url = absolute_url(text, base_url=base_url)
    if not url:
        # No old host to resolve it against (or one of Kabar's own files): the path as written.
        return text if text.startswith("/") and not text.startswith("//") else ""
    if cached_images:
        cached = load_cached_images(urls=[url]).get(url)
        if cached is not None:
            return cached.src()
    return url


class Author(models.Model):
    name = models.CharField(max_length=200, help_text=_("As written in the front matter, e.g. 'admin'."))
    slug = models.SlugField(max_length=200, unique=True, allow_unicode=True)
    display_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    bio = models.TextField(blank=True)
    avatar = models.ImageField(upload_to="avatars/", blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="author"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name or self.name

    def get_absolute_url(self) -> str:
        return f"/author/{self.slug}/"


class Category(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True, allow_unicode=True)
    parent = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"/category/{self.slug}/"

    def clean(self) -> None:
        ancestor = self.parent
        while ancestor is not None:
            if ancestor.pk == self.pk:
                raise ValidationError({"parent": _("A category cannot be its own ancestor.")})
            ancestor = ancestor.parent


def search_vector():
    """Return the weighted full-text vector of a post; the GIN index of migration 0003 is built on it."""
    from django.contrib.postgres.search import SearchVector

    config = settings.SEARCH_CONFIG
    return SearchVector("title", weight="A", config=config) + SearchVector("body", weight="B", config=config)


class PostQuerySet(models.QuerySet):
    def published(self) -> "PostQuerySet":
        """Return posts readers may see: published and dated now or earlier."""
        return self.filter(status=Post.Status.PUBLISHED, date__lte=timezone.now())

    def posts(self) -> "PostQuerySet":
        """Return blog posts only, not pages."""
        return self.filter(layout=Post.POST_LAYOUT)

    def in_category(self, category: Category) -> "PostQuerySet":
        """Return posts filed under `category` or any of its descendants."""
        ids = {category.pk}
        frontier = [category.pk]
        while frontier:
            frontier = list(
                Category.objects.filter(parent__in=frontier).exclude(pk__in=ids).values_list("pk", flat=True)
            )
            ids.update(frontier)
        return self.filter(categories__in=ids).distinct()

    def search(self, query: str) -> "PostQuerySet":
        """Return posts matching `query`, best first.

        PostgreSQL: full-text search (web-search syntax, title weighted over body, ranked) on
        a GIN index; other databases: a case-insensitive substring match, newest first.
        """
        query = query.strip()
        if not query:
            return self.none()
        if connections[self.db].vendor == "postgresql":
            from django.contrib.postgres.search import SearchQuery, SearchRank

            search_query = SearchQuery(query, config=settings.SEARCH_CONFIG, search_type="websearch")
            vector = search_vector()
            return (
                self.annotate(rank=SearchRank(vector, search_query))
                .alias(matches=vector)
                .filter(matches=search_query)
                .order_by("-rank", "-date", "-pk")
            )
        return self.filter(Q(title__icontains=query) | Q(body__icontains=query))

    def with_list_relations(self) -> "PostQuerySet":
        """Return the queryset with what a list of posts shows (author, categories) fetched in fixed queries."""
        return self.select_related("author").prefetch_related("categories")


class Post(models.Model):
    POST_LAYOUT = "post"
    PAGE_LAYOUT = "page"

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    class CommentStatus(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    source_id = models.BigIntegerField(null=True, blank=True, help_text=_("The exporter's id: the WordPress post ID."))
    # The old blog's host (of the guid or wordpress_url): ids are unique per blog, not across blogs.
    source_host = models.CharField(max_length=255, blank=True, editable=False)
    title = models.CharField(max_length=500)
    slug = models.SlugField(max_length=255, allow_unicode=True)
    date = models.DateTimeField(default=timezone.now, help_text=_("Publication date; in the future: scheduled."))
    modified = models.DateTimeField(null=True, blank=True)
    author = models.ForeignKey(Author, on_delete=models.PROTECT, related_name="posts")
    layout = models.CharField(max_length=50, default=POST_LAYOUT, help_text=_("'post', 'page', …"))
    guid = models.CharField(max_length=500, blank=True, db_index=True)
    permalink = models.CharField(
        max_length=500,
        unique=True,
        validators=[validate_path, validate_not_reserved, validate_reachable],
        help_text=_("The post's URL path, exactly as the old site had it, e.g. /2022/10/29/slug/."),
    )
    blogger_blog = models.JSONField(default=list, blank=True)
    blogger_author = models.JSONField(default=list, blank=True)
    blogger_internal = models.JSONField(default=list, blank=True)
    categories = models.ManyToManyField(Category, blank=True, related_name="posts")
    tags = TaggableManager(blank=True)
    excerpt = models.TextField(blank=True, help_text=_("From the front matter; leave empty for an automatic one."))
    body = MarkdownxField(blank=True)
    body_html = models.TextField(blank=True, editable=False)
    toc = models.JSONField(default=list, blank=True, editable=False)
    summary = models.TextField(blank=True, editable=False)
    image_url = models.CharField(
        max_length=2000,
        blank=True,
        editable=False,
        help_text=_("The featured image (front matter 'image'), served from the image cache once it is cached."),
    )
    word_count = models.PositiveIntegerField(default=0, editable=False)
    reading_time = models.PositiveIntegerField(default=0, editable=False, help_text=_("Minutes."))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    comment_status = models.CharField(
        max_length=10,
        choices=CommentStatus.choices,
        default=CommentStatus.OPEN,
        help_text=_("Whether readers may comment (when comments are on for the site and the post is not too old)."),
    )
    comment_count = models.PositiveIntegerField(
        default=0, editable=False, help_text=_("Approved comments, pingbacks and trackbacks shown on the post.")
    )
    front_matter = OrderedJSONField(
        default=dict, blank=True, editable=False, help_text=_("Front-matter keys without a column, in file order.")
    )
    source_format = OrderedJSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text=_("How the file wrote its front matter (key order, quoting), so export writes it back alike."),
    )
    source_path = models.CharField(max_length=1000, blank=True, editable=False)
    source_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Old addresses of the post, kept as paths in indexed columns so an old link is one lookup.
    guid_path = models.CharField(max_length=500, blank=True, db_index=True, editable=False)
    # WordPress's sticky posts (front matter `sticky: true`) lead the home page.
    sticky = models.BooleanField(default=False, editable=False)
    blogger_path = models.CharField(max_length=500, blank=True, db_index=True, editable=False)
    # The body's links into the old site (or this one) as written → the address body_html shows
    # for each ('' when nothing on the site has it). Made with body_html, by render().
    internal_links = models.JSONField(default=dict, blank=True, editable=False)
    # The permalink decoded (see path_key): a request in any encoding finds the post in one lookup.
    permalink_key = models.CharField(max_length=500, blank=True, db_index=True, editable=False)
    # The date as the author saw it: the UTC offset the front matter wrote it with, and the
    # calendar day it names there, which the date archives list it under whatever TIME_ZONE is.
    date_offset = models.SmallIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text=_("Minutes east of UTC of the date as written; empty: the site's TIME_ZONE."),
    )
    local_date = models.DateField(null=True, blank=True, db_index=True, editable=False)

    objects = PostQuerySet.as_manager()

    # What the stored HTML is rendered from: the body, the excerpt, and the front-matter values
    # a body may name as {{ key }} (template_variables).
    RENDER_INPUT_FIELDS = frozenset({"body", "excerpt", "title", "layout", "guid", "permalink", "front_matter"})

    class Meta:
        ordering = ["-date", "-pk"]
        get_latest_by = "date"
        constraints = [
            models.UniqueConstraint(
                fields=["source_id", "source_host"],  # source_id first: `?p=<id>` looks up by it alone
                condition=Q(source_id__isnull=False),
                name="blog_post_unique_source_id",
            ),
        ]
        indexes = [models.Index(fields=["status", "date"], name="blog_post_status_date")]

    def __str__(self) -> str:
        return self.title

    @classmethod
    def from_db(cls, db, field_names, values, *args, **kwargs):
        # *args/**kwargs: Django 6.1 passes fetch_mode; 5.2 does not.
        instance = super().from_db(db, field_names, values, *args, **kwargs)
        loaded = instance.__dict__
        # Deferred fields are not fetched for this: a save of such an instance renders again.
        instance._rendered_from = instance._render_inputs() if loaded.keys() >= Post.RENDER_INPUT_FIELDS else None
        instance._loaded_permalink = instance.__dict__.get("permalink")
        if {"permalink", "status", "date"} <= instance.__dict__.keys():
            instance._linked_state = (instance.permalink, instance.is_public)
        return instance

    def get_absolute_url(self) -> str:
        return self.permalink

    @classmethod
    def at_permalink_key(cls, key: str) -> "Post | None":
        """Return the post or page whose decoded permalink is `key`, with its author, in one query.

        What `Post.objects.select_related("author").filter(permalink_key=key).first()` returns,
        written in plain SQL from the models' fields (the same columns, the same converters):
        the post page's first query, which the ORM took 0.9 ms of CPU to build and read.
        """
        post_fields, author_fields = cls._meta.concrete_fields, Author._meta.concrete_fields
        columns = ", ".join(
            [f"post.{connection.ops.quote_name(field.column)}" for field in post_fields]
            + [f"author.{connection.ops.quote_name(field.column)}" for field in author_fields]
        )
        rows = _fetch_rows(
            f"""SELECT {columns} FROM {_table(Post)} post JOIN {_table(Author)} author ON author.id = post.author_id
                 WHERE post.permalink_key = %s ORDER BY post.id LIMIT 1""",
            [key],
        )
        if not rows:
            return None
        row = _converted(rows, [*post_fields, *author_fields])[0]
        post = cls.from_db(connection.alias, [field.attname for field in post_fields], row[: len(post_fields)])
        author = Author.from_db(connection.alias, [field.attname for field in author_fields], row[len(post_fields) :])
        cls._meta.get_field("author").set_cached_value(post, author)
        return post

    @staticmethod
    def attach_categories(posts: list["Post"]) -> None:
        """Set `category_list` on each of `posts`: its categories by name, all fetched in one query."""
        found: dict[int, list[Category]] = {post.pk: [] for post in posts}
        if found:
            rows = _fetch_rows(
                f"""SELECT link.post_id, category.id, category.name, category.slug
                      FROM {_table(Category)} category JOIN {_table(Post.categories.through)} link
                        ON link.category_id = category.id
                     WHERE link.post_id IN ({", ".join(["%s"] * len(found))})
                     ORDER BY category.name, category.id""",
                list(found),
            )
            for post_id, pk, name, slug in rows:
                found[post_id].append(Category(pk=pk, name=name, slug=slug))
        for post in posts:
            post.category_list = found[post.pk]

    def page_relations(
        self, *, neighbours: bool = True
    ) -> tuple[list[Category], list[Tag], "Post | None", "Post | None"]:
        """Return what the post's page shows around it, in one query.

        Its categories and its tags, each by name; and (`neighbours`) the published posts just
        before and just after it, by date then id, which carry their id, title and permalink
        only. The plain date bounds let the database walk the (status, date) index from this
        post instead of scanning every post.
        """
        from django.contrib.contenttypes.models import ContentType

        sql = f"""SELECT 0, category.id, category.name, category.slug
                    FROM {_table(Category)} category JOIN {_table(Post.categories.through)} link
                      ON link.category_id = category.id
                   WHERE link.post_id = %s
                  UNION ALL
                  SELECT 1, tag.id, tag.name, tag.slug
                    FROM {_table(Tag)} tag JOIN {_table(TaggedItem)} item ON item.tag_id = tag.id
                   WHERE item.content_type_id = %s AND item.object_id = %s"""
        params = [self.pk, ContentType.objects.get_for_model(Post).pk, self.pk]
        if neighbours:
            published = 'status = %s AND layout = %s AND "date" <= %s'
            now = connection.ops.adapt_datetimefield_value(timezone.now())
            date = connection.ops.adapt_datetimefield_value(self.date)
            sql += f"""
                  UNION ALL
                  SELECT * FROM (
                      SELECT 2, id, title, permalink FROM {_table(Post)}
                       WHERE {published} AND "date" <= %s AND ("date" < %s OR ("date" = %s AND id < %s))
                       ORDER BY "date" DESC, id DESC LIMIT 1) AS previous_post
                  UNION ALL
                  SELECT * FROM (
                      SELECT 3, id, title, permalink FROM {_table(Post)}
                       WHERE {published} AND "date" >= %s AND ("date" > %s OR ("date" = %s AND id > %s))
                       ORDER BY "date", id LIMIT 1) AS next_post"""
            params += [Post.Status.PUBLISHED.value, Post.POST_LAYOUT, now, date, date, date, self.pk] * 2
        categories, tags, sides = [], [], {}
        for kind, pk, name, slug in _fetch_rows(sql + " ORDER BY 1, 3, 2", params):
            if kind == 0:
                categories.append(Category(pk=pk, name=name, slug=slug))
            elif kind == 1:
                tags.append(Tag(pk=pk, name=name, slug=slug))
            else:  # 2: the previous post, 3: the next one
                sides[kind] = Post(pk=pk, title=name, permalink=slug)
        return categories, tags, sides.get(2), sides.get(3)

    @property
    def zone(self):
        """Return the time zone the post's date was written in (the site's when the file gave none)."""
        if self.date_offset is None:
            return timezone.get_default_timezone()
        return fixed_zone(timedelta(minutes=self.date_offset))

    @property
    def local_datetime(self) -> datetime:
        """Return the publication date as the author saw it: the same instant, in the post's own zone."""
        return self.date.astimezone(self.zone)

    @property
    def local_modified(self) -> datetime | None:
        """Return the last change, in the post's own zone (None when there is none)."""
        return self.modified.astimezone(self.zone) if self.modified else None

    @property
    def old_site_url(self) -> str:
        """Return an absolute URL of the post on the old site, or ''.

        Relative links of the body (`/wp-content/uploads/…`) were relative to that site.
        """
        return old_site_url(self.guid, self.front_matter)

    @property
    def is_page(self) -> bool:
        return self.layout == self.PAGE_LAYOUT

    @property
    def is_public(self) -> bool:
        return self.status == self.Status.PUBLISHED and self.date <= timezone.now()

    @property
    def is_scheduled(self) -> bool:
        return self.status == self.Status.PUBLISHED and self.date > timezone.now()

    def template_variables(self) -> dict[str, str]:
        """Return the front-matter values the body may name as `{{ key }}` (none when it names none)."""
        from blog import rendering

        if "{{" not in (self.body or ""):
            return {}
        columns = {
            "title": self.title,
            "excerpt": self.excerpt,
            "layout": self.layout,
            "guid": self.guid,
            "permalink": self.permalink,
        }
        return rendering.template_variables({**columns, **(self.front_matter or {})})

    def _render_inputs(self) -> tuple:
        """Return what the stored HTML is rendered from: body, excerpt, and the values the body names."""
        return (self.body, self.excerpt, self.template_variables())

    def render(self, *, rendered: "rendering.Rendered | None" = None, cached_images: bool = True) -> None:
        """Render `body` into the stored HTML, table of contents, summary and counts.

        `rendered`: the renderer's output for this body and excerpt, made elsewhere (the
        importer renders in parallel processes). `cached_images=False`: the caller knows no
        image is cached yet, so there is nothing to look up.
        """
        from blog import rendering
        from blog.images.rewriting import rewrite_html
        from blog.links.rewriting import rewrite_links

        if rendered is None:
            rendered = rendering.render_post(self.body, excerpt=self.excerpt, variables=self.template_variables())
        # Cached remote images are served from Kabar's media (one query when there are images).
        body_html = rewrite_html(rendered.html, base_url=self.old_site_url) if cached_images else rendered.html
        # Links to the old site point at the current address of what they name.
        linked = rewrite_links(body_html, extra_hosts=self.old_hosts())
        self.body_html = linked.html
        self.internal_links = linked.links
        self.image_url = featured_image_url(self.front_matter, base_url=self.old_site_url, cached_images=cached_images)
        self.toc = rendered.toc
        self.summary = rendered.summary
        self.word_count = rendered.word_count
        self.reading_time = rendered.reading_time
        self._rendered_from = self._render_inputs()

    def save(self, *args, **kwargs):
        self.guid_path = url_path(self.guid)
        self.source_host = site_host(self.guid, self.front_matter)
        self.blogger_path = blogger_path(self.front_matter or {})
        self.permalink_key = path_key(self.permalink)
        self.sticky = (self.front_matter or {}).get("sticky") is True
        if self.date_offset is None and self._state.adding and self.date is not None:
            # A post written here keeps the site's offset of its day, as an imported one keeps its file's.
            offset = self.date.astimezone(timezone.get_default_timezone()).utcoffset()
            self.date_offset = int(offset.total_seconds() // 60)
        self.local_date = self.local_datetime.date() if self.date is not None else None
        derived = {
            "guid": {"guid_path", "source_host"},
            "front_matter": {"blogger_path", "source_host", "sticky"},
            "permalink": {"permalink_key"},
            "date": {"local_date", "date_offset"},
        }
        if kwargs.get("update_fields") is not None:
            written = set(kwargs["update_fields"])
            kwargs["update_fields"] = written.union(*(extra for name, extra in derived.items() if name in written))
        # Every save path stores the same HTML: render when the source changed.
        if getattr(self, "_rendered_from", None) != self._render_inputs() or (not self.body_html and self.body):
            self.render()
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {
                    *update_fields,
                    "body_html",
                    "image_url",
                    "toc",
                    "summary",
                    "word_count",
                    "reading_time",
                    "internal_links",
                }
        adding = self._state.adding
        super().save(*args, **kwargs)
        self._record_permalink_change(adding=adding, update_fields=kwargs.get("update_fields"))
        self._update_linking_posts(adding=adding, update_fields=kwargs.get("update_fields"))

    def old_hosts(self) -> dict[str, str]:
        """Return the old hosts this post's imported fields name (guid, wordpress_url, Blogger), with base paths."""
        from blog.links.hosts import post_hosts

        return post_hosts(
            guid=self.guid, front_matter=self.front_matter, blogger_blog=self.blogger_blog, permalink=self.permalink
        )

    def _update_linking_posts(self, *, adding: bool, update_fields) -> None:
        """Remember the post's old hosts; when its address or visibility changed, re-link the posts that link to it."""
        from blog.links import relinking
        from blog.links.hosts import remember_hosts

        remember_hosts(self.old_hosts())
        addressed = {"permalink", "status", "date"}
        if update_fields is not None and not addressed & set(update_fields):
            return
        state = (self.permalink, self.is_public)
        before = getattr(self, "_linked_state", None)
        self._linked_state = state
        if adding or before != state:
            relinking.post_changed(self, old_permalink=before[0] if before else None)

    def _record_permalink_change(self, *, adding: bool, update_fields) -> None:
        """Keep the old permalink answering with a redirect; drop redirects from the new one."""
        if update_fields is not None and "permalink" not in update_fields:
            return
        old = getattr(self, "_loaded_permalink", None)
        self._loaded_permalink = self.permalink
        if not adding and old == self.permalink:
            return
        # A path that is a post's permalink again must reach that post, not redirect away.
        # (exists() first: most saves find none, and delete() would fetch the rows to collect them.)
        shadowed = Redirect.objects.filter(old_path=self.permalink)
        if shadowed.exists():
            shadowed.delete()
        if old and old != self.permalink:
            Redirect.objects.update_or_create(old_path=old, defaults={"post": self})


class OldHost(models.Model):
    """A host name the old site answered at, learnt from imported posts: links to it are links into this blog."""

    host = models.CharField(max_length=255, unique=True, help_text=_("Lower case, without 'www.' or a port."))
    path_prefix = models.CharField(
        max_length=255, blank=True, help_text=_("The folder the old blog lived in on this host, e.g. /wordpress.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["host"]

    def __str__(self) -> str:
        return self.host


def blogger_path(front_matter) -> str:
    """Return the decoded path of a post's old Blogger address ('' when it had none)."""
    for key in ("blogger_orig_url", "blogger_permalink"):
        value = str(front_matter.get(key) or "").strip()
        if value:
            return url_path(
                value if "://" in value else "http://blogger" + ("" if value.startswith("/") else "/") + value
            )
    return ""


class LinkCheck(models.Model):
    """One run of `check_links`: its totals and the posts with something broken, for the admin's report."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    seconds = models.FloatField(default=0)
    broken = models.BooleanField(default=False)
    external_checked = models.BooleanField(default=False)
    summary = models.JSONField(default=dict)
    posts = models.JSONField(default=list, help_text=_("The report of each post with something broken."))

    class Meta:
        ordering = ["-created_at", "-pk"]
        get_latest_by = "created_at"
        verbose_name = _("link check")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M}: {self.summary.get('posts_broken', 0)} posts with broken links"


class Redirect(models.Model):
    """An old URL path that answers with a 301 to a post (e.g. a permalink changed in the admin)."""

    old_path = models.CharField(max_length=500, unique=True, validators=[validate_path])
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="redirects")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["old_path"]

    def __str__(self) -> str:
        return f"{self.old_path} → {self.post.permalink}"


class RemoteImage(models.Model):
    """One remote image URL found in posts, and what the cache knows of it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CACHED = "cached", _("Cached")
        FAILED = "failed", _("Failed")
        REFUSED = "refused", _("Refused")

    url = models.URLField(max_length=2000, unique=True)
    # The URL's path, so an old `/wp-content/uploads/…` address finds its cached copy in one lookup.
    path = models.CharField(max_length=2000, blank=True, db_index=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    fetched_at = models.DateTimeField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, blank=True, db_index=True)
    format = models.CharField(max_length=10, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True, help_text=_("Bytes of the original."))
    original = models.CharField(max_length=500, blank=True, help_text=_("Storage name of the original bytes."))
    posts = models.ManyToManyField(Post, blank=True, related_name="images")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.url

    def save(self, *args, **kwargs):
        self.path = urlsplit(self.url).path
        super().save(*args, **kwargs)


class ImageVariant(models.Model):
    """A resized copy of a cached image, in one format at one width."""

    image = models.ForeignKey(RemoteImage, on_delete=models.CASCADE, related_name="variants")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=10)
    name = models.CharField(max_length=500, help_text=_("Storage name of the file."))

    class Meta:
        ordering = ["image", "format", "width"]
        constraints = [
            models.UniqueConstraint(fields=["image", "format", "width"], name="blog_imagevariant_unique_size"),
        ]

    def __str__(self) -> str:
        return self.name


class WorkerHeartbeat(models.Model):
    """When a background worker (`manage.py run_worker`) last said it was alive.

    A task marked running is put back in the queue only when the worker that claimed it has
    stopped beating, so a long task on a live worker is never run twice.
    """

    worker_id = models.CharField(max_length=64, unique=True)
    beat_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.worker_id} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class CommentQuerySet(models.QuerySet):
    def approved(self) -> "CommentQuerySet":
        """Return comments readers may see."""
        return self.filter(status=Comment.Status.APPROVED)

    def public(self) -> "CommentQuerySet":
        """Return approved comments on posts readers may see, with their post fetched."""
        return (
            self.approved()
            .filter(post__status=Post.Status.PUBLISHED, post__date__lte=timezone.now())
            .select_related("post")
            .defer(*(f"post__{name}" for name in ("body", "body_html", "toc", "front_matter", "source_format")))
        )


class Comment(models.Model):
    """A reader's comment (or a pingback/trackback) on a post: imported, or posted on the site."""

    class Status(models.TextChoices):
        APPROVED = "approved", _("Approved")
        PENDING = "pending", _("Pending")
        SPAM = "spam", _("Spam")
        TRASH = "trash", _("Trash")

    class Type(models.TextChoices):
        COMMENT = "comment", _("Comment")
        PINGBACK = "pingback", _("Pingback")
        TRACKBACK = "trackback", _("Trackback")

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replies", help_text=_("Replied to.")
    )
    source_id = models.CharField(
        max_length=100,
        help_text=_("The comment's id at its source (WordPress comment ID, Blogger id); the #comment-… anchor."),
    )
    parent_source_id = models.CharField(
        max_length=100, blank=True, editable=False, help_text=_("The source id of the comment replied to.")
    )
    author_name = models.CharField(max_length=255, blank=True)
    author_url = models.CharField(max_length=500, blank=True)
    author_email = models.CharField(max_length=254, blank=True, help_text=_("Never shown publicly."))
    author_ip = models.GenericIPAddressField(null=True, blank=True, help_text=_("Kept for moderation, never shown."))
    user_agent = models.CharField(max_length=500, blank=True, editable=False)
    date = models.DateTimeField(default=timezone.now, db_index=True)
    body = models.TextField(help_text=_("As written; shown rendered and sanitized."))
    body_html = models.TextField(blank=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.COMMENT)
    source_data = OrderedJSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text=_("The source's keys without a column, in source order, so export writes them back alike."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CommentQuerySet.as_manager()

    class Meta:
        ordering = ["date", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["post", "source_id"], name="blog_comment_unique_source_id"),
        ]
        indexes = [
            models.Index(fields=["post", "status", "date"], name="blog_comment_post_status_date"),
            models.Index(fields=["status", "date"], name="blog_comment_status_date"),
            models.Index(fields=["author_email", "status"], name="blog_comment_email_status"),
        ]

    def __str__(self) -> str:
        return f"{self.author_name or _('Anonymous')} on {self.post_id}: {self.body[:40]}"

    @staticmethod
    def shown_rows(post: Post, names: tuple[str, ...]) -> list[tuple]:
        """Return the approved comments of `post`, oldest first, as tuples of the fields `names`."""
        fields = [Comment._meta.get_field(name) for name in names]
        rows = _fetch_rows(
            f"""SELECT {", ".join(field.column for field in fields)} FROM {_table(Comment)}
                 WHERE post_id = %s AND status = %s ORDER BY "date", id""",
            [post.pk, Comment.Status.APPROVED.value],
        )
        return _converted(rows, fields)

    @classmethod
    def from_db(cls, db, field_names, values, *args, **kwargs):
        instance = super().from_db(db, field_names, values, *args, **kwargs)
        instance._rendered_from = instance.__dict__.get("body")
        instance._loaded_status = instance.__dict__.get("status")
        instance._loaded_parent_id = instance.__dict__.get("parent_id")
        return instance

    @property
    def is_shown(self) -> bool:
        """Return whether readers see the comment (as saved last, or now): a change to it changes pages."""
        return self.Status.APPROVED in (self.status, getattr(self, "_loaded_status", None))

    @property
    def display_name(self) -> str:
        return self.name_for_readers(self.author_name)

    @staticmethod
    def name_for_readers(author_name: str) -> str:
        """Return an author's name for readers: entities decoded once (jekyll-import encodes them)."""
        return html.unescape(author_name) or str(_("Anonymous"))

    @property
    def anchor(self) -> str:
        """Return the fragment id of the comment on its post's page, as WordPress had it."""
        return f"comment-{self.source_id}"

    def get_absolute_url(self) -> str:
        return f"{self.post.permalink}#{self.anchor}"

    def render(self) -> None:
        """Render `body` into the stored, sanitized `body_html`."""
        from blog import rendering

        self.body_html = rendering.render_comment(self.body)
        self._rendered_from = self.body

    def save(self, *args, **kwargs):
        if getattr(self, "_rendered_from", None) != self.body:
            self.render()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "body_html"}
        if self.parent_id != getattr(self, "_loaded_parent_id", None) and (
            not self._state.adding or not self.parent_source_id
        ):
            # Moved in the admin: the source id follows, or an import and the export would undo it.
            self.parent_source_id = self.parent.source_id if self.parent_id else ""
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "parent_source_id"}
        super().save(*args, **kwargs)
        self._loaded_status = self.status


class Attachment(models.Model):
    """A media item of a WordPress export: its id there, its file, and the addresses it had."""

    source_id = models.BigIntegerField(unique=True, help_text=_("The WordPress attachment ID (?attachment_id=)."))
    url = models.URLField(max_length=2000, help_text=_("The file's original URL."))
    title = models.CharField(max_length=500, blank=True)
    link_path = models.CharField(
        max_length=500, blank=True, db_index=True, help_text=_("The path of the attachment's own page.")
    )
    post = models.ForeignKey(Post, on_delete=models.SET_NULL, null=True, blank=True, related_name="attachments")

    class Meta:
        ordering = ["source_id"]

    def __str__(self) -> str:
        return self.title or self.url

    def file_url(self) -> str:
        """Return where the file is served now: Kabar's cached copy when there is one, else its old URL."""
        from django.core.files.storage import default_storage

        original = (
            RemoteImage.objects.filter(url=self.url, status=RemoteImage.Status.CACHED)
            .exclude(original="")
            .values_list("original", flat=True)
            .first()
        )
        return default_storage.url(original) if original else self.url


def validate_menu_url(value: str) -> None:
    """Raise ValidationError unless `value` is a link a menu may show: http(s), mailto, a path or '#…'."""
    scheme = urlsplit(value.strip()).scheme.lower()
    if (value and scheme not in ("http", "https", "mailto") and not value.startswith(("#", "/"))) or value.startswith(
        "//"
    ):
        raise ValidationError(
            _("'%(value)s' is not an http(s) or mailto link, a path or an anchor."), params={"value": value}
        )


class MenuItem(models.Model):
    """One link of a navigation menu (a WordPress nav_menu_item): to a post or page, a category or a URL."""

    source_id = models.BigIntegerField(null=True, blank=True, unique=True, help_text=_("The WordPress menu item ID."))
    menu = models.SlugField(max_length=200, allow_unicode=True, help_text=_("The menu's slug, e.g. 'primary'."))
    title = models.CharField(max_length=500, blank=True, help_text=_("Empty: the title of what it links to."))
    post = models.ForeignKey(Post, on_delete=models.CASCADE, null=True, blank=True, related_name="menu_items")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, null=True, blank=True, related_name="menu_items")
    url = models.CharField(
        max_length=2000, blank=True, validators=[validate_menu_url], help_text=_("For links to anything else.")
    )
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    order = models.IntegerField(default=0)

    class Meta:
        ordering = ["menu", "order", "pk"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        if self.title:
            return self.title
        if self.post_id:
            return self.post.title
        if self.category_id:
            return self.category.name
        return self.url

    @property
    def href(self) -> str:
        if self.post_id:
            return self.post.permalink
        if self.category_id:
            return self.category.get_absolute_url()
        return self.url

        self._loaded_parent_id = self.parent_id


# The few reads every uncached public page makes besides its main query are written in SQL
# (standard SQL, for SQLite and PostgreSQL alike): building each with the ORM costs about
# 0.3 ms of CPU, twenty times what running it costs.
def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _fetch_rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _converted(rows: list[tuple], fields: list) -> list[tuple]:
    """Return `rows` of the columns of `fields` as the ORM reads them (SQLite keeps datetimes as text)."""
    columns = [field.get_col(field.model._meta.db_table) for field in fields]
    converters = [
        (index, converter, column)
        for index, column in enumerate(columns)
        for converter in connection.ops.get_db_converters(column) + column.get_db_converters(connection)
    ]
    if not converters:
        return rows
    converted = []
    for row in rows:
        row = list(row)
        for index, converter, column in converters:
            row[index] = converter(row[index], column, connection)
        converted.append(tuple(row))
    return converted
