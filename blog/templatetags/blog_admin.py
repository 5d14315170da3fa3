"""Template helpers of the admin: the number of comments awaiting moderation."""

from django import template

from blog.models import Comment

register = template.Library()


@register.simple_tag(takes_context=True)
def pending_comment_count(context) -> int:
    """Return how many comments wait for moderation (0 for a user who may not see comments)."""
    request = context.get("request")
    if request is None or not request.user.has_perm("blog.view_comment"):
        return 0
    return Comment.objects.filter(status=Comment.Status.PENDING).count()
