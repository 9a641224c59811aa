#include "base/glob.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

/* Brace expansion is bounded so a hostile pattern cannot blow up. */
#define VS_GLOB_MAX_ALTERNATIVES 256

/* Finds the first top-level `{...}` group with a top-level comma; returns 0 if none, else
 * sets *open and *close to the brace positions. An unclosed `{` is literal. */
static int find_group(const char *p, size_t *open, size_t *close)
{
    for (size_t i = 0; p[i]; i++) {
        if (p[i] == '[') { /* skip a character class */
            size_t j = i + 1;
            if (p[j] == '!' || p[j] == '^')
                j++;
            if (p[j] == ']')
                j++;
            while (p[j] && p[j] != ']')
                j++;
            if (p[j] == ']')
                i = j;
            continue;
        }
        if (p[i] != '{')
            continue;
        int depth = 0, comma = 0;
        for (size_t j = i; p[j]; j++) {
            if (p[j] == '{')
                depth++;
            else if (p[j] == '}' && --depth == 0) {
                if (comma) {
                    *open = i;
                    *close = j;
                    return 1;
                }
                break;
            } else if (p[j] == ',' && depth == 1)
                comma = 1;
        }
    }
    return 0;
}

static int match_expanded(const char *pattern, const char *name, int *budget)
{
    size_t open, close;
    if (!find_group(pattern, &open, &close))
        return fnmatch(pattern, name, 0) == 0;
    size_t len = strlen(pattern);
    char *buf = malloc(len + 1);
    if (!buf)
        return 0;
    int matched = 0;
    size_t start = open + 1;
    int depth = 0;
    for (size_t i = open + 1; i <= close && !matched; i++) {
        char c = pattern[i];
        if (c == '{')
            depth++;
        else if (c == '}' && depth > 0)
            depth--;
        else if ((c == ',' && depth == 0) || i == close) {
            if (--*budget < 0)
                break;
            /* prefix + alternative + suffix */
            size_t n = 0;
            memcpy(buf, pattern, open);
            n = open;
            memcpy(buf + n, pattern + start, i - start);
            n += i - start;
            strcpy(buf + n, pattern + close + 1);
            matched = match_expanded(buf, name, budget);
            start = i + 1;
        }
    }
    free(buf);
    return matched;
}

bool vs_glob_match(const char *pattern, const char *name)
{
    if (strcmp(pattern, name) == 0)
        return true;
    int budget = VS_GLOB_MAX_ALTERNATIVES;
    return match_expanded(pattern, name, &budget);
}
