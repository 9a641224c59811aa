/* GPT-2 byte-level mapping: every byte gets a printable Unicode character (internal). */
#ifndef VS_TEXT_BYTE_LEVEL_H
#define VS_TEXT_BYTE_LEVEL_H

#include <stddef.h>
#include <stdint.h>

/* Code point that stands for byte b. */
uint32_t vs_byte_level_char(uint8_t b);
/* Byte a code point stands for, or -1 if it is not in the table. */
int vs_byte_level_byte(uint32_t cp);
/* Writes the UTF-8 of vs_byte_level_char(b) to out (1 or 2 bytes); returns the length. */
size_t vs_byte_level_utf8(uint8_t b, char out[2]);

/* Copies text to a new buffer, replacing each maximal invalid UTF-8 subpart with U+FFFD;
 * returns NULL (VS_ERR_NOMEM recorded) on allocation failure. *out_len excludes the NUL. */
char *vs_utf8_lossy(const char *text, size_t len, size_t *out_len);
/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid (maximal subpart in *bad). */
size_t vs_utf8_seq(const unsigned char *s, size_t avail, size_t *bad);

#endif
