# Old addresses of a post (the path of its guid and of its Blogger URL) in indexed columns.

import json
from urllib.parse import urlsplit

from django.db import migrations, models


def _path(url):
    path = urlsplit(url.strip()).path if url else ""
    return "" if path in {"", "/"} else path


def fill_paths(apps, schema_editor):
    Post = apps.get_model("blog", "Post")
    for post in Post.objects.only("pk", "guid", "front_matter").iterator():
        front_matter = post.front_matter
        if isinstance(front_matter, str):
            front_matter = json.loads(front_matter or "{}")
        blogger_url = str((front_matter or {}).get("blogger_orig_url") or "")
        Post.objects.filter(pk=post.pk).update(guid_path=_path(post.guid), blogger_path=_path(blogger_url))


class Migration(migrations.Migration):
    dependencies = [
        ("blog", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="post",
            name="blogger_path",
            field=models.CharField(blank=True, db_index=True, editable=False, max_length=500),
        ),
        migrations.AddField(
            model_name="post",
            name="guid_path",
            field=models.CharField(blank=True, db_index=True, editable=False, max_length=500),
        ),
        migrations.RunPython(fill_paths, migrations.RunPython.noop),
    ]
