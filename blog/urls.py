"""The public site's URLs, in WordPress's shapes; the last pattern hands every other path to PostView."""

from django.contrib.sitemaps.views import sitemap
from django.urls import path, re_path, register_converter

from blog import feeds, views
from blog.caching import cache_public_page as cached
from blog.oldlinks import fallback_to_old_address
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
    # A slug Kabar does not know may be WordPress's spelling of one it does: one redirect there.
    page = cached(fallback_to_old_address(view.as_view()))
    return [
        path(f"{prefix}<str:slug>/", page, name=name),
        path(f"{prefix}<str:slug>/page/<page:page>/", page, name=f"{name}-page"),
        path(f"{prefix}<str:slug>/feed/", cached(fallback_to_old_address(feed())), name=f"{name}-feed"),
        path(f"{prefix}<str:slug>/feed/atom/", cached(fallback_to_old_address(atom_feed())), name=f"{name}-feed-atom"),
    ]


def date_archive_extras() -> list:
    """Return the pages and the RSS and Atom feeds of a year, a month and a day, at WordPress's addresses."""
    patterns = []
    for name, prefix, view in (
        ("year", r"(?P<year>[0-9]{4})/", views.YearView),
        ("month", r"(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/", views.MonthView),
        ("day", r"(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/(?P<day>[0-9]{2})/", views.DayView),
    ):
        # WordPress pages its archives at /2016/03/page/2/.
        patterns.append(re_path(f"^{prefix}page/(?P<page>[0-9]+)/$", cached(view.as_view()), name=f"{name}-page"))
    for name, prefix in (
        ("year", r"(?P<year>[0-9]{4})/"),
        ("month", r"(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/"),
        ("day", r"(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/(?P<day>[0-9]{2})/"),
    ):
        patterns += [
            re_path(f"^{prefix}feed/$", cached(feeds.DateFeed()), name=f"{name}-feed"),
            re_path(f"^{prefix}feed/atom/$", cached(feeds.DateAtomFeed()), name=f"{name}-feed-atom"),
        ]
    return patterns


urlpatterns = [
    path("", home, name="home"),
    path("page/<page:page>/", home, name="home-page"),
    re_path(r"^(?P<year>[0-9]{4})/$", cached(views.YearView.as_view()), name="year"),
    re_path(r"^(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/$", cached(views.MonthView.as_view()), name="month"),
    re_path(
        r"^(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/(?P<day>[0-9]{2})/$", cached(views.DayView.as_view()), name="day"
    ),
    *date_archive_extras(),
    path("archives/", cached(views.ArchivesView.as_view()), name="archives"),
    path("search/", cached(views.SearchView.as_view()), name="search"),
    path("feed/", cached(feeds.PostFeed()), name="feed"),
    path("feed/atom/", cached(feeds.PostAtomFeed()), name="feed-atom"),
    path("category/", cached(views.CategoryIndexView.as_view()), name="category-index"),
    path("tag/", cached(views.TagIndexView.as_view()), name="tag-index"),
    path("author/", cached(views.AuthorIndexView.as_view()), name="author-index"),
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
