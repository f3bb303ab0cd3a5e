/* fota verify, fota inspect: check a signed image with the device's own verifier, show its fields. */
#include "cJSON.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fota.h"
#include "fota/le.h"

/* Largest file either command reads: anything past a bank is rejected by the verifier anyway. */
#define MAX_IMAGE_FILE (16u << 20)

/* How an image's payload stands: plain, or encrypted for a device and either decrypted already (as
 * a device's flash holds it, from fota apply or compose: its hash matches) or still ciphertext. */
typedef enum { PAYLOAD_PLAIN, PAYLOAD_DECRYPTED, PAYLOAD_SEALED } payload_t;

/* The device's verifier over an image in memory; one encrypted for a device that the policy does
 * not decrypt is verified as plaintext if it is that, else checked as far as fota-server can
 * without the device's key (fota_image_check_sealed: structure, key record, signature over the
 * hash its trailer states). hdr may be NULL. */
static img_err_t check_image(const uint8_t *img, size_t len, img_policy_t pol, img_header_t *hdr, payload_t *payload)
{
    *payload = PAYLOAD_PLAIN;
    img_err_t e = img_verify_buffer(img, len, &pol, hdr);
    if (e != IMG_ERR_ENCRYPTED) {
        return e;
    }
    pol.decrypts = 1;
    e = img_verify_buffer(img, len, &pol, hdr);
    if (e != IMG_ERR_HASH) {
        *payload = PAYLOAD_DECRYPTED;
        return e;
    }
    *payload = PAYLOAD_SEALED;
    return fota_image_check_sealed(img, len, pol.pubkey, NULL);
}

