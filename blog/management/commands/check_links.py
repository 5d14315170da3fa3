"""Check every link, image and old address of the public posts; exit 1 when anything is broken."""

import csv
import json

from django.core.management.base import BaseCommand, CommandError

from blog.links.checking import IMAGE_STATES, LINK_STATES, check_links, save_report
from blog.management.posts import posts_with_ids

FORMATS = ("text", "json", "csv")


class Command(BaseCommand):
    help = (
        "Report, per post and in total: internal links that resolve, were rewritten or are broken; images "
        "cached, remote, failed or missing; old addresses that do not answer 200 or one 301 to 200; with "
        "--external, links to other sites. Exit status 1 when anything is broken."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--post", dest="post_ids", type=int, nargs="+", action="extend", metavar="ID", help="Only these post ids."
        )
        parser.add_argument(
            "--external", action="store_true", help="Also check links to other sites over the network (off by default)."
        )
        parser.add_argument("--concurrency", type=int, default=None, help="External checks at once (default 8).")
        parser.add_argument("--per-host", type=int, default=None, help="External checks at once per host (default 4).")
        parser.add_argument(
            "--format", choices=FORMATS, default="text", help="text (default), json or csv (one row per problem)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and print, but do not store the report for the admin page."
        )

    def handle(self, *args, **options):
        post_ids, verbosity, output = options["post_ids"], options["verbosity"], options["format"]
        for name in ("concurrency", "per_host"):
            if options[name] is not None and options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1, not {options[name]}")
        posts = posts_with_ids(post_ids)
        show_bar = verbosity > 0 and getattr(self.stderr, "isatty", lambda: False)()

        def progress(chunks):
            from tqdm import tqdm

            return tqdm(chunks, unit="500 posts", file=self.stderr, leave=False)

        report = check_links(
            posts=posts,
            external=options["external"],
            concurrency=options["concurrency"],
            per_host=options["per_host"],
            progress=progress if show_bar else None,
        )
        if not options["dry_run"]:
            save_report(report)
        if output == "json":
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
        elif output == "csv":
            self._csv(report)
        else:
            self._text(report, verbosity=verbosity)
        if report.broken:
            raise CommandError(f"{report.totals()['posts_broken']} posts have broken links", returncode=1)

    def _csv(self, report):
        writer = csv.writer(self.stdout, lineterminator="\n")
        writer.writerow(["post_id", "permalink", "title", "kind", "url", "reason"])
        for post in report.posts:
            for kind, url, reason in post.problems():
                writer.writerow([post.id, post.permalink, post.title, kind, url, reason])

    def _text(self, report, *, verbosity):
        for post in report.posts:
            if post.broken or verbosity > 1:
                self.stdout.write(f"{post.permalink} (id {post.id}): {post.title}")
                for kind, url, reason in post.problems():
                    self.stdout.write(f"  broken {kind}: {url}: {reason}")
        totals = report.totals()
        rows = [
            ("internal links", [f"{state} {totals[f'links_{state}']}" for state in LINK_STATES]),
            ("images", [f"{state} {totals[f'images_{state}']}" for state in IMAGE_STATES]),
            ("old addresses", [f"{totals['addresses_ok']} of {totals['addresses']} resolve"]),
            (
                "external links",
                [f"{totals['external_ok']} of {totals['external']} answer"]
                if report.external_checked
                else ["not checked (--external)"],
            ),
        ]
        if verbosity > 0:
            self.stdout.write("")
            for label, cells in rows:
                self.stdout.write(f"{label:<16}" + "".join(f"{cell:<16}" for cell in cells).rstrip())
        summary = (
            f"{totals['posts']} posts checked, {totals['posts_broken']} with something broken in {report.seconds:.1f} s"
        )
        self.stdout.write(self.style.ERROR(summary) if report.broken else self.style.SUCCESS(summary))
