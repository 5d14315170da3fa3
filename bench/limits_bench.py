"""Measure what the security limits bound (issue 17): hostile inputs, before and after their limit.

    .venv/bin/python bench/limits_bench.py                # all figures
    .venv/bin/python bench/limits_bench.py --side 4000    # smaller PNGs for the decode figure

Prints, each measured in this run:
- parsing front matter with a YAML alias bomb of 6 and 9 levels (refused by the node budget);
- rendering 40,000 nested <div>s (440 KB) next to the sample post;
- the peak memory (VmHWM) of a process that checks 8 PNGs of SIDE x SIDE pixels (a few hundred
  KB each) in 8 threads, with the decode budget (IMAGE_DECODE_MAX_PIXELS, default) and without
  it (a budget larger than all of them), each in a fresh process.
"""

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

DECODE_CHILD = """
import io, os, sys, threading
sys.path.insert(0, {repo!r})
import django
django.setup()
from PIL import Image
from blog.images.processing import process_image, decode_budget
side = {side}
buffer = io.BytesIO()
Image.new("RGB", (side, side), (200, 40, 40)).save(buffer, "PNG")
content = buffer.getvalue()
threads = [threading.Thread(target=process_image, args=(content,)) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(len(content), peak_kb, decode_budget.peak)
"""


def _alias_bomb(levels: int) -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, levels + 1)]
    return "---\ntitle: bomb\n" + "\n".join(lines) + "\n---\nBody\n"


def _timed(function, *args, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function(*args)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=7000, help="width and height of the PNGs (default 7000)")
    options = parser.parse_args()

    import django

    django.setup()
    from blog import frontmatter, rendering

    def parse(text):
        with contextlib.suppress(frontmatter.FrontMatterError):
            frontmatter.parse_text(text)

    for levels in (6, 9):
        text = _alias_bomb(levels)
        print(
            f"YAML alias bomb, {levels} levels ({len(text)} bytes, 9^{levels} values): refused in "
            f"{_timed(parse, text) * 1000:.2f} ms"
        )

    sample = next((REPO / "samples" / "posts").glob("*.md")).read_text(encoding="utf-8").split("---", 2)[2]
    nested = "<div>" * 40_000 + "deep" + "</div>" * 40_000
    sample_time, nested_time = _timed(rendering.render_post, sample), _timed(rendering.render_post, nested)
    print(
        f"render: sample post ({len(sample):,} chars) {sample_time * 1000:.1f} ms; "
        f"40,000 nested <div>s ({len(nested):,} chars) {nested_time * 1000:.1f} ms"
    )

    for label, budget in (("with the decode budget (default)", None), ("without it", str(10**12))):
        env = {**os.environ}
        env.pop("IMAGE_DECODE_MAX_PIXELS", None)
        if budget:
            env["IMAGE_DECODE_MAX_PIXELS"] = budget
        started = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-c", DECODE_CHILD.format(repo=str(REPO), side=options.side)],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        size, peak_kb, peak_pixels = (int(value) for value in run.stdout.split())
        print(
            f"8 PNGs of {options.side}x{options.side} ({size / 1000:.0f} KB each) in 8 threads, {label}: "
            f"peak memory {peak_kb / 1024:.0f} MB, at most {peak_pixels:,} pixels decoded at once, "
            f"{time.perf_counter() - started:.1f} s"
        )


if __name__ == "__main__":
    main()
