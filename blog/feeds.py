"""RSS 2.0 and Atom feeds of the newest posts: the whole site, a category, a tag, an author."""

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.html import escape
from taggit.models import Tag

from blog.html_links import absolute_links
from blog.models import Author, Category, Comment, Post


@dataclass(frozen=True)
class FeedScope:
    """What a feed covers (None: the whole site) and the site's absolute root for its links."""

    site_root: str
    subject: Category | Tag | Author | None = None
    subject_url: str = "/"


class PostFeed(Feed):
    """The newest published posts as RSS 2.0; subclasses narrow the subject or change the format."""

    feed_type = Rss201rev2Feed
    feed_path = "feed/"

    def get_object(self, request, *args, **kwargs):
        return FeedScope(site_root=request.build_absolute_uri("/").rstrip("/"))

    def filter_items(self, queryset, scope: FeedScope):
        return queryset

    def title(self, scope: FeedScope) -> str:
        return f"{settings.SITE_NAME} » {scope.subject}" if scope.subject else settings.SITE_NAME

    def link(self, scope: FeedScope) -> str:
        return scope.subject_url

    def feed_url(self, scope: FeedScope) -> str:
        return scope.subject_url + self.feed_path

    def description(self, scope: FeedScope) -> str:
        return settings.SITE_DESCRIPTION

    def items(self, scope: FeedScope):
        queryset = self.filter_items(
            Post.objects.published().posts().with_list_relations().prefetch_related("tags"), scope
        )
        posts = list(queryset[: settings.FEED_SIZE])
        for post in posts:
            # Items only get themselves: carry the request's root along for absolute URLs.
            post.feed_site_root = scope.site_root
        return posts

    def item_title(self, post: Post) -> str:
        return post.title

    def item_description(self, post: Post) -> str:
        html = post.body_html
        if post.image_url and escape(post.image_url) not in html:
            # The featured image, as the old site's feed showed it: first.
            html = f'<p><img src="{escape(post.image_url)}" alt=""></p>' + html
        return absolute_links(html, base_url=post.feed_site_root + post.permalink)

    def item_guid(self, post: Post) -> str:
        # The old site's guid keeps feed readers from showing every post again after the move.
        return post.guid or post.feed_site_root + post.permalink

    def item_guid_is_permalink(self, post: Post) -> bool:
        return not post.guid

    def item_pubdate(self, post: Post):
        # The same instant, written with the offset the author used.
        return post.local_datetime

    def item_updateddate(self, post: Post):
        return max(post.modified or post.date, post.date).astimezone(post.zone)

    def item_author_name(self, post: Post) -> str:
        return str(post.author)

    def item_author_link(self, post: Post) -> str:
        return post.feed_site_root + post.author.get_absolute_url()

    def item_categories(self, post: Post) -> list[str]:
        return [category.name for category in post.categories.all()] + [tag.name for tag in post.tags.all()]


class AtomFeedMixin:
    feed_type = Atom1Feed
    feed_path = "feed/atom/"

    def subtitle(self, scope: FeedScope) -> str:
        return self.description(scope)


class PostAtomFeed(AtomFeedMixin, PostFeed):
    pass


class SubjectFeed(PostFeed):
    """The newest posts of one subject, found by the slug in the URL."""

    subject_model = Category

    def get_object(self, request, slug):
        subject = get_object_or_404(self.subject_model, slug=slug)
        scope = super().get_object(request)
        return FeedScope(site_root=scope.site_root, subject=subject, subject_url=self.subject_url(subject))

    def subject_url(self, subject) -> str:
        return subject.get_absolute_url()


class CategoryFeed(SubjectFeed):
    subject_model = Category

    def filter_items(self, queryset, scope: FeedScope):
        return queryset.in_category(scope.subject)


class CategoryAtomFeed(AtomFeedMixin, CategoryFeed):
    pass


class TagFeed(SubjectFeed):
    subject_model = Tag

    def subject_url(self, subject) -> str:
        return f"/tag/{subject.slug}/"

    def filter_items(self, queryset, scope: FeedScope):
        return queryset.filter(tags__in=[scope.subject])


class TagAtomFeed(AtomFeedMixin, TagFeed):
    pass


