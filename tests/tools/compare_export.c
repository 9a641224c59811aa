/* vs-compare-export: compares two `ascendv1` export directories, ACTUAL (what vlmslim wrote)
 * against EXPECTED (a golden export from the numpy reference).
 *
 *   vs-compare-export [--ties TIES.json] [--rtol R] [--rtol-max M] [--quant-bias-rtol Q] [--quant-bias-atol A]
 *                     [--int8-atol K] [--max-report N] ACTUAL_DIR EXPECTED_DIR
 *
 * Checks, reporting the first differences of each kind:
 *   - the same set of files (relative paths), so shard names and side files agree;
 *   - every *.safetensors file is well formed (header in bounds, known dtypes, spans that
 *     tile the data area exactly); the tensors of all quant_model_weights*.safetensors shards
 *     form one pool per directory, any other *.safetensors file is a pool of its own;
 *   - the same tensor names in each pool, with equal dtypes and shapes;
 *   - values: int8 equal, except |diff| = 1 at the elements TIES.json lists for that tensor
 *     (the reference marks every element whose w/scale lies within 2^-17 relative of a .5
 *     rounding boundary; a float32 implementation that divides in another order, or whose
 *     scale differs in its last bits, may round those the other way and nowhere else);
 *     without --ties no int8 difference is accepted (with --int8-atol K, differences up to K
 *     anywhere are, and counted: bf16 calibration's rounding flips, docs/compute.md). Float tensors (F16, BF16, F32, F64)
 *     equal within 1e-6 relative (--rtol: R instead; NaN equals NaN; with --rtol-max M an element
 *     also passes within M × the tensor's largest |expected|, for tensors a rotation mixes, whose
 *     small elements carry the rounding of sums of large ones), and so are the float32 bit
 *     patterns an I64 `*.deq_scale` holds (W8A8 of a non-bf16 model); with --quant-bias-rtol Q an
 *     I32 `*.quant_bias` element may differ by up to floor(Q × |expected|) (round(b / deq_scale) of a
 *     large float32 bias b: its last bits decide near a .5; with --quant-bias-atol A, or by up to A);
 *     quant_bias elements are compared with each export's own o_x · Σ W_q[row,:] added back, so that
 *     an int8 weight accepted at a tie moves its row's quant_bias as the formula says and no more;
 *     all other dtypes byte-equal;
 *   - quant_model_description.json: equal as a set of key/value pairs, and (in each
 *     directory) one entry per written tensor plus the known global keys;
 *   - quant_model_weights.safetensors.index.json: weight_map consistent with the shard files
 *     of its own directory (every tensor listed once, in the file that holds it; total_size
 *     the sum of tensor bytes), and equal between the two directories;
 *   - other files byte-equal; a *.json file that differs only in formatting (same values,
 *     same key order) is accepted with a note, since two JSON writers format numbers and
 *     whitespace differently.
 * Exit status: 0 equal, 1 differences (or an unreadable/malformed file), 2 usage error. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static double FLOAT_RTOL = 1e-6;
static double FLOAT_RTOL_MAX = 0; /* --rtol-max: tolerance relative to the tensor's largest |expected| */
static double QUANT_BIAS_RTOL = 0; /* --quant-bias-rtol: I32 *.quant_bias within this relative (floored) */
static long QUANT_BIAS_ATOL = 0;   /* --quant-bias-atol: ... or within this many steps */
#define WEIGHTS_PREFIX "quant_model_weights"
#define INDEX_NAME "quant_model_weights.safetensors.index.json"
#define DESCRIPTION_NAME "quant_model_description.json"

static size_t g_max_report = 20;
static size_t g_differences;
static size_t g_tie_diffs;
static int INT8_ATOL = 0;          /* --int8-atol: int8 elements may differ by this much anywhere */
static size_t g_int8_diffs;        /* ... and how many did */

