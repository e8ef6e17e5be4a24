#ifndef AGENTOS_CCRYPTO_SHIM_H
#define AGENTOS_CCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/bio.h>

// OpenSSL macros Swift cannot import.
static inline long agentos_ssl_ctx_set_min_tls12(SSL_CTX *ctx) {
    return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}
static inline long agentos_ssl_set_sni(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
static inline long agentos_ssl_ctx_set_auto_retry(SSL_CTX *ctx) {
    return SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
}
static inline int agentos_ssl_error_want_read(void) { return SSL_ERROR_WANT_READ; }
static inline int agentos_ssl_error_want_write(void) { return SSL_ERROR_WANT_WRITE; }
static inline int agentos_ssl_error_zero_return(void) { return SSL_ERROR_ZERO_RETURN; }
#endif
