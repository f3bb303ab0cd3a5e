/* fota-server's command line: every option read, checked and defaulted in one place, before the
 * server opens anything. A bad value is refused with a message naming it (docs/server.md). */
#ifndef FOTA_OPTIONS_H
#define FOTA_OPTIONS_H

#include <stdint.h>
#include <sys/socket.h>

#include "fota/fleet.h"
#include "fota/mirror.h"
#include "fota/s3sync.h"

typedef struct {
    char root[4096];    /* --root, absolute (the `current` symlink names releases by full path) */
    const char *db;     /* --db, or NULL: ROOT/reports.sqlite */
    const char *pubkey; /* --pubkey, or NULL */
    const char *cert;   /* --cert and --tls-key (both or neither), or NULL */
    const char *tls_key;
    char token[513];              /* from --publish-token-file (16-512 characters), or "": publishing disabled */
    struct sockaddr_storage addr; /* --listen ADDR:PORT, or 127.0.0.1:--port */
    char where[80];               /* the address as text, for messages */
    uint32_t port, threads, max_conns, idle_timeout, delta_from; /* threads 0: one per CPU, at least 2 */
    fleet_mode_t fleet_mode;
    s3_t s3;      /* s3.bucket NULL: no S3 sync */
    int redirect; /* --redirect-downloads, with mirror */
    mirror_cfg_t mirror;
    char endpoint_default[200], base_default[1200];
} server_opts_t;

/* Fills o from argv (the log level is set on the way). -1: run the server with o; otherwise the
 * exit status: 0 after --help or --version, 2 for a bad command line, 3 when --root is not a
 * folder. */
int server_opts_parse(int argc, char **argv, server_opts_t *o);

#endif
