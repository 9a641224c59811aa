#!/usr/bin/env python3
"""Regenerates fuzz/corpus/<harness>/ from the test data already in the repository and a
tiny generated checkpoint. Usage (from the repository root, after building vlmslim):

    python3 fuzz/make_corpus.py build

Seeds are named after their source; the harnesses' own findings are not kept here."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def exif_payload(jpeg):
    """The TIFF block of a JPEG's APP1 Exif segment."""
    i = 2
    while i + 4 <= len(jpeg) and jpeg[i] == 0xFF:
        marker, length = jpeg[i + 1], int.from_bytes(jpeg[i + 2:i + 4], "big")
        seg = jpeg[i + 4:i + 2 + length]
        if marker == 0xE1 and seg.startswith(b"Exif\0\0"):
            return seg[6:]
        i += 2 + length
    return None


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    shutil.rmtree(CORPUS, ignore_errors=True)
    tmp = tempfile.mkdtemp()
    try:
        for fam in ("qwen3_vl", "qwen3_vl_moe"):
            subprocess.run([os.path.join(build, "vlmslim-mkmodel"), "--family", fam, "--preset", "tiny",
                            "--out", os.path.join(tmp, fam)], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([os.path.join(build, "vlmslim-mkcalib"), "--out", os.path.join(tmp, "calib")],
                       check=True, stdout=subprocess.DEVNULL)

        gs = "tests/golden/safetensors"
        for p in ("reference.safetensors", "shuffled.safetensors", "sharded/model-00001-of-00002.safetensors",
                  "sharded/model-00002-of-00002.safetensors", "writer_single/model.safetensors",
                  "writer_sharded/model-00001-of-00006.safetensors"):
            put("safetensors_header", p.replace("/", "_"), read(os.path.join(gs, p)))
        # the generated checkpoint's header with empty tensors: real names and dtypes, no data
        with open(os.path.join(tmp, "qwen3_vl_moe", "model.safetensors"), "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n))
        small = {k: ({**v, "shape": [0] + v["shape"][1:], "data_offsets": [0, 0]} if k != "__metadata__" else v)
                 for k, v in list(header.items())[:40]}
        text = json.dumps(small, separators=(",", ":")).encode()
        put("safetensors_header", "mkmodel_header_empty_tensors", len(text).to_bytes(8, "little") + text)

        put("safetensors_index", "matching.json", json.dumps(
            {"metadata": {"total_size": 32}, "weight_map": {
                "a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
                "c": "model-00002-of-00002.safetensors"}}, indent=2))
        for p in ("sharded", "writer_sharded"):
            put("safetensors_index", p + ".json", read(os.path.join(gs, p, "model.safetensors.index.json")))

        for fam in ("qwen3_vl", "qwen3_vl_moe"):
            put("model_config", fam + ".json", read(os.path.join(tmp, fam, "config.json")))
        put("registry", "config.ini", read("config/config.ini"))

        for d in ("tests/data/configs", "lab_practice/qwen3_vl", "lab_practice/qwen3_vl_moe"):
            for name in sorted(os.listdir(os.path.join(ROOT, d))):
                if name.endswith(".yaml"):
                    put("quant_config", name, read(os.path.join(d, name)))
        put("quant_config", "scalars.yaml", read("tests/data/config/scalars.yaml"))

        prompts = read(os.path.join(tmp, "calib", "prompts.jsonl"))
        seeds = {
            "index_json": b"\0" + b'[{"image": "a.jpg", "text": "first"},\n {"image": "sub/b.png"}]',
            "index_jsonl": b"\1" + b'{"image": "a.jpg", "text": "  D\xc3\xa9cris l\'image \xe6\x8f\x8f\xe8\xbf\xb0 "}\r\n'
                           b'{"text": "", "image": null, "audio": "a.wav"}\n\n{"text": 0, "image": " sub/b.png "}',
            "index_jsonl_mkcalib": b"\1" + prompts,
            "legacy_json": b"\2" + b'[{"text": "one"}, "two", {"prompt": "three"}]',
            "legacy_jsonl": b"\3" + prompts,
        }
        for name, data in seeds.items():
            put("dataset", name, data)

        img = "tests/golden/vision/images"
        for name in sorted(os.listdir(os.path.join(ROOT, img))):
            if "bomb" not in name:
                put("image", name, read(os.path.join(img, name)))
        for name in sorted(os.listdir(os.path.join(tmp, "calib"))):
            if name.endswith((".png", ".jpg")):
                with open(os.path.join(tmp, "calib", name), "rb") as f:
                    put("image", "mkcalib_" + name, f.read())
        for name in sorted(os.listdir(os.path.join(ROOT, img))):
            if name.startswith("exif") and name.endswith(".jpg"):
                tiff = exif_payload(read(os.path.join(img, name)))
                if tiff:
                    put("exif", name[:-4] + ".tiff", tiff)

        put("tokenizer_load", "mkmodel_tokenizer.json", read(os.path.join(tmp, "qwen3_vl_moe", "tokenizer.json")))
        texts = ["Hello world", "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Describe this image.<|im_end|>\n",
                 "caf\u00e9 cafe\u0301 \u00c5ngstr\u00f6m \uac00\u11a8 \u6587\u5b57 1234567 it's they'll",
                 "  \t\n\r\n  tabs\tand    spaces   \n\n", "\U0001F600 emoji \u200d joiner", ]
        for i, t in enumerate(texts):
            put("tokenizer_encode", "text%d" % i, t)
        put("tokenizer_encode", "invalid_utf8", b"ok \xff\xfe \xc3 \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80 end")

        for name in sorted(os.listdir(os.path.join(ROOT, "tests/golden/chat_template/templates"))):
            put("jinja", name, read(os.path.join("tests/golden/chat_template/templates", name)))
        with open(os.path.join(tmp, "qwen3_vl_moe", "chat_template.json")) as f:
            put("jinja", "mkmodel_chat_template.jinja", json.load(f)["chat_template"])
        put("jinja", "filters.jinja",
            "{% set ns = namespace(n=0) %}{% for m in messages | selectattr('role', 'equalto', 'user') %}"
            "{{ m.content | string | trim | upper | replace('A', 'b') }}{% set ns.n = ns.n + 1 %}{% endfor %}"
            "{{ messages | map(attribute='role') | join(',') }}{{ [3, 1, 2] | sort | reverse | list | tojson }}"
            "{{ messages | select('mapping') | list | length }}{{ tools[0] | tojson(indent=2) }}"
            "{{ '%s-%d' % ('a', 3) }}{{ 'x'.split('y') }}{{ range(3) | sum }}{{ {'a': 1}.items() | list }}")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
