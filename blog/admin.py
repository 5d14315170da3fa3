"""Admin editing of posts, authors, categories, old URLs and cached images."""

import html
import itertools
import json
import re
from datetime import datetime

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator, slugify
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from markdownx.models import MarkdownxField
from markdownx.widgets import AdminMarkdownxWidget
from taggit.models import Tag, TaggedItem

from blog import comments as comment_service
from blog.editor import body_too_long
from blog.models import Author, Category, Comment, LinkCheck, Post, Redirect
from blog.tasks import check_links_task, enqueue_image_caching, render_posts_task

# The first <img src="…"> of the stored HTML: the sanitizer writes attributes in double quotes.
_FIRST_IMAGE = re.compile(r"<img\b[^>]*?\ssrc=\"([^\"]+)\"", re.IGNORECASE)


def derived_permalink(*, date: datetime, slug: str) -> str:
    """Return the permalink a post gets when it has none of its own: /yyyy/mm/dd/slug/."""
    return f"/{timezone.localtime(date):%Y/%m/%d}/{slug}/"


def first_image_url(*, body_html: str) -> str:
    """Return the address of the first image in the rendered HTML, or ''."""
    match = _FIRST_IMAGE.search(body_html)
    return html.unescape(match.group(1)) if match else ""


def same_text(*, submitted: str, stored: str) -> str:
    """Return the text to store for a submitted textarea: `stored` itself when only line endings differ.

    Browsers submit every line break of a textarea as CRLF. An unchanged text keeps its bytes;
    a changed one keeps the line endings the stored text used.
    """
    text = submitted.replace("\r\n", "\n")
    if text == stored.replace("\r\n", "\n"):
        return stored
    return text.replace("\n", "\r\n") if "\r\n" in stored else text


# The admin is Kabar's: its name in the header and the page titles. The list of every model
# beside each page is left out: the lists and forms need the width (a post list fits 1280 px).
admin.site.site_header = _("Kabar")
admin.site.site_title = _("Kabar admin")
admin.site.index_title = _("Your blog")
admin.site.enable_nav_sidebar = False


def editor_author(user) -> Author:
    """Return the author who is `user`, linking an unlinked author of the same name or creating one."""
    author = Author.objects.filter(user=user).first()
    if author is not None:
        return author
    slug = slugify(user.get_username(), allow_unicode=True) or "editor"
    author = Author.objects.filter(slug=slug, user__isnull=True).first()
    if author is None:
        taken = set(Author.objects.filter(slug__startswith=slug).values_list("slug", flat=True))
        candidates = (slug if n == 1 else f"{slug}-{n}" for n in itertools.count(1))
        unique = next(candidate for candidate in candidates if candidate not in taken)
        author = Author(name=user.get_username(), slug=unique, display_name=user.get_full_name(), email=user.email)
    author.user = user
    author.save()
    return author


# What the import brought along, shown read-only in a collapsed fieldset.
SOURCE_FIELDS = [
    "source_id",
    "source_host",
    "date_as_written",
    "guid",
    "blogger_blog",
    "blogger_author",
    "blogger_internal",
    "front_matter_display",
    "source_path",
    "created_at",
    "updated_at",
]


class PostCountMixin:
    """A sortable column with the number of posts, counted in the changelist's own query."""

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(post_count=Count("posts"))

    @admin.display(description=_("posts"), ordering="post_count")
    def post_count(self, obj):
        return obj.post_count


@admin.register(Author)
class AuthorAdmin(PostCountMixin, admin.ModelAdmin):
    list_display = ["name", "display_name", "slug", "email", "post_count"]
    search_fields = ["name", "display_name", "slug", "email"]
    prepopulated_fields = {"slug": ["name"]}
    raw_id_fields = ["user"]


@admin.register(Category)
class CategoryAdmin(PostCountMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "parent", "post_count"]
    list_select_related = ["parent"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]


