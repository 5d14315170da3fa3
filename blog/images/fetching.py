"""Fetch a remote image safely: http(s) only, public addresses only, a byte cap, checked redirects.

One way to fetch, through urllib3. The host name is resolved once, every address it resolves to
is checked, and the connection goes to the checked address (the name is only sent as the Host
header and used for TLS), so a second DNS answer cannot point the request somewhere else.
"""

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    LocationParseError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import parse_url

USER_AGENT = "Kabar/0.1 image cache (+https://github.com/kabar-cms/kabar)"
ACCEPT = "image/avif,image/webp,image/png,image/jpeg,image/gif;q=0.9,*/*;q=0.5"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
CHUNK_SIZE = 64 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}
DOCUMENT_TYPES = frozenset({"application/json", "application/xml", "application/xhtml+xml", "application/javascript"})
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# IANA's special-purpose address registries (IPv4 and IPv6), whole: Python's is_global counts a
# few of their members (192.0.0.9, 2001:4:112::/48, …) as public. The NAT64 prefix is left
# out: the IPv4 address it carries is judged instead.
SPECIAL_PURPOSE = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.31.196.0/24",
        "192.52.193.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "192.175.48.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/127",
        "::ffff:0:0/96",
        "64:ff9b:1::/48",
        "100::/63",
        "2001::/23",
        "2001:db8::/32",
        "2002::/16",
        "2620:4f:8000::/48",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """The image could not be fetched; `reason` says why in a few words."""

    def __init__(self, reason: str, *, retryable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class FetchRefused(FetchError):
    """The URL, or an address it leads to, is not one Kabar may fetch."""


@dataclass(frozen=True)
class Fetched:
    """What a fetch brought back: the bytes (none when the server said 304) and validators."""

    url: str
    content: bytes
    not_modified: bool = False
    etag: str = ""
    last_modified: str = ""
    content_type: str = ""


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Return the networks of settings.IMAGE_CACHE_ALLOWED_NETWORKS, read now (not at import)."""
    networks = []
    for value in getattr(settings, "IMAGE_CACHE_ALLOWED_NETWORKS", []):
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError as error:
            raise ImproperlyConfigured(
                f"IMAGE_CACHE_ALLOWED_NETWORKS: {value!r} is not a CIDR network ({error})"
            ) from None
    return networks


def allowed_ports() -> list[range]:
    """Return the port ranges of settings.IMAGE_CACHE_ALLOWED_PORTS ("80", "8000-8099"), read now."""
    ports: list[range] = []
    for value in getattr(settings, "IMAGE_CACHE_ALLOWED_PORTS", [80, 443]):
        first, _dash, last = str(value).strip().partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            low = high = 0
        if not 0 < low <= high <= 65535:
            raise ImproperlyConfigured(f"IMAGE_CACHE_ALLOWED_PORTS: {value!r} is not a port or a range of ports")
        ports.append(range(low, high + 1))
    return ports


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """Return the IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64)."""
    if address.version == 4:
        return []
    embedded = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
    if address in NAT64:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [ip for ip in embedded if ip is not None]


def _non_public_kind(address: IPAddress) -> str:
    """Return what kind of non-public address this is ('private', 'loopback', …), or '' if public."""
    checks = [
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-public", not address.is_global),
        (
            "special-purpose",
            any(address in network for network in SPECIAL_PURPOSE if network.version == address.version),
        ),
    ]
    return next((kind for kind, matches in checks if matches), "")


def address_refusal(address: IPAddress) -> str:
    """Return why Kabar may not connect to `address`, or '' when it may."""
    # The IPv4 address an IPv6 form carries is where the packets go: judge it first.
    candidates = [*_embedded_ipv4(address), address]
    networks = allowed_networks()
    if any(ip in network for ip in candidates for network in networks if ip.version == network.version):
        return ""
    for ip in candidates:
        kind = _non_public_kind(ip)
        if kind:
            return f"{address} is a {kind} address" if ip == address else f"{address} carries {kind} address {ip}"
    return ""


def resolve(host: str, port: int) -> IPAddress:
    """Return the checked address to connect to for `host`; refuse if any address it has is not allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        retryable = error.errno == socket.EAI_AGAIN
        raise FetchError(f"cannot resolve host {host!r}: {error.strerror}", retryable=retryable) from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
    if not addresses:
        raise FetchError(f"host {host!r} has no address")
    for address in addresses:
        refusal = address_refusal(address)
        if refusal:
            shown = "" if _is_literal(host, address) else f"{host} resolves to "
            raise FetchRefused(f"{shown}{refusal}")
    return addresses[0]


