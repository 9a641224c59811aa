#!/usr/bin/env python3
"""Writes small safetensors files with an implementation independent of vlmslim (struct + json +
numpy, following the format description at huggingface/safetensors) for the reader tests:
  reference.safetensors  one tensor per dtype, with __metadata__, header padded like the Rust writer
  sharded/               model.safetensors.index.json + two shards
  shuffled.safetensors   header keys in another order than the data, __metadata__ last, a gap
                         between two tensors, empty tensors at assorted offsets, extra padding
and expected.json / shuffled.json with every tensor's dtype, shape and values (as float64 lists).
For the writer tests, what msModelSlim's writer rules give for a fixed list of tensors
(writer_tensors() below; tensor k holds bytes (i * 37 + 11 + k) % 256):
  writer_single/model.safetensors                       part size 0
  writer_sharded/model-0000i-of-00006.safetensors + index, part size 64 bytes
Headers there are padded to a multiple of 8 bytes as the reference (Rust) writer does.
Run from anywhere with /usr/bin/python3 (numpy); the outputs are deterministic."""
import json, os, struct
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

def bf16_bytes(a):
    u = np.asarray(a, dtype=np.float32).view(np.uint32)
    # round to nearest even, as torch does
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return r.tobytes(), (r.astype(np.uint32) << 16).view(np.float32)

def write(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

def pattern(k, n):
    return bytes((i * 37 + 11 + k) % 256 for i in range(n))

DTYPE_SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "I32": 4, "I64": 8, "F16": 2, "BF16": 2, "F32": 4,
              "F64": 8, "F8_E4M3": 1}

# (name, dtype, shape); with a 64-byte part size this hits: the pending bytes plus the next tensor
# exactly at the limit (c, j), a tensor over the limit alone (g), 0-d and empty tensors (f, e).
def writer_tensors():
    return [("a", "U8", [16]), ("b", "F32", [4, 2]), ("c", "I16", [8]), ("d", "BF16", [2, 3]),
            ("e", "F64", [0]), ("f", "I64", []), ("model.layers.0.g", "F32", [20]), ("h", "BOOL", [3]),
            ("i", "F8_E4M3", [2, 2]), ("j", "I8", [57]), ("k", "F16", [3]), ("l", "I32", [1])]

def nbytes(dtype, shape):
    return int(np.prod(shape, dtype=np.int64)) * DTYPE_SIZE[dtype]

