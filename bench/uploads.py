"""Time the editor's image upload processing (blog/uploads.py) on camera-sized images.

Run: .venv/bin/python bench/uploads.py
Prints, per image, the upload size, the stored size and dimensions, and the median time of
decode + orient + scale to UPLOAD_MAX_DIMENSION + re-encode + store, over a few runs.
"""

import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="kabar-bench-uploads-")

import django

django.setup()

from PIL import Image  # noqa: E402

from blog.uploads import store_upload  # noqa: E402


def camera_image(image_format: str, size: tuple[int, int]) -> bytes:
    """Return a noisy image (compresses like a photo) in `image_format`."""
    image = Image.effect_noise(size, 60).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    output = io.BytesIO()
    image.save(output, image_format, exif=exif, **({"quality": 90} if image_format == "JPEG" else {}))
    return output.getvalue()


def main() -> None:
    runs = 5
    cases = [("JPEG", (4000, 3000)), ("JPEG", (1600, 1200)), ("PNG", (2000, 1500)), ("WEBP", (3000, 2000))]
    print(f"{'input':<22}{'bytes in':>12}{'bytes out':>12}{'stored':>12}{'median ms':>11}")
    for image_format, size in cases:
        content = camera_image(image_format, size)
        timings = []
        for _run in range(runs):
            # The same image is written once, later runs skip only the write: the work is the re-encode.
            start = time.perf_counter()
            stored = store_upload(content=content, filename=f"bench.{image_format.lower()}")
            timings.append((time.perf_counter() - start) * 1000)
        label = f"{image_format} {size[0]}x{size[1]}"
        print(
            f"{label:<22}{len(content):>12,}{stored.size:>12,}{f'{stored.width}x{stored.height}':>12}"
            f"{statistics.median(timings):>11.0f}"
        )


if __name__ == "__main__":
    main()
