"""The import_posts and export_posts commands, end to end."""

import os
import re
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from blog.models import Post
from tests.conftest import REPO, SAMPLE_POST, SAMPLE_POSTS

pytestmark = pytest.mark.django_db

SUMMARY = re.compile(r"created (\d+), updated (\d+), unchanged (\d+), failed (\d+) in [\d.]+ s \(\d+ posts/s\)")


def test_import_posts_imports_and_summarises():
    stdout, stderr = StringIO(), StringIO()
    call_command("import_posts", str(SAMPLE_POSTS), stdout=stdout, stderr=stderr)
    assert SUMMARY.search(stdout.getvalue()).groups() == ("1", "0", "0", "0")
    assert stderr.getvalue() == ""
    assert Post.objects.get().source_id == 161
    assert "\r" not in stdout.getvalue()  # no progress bar when stdout is not a terminal


def test_import_posts_dry_run_writes_nothing():
    stdout = StringIO()
    call_command("import_posts", str(SAMPLE_POST), "--dry-run", stdout=stdout)
    assert "dry run, nothing written: would have created 1," in stdout.getvalue()
    assert Post.objects.count() == 0


def test_import_posts_reports_each_bad_file_and_fails(tmp_path):
    bad = tmp_path / "2020-01-01-bad.md"
    bad.write_text("---\ndate: '2019-13-01'\n---\n")
    stdout, stderr = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 of 2 files failed to import") as failure:
        call_command("import_posts", str(bad), str(SAMPLE_POST), stdout=stdout, stderr=stderr)
    assert failure.value.returncode == 1
    assert stderr.getvalue() == f"{bad}: date '2019-13-01' is not a valid date\n"
    assert SUMMARY.search(stdout.getvalue()).groups() == ("1", "0", "0", "1")
    assert Post.objects.count() == 1


def test_import_posts_exit_status_without_traceback(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "MEDIA_ROOT": str(tmp_path)}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    bad = tmp_path / "notes.md"
    bad.write_text("no front matter here\n")
    run = subprocess.run(
        [sys.executable, "manage.py", "import_posts", str(bad), str(SAMPLE_POST)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert f"{bad}: has no front matter (it must start with a '---' line)" in run.stderr
    assert "Traceback" not in run.stderr
    assert "created 1, updated 0, unchanged 0, failed 1" in run.stdout


def test_export_posts_writes_files_and_summarises(tmp_path):
    call_command("import_posts", str(SAMPLE_POSTS), stdout=StringIO())
    stdout = StringIO()
    call_command("export_posts", str(tmp_path / "out"), "--since", "2022-10-29", stdout=stdout)
    assert "exported 1 posts: written 1, unchanged 0" in stdout.getvalue()
    assert (tmp_path / "out" / "_posts" / SAMPLE_POST.name).read_bytes() == SAMPLE_POST.read_bytes()
    stdout = StringIO()
    call_command("export_posts", str(tmp_path / "later"), "--since", "2022-10-30", stdout=stdout)
    assert "exported 0 posts" in stdout.getvalue()


def test_export_posts_refuses_a_bad_since_date(tmp_path):
    with pytest.raises(CommandError, match="--since '2022-02-30' is not a valid date"):
        call_command("export_posts", str(tmp_path), "--since", "2022-02-30", stdout=StringIO())


def test_import_posts_names_each_hostile_file_in_one_line_and_imports_the_rest(tmp_path):
    """A YAML alias bomb, a recursive alias and a zip of too many members; the sample post still imports."""
    import zipfile

    from django.test import override_settings

    bomb = tmp_path / "2020-01-01-bomb.md"
    levels = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 10)]
    bomb.write_text("---\n" + "\n".join(levels) + "\n---\n")
    loop = tmp_path / "2020-01-01-loop.md"
    loop.write_text("---\nloop: &a [*a]\n---\n")
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for n in range(3):
            zipped.writestr(f"2020-01-0{n + 1}-p.md", "---\ntitle: p\n---\n")
    stdout, stderr = StringIO(), StringIO()
    with override_settings(IMPORT_MAX_ARCHIVE_FILES=2), pytest.raises(CommandError) as failure:
        call_command("import_posts", str(bomb), str(loop), str(archive), str(SAMPLE_POST), stdout=stdout, stderr=stderr)
    assert failure.value.returncode == 1
    assert stderr.getvalue().splitlines() == [
        f"{bomb}: front matter has more than 100,000 values once its YAML aliases are expanded",
        f"{loop}: front matter has a YAML alias inside what it points at (line 2)",
        f"{archive}: has 3 members, more than the 2 accepted (IMPORT_MAX_ARCHIVE_FILES); nothing of it was imported",
    ]
    assert SUMMARY.search(stdout.getvalue()).groups() == ("1", "0", "0", "3")
    assert Post.objects.count() == 1
