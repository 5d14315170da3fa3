"""manage.py import_posts: import exported Markdown/HTML files with YAML front matter."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from blog.importing import FAILED, SKIPPED, import_paths


class Command(BaseCommand):
    help = (
        "Import posts from files, folders or .zip archives in the WordPress/Jekyll export format, "
        "and WordPress (WXR) and Blogger export files (.xml)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "paths",
            nargs="+",
            metavar="PATH",
            help="A file, a folder (recursive), a .zip archive, or a WordPress/Blogger export (.xml).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Read and check every file and report, but write nothing."
        )
        parser.add_argument(
            "--scope-to-host",
            action="store_true",
            help=(
                "Treat WordPress ids as unique per blog (the host of each file's guid or wordpress_url): "
                "import a second blog whose ids collide with the first one's as new posts."
            ),
        )

    def handle(self, *paths, **options):
        verbosity = options["verbosity"]
        bar = tqdm(unit=" posts", file=self.stdout, disable=verbosity < 1 or not self.stdout.isatty())

        def progress(label: str, outcome: str) -> None:
            bar.update(1)
            if verbosity >= 2 and outcome == SKIPPED:
                bar.write(f"skipped, not a post (no front matter): {label}", file=self.stdout)
            elif verbosity >= 2 and outcome != FAILED:
                bar.write(f"{outcome}: {label}", file=self.stdout)

        try:
            result = import_paths(
                options["paths"],
                dry_run=options["dry_run"],
                scope_to_host=options["scope_to_host"],
                progress=progress,
            )
        finally:
            bar.close()
        for label, reason in [*result.failures, *result.warnings]:
            self.stderr.write(f"{label}: {reason}")
        if verbosity >= 1:
            prefix = "dry run, nothing written: would have " if options["dry_run"] else ""
            style = self.style.ERROR if result.failed or result.warnings else self.style.SUCCESS
            self.stdout.write(style(prefix + result.summary()))
        if options["traceback"]:
            for label, trace in result.tracebacks:
                self.stderr.write(f"{label}:\n{trace}")
        if result.failed:
            raise CommandError(f"{result.failed} of {result.total} files failed to import", returncode=1)
        if result.warnings:
            raise CommandError(f"{len(result.warnings)} problems with comments (posts imported)", returncode=1)
