/* systemd's service notification protocol (sd_notify(3)), written by hand: no libsystemd.
 *
 * A service started by systemd with Type=notify finds in $NOTIFY_SOCKET the address of an
 * AF_UNIX datagram socket; it reports its state by sending newline-separated VAR=value
 * assignments as one datagram: "READY=1" when start-up is complete (systemd then considers
 * the unit started and starts the units ordered after it), "STOPPING=1" when shutdown
 * begins, "STATUS=..." for `systemctl status`. A path starting with '@' names a socket in
 * Linux's abstract namespace (the '@' becomes a leading NUL byte), as sd_notify does.
 *
 * Outside systemd the variable is unset and every call is a no-op returning 0, so daemons
 * call these unconditionally. Errors never stop a daemon: they are logged as a warning and
 * returned as -errno. The variable is left set (unlike sd_notify(unset_environment=1)):
 * kubec's daemons fork nothing that could inherit it by mistake. Thread-safe: every call
 * uses its own socket. */
#ifndef KC_SDNOTIFY_H
#define KC_SDNOTIFY_H

/* Send state (borrowed, e.g. "READY=1") to $NOTIFY_SOCKET. 0 when sent or when the
 * variable is unset or empty; -EINVAL for a NULL state or a path that does not fit in
 * sockaddr_un (or is neither absolute nor '@'-abstract); -EAFNOSUPPORT for other address
 * kinds (systemd's "vsock:"); otherwise the -errno of socket/sendmsg (-ECONNREFUSED when
 * nobody listens, -ENOENT when the path does not exist). */
int kc_sd_notify(const char *state);

/* printf-style kc_sd_notify: kc_sd_notifyf("STATUS=Serving on %s", addr). Same returns,
 * plus -ENOMEM. */
int kc_sd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Send state to an explicit socket address (borrowed; same syntax as $NOTIFY_SOCKET:
 * an absolute path or '@' + abstract name). NULL or "" is a no-op returning 0. Returns as
 * kc_sd_notify. */
int kc_sd_notify_to(const char *socket_addr, const char *state);

#endif
