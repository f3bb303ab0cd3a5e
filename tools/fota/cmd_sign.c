/* fota sign: a raw binary or an ELF linked for bank A or B -> a signed image for that bank. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fota.h"
#include "fota/crypto_enc.h"
#include "fota/le.h"

static const char usage[] =
    "Usage: fota sign --key KEY.pem --bank a|b --version X.Y.Z[+BUILD] [--security-counter N] -o OUT INPUT\n"
    "Signs INPUT, an ELF executable or a raw binary starting with the vector table, linked at the\n"
    "application origin of the given bank (bank base + 0x200), into a signed image OUT.\n"
    "  -k, --key FILE              private signing key (PEM, P-256)\n"
    "  -b, --bank a|b              bank the image is for; an input linked for the other bank is refused\n"
    "  -v, --version X.Y.Z[+B]     version (major, minor < 256, patch < 65536, optional build number)\n"
    "  -s, --security-counter N    anti-rollback counter (default 0): devices refuse lower counters\n"
    "  -o, --out FILE              signed image to write\n"
    "      --encrypt-for PUB.pem   encrypt the payload for this device key (fota keygen --device-enc;\n"
    "                              docs/encryption.md): the signature covers the plaintext. Devices\n"
    "                              cannot install encrypted images yet\n";

/* Where a binary says it runs: the reset vector (Thumb bit cleared). */
static uint32_t reset_vector(const uint8_t *bin, size_t len)
{
    return len >= 8 ? (le_get32(bin + 4) & ~1u) : 0;
}

