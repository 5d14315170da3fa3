"""Helpers shared by the image cache tests: images made in memory, settings, connection records."""

import io
import sys
import threading

from PIL import Image

# Every socket.connect() in this process, recorded while a test asks (an audit hook, not a mock).
_connections: list[tuple] = []
_recording = threading.Event()


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect" and _recording.is_set():
        _connections.append(args[1])


sys.addaudithook(_audit)


class ConnectionLog:
    """Record the addresses this process connects to inside a `with` block."""

    def __enter__(self):
        _connections.clear()
        _recording.set()
        return self

    def __exit__(self, *exc):
        _recording.clear()

    @property
    def hosts(self) -> list[str]:
        return [address[0] for address in _connections if isinstance(address, tuple)]


def image_bytes(image_format: str, size=(1200, 800), *, color=(200, 40, 40), mode="RGB", **options) -> bytes:
    """Return an image of `size` in `image_format`, made in memory."""
    image = Image.new(mode, size, color)
    # A little structure, so resizing and encoding do real work.
    for x in range(0, size[0], 50):
        for y in range(0, size[1], 50):
            image.putpixel((x, y), (0, 0, 0) if mode == "RGB" else 0)
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def animated_gif(size=(300, 200), frames=3) -> bytes:
    """Return an animated GIF of `frames` frames."""
    images = [Image.new("RGB", size, (60 * n, 100, 200 - 50 * n)) for n in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buffer.getvalue()


def stored_files(media_root) -> list[str]:
    """Return every file under MEDIA_ROOT, relative, sorted."""
    return sorted(str(path.relative_to(media_root)) for path in media_root.rglob("*") if path.is_file())
