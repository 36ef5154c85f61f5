/*
 * Key derivation: HKDF-SHA256 (RFC 5869), not PBKDF2.  ETL_SECRET_KEY is
 * an operator-generated random key (documented as `openssl rand -base64
 * 32`), not a password a person remembers, so there is nothing for a slow
 * password hash to protect: HKDF is the tool for turning high-entropy
 * input into a key, and it costs microseconds where a PBKDF2 strong enough
 * to matter would add a fraction of a second to every short-lived program
 * (etl-extract runs per job).  A fixed salt and an info string bind the
 * key to this use, so the same ETL_SECRET_KEY used elsewhere yields an
 * unrelated key.  The AAD binds ciphertexts to the format version.
 *
 * Nonces are random (RAND_bytes, 96 bits): safe for far more encryptions
 * than a credentials table will ever see (NIST's 2^32 bound per key).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "config.h"
#include "log.h"
#include "secret.h"
#include "util.h"

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define PREFIX "v1:"

static const char hkdf_salt[] = "etlkit/secret/v1/salt";
static const char hkdf_info[] = "etlkit integration credentials, AES-256-GCM";
static const char aad[] = "etlkit-secret-v1";

static unsigned char key[KEY_LEN];
static bool have_key;

static void wipe_key(void)
{
	OPENSSL_cleanse(key, sizeof(key));
	have_key = false;
}

static void set_why(int *why, int code)
{
	if (why)
		*why = code;
}

/* Derive the key once per process.  0, or -1 after reporting. */
static int load_key(int *why)
{
	const char *master = etl_config_get("ETL_SECRET_KEY");
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5];
	int ret = -1;

	if (have_key)
		return 0;
	if (!master || !*master) {
		set_why(why, ETL_CONFIG);
		return etl_error("ETL_SECRET_KEY is not set");
	}
	if (strlen(master) < ETL_SECRET_KEY_MIN) {
		set_why(why, ETL_CONFIG);
		return etl_error("ETL_SECRET_KEY is too short: use at least %d "
				 "random characters (openssl rand -base64 32)",
				 ETL_SECRET_KEY_MIN);
	}
	/* After the length check: masking a short word would garble that
	 * very message. */
	etl_log_add_secret(master);
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
		(void *)master, strlen(master));
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		(void *)hkdf_salt, sizeof(hkdf_salt) - 1);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
		(void *)hkdf_info, sizeof(hkdf_info) - 1);
	params[4] = OSSL_PARAM_construct_end();
	if (!kctx || EVP_KDF_derive(kctx, key, sizeof(key), params) != 1) {
		set_why(why, ETL_SOFTWARE);
		etl_error("cannot derive the secret key: HKDF-SHA256 failed");
		goto out;
	}
	have_key = true;
	atexit(wipe_key);
	ret = 0;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ret;
}

char *etl_secret_encrypt(const char *plain, size_t len, int *why)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *raw = NULL;
	char *out = NULL;
	size_t rawlen;
	int n, fin, blen;

	if (load_key(why) < 0)
		return NULL;
	if (len > (1u << 20)) {
		set_why(why, ETL_DATAERR);
		etl_error("secret too long (%zu bytes)", len);
		return NULL;
	}
	rawlen = NONCE_LEN + len + TAG_LEN;
	raw = xmalloc(rawlen);
	ctx = EVP_CIPHER_CTX_new();
	if (RAND_bytes(raw, NONCE_LEN) != 1 || !ctx ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, raw) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad,
			      (int)sizeof(aad) - 1) != 1 ||
	    EVP_EncryptUpdate(ctx, raw + NONCE_LEN, &n,
			      (const unsigned char *)plain, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, raw + NONCE_LEN + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
				raw + NONCE_LEN + len) != 1) {
		set_why(why, ETL_SOFTWARE);
		etl_error("cannot encrypt secret: OpenSSL AES-256-GCM failed");
		goto out;
	}
	blen = 4 * (int)((rawlen + 2) / 3);
	out = xmalloc(sizeof(PREFIX) + (size_t)blen);
	memcpy(out, PREFIX, sizeof(PREFIX) - 1);
	EVP_EncodeBlock((unsigned char *)out + sizeof(PREFIX) - 1, raw, (int)rawlen);
out:
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(raw, rawlen);
	free(raw);
	return out;
}

/* Decode base64 @s into a new buffer; -1 if malformed. */
static int unbase64(const char *s, unsigned char **out, size_t *outlen)
{
	size_t len = strlen(s), pad = 0;
	int n;

	if (len == 0 || len % 4 || len > (4u << 20))
		return -1;
	if (s[len - 1] == '=')
		pad++;
	if (s[len - 2] == '=')
		pad++;
	*out = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(*out, (const unsigned char *)s, (int)len);
	if (n < 0 || (size_t)n < pad) {
		free(*out);
		*out = NULL;
		return -1;
	}
	*outlen = (size_t)n - pad;
	return 0;
}

char *etl_secret_decrypt(const char *stored, size_t *len, int *why)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *raw = NULL;
	char *plain = NULL;
	size_t rawlen = 0, clen;
	int n, fin;

	if (!stored || strncmp(stored, PREFIX, sizeof(PREFIX) - 1)) {
		set_why(why, ETL_DATAERR);
		etl_error("stored secret is not in a known format (expected 'v1:...')");
		return NULL;
	}
	if (unbase64(stored + sizeof(PREFIX) - 1, &raw, &rawlen) < 0 ||
	    rawlen < NONCE_LEN + TAG_LEN) {
		set_why(why, ETL_DATAERR);
		etl_error("stored secret is corrupt (bad base64 or truncated)");
		goto out;
	}
	if (load_key(why) < 0)
		goto out;
	clen = rawlen - NONCE_LEN - TAG_LEN;
	plain = xmalloc(clen + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, raw) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad,
			      (int)sizeof(aad) - 1) != 1 ||
	    EVP_DecryptUpdate(ctx, (unsigned char *)plain, &n,
			      raw + NONCE_LEN, (int)clen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
				raw + NONCE_LEN + clen) != 1) {
		set_why(why, ETL_SOFTWARE);
		etl_error("cannot decrypt secret: OpenSSL AES-256-GCM failed");
		goto fail;
	}
	/* The tag is checked here: a wrong key and tampering look alike. */
	if (EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + n, &fin) != 1) {
		set_why(why, ETL_CONFIG);
		etl_error("cannot decrypt stored secret: ETL_SECRET_KEY is not "
			  "the key it was encrypted with (or the value was altered)");
		goto fail;
	}
	plain[clen] = '\0';
	if (len)
		*len = clen;
	goto out;
fail:
	OPENSSL_cleanse(plain, clen + 1);
	free(plain);
	plain = NULL;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (raw)
		OPENSSL_cleanse(raw, rawlen);
	free(raw);
	return plain;
}

bool etl_secret_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

void etl_secret_free(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}
