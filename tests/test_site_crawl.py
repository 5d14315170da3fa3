"""The proof that the parts meet: the site run as scripts/serve.sh runs it, crawled from its home page.

Real processes throughout: `scripts/serve.sh` (the development server and a `run_worker`
process on the embedded default: a SQLite file, local media, the file cache), `import_posts`
and `cache_images` run as separate commands, the remote images served by an HTTP server on
127.0.0.1 (the corpus's own hosts do not exist here: IMAGE_CACHE_MIRROR fetches them from it
by host and path), and headless Chromium. Every real-world file of the repository is imported.
"""

import hashlib
import io
import os
import re
import sys
import time
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit
from xml.etree import ElementTree as ET

import pytest
from PIL import Image

from tests.conftest import CORPUS, FIXTURE_POSTS, SAMPLE_POSTS
from tests.images_server import LatencyServer
from tests.processes import Site, free_port, manage, manage_shell, site_env

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
MAX_URLS = 3000  # a bound on the crawl: the site has a few hundred addresses
FORMATS = {".png": ("PNG", "image/png"), ".gif": ("GIF", "image/gif"), ".webp": ("WEBP", "image/webp")}


class OldSiteImages(dict):
    """Every image of the old sites, as a copy laid out by host and path: any path answers with an image.

    Each image is made by Pillow from its path (size and colour vary), in the format its
    extension names (JPEG otherwise), and every path asked for is recorded.
    """

    def __init__(self):
        super().__init__()
        self.asked: list[str] = []

    def get(self, path, default=None):
        self.asked.append(path)
        digest = hashlib.sha256(path.encode()).digest()
        extension = os.path.splitext(urlsplit(path).path)[1].lower()
        image_format, content_type = FORMATS.get(extension, ("JPEG", "image/jpeg"))
        image = Image.new("RGB", (400 + digest[0] * 4, 240 + digest[1] * 2), (digest[2], digest[3], digest[4]))
        buffer = io.BytesIO()
        image.save(buffer, image_format)
        return buffer.getvalue(), content_type


@pytest.fixture
def old_site_images():
    with LatencyServer(OldSiteImages(), latency=0) as server:
        yield server


@pytest.fixture
def site(tmp_path, old_site_images):
    host, port = old_site_images.httpd.server_address[:2]
    env = site_env(tmp_path) | {
        "KABAR_ADDR": f"127.0.0.1:{free_port()}",
        "IMAGE_CACHE_MIRROR": f"http://{host}:{port}/",
        "VENV": str(Path(sys.executable).parent.parent),  # serve.sh runs this interpreter's environment
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }
    running = Site(env, tmp_path / "serve.log")
    try:
        running.wait_until_ready()
        yield running
    finally:
        running.stop()


class Links(HTMLParser):
    """Collect a page's addresses: links, images (src and srcset), stylesheets and scripts."""

    def __init__(self, markup: str):
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.assets: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        srcset = [c.strip().split()[0] for c in (found.get("srcset") or "").split(",") if c.strip()]
        if tag == "a" and found.get("href"):
            self.links.append(found["href"])
        elif tag == "link" and found.get("href"):
            rel = (found.get("rel") or "").split()
            (self.assets if "stylesheet" in rel else self.links).append(found["href"])
        elif tag == "script" and found.get("src"):
            self.assets.append(found["src"])
        elif tag == "img":
            self.images += [found["src"], *srcset] if found.get("src") else srcset
        elif tag == "source":
            self.images += srcset

    handle_startendtag = handle_starttag


def feed_links(xml: bytes) -> list[str]:
    """Return the addresses an RSS/Atom feed or a sitemap names."""
    root = ET.fromstring(xml)
    found = []
    for element in root.iter():
        name = element.tag.rsplit("}", 1)[-1]
        if name in {"link", "loc", "guid"} and (element.text or "").startswith("http"):
            found.append(element.text.strip())
        if name == "link" and element.get("href"):
            found.append(element.get("href"))
    return found


class Crawl:
    """Every address the site names, from its home page on: pages, links, images, stylesheets, scripts."""

    def __init__(self, site: Site):
        self.site = site
        self.origin = urlsplit(site.base).netloc
        self.kinds: dict[str, str] = {}  # address → "link" | "image" | "asset"
        self.pages = 0
        self.broken: list[str] = []
        self.remote_images: list[str] = []

    def internal(self, address: str, base: str) -> str | None:
        address = urldefrag(urljoin(base, address.strip()))[0]
        parts = urlsplit(address)
        if parts.scheme not in {"http", "https"}:
            return None
        if parts.netloc != self.origin:
            return None
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def run(self) -> None:
        queue = ["/"]
        self.kinds["/"] = "link"
        while queue:
            assert len(self.kinds) < MAX_URLS, "the crawl does not end"
            path = queue.pop(0)
            response = self.site.get(path)
            if response.status == 301:
                target = self.internal(response.headers["Location"], self.site.base + path)
                response = self.site.get(target) if target else response
            if response.status != 200:
                self.broken.append(f"{path} → {response.status}")
                continue
            if self.kinds[path] != "link":
                continue
            content_type = response.headers.get("Content-Type", "")
            base = self.site.base + path
            if content_type.startswith("text/html"):
                self.pages += 1
                found = Links(response.data.decode())
                named = [(a, "link") for a in found.links] + [(a, "asset") for a in found.assets]
                for image in found.images:
                    if image.startswith("data:"):
                        continue
                    if self.internal(image, base) is None:
                        self.remote_images.append(f"{path}: {image}")
                    named.append((image, "image"))
            elif "xml" in content_type:
                named = [(a, "link") for a in feed_links(response.data)]
            else:
                continue
            for address, kind in named:
                target = self.internal(address, base)
                if target is not None and target not in self.kinds and not target.startswith("/admin/"):
                    self.kinds[target] = kind
                    queue.append(target)

    def count(self, kind: str) -> int:
        return sum(1 for value in self.kinds.values() if value == kind)


