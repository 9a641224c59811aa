#include "model/qwen3_vl_positions.h"

#include <math.h>
#include <string.h>

enum vs_status vs_qwen3_vl_rope_index(const int64_t *ids, int64_t s, int64_t image_token_id,
                                      const int64_t (*grids)[3], int64_t n_images, int64_t merge,
                                      bool frame_time, int64_t *pos)
{
    int64_t *pt = pos, *ph = pos + s, *pw = pos + 2 * s;
    int64_t next = 0; /* previous maximum + 1 */
    int64_t img = 0, i = 0;
    while (i < s) {
        if (ids[i] != image_token_id) {
            pt[i] = ph[i] = pw[i] = next++;
            i++;
            continue;
        }
        if (img >= n_images)
            return vs_error_set(VS_ERR_MODEL, "token %lld: more image blocks than images (%lld)", (long long)i,
                                (long long)n_images);
        int64_t gt = grids[img][0], gh = grids[img][1] / merge, gw = grids[img][2] / merge, n = gt * gh * gw;
        if (i + n > s)
            return vs_error_set(VS_ERR_MODEL, "image %lld: needs %lld image tokens from position %lld, the sequence has %lld",
                                (long long)img, (long long)n, (long long)i, (long long)s);
        int64_t base = next, mx = base;
        for (int64_t t = 0; t < gt; t++)
            for (int64_t h = 0; h < gh; h++)
                for (int64_t w = 0; w < gw; w++, i++) {
                    if (ids[i] != image_token_id)
                        return vs_error_set(VS_ERR_MODEL, "image %lld: %lld image tokens expected at position %lld",
                                            (long long)img, (long long)n, (long long)(i - (t * gh * gw + h * gw + w)));
                    pt[i] = base + (frame_time ? t : 0);
                    ph[i] = base + h;
                    pw[i] = base + w;
                    int64_t m = pt[i] > ph[i] ? pt[i] : ph[i];
                    m = pw[i] > m ? pw[i] : m;
                    mx = m > mx ? m : mx;
                }
        next = mx + 1;
        img++;
    }
    if (img != n_images)
        return vs_error_set(VS_ERR_MODEL, "%lld images but %lld image token blocks", (long long)n_images, (long long)img);
    return VS_OK;
}

void vs_qwen3_vl_mrope(const int64_t *pos, int64_t s, int64_t d, double theta, const int64_t sec[3],
                       bool interleaved, float *cos, float *sin)
{
    int64_t half = d / 2;
    for (int64_t j = 0; j < half; j++) {
        double inv = pow(theta, -2.0 * (double)j / (double)d);
        int axis = interleaved ? ((j % 3 == 1 && j < 3 * sec[1]) ? 1 : (j % 3 == 2 && j < 3 * sec[2]) ? 2 : 0)
                               : (j < sec[0] ? 0 : j < sec[0] + sec[1] ? 1 : 2);
        const int64_t *p = pos + axis * s;
        for (int64_t t = 0; t < s; t++) {
            /* float32 angle as PyTorch computes it: position (float) × inv_freq (float32) */
            float a = (float)p[t] * (float)inv;
            cos[t * d + j] = cos[t * d + j + half] = cosf(a);
            sin[t * d + j] = sin[t * d + j + half] = sinf(a);
        }
    }
}

void vs_qwen3_vl_patch_coords(const int64_t (*grids)[3], int64_t n_images, int64_t merge, int64_t *rows,
                              int64_t *cols)
{
    int64_t k = 0;
    for (int64_t i = 0; i < n_images; i++) {
        int64_t gt = grids[i][0], gh = grids[i][1], gw = grids[i][2];
        for (int64_t t = 0; t < gt; t++)
            for (int64_t bh = 0; bh < gh / merge; bh++)
                for (int64_t bw = 0; bw < gw / merge; bw++)
                    for (int64_t ih = 0; ih < merge; ih++)
                        for (int64_t iw = 0; iw < merge; iw++, k++) {
                            rows[k] = bh * merge + ih;
                            cols[k] = bw * merge + iw;
                        }
    }
}

void vs_qwen3_vl_vision_rope(const int64_t *rows, const int64_t *cols, int64_t n, int64_t dv, float *cos,
                             float *sin)
{
    int64_t q = dv / 4, half = dv / 2;
    for (int64_t k = 0; k < q; k++) {
        float inv = (float)pow(10000.0, -2.0 * (double)k / (double)half);
        for (int64_t i = 0; i < n; i++) {
            float ar = (float)rows[i] * inv, ac = (float)cols[i] * inv;
            float *c = cos + i * dv, *s = sin + i * dv;
            c[k] = c[k + half] = cosf(ar);
            s[k] = s[k + half] = sinf(ar);
            c[q + k] = c[q + k + half] = cosf(ac);
            s[q + k] = s[q + k + half] = sinf(ac);
        }
    }
}

/* linspace(0, side − 1, n)[i] as torch computes it in float32. */
static float linspace_at(int64_t side, int64_t n, int64_t i)
{
    if (n == 1)
        return 0.0f;
    float step = (float)(side - 1) / (float)(n - 1);
    return i < n / 2 ? (float)i * step : (float)(side - 1) - (float)(n - 1 - i) * step;
}

void vs_qwen3_vl_pos_embed(const float *table, int64_t side, int64_t hidden, const int64_t (*grids)[3],
                           int64_t n_images, int64_t merge, float *out)
{
    int64_t k = 0;
    for (int64_t img = 0; img < n_images; img++) {
        int64_t gt = grids[img][0], gh = grids[img][1], gw = grids[img][2];
        for (int64_t t = 0; t < gt; t++)
            for (int64_t bh = 0; bh < gh / merge; bh++)
                for (int64_t bw = 0; bw < gw / merge; bw++)
                    for (int64_t ih = 0; ih < merge; ih++)
                        for (int64_t iw = 0; iw < merge; iw++, k++) {
                            int64_t r = bh * merge + ih, c = bw * merge + iw;
                            float hi = linspace_at(side, gh, r), wi = linspace_at(side, gw, c);
                            int64_t hf = (int64_t)hi, wf = (int64_t)wi;
                            int64_t hc = hf + 1 < side ? hf + 1 : side - 1, wc = wf + 1 < side ? wf + 1 : side - 1;
                            float dh = hi - (float)hf, dw = wi - (float)wf;
                            /* corners (hf,wf), (hf,wc), (hc,wf), (hc,wc) summed in that order */
                            float w00 = (1 - dh) * (1 - dw), w01 = (1 - dh) * dw, w10 = dh * (1 - dw), w11 = dh * dw;
                            const float *e00 = table + (hf * side + wf) * hidden, *e01 = table + (hf * side + wc) * hidden;
                            const float *e10 = table + (hc * side + wf) * hidden, *e11 = table + (hc * side + wc) * hidden;
                            float *o = out + k * hidden;
                            for (int64_t x = 0; x < hidden; x++)
                                o[x] = e00[x] * w00 + e01[x] * w01 + e10[x] * w10 + e11[x] * w11;
                        }
    }
}
