#!/usr/bin/env python3
"""Writes the tokenizer test corpus (corpus.hex): one string per line as hex of its raw bytes.

Deterministic (fixed seed). Hex keeps newlines, CR, NUL and invalid UTF-8 intact. The golden ids
come from gen_golden.mjs (@huggingface/tokenizers); invalid UTF-8 is checked against the
reference applied to the lossily decoded string (U+FFFD per maximal invalid subpart).
Usage: python3 tests/golden/tokenizer/gen_corpus.py > tests/golden/tokenizer/corpus.hex
"""
import random
import sys
import unicodedata

rng = random.Random(20240611)
out = []


def add(s):
    out.append(s.encode("utf-8") if isinstance(s, str) else s)


WORDS_EN = ("the quick brown fox jumps over lazy dog Hello World tokenizer quantization model "
            "vision language weight activation calibration dataset Python rust C++ GPU NPU "
            "Ascend Huawei MindSpore PyTorch transformer attention layer norm rotary embedding "
            "don't I'M you're we've they'll she'd it's THEY'RE We'Ve I'd O'Neil rock'n'roll "
            "e.g. i.e. etc. U.S.A. Mr. Dr. St. 3.14 1,000,000 $5.99 50% #hashtag @user "
            "https://example.com/path?q=1&r=2 user@example.org").split()
ZH = ("我们 今天 天气 很好 量化 模型 视觉 语言 大模型 的 是 在 中国 北京 上海 人工智能 "
      "深度学习 你好 世界 请 描述 这张 图片 。 ， ！ ？ 「 」 《 》 ： ； 、").split()
JA = ("こんにちは 世界 東京 日本語 の テスト です 。 カタカナ ひらがな 漢字 画像 を 説明 して "
      "ください ラーメン コンピューター ｱｲｳ").split()
KO = "안녕하세요 세계 한국어 테스트 입니다 이미지 를 설명 해 주세요 서울 감사합니다".split()
EMOJI = ["😀", "👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇨🇳", "🇯🇵", "🧑‍💻", "👩🏾‍🚀",
         "✨", "🔥", "🤖", "🐍", "∑", "∞", "→", "©", "™", "½", "№", "ℹ️", "1️⃣", "#️⃣"]
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>",
           "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>",
           "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>",
           "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
           "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<think>", "</think>"]
CODE = [
    "def f(x):\n    return x * 2\n",
    "int main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
    "for (size_t i = 0; i < n; ++i) { a[i] += b[i] >> 3; }",
    "fn main() { let v: Vec<u8> = vec![1, 2, 3]; println!(\"{:?}\", v); }",
    "const x = async () => { await fetch('/api'); };",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;",
    "#include <stdio.h>\r\n#define MAX(a,b) ((a)>(b)?(a):(b))\r\n",
    "if x == None:\n\tpass\nelif x != 0:\n        raise ValueError('bad')\n",
    "<html><body><div class=\"a\">Hi &amp; bye</div></body></html>",
    "{\"key\": [1, 2.5, -3e10, true, null], \"nested\": {\"a\": \"b\"}}",
    "x := map[string]int{\"a\": 1}\nfmt.Println(x)",
    "    \n\n    indented\n\t\ttabs\n",
    "a=b&&c||d;e!=f;g<=h;i>>=2;j**k;l//m",
    "$ ls -la | grep '^d' > out.txt 2>&1",
    "// comment\n/* block */\n# hash\n-- sql\n",
]
ACCENT = ["café", "naïve", "résumé", "Ångström", "Straße", "ÉCOLE", "São Paulo", "Zürich",
          "crème brûlée", "piñata", "Dvořák", "Łódź", "Ἀθῆναι", "Привет мир", "Ελληνικά",
          "עברית", "العربية", "हिन्दी", "ไทย", "Tiếng Việt"]
WS = [" ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", "\r", " \n ", "\t\t", "\u00a0", "\u3000",
      "\u2003", " \t \n"]


def rand_number():
    n = rng.choice([1, 1, 2, 3, 4, 5, 6, 8, 10, 16, 20, 33])
    s = "".join(rng.choice("0123456789") for _ in range(n))
    return rng.choice([s, "-" + s, s + "." + s[:3], "0x" + s, s + "e-5", "٣٤٥", "１２３", "½" + s])


def rand_piece():
    k = rng.randrange(12)
    if k < 3:
        return rng.choice(WORDS_EN)
    if k == 3:
        return rng.choice(ZH)
    if k == 4:
        return rng.choice(JA)
    if k == 5:
        return rng.choice(KO)
    if k == 6:
        return rng.choice(EMOJI)
    if k == 7:
        return rand_number()
    if k == 8:
        return rng.choice(ACCENT)
    if k == 9:
        return rng.choice(WS)
    if k == 10:
        return rng.choice(SPECIAL) if rng.random() < 0.3 else rng.choice(".,;:!?-()[]{}'\"/\\|*&^%$#@~`")
    return rng.choice(WORDS_EN).upper() if rng.random() < 0.5 else rng.choice(WORDS_EN).capitalize()


def rand_sentence(n):
    parts = []
    for _ in range(n):
        p = rand_piece()
        parts.append(p)
        if rng.random() < 0.6:
            parts.append(" ")
    return "".join(parts)


