/* kubeconfig files (kubectl's format), parsed with libyaml.
 *
 * Loading resolves one context into a flat kc_kubeconfig: the server and TLS settings of
 * its cluster, the credentials of its user, and its namespace. Supported fields:
 *
 *   clusters[].cluster: server, certificate-authority, certificate-authority-data,
 *                       insecure-skip-tls-verify, tls-server-name
 *   users[].user:       client-certificate, client-certificate-data, client-key,
 *                       client-key-data, token, tokenFile
 *   contexts[].context: cluster, user, namespace
 *   current-context
 *
 * As client-go's loader: relative file paths are resolved against the directory of the
 * kubeconfig file; "-data" fields are base64 and are decoded into memory (the client hands
 * them to libcurl as blobs, nothing is written to disk); "-data" wins over the file path
 * when both are set; tokenFile is read at load time and wins over an inline token, which
 * is only the fallback when the file cannot be read (client-go's BearerTokenFile).
 * Not supported (an error would be silent otherwise, so they are ignored with a warning at
 * -v=2): exec/auth-provider plugins, username/password, proxy-url, merging several files.
 *
 * File resolution (kc_kubeconfig_load): explicit path (--kubeconfig) if non-NULL/non-empty,
 * else the FIRST file of $KUBECONFIG (a colon list is not merged as kubectl does; only
 * its first entry is read), else ~/.kube/config ($HOME).
 *
 * Errors: -ENOENT (no file), KC_EPARSE (malformed YAML, bad base64, wrong node type),
 * KC_ENOTFOUND (context, cluster or user named but absent; no current-context),
 * KC_EINVALID (cluster without server). errbuf (may be NULL) receives a message naming
 * the file and the field. */
#ifndef KC_KUBECONFIG_H
#define KC_KUBECONFIG_H

#include <stddef.h>

/* All strings and buffers are heap-owned by the struct and freed by kc_kubeconfig_close.
 * Unset fields are NULL / 0. */
typedef struct kc_kubeconfig {
	char *context;      /* the context that was resolved (NULL for from_parts) */
	char *cluster_name;
	char *user_name;
	char *namespace;    /* the context's namespace, "default" when unset */

	char *server;       /* "https://host:port" */
	char *tls_server_name;
	int insecure_skip_tls_verify;
	char *ca_file;      /* absolute path, or NULL */
	unsigned char *ca_data; /* decoded PEM bytes, or NULL */
	size_t ca_len;

	char *cert_file;
	unsigned char *cert_data;
	size_t cert_len;
	char *key_file;
	unsigned char *key_data;
	size_t key_len;
	char *token;        /* bearer token (inline or read from tokenFile, trailing newline cut) */
} kc_kubeconfig;

/* Resolve the file as described above and load it. context NULL means current-context. */
int kc_kubeconfig_load(kc_kubeconfig *kc, const char *explicit_path, const char *context,
		       char *errbuf, size_t errlen);

/* Load a given file. */
int kc_kubeconfig_load_file(kc_kubeconfig *kc, const char *path, const char *context,
			    char *errbuf, size_t errlen);

/* Parse YAML text (len bytes, borrowed). base_dir resolves relative paths (NULL: the
 * current directory). name is used in messages only (may be NULL). */
int kc_kubeconfig_parse(kc_kubeconfig *kc, const char *yaml, size_t len, const char *base_dir,
			const char *name, const char *context, char *errbuf, size_t errlen);

/* The simple constructor (no file): server URL plus optional CA / client cert / key file
 * paths and bearer token (all copied; NULL for unset). Returns 0, -EINVAL (no server),
 * -ENOMEM. */
int kc_kubeconfig_from_parts(kc_kubeconfig *kc, const char *server, const char *ca_file,
			     const char *cert_file, const char *key_file, const char *token);

/* What a daemon's --master / --kubeconfig flags mean (client-go's
 * clientcmd.BuildConfigFromFlags): a kubeconfig path loads that file, and a non-empty
 * master then overrides its server; a master alone is a server without credentials
 * (kc_kubeconfig_from_parts). Neither: upstream tries the in-cluster service account,
 * which kubec does not implement; we fall back to kc_kubeconfig_load's rules
 * ($KUBECONFIG, ~/.kube/config) instead. Errors as kc_kubeconfig_load. */
int kc_kubeconfig_from_flags(kc_kubeconfig *kc, const char *master, const char *kubeconfig,
			     char *errbuf, size_t errlen);

/* Deep copy of src into dst (dst is overwritten, not closed first). 0 or -ENOMEM (dst
 * then left zeroed). */
int kc_kubeconfig_copy(kc_kubeconfig *dst, const kc_kubeconfig *src);

/* Free everything and zero the struct; safe on a zeroed or failed struct. */
void kc_kubeconfig_close(kc_kubeconfig *kc);

#endif
