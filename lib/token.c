#include <string.h>

#include <openssl/evp.h>
#include <uuid/uuid.h>

#include "token.h"

void etl_token_new(char out[ETL_TOKEN_LEN + 1])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

bool etl_token_valid(const char *s, size_t len)
{
	if (len != ETL_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return true;
}

int etl_token_v5(const char *ns, const char *name, size_t len,
		 char out[ETL_TOKEN_LEN + 1])
{
	/* libuuid 2.38 has uuid_generate_sha1, but older ones do not: compute
	 * RFC 4122 section 4.3 ourselves so the ids never depend on it. */
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	uuid_t nsu, u;
	EVP_MD_CTX *ctx;

	if (uuid_parse(ns, nsu) < 0)
		return -1;
	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) ||
	    !EVP_DigestUpdate(ctx, nsu, sizeof(nsu)) ||
	    !EVP_DigestUpdate(ctx, name, len) ||
	    !EVP_DigestFinal_ex(ctx, md, &mdlen)) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	EVP_MD_CTX_free(ctx);
	memcpy(u, md, sizeof(u));
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x50);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
	uuid_unparse_lower(u, out);
	return 0;
}
