/* The serving certificate of the /healthz and /metrics endpoint on --secure-port, as
 * upstream's SecureServingOptions (k8s.io/apiserver options/serving.go) for
 * kube-scheduler:
 *
 *  - --tls-cert-file and --tls-private-key-file: both or neither (an error otherwise);
 *    the PEM files are read as they are;
 *  - neither, and --cert-dir set: <cert-dir>/kube-scheduler.crt and .key are used when
 *    both exist, else a self-signed pair is generated and written there (key 0600), as
 *    MaybeDefaultWithSelfSignedCerts;
 *  - neither, and no --cert-dir (kube-scheduler's default): a self-signed pair generated
 *    in memory at each start.
 *
 * The generated certificate names itself "localhost@<unix time>" as upstream's
 * GenerateSelfSignedCertKey and covers DNS:localhost, IP:127.0.0.1, IP:::1 and the
 * bind address when it is a specific IP. Upstream signs it with a throwaway CA; kubec
 * self-signs (clients verify neither: they use -k or the healthz port is local).
 * ECDSA P-256, valid one year. */
#ifndef SCHED_SERVING_H
#define SCHED_SERVING_H

#include <stddef.h>

typedef struct sched_serving_opts {
	const char *cert_file, *key_file; /* "" or NULL when not given */
	const char *cert_dir;             /* "" or NULL: in memory only */
	const char *bind_address;         /* added to the SANs when a specific IP */
} sched_serving_opts;

/* The PEM certificate and key to serve with (malloc'd; the caller frees both). 0, or a
 * negative code with err saying which file or step failed. All arguments borrowed. */
int sched_serving_cert(const sched_serving_opts *o, char **cert_pem, char **key_pem,
		       char *err, size_t errlen);

/* A fresh self-signed pair (exposed for tests). 0, -ENOMEM or -EIO. */
int sched_serving_self_signed(const char *bind_address, char **cert_pem, char **key_pem);

#endif
