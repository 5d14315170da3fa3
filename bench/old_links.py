"""Count the old addresses of the real-world exports that still reach their page on Kabar.

Imports the repository's real-world posts (the corpus, under the names their exporters gave
them, and the sample) into a temporary SQLite database, lists every address the old sites
answered for them, from the files alone: the permalink (and the upper-case spelling browsers
send for a percent-encoded one), the guid's path and query, `/?p=<id>`, Blogger's URLs (with
`?m=1`), `/search/label/X` and `/feeds/posts/default`, the post's comment feed, the year, month and day archives and the
category, tag and author pages, each with its feed. Each address is requested through the
site's real URL conf (Django's test client, the path spelled as the client sent it) and counts
when it answers 200, or one 301 to a page that answers 200. Prints the ones that do not, then

    N of N old addresses resolve (…)

    /work/main/.venv/bin/python bench/old_links.py
"""

import csv
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

REPO = Path(__file__).resolve().parent.parent
SAMPLE_POSTS = REPO / "samples" / "posts"
# Files whose licence does not allow their use here (CC BY-NC-SA), wherever the corpus lives.
EXCLUDED_PREFIXES = ("ctron__",)


def corpus_folder() -> Path | None:
    """Return the corpus's posts folder: in the repository, else ../shared/corpus next to it."""
    candidates = [REPO / "tests" / "corpus" / "posts"]
    candidates += [parent / "shared" / "corpus" / "posts" for parent in REPO.parents]
    return next((path for path in candidates if path.is_dir()), None)


def export_files(target: Path) -> list[Path]:
    """Copy the real-world files into `target` under their exported names; return them."""
    files = [shutil.copy(path, target / path.name) for path in SAMPLE_POSTS.glob("*.md")]
    corpus = corpus_folder()
    if corpus is not None:
        with (corpus.parent / "SOURCES.tsv").open(encoding="utf-8") as sources:
            for row in csv.DictReader(sources, delimiter="\t"):
                source = corpus / row["saved_name"]
                if row["saved_name"].startswith(EXCLUDED_PREFIXES) or not source.is_file():
                    continue
                files.append(shutil.copy(source, target / Path(row["path"]).name))
    return [Path(path) for path in files]


def upper_spelling(path: str) -> str:
    return re.sub(r"%[0-9a-f]{2}", lambda match: match.group(0).upper(), path)


def old_addresses(path: Path) -> list[str]:
    """Return the addresses the old site answered for the post of one exported file."""
    from django.conf import settings

    from blog import frontmatter
    from blog.oldlinks import wordpress_slug

    source = frontmatter.parse(path.read_bytes())
    fields = frontmatter.read_post(source, path=path.name, tz=settings.TIME_ZONE)
    fm = source.front_matter
    if fields.status == frontmatter.DRAFT:
        return []  # the old site did not show it
    addresses = [fields.permalink]
    if upper_spelling(fields.permalink) != fields.permalink:
        addresses.append(upper_spelling(fields.permalink))
    if fields.permalink.endswith("/"):
        addresses.append(fields.permalink + "feed/")  # the post's comment feed
    if fields.source_id is not None:
        addresses.append(f"/?p={fields.source_id}")
    guid = urlsplit(fields.guid)
    if guid.scheme in ("http", "https"):
        addresses.append((guid.path or "/") + (f"?{guid.query}" if guid.query else ""))
    for key in ("blogger_orig_url", "blogger_permalink"):
        if isinstance(fm.get(key), str) and fm[key].strip():
            blogger = urlsplit(fm[key].strip()).path
            addresses += [blogger, f"{blogger}?m=1"]
    if fields.blogger_blog or "blogger_id" in fm:
        addresses.append("/feeds/posts/default")
        addresses += [f"/search/label/{quote(name)}" for name in fields.categories + fields.tags]
    pages = []
    if fields.layout != frontmatter.PAGE_LAYOUT:
        pages += [f"/{fields.date:%Y}/", f"/{fields.date:%Y/%m}/", f"/{fields.date:%Y/%m/%d}/"]
    pages += [f"/category/{wordpress_slug(name)}/" for name in fields.categories]
    pages += [f"/tag/{wordpress_slug(name)}/" for name in fields.tags]
    if fields.author is not None:
        pages.append(f"/author/{wordpress_slug(fields.author.name)}/")
    for page in pages:
        addresses += [page, f"{page}feed/"]
    return list(dict.fromkeys(address for address in addresses if address))


def resolves(client, address: str) -> str:
    """Return '' when `address` answers 200 or one 301 to a 200, else what happened."""
    response = client.get(address, RAW_URI=address)
    if response.status_code == 301:
        location = response["Location"]
        final = client.get(location, RAW_URI=location)
        if final.status_code == 200:
            return ""
        return f"301 to {location}, which answers {final.status_code}"
    return "" if response.status_code == 200 else str(response.status_code)


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="kabar-old-links-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'db.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["MEDIA_ROOT"] = str(folder / "media")
    sys.path.insert(0, str(REPO))
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client

        from blog.importing import import_paths

        logging.getLogger("django.request").setLevel(logging.ERROR)  # the 404s are counted, not logged
        call_command("migrate", verbosity=0)
        exported = folder / "exported"
        exported.mkdir()
        files = export_files(exported)
        result = import_paths([str(path) for path in files])
        print(f"imported {len(files)} files: {result.summary()}")
        for label, reason in result.failures:
            print(f"  {label}: {reason}")

        addresses = list(dict.fromkeys(address for path in files for address in old_addresses(path)))
        client = Client()
        started = time.perf_counter()
        failures = [(address, outcome) for address in addresses if (outcome := resolves(client, address))]
        seconds = time.perf_counter() - started
        for address, outcome in failures:
            print(f"  {address}: {outcome}")
        good = len(addresses) - len(failures)
        print(
            f"{good} of {len(addresses)} old addresses resolve "
            f"({len(files)} files; {seconds * 1000 / len(addresses):.1f} ms per address, page cache included)"
        )
        return 0 if not failures else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
