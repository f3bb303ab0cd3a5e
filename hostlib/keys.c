/* Key handling for the `fota` tool over mbedTLS 3.6 (host only): load PEM keys, sign, generate.
 * Only public accessors: no MBEDTLS_PRIVATE field is read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/psa_util.h>
#include <psa/crypto.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

#include "fota/hostlib.h"
#include "mbedtls/md.h"

_Static_assert(MBEDTLS_VERSION_NUMBER >= 0x03060000, "the host builds mbedTLS 3.6 from source (CMakeLists.txt)");

struct fota_signer {
    mbedtls_pk_context pk;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

static const char *mbed_msg(int ret)
{
    switch (ret) {
    case MBEDTLS_ERR_PK_FILE_IO_ERROR:
        return "cannot read the file";
    case MBEDTLS_ERR_PK_KEY_INVALID_FORMAT:
    case MBEDTLS_ERR_PK_KEY_INVALID_VERSION:
        return "not a valid key";
    case MBEDTLS_ERR_PK_PASSWORD_REQUIRED:
        return "the key is encrypted with a password, which this tool does not take";
    case MBEDTLS_ERR_PK_UNKNOWN_PK_ALG:
        return "unknown key algorithm";
    default:
        return "not a PEM or DER key";
    }
}

/* The key must be an EC key on P-256: the only curve the bootloader verifies. */
static int check_p256(const mbedtls_pk_context *pk, const char *path)
{
    if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY && mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECDSA) {
        fota_err("'%s' is not an EC key (an ECDSA P-256 key is required)", path);
        return -1;
    }
    if (mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(*pk)) != MBEDTLS_ECP_DP_SECP256R1) {
        fota_err("'%s' is an EC key on another curve (P-256 is required)", path);
        return -1;
    }
    return 0;
}

static int point_bytes(const mbedtls_ecp_keypair *kp, uint8_t pub[CRYPTO_P256_PUBKEY_SIZE])
{
    size_t olen = 0;
    int ret = mbedtls_ecp_write_public_key(kp, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, pub, CRYPTO_P256_PUBKEY_SIZE);
    return ret == 0 && olen == CRYPTO_P256_PUBKEY_SIZE ? 0 : -1;
}

/* A random generator for mbedTLS calls that want one while parsing a private key (blinding), from
 * PSA's, which seeds itself from the system. */
static int rng_ready(void)
{
    if (psa_crypto_init() != PSA_SUCCESS) {
        fota_err("cannot start the random generator (psa_crypto_init)");
        return -1;
    }
    return 0;
}

/* Loads a public or private key file; prints the error itself. */
static int load_any_key(const char *path, mbedtls_pk_context *pk)
{
    mbedtls_pk_init(pk);
    if (rng_ready() != 0) {
        return -1;
    }
    int ret = mbedtls_pk_parse_public_keyfile(pk, path);
    if (ret != 0) {
        /* A private key file holds the public key too. */
        mbedtls_pk_free(pk);
        mbedtls_pk_init(pk);
        ret = mbedtls_pk_parse_keyfile(pk, path, NULL, mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
    }
    if (ret != 0) {
        fota_err("cannot load key '%s': %s", path, mbed_msg(ret));
        mbedtls_pk_free(pk);
        return -1;
    }
    if (check_p256(pk, path) != 0) {
        mbedtls_pk_free(pk);
        return -1;
    }
    return 0;
}

int fota_load_pubkey(const char *path, uint8_t pub[CRYPTO_P256_PUBKEY_SIZE])
{
    mbedtls_pk_context pk;
    if (load_any_key(path, &pk) != 0) {
        return -1;
    }
    int rc = point_bytes(mbedtls_pk_ec(pk), pub);
    if (rc != 0) {
        fota_err("cannot encode the public key of '%s'", path);
    }
    mbedtls_pk_free(&pk);
    return rc;
}

int fota_pubkey_pem(const char *path, char *out, size_t size)
{
    mbedtls_pk_context pk;
    if (load_any_key(path, &pk) != 0) {
        return -1;
    }
    int rc = mbedtls_pk_write_pubkey_pem(&pk, (unsigned char *)out, size) == 0 ? 0 : -1;
    if (rc != 0) {
        fota_err("cannot encode the public key of '%s'", path);
    }
    mbedtls_pk_free(&pk);
    return rc;
}

static int seed_drbg(fota_signer *s)
{
    static const char pers[] = "fota-tool";
    return mbedtls_ctr_drbg_seed(&s->drbg, mbedtls_entropy_func, &s->entropy, (const unsigned char *)pers,
                                 sizeof(pers) - 1);
}

static fota_signer *signer_new(void)
{
    fota_signer *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        fota_err("out of memory");
        return NULL;
    }
    mbedtls_pk_init(&s->pk);
    mbedtls_entropy_init(&s->entropy);
    mbedtls_ctr_drbg_init(&s->drbg);
    if (seed_drbg(s) != 0) {
        fota_err("cannot seed the random generator");
        fota_signer_free(s);
        return NULL;
    }
    return s;
}