def real_world_files() -> int:
    return len([*CORPUS.glob("*.md"), *FIXTURE_POSTS.glob("*.md"), *SAMPLE_POSTS.glob("*.md")])


def post_id(site: Site, title: str) -> int:
    return int(manage_shell(site.env, f"from blog.models import Post; print(Post.objects.get(title={title!r}).pk)"))


def test_the_running_site_serves_every_page_image_and_asset(site, old_site_images, browser):
    # serve.sh imported the sample post; the home page is in the page cache now (files every process shares).
    assert "Mengenal Microservices" in site.text("/")
    assert any(Path(site.env["CACHE_DIR"]).iterdir())

    # An import from another process shows on the next request.
    imported = manage(site.env, "import_posts", str(CORPUS), str(FIXTURE_POSTS))
    assert imported.returncode == 0, imported.stderr
    assert "created 22, updated 0, unchanged 0, failed 0" in imported.stdout
    assert "Void Linux è arrivato Plasma 6" in site.text("/")  # the newest corpus post

    # An admin save (Chromium, logged in) shows on the next request; the worker process then
    # caches that post's images, and the page shows them from /media/ without a restart.
    created = manage(site.env, "createsuperuser", "--noinput", "--username", "editor", "--email", "e@example.com")
    assert created.returncode == 0, created.stderr
    endure = post_id(site, "Tahan Sahaja… Just Endure")
    permalink = "/tahan-sahaja-just-endure/"
    assert "Tahan Sahaja… Just Endure" in site.text(permalink)
    editor = browser.new_page(base_url=site.base)
    editor.goto("/admin/login/")
    editor.fill("#id_username", "editor")
    editor.fill("#id_password", PASSWORD)
    editor.click("input[type=submit]")
    editor.goto(f"/admin/blog/post/{endure}/change/")
    editor.fill("#id_title", "Tahan Sahaja… Just Endure (edited)")
    editor.click("input[name=_save]")
    editor.wait_for_selector(".messagelist .success")
    editor.close()
    assert "Just Endure (edited)</h1>" in site.text(permalink)
    assert "Just Endure (edited)" in site.text("/")
    deadline = time.monotonic() + 60
    while "/media/images/" not in site.text(permalink):
        assert time.monotonic() < deadline, "the worker did not cache the saved post's images: " + site.log_text()
        time.sleep(0.5)
    assert "/wp-content/uploads/" not in re.sub(r'href="[^"]*"', "", site.text(permalink).split("<article", 1)[1])

    # The rest of the images, cached by the command from another process, show on the next request
    # (the page was served, and stored in the page cache, with the remote address before).
    assert "/media/images/" not in site.text("/transitionend-promise/")
    cached = manage(site.env, "cache_images", "--all")
    assert cached.returncode == 0, cached.stdout + cached.stderr
    summary = re.search(r"(\d+) cached, (\d+) already cached, (\d+) failed, (\d+) refused", cached.stdout)
    assert summary and int(summary[1]) > 20 and summary.group(3, 4) == ("0", "0"), cached.stdout
    assert not [path for path in old_site_images.images.asked if "%7B" in path or "{" in path]  # no template code
    assert "/media/images/" in site.text("/transitionend-promise/")

    # The crawl: every address the site names answers 200, or one 301 to a 200.
    crawl = Crawl(site)
    crawl.run()
    counts = Counter(crawl.kinds.values())
    print(
        f"\ncrawl of {real_world_files()} imported files: {crawl.pages} pages, {counts['link']} links, "
        f"{counts['image']} images, {counts['asset']} stylesheets and scripts, {len(crawl.broken)} broken"
    )
    assert crawl.broken == []
    assert crawl.remote_images == []  # every image is served by the site itself
    assert crawl.pages > 100 and counts["image"] > 50 and counts["asset"] >= 2
    for shape in ("/category/", "/tag/", "/author/", "/feed/", "?page=2", "/2019/", "/archives/", "/media/images/"):
        assert any(shape in address for address in crawl.kinds), shape

    # In Chromium, a sample of pages: every image decoded, nothing logged as an error.
    sample = [
        "/",
        "/?page=2",
        permalink,
        "/2019/11/10/python-bit-plane/",
        "/2015/01/16/release-notes-with-figures/",
        "/2016/07/19/arduino-uno_%ef%bd%92_3_esp8266_01/",
        "/anteprima-ukui-3-1/",
        "/wordpress-where-to-host-at-first/",
        "/kabar-markup-cheatsheet/",
        "/category/development/",
        "/archives/",
        "/search/?q=linux",
    ]
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    images_seen = 0
    for path in sample:
        response = page.goto(site.base + path)
        assert response.status == 200, path
        # Images load lazily: bring each into view and wait until it is decoded (or has failed).
        widths = page.evaluate(
            """async () => Promise.all([...document.images].map(async img => {
                img.scrollIntoView();
                try { await img.decode(); } catch (e) {}
                return [img.currentSrc || img.src, img.naturalWidth];
            }))"""
        )
        assert [src for src, width in widths if width == 0] == [], path
        images_seen += len(widths)
        assert errors == [], (path, errors)
    print(f"chromium: {len(sample)} pages, {images_seen} images shown, 0 console errors")
    assert images_seen > 10
