"""A reader comments in headless Chromium without JavaScript; an editor approves; the reply shows threaded."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from blog.comments import CommentSource, upsert_comments
from blog.models import Comment, Post
from tests.test_admin_browser import PASSWORD, SCREENSHOTS, closes_its_connections

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@closes_its_connections
def test_comment_moderate_and_read_it_threaded(browser, live_server, settings, django_user_model, author):
    from playwright.sync_api import expect

    settings.COMMENTS_ENABLED = True
    settings.COMMENTS_MIN_SECONDS = 1
    SCREENSHOTS.mkdir(exist_ok=True)
    django_user_model.objects.create_superuser("editor", "editor@example.com", PASSWORD)
    post = Post.objects.create(
        title="Tahan Sahaja",
        slug="tahan-sahaja",
        date=timezone.now() - timedelta(days=3),
        permalink="/2024/05/01/tahan-sahaja/",
        author=author,
        status=Post.Status.PUBLISHED,
        body="Just endure.",
    )
    upsert_comments(
        post=post,
        comments=[
            CommentSource(source_id="7", date=datetime(2024, 5, 2, 9, tzinfo=UTC), body="So true.", author_name="Ann")
        ],
    )
    dialogs: list[str] = []

    # The reader's browser runs no JavaScript: the form must work without it.
    reader_context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    reader = reader_context.new_page()
    reader.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    reader.goto(post.permalink)
    expect(reader.locator("#comments-title")).to_have_text("1 comment")
    reader.get_by_role("link", name="Reply to Ann").click()
    expect(reader.locator("h1")).to_have_text("Reply to Ann")
    reader.get_by_label("Name").fill("Budi")
    reader.get_by_label("Email").fill("budi@example.com")
    reader.get_by_label("Comment").fill("Agreed, Ann.\n\n<script>alert('owned')</script>Stay strong.")
    reader.wait_for_timeout(1200)  # a person takes longer than COMMENTS_MIN_SECONDS
    reader.get_by_role("button", name="Post reply").click()
    expect(reader.locator(".notice")).to_contain_text("awaiting moderation")
    reader.goto(post.permalink)
    expect(reader.locator(".comment-body", has_text="Stay strong")).to_have_count(0)
    reply = Comment.objects.get(author_name="Budi")
    assert reply.status == Comment.Status.PENDING

    # The editor sees it waiting on the admin index and approves it from the list.
    staff_context = browser.new_context(base_url=live_server.url)
    staff = staff_context.new_page()
    staff.goto("/admin/login/?next=/admin/")
    staff.fill("#id_username", "editor")
    staff.fill("#id_password", PASSWORD)
    staff.click("input[type=submit]")
    staff.get_by_role("link", name="1 comment awaiting moderation").click()
    row = staff.locator("#result_list tbody tr", has_text="Budi")
    expect(row).to_have_count(1)
    row.locator("input.action-select").check()
    staff.select_option("select[name=action]", "approve")
    staff.click("button[name=index]")
    expect(staff.locator(".messagelist .success")).to_contain_text("1 comment marked approved")
    staff.screenshot(path=str(SCREENSHOTS / "comments-moderated.png"))

    # The reader's next visit shows the reply nested under Ann's comment, at its own anchor
    # (from the home page: a link to the same page with only a new #fragment would not reload it).
    reader.goto("/")
    expect(reader.get_by_role("link", name="2 comments")).to_have_attribute("href", f"{post.permalink}#comments")
    reader.goto(f"{post.permalink}#comment-{reply.source_id}")
    nested = reader.locator(f"li:has(> article#comment-7) > ol.comment-children article#comment-{reply.source_id}")
    expect(nested).to_contain_text("Agreed, Ann.")
    expect(nested).to_contain_text("Stay strong.")
    expect(reader.locator("#comments-title")).to_have_text("2 comments")
    assert reader.evaluate("location.hash") == f"#comment-{reply.source_id}"
    reader.screenshot(path=str(SCREENSHOTS / "comments-thread.png"), full_page=True)
    assert dialogs == []
    assert "<script" not in nested.inner_html()

    staff_context.close()
    reader_context.close()
