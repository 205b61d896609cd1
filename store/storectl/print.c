/* etcdctl 3.4's output formats: "simple" lines, "json" (Go's encoding/json of the
 * response structs: numbers unquoted, bytes base64, omitempty), and tablewriter tables. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "storectl.h"

static void print_bytes(const struct ctl *c, const uint8_t *p, size_t n)
{
	if (c->hex) {
		/* etcdctl --hex: each byte as \xNN */
		for (size_t i = 0; i < n; i++)
			printf("\\x%02x", p[i]);
		putchar('\n');
		return;
	}
	if (n)
		fwrite(p, 1, n, stdout);
	putchar('\n');
}

void ctl_print_kv(const struct ctl *c, const struct kc_etcd_kv *kv, bool value_only)
{
	if (!value_only)
		print_bytes(c, kv->key, kv->key_len);
	print_bytes(c, kv->value, kv->value_len);
}

static void json_b64(FILE *f, const void *p, size_t n)
{
	char *s = NULL;
	if (kc_etcd_b64_encode(p, n, &s) == 0)
		fprintf(f, "\"%s\"", s);
	else
		fputs("\"\"", f);
	free(s);
}

/* Writes ,"name":v for a nonzero v (omitempty); *first tracks the comma. */
static void jf_i64(FILE *f, bool *first, const char *name, int64_t v)
{
	if (!v)
		return;
	fprintf(f, "%s\"%s\":%" PRId64, *first ? "" : ",", name, v);
	*first = false;
}

static void jf_u64(FILE *f, bool *first, const char *name, uint64_t v)
{
	if (!v)
		return;
	fprintf(f, "%s\"%s\":%" PRIu64, *first ? "" : ",", name, v);
	*first = false;
}

void ctl_json_header(FILE *f, const struct kc_etcd_header *h)
{
	bool first = true;
	fputc('{', f);
	jf_u64(f, &first, "cluster_id", h->cluster_id);
	jf_u64(f, &first, "member_id", h->member_id);
	jf_i64(f, &first, "revision", h->revision);
	jf_u64(f, &first, "raft_term", h->raft_term);
	fputc('}', f);
}

void ctl_json_kv(FILE *f, const struct kc_etcd_kv *kv)
{
	bool first = true;
	fputc('{', f);
	if (kv->key_len) {
		fputs("\"key\":", f);
		json_b64(f, kv->key, kv->key_len);
		first = false;
	}
	jf_i64(f, &first, "create_revision", kv->create_revision);
	jf_i64(f, &first, "mod_revision", kv->mod_revision);
	jf_i64(f, &first, "version", kv->version);
	if (kv->value_len) {
		fprintf(f, "%s\"value\":", first ? "" : ",");
		json_b64(f, kv->value, kv->value_len);
		first = false;
	}
	jf_i64(f, &first, "lease", kv->lease);
	fputc('}', f);
}

static void json_kvs(FILE *f, const char *name, const struct kc_etcd_kv *kvs, size_t n)
{
	fprintf(f, ",\"%s\":[", name);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		ctl_json_kv(f, &kvs[i]);
	}
	fputc(']', f);
}

void ctl_json_range(FILE *f, const struct kc_etcd_range_resp *r)
{
	fputs("{\"header\":", f);
	ctl_json_header(f, &r->header);
	if (r->n_kvs)
		json_kvs(f, "kvs", r->kvs, r->n_kvs);
	if (r->more)
		fputs(",\"more\":true", f);
	if (r->count)
		fprintf(f, ",\"count\":%" PRId64, r->count);
	fputc('}', f);
}

void ctl_json_put(FILE *f, const struct kc_etcd_put_resp *r)
{
	fputs("{\"header\":", f);
	ctl_json_header(f, &r->header);
	if (r->has_prev_kv) {
		fputs(",\"prev_kv\":", f);
		ctl_json_kv(f, &r->prev_kv);
	}
	fputc('}', f);
}

void ctl_json_delete(FILE *f, const struct kc_etcd_delete_resp *r)
{
	fputs("{\"header\":", f);
	ctl_json_header(f, &r->header);
	if (r->deleted)
		fprintf(f, ",\"deleted\":%" PRId64, r->deleted);
	if (r->n_prev_kvs)
		json_kvs(f, "prev_kvs", r->prev_kvs, r->n_prev_kvs);
	fputc('}', f);
}

