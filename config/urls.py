"""Kabar's root URLs: the admin, the editor's endpoints, then the public site."""

from django.contrib import admin
from django.urls import include, path

from blog.health import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("markdownx/", include("blog.editor_urls")),
    path("healthz", healthz, name="healthz"),
    # Last: the public site ends with a catch-all for permalinks and old addresses.
    path("", include("blog.urls")),
]
