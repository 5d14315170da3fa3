"""Kabar settings, read from environment variables (see .env.example).

Unset variables give the embedded default: SQLite file, local media, a cache in files
that every process shares, work done inline, DEBUG on and only local host names allowed.
"""

import os
from pathlib import Path

import dj_database_url
import django
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Return the environment variable `name` read as a boolean."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Return the environment variable `name` split on commas, without blanks."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

# Django 6 has the tasks framework and CSP built in; on 5.2 django-tasks and django-csp provide them.
DJANGO_6 = django.VERSION >= (6, 0)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Development only: a fixed key so sessions survive restarts of runserver.
    SECRET_KEY = "dev-only-insecure-kabar-key-change-me"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# The public address of the site, used for absolute URLs where no request is at hand
# (Jekyll's {{ site.url }} in imported posts, feeds built outside a request).
SITE_URL = os.environ.get("SITE_URL", "").rstrip("/")
SITE_NAME = os.environ.get("SITE_NAME", "Kabar")
SITE_DESCRIPTION = os.environ.get("SITE_DESCRIPTION", "A blog brought home.")
# The imported navigation menu the site shows (its slug); empty: 'primary', 'main', 'header' or
# 'menu-1' when one exists, else the menu with the most items; no menu: Home, Archives, Feed.
SITE_MENU = os.environ.get("SITE_MENU", "")
# More host names the old site answered at (besides those learnt from imported posts): links
# to them inside posts are pointed at this site. Comma-separated, e.g. "oldblog.example,blog.example.org".
OLD_SITE_HOSTS = env_list("OLD_SITE_HOSTS")
# check_links --external: how long an external link's answer is trusted, in seconds.
LINK_CHECK_CACHE_SECONDS = int(os.environ.get("LINK_CHECK_CACHE_SECONDS", str(7 * 24 * 3600)))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.humanize",
    "taggit",
    "markdownx",
    *([] if DJANGO_6 else ["django_tasks"]),
    "django_tasks_db",
    "blog",
]

MIDDLEWARE = [
    # First: a cached public page is answered before anything else runs, with the headers
    # (security, CSP) the middleware below added when it was rendered (blog/caching.py).
    "blog.caching.PageCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "blog.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "blog.context_processors.site",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (image workers, the dev server) write to one file: wait for the
    # lock instead of failing at once, and let readers go on while one writes.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side parameters: psycopg then prepares the queries a process runs often, and
    # PostgreSQL stops parsing and planning them anew on every request.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "server_side_binding", env_bool("DB_SERVER_SIDE_BINDING", True)
    )

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "kabar"),
        }
    }
else:
    # Files in a folder: every process on the machine (the web server, import_posts,
    # run_worker) shares them, so a change made anywhere shows on the next request.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": BASE_DIR / (os.environ.get("CACHE_DIR") or "var/cache"),  # relative: to the project
            "OPTIONS": {"MAX_ENTRIES": int(os.environ.get("CACHE_MAX_ENTRIES", "10000"))},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en-us")
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = os.environ.get("MEDIA_URL", "/media/")
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TAGGIT_CASE_INSENSITIVE = True

# markdownx's own preview function; Kabar's preview endpoint (blog.editor) renders through Post.render.
MARKDOWNX_MARKDOWNIFY_FUNCTION = "blog.rendering.render"
MARKDOWNX_MEDIA_PATH = "uploads/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# Background work (image caching). "database": a queue in the database that any number of
# `manage.py run_worker` processes share; "immediate": run the work inline, in the caller.
TASKS_BACKEND = os.environ.get("TASKS_BACKEND", "database")
_TASKS_MODULE = "django.tasks" if DJANGO_6 else "django_tasks"
TASKS = {
    "default": {
        "BACKEND": {
            "database": "django_tasks_db.DatabaseBackend",
            "immediate": f"{_TASKS_MODULE}.backends.immediate.ImmediateBackend",
        }[TASKS_BACKEND]
    }
}

# Security. Outside DEBUG the secure defaults are on; each can be tuned by its variable.
# Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=1 (it sends X-Forwarded-Proto).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy, on in every mode so that development and the browser tests see
# what production enforces. Images not cached yet keep their remote URL, hence img-src https:.
CSP_DIRECTIVES = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    # style="" attributes in posts survive sanitizing only with text-align, font-style,
    # font-weight and text-decoration (blog.rendering); <style> elements stay forbidden.
    "style-src-attr": ["'unsafe-inline'"],
    "img-src": ["'self'", "data:", "https:", "http:"],
    "media-src": ["'self'", "https:"],
    "frame-src": ["https://www.youtube.com", "https://www.youtube-nocookie.com", "https://player.vimeo.com"],
    "connect-src": ["'self'"],
    "font-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
if DJANGO_6:
    MIDDLEWARE.insert(1, "django.middleware.csp.ContentSecurityPolicyMiddleware")
    SECURE_CSP = CSP_DIRECTIVES
