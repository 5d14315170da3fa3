"""manage.py export_posts: write posts back as files in the WordPress/Jekyll export format."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from blog.exporting import export_posts
from blog.frontmatter import FrontMatterError, parse_date


class Command(BaseCommand):
    help = "Export posts and pages to DIR as _posts/YYYY-MM-DD-slug.md, <slug>.md and _drafts/ files."

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR", help="Folder to write into (created when missing).")
        parser.add_argument("--drafts", action="store_true", help="Also export drafts, into DIR/_drafts/.")
        parser.add_argument(
            "--since", metavar="DATE", help="Only posts dated on or after DATE (YYYY-MM-DD or an ISO 8601 time)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Report what would be written, write nothing.")

    def handle(self, *args, **options):
        since = None
        if options["since"]:
            try:
                since = parse_date(options["since"], key="--since", tz=ZoneInfo(settings.TIME_ZONE))
            except FrontMatterError as exc:
                raise CommandError(str(exc)) from None
            if len(options["since"].strip()) <= 10:
                since = since.date()
        result = export_posts(options["directory"], drafts=options["drafts"], since=since, dry_run=options["dry_run"])
        if options["verbosity"] >= 2:
            for path in result.paths:
                self.stdout.write(str(path))
        if options["verbosity"] >= 1:
            prefix = "dry run, nothing written: " if options["dry_run"] else ""
            self.stdout.write(self.style.SUCCESS(f"{prefix}{result.summary()} into {options['directory']}"))
