#!/usr/bin/env python3
"""Writes small safetensors files with an implementation independent of vlmslim (struct + json +
numpy, following the format description at huggingface/safetensors) for the reader tests:
  reference.safetensors  one tensor per dtype, with __metadata__, header padded like the Rust writer
  sharded/               model.safetensors.index.json + two shards
and expected.json with every tensor's dtype, shape and values (as float64 or int lists)."""
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

if __name__ == "__main__":
    main()
