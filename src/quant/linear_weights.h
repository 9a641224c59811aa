/* A Linear's float32 weights as the outlier-suppression transforms (smoothing, QuaRot) edit
 * them in place: w [out, in] row-major (y = x·wᵀ + b), b [out] or NULL. Buffers are borrowed. */
#ifndef VS_QUANT_LINEAR_WEIGHTS_H
#define VS_QUANT_LINEAR_WEIGHTS_H

#include <stdint.h>

struct vs_linear_weights {
    const char *name; /* module name, for messages */
    float *w;
    float *b;
    int64_t out, in;
};

#endif
