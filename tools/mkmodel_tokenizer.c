#include "mkmodel_tokenizer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "text/byte_level.h"

#define MK_REAL_SPECIAL_BASE 151643

/* The added tokens of Qwen3's tokenizer.json, of which the first 14 are special, then InternVL's
 * (special, as in InternVL3.5's tokenizer.json). */
static const char *const special_tokens[MK_TOK_COUNT_INTERNVL] = {
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>",
    "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>", "<think>", "</think>",
    "<img>", "</img>", "<IMG_CONTEXT>",
};
#define MK_N_SPECIAL_FLAGGED 14

static bool is_special(int k)
{
    return k < MK_N_SPECIAL_FLAGGED || k >= MK_TOK_COUNT;
}

/* Merges of frequent English pairs, in priority order; each joins two tokens that exist by then.
 * "Ġ" is the byte-level form of a space. */
static const char *const merges[][2] = {
    {"Ġ", "t"},  {"h", "e"},   {"Ġt", "he"}, {"i", "n"},  {"Ġ", "a"},  {"e", "r"},  {"o", "n"},
    {"Ġ", "i"},  {"r", "e"},   {"a", "t"},   {"e", "n"},  {"Ġ", "s"},  {"i", "s"},  {"Ġ", "c"},
    {"o", "r"},  {"Ġ", "w"},   {"a", "n"},   {"Ġ", "d"},  {"e", "s"},  {"Ġ", "p"},  {"Ġ", "o"},
    {"i", "t"},  {"Ġ", "m"},   {"in", "g"},  {"Ġ", "b"},  {"a", "l"},  {"Ġ", "f"},  {"Ġi", "s"},
    {"Ġi", "m"}, {"Ġim", "a"}, {"g", "e"},   {"Ġima", "ge"},
};
#define MK_N_MERGES (sizeof merges / sizeof merges[0])

/* The pre-tokenizer regex of Qwen2/2.5/3 (qwen3_vl_spec.md §3). */
static const char split_regex[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

bool mk_tokenizer_fits(int64_t vocab, int n_added)
{
    return vocab >= 256 + (int64_t)MK_N_MERGES + n_added;
}

int64_t mk_special_id(int64_t vocab, int n_added, enum mk_special k)
{
    if (vocab >= MK_REAL_SPECIAL_BASE + n_added || !mk_tokenizer_fits(vocab, n_added))
        return MK_REAL_SPECIAL_BASE + k;
    return vocab - n_added + k;
}

json_t *mk_added_tokens_decoder(int64_t vocab, int n_added)
{
    json_t *d = json_object();
    for (int k = 0; d && k < n_added; k++) {
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)mk_special_id(vocab, n_added, (enum mk_special)k));
        json_t *t = json_pack("{s:s,s:b,s:b,s:b,s:b,s:b}", "content", special_tokens[k], "lstrip", 0,
                              "normalized", 0, "rstrip", 0, "single_word", 0, "special", is_special(k));
        if (!t || json_object_set_new(d, id, t) != 0) {
            json_decref(d);
            return NULL;
        }
    }
    return d;
}

static json_t *byte_level(void)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("ByteLevel"));
    json_object_set_new(o, "add_prefix_space", json_false());
    json_object_set_new(o, "trim_offsets", json_false());
    json_object_set_new(o, "use_regex", json_false());
    return o;
}

/* The byte-level symbol of byte b as UTF-8. */
static void byte_symbol(unsigned b, char out[3])
{
    size_t n = vs_byte_level_utf8((uint8_t)b, out);
    out[n] = '\0';
}

static json_t *make_model(void)
{
    json_t *vocab = json_object(), *mlist = json_array(), *model = json_object();
    /* Byte tokens in the order of their byte-level code points, as GPT-2 and Qwen number them. */
    for (uint32_t cp = 0, id = 0; cp < 256 + 68; cp++) {
        int b = vs_byte_level_byte(cp);
        if (b < 0)
            continue;
        char sym[3];
        byte_symbol((unsigned)b, sym);
        json_object_set_new(vocab, sym, json_integer(id++));
    }
    for (size_t i = 0; i < MK_N_MERGES; i++) {
        char *joined = malloc(strlen(merges[i][0]) + strlen(merges[i][1]) + 2);
        if (!joined)
            break;
        json_t *pair = json_array();
        json_array_append_new(pair, json_string(merges[i][0]));
        json_array_append_new(pair, json_string(merges[i][1]));
        json_array_append_new(mlist, pair);
        strcat(strcpy(joined, merges[i][0]), merges[i][1]);
        json_object_set_new(vocab, joined, json_integer(256 + (json_int_t)i));
        free(joined);
    }
    json_object_set_new(model, "type", json_string("BPE"));
    json_object_set_new(model, "dropout", json_null());
    json_object_set_new(model, "unk_token", json_null());
    json_object_set_new(model, "continuing_subword_prefix", json_string(""));
    json_object_set_new(model, "end_of_word_suffix", json_string(""));
    json_object_set_new(model, "fuse_unk", json_false());
    json_object_set_new(model, "byte_fallback", json_false());
    json_object_set_new(model, "ignore_merges", json_false());
    json_object_set_new(model, "vocab", vocab);
    json_object_set_new(model, "merges", mlist);
    return model;
}

enum vs_status mk_tokenizer_write(const char *dir, int64_t vocab)
{
    return mk_tokenizer_write_added(dir, vocab, MK_TOK_COUNT);
}

enum vs_status mk_tokenizer_write_added(const char *dir, int64_t vocab, int n_added)
{
    json_t *root = json_object(), *added = json_array(), *norm = json_object(), *pre = json_object(),
           *pres = json_array(), *split = json_object(), *pattern = json_object();
    for (int k = 0; k < n_added; k++) {
        json_t *t = json_object();
        json_object_set_new(t, "id", json_integer(mk_special_id(vocab, n_added, (enum mk_special)k)));
        json_object_set_new(t, "content", json_string(special_tokens[k]));
        json_object_set_new(t, "single_word", json_false());
        json_object_set_new(t, "lstrip", json_false());
        json_object_set_new(t, "rstrip", json_false());
        json_object_set_new(t, "normalized", json_false());
        json_object_set_new(t, "special", json_boolean(is_special(k)));
        json_array_append_new(added, t);
    }
    json_object_set_new(norm, "type", json_string("NFC"));
    json_object_set_new(pattern, "Regex", json_string(split_regex));
    json_object_set_new(split, "type", json_string("Split"));
    json_object_set_new(split, "pattern", pattern);
    json_object_set_new(split, "behavior", json_string("Isolated"));
    json_object_set_new(split, "invert", json_false());
    json_array_append_new(pres, split);
    json_array_append_new(pres, byte_level());
    json_object_set_new(pre, "type", json_string("Sequence"));
    json_object_set_new(pre, "pretokenizers", pres);

    json_object_set_new(root, "version", json_string("1.0"));
    json_object_set_new(root, "truncation", json_null());
    json_object_set_new(root, "padding", json_null());
    json_object_set_new(root, "added_tokens", added);
    json_object_set_new(root, "normalizer", norm);
    json_object_set_new(root, "pre_tokenizer", pre);
    json_object_set_new(root, "post_processor", byte_level());
    json_object_set_new(root, "decoder", byte_level());
    json_object_set_new(root, "model", make_model());

    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    char *path = vs_path_join(dir, "tokenizer.json");
    enum vs_status st = text && path ? vs_fs_write_file(path, text, strlen(text), 0644) : VS_ERR_NOMEM;
    free(text);
    free(path);
    return st;
}
