"""The markdownx editor's endpoints (preview and image upload), for staff who may edit posts only.

markdownx's own views answer anyone; these replace them under the same URL names, so the
widget's JavaScript talks to them unchanged. CSRF protection comes from the middleware:
markdownx's JavaScript sends the token with every request.
"""

from functools import wraps

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from blog import rendering
from blog.uploads import UploadError, check_size, store_upload

EDIT_PERMISSIONS = ("blog.change_post", "blog.add_post")


def can_edit_posts(user) -> bool:
    """Return whether `user` may use the editor: active staff allowed to add or change posts."""
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and any(user.has_perm(permission) for permission in EDIT_PERMISSIONS)
    )


def editor_endpoint(view):
    """Return `view` answering POST only, to editors only, never cached."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not can_edit_posts(request.user):
            reason = "Log in again to use the editor." if not request.user.is_authenticated else None
            return JsonResponse({"error": reason or "You are not allowed to edit posts."}, status=403)
        return view(request, *args, **kwargs)

    return never_cache(require_POST(wrapper))


@editor_endpoint
def markdownify(request):
    """Return the preview: the body rendered by the path that renders the public page (Post.render).

    `?post=<id>` (set by the change form's widget) renders it as that post: its front-matter
    values for `{{ title }}`, its address for relative image URLs, and its cached images.
    A body over RENDER_MAX_BODY_CHARS is refused, and rendering stops after
    RENDER_PREVIEW_SECONDS: the editor waits for the preview while typing.
    """
    from blog.models import Post

    content = request.POST.get("content", "")
    if len(content) > settings.RENDER_MAX_BODY_CHARS:
        # The same limit as saving and importing: what cannot be saved is not rendered either.
        message = body_too_long(length=len(content))
        return HttpResponse(f"<p>{message}</p>", status=400, content_type="text/html; charset=utf-8")
    post_id = request.GET.get("post", "")
    post = (Post.objects.filter(pk=post_id).first() if post_id.isdigit() else None) or Post()
    post.body = content
    seconds = settings.RENDER_PREVIEW_SECONDS
    try:
        with rendering.deadline(seconds=seconds):
            post.render()
    except rendering.RenderTimeout:
        html = f"<p>This body takes longer than {seconds:g} s to preview; save the post to see it.</p>"
        return HttpResponse(html, content_type="text/html; charset=utf-8")
    return HttpResponse(post.body_html, content_type="text/html; charset=utf-8")


def body_too_long(*, length: int) -> str:
    """Return the message for a body over settings.RENDER_MAX_BODY_CHARS."""
    return f"The body is {length:,} characters long; at most {settings.RENDER_MAX_BODY_CHARS:,} are accepted."


@editor_endpoint
def upload(request):
    """Store an uploaded image and return the Markdown that shows it, as markdownx expects."""
    upload = request.FILES.get("image")
    if upload is None:
        return JsonResponse({"image": ["No image was uploaded."]}, status=400)
    try:
        check_size(size=upload.size, filename=upload.name)  # before reading it into memory
        stored = store_upload(content=upload.read(), filename=upload.name)
    except UploadError as error:
        return JsonResponse({"image": [str(error)]}, status=400)
    return JsonResponse({"image_code": f"![]({stored.url})"})