/* Records one difference; prints it while under the report limit. */
static void diff(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diff(const char *fmt, ...)
{
    if (g_differences++ < g_max_report) {
        va_list ap;
        va_start(ap, fmt);
        fputs("  ", stdout);
        vprintf(fmt, ap);
        fputc('\n', stdout);
        va_end(ap);
    } else if (g_differences == g_max_report + 1) {
        puts("  ... (further differences not shown)");
    }
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fputs("vs-compare-export: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p) {
        fputs("vs-compare-export: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = xcalloc(n, 1);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ------------------------------------------------------------------ file lists */

struct names {
    char **v;
    size_t n, cap;
};

static void names_push(struct names *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, l->cap * sizeof *v);
        if (!v) {
            fputs("vs-compare-export: out of memory\n", stderr);
            exit(1);
        }
        l->v = v;
    }
    l->v[l->n++] = xstrdup(s);
}

static void names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool names_has(const struct names *l, const char *s)
{
    return bsearch(&s, l->v, l->n, sizeof *l->v, cmp_str) != NULL;
}

/* Relative paths of the regular files under root (recursively), sorted. Anything that is
 * neither a file nor a directory is reported as a difference. */
static int list_files(const char *root, const char *rel, struct names *out)
{
    char *dir = rel[0] ? join(root, rel) : xstrdup(root);
    DIR *d = opendir(dir);
    if (!d) {
        printf("vs-compare-export: %s: cannot open directory: %s\n", dir, strerror(errno));
        free(dir);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *r = rel[0] ? join(rel, e->d_name) : xstrdup(e->d_name);
        char *full = join(root, r);
        struct stat sb;
        if (lstat(full, &sb) != 0) {
            printf("vs-compare-export: %s: %s\n", full, strerror(errno));
            rc = -1;
        } else if (S_ISDIR(sb.st_mode)) {
            rc = list_files(root, r, out);
        } else if (S_ISREG(sb.st_mode)) {
            names_push(out, r);
        } else {
            diff("%s: not a regular file or directory", full);
        }
        free(full);
        free(r);
    }
    closedir(d);
    free(dir);
    if (rc == 0 && !rel[0])
        qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return rc;
}

/* ------------------------------------------------------------------ safetensors */

enum dt { DT_BOOL, DT_U8, DT_I8, DT_I16, DT_U16, DT_I32, DT_U32, DT_I64, DT_U64, DT_F16, DT_BF16,
          DT_F32, DT_F64, DT_F8_E4M3, DT_COUNT };
static const char *const dt_names[DT_COUNT] = {"BOOL", "U8", "I8", "I16", "U16", "I32", "U32",
                                               "I64", "U64", "F16", "BF16", "F32", "F64", "F8_E4M3"};
static const size_t dt_sizes[DT_COUNT] = {1, 1, 1, 2, 2, 4, 4, 8, 8, 2, 2, 4, 8, 1};

struct tensor {
    const char *name; /* owned by the header JSON */
    enum dt dtype;
    int ndim;
    int64_t shape[8];
    const unsigned char *data;
    uint64_t nbytes;
    uint64_t begin;
    const char *file; /* relative path */
};

struct stfile {
    char *rel;
    unsigned char *map;
    size_t size;
    json_t *header;
    struct tensor *t;
    size_t n;
};

static int cmp_span(const void *a, const void *b)
{
    const struct tensor *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Maps and validates one safetensors file; on a format error prints it and returns -1. */
static int st_open(const char *root, const char *rel, struct stfile *f)
{
    memset(f, 0, sizeof *f);
    f->rel = xstrdup(rel);
    char *path = join(root, rel);
    int fd = open(path, O_RDONLY);
    struct stat sb;
    int rc = -1;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        diff("%s: cannot read: %s", path, strerror(errno));
        goto out;
    }
    f->size = (size_t)sb.st_size;
    if (f->size < 8) {
        diff("%s: %zu bytes, shorter than the 8-byte header length", path, f->size);
        goto out;
    }
    f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        diff("%s: cannot map: %s", path, strerror(errno));
        goto out;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | f->map[i];
    if (hlen > f->size - 8) {
        diff("%s: header length %llu runs past the end of the file (%zu bytes)", path,
             (unsigned long long)hlen, f->size);
        goto out;
    }
    json_error_t err;
    f->header = json_loadb((const char *)f->map + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &err);
    if (!f->header || !json_is_object(f->header)) {
        diff("%s: header is not a JSON object: %s", path, f->header ? "wrong type" : err.text);
        goto out;
    }
    const unsigned char *data = f->map + 8 + hlen;
    uint64_t data_size = f->size - 8 - hlen;
    f->t = xcalloc(json_object_size(f->header), sizeof *f->t);
    const char *key;
    json_t *val;
    json_object_foreach(f->header, key, val) {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        struct tensor *t = &f->t[f->n];
        t->name = key;
        t->file = f->rel;
        json_t *jd = json_object_get(val, "dtype"), *js = json_object_get(val, "shape"),
               *jo = json_object_get(val, "data_offsets");
        int dt = -1;
        for (int i = 0; jd && json_is_string(jd) && i < DT_COUNT; i++)
            if (strcmp(json_string_value(jd), dt_names[i]) == 0)
                dt = i;
        if (dt < 0) {
            diff("%s: tensor '%s': missing or unknown dtype", path, key);
            goto out;
        }
        t->dtype = (enum dt)dt;
        if (!json_is_array(js) || json_array_size(js) > 8) {
            diff("%s: tensor '%s': shape must be an array of at most 8 ints", path, key);
            goto out;
        }
        uint64_t numel = 1;
        t->ndim = (int)json_array_size(js);
        for (int i = 0; i < t->ndim; i++) {
            json_t *d = json_array_get(js, (size_t)i);
            if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > (1LL << 40)) {
                diff("%s: tensor '%s': bad shape entry %d", path, key, i);
                goto out;
            }
            t->shape[i] = json_integer_value(d);
            numel *= (uint64_t)t->shape[i];
            if (numel > (1ULL << 50)) {
                diff("%s: tensor '%s': shape too large", path, key);
                goto out;
            }
        }
        if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
            !json_is_integer(json_array_get(jo, 1))) {
            diff("%s: tensor '%s': data_offsets must be [begin, end]", path, key);
            goto out;
        }
        json_int_t b = json_integer_value(json_array_get(jo, 0)), e = json_integer_value(json_array_get(jo, 1));
        if (b < 0 || e < b || (uint64_t)e > data_size || (uint64_t)(e - b) != numel * dt_sizes[dt]) {
            diff("%s: tensor '%s': data_offsets [%lld, %lld] do not hold %llu x %zu bytes within %llu",
                 path, key, (long long)b, (long long)e, (unsigned long long)numel, dt_sizes[dt],
                 (unsigned long long)data_size);
            goto out;
        }
        t->begin = (uint64_t)b;
        t->nbytes = (uint64_t)(e - b);
        t->data = data + b;
        f->n++;
    }
    /* The safetensors format requires the spans to tile the data area without holes. */
    struct tensor *sorted = xcalloc(f->n, sizeof *sorted);
    memcpy(sorted, f->t, f->n * sizeof *sorted);
    qsort(sorted, f->n, sizeof *sorted, cmp_span);
    uint64_t pos = 0;
    bool tiled = true;
    for (size_t i = 0; i < f->n && tiled; i++) {
        if (sorted[i].begin != pos) {
            diff("%s: tensor '%s' starts at %llu, expected %llu (hole or overlap)", path, sorted[i].name,
                 (unsigned long long)sorted[i].begin, (unsigned long long)pos);
            tiled = false;
        }
        pos += sorted[i].nbytes;
    }
    if (tiled && pos != data_size) {
        diff("%s: data area has %llu bytes, tensors cover %llu", path, (unsigned long long)data_size,
             (unsigned long long)pos);
        tiled = false;
    }
    free(sorted);
    rc = tiled ? 0 : -1;
out:
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

static void st_close(struct stfile *f)
{
    if (f->map)
        munmap(f->map, f->size);
    json_decref(f->header);
    free(f->t);
    free(f->rel);
}

/* All tensors of a set of files, sorted by name. */
struct pool {
    struct tensor **t;
    size_t n;
};

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp((*(struct tensor *const *)a)->name, (*(struct tensor *const *)b)->name);
}

