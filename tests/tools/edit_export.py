#!/usr/bin/env python3
"""Breaks an export in place, for the tests of `vlmslim eval` (numpy only); a compressed-tensors
export (no description) takes negate, drop and dtype.

  edit_export.py DIR negate TENSOR        multiplies a float tensor's values by -1
  edit_export.py DIR drop TENSOR          removes a tensor from its weight file (the description keeps it)
  edit_export.py DIR forget TENSOR        removes it from the weight file and the description
  edit_export.py DIR add TENSOR TYPE      adds a float32 zero tensor [1] to a weight file and the description
  edit_export.py DIR type TENSOR TYPE     sets the description's type of a tensor
  edit_export.py DIR dtype TENSOR DTYPE   stores a tensor in another dtype (values converted)
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import safetensors_np as st  # noqa: E402

DESC = "quant_model_description.json"


def files(d):
    return sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))


def rewrite(path, fn):
    tensors, meta = st.read_file(path)
    items = fn(list(tensors.items()))
    st.write_file(path, items, meta, mode=0o600)


def main(argv):
    d, op, name = argv[1], argv[2], argv[3]
    desc = None
    if os.path.exists(os.path.join(d, DESC)):
        with open(os.path.join(d, DESC)) as f:
            desc = json.load(f)
    elif op not in ("negate", "drop", "dtype"):
        sys.exit("edit_export: %s: no %s for %s" % (d, DESC, op))
    holder = next((os.path.join(d, f) for f in files(d) if name in st.read_file(os.path.join(d, f))[0]), None)
    if op != "add" and holder is None:
        sys.exit("edit_export: %s: no tensor %s" % (d, name))
    if op == "negate":
        rewrite(holder, lambda ts: [(n, st.Tensor.from_f32(t.dtype, -t.to_f32()) if n == name else t) for n, t in ts])
    elif op in ("drop", "forget"):
        rewrite(holder, lambda ts: [(n, t) for n, t in ts if n != name])
        if op == "forget":
            del desc[name]
    elif op == "add":
        path = os.path.join(d, files(d)[0])
        rewrite(path, lambda ts: ts + [(name, st.Tensor("F32", (1,), np.zeros(1, np.float32)))])
        desc = dict(list(desc.items())[:1] + [(name, argv[4])] + list(desc.items())[1:])
    elif op == "type":
        desc[name] = argv[4]
    elif op == "dtype":
        def conv(n, t):
            if n != name:
                return t
            v = t.to_f32() if t.dtype in ("BF16", "F16", "F32", "F64") else t.array.astype(np.float32)
            return st.Tensor.from_f32(argv[4], v) if argv[4] in ("BF16", "F16", "F32") else \
                st.Tensor(argv[4], t.shape, v.astype(st._STORAGE[argv[4]]))
        rewrite(holder, lambda ts: [(n, conv(n, t)) for n, t in ts])
    else:
        sys.exit("edit_export: unknown operation %s" % op)
    if desc is not None:
        with open(os.path.join(d, DESC), "w") as f:
            json.dump(desc, f, indent=4)


if __name__ == "__main__":
    main(sys.argv)
