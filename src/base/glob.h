/* Module-name patterns as msModelSlim's include/exclude lists use them (wcmatch fnmatch
 * with BRACE): an exact string, or a whole-string shell pattern where `*` matches any run
 * of characters including dots, `?` one character, `[seq]`/`[!seq]` a class, and `{a,b}`
 * alternatives (nestable). Case-sensitive. */
#ifndef VS_BASE_GLOB_H
#define VS_BASE_GLOB_H

#include <stdbool.h>

bool vs_glob_match(const char *pattern, const char *name);

#endif
