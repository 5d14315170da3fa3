"""Production settings, security headers, the health check, Redis and gunicorn, all real."""

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.core.cache import caches
from django.test import override_settings

from tests.conftest import REPO

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(60),
    "ALLOWED_HOSTS": "blog.example.com,127.0.0.1",
}


def _run(args, **env):
    # The browser tests allow Django's async-unsafe calls in their own process only.
    full_env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"} | env
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=full_env, capture_output=True, text=True, timeout=120, check=False
    )


def test_check_deploy_reports_no_warning_in_production_mode():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_mode_would_not_pass_the_deploy_check():
    # The check above is meaningful only if it can fail: in development mode it must.
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], DEBUG="1", SECRET_KEY="")
    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG on


@pytest.mark.django_db
def test_security_headers_and_content_security_policy(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in directives["script-src"]
    assert directives["style-src"] == "'self'"  # no <style> elements
    assert directives["style-src-attr"] == "'unsafe-inline'"  # sanitized style="" attributes
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_healthz_ok_when_database_and_cache_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}
    assert "no-cache" in response["Cache-Control"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_healthz_503_when_the_cache_is_down(client):
    down = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        }
    }
    with override_settings(CACHES=down):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["cache"].startswith("error")
    assert response.json()["database"] == "ok"


def test_healthz_503_when_the_database_is_down():
    script = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client().get('/healthz'); print(r.status_code, json.dumps(r.json()))"
    )
    result = _run(
        ["-c", script],
        DJANGO_SETTINGS_MODULE="config.settings",
        ALLOWED_HOSTS="testserver",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{_closed_port()}/kabar",
    )
    status, _, body = result.stdout.strip().partition(" ")
    assert status == "503", result.stdout + result.stderr
    assert '"database": "error' in body and '"cache": "ok"' in body


@pytest.mark.redis
def test_redis_cache_backend_against_the_real_server():
    redis_cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    with override_settings(CACHES=redis_cache):
        cache = caches["default"]
        assert cache.__class__.__name__ == "RedisCache"
        key = f"kabar-test-{secrets.token_hex(4)}"
        cache.set(key, {"posts": [1, 2]}, timeout=5)
        assert cache.get(key) == {"posts": [1, 2]}
        assert cache.add(f"{key}-n", 1)
        assert cache.incr(f"{key}-n") == 2
        cache.delete_many([key, f"{key}-n"])
        assert cache.get(key) is None
        assert cache.get(f"{key}-n") is None


def test_gunicorn_serves_the_app_with_the_project_config(tmp_path):
    port = _closed_port()
    env = {
        **os.environ,
        **PRODUCTION_ENV,
        "SECURE_SSL_REDIRECT": "0",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    # A cached image in a local MEDIA_ROOT: a single server without object storage serves it itself.
    image = tmp_path / "media" / "images" / "ab" / ("ab" + "0" * 62) / "480.webp"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 64)
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
    server = subprocess.Popen(gunicorn, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    status, body = response.status, response.read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        assert status == 200
        assert b'"database": "ok"' in body
        media_url = f"http://127.0.0.1:{port}/media/images/ab/{'ab' + '0' * 62}/480.webp"
        with urllib.request.urlopen(media_url, timeout=5) as response:
            assert (response.status, response.read()) == (200, image.read_bytes())
            assert response.headers["Cache-Control"] == "max-age=315360000, public, immutable"
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode()
    assert "Booting worker" in output
    assert "GET /healthz" in output  # the access log is on
