#!/usr/bin/env python3
"""Reads sluice's recording segments (docs/recording.md, "Storage") the way an outsider would:
prints one JSON line per entry with its segment, offset, hash, format and payload range, and
with --decompress the recording's JSON text instead (plain entries only, through `zstd -d`).
Usage: recording_entries.py [--decompress] SEGMENT..."""
import json
import subprocess
import sys

MAGIC = b"SLUICEREC2"
HEADER = len(MAGIC) + 1 + 64 + 4


def entries(path):
    data = open(path, "rb").read()
    at = 0
    while at + HEADER <= len(data) and data[at:at + len(MAGIC)] == MAGIC:
        fmt = data[at + len(MAGIC)]
        sha = data[at + len(MAGIC) + 1:at + len(MAGIC) + 65].decode()
        size = int.from_bytes(data[at + HEADER - 4:at + HEADER], "little")
        if at + HEADER + size > len(data):
            break
        yield {"segment": path, "offset": at, "sha256": sha, "format": fmt,
               "payload_offset": at + HEADER, "payload_bytes": size}, data[at + HEADER:at + HEADER + size]
        at += HEADER + size


decompress = "--decompress" in sys.argv
for path in [a for a in sys.argv[1:] if a != "--decompress"]:
    for entry, payload in entries(path):
        if not decompress:
            print(json.dumps(entry))
        elif entry["format"] == 0:
            print(subprocess.run(["zstd", "-dq"], input=payload, capture_output=True,
                                 check=True).stdout.decode())
