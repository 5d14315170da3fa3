"""The public site: Django's generic views over published posts, and one view for every other path.

Every archive view is configured by `PublishedPostsMixin`. Posts and pages live at their own
`permalink`, whatever its shape, so the last URL pattern sends every remaining path to
`PostView`, which looks the path up in the indexed `permalink_key` column (any spelling of
the permalink) and otherwise asks `blog.oldlinks.resolve_old_address` where an old address of
the site lives now, answering with one permanent redirect there.
"""

from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.http import Http404, HttpResponse, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.encoding import iri_to_uri
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django.views.generic import (
    ArchiveIndexView,
    DayArchiveView,
    DetailView,
    ListView,
    MonthArchiveView,
    TemplateView,
    YearArchiveView,
)
from taggit.models import Tag

from blog import comments as comment_service
from blog.caching import per_content_version
from blog.forms import CommentForm
from blog.html_links import first_image_src
from blog.models import Author, Category, Comment, Post
from blog.oldlinks import (
    POST_URL_NAME,  # noqa: F401 (the catch-all's name, used as blog.views.POST_URL_NAME)
    requested_path,
    resolve_old_address,
    wordpress_query_target,
)

# Lists show titles and summaries (blog/_post_list.html): fetch only the columns they show.
LIST_FIELDS = (
    "title",
    "permalink",
    "date",
    "date_offset",  # the post's own time zone: lists show the date the author saw
    "local_date",  # the date views' field: the day pages find their neighbours by it
    "summary",
    "image_url",
    "reading_time",
    "comment_count",
    "author__name",
    "author__slug",
    "author__display_name",
)


class PublishedPostsMixin:
    """Configure a generic view over the posts readers may see, newest first, paginated."""

    model = Post
    # The day the author saw (the date in its own UTC offset), whatever the server's TIME_ZONE.
    date_field = "local_date"
    paginate_by = settings.POSTS_PER_PAGE
    # published() already hides future posts; a post dated at +14:00 may be on "tomorrow's" day.
    allow_future = True
    # An existing subject with no post yet (a new category, an empty blog) is a real page;
    # the date archives override this: an empty month is not a page, as on WordPress.
    allow_empty = True
    month_format = "%m"
    day_format = "%d"
    feed_url = "/feed/"
    page_title = ""

    def get_queryset(self):
        return Post.objects.published().posts().only(*LIST_FIELDS)

    def get(self, request, *args, **kwargs):
        try:
            return super().get(request, *args, **kwargs)
        except OverflowError:
            # The date views step to the next day or month: past 9999-12-31 there is none.
            raise Http404(_("No such date.")) from None

    def get_dated_queryset(self, **lookup):
        return super().get_dated_queryset(**with_instant_bounds(lookup))

    def known_count(self) -> int | None:
        """Return how many posts the list has when the archive index knows it (None: count them)."""
        return None

    def get_paginator(self, queryset, per_page, **kwargs):
        paginator = super().get_paginator(queryset, per_page, **kwargs)
        count = self.known_count()
        if count is not None:
            paginator.count = count  # no COUNT(*) over every post
        return paginator

    def paginate_queryset(self, queryset, page_size):
        # Fetch relations for the page shown only: the date views also query the queryset for
        # the previous and next month, which must not fetch them.
        paginator, page, posts, is_paginated = super().paginate_queryset(queryset.select_related("author"), page_size)
        page.object_list = posts = list(posts)
        Post.attach_categories(posts)
        return paginator, page, posts, is_paginated

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("page_title", self.page_title)
        context.setdefault("feed_url", self.feed_url)
        return context


def archive_months(request=None) -> list[dict]:
    """Return every month with published posts, newest first, with its number of posts and of sticky posts.

    The archive index: computed once per content version (any change, a scheduled post
    coming due) and shared through the cache, so that the home page's years, the archives
    page and the page counts need no scan of every post.
    """

    def compute() -> list[dict]:
        months = (
            Post.objects.published()
            .posts()
            .annotate(month=TruncMonth("local_date"))  # the day the author saw: dates, not datetimes
            .values("month")
            .annotate(count=Count("pk"), sticky=Count("pk", filter=Q(sticky=True)))
            .order_by("-month")
        )
        return list(months)

    return per_content_version("archive-months", compute, request=request)


