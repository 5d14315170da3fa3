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


# --- Remote image cache (blog/images/) -------------------------------------------------------

from django.core.files.storage import default_storage  # noqa: E402
from django.db.models import Prefetch  # noqa: E402
from django.utils.html import format_html_join  # noqa: E402

from blog.models import ImageVariant, RemoteImage  # noqa: E402

_variants_by_width = Prefetch("variants", queryset=ImageVariant.objects.order_by("width", "format"))


def _thumbnail(image):
    """Return a small preview of a cached image: its narrowest variant (prefetched), else the original."""
    if image.status != RemoteImage.Status.CACHED:
        return "—"
    variants = list(image.variants.all())
    name = variants[0].name if variants else image.original
    return format_html('<img src="{}" alt="" style="max-width:80px;max-height:60px">', default_storage.url(name))


@admin.register(RemoteImage)
class RemoteImageAdmin(admin.ModelAdmin):
    list_display = ["thumbnail", "url", "status", "dimensions", "size", "attempts", "last_error", "fetched_at"]
    list_display_links = ["url"]
    list_filter = ["status", "format"]
    search_fields = ["url"]
    actions = ["retry"]
    readonly_fields = [
        "thumbnail",
        "url",
        "status",
        "width",
        "height",
        "format",
        "size",
        "content_hash",
        "original",
        "variant_list",
        "etag",
        "last_modified",
        "attempts",
        "fetched_at",
        "last_error",
        "post_list",
        "created_at",
        "updated_at",
    ]
    exclude = ["posts"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(_variants_by_width)

    def has_add_permission(self, request):
        return False  # records come from the posts' bodies

    @admin.display(description=_("preview"))
    def thumbnail(self, obj):
        return _thumbnail(obj)

    @admin.display(description=_("size"), ordering="width")
    def dimensions(self, obj):
        return f"{obj.width}\u00d7{obj.height}" if obj.width else "—"

    @admin.display(description=_("variants"))
    def variant_list(self, obj):
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{} {}&times;{}</a></li>',
                ((default_storage.url(v.name), v.format, v.width, v.height) for v in obj.variants.all()),
            ),
        )

    @admin.display(description=_("posts"))
    def post_list(self, obj):
        return format_html_join(", ", '<a href="{}">{}</a>', ((p.permalink, p.title) for p in obj.posts.all()))

    @admin.action(description=_("Retry selected images (fetched by the next cache_images run)"), permissions=["change"])
    def retry(self, request, queryset):
        # Fetching here would block the request: queue them for the command or a worker.
        queued = queryset.exclude(status=RemoteImage.Status.CACHED).update(
            status=RemoteImage.Status.PENDING, last_error=""
        )
        self.message_user(
            request,
            ngettext(
                "%d image queued: `manage.py cache_images --all` fetches it.",
                "%d images queued: `manage.py cache_images --all` fetches them.",
                queued,
            )
            % queued,
            messages.SUCCESS,
        )


class PostImageInline(admin.TabularInline):
    """The images a post shows, with their cache status (read-only: they come from the body)."""

    model = RemoteImage.posts.through
    verbose_name = _("image")
    verbose_name_plural = _("images (remote image cache)")
    fields = ["thumbnail", "image_url", "status", "error"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("remoteimage")
            .prefetch_related(Prefetch("remoteimage__variants", queryset=_variants_by_width.queryset))
        )

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("preview"))
    def thumbnail(self, obj):
        return _thumbnail(obj.remoteimage)

    @admin.display(description=_("URL"))
    def image_url(self, obj):
        return format_html('<a href="{}">{}</a>', obj.remoteimage.url, obj.remoteimage.url)

    @admin.display(description=_("status"))
    def status(self, obj):
        return obj.remoteimage.get_status_display()

    @admin.display(description=_("error"))
    def error(self, obj):
        return obj.remoteimage.last_error


PostAdmin.inlines = [*PostAdmin.inlines, PostImageInline]
