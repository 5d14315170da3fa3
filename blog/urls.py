"""The public site's URLs, in WordPress's shapes; the last pattern hands every other path to PostView."""

from django.contrib.sitemaps.views import sitemap
from django.urls import path, re_path, register_converter

from blog import feeds, views
from blog.caching import cache_public_page as cached
from blog.sitemaps import SITEMAPS

home = cached(views.HomeView.as_view())


class PageNumberConverter:
    """A page number as WordPress writes it: 1, 2, … (no /page/0/ or /page/01/ copy of a page)."""

    regex = "[1-9][0-9]*"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(PageNumberConverter, "page")


def listing(prefix: str, view, feed, atom_feed, name: str) -> list:
    """Return the URL patterns of a subject's page, its /page/N/ form and its two feeds."""
    page = cached(view.as_view())
    return [
        path(f"{prefix}<str:slug>/", page, name=name),
        path(f"{prefix}<str:slug>/page/<page:page>/", page, name=f"{name}-page"),
        path(f"{prefix}<str:slug>/feed/", cached(feed()), name=f"{name}-feed"),
        path(f"{prefix}<str:slug>/feed/atom/", cached(atom_feed()), name=f"{name}-feed-atom"),
    ]


urlpatterns = [
    path("", home, name="home"),
    path("page/<page:page>/", home, name="home-page"),
    re_path(r"^(?P<year>[0-9]{4})/$", cached(views.YearView.as_view()), name="year"),
    re_path(r"^(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/$", cached(views.MonthView.as_view()), name="month"),
    re_path(
        r"^(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/(?P<day>[0-9]{2})/$", cached(views.DayView.as_view()), name="day"
    ),
    path("archives/", cached(views.ArchivesView.as_view()), name="archives"),
    path("search/", cached(views.SearchView.as_view()), name="search"),
    path("feed/", cached(feeds.PostFeed()), name="feed"),
    path("feed/atom/", cached(feeds.PostAtomFeed()), name="feed-atom"),
    *listing("category/", views.CategoryView, feeds.CategoryFeed, feeds.CategoryAtomFeed, "category"),
    *listing("tag/", views.TagView, feeds.TagFeed, feeds.TagAtomFeed, "tag"),
    *listing("author/", views.AuthorView, feeds.AuthorFeed, feeds.AuthorAtomFeed, "author"),
    path("comments/feed/", cached(feeds.CommentFeed()), name="comment-feed"),
    path("comments/feed/atom/", cached(feeds.CommentAtomFeed()), name="comment-feed-atom"),
    path("comments/new/<int:post_id>/", views.CommentFormView.as_view(), name="comment-form"),
    path("sitemap.xml", cached(sitemap), {"sitemaps": SITEMAPS}, name="sitemap"),
    path("robots.txt", cached(views.robots_txt), name="robots"),
    # Last: posts and pages at their permalinks, and every old address of the site.
    re_path(r"^.*$", cached(views.PostView.as_view()), name=views.POST_URL_NAME),
]