def _is_literal(host: str, address: IPAddress) -> bool:
    """Return whether `host` is `address` written as an IP literal (not a name that resolved to it)."""
    try:
        return ipaddress.ip_address(host) == address
    except ValueError:
        return False


@dataclass(frozen=True)
class _Target:
    scheme: str
    hostname: str
    port: int
    host_header: str
    request_uri: str


def _target(url: str) -> _Target:
    """Return where a request for `url` goes; refuse anything but http(s) URLs with a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
        request_uri = parse_url(url).request_uri
    except (ValueError, LocationParseError) as error:
        raise FetchRefused(f"not a valid URL ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise FetchRefused(f"scheme {scheme or '(none)'!r} is not http or https")
    hostname = (parts.hostname or "").rstrip(".")
    if not hostname:
        raise FetchRefused("the URL has no host")
    try:
        hostname = hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise FetchRefused(f"host {parts.hostname!r} is not a valid name") from None
    port = port or DEFAULT_PORTS[scheme]
    if not any(port in ports for ports in allowed_ports()):
        raise FetchRefused(f"port {port} is not an allowed port (IMAGE_CACHE_ALLOWED_PORTS)")
    shown = f"[{hostname}]" if ":" in hostname else hostname
    host_header = shown if port == DEFAULT_PORTS[scheme] else f"{shown}:{port}"
    return _Target(scheme, hostname, port, host_header, request_uri or "/")


class _Watchdog:
    """Shut the sockets of a fetch down when its deadline passes, whatever they are waiting for.

    Socket timeouts bound each wait, not their sum: a server that drips a header line or the
    body a byte at a time, just inside the read timeout, would hold a fetch for ever. Shutting
    the socket down wakes the blocked read at once (it sees the end of the stream).
    """

    def __init__(self, deadline: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _watched(connection_class: type, watchdog: _Watchdog) -> type:
    """Return `connection_class` with every socket it opens handed to `watchdog`."""

    class WatchedConnection(connection_class):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            watchdog.track(sock)
            return sock

    return WatchedConnection


def _pool(target: _Target, address: IPAddress, *, deadline: float, watchdog: _Watchdog) -> urllib3.HTTPConnectionPool:
    """Return a connection pool bound to the checked `address` for `target`'s host."""
    remaining = max(0.001, deadline - time.monotonic())
    timeout = urllib3.Timeout(
        connect=min(settings.IMAGE_CACHE_CONNECT_TIMEOUT, remaining),
        read=min(settings.IMAGE_CACHE_READ_TIMEOUT, remaining),
    )
    options = {"host": str(address), "port": target.port, "timeout": timeout, "retries": False, "maxsize": 1}
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            **options,
            cert_reqs="CERT_REQUIRED",
            server_hostname=target.hostname,
            assert_hostname=target.hostname,
        )
    else:
        pool = urllib3.HTTPConnectionPool(**options)
    pool.ConnectionCls = _watched(pool.ConnectionCls, watchdog)
    return pool


def _read_capped(response: urllib3.BaseHTTPResponse, *, max_bytes: int, deadline: float) -> bytes:
    """Return the response body, stopping as soon as it passes `max_bytes` or the deadline."""
    chunks = []
    received = 0
    for chunk in response.stream(CHUNK_SIZE, decode_content=True):
        received += len(chunk)
        if received > max_bytes:
            raise FetchError(f"stopped after {received} bytes: larger than the {max_bytes}-byte limit")
        if time.monotonic() > deadline:
            raise _too_slow()
        chunks.append(chunk)
    return b"".join(chunks)


