"""Mark the public site's cached pages stale whenever content they show changes."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from taggit.models import Tag, TaggedItem

from blog.caching import content_changed
from blog.models import Attachment, Author, Category, Comment, MenuItem, Post, Redirect

CONTENT_MODELS = (Post, Category, Author, Redirect, Tag, TaggedItem, MenuItem, Attachment)


def content_saved_or_deleted(sender, **kwargs) -> None:
    """Bump the content version after a save or delete of anything the site shows."""
    if kwargs.get("raw"):
        return  # loaddata: the fixture's own save is not a change the readers saw
    content_changed()


def relations_changed(sender, action: str, **kwargs) -> None:
    """Bump the content version after a post's categories or tags changed."""
    if action in {"post_add", "post_remove", "post_clear"}:
        content_changed()


def comment_saved_or_deleted(sender, instance: Comment, **kwargs) -> None:
    """Recount the post's comments and bump the content version when readers see the change.

    A new pending or spam comment changes no page: a flood of them must not empty the page cache.
    """
    if kwargs.get("raw") or not instance.is_shown:
        return
    from blog.comments import refresh_comment_counts

    refresh_comment_counts(post_ids=[instance.post_id])
    content_changed()


def connect() -> None:
    """Connect the receivers (called once from BlogConfig.ready())."""
    for model in CONTENT_MODELS:
        post_save.connect(content_saved_or_deleted, sender=model, dispatch_uid=f"kabar-site-save-{model.__name__}")
        post_delete.connect(content_saved_or_deleted, sender=model, dispatch_uid=f"kabar-site-delete-{model.__name__}")
    post_save.connect(comment_saved_or_deleted, sender=Comment, dispatch_uid="kabar-site-save-Comment")
    post_delete.connect(comment_saved_or_deleted, sender=Comment, dispatch_uid="kabar-site-delete-Comment")

    from blog.links.relinking import post_deleted

    post_delete.connect(post_deleted, sender=Post, dispatch_uid="kabar-links-delete")
    for through in (Post.categories.through, TaggedItem):
        m2m_changed.connect(relations_changed, sender=through, dispatch_uid=f"kabar-site-m2m-{through.__name__}")
