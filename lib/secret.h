/*
 * secret.h - credentials at rest: AES-256-GCM under a key derived from
 * ETL_SECRET_KEY (see secret.c for the derivation and why).
 *
 * Stored form: "v1:" + base64(nonce[12] | ciphertext | tag[16]), plain
 * ASCII, so it fits a text column and a CHECK can tell it from a token
 * pasted in by mistake.  The version prefix leaves room for a new scheme.
 *
 * Errors are reported, and *why (may be NULL) says:
 *   ETL_CONFIG   ETL_SECRET_KEY unset ("ETL_SECRET_KEY is not set"), too
 *                short, or not the key the value was encrypted with
 *   ETL_DATAERR  the stored value is not in the v1 format or is truncated
 *   ETL_SOFTWARE OpenSSL failed (no randomness, ...)
 */
#ifndef ETL_SECRET_H
#define ETL_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* Shortest ETL_SECRET_KEY accepted, in bytes. */
#define ETL_SECRET_KEY_MIN 16

/* Encrypt @len bytes at @plain.  Returns the stored form (caller frees;
 * not secret) or NULL after reporting. */
char *etl_secret_encrypt(const char *plain, size_t len, int *why);

/*
 * Decrypt and authenticate @stored.  Returns the plaintext, NUL-terminated,
 * its length in *len (may be NULL); the caller releases it with
 * etl_secret_free(), which wipes it.  NULL after reporting.
 */
char *etl_secret_decrypt(const char *stored, size_t *len, int *why);

/* Whether two secrets are equal, in time independent of where they differ. */
bool etl_secret_equal(const char *a, const char *b);

/* Wipe and free a string holding a secret (NULL is fine). */
void etl_secret_free(char *s);

#endif
