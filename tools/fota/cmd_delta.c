/* fota delta, fota apply: make a patch from one signed image to another, and apply one with the
 * device's own decoder (docs/delta.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fota.h"
#include "fota/delta.h"
#include "fota/delta_enc.h"
#include "fota/le.h"

#define MAX_FILE (4u << 20)

static const char delta_usage[] =
    "Usage: fota delta BASE.img TARGET.img -o PATCH [--device-key DEV.pem]\n"
    "Writes the patch that rebuilds TARGET.img from BASE.img (both signed images; each one's bank\n"
    "gives the address it is stored at). The device applies it to the image it runs and checks the\n"
    "result's hash and signature as for a full image.\n"
    "  -o, --output FILE   the patch\n"
    "  -k, --device-key F  the device's key (fota keygen --device-enc): images encrypted for it are\n"
    "                      decrypted first, and the patch of an encrypted TARGET is encrypted for it\n"
    "                      in turn (docs/encryption.md); required when TARGET is encrypted\n"
    "  -q, --quiet         no summary\n"
    "  -r, --raw ADDR      measurement: BASE and TARGET are raw flash contents stored at ADDR (other\n"
    "                      firmware, make bench-delta); the base is named by its SHA-256\n"
    "Exit status: 0 written, 2 usage, 3 an input is not a readable image, 4 the output failed.\n";

static const char apply_usage[] =
    "Usage: fota apply BASE.img PATCH -o TARGET.img [--chunk N] [--device-key DEV.pem]\n"
    "Rebuilds the target image with the device's decoder, fed N bytes of patch at a time (default\n"
    "1024, as the link carries it), and checks it against the SHA-256 the patch names.\n"
    "  -o, --output FILE   the rebuilt image (as the device's flash holds it: plaintext)\n"
    "  -k, --device-key F  decrypts an encrypted patch (and an encrypted BASE) with the device's key\n"
    "  -c, --chunk N       patch bytes per step, 1 to 65536\n"
    "  -r, --raw ADDR      BASE is a raw flash content at ADDR (a patch made with fota delta --raw)\n"
    "Exit status: 0 written, 1 the patch was refused (wrong base, corrupt, truncated), 2 usage,\n"
    "3 an input is unreadable, 4 the output failed.\n";

/* A flash address, decimal or 0x-hex, not zero. */
static int parse_addr(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (*s < '0' || *s > '9' || errno != 0 || *end != '\0' || v == 0 || v > 0xFFFFFFFFull) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* Reads a signed image whose structure and hash hold (the signature is the device's business) and
 * gives the flash address it is stored at. */
static int read_image(const char *cmd, const char *path, uint8_t **data, size_t *len, uint32_t *addr,
                      uint8_t signed_hash[CRYPTO_SHA256_SIZE], uint32_t raw_addr, const uint8_t *dev_priv)
{
    if (fota_read_file(path, MAX_FILE, data, len) != 0) {
        return EXIT_INPUT;
    }
    if (raw_addr != 0) {
        /* --raw: any flash content at raw_addr (measuring other firmware); named by its SHA-256. */
        *addr = raw_addr;
        if (*len == 0 || *len > (1u << 20) || crypto_sha256(*data, *len, signed_hash) != CRYPTO_OK) {
            fota_err("%s: '%s' must be 1 byte to 1 MiB", cmd, path);
            free(*data);
            *data = NULL;
            return EXIT_INPUT;
        }
        return EXIT_OK;
    }
    img_header_t hdr;
    int encrypted = *len >= IMG_HEADER_FIELDS_SIZE && img_header_decode(*data, &hdr) == IMG_OK &&
                    (hdr.flags & IMG_FLAG_ENCRYPTED) != 0;
    if (encrypted && dev_priv != NULL && fota_image_decrypt(*data, *len, dev_priv) != 0) {
        fota_err("%s: '%s' cannot be decrypted with that device key", cmd, path);
        free(*data);
        *data = NULL;
        return EXIT_INPUT;
    }
    img_policy_t pol = {.pubkey = NULL, .bank = LAYOUT_BANK_NONE, .decrypts = (uint8_t)(encrypted && dev_priv)};
    img_err_t e = img_verify_buffer(*data, *len, &pol, &hdr);
    if (e != IMG_OK && e != IMG_ERR_NO_KEY) {
        fota_err("%s: '%s' is not a valid image: %s%s", cmd, path, img_strerror(e),
                 e == IMG_ERR_ENCRYPTED ? " (give the device's key: --device-key)" : "");
        free(*data);
        *data = NULL;
        return EXIT_INPUT;
    }
    *addr = layout_bank_base((layout_bank_t)hdr.bank);
    if (fota_image_signed_hash(*data, *len, signed_hash) != 0) { /* cannot fail after the verifier */
        fota_err("%s: '%s': no signed hash", cmd, path);
        free(*data);
        *data = NULL;
        return EXIT_INPUT;
    }
    return EXIT_OK;
}

int cmd_delta(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"raw", required_argument, 0, 'r'},
                                         {"device-key", required_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL, *dev_key = NULL;
    int quiet = 0, c;
    uint32_t raw = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:qr:k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            dev_key = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'r':
            if (parse_addr(optarg, &raw) != 0) {
                fota_err("delta: --raw '%s' is not a flash address", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(delta_usage, stdout);
            return EXIT_OK;
        default:
            return fota_bad_option("delta", c, optopt, argv, optind);
        }
    }
    if (out == NULL || optind != argc - 2) {
        fota_err("delta: BASE.img, TARGET.img and -o PATCH are required (see 'fota delta --help')");
        return EXIT_USAGE;
    }
    uint8_t *base = NULL, *target = NULL, *patch = NULL, *sealed = NULL;
    size_t base_len = 0, target_len = 0, patch_len = 0;
    uint32_t base_addr = 0, target_addr = 0;
    uint8_t base_id[CRYPTO_SHA256_SIZE], target_id[CRYPTO_SHA256_SIZE];
    uint8_t dev_priv[32], dev_pub[CRYPTO_P256_PUBKEY_SIZE];
    int rc = dev_key != NULL && fota_load_device_key(dev_key, dev_priv, dev_pub) != 0 ? EXIT_INPUT : EXIT_OK;
    if (rc == EXIT_OK) {
        rc = read_image("delta", argv[optind], &base, &base_len, &base_addr, base_id, raw, dev_key ? dev_priv : NULL);
    }
    if (rc == EXIT_OK) {
        rc = read_image("delta", argv[optind + 1], &target, &target_len, &target_addr, target_id, raw,
                        dev_key ? dev_priv : NULL);
    }
    /* The patch of an encrypted release is made from the plaintexts and encrypted in turn. */
    img_header_t th;
    int seal = rc == EXIT_OK && raw == 0 && img_header_decode(target, &th) == IMG_OK &&
               (th.flags & IMG_FLAG_ENCRYPTED) != 0;
    if (rc == EXIT_OK) {
        char err[160];
        delta_enc_stats_t st;
        if (delta_encode(base, (uint32_t)base_len, base_addr, base_id, target, (uint32_t)target_len, target_addr,
                         &patch, &patch_len, &st, err, sizeof(err)) != 0) {
            fota_err("delta: %s", err);
            rc = EXIT_OUTPUT;
        } else if (seal && fota_patch_seal(patch, patch_len, dev_pub, &sealed, &patch_len) != 0) {
            rc = EXIT_OUTPUT;
        } else if (fota_write_file(out, seal ? sealed : patch, patch_len, 0644) != 0) {
            rc = EXIT_OUTPUT;
        } else if (!quiet) {
            printf("%s: %zu bytes%s, %.2f %% of the %zu-byte target (%u pairs, %u breakpoints; "
                   "%u bytes predicted, %u of them corrected, %u literal)\n",
                   out, patch_len, seal ? " encrypted for the device" : "",
                   100.0 * (double)patch_len / (double)target_len, target_len, st.pairs, st.map_entries, st.copied,
                   st.residuals, st.literal);
        }
    }
    memset(dev_priv, 0, sizeof(dev_priv));
    free(base);
    free(target);
    free(patch);
    free(sealed);
    return rc;
}

int cmd_apply(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"chunk", required_argument, 0, 'c'},
                                         {"raw", required_argument, 0, 'r'},
                                         {"device-key", required_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL, *dev_key = NULL;
    uint32_t chunk = 1024;
    int c;
    opterr = 0;
    uint32_t raw = 0;
    while ((c = getopt_long(argc, argv, ":o:c:r:k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            dev_key = optarg;
            break;
        case 'r':
            if (parse_addr(optarg, &raw) != 0) {
                fota_err("apply: --raw '%s' is not a flash address", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o':
            out = optarg;
            break;
        case 'c':
            if (fota_parse_u32(optarg, &chunk) != 0 || chunk == 0 || chunk > 65536) {
                fota_err("apply: chunk '%s' is not a number from 1 to 65536", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(apply_usage, stdout);
            return EXIT_OK;
        default:
            return fota_bad_option("apply", c, optopt, argv, optind);
        }
    }
    if (out == NULL || optind != argc - 2) {
        fota_err("apply: BASE.img, PATCH and -o TARGET.img are required (see 'fota apply --help')");
        return EXIT_USAGE;
    }
    uint8_t *base = NULL, *patch = NULL, *target = NULL;
    size_t base_len = 0, patch_len = 0;
    int rc = EXIT_INPUT;
    uint32_t base_addr;
    uint8_t base_id[CRYPTO_SHA256_SIZE], dev_priv[32];
    if ((dev_key != NULL && fota_load_device_key(dev_key, dev_priv, NULL) != 0) ||
        read_image("apply", argv[optind], &base, &base_len, &base_addr, base_id, raw, dev_key ? dev_priv : NULL) !=
            EXIT_OK ||
        fota_read_file(argv[optind + 1], MAX_FILE, &patch, &patch_len) != 0) {
        goto done;
    }
    if (patch_len >= 32 && le_get32(patch) == DELTA_MAGIC && (le_get32(patch + 28) & DELTA_FLAG_ENCRYPTED) != 0) {
        /* A patch of an encrypted release: decrypted with the device's key, as its agent does. */
        uint8_t *plain;
        if (dev_key == NULL) {
            fota_err("apply: '%s' is encrypted for a device: give its key (--device-key)", argv[optind + 1]);
            goto done;
        }
        if (fota_patch_open(patch, patch_len, dev_priv, &plain, &patch_len) != 0) {
            rc = EXIT_REJECTED;
            goto done;
        }
        free(patch);
        patch = plain;
    }
    static delta_dec_t d;
    delta_buffer_t m = {base, base_len};
    delta_dec_init(&d, delta_read_buffer, &m);
    size_t pos = 0, made = 0, cap = 0;
    delta_err_t e = DELTA_OK;
    rc = EXIT_REJECTED;
    while (e >= 0 && e != DELTA_DONE) {
        size_t n = patch_len - pos < chunk ? patch_len - pos : chunk, used = 0, got = 0;
        uint8_t room[512];
        e = delta_dec_run(&d, patch + pos, n, &used, room, sizeof(room), &got);
        if (e == DELTA_HEADER) {
            const delta_info_t *info = delta_dec_info(&d);
            if (info->base_size != base_len || info->base_addr != base_addr ||
                memcmp(base_id, info->base_sha256, sizeof(base_id)) != 0) {
                fota_err("apply: '%s' is for another base image than '%s' (%s)", argv[optind + 1], argv[optind],
                         delta_strerror(DELTA_ERR_BASE));
                goto done;
            }
            cap = info->target_size;
            target = malloc(cap);
            if (target == NULL) {
                fota_err("apply: out of memory");
                rc = EXIT_OUTPUT;
                goto done;
            }
        }
        if (got > cap - made) {
            fota_err("apply: decoder produced more than the target size"); /* cannot happen */
            goto done;
        }
        if (got) {
            memcpy(target + made, room, got);
            made += got;
        }
        pos += used;
        if (e >= 0 && e != DELTA_DONE && pos == patch_len && used == 0 && got == 0) {
            e = delta_dec_end(&d); /* all fed, nothing moves: the patch is short */
            if (e == DELTA_DONE) {
                break;
            }
        }
    }
    if (e < 0) {
        fota_err("apply: '%s': %s (at patch byte %zu, %zu target bytes made)", argv[optind + 1], delta_strerror(e), pos,
                 made);
        goto done;
    }
    uint8_t sha[CRYPTO_SHA256_SIZE];
    if (made != cap || crypto_sha256(target, made, sha) != CRYPTO_OK ||
        memcmp(sha, delta_dec_info(&d)->target_sha256, sizeof(sha)) != 0) {
        fota_err("apply: the rebuilt image does not have the SHA-256 the patch names");
        goto done;
    }
    if (made < IMG_HEADER_FIELDS_SIZE ||
        memcmp(target, delta_dec_info(&d)->target_header, IMG_HEADER_FIELDS_SIZE) != 0) {
        fota_err("apply: the patch announces another image header than the one it makes");
        goto done;
    }
    rc = fota_write_file(out, target, made, 0644) == 0 ? EXIT_OK : EXIT_OUTPUT;
    if (rc == EXIT_OK) {
        printf("%s: %zu bytes from %zu of patch (decoder state %u bytes)\n", out, made, patch_len, DELTA_DEC_RAM);
    }
done:
    memset(dev_priv, 0, sizeof(dev_priv));
    free(base);
    free(patch);
    free(target);
    return rc;
}
