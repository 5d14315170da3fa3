"""Point the links of a rendered body that name the old site at the current address of what they name.

Runs when a post is rendered (`Post.render`): the stored Markdown stays as written, only
`body_html` changes. The old → new answer comes from `canonical_address`, the same code that
answers an old address with a 301, so a link and a request for it always agree.
"""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

from blog.html_links import link_hrefs, replace_link_hrefs
from blog.links.hosts import host_of, known_hosts, strip_prefix

INTERNAL, EXTERNAL, OTHER = "internal", "external", "other"


@dataclass(frozen=True)
class Link:
    """One href, split into what the checks need."""

    url: str
    kind: str  # INTERNAL (the old site or this one), EXTERNAL (another site), OTHER (#, mailto:, relative)
    path: str = ""
    query: str = ""
    fragment: str = ""
    host: str = ""


def own_paths() -> tuple[str, ...]:
    """Return the URL prefixes of Kabar's own files (media, static), which are no post address."""
    return tuple(prefix for prefix in (settings.MEDIA_URL, settings.STATIC_URL) if prefix and prefix.startswith("/"))


def classify(url: str, *, hosts: dict[str, str]) -> Link:
    """Return `url` classified: a link into the (old) site, to another site, or neither."""
    value = url.strip()
    try:
        parts = urlsplit(value)
    except ValueError:
        return Link(url, OTHER)
    scheme = parts.scheme.lower()
    if scheme and scheme not in ("http", "https"):
        return Link(url, OTHER)
    if parts.netloc:
        host = host_of(value if scheme else "http:" + value)
        if host not in hosts:
            return Link(url, EXTERNAL, parts.path or "/", parts.query, parts.fragment, host)
        # The old blog may have lived in a folder of its host (http://host/wordpress/…).
        path = strip_prefix(parts.path or "/", hosts[host])
        return Link(url, INTERNAL, path, parts.query, parts.fragment, host)
    if not parts.path.startswith("/"):
        return Link(url, OTHER)  # '#top', 'page.html': relative to wherever the page is
    if parts.path.startswith(own_paths()):
        return Link(url, OTHER)
    return Link(url, INTERNAL, parts.path, parts.query, parts.fragment)


def site_hosts(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Return the hosts whose links are links into this site (the old site's and SITE_URL's), with their base paths.

    `extra`: hosts of the post being rendered (it may not be saved yet); a base path it shows wins.
    """
    hosts = known_hosts()
    own = host_of(settings.SITE_URL) if settings.SITE_URL else ""
    if own:
        hosts[own] = ""
    for host, prefix in (extra or {}).items():
        if prefix or host not in hosts:
            hosts[host] = prefix
    return hosts


def canonical_address(path: str, query: str = "") -> str | None:
    """Return the current address of what the site path `path?query` names, or None when nothing is there.

    The site's own old-address resolution (`blog.oldlinks`): a current address comes back as
    it is, an old one as the URL its 301 leads to.
    """
    from blog.oldlinks import resolve_old_address

    return resolve_old_address(path, query)


@dataclass
class Rewritten:
    """A body's HTML with its internal links pointed at current addresses, and what each link became."""

    html: str
    # Every internal link as written → its current address ('' when nothing on the site has it).
    links: dict[str, str] = field(default_factory=dict)

    @property
    def unresolved(self) -> list[str]:
        return [url for url, target in self.links.items() if not target]


def rewrite_links(body_html: str, *, extra_hosts: dict[str, str] | None = None) -> Rewritten:
    """Return `body_html` with each link into the old site pointed at the current address of what it names.

    `extra_hosts`: old-site hosts of the post being rendered (it may not be saved yet). Links
    that name nothing on the site stay as written and are listed with an empty target.
    """
    hrefs = link_hrefs(body_html)
    if not hrefs:
        return Rewritten(body_html)
    hosts = site_hosts(extra_hosts)
    links: dict[str, str] = {}
    replacements: dict[str, str] = {}
    for url in dict.fromkeys(hrefs):
        link = classify(url, hosts=hosts)
        if link.kind == INTERNAL:
            links[url] = _resolve(link, replacements)
    return Rewritten(replace_link_hrefs(body_html, replacements), links)


def _resolve(link: Link, replacements: dict[str, str]) -> str:
    """Return the current address of an internal link ('' for none); note the new href when it differs."""
    target = canonical_address(link.path, link.query) or ""
    if target:
        new = target + (f"#{link.fragment}" if link.fragment else "")
        if new != link.url:
            replacements[link.url] = new
    return target


def resolve_unresolved(
    *, body_html: str, links: dict[str, str], extra_hosts: dict[str, str] | None = None
) -> Rewritten:
    """Return stored HTML with the links that named nothing when it was rendered resolved again, where they now can.

    Cheaper than a new render: those links are still in `body_html` as written.
    """
    hosts = site_hosts(extra_hosts)
    links = dict(links)
    replacements: dict[str, str] = {}
    for url, target in links.items():
        if not target:
            links[url] = _resolve(classify(url, hosts=hosts), replacements)
    return Rewritten(replace_link_hrefs(body_html, replacements), links)
