#include "runner/unit_file.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"
#include "tensor/dtype.h"

enum { CHUNK = 1 << 16 };

/* Whether every one of the n floats v fits dtype exactly (tmp: CHUNK values of dtype, back:
 * CHUNK floats). */
static bool fits_exactly(enum vs_dtype dtype, const float *v, size_t n, void *tmp, float *back)
{
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        if (vs_convert_from_f32(dtype, v + i, tmp, k) != 0)
            return false;
        vs_convert_to_f32(dtype, tmp, back, k);
        if (memcmp(back, v + i, k * sizeof *back) != 0)
            return false;
    }
    return true;
}

/* The selected parameters in u's dtypes: float32 values converted (in place when consuming, else
 * through buf), views read from the checkpoint, other parameters as f holds their bytes (a
 * weight stored back as bf16 is of the checkpoint's bf16). */
static enum vs_status write_params(const struct vs_unit *u, struct vs_unit_f32 *f, const bool *which, bool consume,
                                   struct vs_st_writer *w, bool *exact)
{
    void *tmp = vs_malloc(CHUNK * sizeof(float)), *buf = NULL;
    float *back = vs_malloc(CHUNK * sizeof *back);
    enum vs_status st = tmp && back ? VS_OK : VS_ERR_NOMEM;
    *exact = true;
    for (size_t i = 0; i < u->n_params && st == VS_OK && *exact; i++) {
        const float *v = vs_unit_f32_values(f, i);
        *exact = !v || (which && !which[i]) || fits_exactly(u->params[i].dtype, v, vs_param_numel(&u->params[i]), tmp, back);
    }
    for (size_t i = 0; i < u->n_params && st == VS_OK && *exact; i++) {
        if (which && !which[i])
            continue;
        const struct vs_param *p = &u->params[i];
        float *v = vs_unit_f32_values(f, i);
        const void *data = f->tensors[i].data; /* not float32: the copy holds the bytes of u's dtype */
        /* (a wider dtype than float32 goes through buf) */
        if (v && consume &&
            (p->dtype == VS_DTYPE_F32 || vs_convert_from_f32_in_place(p->dtype, v, vs_param_numel(p)) == 0)) {
            data = v;
        } else if (v || vs_unit_f32_is_view(f, i)) { /* through buf: converted, or the checkpoint's bytes */
            void *b = vs_realloc(buf, vs_param_nbytes(p) ? vs_param_nbytes(p) : 1);
            if (!b) {
                st = VS_ERR_NOMEM;
                break;
            }
            buf = b;
            if (v)
                vs_convert_from_f32(p->dtype, v, buf, vs_param_numel(p));
            else if ((st = vs_param_read_raw(&f->unit->params[i], buf)) != VS_OK)
                break;
            data = buf;
        }
        st = vs_st_writer_add(w, p->name, p->dtype, p->ndim, p->shape, data, vs_param_nbytes(p));
    }
    free(tmp);
    free(back);
    free(buf);
    return st;
}

/* out->unit: u's name, the parameters of file in u's order, u's Linears whose weight is there. */
static enum vs_status view(const struct vs_unit *u, const bool *which, struct vs_unit_file *out)
{
    struct vs_unit *v = vs_unit_new(u->name);
    enum vs_status st = v ? VS_OK : VS_ERR_NOMEM;
    for (size_t i = 0; st == VS_OK && i < u->n_params; i++) {
        if (which && !which[i])
            continue;
        const struct vs_st_tensor *t = vs_st_file_find(out->file, u->params[i].name);
        st = t ? vs_unit_add_param(v, u->params[i].name, t)
               : vs_error_set(VS_ERR_INTERNAL, "%s: missing from the file it was written to", u->params[i].name);
    }
    for (size_t i = 0; st == VS_OK && i < u->n_linears; i++) {
        const struct vs_linear *l = &u->linears[i];
        bool has_bias = l->bias >= 0 && (!which || which[l->bias]);
        if (!which || which[l->weight])
            st = vs_unit_add_linear(v, l->name, u->params[l->weight].name, has_bias ? u->params[l->bias].name : NULL);
        if (st == VS_OK && (!which || which[l->weight]))
            v->linears[v->n_linears - 1].kept_float = l->kept_float;
    }
    if (st != VS_OK) {
        vs_unit_free(v);
        return st;
    }
    out->unit = v;
    return VS_OK;
}

enum vs_status vs_unit_file_write(const struct vs_unit *u, struct vs_unit_f32 *f, const bool *which, bool consume,
                                  const char *dir, const char *prefix, bool *exact, struct vs_unit_file *out)
{
    *out = (struct vs_unit_file){0};
    struct vs_st_writer *w;
    enum vs_status st = vs_st_writer_open(dir, prefix, 0, 0600, &w);
    if (st != VS_OK)
        return st;
    if ((st = write_params(u, f, which, consume, w, exact)) != VS_OK || !*exact) {
        vs_st_writer_abort(w);
        return st;
    }
    if ((st = vs_st_writer_close(w)) != VS_OK)
        return st;
    char *name = vs_strfmt("%s.safetensors", prefix), *path = name ? vs_path_join(dir, name) : NULL;
    free(name);
    if (!path)
        return VS_ERR_NOMEM;
    st = vs_st_file_open(path, &out->file);
    unlink(path); /* mapped: readable until closed, and never part of an export */
    free(path);
    if (st == VS_OK)
        st = view(u, which, out);
    if (st != VS_OK)
        vs_unit_file_close(out);
    return st;
}

void vs_unit_file_close(struct vs_unit_file *uf)
{
    vs_unit_free(uf->unit);
    vs_st_file_close(uf->file);
    *uf = (struct vs_unit_file){0};
}