else:
    MIDDLEWARE.insert(1, "csp.middleware.CSPMiddleware")
    CONTENT_SECURITY_POLICY = {"DIRECTIVES": CSP_DIRECTIVES}

# Media on S3-compatible object storage (django-storages) when a bucket is named.
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage"}
    AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None
    AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME") or None
    AWS_S3_CUSTOM_DOMAIN = os.environ.get("AWS_S3_CUSTOM_DOMAIN") or None
    AWS_DEFAULT_ACL = None
    AWS_QUERYSTRING_AUTH = env_bool("AWS_QUERYSTRING_AUTH", False)
    AWS_S3_FILE_OVERWRITE = False

# Kabar serves MEDIA_URL itself (blog/media.py) while media are local files; with object
# storage the storage's URLs point at the bucket. Set SERVE_MEDIA=0 when a front web server
# serves MEDIA_ROOT at MEDIA_URL instead.
SERVE_MEDIA = env_bool("SERVE_MEDIA", not AWS_STORAGE_BUCKET_NAME) and MEDIA_URL.startswith("/")

# Import of exported posts (manage.py import_posts): files larger than this are refused, and
# posts whose front matter names no author are filed under this author.
IMPORT_MAX_FILE_BYTES = int(os.environ.get("IMPORT_MAX_FILE_BYTES", str(5 * 1024 * 1024)))
IMPORT_DEFAULT_AUTHOR = os.environ.get("IMPORT_DEFAULT_AUTHOR", "admin")
# Limits against hostile files (README, "Security limits"): front matter may hold at most this
# many values and this many bytes once YAML aliases are expanded ("billion laughs"); a post at
# most this many categories and tags; a .zip at most this many members and uncompressed bytes.
IMPORT_MAX_FRONT_MATTER_NODES = int(os.environ.get("IMPORT_MAX_FRONT_MATTER_NODES", "100000"))
IMPORT_MAX_FRONT_MATTER_BYTES = int(os.environ.get("IMPORT_MAX_FRONT_MATTER_BYTES", str(5 * 1024 * 1024)))
IMPORT_MAX_CATEGORIES = int(os.environ.get("IMPORT_MAX_CATEGORIES", "200"))
IMPORT_MAX_TAGS = int(os.environ.get("IMPORT_MAX_TAGS", "200"))
IMPORT_MAX_ARCHIVE_FILES = int(os.environ.get("IMPORT_MAX_ARCHIVE_FILES", "50000"))
IMPORT_MAX_ARCHIVE_BYTES = int(os.environ.get("IMPORT_MAX_ARCHIVE_BYTES", str(512 * 1024 * 1024)))
# Rendering (blog/rendering.py): bodies longer than this many characters are refused by the
# importer and the preview, and HTML nested deeper than this many elements is flattened, so
# that rendering any accepted body takes well under a second.
RENDER_MAX_BODY_CHARS = int(os.environ.get("RENDER_MAX_BODY_CHARS", str(1024 * 1024)))
RENDER_MAX_DEPTH = int(os.environ.get("RENDER_MAX_DEPTH", "100"))
# Seconds the editor's preview may spend rendering; past them it says so (saving still renders).
RENDER_PREVIEW_SECONDS = float(os.environ.get("RENDER_PREVIEW_SECONDS", "0.8"))
# The public site (blog/views.py, blog/caching.py).
POSTS_PER_PAGE = int(os.environ.get("POSTS_PER_PAGE", "10"))
FEED_SIZE = int(os.environ.get("FEED_SIZE", "20"))
# Seconds a rendered public page stays in the cache (0: no page cache). Any content change
# makes every cached page stale at once, so this only frees the room of pages nobody asks for.
PAGE_CACHE_SECONDS = int(os.environ.get("PAGE_CACHE_SECONDS", str(7 * 24 * 3600)))
# With Redis, each process also keeps the pages it serves most in memory, up to this many bytes
# (0: off), valid while Redis reports no change to the content version (blog/caching.py).
PAGE_CACHE_LOCAL_BYTES = int(os.environ.get("PAGE_CACHE_LOCAL_BYTES", str(32 * 1024 * 1024)))
# Remote image cache (blog/images/, docs/images.md). The fetcher refuses private, loopback,
# link-local, multicast and reserved addresses unless one of these CIDR networks allows them.
IMAGE_CACHE_ALLOWED_NETWORKS = env_list("IMAGE_CACHE_ALLOWED_NETWORKS")
# Ports the fetcher may connect to, comma-separated ports or ranges ("80,443,8000-8099"): a
# redirect to :6379 must not reach a Redis server on an allowed network.
IMAGE_CACHE_ALLOWED_PORTS = env_list("IMAGE_CACHE_ALLOWED_PORTS", "80,443")
# Download every image from this copy of the old sites instead (<mirror>/<host>/<path>, the
# layout `wget --mirror` writes), e.g. http://127.0.0.1:9000/ when the old site is gone.
IMAGE_CACHE_MIRROR = os.environ.get("IMAGE_CACHE_MIRROR", "")
IMAGE_CACHE_MAX_BYTES = int(os.environ.get("IMAGE_CACHE_MAX_BYTES", str(20 * 1024 * 1024)))
IMAGE_CACHE_MAX_PIXELS = int(os.environ.get("IMAGE_CACHE_MAX_PIXELS", "50000000"))
IMAGE_CACHE_WIDTHS = [int(width) for width in env_list("IMAGE_CACHE_WIDTHS", "480,960,1600")]
IMAGE_CACHE_CONNECT_TIMEOUT = float(os.environ.get("IMAGE_CACHE_CONNECT_TIMEOUT", "5"))
IMAGE_CACHE_READ_TIMEOUT = float(os.environ.get("IMAGE_CACHE_READ_TIMEOUT", "15"))
IMAGE_CACHE_TOTAL_TIMEOUT = float(os.environ.get("IMAGE_CACHE_TOTAL_TIMEOUT", "60"))
IMAGE_CACHE_RETRIES = int(os.environ.get("IMAGE_CACHE_RETRIES", "2"))
IMAGE_CACHE_RETRY_BACKOFF = float(os.environ.get("IMAGE_CACHE_RETRY_BACKOFF", "0.5"))
IMAGE_CACHE_CONCURRENCY = int(os.environ.get("IMAGE_CACHE_CONCURRENCY", "8"))
IMAGE_CACHE_PER_HOST = int(os.environ.get("IMAGE_CACHE_PER_HOST", "4"))
# Pixels decoded at once in one process, all images together (cached and uploaded): an image
# waits until the pixels of the others fit. At least the largest single image allowed.
IMAGE_DECODE_MAX_PIXELS = int(os.environ.get("IMAGE_DECODE_MAX_PIXELS", "50000000"))

