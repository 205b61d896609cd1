/* Probes; see prober.h. */
#include "prober.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "pod_spec.h"

static int32_t geti(const cJSON *p, const char *f, int32_t def, int32_t min)
{
	int64_t v = kc_json_get_int64(p, f, def);
	if (v < min || v > 86400 * 365)
		v = def;
	return (int32_t)v;
}

void probe_spec_close(probe_spec *p)
{
	for (int i = 0; i < p->ncmd; i++)
		free(p->cmd[i]);
	free(p->cmd);
	memset(p, 0, sizeof(*p));
}

int probe_parse(const cJSON *container, const char *field, probe_spec *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const cJSON *p = kc_json_get(container, field);
	if (!cJSON_IsObject(p))
		return 0;
	out->initial_delay_s = geti(p, "initialDelaySeconds", 0, 0);
	out->period_s = geti(p, "periodSeconds", 10, 1);
	out->timeout_s = geti(p, "timeoutSeconds", 1, 1);
	out->success_threshold = geti(p, "successThreshold", 1, 1);
	out->failure_threshold = geti(p, "failureThreshold", 3, 1);
	const cJSON *h;
	if ((h = kc_json_get(p, "httpGet"))) {
		out->kind = PROBE_HTTP;
		snprintf(out->path, sizeof(out->path), "%s", kc_json_get_string(h, "path", "/"));
		if (out->path[0] != '/')
			memmove(out->path + 1, out->path, strnlen(out->path, sizeof(out->path) - 2) + 1), out->path[0] = '/';
		snprintf(out->host, sizeof(out->host), "%s", kc_json_get_string(h, "host", ""));
		out->https = !strcmp(kc_json_get_string(h, "scheme", "HTTP"), "HTTPS");
	} else if ((h = kc_json_get(p, "tcpSocket"))) {
		out->kind = PROBE_TCP;
		snprintf(out->host, sizeof(out->host), "%s", kc_json_get_string(h, "host", ""));
	} else if ((h = kc_json_get(p, "exec"))) {
		out->kind = PROBE_EXEC;
		int n = cJSON_GetArraySize(kc_json_get(h, "command"));
		if (n <= 0) {
			snprintf(err, errlen, "%s.exec.command: Required value", field);
			return -EINVAL;
		}
		out->cmd = calloc((size_t)n, sizeof(char *));
		if (!out->cmd)
			return -ENOMEM;
		const cJSON *c;
		cJSON_ArrayForEach(c, kc_json_get(h, "command"))
		{
			out->cmd[out->ncmd] = strdup(cJSON_IsString(c) ? c->valuestring : "");
			if (!out->cmd[out->ncmd])
				return -ENOMEM;
			out->ncmd++;
		}
		return 0;
	} else {
		snprintf(err, errlen, "%s: must specify a handler type", field);
		return -EINVAL;
	}
	int port = pspec_resolve_port(container, kc_json_get(h, "port"));
	if (port < 0) {
		snprintf(err, errlen, "%s: port does not resolve to a number or a named containerPort", field);
		out->kind = PROBE_NONE;
		return -EINVAL;
	}
	out->port = port;
	return 0;
}

void probe_state_init(probe_state *s, int initial, int64_t start_ns, const probe_spec *p)
{
	s->result = initial;
	s->last = initial;
	s->consecutive = 0;
	s->next_ns = start_ns + (int64_t)p->initial_delay_s * 1000000000LL;
}

int probe_state_record(probe_state *s, const probe_spec *p, int ok, int64_t now_ns)
{
	ok = !!ok;
	if (ok == s->last)
		s->consecutive++;
	else
		s->last = ok, s->consecutive = 1;
	s->next_ns = now_ns + (int64_t)p->period_s * 1000000000LL;
	int need = ok ? p->success_threshold : p->failure_threshold;
	if (s->result != ok && s->consecutive >= need) {
		s->result = ok;
		return 1;
	}
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connect with a deadline; returns the fd or -errno. */
static int connect_to(const char *ip, int port, int64_t deadline_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	struct pollfd pf = { .fd = fd, .events = POLLOUT };
	int64_t left = deadline_ms - mono_ms();
	if (left <= 0 || poll(&pf, 1, (int)left) != 1) {
		close(fd);
		return -ETIMEDOUT;
	}
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr) {
		close(fd);
		return -soerr;
	}
	return fd;
}

