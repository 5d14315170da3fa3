"""The link report in the admin: each run's totals, every post with something broken and a link to edit it."""

import contextlib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from blog.models import LinkCheck

pytestmark = pytest.mark.django_db


def run_check():
    with contextlib.suppress(CommandError):  # exit status 1: something is broken
        call_command("check_links", verbosity=0)
    return LinkCheck.objects.latest()


def test_the_report_page_lists_each_broken_post_with_a_link_to_edit_it(admin_client, make_post):
    fine = make_post(title="Fine", slug="fine", permalink="/fine/")
    broken = make_post(
        title="Has a dead link",
        slug="dead",
        permalink="/dead/",
        guid="http://old.example/?p=1",
        body="[gone](http://old.example/never-imported/)",
    )
    report = run_check()

    page = admin_client.get(reverse("admin:blog_linkcheck_change", args=[report.pk])).content.decode()
    assert f'<a href="{reverse("admin:blog_post_change", args=[broken.pk])}">Has a dead link</a>' in page
    assert "link: <code>http://old.example/never-imported/</code>: nothing on this site has this address" in page
    assert (
        "Fine" not in page.split('id="content"')[1] or fine.title not in page.split("posts with something broken")[-1]
    )
    assert "<th>links_broken</th><td>1</td>" in page


def test_the_list_of_runs_has_a_fixed_number_of_queries(admin_client, make_post, django_assert_num_queries):
    make_post(slug="x", permalink="/x/")
    run_check()
    url = reverse("admin:blog_linkcheck_changelist")
    admin_client.get(url)  # session and permissions warmed
    with django_assert_num_queries(5):
        page = admin_client.get(url)
    assert page.content.decode().count('class="field-checked_posts"') == 1
    for _ in range(5):
        run_check()
    with django_assert_num_queries(5):
        page = admin_client.get(url)
    assert page.content.decode().count('class="field-checked_posts"') == 6


def test_check_now_queues_a_check_for_the_worker(admin_client, settings, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    url = reverse("admin:blog_linkcheck_check")
    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url, follow=True)
    assert "Link check queued" in response.content.decode()
    assert list(DBTaskResult.objects.values_list("task_path", flat=True)) == ["blog.tasks.check_links_task"]


def test_the_worker_task_stores_a_report(make_post):
    from blog.tasks import check_links_task

    make_post(slug="x", permalink="/x/", body="[x](/nowhere/)")
    check_links_task.call()
    assert LinkCheck.objects.get().summary["links_broken"] == 1
