/* Random and edge-case P-256 keys and signatures through the crypto port the device runs.
 *
 *   sig_sweep N [--out FILE] [--add FILE]
 *
 * Signs N random digests with `fota sign`'s signer (RFC 6979, low S), a new random key for every
 * fourth pair, plus edge-case keys (private scalars 1, 2, 3, n-1, n-2, ..., powers of two) and
 * edge-case digests (zero, all ones, the group order itself), and checks every pair with
 * crypto_p256_verify: the very code the bootloader and the agent run. Each pair is also checked
 * as its high-S twin (r, n - s), which must verify too, and one pair in four with one bit of its
 * signature, digest or key changed, which must be refused.
 * --add FILE also checks the pairs of a table written before (a worst case kept as test data).
 * --out FILE writes every pair as a table for the on-device probe (firmware/probes/sig_probe.c).
 * Prints "N random key/signature pairs through the device configuration, K refused" and exits 0
 * only when K is 0 and every altered pair was refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "fota/hostlib.h"
#include "fota/crypto.h"
#include "sig_table.h"

typedef struct {
    sig_table_t *table; /* pairs kept for --out, or NULL */
    unsigned checked, refused, altered_accepted;
} sweep_t;

static void check_pair(sweep_t *sw, const sig_record_t *rec, const char *what)
{
    sw->checked++;
    crypto_err_t e = crypto_p256_verify(rec->pubkey, rec->hash, rec->sig);
    if (e != CRYPTO_OK) {
        sw->refused++;
        fprintf(stderr, "sig_sweep: %s: a valid pair was refused: %s\n", what, crypto_strerror(e));
    }
    if (sw->table != NULL && sig_table_add(sw->table, rec) != 0) {
        fprintf(stderr, "sig_sweep: out of memory for the table\n");
        exit(2);
    }
    if (sw->checked % 4 != 1) {
        return;
    }
    /* One pair in four again with one bit changed in the signature, the digest or the key's x. */
    sig_record_t bad = *rec;
    unsigned bit = sw->checked % 512;
    bad.sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    if (crypto_p256_verify(bad.pubkey, bad.hash, bad.sig) == CRYPTO_OK) {
        sw->altered_accepted++;
        fprintf(stderr, "sig_sweep: %s: signature bit %u changed, still accepted\n", what, bit);
    }
    bad = *rec;
    bad.hash[(sw->checked * 7) % 32] ^= 0x01;
    if (crypto_p256_verify(bad.pubkey, bad.hash, bad.sig) == CRYPTO_OK) {
        sw->altered_accepted++;
        fprintf(stderr, "sig_sweep: %s: digest changed, still accepted\n", what);
    }
    bad = *rec;
    bad.pubkey[1 + (sw->checked * 11) % 32] ^= 0x80;
    if (crypto_p256_verify(bad.pubkey, bad.hash, bad.sig) == CRYPTO_OK) {
        sw->altered_accepted++;
        fprintf(stderr, "sig_sweep: %s: public key changed, still accepted\n", what);
    }
}

/* The order n of the P-256 group, big-endian. */
static const uint8_t P256_N[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF,
                                   0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17,
                                   0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};

/* s = n - s, in place (s in [1, n-1]). */
static void n_minus_s(uint8_t s[32])
{
    unsigned borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int v = (int)P256_N[i] - (int)s[i] - (int)borrow;
        borrow = v < 0;
        s[i] = (uint8_t)(v < 0 ? v + 256 : v);
    }
}

/* d = n - k (k small). */
static void n_minus(uint8_t d[32], unsigned k)
{
    memset(d, 0, 32);
    for (int i = 31; i >= 28; i--, k >>= 8) {
        d[i] = (uint8_t)k;
    }
    n_minus_s(d);
}

static int sign_one(sweep_t *sw, fota_signer *key, const uint8_t hash[32], const char *what)
{
    sig_record_t rec;
    fota_signer_pubkey(key, rec.pubkey);
    memcpy(rec.hash, hash, 32);
    if (fota_signer_sign(key, rec.hash, rec.sig) != 0) {
        return -1;
    }
    check_pair(sw, &rec, what);
    /* Its twin (r, n - s) is as valid: another signer (OpenSSL, an HSM) may issue it. */
    sig_record_t twin = rec;
    n_minus_s(twin.sig + 32);
    char twin_what[96];
    snprintf(twin_what, sizeof(twin_what), "%s, high-S twin", what);
    check_pair(sw, &twin, twin_what);
    return 0;
}

static void random_bytes(uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got <= 0) {
            perror("sig_sweep: getrandom");
            exit(2);
        }
        p += got;
        n -= (size_t)got;
    }
}