class TagListFilter(admin.SimpleListFilter):
    """Filter posts by one of the tags posts use, with counts from one grouped query."""

    title = _("tags")
    parameter_name = "tag"

    @staticmethod
    def _post_tagged_items():
        # By app label and model name, not ContentType.get_for_model(): its per-process cache
        # would make the first request run one query more than the next.
        return TaggedItem.objects.filter(
            content_type__app_label=Post._meta.app_label, content_type__model=Post._meta.model_name
        )

    def lookups(self, request, model_admin):
        used = self._post_tagged_items().values("tag_id")
        return list(Tag.objects.filter(pk__in=used).order_by("name").values_list("slug", "name"))

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(tags__slug=self.value())
        return queryset

    def get_facet_queryset(self, changelist):
        posts = changelist.get_queryset(self.request, exclude_parameters=self.expected_parameters())
        counts = dict(
            self._post_tagged_items()
            .filter(object_id__in=posts.order_by().values("pk"))
            .values_list("tag__slug")
            .annotate(count=Count("pk"))
        )
        return {f"{index}__c": counts.get(slug, 0) for index, (slug, _name) in enumerate(self.lookup_choices)}


class GroupedCountFilter(admin.RelatedFieldListFilter):
    """Django's related-field filter, with its counts from one grouped query.

    Django counts each choice in a column of its own: with thousands of categories the query
    passes the database's column limit (a 500). One GROUP BY costs the same for any number.
    """

    def get_facet_queryset(self, changelist):
        posts = changelist.get_queryset(self.request, exclude_parameters=self.expected_parameters())
        counts = dict(
            posts.order_by()
            .prefetch_related(None)
            .values_list(self.field_path)
            .annotate(count=Count(changelist.pk_attname, distinct=True))
        )
        facets = {f"{pk}__c": counts.get(pk, 0) for pk, _name in self.lookup_choices}
        facets["__c"] = counts.get(None, 0)
        return facets


class PostBodyWidget(AdminMarkdownxWidget):
    """The markdownx editor whose preview renders as the post being edited (see blog.editor.markdownify)."""

    preview_url = ""

    def add_markdownx_attrs(self, attrs):
        attrs = super().add_markdownx_attrs(attrs)
        if self.preview_url:
            attrs["data-markdownx-urls-path"] = self.preview_url
        return attrs