def write_with_writer_rules(out_dir, prefix, part_bytes):
    """msModelSlim's shard rule: before adding a tensor, flush the pending tensors if their bytes
    plus the tensor's reach part_bytes; temporary -of-00000 names become -of-KKKKK at the end."""
    os.makedirs(out_dir, exist_ok=True)
    tensors = [(n, d, s, pattern(k, nbytes(d, s))) for k, (n, d, s) in enumerate(writer_tensors())]
    if part_bytes == 0:
        write(os.path.join(out_dir, prefix + ".safetensors"), tensors)
        return
    shards, pending, pending_bytes = [], [], 0
    for t in tensors:
        if pending and pending_bytes + len(t[3]) >= part_bytes:
            shards.append(pending)
            pending, pending_bytes = [], 0
        pending.append(t)
        pending_bytes += len(t[3])
    shards.append(pending)
    k = len(shards)
    weight_map = {}
    for i, shard in enumerate(shards, 1):
        name = "%s-%05d-of-%05d.safetensors" % (prefix, i, k)
        write(os.path.join(out_dir, name), shard)
        for t in shard:
            weight_map[t[0]] = name
    index = {"metadata": {"total_size": sum(len(t[3]) for t in tensors)}, "weight_map": weight_map}
    with open(os.path.join(out_dir, prefix + ".safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)

def write_shuffled(path):
    """Header order != data order, a hole in the data area, trailing padding spaces."""
    a = np.arange(6, dtype=np.float32)            # data [0, 24)
    b = np.array([7, -7], dtype=np.int16)         # data [32, 36) after an 8-byte hole
    c = np.array([1.5, -2.25], dtype=np.float64)  # data [40, 56)
    data = bytearray(56)
    data[0:24] = a.tobytes()
    data[24:32] = b"\xee" * 8
    data[32:36] = b.tobytes()
    data[40:56] = c.tobytes()
    header = {
        "c": {"dtype": "F64", "shape": [2], "data_offsets": [40, 56]},
        "empty_end": {"dtype": "BF16", "shape": [3, 0], "data_offsets": [56, 56]},
        "a": {"data_offsets": [0, 24], "shape": [2, 3], "dtype": "F32"},
        "empty_mid": {"dtype": "U8", "shape": [0], "data_offsets": [24, 24]},
        "b": {"shape": [2], "dtype": "I16", "data_offsets": [32, 36]},
        "__metadata__": {"format": "pt", "note": "written by make_golden.py"},
    }
    h = json.dumps(header, indent=1).encode() + b"    "
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + bytes(data))
    expected = {
        "a": {"dtype": "F32", "shape": [2, 3], "offset": 0, "values": a.astype(np.float64).tolist()},
        "b": {"dtype": "I16", "shape": [2], "offset": 32, "values": b.astype(np.float64).tolist()},
        "c": {"dtype": "F64", "shape": [2], "offset": 40, "values": c.tolist()},
        "empty_mid": {"dtype": "U8", "shape": [0], "offset": 24, "values": []},
        "empty_end": {"dtype": "BF16", "shape": [3, 0], "offset": 56, "values": []},
    }
    with open(os.path.join(HERE, "shuffled.json"), "w") as f:
        json.dump(expected, f, indent=1)

def main():
    rng = np.random.default_rng(1234)
    expected = {}
    tensors = []
    def add(name, dtype, arr, raw=None, values=None):
        raw = arr.tobytes() if raw is None else raw
        tensors.append((name, dtype, arr.shape, raw))
        vals = arr if values is None else values
        expected[name] = {"dtype": dtype, "shape": list(arr.shape), "values": np.asarray(vals).astype(np.float64).ravel().tolist()}
    add("bool", "BOOL", np.array([True, False, True], dtype=np.bool_))
    add("u8", "U8", np.arange(5, dtype=np.uint8))
    add("i8", "I8", np.array([-128, -1, 0, 1, 127], dtype=np.int8))
    add("i16", "I16", np.array([[-32768, 7], [0, 32767]], dtype=np.int16))
    add("i32", "I32", np.array([-2**31, 3, 2**31 - 1], dtype=np.int32))
    add("i64", "I64", np.array([-(2**40), 5], dtype=np.int64))
    f16 = rng.standard_normal((2, 3)).astype(np.float16)
    add("f16", "F16", f16)
    f32 = rng.standard_normal((3, 2, 2)).astype(np.float32)
    add("f32", "F32", f32)
    add("f64", "F64", rng.standard_normal(4).astype(np.float64))
    src = rng.standard_normal((4, 3)).astype(np.float32)
    raw, val = bf16_bytes(src)
    tensors.append(("bf16", "BF16", src.shape, raw))
    expected["bf16"] = {"dtype": "BF16", "shape": [4, 3], "values": val.astype(np.float64).ravel().tolist()}
    add("scalar", "F32", np.array(2.5, dtype=np.float32))
    add("empty", "F32", np.zeros((0, 4), dtype=np.float32))
    f8 = np.array([0x38, 0xB8, 0x7E, 0x00], dtype=np.uint8)  # 1.0, -1.0, 448, 0 in E4M3
    tensors.append(("f8", "F8_E4M3", (4,), f8.tobytes()))
    expected["f8"] = {"dtype": "F8_E4M3", "shape": [4], "values": [56.0, 184.0, 126.0, 0.0]}  # raw bytes
    write(os.path.join(HERE, "reference.safetensors"), tensors, {"format": "pt"})

    os.makedirs(os.path.join(HERE, "sharded"), exist_ok=True)
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.arange(4, dtype=np.int32)
    c = -np.arange(3, dtype=np.float32)
    write(os.path.join(HERE, "sharded", "model-00001-of-00002.safetensors"), [("a", "F32", a.shape, a.tobytes())])
    write(os.path.join(HERE, "sharded", "model-00002-of-00002.safetensors"),
          [("b", "I32", b.shape, b.tobytes()), ("c", "F32", c.shape, c.tobytes())])
    index = {"metadata": {"total_size": a.nbytes + b.nbytes + c.nbytes},
             "weight_map": {"a": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors",
                            "b": "model-00002-of-00002.safetensors"}}
    with open(os.path.join(HERE, "sharded", "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)

    write_shuffled(os.path.join(HERE, "shuffled.safetensors"))
    write_with_writer_rules(os.path.join(HERE, "writer_single"), "model", 0)
    write_with_writer_rules(os.path.join(HERE, "writer_sharded"), "model", 64)

if __name__ == "__main__":
    main()