/* Builds a pool of the files whose index is in sel; reports duplicate names. */
static void pool_build(struct stfile *files, const size_t *sel, size_t nsel, const char *dir,
                       struct pool *p)
{
    size_t total = 0;
    for (size_t i = 0; i < nsel; i++)
        total += files[sel[i]].n;
    p->t = xcalloc(total, sizeof *p->t);
    p->n = 0;
    for (size_t i = 0; i < nsel; i++)
        for (size_t j = 0; j < files[sel[i]].n; j++)
            p->t[p->n++] = &files[sel[i]].t[j];
    qsort(p->t, p->n, sizeof *p->t, cmp_tensor_name);
    for (size_t i = 1; i < p->n; i++)
        if (strcmp(p->t[i - 1]->name, p->t[i]->name) == 0)
            diff("%s: tensor '%s' is in both %s and %s", dir, p->t[i]->name, p->t[i - 1]->file, p->t[i]->file);
}

static struct tensor *pool_find(const struct pool *p, const char *name)
{
    struct tensor key = {.name = name}, *kp = &key;
    struct tensor **hit = bsearch(&kp, p->t, p->n, sizeof *p->t, cmp_tensor_name);
    return hit ? *hit : NULL;
}

/* ------------------------------------------------------------------ values */

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v;
    if (e == 0)
        v = ldexp(m, -24);
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexp(m | 0x400, e - 25);
    return (h & 0x8000) ? -v : v;
}

