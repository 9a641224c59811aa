/* The generated checkpoint's tokenizer: a small byte-level BPE tokenizer.json in the layout of the
 * real Qwen3 one (NFC normalizer, the Qwen Split regex + ByteLevel, the 26 Qwen added tokens), so
 * that prompts can be tokenized for a model of a small vocabulary. */
#ifndef VS_TOOLS_MKMODEL_TOKENIZER_H
#define VS_TOOLS_MKMODEL_TOKENIZER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"

/* The Qwen added tokens, in id order from <|endoftext|>. */
enum mk_special {
    MK_TOK_ENDOFTEXT = 0,
    MK_TOK_IM_START = 1,
    MK_TOK_IM_END = 2,
    MK_TOK_VISION_START = 9,
    MK_TOK_VISION_END = 10,
    MK_TOK_IMAGE_PAD = 12,
    MK_TOK_VIDEO_PAD = 13,
    MK_TOK_COUNT = 26,
};

/* Whether a model of this vocabulary size gets a tokenizer: it needs room for the 256 byte
 * tokens, the merges and the added tokens. */
bool mk_tokenizer_fits(int64_t vocab);

/* Id of an added token: the real Qwen id (151643 + k) when the vocabulary has room for it, else
 * the last MK_TOK_COUNT ids of the vocabulary (when mk_tokenizer_fits), else the real id (the
 * checkpoint then has no tokenizer and serves data-free tests only). */
int64_t mk_special_id(int64_t vocab, enum mk_special k);

/* Writes dir/tokenizer.json for a model of this vocabulary (mk_tokenizer_fits must hold). */
enum vs_status mk_tokenizer_write(const char *dir, int64_t vocab);

#endif
