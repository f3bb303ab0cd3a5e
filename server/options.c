/* fota-server's command line: see fota/options.h. */
#include "fota/options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fota/hostlib.h"
#include "fota/releases.h"
#include "fota/s3presign.h"
#include "fota/srv.h"
#include "fota/srvlog.h"
#include "fota/version.h"

static const char usage[] =
    "Usage: fota-server --root DIR [--port N] [--db FILE] [--pubkey KEY.pem] [--cert C --tls-key K]\n"
    "  --root DIR      the release folder (version.txt, slot_a.bin, slot_b.bin), or a folder whose\n"
    "                  `current` symlink points at one\n"
    "  --port N        TCP port on 127.0.0.1 (default 5000, the seed's)\n"
    "  --listen ADDR:PORT   listen there instead: 0.0.0.0:5000, 192.0.2.7:80, [::]:5000\n"
    "  --threads N     threads answering requests, and as many sending downloads over plain HTTP\n"
    "                  (default: one per CPU, at least 2; 1 uses poll())\n"
    "  --max-connections N  connections held at once (default 16384, less if the descriptor limit\n"
    "                  is lower); past it new connections wait in the listen queue for a free slot\n"
    "  --log-level L   debug, info (default: a line per request), warn or error\n"
    "  --idle-timeout S     close a connection silent for S seconds (default 30): slow or\n"
    "                  unfinished requests and idle keep-alive connections\n"
    "  --db FILE|URI   device reports: an SQLite file (default DIR/reports.sqlite), or a PostgreSQL\n"
    "                  database (postgresql://...) that several instances share\n"
    "  --pubkey FILE   only serve images signed with this key\n"
    "  --cert FILE --tls-key FILE   serve HTTPS with this certificate chain and private key (PEM)\n"
    "  --publish-token-file FILE    enable the publish API for requests bearing this token\n"
    "  --s3-bucket NAME [--s3-prefix P] [--s3-endpoint URL] [--s3-region R] [--s3-interval S]\n"
    "                  sync the release (P slot_a.bin, P slot_b.bin, P version.txt, and the patches\n"
    "                  its publisher made, P patches/<base sha256>.patch) from S3 every S seconds\n"
    "                  (default 60); P at most 256 bytes; endpoint default https://s3.REGION.amazonaws.com,\n"
    "                  region default $AWS_REGION or us-east-1; needs --pubkey and the AWS_ACCESS_KEY_ID,\n"
    "                  AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) environment variables\n"
    "  --redirect-downloads [--redirect-prefix P] [--redirect-base URL] [--redirect-expires S]\n"
    "                  answer image requests with a 307 to a presigned URL of a copy in the --s3-bucket\n"
    "                  named by the image's SHA-256 (P<sha256>.bin, P default fota-objects/), valid S\n"
    "                  seconds (default 600); URL: where clients reach the bucket (default ENDPOINT/BUCKET)\n"
    "  --devices MODE  open (default: any device, the seed's behaviour), registered (only devices\n"
    "                  provisioned with a token) or pending (unknown devices wait for approval)\n"
    "  --redirect-check S   check every S seconds (default 60, 0: never) that the copies are still in\n"
    "                  the bucket; one gone is served here and copied again\n"
    "  --delta-from N  a release activated or published gets patches from the N releases before it\n"
    "                  (default 3, 0: none): devices running one of their images download a patch\n"
    "                  (GET /api/v1/release?...&base=SHA256 names it, docs/delta.md)\n";

/* A number option: 0 with *out in [lo, hi], or -1 having said that arg is not `what`. */
static int u32_option(const char *name, const char *arg, uint32_t lo, uint32_t hi, const char *what, uint32_t *out)
{
    if (fota_parse_u32(arg, out) == 0 && *out >= lo && *out <= hi) {
        return 0;
    }
    fprintf(stderr, "fota-server: %s '%s' is not %s\n", name, arg, what);
    return -1;
}

