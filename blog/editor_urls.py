"""The editor's endpoints, under markdownx's URL names so its widget finds them."""

from django.urls import path

from blog import editor

urlpatterns = [
    path("upload/", editor.upload, name="markdownx_upload"),
    path("markdownify/", editor.markdownify, name="markdownx_markdownify"),
]
