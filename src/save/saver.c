#include "save/saver.h"

#include <stddef.h>

#include "save/ascendv1.h"
#include "save/compressed_tensors.h"

static const struct vs_saver_type *const savers[] = {
    &vs_ascendv1_saver,
    &vs_compressed_tensors_saver,
};

const struct vs_saver_type *vs_saver_find(enum vs_proc_type type)
{
    for (size_t i = 0; i < sizeof savers / sizeof *savers; i++)
        if (savers[i]->type == type)
            return savers[i];
    return NULL;
}
