"""Settings come from the environment: DATABASE_URL, MEDIA_ROOT, REDIS_URL, DEBUG/SECRET_KEY."""

import json
import os
import subprocess
import sys

from tests.conftest import REPO

PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'db': settings.DATABASES['default'], 'media': str(settings.MEDIA_ROOT), "
    "'cache': settings.CACHES['default']['BACKEND'], 'cache_dir': str(settings.CACHES['default'].get('LOCATION')), "
    "'debug': settings.DEBUG}, default=str))"
)


def _settings_with(**env):
    unset = {"DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "DEBUG", "CACHE_DIR"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=clean, capture_output=True, text=True, check=False
    )
    return result


def test_defaults_are_the_embedded_ones():
    result = _settings_with()
    values = json.loads(result.stdout)
    assert values["db"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["db"]["NAME"] == str(REPO / "db.sqlite3")
    assert values["media"] == str(REPO / "media")
    # A cache every process of the machine shares (web server, import_posts, run_worker).
    assert values["cache"] == "django.core.cache.backends.filebased.FileBasedCache"
    assert values["cache_dir"] == str(REPO / "var" / "cache")


def test_database_url_media_root_and_redis_url_are_honoured(tmp_path):
    result = _settings_with(
        DATABASE_URL="postgres://kabar:secret@db.internal:6543/kabar_db",
        MEDIA_ROOT=str(tmp_path),
        REDIS_URL="redis://127.0.0.1:6379/3",
    )
    values = json.loads(result.stdout)
    assert values["db"]["ENGINE"] == "django.db.backends.postgresql"
    assert (values["db"]["NAME"], values["db"]["HOST"], values["db"]["PORT"]) == ("kabar_db", "db.internal", 6543)
    assert values["media"] == str(tmp_path)
    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"
    # PostgreSQL binds the parameters, so psycopg prepares the queries a process repeats.
    assert values["db"]["OPTIONS"]["server_side_binding"] is True
    off = _settings_with(DATABASE_URL="postgres://kabar@db.internal/kabar_db", DB_SERVER_SIDE_BINDING="0")
    assert json.loads(off.stdout)["db"]["OPTIONS"]["server_side_binding"] is False


def test_debug_off_without_secret_key_refuses_to_start():
    result = _settings_with(DEBUG="0", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    ok = _settings_with(DEBUG="0", SECRET_KEY="x" * 50)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["debug"] is False


LIMITS = {
    "IMPORT_MAX_FRONT_MATTER_NODES": 100000,
    "IMPORT_MAX_FRONT_MATTER_BYTES": 5242880,
    "IMPORT_MAX_CATEGORIES": 200,
    "IMPORT_MAX_TAGS": 200,
    "IMPORT_MAX_ARCHIVE_FILES": 50000,
    "IMPORT_MAX_ARCHIVE_BYTES": 536870912,
    "RENDER_MAX_BODY_CHARS": 1048576,
    "RENDER_MAX_DEPTH": 100,
    "RENDER_PREVIEW_SECONDS": 0.8,
    "IMAGE_CACHE_ALLOWED_PORTS": ["80", "443"],
    "IMAGE_DECODE_MAX_PIXELS": 50000000,
    "UPLOAD_MAX_FRAMES": 1000,
}


def _limits(**env):
    probe = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{name: getattr(settings, name) for name in {list(LIMITS)!r}}}))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in LIMITS}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=clean, capture_output=True, text=True)
    return json.loads(result.stdout)


def test_security_limits_have_their_documented_defaults_and_come_from_the_environment():
    assert _limits() == LIMITS
    changed = _limits(IMAGE_CACHE_ALLOWED_PORTS="443,8000-8099", IMPORT_MAX_TAGS="5", RENDER_MAX_DEPTH="20")
    assert changed == {
        **LIMITS,
        "IMAGE_CACHE_ALLOWED_PORTS": ["443", "8000-8099"],
        "IMPORT_MAX_TAGS": 5,
        "RENDER_MAX_DEPTH": 20,
    }
    env_example = (REPO / ".env.example").read_text()
    readme = (REPO / "README.md").read_text()
    for name in LIMITS:
        assert f"\n{name}=" in env_example, name
        assert f"`{name}`" in readme, name
