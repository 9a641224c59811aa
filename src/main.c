#include <malloc.h>

#include "cli/cli.h"
#include "io/json_util.h"

int main(int argc, char **argv)
{
    /* Activations of a batch of calibration samples are allocated and freed per Linear (MiB to
     * tens of MiB each). glibc would map each one afresh and unmap it on free, so every call paid
     * page faults on zeroed pages again; kept in the heap, the freed blocks are reused, and at
     * most 64 MiB of free heap is kept. 32 MiB is the largest threshold glibc accepts on 64-bit
     * (half its 64 MiB heap size; a larger value is refused, and M_TRIM_THRESHOLD alone would
     * pin the threshold at its 128 KiB default). Larger blocks (the largest weights, the
     * embedding) are still mapped and unmapped whole. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    vs_json_hook_allocs(); /* jansson's allocation failures become errors, not cut strings */
    return vs_cli_main(argc, argv);
}
