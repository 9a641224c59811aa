/* Encoding any bytes with a fixed tokenizer (the generated checkpoint's: NFC, the Qwen split
 * regex, byte-level BPE, the Qwen added tokens), then decoding the ids back. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "mkmodel_tokenizer.h"
#include "text/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vs_tokenizer *tok;
    if (!tok) {
        char *dir = fz_path("tok"), *path = fz_path("tok/tokenizer.json");
        free(fz_write("tok/.keep", "", 0));
        if (mk_tokenizer_write(dir, 320) != VS_OK || vs_tokenizer_open(path, &tok) != VS_OK)
            abort();
        free(dir);
        free(path);
    }
    if (size > (1 << 14))
        return 0;
    int32_t *ids = NULL;
    size_t n = 0;
    if (vs_tokenizer_encode(tok, (const char *)data, size, &ids, &n) != VS_OK)
        abort(); /* any bytes encode */
    char *text = NULL;
    size_t len = 0;
    if (vs_tokenizer_decode(tok, ids, n, &text, &len) != VS_OK)
        abort(); /* its own ids decode */
    free(text);
    free(ids);
    return 0;
}
