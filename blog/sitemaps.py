"""The sitemap: published posts (with their last change), pages, categories and tags."""

from django.contrib.contenttypes.models import ContentType
from django.contrib.sitemaps import Sitemap
from taggit.models import Tag, TaggedItem

from blog.models import Category, Post


class PostSitemap(Sitemap):
    layout = Post.POST_LAYOUT

    def items(self):
        return Post.objects.published().filter(layout=self.layout).only("permalink", "date", "modified")

    def lastmod(self, post: Post):
        # The post's own last change (front-matter modified_time, or the Modified field an editor
        # sets), never the moment an import or a save wrote the row.
        return max(moment for moment in (post.date, post.modified) if moment)


class PageSitemap(PostSitemap):
    layout = Post.PAGE_LAYOUT


class CategorySitemap(Sitemap):
    def items(self):
        return Category.objects.filter(posts__in=Post.objects.published()).distinct().only("slug")


class TagSitemap(Sitemap):
    def items(self):
        tagged_posts = TaggedItem.objects.filter(
            content_type=ContentType.objects.get_for_model(Post),
            object_id__in=Post.objects.published().values("pk"),
        )
        return Tag.objects.filter(pk__in=tagged_posts.values("tag_id")).order_by("name")

    def location(self, tag: Tag) -> str:
        return f"/tag/{tag.slug}/"


SITEMAPS = {"posts": PostSitemap, "pages": PageSitemap, "categories": CategorySitemap, "tags": TagSitemap}
