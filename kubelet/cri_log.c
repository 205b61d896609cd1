/* CRI log files; see cri_log.h. */
#include "cri_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int64_t crilog_parse_time(const char *s, size_t len)
{
	/* 2006-01-02T15:04:05[.999999999](Z|+07:00) */
	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
		return -1;
	int Y, M, D, h, m, sec;
	if (digits(s, 4, &Y) || digits(s + 5, 2, &M) || digits(s + 8, 2, &D) || digits(s + 11, 2, &h) ||
	    digits(s + 14, 2, &m) || digits(s + 17, 2, &sec))
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return -1;
	size_t i = 19;
	int64_t frac = 0;
	if (i < len && s[i] == '.') {
		i++;
		int nd = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (nd < 9) {
				frac = frac * 10 + (s[i] - '0');
				nd++;
			}
			i++;
		}
		if (nd == 0)
			return -1;
		while (nd++ < 9)
			frac *= 10;
	}
	int64_t off = 0;
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 <= len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
		int oh, om;
		if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om))
			return -1;
		off = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
		i += 6;
	} else {
		return -1;
	}
	if (i != len)
		return -1;
	struct tm tm = { 0 };
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	int64_t t = (int64_t)timegm(&tm) - off;
	/* beyond int64 nanoseconds (year 2262): later than any log line */
	if (t > INT64_MAX / 1000000000LL - 1)
		return INT64_MAX;
	if (t < 0)
		return -1;
	return t * 1000000000LL + frac;
}

int crilog_parse_line(const char *line, size_t len, crilog_entry *e)
{
	const char *end = line + len;
	const char *sp1 = memchr(line, ' ', len);
	if (!sp1)
		return -EINVAL;
	e->ts = line;
	e->ts_len = (size_t)(sp1 - line);
	e->ts_ns = crilog_parse_time(line, e->ts_len);
	if (e->ts_ns < 0)
		return -EINVAL;
	const char *st = sp1 + 1;
	const char *sp2 = memchr(st, ' ', (size_t)(end - st));
	if (!sp2)
		return -EINVAL;
	size_t sl = (size_t)(sp2 - st);
	if (sl == 6 && !memcmp(st, "stdout", 6))
		e->stderr_stream = 0;
	else if (sl == 6 && !memcmp(st, "stderr", 6))
		e->stderr_stream = 1;
	else
		return -EINVAL;
	const char *tag = sp2 + 1;
	/* the tag field: "P" / "F", possibly more flags separated by ':' (only the first
	 * one is defined); the text follows one space, and may be empty */
	const char *sp3 = memchr(tag, ' ', (size_t)(end - tag));
	const char *tag_end = sp3 ? sp3 : end;
	if (tag_end == tag)
		return -EINVAL;
	e->partial = tag[0] == 'P';
	if (tag[0] != 'P' && tag[0] != 'F')
		return -EINVAL;
	e->msg = sp3 ? sp3 + 1 : end;
	e->msg_len = (size_t)(end - e->msg);
	return 0;
}

size_t crilog_tail_offset(const char *buf, size_t len, int64_t n)
{
	if (n < 0)
		return 0;
	if (n == 0)
		return len;
	size_t i = len;
	/* a trailing '\n' ends the last line, it does not start a new one */
	if (i > 0 && buf[i - 1] == '\n')
		i--;
	int64_t seen = 0;
	while (i > 0) {
		if (buf[i - 1] == '\n') {
			if (++seen == n)
				return i;
		}
		i--;
	}
	return 0;
}

