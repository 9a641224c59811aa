/* The generated checkpoint's tokenizer: a small byte-level BPE tokenizer.json in the layout of the
 * real Qwen3 one (NFC normalizer, the Qwen Split regex + ByteLevel, the 26 Qwen added tokens, and
 * for InternVL3.5 its three image tokens after them), so that prompts can be tokenized for a model
 * of a small vocabulary. n_added below is the number of added tokens: MK_TOK_COUNT (Qwen's) or
 * MK_TOK_COUNT_INTERNVL (Qwen's, then <img>, </img>, <IMG_CONTEXT>). */
#ifndef VS_TOOLS_MKMODEL_TOKENIZER_H
#define VS_TOOLS_MKMODEL_TOKENIZER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"

/* The added tokens, in id order from <|endoftext|>: Qwen's, then InternVL's (ids 151669-151671 in
 * InternVL3.5, after Qwen3's). */
enum mk_special {
    MK_TOK_ENDOFTEXT = 0,
    MK_TOK_IM_START = 1,
    MK_TOK_IM_END = 2,
    MK_TOK_VISION_START = 9,
    MK_TOK_VISION_END = 10,
    MK_TOK_IMAGE_PAD = 12,
    MK_TOK_VIDEO_PAD = 13,
    MK_TOK_COUNT = 26,
    MK_TOK_IMG_START = 26,   /* <img> */
    MK_TOK_IMG_END = 27,     /* </img> */
    MK_TOK_IMG_CONTEXT = 28, /* <IMG_CONTEXT> */
    MK_TOK_COUNT_INTERNVL = 29,
};

struct json_t;

/* Whether a model of this vocabulary size gets a tokenizer: it needs room for the 256 byte
 * tokens, the merges and the n_added added tokens. */
bool mk_tokenizer_fits(int64_t vocab, int n_added);

/* Id of added token k (< n_added): the real id (151643 + k) when the vocabulary has room for all
 * n_added, else the last n_added ids of the vocabulary (when mk_tokenizer_fits), else the real id
 * (the checkpoint then has no tokenizer and serves data-free tests only). */
int64_t mk_special_id(int64_t vocab, int n_added, enum mk_special k);

/* tokenizer_config.json's added_tokens_decoder for those added tokens: {"<id>": {"content", ...}}
 * in id order, as transformers writes it (NULL when out of memory). */
struct json_t *mk_added_tokens_decoder(int64_t vocab, int n_added);

/* Writes dir/tokenizer.json with the n_added added tokens for a model of this vocabulary
 * (mk_tokenizer_fits must hold). */
enum vs_status mk_tokenizer_write_added(const char *dir, int64_t vocab, int n_added);

/* mk_tokenizer_write_added with Qwen's MK_TOK_COUNT added tokens. */
enum vs_status mk_tokenizer_write(const char *dir, int64_t vocab);

#endif