static double element(enum dt dt, const unsigned char *p)
{
    switch (dt) {
    case DT_F16:
        return half_to_double(rd16(p));
    case DT_BF16: {
        uint32_t u = (uint32_t)rd16(p) << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case DT_F32: {
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case DT_F64: {
        uint64_t u = 0;
        for (int i = 7; i >= 0; i--)
            u = u << 8 | p[i];
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    default:
        abort(); /* only called for float dtypes */
    }
}

static bool is_float(enum dt dt)
{
    return dt == DT_F16 || dt == DT_BF16 || dt == DT_F32 || dt == DT_F64;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The tie list of a tensor from the --ties document, sorted; NULL if none. */
static int64_t *tie_list(const json_t *ties, const char *name, size_t *n)
{
    json_t *a = ties ? json_object_get(ties, name) : NULL;
    *n = 0;
    if (!json_is_array(a))
        return NULL;
    int64_t *v = xcalloc(json_array_size(a), sizeof *v);
    for (size_t i = 0; i < json_array_size(a); i++)
        if (json_is_integer(json_array_get(a, i)))
            v[(*n)++] = json_integer_value(json_array_get(a, i));
    qsort(v, *n, sizeof *v, cmp_i64);
    return v;
}

static void shape_str(const struct tensor *t, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < t->ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (o < len)
        snprintf(buf + o, len - o, "]");
}

/* o_x · Σ_in W_q[row,:] of the W8A8 Linear whose `.quant_bias` is `qb`, from the same pool's
 * `.weight` (I8 [out,in]) and `.input_offset` (F32 [1]); false when the pool lacks either. */
static bool offset_weight_sum(const struct pool *p, const struct tensor *qb, uint64_t row, double *out)
{
    size_t len = strlen(qb->name) - strlen(".quant_bias");
    char name[512];
    if (len + sizeof ".input_offset" > sizeof name)
        return false;
    memcpy(name, qb->name, len);
    strcpy(name + len, ".weight");
    const struct tensor *w = pool_find(p, name);
    strcpy(name + len, ".input_offset");
    const struct tensor *o = pool_find(p, name);
    if (!w || !o || w->dtype != DT_I8 || w->ndim != 2 || (uint64_t)w->shape[0] <= row || o->dtype != DT_F32 ||
        o->nbytes != 4)
        return false;
    float off;
    memcpy(&off, o->data, 4);
    int64_t sum = 0;
    for (int64_t k = 0; k < w->shape[1]; k++)
        sum += (int8_t)w->data[row * (uint64_t)w->shape[1] + (uint64_t)k];
    *out = (double)off * (double)sum;
    return true;
}

static void compare_values(const struct tensor *a, const struct tensor *e, const json_t *ties,
                           const struct pool *pa, const struct pool *pe)
{
    uint64_t n = a->nbytes / dt_sizes[a->dtype];
    size_t bad = 0;
    if (a->dtype == DT_I8) {
        size_t nt;
        int64_t *tl = tie_list(ties, a->name, &nt);
        for (uint64_t i = 0; i < n; i++) {
            int x = (int8_t)a->data[i], y = (int8_t)e->data[i];
            if (x == y)
                continue;
            int64_t key = (int64_t)i;
            if (abs(x - y) == 1 && tl && bsearch(&key, tl, nt, sizeof *tl, cmp_i64)) {
                g_tie_diffs++;
                continue;
            }
            if (abs(x - y) <= INT8_ATOL) {
                g_int8_diffs++;
                continue;
            }
            if (bad++ < 3)
                diff("%s: element %llu: actual %d, expected %d%s", a->name, (unsigned long long)i, x, y,
                     abs(x - y) == 1 ? " (off by one where the reference marks no rounding tie)" : "");
        }
        free(tl);
    } else if (is_float(a->dtype) || (a->dtype == DT_I64 && ends_with(a->name, ".deq_scale"))) {
        bool bits = !is_float(a->dtype);
        double emax = 0;
        for (uint64_t i = 0; FLOAT_RTOL_MAX > 0 && !bits && i < n; i++)
            emax = fmax(emax, fabs(element(e->dtype, e->data + i * dt_sizes[e->dtype])));
        for (uint64_t i = 0; i < n; i++) {
            double x, y;
            if (bits) { /* int64 holding a float32 bit pattern */
                int64_t ia, ie;
                memcpy(&ia, a->data + i * 8, 8);
                memcpy(&ie, e->data + i * 8, 8);
                int32_t ba = (int32_t)ia, be = (int32_t)ie;
                float fa, fe;
                memcpy(&fa, &ba, 4);
                memcpy(&fe, &be, 4);
                x = fa;
                y = fe;
            } else {
                x = element(a->dtype, a->data + i * dt_sizes[a->dtype]);
                y = element(e->dtype, e->data + i * dt_sizes[e->dtype]);
            }
            if (x == y || (isnan(x) && isnan(y)))
                continue;
            double tol = fmax(FLOAT_RTOL * fmax(fabs(x), fabs(y)), FLOAT_RTOL_MAX * emax);
            if (fabs(x - y) <= tol)
                continue;
            if (bad++ < 3)
                diff("%s: element %llu: actual %.9g, expected %.9g (relative difference %.3g > %g)", a->name,
                     (unsigned long long)i, x, y, fabs(x - y) / fmax(fabs(x), fabs(y)), FLOAT_RTOL);
        }
    } else if (a->dtype == DT_I32 && ends_with(a->name, ".quant_bias")) {
        for (uint64_t i = 0; i < n; i++) {
            int32_t x, y;
            memcpy(&x, a->data + i * 4, 4);
            memcpy(&y, e->data + i * 4, 4);
            /* quant_bias = round(b / deq_scale − o_x · Σ W_q[row,:]): an int8 weight accepted at a rounding
             * tie moves it by o_x, so the two are compared with each export's own o_x · Σ W_q added back. */
            double oa, oe, d = fabs((double)x - y);
            if (d != 0 && offset_weight_sum(pa, a, i, &oa) && offset_weight_sum(pe, e, i, &oe))
                d = fabs(((double)x + oa) - ((double)y + oe));
            if (d > fmax((double)QUANT_BIAS_ATOL, floor(QUANT_BIAS_RTOL * fabs((double)y))) && bad++ < 3)
                diff("%s: element %llu: actual %d, expected %d (more than %g relative and %ld apart)", a->name,
                     (unsigned long long)i, x, y, QUANT_BIAS_RTOL, QUANT_BIAS_ATOL);
        }
    } else {
        size_t sz = dt_sizes[a->dtype];
        for (uint64_t i = 0; i < n; i++)
            if (memcmp(a->data + i * sz, e->data + i * sz, sz) != 0 && bad++ < 3)
                diff("%s: element %llu differs (%s, compared bytewise)", a->name, (unsigned long long)i,
                     dt_names[a->dtype]);
    }
    if (bad > 3)
        diff("%s: %zu of %llu elements differ in all", a->name, bad, (unsigned long long)n);
}

static void compare_pools(const char *what, const struct pool *a, const struct pool *e, const json_t *ties,
                          uint64_t *ntensors, uint64_t *nbytes)
{
    size_t i = 0, j = 0;
    while (i < a->n || j < e->n) {
        int c = i == a->n ? 1 : j == e->n ? -1 : strcmp(a->t[i]->name, e->t[j]->name);
        if (c < 0) {
            diff("%s: tensor '%s' (in %s) is not expected", what, a->t[i]->name, a->t[i]->file);
            i++;
            continue;
        }
        if (c > 0) {
            diff("%s: tensor '%s' is missing (expected in %s)", what, e->t[j]->name, e->t[j]->file);
            j++;
            continue;
        }
        const struct tensor *ta = a->t[i++], *te = e->t[j++];
        char sa[160], se[160];
        shape_str(ta, sa, sizeof sa);
        shape_str(te, se, sizeof se);
        if (ta->dtype != te->dtype || strcmp(sa, se) != 0) {
            diff("%s: tensor '%s': actual %s %s, expected %s %s", what, ta->name, dt_names[ta->dtype], sa,
                 dt_names[te->dtype], se);
            continue;
        }
        compare_values(ta, te, ties, a, e);
        (*ntensors)++;
        *nbytes += ta->nbytes;
    }
}

/* ------------------------------------------------------------------ JSON files */

static json_t *load_json(const char *dir, const char *rel)
{
    char *path = join(dir, rel);
    json_error_t err;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!j)
        diff("%s: line %d: %s", path, err.line, err.text);
    free(path);
    return j;
}

static bool is_global_key(const char *k)
{
    static const char *const globals[] = {"version", "model_quant_type", "metadata", "group_size", "optional",
                                          "kv_cache_type", "kv_quant_type", "fa_quant_type"};
    for (size_t i = 0; i < sizeof globals / sizeof *globals; i++)
        if (strcmp(k, globals[i]) == 0)
            return true;
    return false;
}

static void json_short(const json_t *v, char *buf, size_t len)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(buf, len, "%s", s ? s : "(absent)");
    if (s && strlen(s) >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
    free(s);
}

/* The description of one directory against its own weights: an entry per tensor. */
static void check_description_covers(const char *dir, const json_t *d, const struct pool *p)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)d, k, v) {
        if (!is_global_key(k) && !pool_find(p, k))
            diff("%s/%s: entry '%s' names no tensor of the weight files", dir, DESCRIPTION_NAME, k);
    }
    for (size_t i = 0; i < p->n; i++)
        if (!json_object_get(d, p->t[i]->name))
            diff("%s/%s: tensor '%s' has no entry", dir, DESCRIPTION_NAME, p->t[i]->name);
}

