"""Remove location and personal metadata from an image file without decoding its pixels.

The stored "original" is what a reader downloads when a post links to the full-size file, so
it must not carry the camera's GPS position, serial numbers, the author's name or comments.
Each format is rewritten losslessly, container block by block: the pixel data is copied
untouched, and only metadata blocks are left out.

- JPEG: APPn segments other than JFIF (APP0), ICC profiles (APP2) and Adobe colour
  information (APP14) are dropped, with COM comments and anything after the first image
  (the extra pictures of an MPO, a polyglot's payload). An EXIF orientation other than
  "upright" is written back as a minimal EXIF block holding that tag alone, so the photo
  still shows the right way up.
- PNG: only the chunks that draw the image (and APNG animation) are kept: no eXIf,
  tEXt/zTXt/iTXt (XMP), tIME.
- GIF: comment extensions and application extensions other than the looping ones
  (NETSCAPE2.0, ANIMEXTS1.0) are dropped, e.g. XMP.
- WebP: EXIF and XMP chunks are dropped and the VP8X flags updated.
- AVIF and anything else: the bytes are kept (Kabar cannot rewrite them losslessly).
"""

import struct

from PIL import Image

ORIENTATION = 0x0112
# JPEG markers with no length field: SOI, EOI, TEM and the restart markers.
_STANDALONE = {0xD8, 0xD9, 0x01, *range(0xD0, 0xD8)}
_SOS, _COM, _APP0, _APP2, _APP14 = 0xDA, 0xFE, 0xE0, 0xE2, 0xEE
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEPT = {
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"cICP",
    b"sBIT", b"pHYs", b"bKGD", b"acTL", b"fcTL", b"fdAT",
}  # fmt: skip
_GIF_LOOP_APPLICATIONS = {b"NETSCAPE2.0", b"ANIMEXTS1.0"}
_WEBP_DROPPED = {b"EXIF", b"XMP "}


class MetadataError(ValueError):
    """The file's structure could not be followed; the caller decides what to store instead."""


def strip_metadata(content: bytes, *, image_format: str, orientation: int = 1) -> bytes:
    """Return `content` without location and personal metadata, pixels untouched."""
    if image_format in ("JPEG", "MPO"):
        return _strip_jpeg(content, orientation=orientation)
    if image_format == "PNG":
        return _strip_png(content)
    if image_format == "GIF":
        return _strip_gif(content)
    if image_format == "WEBP":
        return _strip_webp(content)
    return content


def _orientation_segment(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    payload = b"Exif\x00\x00" + exif.tobytes()
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _strip_jpeg(content: bytes, *, orientation: int) -> bytes:
    if not content.startswith(b"\xff\xd8"):
        raise MetadataError("not a JPEG file")
    out = [b"\xff\xd8"]
    if orientation != 1:
        out.append(_orientation_segment(orientation))
    position = 2
    while True:
        if position + 4 > len(content) or content[position] != 0xFF:
            raise MetadataError(f"broken JPEG segment at byte {position}")
        marker = content[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker in _STANDALONE:
            out.append(content[position : position + 2])
            position += 2
            continue
        (length,) = struct.unpack(">H", content[position + 2 : position + 4])
        end = position + 2 + length
        if length < 2 or end > len(content):
            raise MetadataError(f"broken JPEG segment at byte {position}")
        if marker == _SOS:
            # The scans run to the first EOI (0xFF 0xD9 cannot occur inside entropy-coded data):
            # whatever follows it is not this picture.
            image_end = content.find(b"\xff\xd9", end)
            if image_end < 0:
                raise MetadataError("the JPEG data has no end marker")
            out.append(content[position : image_end + 2])
            return b"".join(out)
        is_metadata = marker == _COM or (0xE0 <= marker <= 0xEF and marker not in (_APP0, _APP2, _APP14))
        is_mpf = marker == _APP2 and content[position + 4 : position + 8] == b"MPF\x00"  # points at dropped pictures
        if not is_metadata and not is_mpf:
            out.append(content[position:end])
        position = end


def _strip_png(content: bytes) -> bytes:
    if not content.startswith(_PNG_SIGNATURE):
        raise MetadataError("not a PNG file")
    out = [_PNG_SIGNATURE]
    position = len(_PNG_SIGNATURE)
    while position < len(content):
        if position + 12 > len(content):
            raise MetadataError(f"broken PNG chunk at byte {position}")
        (length,) = struct.unpack(">I", content[position : position + 4])
        kind = content[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(content):
            raise MetadataError(f"broken PNG chunk at byte {position}")
        if kind in _PNG_KEPT:
            out.append(content[position:end])
        position = end
        if kind == b"IEND":
            break
    return b"".join(out)


def _gif_sub_blocks_end(content: bytes, position: int) -> int:
    """Return where the data sub-blocks starting at `position` end (after the zero-length block)."""
    while True:
        if position >= len(content):
            raise MetadataError("the GIF data ends inside a block")
        size = content[position]
        position += 1 + size
        if size == 0:
            return position


def _strip_gif(content: bytes) -> bytes:
    if not content.startswith((b"GIF87a", b"GIF89a")) or len(content) < 13:
        raise MetadataError("not a GIF file")
    flags = content[10]
    position = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    out = [content[:position]]
    while True:
        if position >= len(content):
            raise MetadataError("the GIF data has no trailer")
        introducer = content[position]
        if introducer == 0x3B:  # trailer
            out.append(b"\x3b")
            return b"".join(out)
        if introducer == 0x21:  # extension: label, then sub-blocks
            label = content[position + 1 : position + 2]
            end = _gif_sub_blocks_end(content, position + 2)
            identifier = content[position + 3 : position + 14] if label == b"\xff" else b""
            if label == b"\xfe" or (label == b"\xff" and identifier not in _GIF_LOOP_APPLICATIONS):
                position = end  # a comment, or XMP and other application data
                continue
            out.append(content[position:end])
            position = end
        elif introducer == 0x2C:  # image: descriptor, local colour table, LZW code size, sub-blocks
            if position + 10 > len(content):
                raise MetadataError("the GIF data ends inside an image descriptor")
            local = content[position + 9]
            data = position + 10 + (3 * 2 ** ((local & 7) + 1) if local & 0x80 else 0)
            end = _gif_sub_blocks_end(content, data + 1)
            out.append(content[position:end])
            position = end
        else:
            raise MetadataError(f"unknown GIF block 0x{introducer:02x} at byte {position}")


def _strip_webp(content: bytes) -> bytes:
    if len(content) < 12 or content[:4] != b"RIFF" or content[8:12] != b"WEBP":
        raise MetadataError("not a WebP file")
    chunks = []
    position = 12
    while position + 8 <= len(content):
        kind = content[position : position + 4]
        (size,) = struct.unpack("<I", content[position + 4 : position + 8])
        end = position + 8 + size + (size & 1)
        if end > len(content):
            raise MetadataError(f"broken WebP chunk at byte {position}")
        if kind not in _WEBP_DROPPED:
            chunk = content[position:end]
            if kind == b"VP8X":  # clear the "has EXIF" (0x08) and "has XMP" (0x04) flags
                chunk = chunk[:8] + bytes([chunk[8] & ~0x0C]) + chunk[9:]
            chunks.append(chunk)
        position = end
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body
