#!/usr/bin/env python3
"""Writes scalars.golden.json: scalars.yaml loaded by PyYAML's SafeLoader, every scalar
tagged with its Python type so tests/unit/test_io_yaml.c can compare types exactly:
"i:<int>", "f:<repr(float)>", "s:<str>", "b:true|false", "n:". Dates become "s:<iso>"
(vlmslim keeps timestamps as strings). Run from this directory with /usr/bin/python3."""
import datetime
import json
import math
import os

import yaml


def tag(v):
    if v is None:
        return "n:"
    if isinstance(v, bool):
        return "b:" + ("true" if v else "false")
    if isinstance(v, int):
        return "i:%d" % v
    if isinstance(v, float):
        if math.isnan(v):
            return "f:nan"
        if math.isinf(v):
            return "f:inf" if v > 0 else "f:-inf"
        return "f:" + repr(v)
    if isinstance(v, (datetime.date, datetime.datetime)):
        return "s:" + v.isoformat()
    if isinstance(v, str):
        return "s:" + v
    if isinstance(v, dict):
        return {k: tag(x) for k, x in v.items()}
    if isinstance(v, list):
        return [tag(x) for x in v]
    raise TypeError(type(v))


here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "scalars.yaml"), encoding="utf-8") as f:
    data = yaml.load(f, Loader=yaml.SafeLoader)
with open(os.path.join(here, "scalars.golden.json"), "w", encoding="utf-8") as f:
    json.dump(tag(data), f, indent=1, ensure_ascii=False, sort_keys=True)
    f.write("\n")