static int edge_cases(sweep_t *sw)
{
    uint8_t d[32];
    uint8_t scalars[16][32];
    unsigned count = 0;
    for (unsigned k = 1; k <= 4; k++) { /* d = 1..4: Q = G, 2G, 3G, 4G */
        memset(scalars[count], 0, 32);
        scalars[count++][31] = (uint8_t)k;
    }
    for (unsigned k = 1; k <= 4; k++) { /* d = n-1..n-4: Q = -G, -2G, ... (y = p - y) */
        n_minus(scalars[count++], k);
    }
    const unsigned bits[] = {32, 128, 255};
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) { /* powers of two */
        memset(scalars[count], 0, 32);
        scalars[count][31 - bits[i] / 8] = (uint8_t)(1u << (bits[i] % 8));
        count++;
    }
    memcpy(scalars[count], P256_N, 32); /* (n-1)/2 and (n+1)/2 */
    for (int i = 31; i >= 0; i--) {
        scalars[count][i] = (uint8_t)((scalars[count][i] >> 1) | (i > 0 ? (scalars[count][i - 1] & 1) << 7 : 0));
    }
    memcpy(scalars[count + 1], scalars[count], 32);
    scalars[count + 1][31]++; /* (n-1)/2 ends in ...28, no carry */
    count += 2;

    uint8_t hashes[4][32];
    memset(hashes[0], 0x00, 32);      /* e = 0 */
    memset(hashes[1], 0xFF, 32);      /* e > n: reduced */
    memcpy(hashes[2], P256_N, 32);    /* e = n, i.e. 0 mod n */
    n_minus(hashes[3], 1);            /* e = n - 1 */
    for (unsigned i = 0; i < count; i++) {
        memcpy(d, scalars[i], 32);
        fota_signer *key = fota_signer_from_scalar(d);
        if (key == NULL) {
            return -1;
        }
        char what[64];
        for (unsigned h = 0; h < 4 + 4; h++) {
            uint8_t hash[32];
            if (h < 4) {
                memcpy(hash, hashes[h], 32);
            } else {
                random_bytes(hash, 32);
            }
            snprintf(what, sizeof(what), "edge-case key %u, digest %u", i, h);
            if (sign_one(sw, key, hash, what) != 0) {
                fota_signer_free(key);
                return -1;
            }
        }
        fota_signer_free(key);
    }
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long n = 0;
    const char *out = NULL, *add = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--add") == 0 && i + 1 < argc) {
            add = argv[++i];
        } else if (n == 0 && argv[i][0] >= '1' && argv[i][0] <= '9') {
            char *end;
            n = strtoul(argv[i], &end, 10);
            if (*end != '\0' || n > 1000000) {
                fprintf(stderr, "sig_sweep: '%s' is not a pair count (1..1000000)\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: sig_sweep N [--out FILE] [--add FILE]\n");
            return 2;
        }
    }
    if (n == 0) {
        fprintf(stderr, "usage: sig_sweep N [--out FILE] [--add FILE]\n");
        return 2;
    }
    sig_table_t table = {0};
    sweep_t sw = {.table = out != NULL ? &table : NULL};
    int rc = 0;
    if (add != NULL) {
        sig_table_t kept = {0};
        if (sig_table_read(add, &kept) != 0) {
            return 2;
        }
        for (size_t i = 0; i < kept.count; i++) {
            char what[64];
            snprintf(what, sizeof(what), "kept pair %zu of %s", i, add);
            check_pair(&sw, &kept.rec[i], what);
        }
        printf("%zu pairs from %s\n", kept.count, add);
        sig_table_free(&kept);
    }
    unsigned before_edge = sw.checked;
    if (edge_cases(&sw) != 0) {
        rc = 2;
        goto done;
    }
    unsigned edge = sw.checked - before_edge;
    fota_signer *key = NULL;
    for (unsigned long i = 0; i < n; i++) {
        if (i % 4 == 0) {
            fota_signer_free(key);
            key = fota_signer_generate();
            if (key == NULL) {
                rc = 2;
                goto done;
            }
        }
        uint8_t hash[32];
        random_bytes(hash, 32);
        char what[64];
        snprintf(what, sizeof(what), "random pair %lu", i);
        if (sign_one(&sw, key, hash, what) != 0) {
            fota_signer_free(key);
            rc = 2;
            goto done;
        }
        if ((i + 1) % 2000 == 0) {
            fprintf(stderr, "sig_sweep: %lu of %lu pairs\n", i + 1, n);
        }
    }
    fota_signer_free(key);
    printf("%u edge-case key/signature pairs (each also as its high-S twin), %lu random\n", edge / 2, n);
    printf("%lu random key/signature pairs through the device configuration, %u refused\n", n, sw.refused);
    printf("%u altered pairs (signature, digest or key) accepted\n", sw.altered_accepted);
    if (sw.refused != 0 || sw.altered_accepted != 0) {
        rc = 1;
    }
    if (out != NULL && sig_table_write(out, &table) != 0) {
        rc = 2;
    }
done:
    sig_table_free(&table);
    return rc;
}