static void compare_description(const char *adir, const char *edir, const struct pool *pa, const struct pool *pe)
{
    json_t *a = load_json(adir, DESCRIPTION_NAME), *e = load_json(edir, DESCRIPTION_NAME);
    if (a && e) {
        if (!json_is_object(a) || !json_is_object(e)) {
            diff("%s: not a JSON object", DESCRIPTION_NAME);
        } else {
            const char *k;
            json_t *v;
            char x[120], y[120];
            json_object_foreach(e, k, v) {
                json_t *w = json_object_get(a, k);
                if (!w || !json_equal(v, w)) {
                    json_short(w, x, sizeof x);
                    json_short(v, y, sizeof y);
                    diff("%s: \"%s\": actual %s, expected %s", DESCRIPTION_NAME, k, x, y);
                }
            }
            json_object_foreach(a, k, v) {
                if (!json_object_get(e, k)) {
                    json_short(v, x, sizeof x);
                    diff("%s: \"%s\": %s is not expected", DESCRIPTION_NAME, k, x);
                }
            }
            check_description_covers(adir, a, pa);
            check_description_covers(edir, e, pe);
        }
    }
    json_decref(a);
    json_decref(e);
}

/* An index against the shard files of its directory. */
static void check_index(const char *dir, const json_t *idx, const struct pool *p, const struct names *shards)
{
    json_t *wm = json_object_get(idx, "weight_map"), *md = json_object_get(idx, "metadata");
    json_t *ts = md ? json_object_get(md, "total_size") : NULL;
    if (!json_is_object(wm) || !json_is_integer(ts)) {
        diff("%s/%s: needs {\"metadata\": {\"total_size\": int}, \"weight_map\": {...}}", dir, INDEX_NAME);
        return;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < p->n; i++) {
        total += p->t[i]->nbytes;
        json_t *f = json_object_get(wm, p->t[i]->name);
        if (!json_is_string(f))
            diff("%s/%s: tensor '%s' (in %s) is not in weight_map", dir, INDEX_NAME, p->t[i]->name, p->t[i]->file);
        else if (strcmp(json_string_value(f), p->t[i]->file) != 0)
            diff("%s/%s: weight_map puts '%s' in %s, but it is in %s", dir, INDEX_NAME, p->t[i]->name,
                 json_string_value(f), p->t[i]->file);
    }
    const char *k;
    json_t *v;
    json_object_foreach(wm, k, v) {
        if (!pool_find(p, k))
            diff("%s/%s: weight_map names '%s', which no shard holds", dir, INDEX_NAME, k);
        if (json_is_string(v) && !names_has(shards, json_string_value(v)))
            diff("%s/%s: weight_map names file %s, which does not exist", dir, INDEX_NAME, json_string_value(v));
    }
    if ((uint64_t)json_integer_value(ts) != total)
        diff("%s/%s: total_size %lld, but the shards hold %llu tensor bytes", dir, INDEX_NAME,
             (long long)json_integer_value(ts), (unsigned long long)total);
}

