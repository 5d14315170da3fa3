"""Print posts/s for render_post() next to plain markdown-it-py on the same bodies, in one run.

Run: python bench/render_bench.py [--rounds 7] [--seconds 0.5]

Both renderers run in alternating rounds pinned to one CPU core and are timed in CPU time of
this process (time.process_time), best round kept, so that other processes on a shared machine
disturb the figures as little as possible.
"""

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from markdown_it import MarkdownIt  # noqa: E402

from blog.rendering import render_post  # noqa: E402

SAMPLE = next((REPO / "samples" / "posts").glob("*.md"))


def _body(path: Path) -> str:
    """Return the body of an exported post: everything after the front matter."""
    return path.read_text(encoding="utf-8").split("---\n", 2)[2]


def _rate(*, render, body: str, seconds: float) -> float:
    """Return how many times per CPU second `render(body)` ran during about `seconds` of CPU time."""
    count, started = 0, time.process_time()
    while (elapsed := time.process_time() - started) < seconds:
        render(body)
        count += 1
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per renderer and body")
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one round")
    options = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    plain = MarkdownIt("commonmark")
    sample = _body(SAMPLE)
    bodies = {"sample": sample, "sample x10": "\n\n".join([sample] * 10)}
    print(
        f"{'body':<11} {'chars':>7} {'kabar posts/s':>14} {'markdown-it posts/s':>20} {'kabar time / markdown-it':>25}"
    )
    for name, body in bodies.items():
        render_post(body), plain.render(body)  # warm caches (lexers, parsers) outside the timing
        kabar = baseline = 0.0
        for _ in range(options.rounds):
            kabar = max(kabar, _rate(render=render_post, body=body, seconds=options.seconds))
            baseline = max(baseline, _rate(render=plain.render, body=body, seconds=options.seconds))
        print(f"{name:<11} {len(body):>7} {kabar:>14.0f} {baseline:>20.0f} {baseline / kabar:>24.2f}x")


if __name__ == "__main__":
    main()
