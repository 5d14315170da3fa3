"""End to end in headless Chromium: home → post → category → month archive → feed, on a phone-wide screen."""

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from PIL import Image

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
PHONE_WIDTH = 375
LONG_URL = (
    "https://assets-global.website-files.com/5d8a2888296e91abbdcb65f0/631e88e785a9c091199b7613_1j4EyAg9pTtXs6hnrrryqse"
)


@pytest.fixture
def diagram(_media_root):
    """Write the sample post's image (wider than a phone) into the test's media folder."""
    path = _media_root / "uploads" / "diagram.png"
    path.parent.mkdir(parents=True)
    Image.new("RGB", (960, 480), (30, 120, 200)).save(path)
    return path


def check_page(page, name: str, errors: list[str]) -> None:
    """Assert the page has no console errors nor horizontal scrolling; save its screenshot."""
    page.wait_for_load_state("load")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert errors == [], f"{name}: console errors {errors}"
    scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll_width <= PHONE_WIDTH, f"{name}: scrolls sideways ({scroll_width}px wide at {PHONE_WIDTH}px)"


@pytest.fixture
def post_with_long_url(sample_post):
    """Return the sample post with a long unbroken URL in its text, as old posts often have."""
    sample_post.body += f"\nGambar asli ada di {LONG_URL} dulu.\n"
    sample_post.save()
    return sample_post


# Every database access happens in fixtures listed before `browser`: Playwright's sync API runs
# the test in a greenlet, where the ORM would open a second connection that is never closed.
def test_reader_walks_from_home_to_the_feed(live_server, post_with_long_url, diagram, browser):
    sample_post = post_with_long_url
    page = browser.new_page(viewport={"width": PHONE_WIDTH, "height": 800})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(live_server.url + "/")
    check_page(page, "1-home", errors)
    page.get_by_role("link", name=sample_post.title).click()

    page.wait_for_url(f"**{sample_post.permalink}")
    check_page(page, "2-post", errors)
    assert page.get_by_role("heading", level=1).inner_text() == sample_post.title
    for heading in ("Apa itu Layanan mikro?", "Manfaat Penggunaan Layanan mikro"):
        assert page.get_by_role("heading", name=heading, level=2).is_visible()
    image = page.get_by_role("img", name="Diagram layanan mikro")
    assert image.is_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 960
    assert image.evaluate("img => img.getBoundingClientRect().right") <= PHONE_WIDTH

    page.locator("article.post .post-meta").get_by_role("link", name="TutorialBlogger").click()
    page.wait_for_url("**/category/tutorialblogger/")
    check_page(page, "3-category", errors)
    assert page.get_by_role("heading", level=1).inner_text() == "Category: TutorialBlogger"

    page.get_by_role("link", name="29 October 2022").click()
    page.wait_for_url("**/2022/10/")
    check_page(page, "4-month", errors)
    assert page.get_by_role("heading", level=1).inner_text() == "Posts from October 2022"
    assert page.get_by_role("link", name=sample_post.title).is_visible()

    feed_url = page.locator('link[rel="alternate"][type="application/rss+xml"]').get_attribute("href")
    feed = page.request.get(live_server.url + feed_url)
    assert feed.status == 200
    assert feed.headers["content-type"].startswith("application/rss+xml")
    [item] = ET.fromstring(feed.body()).findall("./channel/item")
    assert item.findtext("title") == sample_post.title
    assert item.findtext("link") == live_server.url + sample_post.permalink
