"""Minimal safetensors reader/writer on numpy, independent of the C code.

Format (https://github.com/huggingface/safetensors): 8-byte little-endian header length N,
N bytes of UTF-8 JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, optional
"__metadata__": {str: str}}, then the data area; offsets are relative to the data area.

Tensors are kept as `Tensor(dtype, shape, array)` where `array` is a numpy array of the
storage type: BF16 has no numpy type and is held as uint16 bit patterns; `to_f32()` decodes.
"""

import json
import os
import struct

import numpy as np

# safetensors dtype name -> numpy storage dtype (little-endian)
_STORAGE = {
    "BOOL": np.dtype("bool"),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"),
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "I64": np.dtype("<i8"),
    "U64": np.dtype("<u8"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "F8_E4M3": np.dtype("u1"),
}

FLOAT_TYPES = ("F16", "BF16", "F32", "F64")


def bf16_bits_to_f32(bits):
    """uint16 bf16 bit patterns -> float32 (exact)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16_bits(x):
    """float32 -> bf16 bit patterns, round to nearest even; NaN stays a quiet NaN."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = ((u + (np.uint32(0x7FFF) + ((u >> 16) & 1))) >> 16).astype(np.uint16)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    return np.where(nan, ((u >> 16) | 0x40).astype(np.uint16), rounded)


class Tensor:
    """A tensor in its storage form."""

    def __init__(self, dtype, shape, array):
        if dtype not in _STORAGE:
            raise ValueError("unknown safetensors dtype %r" % dtype)
        self.dtype = dtype
        self.shape = tuple(int(d) for d in shape)
        self.array = np.ascontiguousarray(array, dtype=_STORAGE[dtype]).reshape(self.shape)

    @property
    def nbytes(self):
        return self.array.nbytes

    def to_f32(self):
        if self.dtype == "BF16":
            return bf16_bits_to_f32(self.array)
        if self.dtype in ("F16", "F32", "F64"):
            return self.array.astype(np.float32)
        raise ValueError("not a float tensor: %s" % self.dtype)

    @staticmethod
    def from_f32(dtype, x):
        x = np.asarray(x, dtype=np.float32)
        if dtype == "BF16":
            return Tensor(dtype, x.shape, f32_to_bf16_bits(x))
        return Tensor(dtype, x.shape, x.astype(_STORAGE[dtype]))


def read_file(path):
    """Returns (dict name -> Tensor in file order of data offsets, metadata or None)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError("%s: shorter than the 8-byte header length" % path)
    (hlen,) = struct.unpack("<Q", blob[:8])
    if hlen > len(blob) - 8:
        raise ValueError("%s: header length %d beyond the file" % (path, hlen))
    header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    data = memoryview(blob)[8 + hlen:]
    meta = header.pop("__metadata__", None)
    out = {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        dtype, shape = info["dtype"], info["shape"]
        begin, end = info["data_offsets"]
        storage = _STORAGE[dtype]
        numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not (0 <= begin <= end <= len(data)) or end - begin != numel * storage.itemsize:
            raise ValueError("%s: tensor %r: bad data_offsets %r" % (path, name, [begin, end]))
        arr = np.frombuffer(data[begin:end], dtype=storage).reshape(shape)
        out[name] = Tensor(dtype, shape, arr.copy())
    return out, meta


def write_file(path, tensors, metadata=None, mode=0o644):
    """Writes an ordered list of (name, Tensor); data in list order, header padded to 8."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    for name, t in tensors:
        header[name] = {"dtype": t.dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for _, t in tensors:
            f.write(t.array.tobytes())
    os.chmod(path, mode)


def load_checkpoint(directory):
    """All tensors of a Hugging Face checkpoint directory: model.safetensors.index.json if
    present, else model.safetensors, else every *.safetensors (sorted). Returns
    (dict name -> Tensor, dict name -> file name)."""
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        files = sorted(set(weight_map.values()))
    elif os.path.exists(os.path.join(directory, "model.safetensors")):
        weight_map, files = None, ["model.safetensors"]
    else:
        weight_map = None
        files = sorted(n for n in os.listdir(directory) if n.endswith(".safetensors"))
    tensors, where = {}, {}
    for fname in files:
        part, _ = read_file(os.path.join(directory, fname))
        for name, t in part.items():
            if name in tensors:
                raise ValueError("%s: tensor %r also in %s" % (fname, name, where[name]))
            tensors[name] = t
            where[name] = fname
    if weight_map is not None:
        for name, fname in weight_map.items():
            if where.get(name) != fname:
                raise ValueError("index: %r mapped to %s but found in %s" % (name, fname, where.get(name)))
        extra = set(tensors) - set(weight_map)
        if extra:
            raise ValueError("index misses tensors %s" % sorted(extra)[:5])
    return tensors, where
