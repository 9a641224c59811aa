/* Logging to stderr with levels. The level is the only global mutable setting. */
#ifndef VS_BASE_LOG_H
#define VS_BASE_LOG_H

enum vs_log_level { VS_LOG_DEBUG = 0, VS_LOG_INFO, VS_LOG_WARN, VS_LOG_ERROR, VS_LOG_SILENT };

void vs_log_set_level(enum vs_log_level level);
enum vs_log_level vs_log_get_level(void);
/* Parses "debug", "info", "warning"/"warn", "error", "silent" (case-insensitive); -1 if unknown. */
int vs_log_parse_level(const char *s);

void vs_log(enum vs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define vs_debug(...) vs_log(VS_LOG_DEBUG, __VA_ARGS__)
#define vs_info(...) vs_log(VS_LOG_INFO, __VA_ARGS__)
#define vs_warn(...) vs_log(VS_LOG_WARN, __VA_ARGS__)

#endif
