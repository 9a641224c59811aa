#!/usr/bin/env python3
"""Rewrites the header of a safetensors file in place, keeping its data area, for tests of
malformed checkpoints.

  st_header.py FILE set TENSOR FIELD JSON   sets a field of a tensor's entry (dtype, shape,
                                            data_offsets) to a JSON value
  st_header.py FILE length N                writes N as the 8-byte header length, nothing else
"""
import json
import struct
import sys


def main(argv):
    path, op = argv[1], argv[2]
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    if op == "length":
        out = struct.pack("<Q", int(argv[3])) + raw[8:]
    elif op == "set":
        header = json.loads(raw[8:8 + n])
        name, field, value = argv[3], argv[4], json.loads(argv[5])
        if name not in header:
            sys.exit("%s: no tensor '%s'" % (path, name))
        header[name][field] = value
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        out = struct.pack("<Q", len(text)) + text + raw[8 + n:]
    else:
        sys.exit("unknown operation '%s'" % op)
    with open(path, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main(sys.argv)
