/* CRI container log files, read as the kubelet's containerLogs endpoint does
 * (pkg/kubelet/kuberuntime/logs/logs.go).  Prefix crilog_.
 *
 * A CRI log line is `<RFC3339Nano time> <stdout|stderr> <P|F> <text>\n`: P marks a
 * partial line whose continuation follows, F a full one.  Output is the text (with its
 * newline for F lines), prefixed by the time and a space when timestamps are asked for;
 * tailLines counts lines from the end of the file, sinceTime/sinceSeconds skip older
 * lines, limitBytes cuts the output.  Lines that do not parse are skipped, as upstream
 * logs and ignores them. */
#ifndef KUBELET_CRI_LOG_H
#define KUBELET_CRI_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct crilog_entry {
	int64_t ts_ns;          /* unix nanoseconds */
	const char *ts;         /* the time as written (borrowed from the line) */
	size_t ts_len;
	int stderr_stream;      /* 0 stdout, 1 stderr */
	int partial;            /* P */
	const char *msg;        /* borrowed from the line, without the newline */
	size_t msg_len;
} crilog_entry;

/* Parse one line (without its trailing '\n').  0 or -EINVAL. */
int crilog_parse_line(const char *line, size_t len, crilog_entry *e);

/* RFC 3339 with optional fraction and Z or +hh:mm offset -> unix ns; -1 if malformed. */
int64_t crilog_parse_time(const char *s, size_t len);

/* The offset in buf where its last n lines start (n < 0: 0).  A final line without
 * '\n' counts as a line. */
size_t crilog_tail_offset(const char *buf, size_t len, int64_t n);

typedef struct crilog_opts {
	int64_t tail_lines;     /* -1: all */
	int64_t since_ns;       /* 0: none (unix ns) */
	int64_t limit_bytes;    /* -1: none */
	int timestamps;
} crilog_opts;

/* Append the output of one parsed entry to out (at most max bytes, limit_bytes
 * honoured through *written).  Returns the bytes appended; 0 for a filtered entry. */
size_t crilog_format(const crilog_entry *e, const crilog_opts *o, char *out, size_t max, int64_t *written);

/* An open log file read incrementally (follow). */
typedef struct crilog_reader {
	int fd;
	off_t off;              /* next byte of the file to read */
	crilog_opts o;
	int64_t written;        /* output bytes so far (limitBytes) */
	char *line;             /* an incomplete last line carried to the next read */
	size_t line_len, line_cap;
	char *pend;             /* formatted output not yet handed out */
	size_t pend_len, pend_off, pend_cap;
} crilog_reader;

/* Open path and seek to the start of its last tail_lines lines.  0 or -errno. */
int crilog_reader_open(crilog_reader *r, const char *path, const crilog_opts *o);
void crilog_reader_close(crilog_reader *r);
/* Up to max bytes of output into out.  Returns the count (> 0), 0 when nothing is
 * available now (at EOF: a follower waits and calls again), -1 when limitBytes is
 * reached (the stream is over), or -errno. */
ssize_t crilog_reader_read(crilog_reader *r, char *out, size_t max);

#endif
