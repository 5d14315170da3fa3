"""Kabar's root URLs: the admin, the editor's endpoints, media files, then the public site."""

import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from blog.health import healthz
from blog.media import serve_media

urlpatterns = [
    path("admin/", admin.site.urls),
    path("markdownx/", include("blog.editor_urls")),
    path("healthz", healthz, name="healthz"),
    *(
        [re_path(rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.+)$", serve_media, name="media")]
        if settings.SERVE_MEDIA
        else []
    ),
    # Last: the public site ends with a catch-all for permalinks and old addresses.
    path("", include("blog.urls")),
]