def with_instant_bounds(lookup: dict) -> dict:
    """Return the date views' `local_date` range `lookup` with the matching bounds on `date` added.

    A post's instant is less than a day from its local date: with these bounds the database
    reads the month from the (status, date) index instead of walking it from the newest post.
    """
    since, until = lookup.get("local_date__gte"), lookup.get("local_date__lt")
    if since is None or until is None:
        return lookup
    return lookup | {
        "date__gt": datetime.combine(since, time.min, UTC) - timedelta(days=1),
        "date__lt": datetime.combine(until, time.min, UTC) + timedelta(days=1),
    }


class HomeView(PublishedPostsMixin, ArchiveIndexView):
    date_list_period = "year"
    template_name = "blog/post_archive.html"

    def get_queryset(self):
        # Sticky posts first, as WordPress's front page had them; then the newest. Ordering by
        # `sticky` costs a sort of every published post, so only a blog that has some pays it.
        if any(entry["sticky"] for entry in archive_months(self.request)):
            return super().get_queryset().order_by("-sticky", "-date", "-pk")
        return super().get_queryset().order_by("-date", "-pk")

    def get_date_list(self, queryset, date_type=None, ordering="DESC"):
        years = {}
        for entry in archive_months(self.request):
            years.setdefault(entry["month"].year, entry["month"])
        return list(years.values())

    def known_count(self) -> int:
        return sum(entry["count"] for entry in archive_months(self.request))

    def get(self, request, *args, **kwargs):
        target = wordpress_query_target(request.GET)
        if target is None:
            raise Http404(_("No post with this id."))
        if target:
            return HttpResponsePermanentRedirect(target)
        if request.GET.get("m") in ("0", "1"):  # Blogger's mobile view of the home page
            return HttpResponsePermanentRedirect(resolve_old_address("/", request.META.get("QUERY_STRING", "")))
        return super().get(request, *args, **kwargs)


class YearView(PublishedPostsMixin, YearArchiveView):
    make_object_list = True
    allow_empty = False


class MonthView(PublishedPostsMixin, MonthArchiveView):
    """A month's posts; whether it has any, how many, and its neighbours come from the archive index."""

    allow_empty = False

    def _months(self) -> list[date]:
        return [entry["month"] for entry in archive_months(self.request)]  # newest first

    def known_count(self) -> int:
        year, month = int(self.get_year()), int(self.get_month())
        counts = [
            e["count"] for e in archive_months(self.request) if (e["month"].year, e["month"].month) == (year, month)
        ]
        return sum(counts)

    def get_dated_queryset(self, **lookup):
        if not self.known_count():
            raise Http404(_("No posts in this month."))
        return self.get_queryset().filter(**with_instant_bounds(lookup))  # published: nothing in the future

    def get_date_list(self, queryset, date_type=None, ordering="ASC"):
        return []  # the month page lists no days

    def get_next_month(self, date):
        return next((month for month in reversed(self._months()) if month > date), None)

    def get_previous_month(self, date):
        return next((month for month in self._months() if month < date.replace(day=1)), None)


class DayView(PublishedPostsMixin, DayArchiveView):
    allow_empty = False

    # A day page links to the neighbouring days only: skip the two month look-ups.
    def get_next_month(self, date):
        return None

    def get_previous_month(self, date):
        return None


class CategoryView(PublishedPostsMixin, ListView):
    def get_queryset(self):
        self.category = get_object_or_404(Category, slug=self.kwargs["slug"])
        return super().get_queryset().in_category(self.category)

    def get_context_data(self, **kwargs):
        url = self.category.get_absolute_url()
        return super().get_context_data(
            subject=self.category, page_title=_("Category: %s") % self.category, feed_url=f"{url}feed/", **kwargs
        )


class TagView(PublishedPostsMixin, ListView):
    def get_queryset(self):
        self.tag = get_object_or_404(Tag, slug=self.kwargs["slug"])
        return super().get_queryset().filter(tags__in=[self.tag])

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            subject=self.tag, page_title=_("Tag: %s") % self.tag, feed_url=f"/tag/{self.tag.slug}/feed/", **kwargs
        )


class AuthorView(PublishedPostsMixin, ListView):
    def get_queryset(self):
        self.author = get_object_or_404(Author, slug=self.kwargs["slug"])
        return super().get_queryset().filter(author=self.author)

    def get_context_data(self, **kwargs):
        url = self.author.get_absolute_url()
        return super().get_context_data(
            subject=self.author, page_title=_("Posts by %s") % self.author, feed_url=f"{url}feed/", **kwargs
        )