fota_signer *fota_signer_load(const char *path)
{
    fota_signer *s = signer_new();
    if (s == NULL) {
        return NULL;
    }
    int ret = mbedtls_pk_parse_keyfile(&s->pk, path, NULL, mbedtls_ctr_drbg_random, &s->drbg);
    if (ret != 0) {
        if (mbedtls_pk_parse_public_keyfile(&s->pk, path) == 0) {
            fota_err("'%s' is a public key; signing needs the private key", path);
        } else {
            fota_err("cannot load signing key '%s': %s", path, mbed_msg(ret));
        }
        fota_signer_free(s);
        return NULL;
    }
    if (check_p256(&s->pk, path) != 0) {
        fota_signer_free(s);
        return NULL;
    }
    return s;
}

int fota_signer_sign(fota_signer *s, const uint8_t hash[CRYPTO_SHA256_SIZE], uint8_t sig[CRYPTO_P256_SIG_SIZE])
{
    mbedtls_ecp_group grp;
    mbedtls_mpi d, r, sv, half;
    mbedtls_ecp_point q;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&sv);
    mbedtls_mpi_init(&half);
    int ret = mbedtls_ecp_export(mbedtls_pk_ec(s->pk), &grp, &d, &q);
    /* Deterministic ECDSA (RFC 6979): the same key and image always give the same signature. */
    if (ret == 0) {
        ret = mbedtls_ecdsa_sign_det_ext(&grp, &r, &sv, &d, hash, CRYPTO_SHA256_SIZE, MBEDTLS_MD_SHA256,
                                         mbedtls_ctr_drbg_random, &s->drbg);
    }
    /* Low S: (r, n - s) is the same signature's twin; only s <= n/2 is issued, so an image has one
     * signature from this tool (the verifier accepts both: docs/image-format.md). */
    if (ret == 0) {
        ret = mbedtls_mpi_copy(&half, &grp.N);
    }
    if (ret == 0) {
        ret = mbedtls_mpi_shift_r(&half, 1);
    }
    if (ret == 0 && mbedtls_mpi_cmp_mpi(&sv, &half) > 0) {
        ret = mbedtls_mpi_sub_mpi(&sv, &grp.N, &sv);
    }
    if (ret == 0) {
        ret = mbedtls_mpi_write_binary(&r, sig, 32);
    }
    if (ret == 0) {
        ret = mbedtls_mpi_write_binary(&sv, sig + 32, 32);
    }
    mbedtls_mpi_free(&half);
    mbedtls_mpi_free(&sv);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&d); /* zeroizes */
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    if (ret != 0) {
        fota_err("signing failed (mbedTLS error -0x%04x)", (unsigned)-ret);
        return -1;
    }
    return 0;
}

void fota_signer_pubkey(const fota_signer *s, uint8_t pub[CRYPTO_P256_PUBKEY_SIZE])
{
    /* Cannot fail for a key that passed check_p256. */
    (void)point_bytes(mbedtls_pk_ec(s->pk), pub);
}

