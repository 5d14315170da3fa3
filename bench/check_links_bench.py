"""Benchmark check_links: the real-world files and the sample, then N generated posts linking to each other.

Prints, for the sample post and the repository's real-world files, how many old addresses
resolve and how many internal links were rewritten or are broken; then, for N posts shaped like
the sample (default 10,000) with three links to the old site each, the time of the import and of
`check_links` (without --external), and their ratio, measured in the same run.

    python bench/check_links_bench.py [--posts 10000]
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from import_bench import write_posts  # noqa: E402


def real_world_files() -> list[Path]:
    """Return the sample and the real-world corpus files the tests use (tests/corpus, else ../shared/corpus)."""
    from tests.conftest import CORPUS, SAMPLE_POSTS

    corpus = REPO / "tests" / "corpus" / "posts"
    folder = corpus if corpus.is_dir() else CORPUS
    # ctron/dentrassi.de is CC BY-NC-SA and being removed from the corpus: left out here too.
    return [SAMPLE_POSTS, *(path for path in sorted(folder.glob("*.md")) if not path.name.startswith("ctron__"))]


def add_links(folder: Path, count: int) -> None:
    """Append to each generated post three links to the old site: by ?p=, by old permalink, and one to nothing."""
    files = sorted(folder.rglob("*.md"))
    permalinks = {}
    for path in files:
        head = path.read_text(encoding="utf-8").split("\n---\n", 1)[0]
        number = int(re.search(r"^id: (\d+)$", head, re.MULTILINE).group(1))
        permalinks[number] = re.search(r"^permalink: (\S+)$", head, re.MULTILINE).group(1)
    for path in files:
        text = path.read_text(encoding="utf-8")
        number = int(re.search(r"^id: (\d+)$", text, re.MULTILINE).group(1))
        by_id = number % count + 1
        by_path = (number * 7) % count + 1
        text += (
            f"\n\nSee also [the next one](http://localhost/wordpress/?p={by_id}), "
            f"[an older one](https://www.localhost/wordpress{permalinks[by_path]}) "
            f"and [one never exported](http://localhost/wordpress/?p={count + number}).\n"
        )
        path.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000, help="How many posts to generate (default 10000).")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kabar-links-bench-"))
    try:
        os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
        os.environ["MEDIA_ROOT"] = str(work / "media")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from blog.importing import import_paths
        from blog.links.checking import check_links
        from blog.models import Post

        call_command("migrate", verbosity=0)
        files = real_world_files()
        imported = import_paths(files)
        assert not imported.failed, imported.failures
        report = check_links()
        totals = report.totals()
        print(f"real-world files: {len(files)} files, {totals['posts']} public posts")
        print(f"{report.addresses_ok} of {report.addresses} old addresses resolve")
        print(f"internal links: rewritten {totals['links_rewritten']}, broken {totals['links_broken']}", flush=True)

        Post.objects.all().delete()
        connection.close()
        write_posts(work / "site", args.posts)
        add_links(work / "site", args.posts)
        started = time.perf_counter()
        result = import_paths([work / "site"])
        import_seconds = time.perf_counter() - started
        assert result.created == args.posts and not result.failed, result.summary()
        print(f"{args.posts} generated posts, 3 links to the old site each:")
        print(f"  import: {import_seconds:.1f} s", flush=True)
        started = time.perf_counter()
        report = check_links()
        check_seconds = time.perf_counter() - started
        totals = report.totals()
        print(
            f"  check_links: {check_seconds:.1f} s for {totals['posts']} posts, "
            f"{report.addresses} old addresses ({report.addresses_ok} resolve), "
            f"internal links rewritten {totals['links_rewritten']}, broken {totals['links_broken']}"
        )
        print(f"  ratio check_links / import of the same posts: {check_seconds / import_seconds:.2f}")
        target = 30 * args.posts / 10_000
        met = check_seconds < target
        print(f"{'met' if met else 'MISSED'}: check_links under {target:.0f} s")
        return 0 if met else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
