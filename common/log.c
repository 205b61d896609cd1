#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int kc_log_verbosity;
static int log_fd = 2;
static enum kc_log_sev log_min_sev = KC_LOG_INFO;

void kc_log_set_verbosity(int v) { kc_log_verbosity = v; }
void kc_log_set_min_severity(enum kc_log_sev sev)
{
	log_min_sev = sev > KC_LOG_ERROR ? KC_LOG_ERROR : sev;
}

void kc_log_set_fd(int fd) { log_fd = fd < 0 ? 2 : fd; }

void kc_log_vemit(enum kc_log_sev sev, const char *file, int line, const char *fmt, va_list ap)
{
	static const char letters[] = "IWEF";
	char buf[4096];
	struct timeval tv;
	struct tm tm;
	const char *base = strrchr(file, '/');
	int n, m;

	if (sev < log_min_sev)
		return;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf), "%c%02d%02d %02d:%02d:%02d.%06ld %7ld %s:%d] ",
		     letters[sev], tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, (long)tv.tv_usec, (long)syscall(SYS_gettid),
		     base ? base + 1 : file, line);
	if (n < 0)
		return;
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n++] = '\n';
	/* One write(2) per line so concurrent threads never interleave inside a line. */
	if (write(log_fd, buf, (size_t)n) < 0)
		return;
}

void kc_log_emit(enum kc_log_sev sev, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kc_log_vemit(sev, file, line, fmt, ap);
	va_end(ap);
}

void kc_fatal_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kc_log_vemit(KC_LOG_FATAL, file, line, fmt, ap);
	va_end(ap);
	exit(255);
}
