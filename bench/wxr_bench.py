"""Benchmark import_posts on a WordPress export (WXR) against the same posts as Markdown files.

Generates N posts shaped like the sample (the generator of import_bench.py), writes them both
as Markdown files and as one WXR file holding the very same posts, then imports each into its
own fresh SQLite database, each in its own process, and prints posts/s, the ratio WXR/Markdown
measured in this run, and each import's peak memory (the importing process, and the largest
render worker).

    python bench/wxr_bench.py [--posts 10000] [--rounds 2] [--keep]
    python bench/wxr_bench.py --posts 21000 --wxr-only --rounds 1   # a WXR file of about 200 MB
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

HEAD = """<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0"
	xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:wp="http://wordpress.org/export/1.2/"
>
<channel>
	<title>Bench</title>
	<link>http://localhost/wordpress</link>
	<wp:wxr_version>1.2</wp:wxr_version>
"""


def cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def write_wxr(site: Path, target: Path) -> int:
    """Write the Markdown posts under `site` as one WXR file; return its size in bytes."""
    from blog import frontmatter

    with target.open("w", encoding="utf-8") as out:
        out.write(HEAD)
        for path in sorted((site / "_posts").glob("*.md")):
            source = frontmatter.parse(path.read_bytes())
            fm = source.front_matter
            fields = frontmatter.read_post(source, path=f"_posts/{path.name}", tz="UTC")
            local = fields.date.strftime("%Y-%m-%d %H:%M:%S")
            gmt = fields.date.astimezone(frontmatter.UTC).strftime("%Y-%m-%d %H:%M:%S")
            terms = [("category", name) for name in fields.categories] + [("post_tag", name) for name in fields.tags]
            out.write(
                "\t<item>\n"
                f"\t\t<title>{cdata(fm['title'])}</title>\n"
                f"\t\t<link>http://localhost{escape(fields.permalink)}</link>\n"
                f"\t\t<dc:creator>{cdata(fm['author'])}</dc:creator>\n"
                f'\t\t<guid isPermaLink="false">{escape(fields.guid)}</guid>\n'
                f"\t\t<content:encoded>{cdata(source.body)}</content:encoded>\n"
                "\t\t<excerpt:encoded><![CDATA[]]></excerpt:encoded>\n"
                f"\t\t<wp:post_id>{fields.source_id}</wp:post_id>\n"
                f"\t\t<wp:post_date>{local}</wp:post_date>\n"
                f"\t\t<wp:post_date_gmt>{gmt}</wp:post_date_gmt>\n"
                f"\t\t<wp:post_name>{cdata(fields.slug)}</wp:post_name>\n"
                "\t\t<wp:status>publish</wp:status>\n"
                "\t\t<wp:post_type>post</wp:post_type>\n"
                + "".join(
                    f'\t\t<category domain="{domain}" nicename="{escape(frontmatter.make_slug(name))}">'
                    f"{cdata(name)}</category>\n"
                    for domain, name in terms
                )
                + "\t</item>\n"
            )
        out.write("</channel>\n</rss>\n")
    return target.stat().st_size


def _cpu() -> float:
    """Return the CPU seconds of this process and its finished children (the render workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def child(path: str) -> int:
    """Import `path` into the database DATABASE_URL names; print what happened as one JSON line."""
    import django

    django.setup()
    from django.core.management import call_command

    from blog.importing import import_paths

    call_command("migrate", verbosity=0)
    before = _cpu()
    result = import_paths([path])
    cpu = _cpu() - before
    print(
        json.dumps(
            {
                "summary": result.summary(),
                "created": result.created,
                "failed": result.failed,
                "seconds": result.seconds,
                "rate": result.rate,
                "cpu": cpu,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            }
        )
    )
    return 0


def run_import(path: Path, database: Path, work: Path) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "MEDIA_ROOT": str(work / "media"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(path)], env=env, cwd=REPO, capture_output=True, text=True
    )
    if output.returncode != 0:
        raise SystemExit(f"import of {path} failed:\n{output.stderr}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000, help="How many posts to generate (default 10000).")
    parser.add_argument("--rounds", type=int, default=2, help="Imports of each kind, alternating (default 2).")
    parser.add_argument(
        "--wxr-only", action="store_true", help="Import only the WXR file (memory on a large export); no ratio."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder and print its path.")
    parser.add_argument("--child", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from import_bench import write_posts

    work = Path(tempfile.mkdtemp(prefix="kabar-wxr-bench-"))
    try:
        started = time.perf_counter()
        write_posts(work / "site", args.posts)
        size = write_wxr(work / "site", work / "export.xml")
        print(
            f"generated {args.posts} posts as Markdown and as a {size / 1e6:.0f} MB WXR file in "
            f"{time.perf_counter() - started:.1f} s"
        )
        # Alternate the two imports, each into a fresh database, and keep each one's best round:
        # other work on the machine slows a round down, never speeds it up.
        runs: dict[str, list[dict]] = {"markdown": [], "wxr": []}
        for number in range(args.rounds):
            for name, path in (("markdown", work / "site"), ("wxr", work / "export.xml")):
                if args.wxr_only and name == "markdown":
                    continue
                result = run_import(path, work / f"{name}-{number}.sqlite3", work)
                assert result["created"] == args.posts and not result["failed"], result["summary"]
                runs[name].append(result)
        best = {name: max(results, key=lambda result: result["rate"]) for name, results in runs.items() if results}
        for name, result in best.items():
            cpu_rates = [args.posts / run["cpu"] for run in runs[name]]
            rates = ", ".join(f"{run['rate']:.0f}" for run in runs[name])
            print(f"{name + ':':10} {result['summary']}")
            print(
                f"{'':10} rounds: {rates} posts/s; "
                f"{max(cpu_rates):.0f} posts per CPU-second (all processes); peak memory "
                f"{max(run['peak_mb'] for run in runs[name]):.0f} MB in the importing process, "
                f"{max(run['worker_mb'] for run in runs[name]):.0f} MB in the largest render worker"
            )
        wxr_peak = max(run["peak_mb"] for run in runs["wxr"])
        if args.wxr_only:
            print(f"{'met' if wxr_peak < 300 else 'MISSED'}: peak memory of the WXR import < 300 MB")
            return 0 if wxr_peak < 300 else 1
        ratio = best["wxr"]["rate"] / best["markdown"]["rate"]
        cpu_ratio = min(run["cpu"] for run in runs["markdown"]) / min(run["cpu"] for run in runs["wxr"])
        print(
            f"ratio:     WXR import {ratio:.2f} times the Markdown import's posts/s (best rounds), "
            f"{cpu_ratio:.2f} per CPU-second"
        )
        targets = [
            ("WXR import at the Markdown import's speed (≥ 0.95)", ratio >= 0.95),
            ("peak memory of the WXR import < 300 MB", wxr_peak < 300),
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