int server_opts_parse(int argc, char **argv, server_opts_t *o)
{
    static const struct option opts[] = {{"root", required_argument, 0, 'r'},
                                         {"port", required_argument, 0, 'p'},
                                         {"db", required_argument, 0, 'd'},
                                         {"pubkey", required_argument, 0, 'k'},
                                         {"cert", required_argument, 0, 'c'},
                                         {"tls-key", required_argument, 0, 't'},
                                         {"publish-token-file", required_argument, 0, 'T'},
                                         {"s3-bucket", required_argument, 0, 1001},
                                         {"s3-prefix", required_argument, 0, 1002},
                                         {"s3-endpoint", required_argument, 0, 1003},
                                         {"s3-region", required_argument, 0, 1004},
                                         {"s3-interval", required_argument, 0, 1005},
                                         {"listen", required_argument, 0, 1006},
                                         {"threads", required_argument, 0, 1007},
                                         {"max-connections", required_argument, 0, 1008},
                                         {"idle-timeout", required_argument, 0, 1009},
                                         {"log-level", required_argument, 0, 1010},
                                         {"devices", required_argument, 0, 1016},
                                         {"redirect-downloads", no_argument, 0, 1011},
                                         {"redirect-prefix", required_argument, 0, 1012},
                                         {"redirect-base", required_argument, 0, 1013},
                                         {"redirect-expires", required_argument, 0, 1014},
                                         {"redirect-check", required_argument, 0, 1015},
                                         {"delta-from", required_argument, 0, 1017},
                                         {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 'V'},
                                         {0, 0, 0, 0}};
    memset(o, 0, sizeof(*o));
    const char *root = NULL, *listen_arg = NULL;
    o->port = 5000;
    o->max_conns = 16384;
    o->idle_timeout = 30;
    o->delta_from = RELEASES_DELTA_FROM;
    o->fleet_mode = FLEET_OPEN;
    o->s3.prefix = "";
    o->s3.interval = 60;
    o->mirror = (mirror_cfg_t){
        .s3 = &o->s3, .prefix = "fota-objects/", .base = NULL, .expires = 600, .retry_s = 30, .check_s = 60};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            root = optarg;
            break;
        case 'p':
            if (u32_option("--port", optarg, 1, 65535, "a port from 1 to 65535", &o->port) != 0) {
                return 2;
            }
            break;
        case 'd':
            o->db = optarg;
            break;
        case 'k':
            o->pubkey = optarg;
            break;
        case 'c':
            o->cert = optarg;
            break;
        case 1001:
            o->s3.bucket = optarg;
            break;
        case 1002:
            o->s3.prefix = optarg;
            break;
        case 1003:
            o->s3.endpoint = optarg;
            break;
        case 1004:
            o->s3.region = optarg;
            break;
        case 1005:
            if (u32_option("--s3-interval", optarg, 1, UINT32_MAX, "a number of seconds above 0",
                           &o->s3.interval) != 0) {
                return 2;
            }
            break;
        case 1006:
            listen_arg = optarg;
            break;
        case 1017:
            if (u32_option("--delta-from", optarg, 0, 16, "a number from 0 to 16", &o->delta_from) != 0) {
                return 2;
            }
            break;
        case 1007:
            if (u32_option("--threads", optarg, 1, 256, "a number from 1 to 256", &o->threads) != 0) {
                return 2;
            }
            break;
        case 1008:
            if (u32_option("--max-connections", optarg, 1, 1000000, "a number from 1 to 1000000", &o->max_conns) != 0) {
                return 2;
            }
            break;
        case 1009:
            if (u32_option("--idle-timeout", optarg, 1, 86400, "a number of seconds from 1 to 86400",
                           &o->idle_timeout) != 0) {
                return 2;
            }
            break;
        case 1010: {
            srvlog_level_t lv;
            if (srvlog_parse_level(optarg, &lv) != 0) {
                fprintf(stderr, "fota-server: --log-level '%s' is not debug, info, warn or error\n", optarg);
                return 2;
            }
            srvlog_set_level(lv);
            break;
        }
        case 1011:
            o->redirect = 1;
            break;
        case 1016:
            if (fleet_parse_mode(optarg, &o->fleet_mode) != 0) {
                fprintf(stderr, "fota-server: --devices '%s' is not open, registered or pending\n", optarg);
                return 2;
            }
            break;
        case 1012:
            o->mirror.prefix = optarg;
            break;
        case 1013:
            o->mirror.base = optarg;
            break;
        case 1014:
            if (u32_option("--redirect-expires", optarg, 10, 604800, "a number of seconds from 10 to 604800",
                           &o->mirror.expires) != 0) {
                return 2;
            }
            break;
        case 1015:
            if (u32_option("--redirect-check", optarg, 0, 86400, "a number of seconds from 0 to 86400",
                           &o->mirror.check_s) != 0) {
                return 2;
            }
            break;
        case 'T': {
            FILE *f = fopen(optarg, "r");
            char text[sizeof(o->token) + 2];
            size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
            if (f != NULL) {
                fclose(f);
            }
            text[n] = '\0';
            text[strcspn(text, "\r\n")] = '\0';
            size_t len = strlen(text);
            if (len < 16 || len >= sizeof(o->token)) {
                fprintf(stderr, "fota-server: --publish-token-file '%s' must hold a token of 16 to %zu characters%s\n",
                        optarg, sizeof(o->token) - 1,
                        len >= sizeof(o->token) ? " (it is longer: never cut short)" : "");
                return 2;
            }
            memcpy(o->token, text, len + 1);
            break;
        }
        case 't':
            o->tls_key = optarg;
            break;
        case 'V':
            printf("fota-server %s\n", fota_version);
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (root == NULL || optind != argc) {
        fprintf(stderr, "fota-server: --root is required\n%s", usage);
        return 2;
    }
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "fota-server: --root '%s' is not a folder\n", root);
        return 3;
    }
    if (realpath(root, o->root) == NULL) {
        fprintf(stderr, "fota-server: --root '%s': %s\n", root, strerror(errno));
        return 3;
    }
    if (o->s3.bucket != NULL) {
        const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY"),
                   *session = getenv("AWS_SESSION_TOKEN");
        if (o->pubkey == NULL) {
            fprintf(stderr,
                    "fota-server: --s3-bucket needs --pubkey: images from S3 are checked before they are served\n");
            return 2;
        }
        if (strlen(o->s3.prefix) > S3_PREFIX_MAX) {
            fprintf(stderr, "fota-server: --s3-prefix is longer than %d bytes\n", S3_PREFIX_MAX);
            return 2;
        }
        if (id == NULL || secret == NULL || strchr(id, ':') != NULL) {
            fprintf(stderr,
                    "fota-server: --s3-bucket needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment\n");
            return 2;
        }
        snprintf(o->s3.userpwd, sizeof(o->s3.userpwd), "%s:%s", id, secret);
        if (session != NULL) {
            snprintf(o->s3.token_header, sizeof(o->s3.token_header), "x-amz-security-token: %s", session);
        }
        if (o->s3.region == NULL) {
            o->s3.region = getenv("AWS_REGION") ? getenv("AWS_REGION") : "us-east-1";
        }
        if (o->s3.endpoint == NULL) {
            snprintf(o->endpoint_default, sizeof(o->endpoint_default), "https://s3.%s.amazonaws.com", o->s3.region);
            o->s3.endpoint = o->endpoint_default;
        }
    }
    if (o->redirect) {
        if (o->s3.bucket == NULL) {
            fprintf(stderr, "fota-server: --redirect-downloads needs --s3-bucket: the images are copied there\n");
            return 2;
        }
        if (strspn(o->mirror.prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/") !=
                strlen(o->mirror.prefix) ||
            strlen(o->mirror.prefix) > 200) {
            fprintf(stderr, "fota-server: --redirect-prefix '%s' may only hold A-Z a-z 0-9 . _ - / (up to 200)\n",
                    o->mirror.prefix);
            return 2;
        }
        if (o->mirror.base == NULL) {
            snprintf(o->base_default, sizeof(o->base_default), "%s/%s", o->s3.endpoint, o->s3.bucket);
            o->mirror.base = o->base_default;
        }
        char probe[4096];
        s3_presign_cfg_t pc = {o->mirror.base, o->s3.region, "id", "secret", NULL};
        if (s3_presign_get(&pc, "/x", time(NULL), o->mirror.expires, probe, sizeof(probe)) != 0) {
            fprintf(stderr, "fota-server: --redirect-base '%s' is not an http:// or https:// URL\n", o->mirror.base);
            return 2;
        }
    }
    if ((o->cert == NULL) != (o->tls_key == NULL)) {
        fprintf(stderr, "fota-server: --cert and --tls-key go together\n");
        return 2;
    }
    if (srv_parse_listen(listen_arg, o->port, &o->addr, o->where, sizeof(o->where)) != 0) {
        fprintf(
            stderr,
            "fota-server: --listen '%s' is not ADDR:PORT (an IPv4 address, or [IPv6], and a port from 1 to 65535)\n",
            listen_arg);
        return 2;
    }
    return -1;
}
