"""The old site's host names: learnt from imported posts (guid, wordpress_url, Blogger fields) and a setting."""

import threading
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings

# Front-matter keys whose value is a URL of the old site (jekyll-import, WXR imports).
URL_KEYS = ("wordpress_url", "blogger_orig_url", "blogger_permalink", "base_site_url", "base_blog_url", "link")
# How long a process trusts its list of known hosts before reading it again (other processes add hosts).
REFRESH_SECONDS = 30.0

_memo = threading.local()


def normalize_host(host: str) -> str:
    """Return `host` as compared: lower case, no port, no trailing dot, no leading 'www.'."""
    host = (host or "").strip().lower().rstrip(".")
    if host.startswith("[") or host.count(":") > 1:  # an IPv6 literal keeps its colons
        host = host.strip("[]").split("]")[0]
    else:
        host = host.split(":")[0]
    host = host.removeprefix("www.")
    # Blogger answers under country domains too (name.blogspot.de): one blog, one host.
    name, dot, rest = host.partition(".blogspot.")
    if dot and rest:
        host = f"{name}.blogspot.com"
    return host


def host_of(url: str) -> str:
    """Return the normalized host of an absolute or protocol-relative http(s) URL ('' for none)."""
    value = (url or "").strip()
    if not value or ("://" not in value[:10] and not value.startswith("//")):
        # A bare host name ('webidevloper.blogspot.com', as Blogger exports name the blog).
        if value and "." in value and not any(char in value for char in "/:@ "):
            return normalize_host(value)
        return ""
    try:
        parts = urlsplit(value)
    except ValueError:
        return ""
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        return ""
    return normalize_host(parts.hostname or "")


def post_hosts(*, guid: str, front_matter: dict | None, blogger_blog: Iterable | None = None) -> set[str]:
    """Return the old-site hosts a post's imported fields name."""
    values: list[str] = [guid]
    front_matter = front_matter or {}
    for key in URL_KEYS:
        value = front_matter.get(key)
        values.extend(value if isinstance(value, list) else [value])
    values.extend(blogger_blog or [])
    return {host for host in (host_of(str(value)) for value in values if value) if host and host != "localhost"}


def setting_hosts() -> set[str]:
    """Return the hosts of settings.OLD_SITE_HOSTS (names or URLs)."""
    return {host_of(value) or normalize_host(value) for value in getattr(settings, "OLD_SITE_HOSTS", []) if value}


def known_hosts() -> frozenset[str]:
    """Return every old-site host: those learnt from imports, and the setting's."""
    from blog.models import OldHost

    now = time.monotonic()
    cached = getattr(_memo, "hosts", None)
    if cached is None or now - _memo.read_at > REFRESH_SECONDS:
        cached = frozenset(OldHost.objects.values_list("host", flat=True))
        _memo.hosts, _memo.read_at = cached, now
    return cached | setting_hosts()


def remember_hosts(hosts: Iterable[str]) -> None:
    """Record old-site hosts not known yet (no query unless one is new to this process)."""
    from blog.models import OldHost

    new = set(hosts) - (getattr(_memo, "hosts", None) or frozenset())
    if new and new - known_hosts():
        OldHost.objects.bulk_create([OldHost(host=host) for host in sorted(new)], ignore_conflicts=True)
        _memo.hosts = None  # read the table again next time


def forget_memo() -> None:
    """Drop this thread's memory of the hosts table (tests roll their rows back)."""
    _memo.hosts = None
