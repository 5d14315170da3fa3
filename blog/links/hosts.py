"""The old site's host names: learnt from imported posts (guid, wordpress_url, Blogger fields) and a setting."""

import re
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


def _prefix(path: str) -> str:
    """Return a base path as stored: '/blog' for '/blog/', '' for the root."""
    return "/" + path.strip("/") if path.strip("/") else ""


def _is_folder(path: str) -> bool:
    """Return whether `path` can be the folder a blog lived in ('/wordpress'), not part of a post's address."""
    segments = [segment for segment in path.split("/") if segment]
    return bool(segments) and not any(segment.isdigit() or segment == "index.php" for segment in segments)


def post_hosts(
    *, guid: str, front_matter: dict | None, blogger_blog: Iterable | None = None, permalink: str = ""
) -> dict[str, str]:
    """Return the old-site hosts a post's imported fields name, each with the path the blog lived under ('' for /).

    The base path is learnt where the fields show it: a guid whose path is the permalink under
    a folder (`http://localhost/wordpress/index.php/2022/…` for `/index.php/2022/…`), or WXR's
    `base_blog_url`.
    """
    front_matter = front_matter or {}
    values: list[str] = [guid]
    for key in URL_KEYS:
        value = front_matter.get(key)
        values.extend(value if isinstance(value, list) else [value])
    values.extend(blogger_blog or [])
    hosts = {host: "" for host in (host_of(str(value)) for value in values if value) if host}
    guid_host = host_of(guid)
    guid_path = urlsplit(guid.strip()).path if guid_host else ""
    folder = guid_path[: -len(permalink)] if permalink not in ("", "/") and guid_path.endswith(permalink) else ""
    if guid_host and _is_folder(folder):
        hosts[guid_host] = _prefix(folder)
    elif guid_host and re.match(r"(?:p|page_id)=\d+$", urlsplit(guid.strip()).query):
        hosts[guid_host] = _prefix(guid_path.removesuffix("index.php"))  # http://host/blog/?p=5
    base = str(front_matter.get("base_blog_url") or "")
    if host_of(base):
        hosts[host_of(base)] = _prefix(urlsplit(base).path)
    return hosts


def setting_hosts() -> dict[str, str]:
    """Return the hosts of settings.OLD_SITE_HOSTS (names, or URLs whose path is the blog's base)."""
    hosts = {}
    for value in getattr(settings, "OLD_SITE_HOSTS", []):
        value = str(value).strip()
        if "://" in value:
            hosts[host_of(value)] = _prefix(urlsplit(value).path)
        elif value:
            hosts[normalize_host(value.split("/")[0])] = _prefix(value.partition("/")[2])
    return hosts


def _table() -> dict[str, str]:
    from blog.models import OldHost

    now = time.monotonic()
    cached = getattr(_memo, "hosts", None)
    if cached is None or now - _memo.read_at > REFRESH_SECONDS:
        cached = dict(OldHost.objects.values_list("host", "path_prefix"))
        _memo.hosts, _memo.read_at = cached, now
    return cached


def known_hosts() -> dict[str, str]:
    """Return every old-site host and the path its blog lived under: those learnt from imports, and the setting's."""
    return {**_table(), **setting_hosts()}


def remember_hosts(hosts: dict[str, str]) -> None:
    """Record old-site hosts (and base paths) not known yet (no query unless one is new to this process)."""
    from blog.models import OldHost

    def known(table: dict[str, str]) -> bool:
        return all(host in table and (not prefix or table[host]) for host, prefix in hosts.items())

    memo = getattr(_memo, "hosts", None)
    if memo is not None and known(memo):
        return
    table = _table()
    if known(table):
        return
    new = {host: prefix for host, prefix in hosts.items() if host not in table}
    if new:
        OldHost.objects.bulk_create(
            [OldHost(host=host, path_prefix=prefix) for host, prefix in sorted(new.items())], ignore_conflicts=True
        )
    for host, prefix in hosts.items():
        if prefix and table.get(host) == "":
            OldHost.objects.filter(host=host, path_prefix="").update(path_prefix=prefix)
    _memo.hosts = None  # read the table again next time


def forget_memo() -> None:
    """Drop this thread's memory of the hosts table (tests roll their rows back)."""
    _memo.hosts = None


def strip_prefix(path: str, prefix: str) -> str:
    """Return `path` without the blog's base path `prefix` (unchanged when it is not under it)."""
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        return path[len(prefix) :] or "/"
    return path
