/* fota keygen, fota pubkey: make a signing key pair, export the public key for the bootloader. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fota.h"

static const char keygen_usage[] =
    "Usage: fota keygen -o KEY.pem [--pub PUB.pem] [--force] [--device-enc]\n"
    "Creates an ECDSA P-256 signing key pair: the private key in KEY.pem (mode 0600) and the\n"
    "public key in PUB.pem (default: KEY.pem with .pem replaced by .pub.pem).\n"
    "      --device-enc a device's encryption key instead (the same kind of pair): PUB.pem goes to\n"
    "                   fota sign --encrypt-for, KEY.pem into the device (fota compose --device-key; docs/encryption.md)\n"
    "  -o, --out FILE   private key to write\n"
    "      --pub FILE   public key to write\n"
    "      --force      overwrite existing files (a lost private key cannot sign updates again)\n";

int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"pub", required_argument, 0, 'p'},
                                         {"force", no_argument, 0, 'f'},
                                         {"device-enc", no_argument, 0, 'D'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL, *pub = NULL;
    int force = 0, device = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'p':
            pub = optarg;
            break;
        case 'f':
            force = 1;
            break;
        case 'D':
            device = 1;
            break;
        case 'h':
            fputs(keygen_usage, stdout);
            return EXIT_OK;
        default:
            return fota_bad_option("keygen", c, optopt, argv, optind);
        }
    }
    if (out == NULL || optind != argc) {
        fota_err("keygen: %s (see 'fota keygen --help')", out == NULL ? "-o KEY.pem is required" : "unexpected argument");
        return EXIT_USAGE;
    }
    char pub_default[4096];
    if (pub == NULL) {
        size_t n = strlen(out);
        if (n > 4 && strcmp(out + n - 4, ".pem") == 0) {
            n -= 4;
        }
        if (n + sizeof(".pub.pem") > sizeof(pub_default)) {
            fota_err("keygen: path '%s' is too long", out);
            return EXIT_USAGE;
        }
        memcpy(pub_default, out, n);
        strcpy(pub_default + n, ".pub.pem");
        pub = pub_default;
    }
    if (!force && (access(out, F_OK) == 0 || access(pub, F_OK) == 0)) {
        fota_err("keygen: '%s' exists; refusing to overwrite a key (use --force)",
                 access(out, F_OK) == 0 ? out : pub);
        return EXIT_OUTPUT;
    }
    int rc = fota_keygen_files(out, pub);
    if (rc == EXIT_OK) {
        printf(device ? "wrote device encryption key %s (for the device) and %s (for fota sign --encrypt-for)\n"
                      : "wrote private key %s and public key %s\n",
               out, pub);
    }
    return rc;
}

static const char pubkey_usage[] =
    "Usage: fota pubkey [--format pem|raw|hex|c] [-o OUT] KEY.pem\n"
    "Writes the public key of KEY.pem (private or public PEM):\n"
    "  pem  the public key in PEM (default)\n"
    "  raw  the 65-byte uncompressed P-256 point\n"
    "  hex  that point in hex, and the key id (SHA-256 of the point) images carry\n"
    "  c    a C source defining fota_trusted_pubkey, for the bootloader and the agent\n"
    "  -o, --out FILE   write there instead of standard output\n";

int cmd_pubkey(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"out", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *format = "pem", *out = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            format = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'h':
            fputs(pubkey_usage, stdout);
            return EXIT_OK;
        default:
            return fota_bad_option("pubkey", c, optopt, argv, optind);
        }
    }
    if (optind != argc - 1) {
        fota_err("pubkey: exactly one key file is required (see 'fota pubkey --help')");
        return EXIT_USAGE;
    }
    if (strcmp(format, "pem") && strcmp(format, "raw") && strcmp(format, "hex") && strcmp(format, "c")) {
        fota_err("pubkey: unknown format '%s' (pem, raw, hex or c)", format);
        return EXIT_USAGE;
    }
    uint8_t pub[CRYPTO_P256_PUBKEY_SIZE], id[CRYPTO_SHA256_SIZE];
    if (fota_load_pubkey(argv[optind], pub) != 0) {
        return EXIT_INPUT;
    }
    if (crypto_sha256(pub, sizeof(pub), id) != CRYPTO_OK) {
        fota_err("pubkey: SHA-256 failed (crypto library)");
        return EXIT_OUTPUT;
    }

    char text[2048];
    size_t n = 0;
    if (strcmp(format, "raw") == 0) {
        memcpy(text, pub, sizeof(pub));
        n = sizeof(pub);
    } else if (strcmp(format, "hex") == 0) {
        char hp[2 * sizeof(pub) + 1], hi[2 * sizeof(id) + 1];
        fota_hex(pub, sizeof(pub), hp);
        fota_hex(id, sizeof(id), hi);
        n = (size_t)snprintf(text, sizeof(text), "point:  %s\nkey id: %s\n", hp, hi);
    } else if (strcmp(format, "c") == 0) {
        char hi[2 * sizeof(id) + 1];
        fota_hex(id, sizeof(id), hi);
        n = (size_t)snprintf(text, sizeof(text),
                             "/* Generated by `fota pubkey --format c`; do not edit. Key id %s. */\n"
                             "#include \"fota/trusted_key.h\"\n\n"
                             "const uint8_t fota_trusted_pubkey[CRYPTO_P256_PUBKEY_SIZE] = {",
                             hi);
        for (size_t i = 0; i < sizeof(pub); i++) {
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%s0x%02x,", i % 12 == 0 ? "\n    " : " ", pub[i]);
        }
        n += (size_t)snprintf(text + n, sizeof(text) - n, "\n};\n");
    } else {
        if (fota_pubkey_pem(argv[optind], text, sizeof(text)) != 0) {
            return EXIT_INPUT;
        }
        n = strlen(text);
    }
    if (out != NULL) {
        return fota_write_file(out, (const uint8_t *)text, n, 0644) == 0 ? EXIT_OK : EXIT_OUTPUT;
    }
    if (fwrite(text, 1, n, stdout) != n || fflush(stdout) != 0) {
        fota_err("pubkey: cannot write to standard output");
        return EXIT_OUTPUT;
    }
    return EXIT_OK;
}
