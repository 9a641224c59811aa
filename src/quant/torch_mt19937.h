/* PyTorch's CPU random generator, as far as msModelSlim's QuaRot uses it.
 *
 * torch.manual_seed(s) seeds the CPU generator's MT19937 engine with the low 32 bits of s
 * (the reference init_genrand). torch.randint(low, high, (n,)) on the CPU with
 * high - low < 2^32 then draws one 32-bit engine output u per element, in order, and returns
 * low + u % (high - low). msModelSlim's random Hadamard matrix takes its ±1 signs from
 * torch.randint(0, 2, (n,)) * 2 - 1 right after torch.manual_seed(1234). Checked against
 * torch 1.13 (tests/golden/outlier/make_golden.py). */
#ifndef VS_QUANT_TORCH_MT19937_H
#define VS_QUANT_TORCH_MT19937_H

#include <stdint.h>

#define VS_QUAROT_SEED 1234

struct vs_mt19937 {
    uint32_t state[624];
    int next; /* index of the next state word to temper; 624 = regenerate first */
};

void vs_mt19937_seed(struct vs_mt19937 *g, uint64_t seed);
uint32_t vs_mt19937_next(struct vs_mt19937 *g);

/* out[i] = torch.randint(low, high, (n,))[i] after torch.manual_seed(seed); requires
 * 0 < high - low < 2^32. */
void vs_torch_randint(uint64_t seed, int64_t low, int64_t high, int64_t n, int64_t *out);

/* d[i] = 2 * torch.randint(0, 2, (n,))[i] - 1 after torch.manual_seed(seed): the ±1 signs of
 * msModelSlim's random Hadamard matrix. */
void vs_torch_random_signs(uint64_t seed, int64_t n, int8_t *d);

#endif