static bool read_all(const char *path, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t cap = 4096, n = 0, got;
    char *buf = xcalloc(cap, 1);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) {
                fclose(f);
                free(buf);
                return false;
            }
            buf = b;
        }
    }
    bool ok = !ferror(f);
    fclose(f);
    *data = buf;
    *len = n;
    return ok;
}

/* Byte-equal, or for *.json the same document (values and key order) in another layout. */
static void compare_side_file(const char *adir, const char *edir, const char *rel)
{
    char *pa = join(adir, rel), *pe = join(edir, rel), *a = NULL, *e = NULL;
    size_t la = 0, le = 0;
    if (!read_all(pa, &a, &la) || !read_all(pe, &e, &le)) {
        diff("%s: cannot read: %s", rel, strerror(errno));
    } else if (la != le || memcmp(a, e, la) != 0) {
        bool same = false;
        if (ends_with(rel, ".json")) {
            json_t *ja = json_loadb(a, la, JSON_REJECT_DUPLICATES, NULL);
            json_t *je = json_loadb(e, le, JSON_REJECT_DUPLICATES, NULL);
            if (ja && je && json_equal(ja, je)) {
                size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17);
                char *da = json_dumps(ja, flags), *de = json_dumps(je, flags);
                same = da && de && strcmp(da, de) == 0;
                free(da);
                free(de);
            }
            json_decref(ja);
            json_decref(je);
        }
        if (same)
            printf("  note: %s: same JSON document, formatted differently\n", rel);
        else
            diff("%s: contents differ (%zu bytes actual, %zu expected)", rel, la, le);
    }
    free(a);
    free(e);
    free(pa);
    free(pe);
}