int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {{"key", required_argument, 0, 'k'},
                                         {"bank", required_argument, 0, 'b'},
                                         {"version", required_argument, 0, 'v'},
                                         {"security-counter", required_argument, 0, 's'},
                                         {"out", required_argument, 0, 'o'},
                                         {"encrypt-for", required_argument, 0, 'E'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *key = NULL, *bank_s = NULL, *ver_s = NULL, *out = NULL, *enc_for = NULL;
    uint32_t sec = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":k:b:v:s:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key = optarg;
            break;
        case 'b':
            bank_s = optarg;
            break;
        case 'v':
            ver_s = optarg;
            break;
        case 's':
            if (fota_parse_u32(optarg, &sec) != 0) {
                fota_err("sign: security counter '%s' is not a number from 0 to 4294967295", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o':
            out = optarg;
            break;
        case 'E':
            enc_for = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return EXIT_OK;
        default:
            return fota_bad_option("sign", c, optopt, argv, optind);
        }
    }
    const char *missing = key == NULL ? "--key" : bank_s == NULL ? "--bank" : ver_s == NULL ? "--version"
                                              : out == NULL      ? "--out"
                                                                 : NULL;
    if (missing != NULL) {
        fota_err("sign: %s is required (see 'fota sign --help')", missing);
        return EXIT_USAGE;
    }
    if (optind != argc - 1) {
        fota_err("sign: exactly one INPUT file is required (see 'fota sign --help')");
        return EXIT_USAGE;
    }
    const char *input = argv[optind];
    layout_bank_t bank = fota_parse_bank(bank_s);
    if (bank == LAYOUT_BANK_NONE) {
        fota_err("sign: bank '%s' is not 'a' or 'b'", bank_s);
        return EXIT_USAGE;
    }
    img_version_t ver;
    if (img_version_parse(ver_s, &ver) != 0) {
        fota_err("sign: version '%s' is not X.Y.Z or X.Y.Z+BUILD (X, Y < 256, Z < 65536)", ver_s);
        return EXIT_USAGE;
    }

    uint8_t *raw = NULL, *bin = NULL, *img = NULL;
    size_t raw_len, bin_len, img_len;
    int rc = EXIT_INPUT;
    fota_signer *signer = NULL;
    uint32_t origin = layout_bank_base(bank) + IMG_HEADER_SIZE;
    if (fota_read_file(input, 64u << 20, &raw, &raw_len) != 0) {
        goto out;
    }
    if (fota_is_elf(raw, raw_len)) {
        char err[160];
        uint32_t base;
        if (fota_elf_to_bin(raw, raw_len, &bin, &bin_len, &base, err, sizeof(err)) != 0) {
            fota_err("sign: '%s': %s", input, err);
            goto out;
        }
        if (base != origin) {
            layout_bank_t linked = layout_bank_of(base);
            if (linked != LAYOUT_BANK_NONE && base == layout_bank_base(linked) + IMG_HEADER_SIZE) {
                fota_err("sign: '%s' is linked for bank %c (0x%08x), not bank %c (0x%08x)", input,
                         layout_bank_letter(linked), (unsigned)base, layout_bank_letter(bank), (unsigned)origin);
            } else {
                fota_err("sign: '%s' is linked at 0x%08x, not at bank %c's application origin 0x%08x", input,
                         (unsigned)base, layout_bank_letter(bank), (unsigned)origin);
            }
            goto out;
        }
    } else {
        bin = raw;
        bin_len = raw_len;
        raw = NULL;
        uint32_t entry = reset_vector(bin, bin_len);
        layout_bank_t linked = layout_bank_of(entry);
        if (bin_len < IMG_MIN_PAYLOAD) {
            fota_err("sign: '%s' is %zu bytes: too short to hold a vector table", input, bin_len);
            goto out;
        }
        if (linked != bank) {
            if (linked != LAYOUT_BANK_NONE) {
                fota_err("sign: '%s' is linked for bank %c (reset vector 0x%08x), not bank %c", input,
                         layout_bank_letter(linked), (unsigned)entry, layout_bank_letter(bank));
            } else {
                fota_err("sign: '%s': reset vector 0x%08x is in no bank: not a binary linked for bank %c", input,
                         (unsigned)entry, layout_bank_letter(bank));
            }
            goto out;
        }
    }
    signer = fota_signer_load(key);
    if (signer == NULL) {
        goto out;
    }
    /* --encrypt-for: the wrapped key goes in the trailer, the flag in the signed header; the
     * payload is encrypted only after the image (plaintext, as the device will hold it) passed the
     * device's verifier. */
    uint8_t rec[IMG_TLV_HDR_SIZE + IMG_ENC_EC256_SIZE], image_key[CRYPTO_AES128_KEY_SIZE];
    if (enc_for != NULL) {
        uint8_t dev[CRYPTO_P256_PUBKEY_SIZE];
        if (fota_load_pubkey(enc_for, dev) != 0 || fota_enc_wrap(dev, rec, image_key) != 0) {
            goto out;
        }
    }
    if (fota_image_build_flags(signer, bin, bin_len, bank, &ver, sec, enc_for ? IMG_FLAG_ENCRYPTED : 0,
                               enc_for ? rec : NULL, enc_for ? sizeof(rec) : 0, &img, &img_len) != 0) {
        goto out;
    }
    /* Check the result with the same verifier the device runs before writing anything. */
    uint8_t pub[CRYPTO_P256_PUBKEY_SIZE];
    fota_signer_pubkey(signer, pub);
    img_policy_t pol = {.pubkey = pub, .min_security_counter = 0, .bank = bank, .decrypts = enc_for != NULL};
    img_err_t e = img_verify_buffer(img, img_len, &pol, NULL);
    if (e != IMG_OK) {
        fota_err("sign: '%s' does not make a bootable image: %s", input, img_strerror(e));
        goto out;
    }
    if (enc_for != NULL && fota_image_encrypt_payload(img, img_len, image_key) != 0) {
        goto out;
    }
    if (fota_write_file(out, img, img_len, 0644) != 0) {
        rc = EXIT_OUTPUT;
        goto out;
    }
    char vs[32];
    img_version_format(&ver, vs, sizeof(vs));
    printf("signed %s -> %s: bank %c, version %s, security counter %u, %zu bytes%s%s\n", input, out,
           layout_bank_letter(bank), vs, (unsigned)sec, img_len, enc_for ? ", payload encrypted for " : "",
           enc_for ? enc_for : "");
    rc = EXIT_OK;
out:
    fota_signer_free(signer);
    free(raw);
    free(bin);
    free(img);
    return rc;
}