class PostAdminForm(forms.ModelForm):
    class Meta:
        model = Post
        fields = [
            "title",
            "slug",
            "permalink",
            "body",
            "excerpt",
            "status",
            "date",
            "modified",
            "author",
            "layout",
            "categories",
            "tags",
            "comment_status",
        ]

    # Texts kept byte for byte: a body's leading newline or trailing spaces are the file's own.
    VERBATIM_FIELDS = ("body", "excerpt")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.VERBATIM_FIELDS:
            if name in self.fields:
                self.fields[name].strip = False
        if "author" in self.fields and self.instance.pk is None:
            # A new post is the editor's own: their author is made from their account when the post
            # is saved (PostAdmin.save_model), never when the form is only shown.
            self.fields["author"].required = False
            self.fields["author"].help_text = _("Leave empty to be the author yourself.")
        if "permalink" in self.fields:
            self.fields["permalink"].required = False
            self.fields["permalink"].help_text = _(
                "The post's URL path, e.g. /2022/10/29/slug/. Leave empty for /yyyy/mm/dd/slug/ from the "
                "date and slug. When it changes, the old address redirects here."
            )

    def clean_body(self):
        body = self.cleaned_data.get("body", "")
        if len(body) > settings.RENDER_MAX_BODY_CHARS:
            raise forms.ValidationError(body_too_long(length=len(body)))
        return body

    def clean(self):
        cleaned_data = super().clean()
        for name in self.VERBATIM_FIELDS:
            if isinstance(cleaned_data.get(name), str):
                cleaned_data[name] = same_text(submitted=cleaned_data[name], stored=getattr(self.instance, name) or "")
        slug, date = cleaned_data.get("slug"), cleaned_data.get("date")
        if "permalink" not in self.fields or not slug or not date:
            return cleaned_data
        permalink = cleaned_data.get("permalink")
        instance = self.instance
        # A permalink that was derived from the date and slug follows them when they change.
        follows = (
            instance.pk is not None
            and permalink == instance.permalink
            and instance.permalink == derived_permalink(date=instance.date, slug=instance.slug)
        )
        if not permalink or follows:
            cleaned_data["permalink"] = derived_permalink(date=date, slug=slug)
        return cleaned_data


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    form = PostAdminForm
    list_display = ["thumbnail", "title", "author", "short_date", "status", "category_list", "comment_count"]
    list_display_links = ["thumbnail", "title"]
    list_filter = [
        "status",
        "layout",
        ("categories", GroupedCountFilter),
        TagListFilter,
        ("author", GroupedCountFilter),
    ]
    show_facets = admin.ShowFacets.ALWAYS
    search_fields = ["title", "body", "permalink"]
    date_hierarchy = "date"
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["author", "categories"]
    formfield_overrides = {MarkdownxField: {"widget": PostBodyWidget}}
    actions = ["publish", "unpublish", "rerender", "recache_images"]
    readonly_fields = [*SOURCE_FIELDS, "comment_thread"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "permalink", "body", "excerpt"]}),
        (_("Publishing"), {"fields": ["status", "date", "modified", "author", "layout", "categories", "tags"]}),
        (_("Comments"), {"fields": ["comment_status", "comment_thread"]}),
        (
            _("Source"),
            {
                "classes": ["collapse"],
                "fields": SOURCE_FIELDS,
            },
        ),
    ]

    class Media:
        # The preview wears the public page's content styles: embeds, captions, highlighted code.
        css = {"all": ["css/content.css", "css/pygments.css", "blog/admin/editor.css"]}
        js = ["blog/admin/editor.js"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author").prefetch_related("categories")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        body = form.base_fields.get("body")
        if obj is not None and body is not None:  # a new form class per request: its widget is ours
            body.widget.preview_url = f"{reverse('markdownx_markdownify')}?post={obj.pk}"
        return form

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if "author" not in initial:
            # A new post is the editor's own: their author when they have one (else the field stays
            # empty and saving makes it; showing a form writes nothing).
            author = Author.objects.filter(user=request.user).values_list("pk", flat=True).first()
            if author is not None:
                initial["author"] = author
        return initial

    @admin.display(description=_("date"), ordering="date")
    def short_date(self, obj):
        return format_html(
            '<time datetime="{}">{}</time>', obj.date.isoformat(), f"{timezone.localtime(obj.date):%Y-%m-%d}"
        )

    def view_on_site(self, obj):
        # Straight to the permalink: the site shows staff drafts and scheduled posts there.
        return obj.get_absolute_url()

    def save_model(self, request, obj, form, change):
        if obj.author_id is None:  # left empty on a new post: the editor is its author
            obj.author = editor_author(request.user)
        super().save_model(request, obj, form, change)
        # Queued, run by a worker after the commit: saving never waits for remote downloads.
        enqueue_image_caching(post_ids=[obj.pk])

    @admin.display(description=_("image"))
    def thumbnail(self, obj):
        url = first_image_url(body_html=obj.body_html)
        if not url:
            return ""
        return format_html('<img class="kabar-thumb" src="{}" alt="" loading="lazy" width="64" height="48">', url)

    @admin.display(description=_("categories"))
    def category_list(self, obj):
        return ", ".join(category.name for category in obj.categories.all())

    @admin.display(description=_("date as written"))
    def date_as_written(self, obj):
        # The offset the export gave the date: the site shows and files the post by it.
        return obj.local_datetime.isoformat() if obj.pk else ""

    @admin.display(description=_("comments"))
    def comment_thread(self, obj):
        return comment_thread_html(obj) if obj.pk else ""

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

    @admin.action(description=_("Re-render selected posts"), permissions=["change"])
    def rerender(self, request, queryset):
        # Inline: rendering is fast, and the editor sees the result on the next page.
        post_ids = list(queryset.values_list("pk", flat=True))
        changed = render_posts_task.call(post_ids)
        self.message_user(
            request,
            _("%(count)d posts re-rendered, %(changed)d of them changed.")
            % {"count": len(post_ids), "changed": changed},
            messages.SUCCESS,
        )

    @admin.action(description=_("Cache the images of selected posts (in the background)"), permissions=["change"])
    def recache_images(self, request, queryset):
        post_ids = list(queryset.values_list("pk", flat=True))
        enqueue_image_caching(post_ids=post_ids)
        self.message_user(
            request,
            ngettext(
                "Image caching queued for %d post; a worker fetches the images.",
                "Image caching queued for %d posts; a worker fetches the images.",
                len(post_ids),
            )
            % len(post_ids),
            messages.SUCCESS,
        )


@admin.register(Redirect)
class RedirectAdmin(admin.ModelAdmin):
    list_display = ["old_path", "post", "created_at"]
    list_select_related = ["post"]
    search_fields = ["old_path", "post__title", "post__permalink"]
    autocomplete_fields = ["post"]


# --- Remote image cache (blog/images/) -------------------------------------------------------

from django.core.files.storage import default_storage  # noqa: E402
from django.db.models import Prefetch  # noqa: E402

from blog.models import ImageVariant, RemoteImage  # noqa: E402

_variants_by_width = Prefetch("variants", queryset=ImageVariant.objects.order_by("width", "format"))


def _thumbnail(image):
    """Return a small preview of a cached image: its narrowest variant (prefetched), else the original."""
    if image.status != RemoteImage.Status.CACHED:
        return "—"
    variants = list(image.variants.all())
    name = variants[0].name if variants else image.original
    return format_html('<img src="{}" alt="" style="max-width:64px;max-height:48px">', default_storage.url(name))


@admin.register(RemoteImage)
class RemoteImageAdmin(admin.ModelAdmin):
    list_display = ["thumbnail", "status", "short_url", "dimensions", "file_size", "tries", "error_summary", "fetched"]
    list_display_links = ["short_url"]
    show_facets = admin.ShowFacets.ALWAYS
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

    @admin.display(description=_("URL"), ordering="url")
    def short_url(self, obj):
        return format_html('<span class="kabar-clip" title="{}">{}</span>', obj.url, obj.url)

    @admin.display(description=_("fetched"), ordering="fetched_at")
    def fetched(self, obj):
        if not obj.fetched_at:
            return "—"
        when = timezone.localtime(obj.fetched_at)
        return format_html(
            '<time datetime="{}" title="{}">{}</time>', when.isoformat(), f"{when:%H:%M}", f"{when:%Y-%m-%d}"
        )

    @admin.display(description=_("bytes"), ordering="size")
    def file_size(self, obj):
        return filesizeformat(obj.size) if obj.size else "—"

    @admin.display(description=_("tries"), ordering="attempts")
    def tries(self, obj):
        return obj.attempts

    @admin.display(description=_("last error"))
    def error_summary(self, obj):
        return format_html('<span class="kabar-clip" title="{}">{}</span>', obj.last_error, obj.last_error)

    @admin.display(description=_("pixels"), ordering="width")
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


# --- Navigation and media imported from WordPress exports -----------------------------------

from blog.models import Attachment, MenuItem  # noqa: E402


@admin.register(MenuItem)
class MenuItemAdmin(admin.ModelAdmin):
    list_display = ["label", "menu", "parent", "order", "href"]
    list_filter = ["menu"]
    list_select_related = ["post", "category", "parent__post", "parent__category"]
    search_fields = ["title", "url", "post__title", "category__name"]
    autocomplete_fields = ["post", "category", "parent"]
    ordering = ["menu", "order", "pk"]


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["source_id", "title", "url", "post"]
    list_select_related = ["post"]
    search_fields = ["title", "url", "link_path"]
    autocomplete_fields = ["post"]


# --- Comments --------------------------------------------------------------------------------


class CommentPostFilter(admin.SimpleListFilter):
    """Filter comments by post: reached from a post's page or the post column (no list of every post)."""

    title = _("post")
    parameter_name = "post"

    def lookups(self, request, model_admin):
        value = self.value()
        if value and value.isdigit():
            return list(Post.objects.filter(pk=value).values_list("pk", "title"))
        return []

    def queryset(self, request, queryset):
        value = self.value()
        if value:
            return queryset.filter(post_id=value) if value.isdigit() else queryset.none()
        return queryset


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["author", "excerpt", "post_link", "date", "status", "type"]
    list_display_links = ["author", "excerpt"]
    list_filter = ["status", "type", CommentPostFilter]
    search_fields = ["author_name", "author_email", "author_url", "author_ip", "body", "=source_id"]
    date_hierarchy = "date"
    list_per_page = 50
    actions = ["approve", "mark_pending", "mark_spam", "trash"]
    raw_id_fields = ["post", "parent"]
    readonly_fields = [
        "source_id",
        "parent_source_id",
        "author_ip",
        "user_agent",
        "rendered",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["post", "parent", "status", "type", "date"]}),
        (_("Author"), {"fields": ["author_name", "author_email", "author_url", "author_ip", "user_agent"]}),
        (_("Comment"), {"fields": ["body", "rendered"]}),
        (
            _("Source"),
            {"classes": ["collapse"], "fields": ["source_id", "parent_source_id", "created_at", "updated_at"]},
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("post")
            .defer("post__body", "post__body_html", "post__toc", "post__front_matter", "post__source_format")
        )

    def save_model(self, request, obj, form, change):
        if obj.source_id:
            super().save_model(request, obj, form, change)
        else:
            comment_service.save_new(obj)

    @admin.display(description=_("author"), ordering="author_name")
    def author(self, obj):
        return obj.display_name

    @admin.display(description=_("comment"))
    def excerpt(self, obj):
        return Truncator(obj.body).chars(80)

    @admin.display(description=_("post"), ordering="post__title")
    def post_link(self, obj):
        return format_html(
            '<a href="?post={}">{}</a> <a href="{}" title="{}">↗</a>',
            obj.post_id,
            obj.post.title,
            obj.get_absolute_url(),
            _("See it on the site"),
        )

    @admin.display(description=_("as shown"))
    def rendered(self, obj):
        return format_html('<div class="kabar-comment">{}</div>', mark_safe(obj.body_html))  # sanitized when saved

    def _moderate(self, request, queryset, status):
        changed = comment_service.set_status(comments=queryset, status=status)
        label = Comment.Status(status).label.lower()
        self.message_user(
            request,
            ngettext("%(count)d comment marked %(status)s.", "%(count)d comments marked %(status)s.", changed)
            % {"count": changed, "status": label},
            messages.SUCCESS,
        )

    @admin.action(description=_("Approve selected comments"), permissions=["change"])
    def approve(self, request, queryset):
        self._moderate(request, queryset, Comment.Status.APPROVED)

    @admin.action(description=_("Unapprove selected comments (back to pending)"), permissions=["change"])
    def mark_pending(self, request, queryset):
        self._moderate(request, queryset, Comment.Status.PENDING)

    @admin.action(description=_("Mark selected comments as spam"), permissions=["change"])
    def mark_spam(self, request, queryset):
        self._moderate(request, queryset, Comment.Status.SPAM)

    @admin.action(description=_("Move selected comments to the trash"), permissions=["change"])
    def trash(self, request, queryset):
        self._moderate(request, queryset, Comment.Status.TRASH)