void fota_signer_free(fota_signer *s)
{
    if (s == NULL) {
        return;
    }
    mbedtls_pk_free(&s->pk);
    mbedtls_ctr_drbg_free(&s->drbg);
    mbedtls_entropy_free(&s->entropy);
    free(s);
}

fota_signer *fota_signer_generate(void)
{
    fota_signer *s = signer_new();
    if (s == NULL) {
        return NULL;
    }
    int ret = mbedtls_pk_setup(&s->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (ret == 0) {
        ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(s->pk), mbedtls_ctr_drbg_random, &s->drbg);
    }
    if (ret != 0) {
        fota_err("key generation failed (mbedTLS error -0x%04x)", (unsigned)-ret);
        fota_signer_free(s);
        return NULL;
    }
    return s;
}

int fota_signer_private(const fota_signer *s, uint8_t d[32])
{
    size_t n = 0;
    int ret = mbedtls_ecp_write_key_ext(mbedtls_pk_ec(s->pk), &n, d, 32);
    if (ret != 0 || n != 32) {
        fota_err("cannot read the private key (mbedTLS error -0x%04x)", (unsigned)-ret);
        return -1;
    }
    return 0;
}

int fota_load_device_key(const char *path, uint8_t priv[32], uint8_t *pub)
{
    fota_signer *k = fota_signer_load(path);
    int bad = k == NULL || fota_signer_private(k, priv) != 0;
    if (!bad && pub != NULL) {
        fota_signer_pubkey(k, pub);
    }
    fota_signer_free(k);
    return bad ? -1 : 0;
}

fota_signer *fota_signer_from_scalar(const uint8_t d[32])
{
    fota_signer *s = signer_new();
    if (s == NULL) {
        return NULL;
    }
    int ret = mbedtls_pk_setup(&s->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    mbedtls_ecp_keypair *kp = ret == 0 ? mbedtls_pk_ec(s->pk) : NULL;
    if (ret == 0) {
        ret = mbedtls_ecp_read_key(MBEDTLS_ECP_DP_SECP256R1, kp, d, 32); /* checks 1 <= d < n */
    }
    if (ret == 0) {
        ret = mbedtls_ecp_keypair_calc_public(kp, mbedtls_ctr_drbg_random, &s->drbg);
    }
    if (ret != 0) {
        fota_err("not a usable P-256 private key (mbedTLS error -0x%04x)", (unsigned)-ret);
        fota_signer_free(s);
        return NULL;
    }
    return s;
}

/* fota keygen: a new P-256 key pair, private key PEM (mode 0600) and public key PEM. */
int fota_keygen_files(const char *priv_path, const char *pub_path)
{
    fota_signer *s = fota_signer_generate();
    if (s == NULL) {
        return EXIT_OUTPUT;
    }
    int rc = EXIT_OUTPUT;
    unsigned char pem[2048];
    if (mbedtls_pk_write_key_pem(&s->pk, pem, sizeof(pem)) != 0) {
        fota_err("cannot encode the private key");
        goto out;
    }
    if (fota_write_file(priv_path, pem, strlen((char *)pem), 0600) != 0) {
        goto out;
    }
    if (mbedtls_pk_write_pubkey_pem(&s->pk, pem, sizeof(pem)) != 0) {
        fota_err("cannot encode the public key");
        goto out;
    }
    if (fota_write_file(pub_path, pem, strlen((char *)pem), 0644) != 0) {
        goto out;
    }
    rc = EXIT_OK;
out:
    mbedtls_platform_zeroize(pem, sizeof(pem));
    fota_signer_free(s);
    return rc;
}

int fota_ui_sign(const char *key, long long exp, char sig[65])
{
    char msg[48];
    unsigned char d[32];
    snprintf(msg, sizeof(msg), "fota-ui %lld", exp);
    if (key == NULL || key[0] == '\0' ||
        mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), (const unsigned char *)key, strlen(key),
                        (const unsigned char *)msg, strlen(msg), d) != 0) {
        return -1;
    }
    fota_hex(d, 32, sig);
    return 0;
}
