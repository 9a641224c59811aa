/* Byte-level BPE tokenizer loaded from a Hugging Face tokenizer.json (the Qwen2/2.5/3/3-VL scheme).
 *
 * Supported: model BPE (vocab, merges as "a b" strings or ["a", "b"] pairs), added tokens with
 * plain matching (single_word/lstrip/rstrip/normalized all false), normalizer NFC or none,
 * pre_tokenizer Sequence[Split(Regex, Isolated, invert false), ByteLevel(add_prefix_space false,
 * use_regex false)], decoder ByteLevel. Anything else is VS_ERR_UNSUPPORTED naming it.
 *
 * Encoding: added tokens are matched first in the raw text (leftmost, longest at a position) and
 * never split; the other segments are NFC-normalized, split with the pre-tokenizer regex (PCRE2,
 * UTF + UCP, JIT when available), mapped to byte-level symbols and BPE-merged. No special tokens
 * are added around the text (Qwen has no template post-processor).
 *
 * Invalid UTF-8 input is not an error: each maximal invalid subpart (Unicode 3.9, "substitution of
 * maximal subparts") becomes U+FFFD first, as Rust's String::from_utf8_lossy and the WHATWG
 * decoder do, so the ids equal those of the reference tokenizer applied to the lossily decoded
 * string.
 *
 * A loaded tokenizer is read-only: encode/decode may run concurrently on one instance. */
#ifndef VS_TEXT_TOKENIZER_H
#define VS_TEXT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

struct vs_tokenizer;

/* Loads tokenizer.json; errors name the file and the JSON path at fault. */
enum vs_status vs_tokenizer_open(const char *path, struct vs_tokenizer **out);
void vs_tokenizer_close(struct vs_tokenizer *tok);

/* Encodes len bytes of text (any bytes) into *ids (caller frees) of *n_ids entries. */
enum vs_status vs_tokenizer_encode(const struct vs_tokenizer *tok, const char *text, size_t len,
                                   int32_t **ids, size_t *n_ids);

/* Decodes ids to bytes (added tokens verbatim, vocab tokens through the byte-level table);
 * *text (caller frees) is NUL-terminated, *len excludes the NUL. Unknown ids are an error. */
enum vs_status vs_tokenizer_decode(const struct vs_tokenizer *tok, const int32_t *ids, size_t n_ids,
                                   char **text, size_t *len);

/* Id of an added token's content or a vocab token's byte-level string; -1 if none. */
int32_t vs_tokenizer_token_id(const struct vs_tokenizer *tok, const char *token);

/* One more than the largest id (vocab and added tokens). */
size_t vs_tokenizer_n_ids(const struct vs_tokenizer *tok);

#endif