void ctl_json_txn(FILE *f, const struct kc_etcd_txn_resp *r)
{
	fputs("{\"header\":", f);
	ctl_json_header(f, &r->header);
	if (r->succeeded)
		fputs(",\"succeeded\":true", f);
	if (r->n_responses) {
		/* encoding/json of the oneof: {"Response":{"ResponsePut":{...}}} */
		fputs(",\"responses\":[", f);
		for (size_t i = 0; i < r->n_responses; i++) {
			const struct kc_etcd_op_resp *o = &r->responses[i];
			fputs(i ? ",{\"Response\":{" : "{\"Response\":{", f);
			switch (o->type) {
			case KC_ETCD_OP_RANGE:
				fputs("\"ResponseRange\":", f);
				ctl_json_range(f, &o->u.range);
				break;
			case KC_ETCD_OP_PUT:
				fputs("\"ResponsePut\":", f);
				ctl_json_put(f, &o->u.put);
				break;
			case KC_ETCD_OP_DELETE:
				fputs("\"ResponseDeleteRange\":", f);
				ctl_json_delete(f, &o->u.del);
				break;
			case KC_ETCD_OP_TXN:
				fputs("\"ResponseTxn\":", f);
				ctl_json_txn(f, o->u.txn);
				break;
			}
			fputs("}}", f);
		}
		fputc(']', f);
	}
	fputc('}', f);
}

void ctl_print_get(const struct ctl *c, const struct kc_etcd_range_resp *r, bool value_only)
{
	if (c->out == CTL_OUT_JSON) {
		ctl_json_range(stdout, r);
		putchar('\n');
		return;
	}
	for (size_t i = 0; i < r->n_kvs; i++)
		ctl_print_kv(c, &r->kvs[i], value_only);
}

void ctl_print_put(const struct ctl *c, const struct kc_etcd_put_resp *r)
{
	if (c->out == CTL_OUT_JSON) {
		ctl_json_put(stdout, r);
		putchar('\n');
		return;
	}
	puts("OK");
	if (r->has_prev_kv)
		ctl_print_kv(c, &r->prev_kv, false);
}

void ctl_print_del(const struct ctl *c, const struct kc_etcd_delete_resp *r)
{
	if (c->out == CTL_OUT_JSON) {
		ctl_json_delete(stdout, r);
		putchar('\n');
		return;
	}
	printf("%" PRId64 "\n", r->deleted);
	for (size_t i = 0; i < r->n_prev_kvs; i++)
		ctl_print_kv(c, &r->prev_kvs[i], false);
}

void ctl_print_txn(const struct ctl *c, const struct kc_etcd_txn_resp *r)
{
	if (c->out == CTL_OUT_JSON) {
		ctl_json_txn(stdout, r);
		putchar('\n');
		return;
	}
	puts(r->succeeded ? "SUCCESS" : "FAILURE");
	for (size_t i = 0; i < r->n_responses; i++) {
		const struct kc_etcd_op_resp *o = &r->responses[i];
		putchar('\n');
		switch (o->type) {
		case KC_ETCD_OP_RANGE: ctl_print_get(c, &o->u.range, false); break;
		case KC_ETCD_OP_PUT: ctl_print_put(c, &o->u.put); break;
		case KC_ETCD_OP_DELETE: ctl_print_del(c, &o->u.del); break;
		case KC_ETCD_OP_TXN: printf("unexpected response %s\n", "txn"); break;
		}
	}
}

/* ---- tables ---- */

void ctl_table_init(struct ctl_table *t, size_t cols, const char *const *headers)
{
	t->cols = cols;
	t->rows = 0;
	t->cells = calloc(cols, sizeof(char *));
	for (size_t i = 0; t->cells && i < cols; i++)
		t->cells[i] = strdup(headers[i]);
}

void ctl_table_row(struct ctl_table *t, const char *const *cells)
{
	char **nc = realloc(t->cells, (t->rows + 2) * t->cols * sizeof(char *));
	if (!nc)
		return;
	t->cells = nc;
	t->rows++;
	for (size_t i = 0; i < t->cols; i++)
		t->cells[t->rows * t->cols + i] = strdup(cells[i] ? cells[i] : "");
}

