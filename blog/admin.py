"""Admin editing of posts, authors, categories, old URLs and cached images."""

import json

from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from markdownx.models import MarkdownxField
from markdownx.widgets import AdminMarkdownxWidget

from blog.models import Author, Category, Post, Redirect


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ["name", "display_name", "slug", "email", "post_count"]
    search_fields = ["name", "display_name", "slug", "email"]
    prepopulated_fields = {"slug": ["name"]}
    raw_id_fields = ["user"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(post_count=Count("posts"))

    @admin.display(description=_("posts"), ordering="post_count")
    def post_count(self, obj):
        return obj.post_count


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent", "post_count"]
    list_select_related = ["parent"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(post_count=Count("posts"))

    @admin.display(description=_("posts"), ordering="post_count")
    def post_count(self, obj):
        return obj.post_count


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "date", "status", "category_list"]
    list_filter = ["status", "layout", "categories", "author"]
    search_fields = ["title", "body"]
    date_hierarchy = "date"
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["author", "categories"]
    formfield_overrides = {MarkdownxField: {"widget": AdminMarkdownxWidget}}
    actions = ["publish", "unpublish"]
    readonly_fields = [
        "source_id",
        "guid",
        "blogger_blog",
        "blogger_author",
        "blogger_internal",
        "front_matter_display",
        "source_path",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["title", "slug", "permalink", "body", "excerpt"]}),
        (_("Publishing"), {"fields": ["status", "date", "modified", "author", "layout", "categories", "tags"]}),
        (
            _("Source"),
            {
                "classes": ["collapse"],
                "fields": [
                    "source_id",
                    "guid",
                    "blogger_blog",
                    "blogger_author",
                    "blogger_internal",
                    "front_matter_display",
                    "source_path",
                    "created_at",
                    "updated_at",
                ],
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author").prefetch_related("categories")

    @admin.display(description=_("categories"))
    def category_list(self, obj):
        return ", ".join(category.name for category in obj.categories.all())

    @admin.display(description=_("other front matter"))
    def front_matter_display(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.front_matter, ensure_ascii=False, indent=2))

    def _set_status(self, request, queryset, status):
        # Saved one by one so that every save path (rendering, cache versioning) runs.
        changed = 0
        for post in queryset.exclude(status=status):
            post.status = status
            post.save(update_fields=["status", "updated_at"])
            changed += 1
        self.message_user(
            request,
            ngettext("%d post changed.", "%d posts changed.", changed) % changed,
            messages.SUCCESS,
        )

    @admin.action(description=_("Publish selected posts"), permissions=["change"])
    def publish(self, request, queryset):
        self._set_status(request, queryset, Post.Status.PUBLISHED)

    @admin.action(description=_("Unpublish selected posts (back to draft)"), permissions=["change"])
    def unpublish(self, request, queryset):
        self._set_status(request, queryset, Post.Status.DRAFT)


@admin.register(Redirect)
class RedirectAdmin(admin.ModelAdmin):
    list_display = ["old_path", "post", "created_at"]
    list_select_related = ["post"]
    search_fields = ["old_path", "post__title", "post__permalink"]
    autocomplete_fields = ["post"]
