"""Benchmark import_posts: N synthetic posts shaped like the sample, into a fresh SQLite database.

Prints posts/s for the import, for a re-import (every file unchanged) and, in the same run,
for a reference loop that only parses front matter (python-frontmatter) and renders the body
(markdown-it-py + nh3); then the ratio import/reference and the peak memory.

    python bench/import_bench.py [--posts 10000] [--keep]
"""

import argparse
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = next((REPO / "samples" / "posts").glob("*.md"))
_VOCABULARY = (
    "microservices arsitektur layanan mikro aplikasi data python django kabar blog server cloud "
    "docker kubernetes api web linux android desain teknologi bisnis startup keamanan jaringan "
    "database cache antrian pesan tutorial panduan belajar cepat mudah lengkap terbaru 2048 ✨ café “kutip”"
)
WORDS = _VOCABULARY.split()


def sample_body() -> str:
    text = SAMPLE.read_text(encoding="utf-8")
    return text.split("\n---\n", 1)[1]


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def write_posts(folder: Path, count: int, *, seed: int = 2022) -> None:
    """Write `count` posts shaped like the sample into `folder/_posts`."""
    rng = random.Random(seed)
    body = sample_body()
    posts = folder / "_posts"
    posts.mkdir(parents=True)
    authors = [f"author{n}" for n in range(20)]
    categories = [f"Category {n}" for n in range(50)]
    tags = [f"tag-{n}" for n in range(300)]
    start = datetime(2005, 1, 1, tzinfo=UTC)
    for n in range(1, count + 1):
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9))).capitalize()
        slug = f"post-{n}-" + "-".join(rng.choice(WORDS[:40]) for _ in range(3))
        offset = timezone(timedelta(hours=rng.choice([-5, 0, 1, 7, 8])))
        date = (start + timedelta(minutes=rng.randint(0, 20 * 365 * 24 * 60))).astimezone(offset)
        permalink = f"/index.php/{date:%Y/%m/%d}/{slug}/"
        lines = [
            "---",
            f"id: {n}",
            f"title: {quote(title)}",
            f"date: '{date.isoformat()}'",
            f"author: {rng.choice(authors)}",
            "layout: post",
            f"guid: 'http://localhost/wordpress/?p={n}'",
            f"permalink: {permalink}",
            "blogger_blog:",
            "    - webidevloper.blogspot.com",
            "blogger_author:",
            "    - IDEV.My.ID",
            "categories:",
            *(f"    - {quote(name)}" for name in rng.sample(categories, rng.randint(1, 3))),
            "tags:",
            *(f"    - {name}" for name in rng.sample(tags, rng.randint(0, 6))),
            "---",
        ]
        paragraph = f"\nPost {n}: {title}.\n"
        (posts / f"{date:%Y-%m-%d}-{slug}.md").write_text("\n".join(lines) + "\n" + paragraph + body, encoding="utf-8")


def reference_loop(folder: Path) -> tuple[float, float]:
    """Return posts/s (wall clock, CPU) of python-frontmatter parsing and markdown-it-py + nh3 rendering."""
    import frontmatter as python_frontmatter
    import nh3
    from markdown_it import MarkdownIt

    markdown = MarkdownIt("commonmark")
    files = sorted(folder.rglob("*.md"))
    started, cpu = time.perf_counter(), time.process_time()
    for path in files:
        post = python_frontmatter.load(path)
        nh3.clean(markdown.render(post.content))
    return len(files) / (time.perf_counter() - started), len(files) / (time.process_time() - cpu)


def timed(function, *args):
    """Return the function's result and the CPU seconds this process and its children spent in it."""

    def cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    before = cpu()
    result = function(*args)
    return result, cpu() - before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000, help="How many posts to generate (default 10000).")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder and print its path.")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kabar-bench-"))
    try:
        os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
        os.environ["MEDIA_ROOT"] = str(work / "media")
        os.environ["CACHE_DIR"] = str(work / "cache")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        sys.path.insert(0, str(REPO))
        import django

        django.setup()
        from django.core.management import call_command

        from blog.importing import import_paths
        from blog.models import Post

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        write_posts(work / "site", args.posts)
        print(f"generated {args.posts} posts in {time.perf_counter() - started:.1f} s")

        first, first_cpu = timed(import_paths, [work / "site"])
        assert first.created == args.posts and not first.failed, first.summary()
        assert Post.objects.count() == args.posts
        print(
            f"import:     {first.summary()}; CPU {first_cpu:.1f} s in all processes "
            f"({args.posts / first_cpu:.0f} posts per CPU-second)"
        )
        second, second_cpu = timed(import_paths, [work / "site"])
        assert second.unchanged == args.posts, second.summary()
        print(f"re-import:  {second.summary()}; CPU {second_cpu:.1f} s")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # The renderer's worker processes (the largest of them; each holds one batch at most).
        worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        reference, reference_cpu = reference_loop(work / "site")
        print(
            f"reference:  {reference:.0f} posts/s, CPU {reference_cpu:.0f} posts/s "
            "(python-frontmatter + markdown-it-py + nh3)"
        )
        # Throughput is posts per wall-clock second: the import renders on every core, the reference
        # loop on one. Per CPU-second (all processes) shows what the parallelism costs.
        ratio, ratio_cpu = first.rate / reference, (args.posts / first_cpu) / reference_cpu
        print(
            f"ratio:      import throughput {ratio:.2f} of the reference (target ≥ 0.5); per CPU-second {ratio_cpu:.2f}"
        )
        print(
            f"peak memory during import and re-import: {peak_mb:.0f} MB in the importing process "
            f"(target < 300 MB), {worker_mb:.0f} MB in each render worker"
        )
        # Ratios measured in this run, so that a slower or busier machine does not fail them.
        reimport_share = second.seconds / first.seconds
        print(f"re-import:  {reimport_share:.1%} of the import's time (target ≤ 5%)")
        targets = [
            ("import throughput ≥ half the reference", ratio >= 0.5),
            ("re-import ≤ 5% of the import's time", reimport_share <= 0.05),
            ("peak memory < 300 MB", peak_mb < 300),
        ]
        for name, met in targets:
            print(f"{'met' if met else 'MISSED'}: {name}")
        return 0 if all(met for _name, met in targets) else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