# Fixed cases first.
for s in ["", " ", "  ", "\n", "\r\n", "\t", "a", "A", "0", "Hello World", " Hello", "Hello ",
          "  Hello  World  ", "Hello\n\nWorld", "Hello\r\nWorld\r\n", "x\t\ty", "   \n   x",
          "don't", "DON'T", "I'M", "I'm", "we'LL", "she'd've", "it's", "'s", "''", "'t'",
          "the cat's hat", "12345678901234567890", "3.14159", "1,234,567.89", "v1.2.3-rc4",
          "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
          "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Describe this image.<|im_end|>\n<|im_start|>assistant\n",
          "<|image_pad|>" * 64, "<|image_pad|><|image_pad|> <|image_pad|>\n<|image_pad|>",
          "<|im_start|", "<|im_start|><", "<|im_end|>>", "<<|endoftext|>>", " <|endoftext|> ",
          "<|IM_START|>", "<|im_sta rt|>", "<think>\n\n</think>\n\n", "</tool_call><tool_call>",
          "a" * 300, "ab" * 200, "Pneumonoultramicroscopicsilicovolcanoconiosis",
          "supercalifragilisticexpialidocious" * 5, "é" * 50, "中" * 100, "😀" * 30,
          "👨‍👩‍👧‍👦👨‍👩‍👧‍👦", "!!!???...", "-----", "=====", "\u200b\u200c\u200d", "\ufeffBOM",
          "\x00\x01\x02", "tab\there", "\u2028line\u2029para", "ﬁ ligature", "Ⅻ ⅻ", "①②③"]:
    add(s)

# Long runs (regex backtracking, long BPE words).
for s in [" " * 5000, " " * 5000 + "x", "\n" * 3000, " \n" * 2000, "!" * 4000, "中" * 3000,
          "a" * 10000, "1" * 3000, "\t" * 1000 + "x", "\r\n" * 1500, "ab1" * 2000, "é" * 4000]:
    add(s)

# Unusual whitespace and format characters (regex \s vs Oniguruma/PCRE2 differences).
for c in ["\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\u180e", "\u200b", "\ufeff", "\u1680", "\u205f",
          "\u00ad", "\u2000", "\u200a", "\u202f", "\u2028", "\u2029", "\u3000", "\u00a0", "\u0300"]:
    for s in [c, "a" + c + "b", " " + c + " x", c * 3 + "\n", "x " + c, c + "1" + c, "é" + c]:
        add(s)

# NFC matters: decomposed forms and mixtures.
for s in ACCENT + ["Amélie", "Noël", "Å", "한국어", "가각", "ệ", "ḍ̇", "q̣̇", "ﬀ", "Å (angstrom sign)", "Ω ohm"]:
    add(unicodedata.normalize("NFD", s))
    add(unicodedata.normalize("NFC", s))
    add(" " + unicodedata.normalize("NFD", s) + " " + s)

# Numbers of many lengths.
for n in range(1, 41):
    add("".join(str((i * 7 + n) % 10) for i in range(n)))
    add("x" + str(10 ** n - 1) + " y")

# Whitespace runs of every small shape.
for a in ["", " ", "  ", "\t", "\n", "\r\n", "\r"]:
    for b in ["", " ", "   ", "\n", "\n\n", "\t "]:
        add(a + "word" + b)
        add(a + b + "!" + a)

# Invalid UTF-8 (vlmslim replaces each maximal invalid subpart with U+FFFD).
for b in [b"\xff", b"abc\xffdef", b"\xc3", b"\xc3(", b"\xe2\x82", b"\xe2\x82(", b"\xf0\x9f\x98",
          b"\xf0\x9f\x98 ok", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80",
          b"\x80\x80\x80", b"caf\xe9", b"\xf4\x90\x80\x80", b"<|im_end|>\xfe<|im_start|>",
          b"\xef\xbf\xbd", b"hello \xc3\xa9\xe9 world", b"\xe0\x80\x80", b"\xf0\x80\x80\x80x"]:
    add(b)

for c in CODE:
    add(c)
    add(c.replace("\n", "\r\n"))
for e in EMOJI:
    add(e)
    add("a" + e + "b " + e + e)
for sp in SPECIAL:
    add(sp)
    add("x" + sp + "y")
    add(" " + sp + " ")

# Random mixtures.
while len(out) < 2300:
    r = rng.random()
    if r < 0.7:
        s = rand_sentence(rng.randrange(1, 25))
    elif r < 0.8:
        s = "<|im_start|>system\n" + rand_sentence(5) + "<|im_end|>\n<|im_start|>user\n" + \
            "<|vision_start|>" + "<|image_pad|>" * rng.randrange(1, 20) + "<|vision_end|>" + \
            rand_sentence(rng.randrange(1, 15)) + "<|im_end|>\n<|im_start|>assistant\n"
    elif r < 0.9:
        s = rng.choice(CODE) + rand_sentence(3)
    else:
        s = "".join(rng.choice(WORDS_EN + ZH + JA) for _ in range(rng.randrange(5, 60)))
    if rng.random() < 0.2:
        s = unicodedata.normalize("NFD", s)
    add(s)

sys.stdout.write("".join(b.hex() + "\n" for b in out))
