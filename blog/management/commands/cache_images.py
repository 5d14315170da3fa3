"""Copy the remote images posts show into Kabar's media storage."""

from django.core.management.base import BaseCommand, CommandError

from blog.images.caching import cache_images
from blog.management.posts import posts_with_ids


class Command(BaseCommand):
    help = "Fetch, check and store the remote images of posts, then point the posts at the local files."

    def add_arguments(self, parser):
        parser.add_argument(
            "--post", dest="post_ids", type=int, nargs="+", action="extend", metavar="ID", help="Only these post ids."
        )
        parser.add_argument("--all", action="store_true", help="All posts (and images queued by the admin).")
        parser.add_argument("--retry-failed", action="store_true", help="Fetch failed and refused images again.")
        parser.add_argument(
            "--refresh", action="store_true", help="Ask again for cached images (conditional: 304 keeps them)."
        )
        parser.add_argument("--concurrency", type=int, default=None, help="Downloads at once (default 8).")
        parser.add_argument("--dry-run", action="store_true", help="Only report what would be fetched.")

    def handle(self, *args, **options):
        post_ids, concurrency = options["post_ids"], options["concurrency"]
        dry_run, verbosity = options["dry_run"], options["verbosity"]
        if bool(post_ids) == options["all"]:
            raise CommandError("give either --post ID … or --all")
        if concurrency is not None and concurrency < 1:
            raise CommandError(f"--concurrency must be at least 1, not {concurrency}")
        posts = posts_with_ids(post_ids)
        bar = None

        def progress(done, total):
            nonlocal bar
            if bar is None:
                from tqdm import tqdm

                bar = tqdm(total=total, unit="image", file=self.stdout, leave=False)
            bar.update(1)

        show_bar = verbosity > 0 and not dry_run and getattr(self.stdout, "isatty", lambda: False)()
        try:
            result = cache_images(
                posts=posts,
                retry_failed=options["retry_failed"],
                refresh=options["refresh"],
                concurrency=concurrency,
                dry_run=dry_run,
                progress=progress if show_bar else None,
            )
        finally:
            if bar is not None:
                bar.close()
        self._report(result, dry_run=dry_run, verbosity=verbosity)
        if not result.ok:
            raise CommandError(f"{len(result.failed)} failed, {len(result.refused)} refused", returncode=1)

    def _report(self, result, *, dry_run, verbosity):
        if dry_run:
            for url in result.to_fetch if verbosity > 1 else []:
                self.stdout.write(f"would fetch {url}")
            self.stdout.write(
                f"Dry run: {len(result.to_fetch)} to fetch, {len(result.already_cached)} already cached, "
                f"{len(result.skipped)} failed earlier (not retried)."
            )
            return
        if verbosity > 1:
            for url in result.cached:
                self.stdout.write(f"cached {url}")
            for url, reason in result.skipped:
                self.stdout.write(f"skipped {url}: {reason}")
        for url, reason in result.failed:
            self.stderr.write(f"failed {url}: {reason}")
        for url, reason in result.refused:
            self.stderr.write(f"refused {url}: {reason}")
        summary = (
            f"{len(result.cached)} cached, {len(result.already_cached)} already cached, "
            f"{len(result.failed)} failed, {len(result.refused)} refused"
        )
        if result.skipped:
            summary += f", {len(result.skipped)} failed earlier (use --retry-failed)"
        summary += f"; {result.posts_rerendered} posts re-rendered."
        if verbosity > 0:
            self.stdout.write(self.style.SUCCESS(summary) if result.ok else self.style.WARNING(summary))
