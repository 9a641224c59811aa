#!/usr/bin/python3
"""Checks `vlmslim inspect-inputs --dump DIR` against expected.json (standard library only):
every sample_<i>.safetensors holds exactly input_ids and attention_mask I64 [1, n] (ids equal,
mask all ones), pixel_values F32 [patches, patch_dim] (bytes' sha256 equal) and image_grid_thw
I64 [1, 3] (equal); no other file. usage: check_dump.py DUMP_DIR EXPECTED.json"""
import hashlib
import json
import os
import struct
import sys


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    data = blob[8 + n:]
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()}


def main():
    dump, expected_path = sys.argv[1], sys.argv[2]
    with open(expected_path) as f:
        expected = json.load(f)
    errors = []
    names = sorted(os.listdir(dump))
    want = sorted("sample_%d.safetensors" % i for i in range(len(expected)))
    if names != want:
        errors.append("files %s, expected %s" % (names, want))
    for i, e in enumerate(expected):
        path = os.path.join(dump, "sample_%d.safetensors" % i)
        if not os.path.isfile(path):
            continue
        t = read_safetensors(path)
        where = "sample %d (%s)" % (i, e["image"])
        if sorted(t) != ["attention_mask", "image_grid_thw", "input_ids", "pixel_values"]:
            errors.append("%s: tensors %s" % (where, sorted(t)))
            continue
        n = len(e["ids"])
        dt, shape, raw = t["input_ids"]
        ids = list(struct.unpack("<%dq" % (len(raw) // 8), raw))
        if dt != "I64" or shape != [1, n] or ids != e["ids"]:
            first = next((k for k in range(min(len(ids), n)) if ids[k] != e["ids"][k]), min(len(ids), n))
            errors.append("%s: input_ids %s %s differ from the reference (%d vs %d tokens, first difference at %d)"
                          % (where, dt, shape, len(ids), n, first))
        dt, shape, raw = t["attention_mask"]
        if dt != "I64" or shape != [1, n] or set(struct.unpack("<%dq" % (len(raw) // 8), raw)) != {1}:
            errors.append("%s: attention_mask %s %s is not [1, %d] ones" % (where, dt, shape, n))
        dt, shape, raw = t["image_grid_thw"]
        if dt != "I64" or shape != [1, 3] or list(struct.unpack("<3q", raw)) != e["grid"]:
            errors.append("%s: image_grid_thw %s %s differs from %s" % (where, dt, shape, e["grid"]))
        dt, shape, raw = t["pixel_values"]
        if dt != "F32" or shape != [e["patches"], e["patch_dim"]] or hashlib.sha256(raw).hexdigest() != e["sha256"]:
            errors.append("%s: pixel_values %s %s differ from the reference [%d, %d]"
                          % (where, dt, shape, e["patches"], e["patch_dim"]))
    for msg in errors:
        print("check_dump: " + msg)
    print("check_dump: %d sample(s), %d error(s)" % (len(expected), len(errors)))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
