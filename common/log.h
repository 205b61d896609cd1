/* Logging in klog's shape:
 *
 *   I1122 07:08:09.123456    4242 file.c:88] message
 *
 * Severity letter I/W/E/F, month+day, wall time with microseconds, thread id, source
 * file and line. kc_log_v(N, ...) prints only when the verbosity (-v / --v) is >= N.
 * Output goes to stderr (line-buffered, one write per line, thread-safe). */
#ifndef KC_LOG_H
#define KC_LOG_H

#include <stdarg.h>

enum kc_log_sev { KC_LOG_INFO, KC_LOG_WARN, KC_LOG_ERROR, KC_LOG_FATAL };

extern int kc_log_verbosity;

void kc_log_set_verbosity(int v);
/* Drop lines below sev (etcd's --log-level warn|error); KC_LOG_FATAL always prints. */
void kc_log_set_min_severity(enum kc_log_sev sev);
/* Redirect output to fd (tests); -1 restores stderr. */
void kc_log_set_fd(int fd);

void kc_log_emit(enum kc_log_sev sev, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void kc_log_vemit(enum kc_log_sev sev, const char *file, int line, const char *fmt, va_list ap);
/* Print, then exit(255): for corrupted local state the process cannot continue with. */
void kc_fatal_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

#define kc_info(...) kc_log_emit(KC_LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define kc_warn(...) kc_log_emit(KC_LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define kc_error(...) kc_log_emit(KC_LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define kc_fatal(...) kc_fatal_at(__FILE__, __LINE__, __VA_ARGS__)
#define kc_log_v(level, ...)                                                   \
	do {                                                                   \
		if (kc_log_verbosity >= (level))                               \
			kc_log_emit(KC_LOG_INFO, __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

#endif