size_t crilog_format(const crilog_entry *e, const crilog_opts *o, char *out, size_t max, int64_t *written)
{
	if (o->since_ns > 0 && e->ts_ns < o->since_ns)
		return 0;
	size_t n = 0;
	char tmp[64];
	size_t tl = 0;
	if (o->timestamps) {
		/* upstream re-formats the parsed time as RFC3339Nano; the runtime already wrote
		 * it that way, so the text is used as is */
		tl = e->ts_len < sizeof(tmp) - 1 ? e->ts_len : sizeof(tmp) - 2;
		memcpy(tmp, e->ts, tl);
		tmp[tl++] = ' ';
	}
	const char *parts[3] = { tmp, e->msg, "\n" };
	size_t lens[3] = { tl, e->msg_len, e->partial ? 0 : 1 };
	for (int p = 0; p < 3; p++) {
		size_t l = lens[p];
		if (o->limit_bytes >= 0 && *written + (int64_t)l > o->limit_bytes)
			l = (size_t)(o->limit_bytes - *written);
		if (l > max - n)
			l = max - n;
		memcpy(out + n, parts[p], l);
		n += l;
		*written += (int64_t)l;
	}
	return n;
}

int crilog_reader_open(crilog_reader *r, const char *path, const crilog_opts *o)
{
	memset(r, 0, sizeof(*r));
	r->o = *o;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	if (o->tail_lines >= 0) {
		struct stat st;
		if (fstat(r->fd, &st) < 0) {
			int e = -errno;
			close(r->fd);
			return e;
		}
		/* scan backwards in blocks for the tail's start */
		off_t end = st.st_size, pos = end;
		int64_t seen = 0;
		char buf[8192];
		int first = 1;
		off_t start = 0;
		while (pos > 0) {
			size_t chunk = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
			pos -= (off_t)chunk;
			if (pread(r->fd, buf, chunk, pos) != (ssize_t)chunk) {
				int e = -EIO;
				close(r->fd);
				return e;
			}
			size_t i = chunk;
			if (first && i > 0 && buf[i - 1] == '\n')
				i--;
			first = 0;
			int found = 0;
			if (o->tail_lines == 0) {
				start = end;
				found = 1;
			}
			while (!found && i > 0) {
				if (buf[i - 1] == '\n' && ++seen == o->tail_lines) {
					start = pos + (off_t)i;
					found = 1;
				}
				i--;
			}
			if (found)
				break;
		}
		r->off = start;
	}
	return 0;
}

void crilog_reader_close(crilog_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->line);
	free(r->pend);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

static int grow(char **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 4096;
	while (nc < need)
		nc *= 2;
	char *np = realloc(*p, nc);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = nc;
	return 0;
}

/* format the complete line in r->line into r->pend */
static int emit_line(crilog_reader *r)
{
	crilog_entry e;
	if (crilog_parse_line(r->line, r->line_len, &e) < 0)
		return 0; /* upstream: "Failed with err parsing log line", skipped */
	if (grow(&r->pend, &r->pend_cap, r->pend_len + e.ts_len + e.msg_len + 8) < 0)
		return -ENOMEM;
	r->pend_len += crilog_format(&e, &r->o, r->pend + r->pend_len, r->pend_cap - r->pend_len, &r->written);
	return 0;
}

ssize_t crilog_reader_read(crilog_reader *r, char *out, size_t max)
{
	for (;;) {
		if (r->pend_off < r->pend_len) {
			size_t n = r->pend_len - r->pend_off;
			if (n > max)
				n = max;
			memcpy(out, r->pend + r->pend_off, n);
			r->pend_off += n;
			if (r->pend_off == r->pend_len)
				r->pend_off = r->pend_len = 0;
			return (ssize_t)n;
		}
		if (r->o.limit_bytes >= 0 && r->written >= r->o.limit_bytes)
			return -1;
		char buf[16384];
		ssize_t got = pread(r->fd, buf, sizeof(buf), r->off);
		if (got < 0)
			return -errno;
		if (got == 0)
			return 0;
		r->off += got;
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] == '\n') {
				int rc = emit_line(r);
				if (rc < 0)
					return rc;
				r->line_len = 0;
				continue;
			}
			if (grow(&r->line, &r->line_cap, r->line_len + 1) < 0)
				return -ENOMEM;
			r->line[r->line_len++] = buf[i];
		}
	}
}