def _too_slow() -> FetchError:
    return FetchError(f"took longer than {settings.IMAGE_CACHE_TOTAL_TIMEOUT:g} s (IMAGE_CACHE_TOTAL_TIMEOUT)")


def _is_not_an_image(content_type: str) -> bool:
    """Return whether a Content-Type says the body is a document, not image bytes."""
    media_type = content_type.split(";")[0].strip().lower()
    return media_type.startswith("text/") or media_type in DOCUMENT_TYPES


def _fetch_once(url: str, *, etag: str, last_modified: str, max_bytes: int, deadline: float) -> Fetched:
    """Return the image at `url` by `deadline`, following at most MAX_REDIRECTS redirects, each checked again."""
    watchdog = _Watchdog(deadline)
    try:
        fetched = _follow(
            url, etag=etag, last_modified=last_modified, max_bytes=max_bytes, deadline=deadline, watchdog=watchdog
        )
        if watchdog.expired:  # a body without a length looks complete when its socket is shut
            raise _too_slow()
        return fetched
    except FetchError:
        if watchdog.expired:
            raise _too_slow() from None
        raise
    finally:
        watchdog.cancel()


@contextlib.contextmanager
def _opened(
    url: str, method: str, headers: dict, *, deadline: float, watchdog: _Watchdog
) -> Iterator[tuple[str, urllib3.BaseHTTPResponse]]:
    """Yield the URL that finally answered `method` on `url`, and its response, body unread.

    At most MAX_REDIRECTS redirects are followed, each hop's address resolved and checked
    again. Network errors, of the request or of reading the body inside the block, come out as
    FetchError; the response is closed without reading the rest (a body over a cap must not
    be drained).
    """
    for _hop in range(MAX_REDIRECTS + 1):
        if time.monotonic() > deadline:
            raise _too_slow()
        target = _target(url)
        address = resolve(target.hostname, target.port)
        pool = _pool(target, address, deadline=deadline, watchdog=watchdog)
        response = None
        try:
            response = pool.urlopen(
                method,
                target.request_uri,
                headers={"Host": target.host_header, **headers},
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
            if response.status in REDIRECT_STATUSES:
                location = response.headers.get("Location")
                if not location:
                    raise FetchError(f"HTTP {response.status} redirect without a Location")
                url = urljoin(url, location.strip())
                continue
            yield url, response
            return
        # NewConnectionError is a ConnectTimeoutError subclass in urllib3 2: catch it first.
        except NewConnectionError as error:
            raise FetchError(f"cannot connect to {target.host_header}: {_cause(error)}") from None
        except ReadTimeoutError:
            raise FetchError(f"timed out waiting for {target.host_header}", retryable=True) from None
        except ConnectTimeoutError:
            raise FetchError(f"timed out connecting to {target.host_header}", retryable=True) from None
        except SSLError as error:
            raise FetchError(f"TLS error with {target.host_header}: {_cause(error)}") from None
        except (ProtocolError, HTTPError) as error:
            if isinstance(error.__context__, TimeoutError) or "timed out" in str(error):
                raise FetchError(f"timed out reading from {target.host_header}", retryable=True) from None
            raise FetchError(f"connection to {target.host_header} broke: {_cause(error)}", retryable=True) from None
        finally:
            if response is not None:
                response.close()
            pool.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _follow(
    url: str, *, etag: str, last_modified: str, max_bytes: int, deadline: float, watchdog: _Watchdog
) -> Fetched:
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    with _opened(url, "GET", headers, deadline=deadline, watchdog=watchdog) as (url, response):
        status = response.status
        if status == 304 and (etag or last_modified):
            return Fetched(url=url, content=b"", not_modified=True, etag=etag, last_modified=last_modified)
        if status >= 500:
            raise FetchError(f"HTTP {status} {response.reason or ''}".rstrip(), retryable=True)
        if status != 200:
            raise FetchError(f"HTTP {status} {response.reason or ''}".rstrip())
        content_type = response.headers.get("Content-Type", "")
        if _is_not_an_image(content_type):
            raise FetchError(f"the server sent {content_type.split(';')[0]}, not an image")
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise FetchError(f"Content-Length {length} is larger than the {max_bytes}-byte limit")
        content = _read_capped(response, max_bytes=max_bytes, deadline=deadline)
        return Fetched(
            url=url,
            content=content,
            etag=response.headers.get("ETag", ""),
            last_modified=response.headers.get("Last-Modified", ""),
            content_type=content_type,
        )


def _cause(error: Exception) -> str:
    """Return the innermost reason of a urllib3 error, without its object addresses."""
    reason = getattr(error, "reason", None) or error.__cause__ or error
    text = str(reason)
    return text.split(": ", 1)[-1] if text.startswith("<") else text


def mirrored(url: str) -> str:
    """Return where to download `url`: from settings.IMAGE_CACHE_MIRROR (as <mirror>/<host>/<path>) when set.

    For an old site that is gone but whose files survive in a copy laid out by host name, as
    `wget --mirror` writes them, served by any web server. The image keeps its own URL.
    """
    mirror = getattr(settings, "IMAGE_CACHE_MIRROR", "")
    if not mirror:
        return url
    parts = urlsplit(url)
    return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")


def fetch(url: str, *, etag: str = "", last_modified: str = "", max_bytes: int | None = None) -> Fetched:
    """Return the image at `url`, retrying timeouts and 5xx answers with exponential backoff.

    IMAGE_CACHE_TOTAL_TIMEOUT bounds the whole fetch: every attempt, redirect and backoff
    included. A retry whose backoff would end past it is not made.
    """
    url = mirrored(url)  # checked like any address: a mirror on 127.0.0.1 needs IMAGE_CACHE_ALLOWED_NETWORKS
    max_bytes = max_bytes if max_bytes is not None else settings.IMAGE_CACHE_MAX_BYTES
    deadline = time.monotonic() + settings.IMAGE_CACHE_TOTAL_TIMEOUT
    attempts = max(0, settings.IMAGE_CACHE_RETRIES) + 1
    for attempt in range(attempts):
        try:
            return _fetch_once(url, etag=etag, last_modified=last_modified, max_bytes=max_bytes, deadline=deadline)
        except FetchError as error:
            backoff = settings.IMAGE_CACHE_RETRY_BACKOFF * 2**attempt
            if not error.retryable or attempt == attempts - 1 or time.monotonic() + backoff >= deadline:
                raise
        time.sleep(backoff)
    raise AssertionError("unreachable")


LINK_USER_AGENT = "Kabar/0.1 link checker (+https://github.com/kabar-cms/kabar)"
# Servers that do not answer HEAD properly say so with one of these; GET is tried then.
HEAD_REFUSED = frozenset({400, 403, 404, 405, 406, 429, 500, 501, 502, 503})


def _probe_once(url: str, method: str) -> int:
    """Return the status `url` finally answers `method` with, each redirect hop checked; read no body."""
    deadline = time.monotonic() + settings.IMAGE_CACHE_TOTAL_TIMEOUT
    watchdog = _Watchdog(deadline)
    headers = {"User-Agent": LINK_USER_AGENT, "Accept": "*/*"}
    try:
        with _opened(url, method, headers, deadline=deadline, watchdog=watchdog) as (_, response):
            return response.status
    finally:
        watchdog.cancel()


def probe(url: str) -> int:
    """Return the HTTP status a link finally answers: HEAD first, GET when HEAD is refused (same safety as fetch)."""
    status = _probe_once(url, "HEAD")
    if status in HEAD_REFUSED:
        status = _probe_once(url, "GET")
    return status