/* ------------------------------------------------------------------ main */

struct side {
    const char *dir;
    struct names files;
    struct stfile *st;     /* one per *.safetensors file, in files order */
    size_t nst;
    struct names shards;   /* weight shard names, sorted */
    struct pool weights;
};

static bool is_weight_shard(const char *rel)
{
    return strncmp(rel, WEIGHTS_PREFIX, strlen(WEIGHTS_PREFIX)) == 0 && ends_with(rel, ".safetensors") &&
           !strchr(rel, '/');
}

static int side_open(const char *dir, struct side *s)
{
    memset(s, 0, sizeof *s);
    s->dir = dir;
    if (list_files(dir, "", &s->files) != 0)
        return -1;
    s->st = xcalloc(s->files.n, sizeof *s->st);
    size_t *sel = xcalloc(s->files.n, sizeof *sel), nsel = 0;
    for (size_t i = 0; i < s->files.n; i++) {
        if (!ends_with(s->files.v[i], ".safetensors"))
            continue;
        struct stfile *f = &s->st[s->nst++];
        st_open(dir, s->files.v[i], f);
        if (is_weight_shard(s->files.v[i])) {
            sel[nsel++] = s->nst - 1;
            names_push(&s->shards, s->files.v[i]);
        }
    }
    pool_build(s->st, sel, nsel, dir, &s->weights);
    free(sel);
    return 0;
}

static void side_close(struct side *s)
{
    for (size_t i = 0; i < s->nst; i++)
        st_close(&s->st[i]);
    free(s->st);
    free(s->weights.t);
    names_free(&s->files);
    names_free(&s->shards);
}

static struct stfile *side_st(struct side *s, const char *rel)
{
    for (size_t i = 0; i < s->nst; i++)
        if (strcmp(s->st[i].rel, rel) == 0)
            return &s->st[i];
    return NULL;
}

