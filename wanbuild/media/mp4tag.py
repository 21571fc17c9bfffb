"""The one byte of an MP4 that says which FFmpeg wrote it, held still.

FFmpeg's MP4 muxer writes its own version into every file, as the iTunes-style `©too`
("encoding tool") tag under moov/udta/meta/ilst: `Lavf62.12.102` from PyAV 18.1.0 (FFmpeg
8.1.2), `Lavf62.12.103` from 18.1.1 (FFmpeg 8.1.3). The pictures are the same bits; only that
tag moved, and with it the sha256 of every fitted clip and so every dataset fingerprint: a
retrain for an upgrade of a patch release. FFmpeg's only switch for it (`fflags +bitexact`)
drops the tag, which would move every fingerprint once instead.

So the tag is rewritten after muxing to the one the first fitted datasets carry. What really
made the bytes is recorded in the build manifest (`built_with`), not in the clip.
"""

from __future__ import annotations

import struct
from pathlib import Path

# What PyAV 18.1.0 wrote into every clip wanbuild fitted or generated before this module.
MUXER_TAG = b"Lavf62.12.102"
_PATH = (b"moov", b"udta", b"meta", b"ilst", b"\xa9too", b"data")
_FULL_BOXES = {b"meta"}  # a version and flags before its children


def _boxes(buf: bytes, start: int, end: int) -> list[tuple[bytes, int, int, int]]:
    """(type, start, header size, end) of each box between start and end."""
    found = []
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", buf[at : at + 8])
        header = 8
        if size == 1:
            if at + 16 > end:
                break
            size = struct.unpack(">Q", buf[at + 8 : at + 16])[0]
            header = 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            break
        found.append((kind, at, header, at + size))
        at += size
    return found


def pin_muxer_tag(path: Path) -> bool:
    """Rewrite the clip's encoding-tool tag to MUXER_TAG; True when the file changed. A clip
    without the tag, or whose moov is not its last box (a size change would move the media
    the chunk offsets point at), is left as it is."""
    buf = path.read_bytes()
    chain: list[tuple[bytes, int, int, int]] = []
    start, end = 0, len(buf)
    for want in _PATH:
        match = [b for b in _boxes(buf, start, end) if b[0] == want]
        if not match:
            return False
        box = match[0]
        if not chain and box[3] != len(buf):
            return False
        chain.append(box)
        start = box[1] + box[2] + (4 if want in _FULL_BOXES else 0)
        end = box[3]
    data = chain[-1]
    value_at = data[1] + data[2] + 8  # the data box's type indicator and locale come first
    if value_at > data[3] or buf[value_at : data[3]] == MUXER_TAG:
        return False
    grow = len(MUXER_TAG) - (data[3] - value_at)
    out = bytearray(buf[:value_at] + MUXER_TAG + buf[data[3] :])
    for _, at, header, box_end in chain:
        size = box_end - at + grow
        if header == 16:
            out[at + 8 : at + 16] = struct.pack(">Q", size)
        else:
            out[at : at + 4] = struct.pack(">I", size)
    path.write_bytes(bytes(out))
    return True
