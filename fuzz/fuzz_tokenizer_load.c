/* A tokenizer.json: vs_tokenizer_open (model, merges, added tokens, normalizer,
 * pre-tokenizer, decoder); an accepted one then encodes and decodes a fixed text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "text/tokenizer.h"

static const char text[] = "<|im_start|>user\nHello, the image is 12 cafe\xcc\x81s!\n<|im_end|>\xff";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1 << 17))
        return 0;
    char *path = fz_write("tokenizer.json", data, size);
    struct vs_tokenizer *tok = NULL;
    if (vs_tokenizer_open(path, &tok) == VS_OK) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (vs_tokenizer_encode(tok, text, strlen(text), &ids, &n) == VS_OK) {
            char *out = NULL;
            size_t len = 0;
            if (vs_tokenizer_decode(tok, ids, n, &out, &len) == VS_OK)
                free(out);
            free(ids);
        }
        vs_tokenizer_token_id(tok, "<|im_end|>");
        vs_tokenizer_n_ids(tok);
        vs_tokenizer_close(tok);
    }
    free(path);
    return 0;
}