def comment_thread_html(post: Post) -> str:
    """Return a post's whole comment thread (every status) as admin HTML, with links to moderate."""
    comments = list(
        Comment.objects.filter(post=post)
        .only("pk", "post_id", "parent_id", "source_id", "author_name", "author_url", "date", "body", "status", "type")
        .order_by("date", "pk")
    )
    if not comments:
        return format_html("<p>{}</p>", _("No comments."))
    thread = comment_service.build_thread(comments, max_depth=settings.COMMENTS_THREAD_DEPTH)

    def items(nodes):
        return format_html_join(
            "",
            '<li class="kabar-comment-{}"><a href="{}">{}</a> · {} · <strong>{}</strong><br>{}{}</li>',
            (
                (
                    comment.status,
                    reverse("admin:blog_comment_change", args=[comment.pk]),
                    comment.display_name,
                    timezone.localtime(comment.date).strftime("%Y-%m-%d %H:%M"),
                    comment.get_status_display(),
                    Truncator(comment.body).chars(200),
                    format_html("<ul>{}</ul>", items(comment.replies_shown)) if comment.replies_shown else "",
                )
                for comment in nodes
            ),
        )

    pings = format_html_join(
        "",
        "<li>{} ({}) · {}</li>",
        ((ping.display_name, ping.get_type_display(), ping.get_status_display()) for ping in thread.pings),
    )
    changelist = reverse("admin:blog_comment_changelist")
    return format_html(
        '<ul class="kabar-comment-thread">{}{}</ul><p><a href="{}?post={}">{}</a></p>',
        items(thread.comments),
        pings,
        changelist,
        post.pk,
        _("Moderate these comments"),
    )