static size_t text_width(const char *s)
{
	/* Display width: count UTF-8 lead bytes (etcdctl's "µs" is one column). */
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void table_sep(FILE *f, const size_t *w, size_t cols)
{
	for (size_t i = 0; i < cols; i++) {
		fputc('+', f);
		for (size_t k = 0; k < w[i] + 2; k++)
			fputc('-', f);
	}
	fputs("+\n", f);
}

void ctl_table_print(FILE *f, struct ctl_table *t)
{
	if (!t->cells)
		return;
	size_t *w = calloc(t->cols, sizeof(size_t));
	if (!w)
		return;
	for (size_t r = 0; r <= t->rows; r++)
		for (size_t i = 0; i < t->cols; i++) {
			const char *s = t->cells[r * t->cols + i] ? t->cells[r * t->cols + i] : "";
			size_t l = text_width(s);
			if (l > w[i])
				w[i] = l;
		}
	table_sep(f, w, t->cols);
	/* tablewriter: headers centred (left gap = gap/2), cells right-aligned (etcdctl sets
	 * ALIGN_RIGHT for endpoint and member tables). */
	for (size_t i = 0; i < t->cols; i++) {
		const char *s = t->cells[i] ? t->cells[i] : "";
		size_t gap = w[i] - text_width(s), left = gap / 2;
		fprintf(f, "| %*s%s%*s ", (int)left, "", s, (int)(gap - left), "");
	}
	fputs("|\n", f);
	table_sep(f, w, t->cols);
	for (size_t r = 1; r <= t->rows; r++) {
		for (size_t i = 0; i < t->cols; i++) {
			const char *s = t->cells[r * t->cols + i] ? t->cells[r * t->cols + i] : "";
			fprintf(f, "| %*s%s ", (int)(w[i] - text_width(s)), "", s);
		}
		fputs("|\n", f);
	}
	if (t->rows)
		table_sep(f, w, t->cols);
	for (size_t r = 0; r <= t->rows; r++)
		for (size_t i = 0; i < t->cols; i++)
			free(t->cells[r * t->cols + i]);
	free(t->cells);
	free(w);
	t->cells = NULL;
}

void ctl_human_bytes(uint64_t n, char *out, size_t len)
{
	/* go-humanize Bytes(): base 1000, "%.0f %s" or "%.1f %s" below 10. */
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB" };
	if (n < 10) {
		snprintf(out, len, "%" PRIu64 " B", n);
		return;
	}
	double e = floor(log((double)n) / log(1000));
	if (e > 6)
		e = 6;
	double val = floor((double)n / pow(1000, e) * 10 + 0.5) / 10;
	snprintf(out, len, val < 10 ? "%.1f %s" : "%.0f %s", val, units[(int)e]);
}

/* Fraction digits of v/unit without trailing zeros, as Go's Duration.String. */
static void frac(char *out, size_t len, uint64_t v, uint64_t unit, const char *suffix)
{
	uint64_t ip = v / unit, fp = v % unit;
	if (!fp) {
		snprintf(out, len, "%" PRIu64 "%s", ip, suffix);
		return;
	}
	int digits = 0; /* at most 9 */
	for (uint64_t u = unit; u > 1; u /= 10)
		digits++;
	char fs[32];
	if (digits > 9)
		digits = 9;
	snprintf(fs, sizeof(fs), "%0*u", digits, (unsigned)fp);
	size_t n = strlen(fs);
	while (n && fs[n - 1] == '0')
		fs[--n] = 0;
	snprintf(out, len, "%" PRIu64 ".%s%s", ip, fs, suffix);
}

void ctl_go_duration(int64_t ns, char *out, size_t len)
{
	uint64_t u = ns < 0 ? (uint64_t)-ns : (uint64_t)ns;
	if (u == 0) {
		snprintf(out, len, "0s");
		return;
	}
	if (u < 1000)
		snprintf(out, len, "%" PRIu64 "ns", u);
	else if (u < 1000000)
		frac(out, len, u, 1000, "µs");
	else if (u < 1000000000)
		frac(out, len, u, 1000000, "ms");
	else
		frac(out, len, u, 1000000000, "s"); /* minutes never occur for a probe */
}

void ctl_join(char *out, size_t len, char **v, size_t n, const char *sep)
{
	out[0] = 0;
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + used, len - used, "%s%s", i ? sep : "", v[i]);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}

void ctl_json_str(FILE *f, const char *s)
{
	/* encoding/json: quote, backslash and control characters escaped */
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p == '\r')
			fputs("\\r", f);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void ctl_json_strs(FILE *f, char **v, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		ctl_json_str(f, v[i]);
	}
	fputc(']', f);
}
