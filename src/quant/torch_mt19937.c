/* MT19937 (Matsumoto & Nishimura 1998) with the reference 32-bit seeding, as PyTorch's
 * at::mt19937 implements it. */
#include "quant/torch_mt19937.h"

#define MT_N 624
#define MT_M 397

void vs_mt19937_seed(struct vs_mt19937 *g, uint64_t seed)
{
    g->state[0] = (uint32_t)(seed & 0xffffffffu);
    for (uint32_t j = 1; j < MT_N; j++)
        g->state[j] = 1812433253u * (g->state[j - 1] ^ (g->state[j - 1] >> 30)) + j;
    g->next = MT_N;
}

static void regenerate(struct vs_mt19937 *g)
{
    uint32_t *s = g->state;
    for (int i = 0; i < MT_N; i++) {
        uint32_t y = (s[i] & 0x80000000u) | (s[(i + 1) % MT_N] & 0x7fffffffu);
        s[i] = s[(i + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    g->next = 0;
}

uint32_t vs_mt19937_next(struct vs_mt19937 *g)
{
    if (g->next >= MT_N)
        regenerate(g);
    uint32_t y = g->state[g->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

void vs_torch_randint(uint64_t seed, int64_t low, int64_t high, int64_t n, int64_t *out)
{
    struct vs_mt19937 g;
    vs_mt19937_seed(&g, seed);
    uint64_t range = (uint64_t)(high - low);
    for (int64_t i = 0; i < n; i++)
        out[i] = low + (int64_t)(vs_mt19937_next(&g) % range);
}

void vs_torch_random_signs(uint64_t seed, int64_t n, int8_t *d)
{
    struct vs_mt19937 g;
    vs_mt19937_seed(&g, seed);
    for (int64_t i = 0; i < n; i++)
        d[i] = (int8_t)((vs_mt19937_next(&g) & 1u) ? 1 : -1);
}