class SearchView(PublishedPostsMixin, ListView):
    template_name = "blog/search.html"

    def get_queryset(self):
        self.query = self.request.GET.get("q", "").strip()[:200]
        return Post.objects.published().only(*LIST_FIELDS).search(self.query)

    def get_context_data(self, **kwargs):
        title = _("Search results for “%s”") % self.query if self.query else _("Search")
        return super().get_context_data(query=self.query, page_title=title, **kwargs)

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        response.headers["X-Robots-Tag"] = "noindex"
        return response


class SubjectIndexView(ListView):
    """Every category, tag or author that has published posts, with how many: WordPress's index pages."""

    template_name = "blog/subject_index.html"
    allow_empty = True
    page_title = ""

    def published_posts(self):
        return Post.objects.published().posts()

    def get_context_data(self, **kwargs):
        return super().get_context_data(page_title=self.page_title, **kwargs)


class CategoryIndexView(SubjectIndexView):
    page_title = _("Categories")

    def get_queryset(self):
        posts = Count("posts", filter=Q(posts__in=self.published_posts()))
        return Category.objects.annotate(count=posts).filter(count__gt=0).order_by("name")


class TagIndexView(SubjectIndexView):
    page_title = _("Tags")

    def get_queryset(self):
        posts = Count(
            "taggit_taggeditem_items",
            filter=Q(
                taggit_taggeditem_items__content_type=ContentType.objects.get_for_model(Post),
                taggit_taggeditem_items__object_id__in=self.published_posts().values("pk"),
            ),
        )
        return Tag.objects.annotate(count=posts).filter(count__gt=0).order_by("name")


class AuthorIndexView(SubjectIndexView):
    page_title = _("Authors")

    def get_queryset(self):
        posts = Count("posts", filter=Q(posts__in=self.published_posts()))
        return Author.objects.annotate(count=posts).filter(count__gt=0).order_by("name")


class ArchivesView(TemplateView):
    template_name = "blog/archives.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(months=archive_months(self.request), page_title=_("Archives"), **kwargs)


def can_preview(user) -> bool:
    """Return whether `user` may see drafts and scheduled posts at their permalink."""
    return user.is_authenticated and user.is_staff and user.has_perm("blog.change_post")


class PostView(DetailView):
    """A post or page at its permalink; for any other path, a redirect from an old address or a 404."""

    model = Post
    template_name = "blog/post_detail.html"

    def get(self, request, *args, **kwargs):
        path = request.path_info
        # path_info is decoded already: it is the key of every spelling of the permalink.
        post = Post.at_permalink_key(path)
        if post is None:
            feed = post_comment_feed(request, path)
            if feed is not None:
                return feed
        if post is None or not (post.is_public or can_preview(request.user)):
            target = resolve_old_address(path, request.META.get("QUERY_STRING", ""))
            if target is None:
                raise Http404(_("No page at this address."))
            return HttpResponsePermanentRedirect(target)
        mobile = request.GET.get("m") in ("0", "1")
        raw = requested_path(request)
        if post.is_public and (mobile or (raw is not None and raw != iri_to_uri(post.permalink))):
            # Blogger's mobile view, or another spelling of the permalink (upper-case escapes,
            # raw UTF-8): one redirect to the address exactly as the old site wrote it.
            query = request.GET.copy()
            if mobile:
                del query["m"]
            return HttpResponsePermanentRedirect(post.permalink + (f"?{query.urlencode()}" if query else ""))
        self.object = post
        response = self.render_to_response(self.get_context_data(object=post))
        if not post.is_public:
            add_never_cache_headers(response)
            response.headers["X-Robots-Tag"] = "noindex"
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        post = self.object
        context["categories"], context["tags"], previous_post, next_post = post.page_relations(
            neighbours=not post.is_page
        )
        context["preview"] = not post.is_public
        if not post.is_page:
            context["previous_post"], context["next_post"] = previous_post, next_post
        context["thread"] = comment_service.build_thread(
            comment_service.shown_comments(post), max_depth=settings.COMMENTS_THREAD_DEPTH
        )
        context["comments_open"] = comment_service.comments_open(post)
        context["comment_form_url"] = reverse("comment-form", args=[post.pk])
        context["comment_feed_url"] = post.permalink + ("feed/" if post.permalink.endswith("/") else "/feed/")
        context["image_url"] = post.image_url or first_image_src(post.body_html)
        context["og_type"] = "website" if post.is_page else "article"
        context["og_title"] = post.title
        context["meta_description"] = post.summary
        context["json_ld"] = self.json_ld(post, context)
        return context

    def json_ld(self, post: Post, context: dict) -> dict:
        absolute = self.request.build_absolute_uri
        data = {
            "@context": "https://schema.org",
            "@type": "WebPage" if post.is_page else "BlogPosting",
            "headline": post.title,
            "description": post.summary,
            "datePublished": post.local_datetime.isoformat(),
            "dateModified": (post.local_modified or post.local_datetime).isoformat(),
            "mainEntityOfPage": absolute(post.permalink),
            "url": absolute(post.permalink),
            "author": {"@type": "Person", "name": str(post.author), "url": absolute(post.author.get_absolute_url())},
            "keywords": [tag.name for tag in context["tags"]],
            "articleSection": [category.name for category in context["categories"]],
            "wordCount": post.word_count,
            "commentCount": post.comment_count,
        }
        if context["image_url"]:
            data["image"] = absolute(context["image_url"])
        return data


