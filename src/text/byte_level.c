/* GPT-2 byte<->unicode table and lossy UTF-8 decoding. */
#include "text/byte_level.h"

#include <stdint.h>
#include <string.h>

#include "base/status.h"

/* Printable bytes map to themselves; the others (0-32, 127-160, 173) to 256, 257, ... in order. */
static int printable(unsigned b)
{
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t vs_byte_level_char(uint8_t b)
{
    if (printable(b))
        return b;
    unsigned n = 0;
    for (unsigned i = 0; i < b; i++)
        n += !printable(i);
    return 256 + n;
}

int vs_byte_level_byte(uint32_t cp)
{
    if (cp < 256)
        return printable(cp) ? (int)cp : -1;
    unsigned n = cp - 256, k = 0;
    for (unsigned i = 0; i < 256; i++)
        if (!printable(i) && k++ == n)
            return (int)i;
    return -1;
}

size_t vs_byte_level_utf8(uint8_t b, char out[2])
{
    uint32_t cp = vs_byte_level_char(b);
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

size_t vs_utf8_seq(const unsigned char *s, size_t avail, size_t *bad)
{
    unsigned c = s[0];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        *bad = 1;
        return 0;
    }
    for (size_t i = 1; i <= need; i++) {
        unsigned d = i < avail ? s[i] : 0x100;
        unsigned l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (d < l || d > h) {
            *bad = i;
            return 0;
        }
    }
    return need + 1;
}

char *vs_utf8_lossy(const char *text, size_t len, size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)text;
    /* Worst case: every byte becomes the 3-byte U+FFFD. */
    if (len > (SIZE_MAX - 1) / 3) {
        vs_error_set(VS_ERR_NOMEM, "text of %zu bytes is too large", len);
        return NULL;
    }
    char *out = vs_malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t bad = 0, n = vs_utf8_seq(s + i, len - i, &bad);
        if (n) {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += bad;
        }
    }
    out[o] = 0;
    *out_len = o;
    return out;
}
