/* fota: the developer's command-line tool for keys and signed images. */
#include <stdio.h>
#include <string.h>

#include "fota/version.h"
#include "fota.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *what;
} commands[] = {
    {"keygen", cmd_keygen, "create an ECDSA P-256 signing key pair"},
    {"pubkey", cmd_pubkey, "export a public key (PEM, raw, hex, or C for the bootloader)"},
    {"sign", cmd_sign, "sign an ELF or raw binary into an image for bank A or B"},
    {"verify", cmd_verify, "check an image with the device's verifier"},
    {"inspect", cmd_inspect, "show every field of an image (--json for machines)"},
    {"delta", cmd_delta, "make a patch that rebuilds one image from another (delta update)"},
    {"apply", cmd_apply, "rebuild an image from its base and a patch, with the device's decoder"},
    {"compose", cmd_compose, "write a whole 1 MiB flash image for the emulator and the simulator"},
    {"provision", cmd_provision, "write a flash image to a board through OpenOCD; optionally RDP level 1"},
};

static void usage(FILE *f)
{
    fputs("Usage: fota COMMAND [OPTIONS]   (fota COMMAND --help for each)\n\nCommands:\n", f);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].what);
    }
    fputs("\nExit status: 0 success; 1 image rejected (verify, inspect); 2 bad command line;\n"
          "3 an input file is missing, unreadable or unacceptable; 4 an output cannot be written.\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("fota %s\n", fota_version);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fota_err("unknown command '%s' (see 'fota --help')", argv[1]);
    return EXIT_USAGE;
}
