"""Link integrity: links inside posts that point at the old site, and the report that checks every link.

`hosts`: which hosts were the old site; `rewriting`: point a rendered body's links at the current
addresses of what they name; `checking`: the `check_links` report; `external`: checking links to
other sites with the image cache's safe fetcher.
"""
