/* TLS termination with OpenSSL: zerospice holds the certificates; spice-server
 * only ever sees plaintext (shared/DESIGN.md §4). The files follow QEMU's
 * and spice-server's x509 directory layout. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "front.h"

struct zs_tls {
	SSL_CTX *ctx;
};

/* The oldest queued OpenSSL error, or `fallback`. Clears the queue. */
static void ssl_error_text(char *buf, size_t len, const char *fallback)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "%s", fallback);
	ERR_clear_error();
}

static bool chains_to_ca(SSL_CTX *ctx, char *why, size_t why_len)
{
	STACK_OF(X509) *extra = NULL;
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	bool ok = false;
	if (!xs) {
		snprintf(why, why_len, "out of memory");
		return false;
	}
	SSL_CTX_get0_chain_certs(ctx, &extra);
	if (X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(ctx),
		    SSL_CTX_get0_certificate(ctx), extra) == 1 &&
		X509_STORE_CTX_set_purpose(xs, X509_PURPOSE_SSL_SERVER) == 1) {
		ok = X509_verify_cert(xs) == 1;
		if (!ok)
			snprintf(why, why_len, "%s", X509_verify_cert_error_string(
				X509_STORE_CTX_get_error(xs)));
	} else {
		ssl_error_text(why, why_len, "cannot verify");
	}
	X509_STORE_CTX_free(xs);
	ERR_clear_error();
	return ok;
}

struct zs_tls *zs_tls_create(const char *x509_dir, const char *ciphers,
	char *err, size_t err_len)
{
	char *ca = g_build_filename(x509_dir, "ca-cert.pem", NULL);
	char *cert = g_build_filename(x509_dir, "server-cert.pem", NULL);
	char *key = g_build_filename(x509_dir, "server-key.pem", NULL);
	char why[256];
	struct zs_tls *t = g_new0(struct zs_tls, 1);

	ERR_clear_error();
	t->ctx = SSL_CTX_new(TLS_server_method());
	if (!t->ctx) {
		ssl_error_text(why, sizeof(why), "unknown error");
		snprintf(err, err_len, "TLS: cannot create a context: %s", why);
		goto err_ctx;
	}
	if (!SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION)) {
		ssl_error_text(why, sizeof(why), "unknown error");
		snprintf(err, err_len, "TLS: cannot require TLS 1.2: %s", why);
		goto err_ctx;
	}
	/* A client that drops TCP without close_notify just disconnected:
	 * SPICE frames its own messages, there is no truncation to detect. */
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_COMPRESSION |
		SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
		SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* SSL_write may send part of a buffer, and the retry may come from a
	 * buffer that moved (front.c compacts its buffers). */
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
		SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_dh_auto(t->ctx, 1);
	if (ciphers && !SSL_CTX_set_cipher_list(t->ctx, ciphers)) {
		ssl_error_text(why, sizeof(why), "no cipher matched");
		snprintf(err, err_len, "--tls-ciphers '%s': %s", ciphers, why);
		goto err_ctx;
	}
	if (SSL_CTX_use_certificate_chain_file(t->ctx, cert) != 1) {
		ssl_error_text(why, sizeof(why), "unknown error");
		snprintf(err, err_len, "TLS: cannot load %s: %s", cert, why);
		goto err_ctx;
	}
	if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1) {
		/* OpenSSL 3 compares the key with the certificate here */
		bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) ==
			X509_R_KEY_VALUES_MISMATCH;
		ssl_error_text(why, sizeof(why), "unknown error");
		if (mismatch)
			snprintf(err, err_len,
				"TLS: %s does not match the certificate in %s: %s",
				key, cert, why);
		else
			snprintf(err, err_len, "TLS: cannot load %s: %s", key, why);
		goto err_ctx;
	}
	if (SSL_CTX_check_private_key(t->ctx) != 1) {
		ssl_error_text(why, sizeof(why), "mismatch");
		snprintf(err, err_len,
			"TLS: %s does not match the certificate in %s: %s", key,
			cert, why);
		goto err_ctx;
	}
	if (SSL_CTX_load_verify_locations(t->ctx, ca, NULL) != 1) {
		ssl_error_text(why, sizeof(why), "unknown error");
		snprintf(err, err_len, "TLS: cannot load %s: %s", ca, why);
		goto err_ctx;
	}
	/* Clients are told to trust ca-cert.pem: a certificate that does not
	 * chain to it would fail every handshake, so say so now. */
	if (!chains_to_ca(t->ctx, why, sizeof(why))) {
		snprintf(err, err_len,
			"TLS: %s does not chain to the CA in %s: %s", cert, ca,
			why);
		goto err_ctx;
	}
	g_free(ca);
	g_free(cert);
	g_free(key);
	return t;

err_ctx:
	zs_tls_destroy(t);
	g_free(ca);
	g_free(cert);
	g_free(key);
	return NULL;
}

void zs_tls_destroy(struct zs_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	g_free(t);
}

SSL *zs_tls_session_new(struct zs_tls *t, int fd, char *err, size_t err_len)
{
	char why[256];
	ERR_clear_error();
	SSL *ssl = SSL_new(t->ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1) {
		ssl_error_text(why, sizeof(why), "out of memory");
		snprintf(err, err_len, "TLS: cannot start a session: %s", why);
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

static enum zs_tls_io io_result(SSL *ssl, int rc, const char *what, char *err,
	size_t err_len)
{
	char why[256];
	int e = SSL_get_error(ssl, rc);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return ZS_TLS_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return ZS_TLS_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return ZS_TLS_IO_EOF;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0 && (errno == 0 || errno == ECONNRESET ||
			    errno == EPIPE)) {
			/* the peer went away without close_notify */
			ERR_clear_error();
			return ZS_TLS_IO_EOF;
		}
		ssl_error_text(why, sizeof(why), g_strerror(errno));
		snprintf(err, err_len, "TLS %s: %s", what, why);
		return ZS_TLS_IO_ERROR;
	default:
		ssl_error_text(why, sizeof(why), "protocol error");
		snprintf(err, err_len, "TLS %s: %s",
			SSL_is_init_finished(ssl) ? what : "handshake", why);
		return ZS_TLS_IO_ERROR;
	}
}

enum zs_tls_io zs_tls_read(SSL *ssl, void *buf, size_t len, size_t *n,
	char *err, size_t err_len)
{
	ERR_clear_error();
	errno = 0;
	if (SSL_read_ex(ssl, buf, len, n) == 1)
		return ZS_TLS_IO_DONE;
	return io_result(ssl, 0, "read", err, err_len);
}

enum zs_tls_io zs_tls_write(SSL *ssl, const void *buf, size_t len, size_t *n,
	char *err, size_t err_len)
{
	ERR_clear_error();
	errno = 0;
	if (SSL_write_ex(ssl, buf, len, n) == 1)
		return ZS_TLS_IO_DONE;
	return io_result(ssl, 0, "write", err, err_len);
}