_PROBLEM_KINDS = (
    ("broken_links", _("link")),
    ("broken_images", _("image")),
    ("broken_addresses", _("old address")),
    ("broken_external", _("external link")),
)


@admin.register(LinkCheck)
class LinkCheckAdmin(admin.ModelAdmin):
    """The reports of `check_links` (or of the "Check now" button): totals, and each post with something broken."""

    list_display = ["created_at", "checked_posts", "broken_posts", "old_addresses", "broken_links", "images", "seconds"]
    list_filter = ["broken"]
    readonly_fields = ["created_at", "seconds", "external_checked", "summary_table", "report"]
    exclude = ["summary", "posts", "broken"]
    change_list_template = "admin/blog/linkcheck/change_list.html"

    def has_add_permission(self, request):
        return False  # made by check_links

    def has_change_permission(self, request, obj=None):
        return False  # a report is what a run found: read-only

    def get_urls(self):
        from django.urls import path

        return [
            path("check/", self.admin_site.admin_view(self.check_now), name="blog_linkcheck_check"),
            *super().get_urls(),
        ]

    def check_now(self, request):
        """Queue a check of every post for the background worker (a request must not wait for it)."""
        from django.http import HttpResponseNotAllowed, HttpResponseRedirect
        from django.urls import reverse

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        check_links_task.enqueue()
        self.message_user(
            request,
            _("Link check queued: the background worker (manage.py run_worker) runs it; reload this page later."),
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:blog_linkcheck_changelist"))

    @admin.display(description=_("posts"))
    def checked_posts(self, obj):
        return obj.summary.get("posts", 0)

    @admin.display(description=_("posts with something broken"), ordering="broken")
    def broken_posts(self, obj):
        return obj.summary.get("posts_broken", 0)

    @admin.display(description=_("old addresses resolving"))
    def old_addresses(self, obj):
        return f"{obj.summary.get('addresses_ok', 0)} / {obj.summary.get('addresses', 0)}"

    @admin.display(description=_("internal links: rewritten / broken"))
    def broken_links(self, obj):
        return f"{obj.summary.get('links_rewritten', 0)} / {obj.summary.get('links_broken', 0)}"

    @admin.display(description=_("images: cached / remote / failed / missing"))
    def images(self, obj):
        return " / ".join(
            str(obj.summary.get(f"images_{state}", 0)) for state in ("cached", "remote", "failed", "missing")
        )

    @admin.display(description=_("totals"))
    def summary_table(self, obj):
        return format_html(
            "<table><tbody>{}</tbody></table>",
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", sorted(obj.summary.items())),
        )

    @admin.display(description=_("posts with something broken"))
    def report(self, obj):
        from django.urls import reverse

        if not obj.posts:
            return _("Nothing is broken.")
        rows = []
        for post in obj.posts:
            problems = [
                (label, problem["url"], problem["reason"])
                for key, label in _PROBLEM_KINDS
                for problem in post.get(key, [])
            ]
            rows.append(
                format_html(
                    '<tr><td><a href="{}">{}</a><br><a href="{}">{}</a></td><td><ul>{}</ul></td></tr>',
                    reverse("admin:blog_post_change", args=[post["id"]]),
                    post["title"],
                    post["permalink"],
                    post["permalink"],
                    format_html_join("", "<li>{}: <code>{}</code>: {}</li>", problems),
                )
            )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("post (edit)"),
            _("broken"),
            format_html_join("", "{}", ((row,) for row in rows)),
        )