# Comments (blog/comments.py, README "Comments"). Imported comments are always shown once
# approved; COMMENTS_ENABLED lets readers post new ones (each post's comment_status decides too).
COMMENTS_ENABLED = env_bool("COMMENTS_ENABLED", False)
# Posts older than this many days take no new comments (0: never closed by age).
COMMENTS_CLOSE_AFTER_DAYS = int(os.environ.get("COMMENTS_CLOSE_AFTER_DAYS", "0"))
# Replies nest this many levels deep; deeper replies are listed at the last level, oldest first.
COMMENTS_THREAD_DEPTH = max(1, int(os.environ.get("COMMENTS_THREAD_DEPTH", "5")))
# The form: the longest body in characters, the fewest seconds between showing the form and
# sending it (bots are faster), at most this many comments per address per window of seconds.
COMMENTS_MAX_LENGTH = int(os.environ.get("COMMENTS_MAX_LENGTH", "5000"))
COMMENTS_MIN_SECONDS = int(os.environ.get("COMMENTS_MIN_SECONDS", "3"))
COMMENTS_RATE_LIMIT = int(os.environ.get("COMMENTS_RATE_LIMIT", "5"))
COMMENTS_RATE_WINDOW = int(os.environ.get("COMMENTS_RATE_WINDOW", "600"))
# A comment with more links than this waits for moderation even from a trusted commenter.
COMMENTS_MAX_LINKS = int(os.environ.get("COMMENTS_MAX_LINKS", "2"))
# New comments wait for moderation; with this on, a commenter (same name and email) who has
# an approved comment already is published at once.
COMMENTS_TRUST_RETURNING = env_bool("COMMENTS_TRUST_RETURNING", False)
# Behind a reverse proxy: the request header holding the client's address, e.g.
# X-Forwarded-For (its last address is used: the one your proxy saw). Unset: REMOTE_ADDR.
COMMENTS_IP_HEADER = os.environ.get("COMMENTS_IP_HEADER", "")

# PostgreSQL full-text search configuration (language): "simple" suits blogs in several
# languages; "english", "italian", "spanish", … stem words. The GIN index is built with the
# value in force when migrations run.
SEARCH_CONFIG = os.environ.get("SEARCH_CONFIG", "simple")

# Images uploaded in the editor (blog/uploads.py): refused above this many bytes or pixels
# (all frames together; a decompression-bomb guard), scaled down to this longest side.
UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", str(10 * 1024 * 1024)))
UPLOAD_MAX_PIXELS = int(os.environ.get("UPLOAD_MAX_PIXELS", "50000000"))
UPLOAD_MAX_DIMENSION = int(os.environ.get("UPLOAD_MAX_DIMENSION", "2560"))
UPLOAD_MAX_FRAMES = int(os.environ.get("UPLOAD_MAX_FRAMES", "1000"))
