/* healthz and metrics HTTP servers. See server.h. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "config.h"
#include "log.h"

struct px_server {
	struct MHD_Daemon *mhd;
	enum px_server_kind kind;
	px_proxier *proxier;
	int fd;
	int port;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *ctype,
			     const char *body, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	enum MHD_Result ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **ctx)
{
	px_server *s = cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		const char *m = "method not allowed\n";
		return reply(conn, 405, "text/plain; charset=utf-8", m, strlen(m));
	}
	px_buf b;
	px_buf_init(&b);
	enum MHD_Result ret;
	if (s->kind == PX_SERVER_HEALTHZ &&
	    (strcmp(url, "/healthz") == 0 || strcmp(url, "/livez") == 0)) {
		bool ok = px_proxier_healthz(s->proxier, &b);
		ret = reply(conn, ok ? 200 : 503, "application/json", px_buf_str(&b), b.len);
	} else if (s->kind == PX_SERVER_METRICS && strcmp(url, "/metrics") == 0) {
		px_proxier_metrics(s->proxier, &b);
		ret = reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", px_buf_str(&b),
			    b.len);
	} else if (s->kind == PX_SERVER_METRICS && strcmp(url, "/proxyMode") == 0) {
		ret = reply(conn, 200, "text/plain; charset=utf-8", "iptables", 8);
	} else if (s->kind == PX_SERVER_METRICS && strcmp(url, "/healthz") == 0) {
		ret = reply(conn, 200, "text/plain; charset=utf-8", "ok", 2);
	} else {
		const char *m = "404 page not found\n";
		ret = reply(conn, 404, "text/plain; charset=utf-8", m, strlen(m));
	}
	px_buf_close(&b);
	return ret;
}

int px_server_start(enum px_server_kind kind, const char *addr, px_proxier *proxier,
		    px_server **out)
{
	char host[64];
	int port;
	if (px_split_hostport(addr, host, sizeof(host), &port) < 0)
		return -EINVAL;
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (*host && inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	/* Bind ourselves so a busy port is an error the caller can report. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	socklen_t sl = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	px_server *s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->kind = kind;
	s->proxier = proxier;
	s->fd = fd;
	s->port = ntohs(sa.sin_port);
	s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
				  NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
	if (!s->mhd) {
		close(fd);
		free(s);
		return -EIO;
	}
	*out = s;
	return 0;
}

int px_server_port(const px_server *s)
{
	return s->port;
}

void px_server_stop(px_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->mhd);
	close(s->fd);
	free(s);
}