static const char verify_usage[] =
    "Usage: fota verify --pubkey KEY.pem [--bank a|b] [--min-security-counter N] IMAGE\n"
    "Runs the device's verifier over IMAGE: structure, SHA-256, key id, ECDSA-P256 signature,\n"
    "target bank and security counter. Prints OK or the reason it is rejected.\n"
    "  -p, --pubkey FILE                the trusted key (public or private PEM)\n"
    "  -b, --bank a|b                   bank the image must be for (default: either)\n"
    "  -m, --min-security-counter N     the device's counter (default 0)\n"
    "  -d, --device-key FILE            an image encrypted for this device key: decrypt, then verify\n"
    "Exit status: 0 valid, 1 rejected, 2 usage, 3 unreadable input.\n";

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"pubkey", required_argument, 0, 'p'},
                                         {"bank", required_argument, 0, 'b'},
                                         {"min-security-counter", required_argument, 0, 'm'},
                                         {"device-key", required_argument, 0, 'd'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *key = NULL, *dev_key = NULL;
    img_policy_t pol = {.pubkey = NULL, .min_security_counter = 0, .bank = LAYOUT_BANK_NONE};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:b:m:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            key = optarg;
            break;
        case 'd':
            dev_key = optarg;
            break;
        case 'b':
            pol.bank = fota_parse_bank(optarg);
            if (pol.bank == LAYOUT_BANK_NONE) {
                fota_err("verify: bank '%s' is not 'a' or 'b'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'm':
            if (fota_parse_u32(optarg, &pol.min_security_counter) != 0) {
                fota_err("verify: security counter '%s' is not a number from 0 to 4294967295", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(verify_usage, stdout);
            return EXIT_OK;
        default:
            return fota_bad_option("verify", c, optopt, argv, optind);
        }
    }
    if (key == NULL) {
        fota_err("verify: --pubkey is required (see 'fota verify --help')");
        return EXIT_USAGE;
    }
    if (optind != argc - 1) {
        fota_err("verify: exactly one IMAGE is required (see 'fota verify --help')");
        return EXIT_USAGE;
    }
    uint8_t pub[CRYPTO_P256_PUBKEY_SIZE];
    if (fota_load_pubkey(key, pub) != 0) {
        return EXIT_INPUT;
    }
    pol.pubkey = pub;
    uint8_t *img;
    size_t len;
    if (fota_read_file(argv[optind], MAX_IMAGE_FILE, &img, &len) != 0) {
        return EXIT_INPUT;
    }
    if (dev_key != NULL) {
        uint8_t priv[32];
        if (fota_load_device_key(dev_key, priv, NULL) != 0) {
            free(img);
            return EXIT_INPUT;
        }
        int r = fota_image_decrypt(img, len, priv);
        memset(priv, 0, sizeof(priv));
        if (r != 0) {
            free(img);
            printf("REJECTED: cannot decrypt with %s\n", dev_key);
            return EXIT_REJECTED;
        }
        pol.decrypts = 1;
    }
    img_header_t hdr;
    payload_t payload;
    img_err_t e = check_image(img, len, pol, &hdr, &payload);
    free(img);
    if (payload == PAYLOAD_SEALED) {
        printf("%s: REJECTED: %s (%s)\n", argv[optind], img_strerror(IMG_ERR_ENCRYPTED),
               e == IMG_OK ? "its signature over the hash it states is good; give the device's key "
                             "(--device-key) to check the payload"
                           : img_strerror(e));
        return EXIT_REJECTED;
    }
    if (e != IMG_OK) {
        printf("%s: REJECTED: %s\n", argv[optind], img_strerror(e));
        return EXIT_REJECTED;
    }
    char vs[32];
    img_version_format(&hdr.version, vs, sizeof(vs));
    printf("%s: OK: version %s, bank %c, security counter %u%s\n", argv[optind], vs, layout_bank_letter(hdr.bank),
           (unsigned)hdr.security_counter,
           payload == PAYLOAD_DECRYPTED ? " (encrypted for transport, decrypted: as a device holds it)" : "");
    return EXIT_OK;
}

static const char inspect_usage[] =
    "Usage: fota inspect [--json] [--pubkey KEY.pem] IMAGE\n"
    "Shows every field of a signed image and whether its hash (and, with --pubkey, its signature)\n"
    "checks out.\n"
    "  -j, --json          machine-readable output\n"
    "  -p, --pubkey FILE   also verify the signature with this key\n"
    "Exit status: 0 the image is intact (and, with --pubkey, trusted), 1 it is not, 2 usage,\n"
    "3 unreadable input.\n";

static void hexdup(const uint8_t *p, size_t n, char *out)
{
    if (p == NULL) {
        strcpy(out, "(missing)");
    } else {
        fota_hex(p, n, out);
    }
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"pubkey", required_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *key = NULL;
    int json = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":jp:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'p':
            key = optarg;
            break;
        case 'h':
            fputs(inspect_usage, stdout);
            return EXIT_OK;
        default:
            return fota_bad_option("inspect", c, optopt, argv, optind);
        }
    }
    if (optind != argc - 1) {
        fota_err("inspect: exactly one IMAGE is required (see 'fota inspect --help')");
        return EXIT_USAGE;
    }
    const char *path = argv[optind];
    uint8_t pub[CRYPTO_P256_PUBKEY_SIZE];
    if (key != NULL && fota_load_pubkey(key, pub) != 0) {
        return EXIT_INPUT;
    }
    uint8_t *img;
    size_t len;
    if (fota_read_file(path, MAX_IMAGE_FILE, &img, &len) != 0) {
        return EXIT_INPUT;
    }
    img_header_t hdr;
    img_err_t e = len < IMG_HEADER_FIELDS_SIZE ? IMG_ERR_TRUNCATED : img_header_decode(img, &hdr);
    if (e != IMG_OK) {
        /* Nothing more can be shown without a header we trust the sizes of. */
        printf("%s: not a valid image: %s\n", path, img_strerror(e));
        free(img);
        return EXIT_REJECTED;
    }
    img_policy_t pol = {.pubkey = key ? pub : NULL, .min_security_counter = 0, .bank = LAYOUT_BANK_NONE};
    payload_t payload;
    img_err_t verdict = check_image(img, len, pol, NULL, &payload);
    int encrypted = (hdr.flags & IMG_FLAG_ENCRYPTED) != 0, sealed = payload == PAYLOAD_SEALED;
    int ok = !sealed && (verdict == IMG_OK || (key == NULL && verdict == IMG_ERR_NO_KEY));

    uint32_t hashed = (uint32_t)hdr.hdr_size + hdr.payload_size;
    uint32_t total = img_total_size(&hdr);
    img_trailer_t tr = {NULL, NULL, NULL, NULL};
    if (len >= total) {
        (void)img_trailer_parse(img + hashed, hdr.trailer_size, &tr);
    }
    char digest_hex[65] = "(image truncated)", keyid_hex[65], stored_hex[65], sig_hex[129], vs[32];
    if (len >= hashed) {
        uint8_t d[CRYPTO_SHA256_SIZE];
        if (crypto_sha256(img, hashed, d) == CRYPTO_OK) {
            fota_hex(d, sizeof(d), digest_hex);
        } else {
            snprintf(digest_hex, sizeof(digest_hex), "(crypto library failure)");
        }
    }
    hexdup(tr.key_id, CRYPTO_SHA256_SIZE, keyid_hex);
    hexdup(tr.sha256, CRYPTO_SHA256_SIZE, stored_hex);
    hexdup(tr.signature, CRYPTO_P256_SIG_SIZE, sig_hex);
    img_version_format(&hdr.version, vs, sizeof(vs));
    uint32_t sp = len >= hdr.hdr_size + 8u ? le_get32(img + hdr.hdr_size) : 0;
    uint32_t rv = len >= hdr.hdr_size + 8u ? le_get32(img + hdr.hdr_size + 4) : 0;
    const char *sig_state = verdict == IMG_OK                                 ? "valid for the given key"
                            : verdict == IMG_ERR_NO_KEY                       ? "not checked (no --pubkey)"
                            : verdict == IMG_ERR_SIGNATURE || verdict == IMG_ERR_KEY_ID ? "INVALID"
                                                                              : "not checked (image invalid)";
    const char *verdict_s = verdict == IMG_OK           ? "valid"
                            : verdict == IMG_ERR_NO_KEY ? "intact; signature not checked"
                                                        : img_strerror(verdict);
    const char *payload_s = !encrypted ? "plain" : sealed ? "encrypted for a device" : "decrypted (as a device holds it)";
    if (sealed && (verdict == IMG_OK || verdict == IMG_ERR_NO_KEY)) {
        verdict_s = verdict == IMG_OK ? "encrypted for a device: structure, key record and signature over the recorded "
                                        "hash valid; the payload needs the device's key (fota verify --device-key)"
                                      : "encrypted for a device: structure and key record intact; signature not "
                                        "checked; the payload needs the device's key (fota verify --device-key)";
    }
    if (sealed) {
        snprintf(digest_hex, sizeof(digest_hex), "(of plaintext that only the device has)");
    }
    free(img);

    if (json) {
        cJSON *o = cJSON_CreateObject();
        int fail = o == NULL;
        fail |= !cJSON_AddStringToObject(o, "file", path);
        fail |= !cJSON_AddNumberToObject(o, "file_size", (double)len);
        fail |= !cJSON_AddNumberToObject(o, "format", hdr.format);
        fail |= !cJSON_AddNumberToObject(o, "header_size", hdr.hdr_size);
        fail |= !cJSON_AddNumberToObject(o, "payload_size", hdr.payload_size);
        fail |= !cJSON_AddNumberToObject(o, "trailer_size", hdr.trailer_size);
        fail |= !cJSON_AddStringToObject(o, "version", vs);
        fail |= !cJSON_AddNumberToObject(o, "security_counter", hdr.security_counter);
        char bank[2] = {layout_bank_letter(hdr.bank), 0}, hex[16];
        fail |= !cJSON_AddStringToObject(o, "bank", bank);
        snprintf(hex, sizeof(hex), "0x%08x", (unsigned)hdr.load_addr);
        fail |= !cJSON_AddStringToObject(o, "load_address", hex);
        fail |= !cJSON_AddNumberToObject(o, "flags", hdr.flags);
        fail |= !cJSON_AddStringToObject(o, "payload", payload_s);
        snprintf(hex, sizeof(hex), sealed ? "(encrypted)" : "0x%08x", (unsigned)sp);
        fail |= !cJSON_AddStringToObject(o, "initial_sp", hex);
        snprintf(hex, sizeof(hex), sealed ? "(encrypted)" : "0x%08x", (unsigned)rv);
        fail |= !cJSON_AddStringToObject(o, "reset_vector", hex);
        fail |= !cJSON_AddStringToObject(o, "sha256", digest_hex);
        fail |= !cJSON_AddStringToObject(o, "sha256_recorded", stored_hex);
        fail |= !cJSON_AddStringToObject(o, "key_id", keyid_hex);
        fail |= !cJSON_AddStringToObject(o, "signature", sig_hex);
        fail |= !cJSON_AddStringToObject(o, "signature_state", sig_state);
        fail |= !cJSON_AddBoolToObject(o, "valid", ok);
        fail |= !cJSON_AddStringToObject(o, "verdict", verdict_s);
        char *text = fail ? NULL : cJSON_Print(o);
        cJSON_Delete(o);
        if (text == NULL) {
            fota_err("inspect: out of memory building JSON");
            return EXIT_OUTPUT;
        }
        puts(text);
        cJSON_free(text);
    } else {
        printf("file:             %s (%zu bytes)\n", path, len);
        printf("format:           %u\n", hdr.format);
        printf("header size:      %u\n", hdr.hdr_size);
        printf("payload size:     %u\n", (unsigned)hdr.payload_size);
        printf("trailer size:     %u\n", (unsigned)hdr.trailer_size);
        printf("version:          %s\n", vs);
        printf("security counter: %u\n", (unsigned)hdr.security_counter);
        printf("bank:             %c\n", layout_bank_letter(hdr.bank));
        printf("load address:     0x%08x\n", (unsigned)hdr.load_addr);
        printf("flags:            0x%08x%s\n", (unsigned)hdr.flags, encrypted ? " (encrypted for transport)" : "");
        if (encrypted) {
            printf("payload:          %s\n", payload_s);
        }
        if (sealed) {
            printf("initial SP:       (encrypted)\nreset vector:     (encrypted)\n");
        } else {
            printf("initial SP:       0x%08x\n", (unsigned)sp);
            printf("reset vector:     0x%08x\n", (unsigned)rv);
        }
        printf("sha256:           %s\n", digest_hex);
        printf("sha256 recorded:  %s\n", stored_hex);
        printf("key id:           %s\n", keyid_hex);
        printf("signature:        %s (%s)\n", sig_hex, sig_state);
        printf("verdict:          %s\n", verdict_s);
    }
    return ok ? EXIT_OK : EXIT_REJECTED;
}