def post_comment_feed(request, path: str):
    """Return the comment feed of the post whose permalink `path` extends with feed/ (or feed/atom/), or None."""
    from blog.feeds import PostCommentAtomFeed, PostCommentFeed

    for suffix, feed in (("feed/atom/", PostCommentAtomFeed), ("feed/", PostCommentFeed)):
        if not path.endswith("/" + suffix):
            continue
        base = path[: -len(suffix)]
        keys = sorted({base, base.rstrip("/")} - {""})  # path_info is decoded: compare with permalink_key
        post = Post.objects.published().filter(permalink_key__in=keys).only("title", "permalink").first()
        return feed()(request, post=post) if post is not None else None
    return None


class CommentFormView(TemplateView):
    """The form for a new comment or a reply (its own page: the post pages are cached for everyone)."""

    template_name = "blog/comment_form.html"

    def dispatch(self, request, *args, **kwargs):
        self.post_object = get_object_or_404(Post.objects.published(), pk=kwargs["post_id"])
        response = super().dispatch(request, *args, **kwargs)
        add_never_cache_headers(response)
        response.headers["X-Robots-Tag"] = "noindex"
        return response

    def get(self, request, *args, **kwargs):
        form = None
        if comment_service.comments_open(self.post_object) and "sent" not in request.GET:
            form = CommentForm(post=self.post_object, initial={"parent": request.GET.get("replyto", "")[:100]})
        return self.render_to_response(self.get_context_data(form=form, sent=request.GET.get("sent")))

    def post(self, request, *args, **kwargs):
        post = self.post_object
        if not comment_service.comments_open(post):
            return self.render_to_response(self.get_context_data(form=None), status=403)
        form = CommentForm(request.POST, post=post)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        address = comment_service.client_ip(request)
        if comment_service.rate_limited(address):
            form.add_error(None, _("You have sent many comments in a short time: please wait a few minutes."))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        data = form.cleaned_data
        comment = comment_service.submit_comment(
            post=post,
            name=data["name"],
            email=data["email"],
            url=data["url"],
            body=data["body"],
            parent=data["parent"],
            ip=address,
            user_agent=request.headers.get("User-Agent", ""),
            trusted_user=request.user.has_perm("blog.change_comment"),
        )
        if comment.status == Comment.Status.APPROVED:
            return HttpResponseRedirect(comment.get_absolute_url(), status=303)
        return HttpResponseRedirect(f"{request.path}?sent=1", status=303)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        post = self.post_object
        context["post"] = post
        context["comments_open"] = comment_service.comments_open(post)
        form = context.get("form")
        parent_id = (form["parent"].value() if form is not None else "") or ""
        context["reply_to"] = (
            Comment.objects.approved().filter(post=post, source_id=parent_id).first() if parent_id else None
        )
        context["page_title"] = (
            _("Reply to a comment on “%s”") % post.title if context["reply_to"] else _("Comment on “%s”") % post.title
        )
        return context


@require_GET
def robots_txt(request):
    """Return robots.txt: everything but the admin and search may be crawled; where the sitemap is."""
    lines = [
        "User-agent: *",
        "Disallow: /admin/",
        "Disallow: /search/",
        "",
        f"Sitemap: {request.build_absolute_uri('/sitemap.xml')}",
        "",
    ]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")