static int usage(void)
{
    fputs("usage: vs-compare-export [--ties TIES.json] [--rtol R] [--rtol-max M] [--quant-bias-rtol Q] "
          "[--quant-bias-atol A] [--int8-atol K] [--max-report N] ACTUAL_DIR EXPECTED_DIR\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    const char *ties_path = NULL, *dirs[2] = {NULL, NULL};
    int ndirs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ties") == 0 && i + 1 < argc) {
            ties_path = argv[++i];
        } else if (strcmp(argv[i], "--rtol") == 0 && i + 1 < argc) {
            char *end;
            FLOAT_RTOL = strtod(argv[++i], &end);
            if (*end || !(FLOAT_RTOL >= 0))
                return usage();
        } else if (strcmp(argv[i], "--rtol-max") == 0 && i + 1 < argc) {
            char *end;
            FLOAT_RTOL_MAX = strtod(argv[++i], &end);
            if (*end || !(FLOAT_RTOL_MAX >= 0))
                return usage();
        } else if (strcmp(argv[i], "--quant-bias-rtol") == 0 && i + 1 < argc) {
            char *end;
            QUANT_BIAS_RTOL = strtod(argv[++i], &end);
            if (*end || !(QUANT_BIAS_RTOL >= 0))
                return usage();
        } else if (strcmp(argv[i], "--quant-bias-atol") == 0 && i + 1 < argc) {
            char *end;
            QUANT_BIAS_ATOL = strtol(argv[++i], &end, 10);
            if (*end || QUANT_BIAS_ATOL < 0)
                return usage();
        } else if (strcmp(argv[i], "--int8-atol") == 0 && i + 1 < argc) {
            char *end;
            INT8_ATOL = (int)strtol(argv[++i], &end, 10);
            if (*end || INT8_ATOL < 0)
                return usage();
        } else if (strcmp(argv[i], "--max-report") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1)
                return usage();
            g_max_report = (size_t)v;
        } else if (argv[i][0] == '-' || ndirs == 2) {
            return usage();
        } else {
            dirs[ndirs++] = argv[i];
        }
    }
    if (ndirs != 2)
        return usage();
    struct stat sb;
    for (int i = 0; i < 2; i++)
        if (stat(dirs[i], &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "vs-compare-export: %s: not a directory\n", dirs[i]);
            return 2;
        }
    json_t *ties = NULL;
    if (ties_path) {
        json_error_t err;
        ties = json_load_file(ties_path, 0, &err);
        if (!json_is_object(ties)) {
            fprintf(stderr, "vs-compare-export: %s: line %d: %s\n", ties_path, err.line,
                    ties ? "not a JSON object" : err.text);
            json_decref(ties);
            return 2;
        }
    }
    printf("vs-compare-export: %s vs %s\n", dirs[0], dirs[1]);
    struct side a, e;
    int ra = side_open(dirs[0], &a), re = side_open(dirs[1], &e);
    if (ra != 0 || re != 0) {
        side_close(&a);
        side_close(&e);
        json_decref(ties);
        return 1;
    }

    /* the same files */
    for (size_t i = 0; i < e.files.n; i++)
        if (!names_has(&a.files, e.files.v[i]))
            diff("%s: missing (expected file)", e.files.v[i]);
    for (size_t i = 0; i < a.files.n; i++)
        if (!names_has(&e.files, a.files.v[i]))
            diff("%s: not expected (extra file)", a.files.v[i]);

    uint64_t ntensors = 0, nbytes = 0;
    compare_pools("weights", &a.weights, &e.weights, ties, &ntensors, &nbytes);
    /* any other safetensors file present on both sides: its own pool */
    for (size_t i = 0; i < e.nst; i++) {
        const char *rel = e.st[i].rel;
        struct stfile *fa = side_st(&a, rel);
        if (is_weight_shard(rel) || !fa)
            continue;
        size_t zero = 0;
        struct pool pa, pe;
        pool_build(fa, &zero, 1, a.dir, &pa);
        pool_build(&e.st[i], &zero, 1, e.dir, &pe);
        compare_pools(rel, &pa, &pe, ties, &ntensors, &nbytes);
        free(pa.t);
        free(pe.t);
    }

    if (names_has(&e.files, DESCRIPTION_NAME) && names_has(&a.files, DESCRIPTION_NAME))
        compare_description(a.dir, e.dir, &a.weights, &e.weights);
    else if (!names_has(&e.files, DESCRIPTION_NAME))
        diff("%s: the expected directory has none (is it an export?)", DESCRIPTION_NAME);

    json_t *ia = names_has(&a.files, INDEX_NAME) ? load_json(a.dir, INDEX_NAME) : NULL;
    json_t *ie = names_has(&e.files, INDEX_NAME) ? load_json(e.dir, INDEX_NAME) : NULL;
    if (ia)
        check_index(a.dir, ia, &a.weights, &a.shards);
    if (ie)
        check_index(e.dir, ie, &e.weights, &e.shards);
    if (ia && ie && !json_equal(ia, ie))
        diff("%s: differs (shard assignment or total_size)", INDEX_NAME);
    if (!ia && a.shards.n > 1)
        diff("%s: %zu weight shards but no index", a.dir, a.shards.n);
    json_decref(ia);
    json_decref(ie);

    for (size_t i = 0; i < e.files.n; i++) {
        const char *rel = e.files.v[i];
        if (ends_with(rel, ".safetensors") || strcmp(rel, DESCRIPTION_NAME) == 0 || strcmp(rel, INDEX_NAME) == 0 ||
            !names_has(&a.files, rel))
            continue;
        compare_side_file(a.dir, e.dir, rel);
    }

    side_close(&a);
    side_close(&e);
    json_decref(ties);
    if (g_differences) {
        printf("vs-compare-export: FAIL: %zu difference(s)\n", g_differences);
        return 1;
    }
    printf("vs-compare-export: OK: %llu tensors (%llu bytes) equal; %zu int8 element(s) off by one at "
           "rounding ties",
           (unsigned long long)ntensors, (unsigned long long)nbytes, g_tie_diffs);
    if (INT8_ATOL)
        printf(", %zu within --int8-atol %d elsewhere", g_int8_diffs, INT8_ATOL);
    printf("\n");
    return 0;
}
