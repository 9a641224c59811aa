#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

static enum vs_log_level vs_log_level_current = VS_LOG_INFO;

void vs_log_set_level(enum vs_log_level level) { vs_log_level_current = level; }

enum vs_log_level vs_log_get_level(void) { return vs_log_level_current; }

int vs_log_parse_level(const char *s)
{
    static const struct { const char *name; enum vs_log_level level; } names[] = {
        {"debug", VS_LOG_DEBUG}, {"info", VS_LOG_INFO},   {"warning", VS_LOG_WARN},
        {"warn", VS_LOG_WARN},   {"error", VS_LOG_ERROR}, {"silent", VS_LOG_SILENT},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(s, names[i].name) == 0)
            return (int)names[i].level;
    return -1;
}

void vs_log(enum vs_log_level level, const char *fmt, ...)
{
    static const char *const tags[] = {"debug", "info", "warning", "error"};
    if (level < vs_log_level_current || level >= VS_LOG_SILENT)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vlmslim: %s: ", tags[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
