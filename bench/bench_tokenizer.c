/* Tokenizer throughput on one core: encodes the golden corpus strings (tests/golden/tokenizer/
 * corpus.hex) one by one, and all of them joined into one document, repeated to ~MB sizes.
 * Usage: bench_tokenizer TOKENIZER_JSON [CORPUS_HEX] [MEGABYTES] */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text/tokenizer.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int hexval(int c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s TOKENIZER_JSON [CORPUS_HEX] [MEGABYTES]\n", argv[0]);
        return 2;
    }
    const char *corpus_path = argc > 2 ? argv[2] : "tests/golden/tokenizer/corpus.hex";
    double mb = argc > 3 ? atof(argv[3]) : 16;
    double t0 = now();
    struct vs_tokenizer *tok;
    if (vs_tokenizer_open(argv[1], &tok)) {
        fprintf(stderr, "%s\n", vs_error_message());
        return 1;
    }
    printf("load: %.3f s\n", now() - t0);
    FILE *f = fopen(corpus_path, "r");
    if (!f) {
        perror(corpus_path);
        return 1;
    }
    /* Lines decoded from hex; starts[] delimits them inside one buffer. */
    size_t cap = 1 << 20, len = 0, nl = 0, lcap = 1024;
    char *text = malloc(cap), line[1 << 16];
    size_t *starts = malloc(lcap * sizeof *starts);
    while (fgets(line, sizeof line, f)) {
        size_t h = strcspn(line, "\n") / 2;
        if (len + h + 1 > cap)
            text = realloc(text, cap *= 2);
        if (nl + 2 > lcap)
            starts = realloc(starts, (lcap *= 2) * sizeof *starts);
        starts[nl++] = len;
        for (size_t i = 0; i < h; i++)
            text[len++] = (char)(hexval(line[2 * i]) * 16 + hexval(line[2 * i + 1]));
        text[len++] = '\n';
    }
    fclose(f);
    starts[nl] = len;

    size_t target = (size_t)(mb * 1e6), done = 0, n_tok = 0;
    t0 = now();
    while (done < target)
        for (size_t i = 0; i < nl; i++) {
            int32_t *ids;
            size_t n;
            if (vs_tokenizer_encode(tok, text + starts[i], starts[i + 1] - starts[i], &ids, &n))
                return 1;
            free(ids);
            n_tok += n;
            done += starts[i + 1] - starts[i];
        }
    double dt = now() - t0;
    printf("per string: %zu strings x %zu bytes: %.2f MB/s, %.2f Mtokens/s\n", nl, len,
           done / dt / 1e6, n_tok / dt / 1e6);

    size_t reps = target / len + 1;
    char *doc = malloc(len * reps);
    for (size_t r = 0; r < reps; r++)
        memcpy(doc + r * len, text, len);
    int32_t *ids;
    size_t n;
    t0 = now();
    if (vs_tokenizer_encode(tok, doc, len * reps, &ids, &n))
        return 1;
    dt = now() - t0;
    printf("one document: %zu bytes: %.2f MB/s, %zu tokens\n", len * reps, len * reps / dt / 1e6, n);
    free(ids);
    free(doc);
    free(text);
    free(starts);
    vs_tokenizer_close(tok);
    return 0;
}