class AuthorFeed(SubjectFeed):
    subject_model = Author

    def filter_items(self, queryset, scope: FeedScope):
        return queryset.filter(author=scope.subject)


class AuthorAtomFeed(AtomFeedMixin, AuthorFeed):
    pass


class DateFeed(PostFeed):
    """The newest posts of a year, a month or a day (by the date the author saw), as WordPress has them."""

    def get_object(self, request, year, month=None, day=None):
        scope = super().get_object(request)
        try:
            start = date(int(year), int(month or 1), int(day or 1))
        except ValueError:
            raise Http404("No such date.") from None
        parts = [year, month, day]
        url = "/" + "".join(f"{part}/" for part in parts if part)
        return FeedScope(site_root=scope.site_root, subject=_DateSpan(start, month, day), subject_url=url)

    def filter_items(self, queryset, scope: FeedScope):
        span = scope.subject
        # Lookups, not an end date: the day after 9999-12-31 does not exist.
        if span.day:
            return queryset.filter(local_date=span.start)
        lookup = {"local_date__year": span.start.year}
        if span.month:
            lookup["local_date__month"] = span.start.month
        return queryset.filter(**lookup)


@dataclass(frozen=True)
class _DateSpan:
    start: date
    month: str | None
    day: str | None

    def __str__(self) -> str:
        if self.day:
            return self.start.strftime("%d %B %Y").lstrip("0")
        return self.start.strftime("%B %Y") if self.month else str(self.start.year)


class DateAtomFeed(AtomFeedMixin, DateFeed):
    pass


# --- Comment feeds: the whole site's (/comments/feed/) and a post's (<permalink>feed/) ---------


@dataclass(frozen=True)
class CommentScope:
    site_root: str
    post: Post | None = None


class CommentFeed(Feed):
    """The newest approved comments on posts readers may see, as RSS 2.0 (WordPress's /comments/feed/)."""

    feed_type = Rss201rev2Feed
    feed_path = "feed/"

    def get_object(self, request, *args, **kwargs):
        return CommentScope(site_root=request.build_absolute_uri("/").rstrip("/"))

    def title(self, scope: CommentScope) -> str:
        if scope.post is not None:
            return f"Comments on: {scope.post.title}"
        return f"Comments for {settings.SITE_NAME}"

    def link(self, scope: CommentScope) -> str:
        return scope.post.permalink if scope.post is not None else "/"

    def feed_url(self, scope: CommentScope) -> str:
        if scope.post is not None:
            base = scope.post.permalink
            return base + ("" if base.endswith("/") else "/") + self.feed_path
        return "/comments/" + self.feed_path

    def description(self, scope: CommentScope) -> str:
        return settings.SITE_DESCRIPTION

    def items(self, scope: CommentScope):
        comments = Comment.objects.public().filter(type=Comment.Type.COMMENT)
        if scope.post is not None:
            comments = comments.filter(post=scope.post)
        comments = list(comments.order_by("-date", "-pk")[: settings.FEED_SIZE])
        for comment in comments:
            comment.feed_site_root = scope.site_root
        return comments

    def item_title(self, comment: Comment) -> str:
        if self.single_post:
            return f"By: {comment.display_name}"
        return f"Comment on {comment.post.title} by {comment.display_name}"

    def item_link(self, comment: Comment) -> str:
        return comment.feed_site_root + comment.get_absolute_url()

    def item_description(self, comment: Comment) -> str:
        return absolute_links(comment.body_html, base_url=comment.feed_site_root + comment.post.permalink)

    def item_guid(self, comment: Comment) -> str:
        return self.item_link(comment)

    def item_pubdate(self, comment: Comment):
        return comment.date

    def item_author_name(self, comment: Comment) -> str:
        return comment.display_name

    single_post = False


class CommentAtomFeed(AtomFeedMixin, CommentFeed):
    pass


class PostCommentFeed(CommentFeed):
    """The approved comments of one post (WordPress's <permalink>feed/), newest first."""

    single_post = True

    def get_object(self, request, post: Post):
        scope = super().get_object(request)
        return CommentScope(site_root=scope.site_root, post=post)


class PostCommentAtomFeed(AtomFeedMixin, PostCommentFeed):
    pass
