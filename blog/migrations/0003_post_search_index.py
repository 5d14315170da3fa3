"""PostgreSQL full-text search: a GIN index over the weighted title + body vector.

The expression is the one PostQuerySet.search() builds, so the planner can use the index.
Other databases have no such index and search with a plain substring match.
"""

from django.conf import settings
from django.db import migrations

INDEX = "blog_post_search_gin"


def _expression(config: str) -> str:
    # Must stay identical to blog.models.search_vector() compiled by Django.
    return (
        f"(setweight(to_tsvector('{config}'::regconfig, COALESCE(\"title\", '')), 'A') || "
        f"setweight(to_tsvector('{config}'::regconfig, COALESCE(\"body\", '')), 'B'))"
    )


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    config = settings.SEARCH_CONFIG
    if not config.replace("_", "").isalnum():
        raise ValueError(f"SEARCH_CONFIG {config!r} is not a text search configuration name")
    schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "blog_post" USING gin ({_expression(config)})')


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    dependencies = [("blog", "0002_site_guid_path")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
