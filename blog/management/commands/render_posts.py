"""Re-render stored posts with the current renderer."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from blog.models import Post
from blog.rerendering import rerender_posts


class Command(BaseCommand):
    help = (
        "Re-render the stored HTML of posts (after a renderer upgrade). Without --all or --post, "
        "only posts that have a body but no stored HTML are rendered."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Re-render every post.")
        parser.add_argument(
            "--post", type=int, action="append", default=[], metavar="ID", help="A post's id (repeatable)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; write nothing.")

    def handle(self, *args, **options):
        if options["all"] and options["post"]:
            raise CommandError("Give --all or --post, not both.")
        posts = Post.objects.all()
        if options["post"]:
            posts = posts.filter(pk__in=options["post"])
            missing = set(options["post"]) - set(posts.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"No post with id {', '.join(map(str, sorted(missing)))}.")
        elif not options["all"]:
            posts = posts.filter(body_html="").exclude(body="")
        total = posts.count()
        show_bar = sys.stdout.isatty() and options["verbosity"] >= 1

        def progress(items):
            return tqdm(items, total=total, unit="post", disable=not show_bar)

        started = time.monotonic()
        result = rerender_posts(posts=posts, dry_run=options["dry_run"], progress=progress)
        elapsed = time.monotonic() - started
        verb = "would change" if options["dry_run"] else "changed"
        self.stdout.write(self.style.SUCCESS(f"rendered {result.checked}, {verb} {result.changed} in {elapsed:.1f} s"))