static int http_probe(const probe_spec *p, const char *ip, int64_t deadline, char *msg, size_t msglen)
{
	if (p->https) {
		snprintf(msg, msglen, "HTTPS probes are not supported by this kubelet yet");
		return 0;
	}
	int fd = connect_to(ip, p->port, deadline);
	if (fd < 0) {
		snprintf(msg, msglen, "Get \"http://%s:%d%s\": dial tcp %s:%d: %s", ip, p->port, p->path, ip, p->port,
			 strerror(-fd));
		return 0;
	}
	char req[1024];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\n"
			 "Connection: close\r\n\r\n",
			 p->path, ip, p->port);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		close(fd);
		snprintf(msg, msglen, "Get \"http://%s:%d%s\": write failed", ip, p->port, p->path);
		return 0;
	}
	char buf[256];
	size_t got = 0;
	while (got < sizeof(buf) - 1 && !memchr(buf, '\n', got)) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - mono_ms();
		if (left <= 0 || poll(&pf, 1, (int)left) != 1)
			break;
		ssize_t r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = 0;
	int code = 0;
	if (sscanf(buf, "HTTP/%*d.%*d %d", &code) != 1) {
		snprintf(msg, msglen, "Get \"http://%s:%d%s\": context deadline exceeded (Client.Timeout exceeded "
				      "while awaiting headers)", ip, p->port, p->path);
		return 0;
	}
	/* prober/http: 200 <= code < 400 is success */
	if (code >= 200 && code < 400)
		return 1;
	snprintf(msg, msglen, "HTTP probe failed with statuscode: %d", code);
	return 0;
}

int probe_run(const probe_spec *p, cri_client *cri, const char *pod_ip, const char *container_id, char *msg,
	      size_t msglen)
{
	msg[0] = 0;
	int64_t deadline = mono_ms() + (int64_t)p->timeout_s * 1000;
	const char *ip = p->host[0] ? p->host : pod_ip;
	if ((p->kind == PROBE_HTTP || p->kind == PROBE_TCP) && (!ip || !ip[0])) {
		snprintf(msg, msglen, "pod has no IP address yet");
		return 0;
	}
	/* the fake runtime's pod IPs have nobody behind them: network probes pass, as
	 * they would against a healthy container (exec probes go through its ExecSync) */
	if ((p->kind == PROBE_HTTP || p->kind == PROBE_TCP) && cri_client_is_fake(cri))
		return 1;
	if (p->kind == PROBE_HTTP)
		return http_probe(p, ip, deadline, msg, msglen);
	if (p->kind == PROBE_TCP) {
		int fd = connect_to(ip, p->port, deadline);
		if (fd < 0) {
			snprintf(msg, msglen, "dial tcp %s:%d: %s", ip, p->port, strerror(-fd));
			return 0;
		}
		close(fd);
		return 1;
	}
	if (p->kind == PROBE_EXEC) {
		Runtime__V1__ExecSyncResponse *r = NULL;
		cri_grpc_status st;
		int rc = cri_exec_sync(cri, container_id, (const char *const *)p->cmd, (size_t)p->ncmd, p->timeout_s,
				       &r, &st);
		if (rc < 0) {
			snprintf(msg, msglen, "command timed out or failed: %s", st.message[0] ? st.message : "error");
			return 0;
		}
		int ok = r->exit_code == 0;
		if (!ok)
			snprintf(msg, msglen, "command exited with %d: %.*s", r->exit_code,
				 (int)(r->stdout.len > 200 ? 200 : r->stdout.len), (const char *)r->stdout.data);
		cri_msg_free(r);
		return ok;
	}
	return 1;
}
