#!/usr/bin/env python3
"""Compares `vlmslim eval`'s eval_report.json with the reference's (tests/reference/eval_torch.py)
on what both report: the summary, each sample (with its generations' token ids) and each unit. KL divergences within a relative
RTOL (plus 1e-9 absolute), cosines and relative errors within ATOL, counts and top-1 agreement
exactly. Python's standard library only.

usage: compare_eval.py ACTUAL.json EXPECTED.json [--rtol 1e-4] [--atol 1e-5]"""
import json
import math
import sys


def main(argv):
    args = argv[1:]
    rtol, atol = 1e-4, 1e-5
    if "--rtol" in args:
        i = args.index("--rtol")
        rtol = float(args[i + 1])
        del args[i:i + 2]
    if "--atol" in args:
        i = args.index("--atol")
        atol = float(args[i + 1])
        del args[i:i + 2]
    with open(args[0]) as f:
        a = json.load(f)
    with open(args[1]) as f:
        b = json.load(f)
    bad = []

    def cmp(x, y, path):
        if isinstance(y, list):  # token ids: equal
            if x != y:
                bad.append("%s: %r, expected %r" % (path, x, y))
            return
        if isinstance(y, dict):
            for k, v in y.items():
                cmp(x.get(k) if isinstance(x, dict) else None, v, path + "." + k)
            return
        if y is None or x is None:
            if not (x is None and y is None):
                bad.append("%s: %r, expected %r" % (path, x, y))
            return
        key = path.rsplit(".", 1)[-1]
        if isinstance(y, bool) or key in ("positions", "samples", "quantized_linears", "top1_agreement",
                                          "first_divergence"):
            ok = x == y if not isinstance(y, float) else abs(x - y) <= 1e-12
        elif key.startswith("kl") or key == "kl":
            ok = abs(x - y) <= rtol * abs(y) + 1e-9
        else:
            ok = abs(x - y) <= atol
        if not ok or (isinstance(x, float) and math.isnan(x)):
            bad.append("%s: %r, expected %r" % (path, x, y))

    cmp(a["summary"], b["summary"], "summary")
    if len(a["samples"]) != len(b["samples"]) or len(a["units"]) != len(b["units"]):
        bad.append("%d samples and %d units, expected %d and %d" % (len(a["samples"]), len(a["units"]),
                                                                     len(b["samples"]), len(b["units"])))
    for i, (x, y) in enumerate(zip(a["samples"], b["samples"])):
        cmp(x, y, "samples[%d]" % i)
    for i, (x, y) in enumerate(zip(a["units"], b["units"])):
        cmp(x, y, "units[%d]" % i)
    for line in bad[:20]:
        print("  " + line)
    print("compare_eval: %s vs %s: %s" % (args[0], args[1], "%d difference(s)" % len(bad) if bad else "ok"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
