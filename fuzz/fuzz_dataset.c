/* Calibration datasets: the first input byte picks the loader, the rest is the file.
 *   0: <dir>/index.json      (strict index, as a directory holding it)
 *   1: <dir>/index.jsonl     (strict index, JSON lines)
 *   2: data.json             (lenient text-only file)
 *   3: data.jsonl
 * The dataset directory also holds an image a.jpg, an audio a.wav and a sub/ folder, so that
 * relative paths in the input can resolve. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "data/dataset.h"
#include "fuzz_util.h"

static const char *const names[] = {"ds/index.json", "ds/index.jsonl", "data.json", "data.jsonl"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        free(fz_write("ds/a.jpg", "\xff\xd8\xff\xd9", 4));
        free(fz_write("ds/a.wav", "RIFF", 4));
        free(fz_write("ds/sub/b.png", "\x89PNG", 4));
        ready = 1;
    }
    if (size < 1 || size > (1 << 16))
        return 0;
    unsigned mode = data[0] % 4;
    /* only one index file at a time: both present is its own error */
    char *other = fz_path(names[mode == 0 ? 1 : 0]);
    remove(other);
    free(other);
    char *path = fz_write(names[mode], data + 1, size - 1);
    char *target = mode < 2 ? fz_path("ds") : fz_path(names[mode]);
    struct vs_dataset *d = NULL;
    if (vs_dataset_load(target, "default prompt", &d) == VS_OK) {
        size_t bad;
        vs_dataset_has_image_text(d, &bad);
        for (size_t i = 0; i < d->count; i++)
            if (!d->samples[i].text)
                abort(); /* text is never NULL */
        vs_dataset_free(d);
    }
    free(target);
    free(path);
    return 0;
}
