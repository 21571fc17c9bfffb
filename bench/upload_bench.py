"""Benchmark the client's upload: memory stays flat and throughput near raw reading.

    python bench/upload_bench.py [--mb 300]

Starts `wanbuild emulator serve` on a loopback port, then in separate processes (so each peak
RSS is its own): reads + sha256es the file (the baseline), and uploads it with wanbuild's client
through both upload APIs, at full and at half size; and the ceiling of any server that must
md5 and store what it receives (CEILING below: raw TCP, no HTTP), and read + md5 alone: the
files API reports every file's md5, so no upload can beat hashing its bytes once. Prints MB/s,
the ratio to the baseline, and peak RSS, which must not grow with the file.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHILD = r"""
import hashlib, resource, sys, time
from pathlib import Path
mode, path, url = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
if mode in ("baseline", "md5"):
    start = time.perf_counter()
    with path.open("rb") as f:
        hashlib.file_digest(f, "sha256" if mode == "baseline" else "md5")
elif mode == "ceiling":
    start = time.perf_counter()
    exec(CEILING)
else:
    from wanbuild.remote.client import Client  # imported before the clock starts: bytes/s
    with Client(url, "sk-bench") as c:
        start = time.perf_counter()
        c.upload_file(path, api=mode, progress=lambda done, total: None)
elapsed = time.perf_counter() - start
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
# What no server of this kind can beat on this machine: the file sent over loopback TCP by
# another process (1 MiB sendall()s, as the client does), received into two page-aligned
# buffers, each md5-hashed and written with O_DIRECT by two threads side by side. No HTTP, no
# form parsing, no event loop.
CEILING = r"""
import mmap, os, socket
from concurrent.futures import ThreadPoolExecutor
server = socket.create_server(("127.0.0.1", 0))
sender = os.fork()
if sender == 0:
    with socket.create_connection(server.getsockname()) as s, path.open("rb") as f:
        while chunk := f.read(1 << 20):
            s.sendall(chunk)
    os._exit(0)
conn, _ = server.accept()
out = os.open(path.with_suffix(".ceiling"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT)
md5, bufs, pending, fill = hashlib.md5(), [mmap.mmap(-1, 8 << 20) for _ in range(2)], [], 0
with ThreadPoolExecutor(2) as pool:
    while True:
        got = conn.recv_into(memoryview(bufs[0])[fill:])
        fill += got
        if fill == len(bufs[0]) or (not got and fill):
            for p in pending:
                p.result()
            batch = memoryview(bufs[0])[:fill]
            aligned = batch[: fill - fill % 4096]  # a ragged tail is left unwritten: a ceiling
            pending = [pool.submit(md5.update, batch), pool.submit(os.write, out, aligned)]
            bufs.reverse()
            fill = 0
        if not got:
            break
    for p in pending:
        p.result()
os.close(out)
os.waitpid(sender, 0)
path.with_suffix(".ceiling").unlink()
"""


def measure(mode: str, path: Path, url: str) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", f"CEILING = {CEILING!r}\n{CHILD}", mode, str(path), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


@contextmanager
def emulator_server(state_dir: Path) -> Iterator[str]:
    """`wanbuild emulator serve` on a loopback port; its URL. (tests.emulator_helpers.served
    does the same, but importing it grows this process, and on Linux a child starts with its
    parent's peak RSS: the memory figures below would be the parent's.)"""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wanbuild",
            "emulator",
            "serve",
            "--port",
            "0",
            "--state-dir",
            str(state_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    url = None
    while url is None:
        line = server.stderr.readline()
        m = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", line)
        if m:
            url = m.group(1)
        elif not line:
            raise SystemExit("the emulator did not start")
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        time.sleep(0.1)


def make_file(path: Path, mb: int) -> Path:
    with path.open("wb") as f:
        for _ in range(mb):
            f.write(os.urandom(1 << 20))
    return path


def warm(path: Path) -> None:
    """Page cache warm for every side alike; chunked, as a child inherits the parent's peak
    RSS on Linux."""
    with path.open("rb") as f:
        while f.read(1 << 20):
            pass


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sizes = {"half": args.mb // 2, "full": args.mb}
        files = {name: make_file(root / f"{name}.zip", mb) for name, mb in sizes.items()}
        with emulator_server(root / "state") as url:
            for name in ("half", "full"):
                path = files[name]
                warm(path)
                base, base_rss = measure("baseline", path, url)
                mb = sizes[name]
                print(
                    f"{name}: {mb} MB   read+sha256 {mb / base:7.0f} MB/s   peak RSS "
                    f"{base_rss:.0f} MB"
                )
                for api in ("native", "compatible", "ceiling", "md5"):
                    t, rss = measure(api, path, url)
                    what = {"ceiling": "ceiling (no HTTP)  ", "md5": "read+md5 alone     "}.get(
                        api, f"upload ({api:<10})"
                    )
                    print(
                        f"  {what} {mb / t:7.0f} MB/s  x{t / base:5.1f} of baseline "
                        f"time   peak RSS {rss:.0f} MB"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
