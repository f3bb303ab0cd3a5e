/* fota-admin: the operator's command line for fota-server's fleet (docs/fleet.md): devices,
 * releases, rollouts, the audit log and a link to the web view, over the server's API. Tables for
 * people, --json for scripts (the API's own JSON). Exit status: 0 done, 1 the server refused
 * (its message printed), 2 bad command line, 3 the server or a file could not be read. */
#include "cJSON.h"
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fota/delta.h"
#include "fota/hostlib.h"
#include "fota/version.h"

typedef struct {
    const char *server, *cacert;
    char token[520];
    int json;
} admin_t;

typedef struct {
    char *p;
    size_t len;
} buf_t;

static size_t on_body(char *d, size_t size, size_t n, void *ud)
{
    buf_t *b = ud;
    size_t len = size * n;
    char *p = realloc(b->p, b->len + len + 1);
    if (p == NULL) {
        return 0;
    }
    memcpy(p + b->len, d, len);
    b->p = p;
    b->len += len;
    b->p[b->len] = '\0';
    return len;
}

/* One request; *status is the HTTP status, out the body (free it). 0, or -1 when unreachable. */
static int request(const admin_t *a, const char *method, const char *path, const char *json, const uint8_t *data,
                   size_t dlen, long *status, buf_t *out)
{
    CURL *c = curl_easy_init();
    if (c == NULL) {
        fota_err("cannot start libcurl");
        return -1;
    }
    char url[1024], auth[600], err[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof(url), "%s%s", a->server, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", a->token);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    if (h != NULL && json != NULL) {
        h = curl_slist_append(h, "Content-Type: application/json");
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (json != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    } else if (data != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)data);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)dlen);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 120000L);
    if (a->cacert != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, a->cacert);
    }
    CURLcode rc = h != NULL ? curl_easy_perform(c) : CURLE_OUT_OF_MEMORY;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        fota_err("%s %s: %s", method, url, err[0] ? err : curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

/* Runs a request and parses its JSON answer. Prints the server's error itself. Returns an exit code. */
static int call(const admin_t *a, const char *method, const char *path, const char *json, cJSON **answer)
{
    buf_t b = {NULL, 0};
    long status = 0;
    *answer = NULL;
    if (request(a, method, path, json, NULL, 0, &status, &b) != 0) {
        free(b.p);
        return 3;
    }
    cJSON *o = b.p ? cJSON_Parse(b.p) : NULL;
    free(b.p);
    if (status / 100 != 2) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
        fota_err("%s %s: HTTP %ld: %s", method, path, status, cJSON_IsString(e) ? e->valuestring : "(no message)");
        cJSON_Delete(o);
        return 1;
    }
    if (o == NULL) {
        fota_err("%s %s: the answer is not JSON", method, path);
        return 3;
    }
    *answer = o;
    return 0;
}

static const char *s_(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int n_(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
}

static void print_json(const cJSON *o)
{
    char *t = cJSON_Print(o);
    if (t != NULL) {
        puts(t);
        cJSON_free(t);
    }
}

static void table(const admin_t *a, const char *what, const cJSON *arr)
{
    if (a->json) {
        print_json(arr);
        return;
    }
    const cJSON *it;
    if (strcmp(what, "devices") == 0) {
        printf("%-24s %-8s %-12s %-10s %-4s %-14s %s\n", "ID", "STATUS", "GROUP", "RUNS", "BANK", "LAST", "TARGET");
        cJSON_ArrayForEach(it, arr)
        {
            printf("%-24s %-8s %-12s %-10s %-4s %-14s %s\n", s_(it, "id"), s_(it, "status"), s_(it, "group"),
                   s_(it, "version"), s_(it, "bank"), s_(it, "last_state"), s_(it, "last_target"));
        }
    } else if (strcmp(what, "rollouts") == 0) {
        printf("%-17s %-9s %-12s %-8s %5s %8s %8s %7s %7s\n", "ID", "RELEASE", "GROUP", "STATE", "SHARE", "MEMBERS",
               "UPDATED", "FAILED", "PENDING");
        cJSON_ArrayForEach(it, arr)
        {
            printf("%-17s %-9s %-12s %-8s %4d%% %8d %8d %7d %7d\n", s_(it, "id"), s_(it, "version"),
                   s_(it, "group")[0] ? s_(it, "group") : "(all)", s_(it, "state"), n_(it, "percent"),
                   n_(it, "members"), n_(it, "updated"), n_(it, "failed"), n_(it, "pending"));
        }
    } else if (strcmp(what, "releases") == 0) {
        cJSON_ArrayForEach(it, arr)
        {
            printf("%-12s %s\n", s_(it, "version"), cJSON_IsTrue(cJSON_GetObjectItem(it, "current")) ? "current" : "");
        }
    } else {
        cJSON_ArrayForEach(it, arr)
        {
            time_t t = (time_t)n_(it, "at");
            struct tm tm;
            char when[32];
            gmtime_r(&t, &tm);
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
            printf("%s  %-12s %-30s %s\n", when, s_(it, "actor"), s_(it, "action"), s_(it, "detail"));
        }
    }
}

static int list(const admin_t *a, const char *what, const char *path)
{
    cJSON *o;
    int rc = call(a, "GET", path, NULL, &o);
    if (rc == 0) {
        table(a, what, o);
        cJSON_Delete(o);
    }
    return rc;
}

/* POST a JSON body built from key/value pairs (NULL-terminated; values starting with '#' are numbers). */
static int post(const admin_t *a, const char *path, const char *const *kv, cJSON **answer)
{
    cJSON *in = cJSON_CreateObject();
    for (int i = 0; in != NULL && kv != NULL && kv[i] != NULL; i += 2) {
        if (kv[i + 1] == NULL) {
            continue;
        }
        if (kv[i + 1][0] == '#') {
            cJSON_AddNumberToObject(in, kv[i], atof(kv[i + 1] + 1));
        } else {
            cJSON_AddStringToObject(in, kv[i], kv[i + 1]);
        }
    }
    char *body = in ? cJSON_PrintUnformatted(in) : NULL;
    cJSON_Delete(in);
    if (body == NULL) {
        fota_err("out of memory");
        return 3;
    }
    int rc = call(a, "POST", path, body, answer);
    cJSON_free(body);
    return rc;
}

static int done(const admin_t *a, int rc, cJSON *o, const char *human)
{
    if (rc == 0) {
        if (a->json) {
            print_json(o);
        } else if (human != NULL) {
            puts(human);
        }
    }
    cJSON_Delete(o);
    return rc;
}

static int num_arg(const char *s, int *out, const char *what)
{
    uint32_t v;
    if (s == NULL || fota_parse_u32(s, &v) != 0 || v > 100000) {
        fota_err("%s '%s' is not a number", what, s ? s : "");
        return 2;
    }
    *out = (int)v;
    return 0;
}

static int upload(const admin_t *a, const char *ver, const char *name, const char *file)
{
    uint8_t *data;
    size_t len;
    if (fota_read_file(file, 4u << 20, &data, &len) != 0) {
        return 3;
    }
    char path[300];
    if ((size_t)snprintf(path, sizeof(path), "/api/v1/releases/%s/%s", ver, name) >= sizeof(path)) {
        free(data);
        fota_err("version '%.40s...' is too long", ver);
        return 2;
    }
    fprintf(stderr, "fota-admin: uploading %s as %s %s (%zu bytes)... ", file, ver, name, len);
    buf_t b = {NULL, 0};
    long status = 0;
    int rc = request(a, "PUT", path, NULL, data, len, &status, &b);
    free(data);
    if (rc != 0) {
        free(b.p);
        return 3;
    }
    fprintf(stderr, "%s\n", status / 100 == 2 ? "done" : "refused");
    if (status / 100 != 2) {
        fota_err("PUT %s: HTTP %ld: %s", path, status, b.p ? b.p : "");
        free(b.p);
        return 1;
    }
    free(b.p);
    return 0;
}

/* A patch its publisher made (fota delta; an encrypted release's, which the server cannot make)
 * goes up as patches/<its base's signed SHA-256>.patch, the name the server looks it up by: that
 * name into name (100 bytes). 0, or 3 when file is not a whole patch. */
static int patch_name(const char *file, char name[100])
{
    uint8_t *data;
    size_t len;
    delta_info_t in;
    if (fota_read_file(file, 4u << 20, &data, &len) != 0) {
        return 3;
    }
    int whole = delta_parse_patch(data, len, &in) == DELTA_OK;
    free(data);
    if (!whole) {
        fota_err("%s is not a whole patch (make one with fota delta)", file);
        return 3;
    }
    memcpy(name, "patches/", 8);
    fota_hex(in.base_sha256, sizeof(in.base_sha256), name + 8);
    strcat(name, ".patch");
    return 0;
}

static const char usage[] =
    "Usage: fota-admin --server URL --token-file FILE [--json] [--cacert FILE] COMMAND\n"
    "  devices                                  the inventory\n"
    "  device add ID [--group G] [--token-out FILE]   provision a device; prints its token (once)\n"
    "  device approve ID                        accept a pending device\n"
    "  device group ID GROUP                    move a device to a group\n"
    "  releases                                 releases on the server, and the current one\n"
    "  publish VERSION SLOT_A.bin SLOT_B.bin [PATCH...] [--activate]   upload and check a release;\n"
    "                                           it is offered by rollouts, or to everyone with\n"
    "                                           --activate; PATCHes made with fota delta go with it\n"
    "                                           (an encrypted release's: the server cannot make them)\n"
    "  rollouts                                 rollouts and their progress\n"
    "  rollout create VERSION --percent P [--group G] [--threshold T] [--min-failures N]\n"
    "                 [--step S --step-after N]  a staged rollout: P % of the group, halted when\n"
    "                                           over T % of results failed (default 20, from 3\n"
    "                                           failures); widened by S % after N successes\n"
    "  rollout widen ID PERCENT                 include more devices\n"
    "  rollout halt ID                          stop offering the release\n"
    "  audit                                    who published, provisioned, widened, halted\n"
    "  ui-link [--minutes M]                    a link to the web view, valid M minutes (default 60)\n"
    "The server URL and token file may also come from FOTA_SERVER and FOTA_TOKEN_FILE.\n";

int main(int argc, char **argv)
{
    fota_set_program("fota-admin");
    admin_t a = {getenv("FOTA_SERVER"), NULL, "", 0};
    const char *token_file = getenv("FOTA_TOKEN_FILE"), *group = NULL, *token_out = NULL;
    const char *percent = NULL, *threshold = NULL, *min_failures = NULL, *step = NULL, *step_after = NULL;
    const char *minutes = NULL;
    int activate = 0;
    static const struct option opts[] = {{"server", required_argument, 0, 's'},
                                         {"token-file", required_argument, 0, 't'},
                                         {"json", no_argument, 0, 'j'},
                                         {"cacert", required_argument, 0, 'C'},
                                         {"group", required_argument, 0, 'g'},
                                         {"token-out", required_argument, 0, 'o'},
                                         {"percent", required_argument, 0, 'p'},
                                         {"threshold", required_argument, 0, 'T'},
                                         {"min-failures", required_argument, 0, 'm'},
                                         {"step", required_argument, 0, 'S'},
                                         {"step-after", required_argument, 0, 'A'},
                                         {"activate", no_argument, 0, 'a'},
                                         {"minutes", required_argument, 0, 'M'},
                                         {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 'V'},
                                         {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 's':
            a.server = optarg;
            break;
        case 't':
            token_file = optarg;
            break;
        case 'j':
            a.json = 1;
            break;
        case 'C':
            a.cacert = optarg;
            break;
        case 'g':
            group = optarg;
            break;
        case 'o':
            token_out = optarg;
            break;
        case 'p':
            percent = optarg;
            break;
        case 'T':
            threshold = optarg;
            break;
        case 'm':
            min_failures = optarg;
            break;
        case 'S':
            step = optarg;
            break;
        case 'A':
            step_after = optarg;
            break;
        case 'a':
            activate = 1;
            break;
        case 'M':
            minutes = optarg;
            break;
        case 'V':
            printf("fota-admin %s\n", fota_version);
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    /* GNU getopt moves options found among the command words ("rollout create 2.0.0 --percent 10")
     * before them: what is left are the words. */
    char **words = argv + optind;
    int nw = argc - optind;
    if (nw == 0 || a.server == NULL || token_file == NULL) {
        fota_err("--server, --token-file and a command are needed");
        fputs(usage, stderr);
        return 2;
    }
    uint8_t *tok;
    size_t tlen;
    if (fota_read_file(token_file, sizeof(a.token) - 1, &tok, &tlen) != 0) {
        return 3;
    }
    memcpy(a.token, tok, tlen);
    a.token[tlen] = '\0';
    a.token[strcspn(a.token, "\r\n")] = '\0';
    free(tok);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fota_err("cannot start libcurl");
        return 3;
    }
    int rc = 2;
    cJSON *ans = NULL;
    char path[300], human[300];
#define IS(i, w) (nw > (i) && strcmp(words[i], (w)) == 0)
    if (IS(0, "devices") && nw == 1) {
        rc = list(&a, "devices", "/api/v1/devices");
    } else if (IS(0, "rollouts") && nw == 1) {
        rc = list(&a, "rollouts", "/api/v1/rollouts");
    } else if (IS(0, "releases") && nw == 1) {
        rc = list(&a, "releases", "/api/v1/releases");
    } else if (IS(0, "audit") && nw == 1) {
        rc = list(&a, "audit", "/api/v1/audit");
    } else if (IS(0, "device") && IS(1, "add") && nw == 3) {
        const char *kv[] = {"id", words[2], "group", group ? group : "", NULL};
        rc = post(&a, "/api/v1/devices", kv, &ans);
        if (rc == 0 && token_out != NULL) {
            char line[80];
            int n = snprintf(line, sizeof(line), "%s\n", s_(ans, "token"));
            rc = fota_write_file(token_out, (const uint8_t *)line, (size_t)n, 0600) == 0 ? 0 : 3;
            snprintf(human, sizeof(human), "device %s provisioned; its token is in %s", words[2], token_out);
        } else {
            snprintf(human, sizeof(human), "device %s provisioned; token (shown once): %s", words[2], s_(ans, "token"));
        }
        rc = done(&a, rc, ans, human);
    } else if (IS(0, "device") && IS(1, "approve") && nw == 3) {
        snprintf(path, sizeof(path), "/api/v1/devices/%s/approve", words[2]);
        snprintf(human, sizeof(human), "device %s approved", words[2]);
        rc = post(&a, path, NULL, &ans);
        rc = done(&a, rc, ans, human);
    } else if (IS(0, "device") && IS(1, "group") && nw == 4) {
        const char *kv[] = {"group", words[3], NULL};
        snprintf(path, sizeof(path), "/api/v1/devices/%s/group", words[2]);
        snprintf(human, sizeof(human), "device %s is in group %s", words[2], words[3]);
        rc = post(&a, path, kv, &ans);
        rc = done(&a, rc, ans, human);
    } else if (IS(0, "publish") && nw >= 4 && nw <= 4 + 16) {
        char names[16][100];
        rc = 0;
        for (int i = 4; i < nw && rc == 0; i++) { /* every patch checked before anything is sent */
            rc = patch_name(words[i], names[i - 4]);
        }
        rc = rc ? rc : upload(&a, words[1], "slot_a.bin", words[2]);
        rc = rc ? rc : upload(&a, words[1], "slot_b.bin", words[3]);
        for (int i = 4; i < nw && rc == 0; i++) {
            rc = upload(&a, words[1], names[i - 4], words[i]);
        }
        if (rc == 0) {
            snprintf(path, sizeof(path), "/api/v1/releases/%s/%s", words[1], activate ? "activate" : "publish");
            snprintf(human, sizeof(human), "release %s %s", words[1],
                     activate ? "is current" : "is published (offer it with a rollout)");
            rc = post(&a, path, NULL, &ans);
            rc = done(&a, rc, ans, human);
        }
    } else if (IS(0, "rollout") && IS(1, "create") && nw == 3) {
        int p = 0, t = 20, m = 3, st = 0, sa = 10;
        if ((rc = num_arg(percent, &p, "--percent")) == 0 &&
            (threshold == NULL || (rc = num_arg(threshold, &t, "--threshold")) == 0) &&
            (min_failures == NULL || (rc = num_arg(min_failures, &m, "--min-failures")) == 0) &&
            (step == NULL || (rc = num_arg(step, &st, "--step")) == 0) &&
            (step_after == NULL || (rc = num_arg(step_after, &sa, "--step-after")) == 0)) {
            char np[16], nt[16], nm[16], ns[16], nsa[16];
            snprintf(np, sizeof(np), "#%d", p);
            snprintf(nt, sizeof(nt), "#%d", t);
            snprintf(nm, sizeof(nm), "#%d", m);
            snprintf(ns, sizeof(ns), "#%d", st);
            snprintf(nsa, sizeof(nsa), "#%d", sa);
            const char *kv[] = {
                "version", words[2], "group", group ? group : "", "percent", np,  "threshold", nt, "min_failures",
                nm,        "step",   ns,      "step_after",       nsa,       NULL};
            rc = post(&a, "/api/v1/rollouts", kv, &ans);
            snprintf(human, sizeof(human), "rollout %s: %s to %d%%", s_(ans, "id"), words[2], p);
            rc = done(&a, rc, ans, human);
        }
    } else if (IS(0, "rollout") && IS(1, "widen") && nw == 4) {
        int p = 0;
        if ((rc = num_arg(words[3], &p, "PERCENT")) == 0) {
            char np[16];
            snprintf(np, sizeof(np), "#%d", p);
            const char *kv[] = {"percent", np, NULL};
            snprintf(path, sizeof(path), "/api/v1/rollouts/%s/widen", words[2]);
            snprintf(human, sizeof(human), "rollout %s widened to %d%%", words[2], p);
            rc = post(&a, path, kv, &ans);
            rc = done(&a, rc, ans, human);
        }
    } else if (IS(0, "rollout") && IS(1, "halt") && nw == 3) {
        snprintf(path, sizeof(path), "/api/v1/rollouts/%s/halt", words[2]);
        snprintf(human, sizeof(human), "rollout %s halted", words[2]);
        rc = post(&a, path, NULL, &ans);
        rc = done(&a, rc, ans, human);
    } else if (IS(0, "ui-link") && nw == 1) {
        int m = 60;
        if ((rc = minutes ? num_arg(minutes, &m, "--minutes") : 0) == 0) {
            long long exp = (long long)time(NULL) + 60LL * m;
            char sig[65];
            if (fota_ui_sign(a.token, exp, sig) != 0) {
                fota_err("the token file is empty");
                rc = 3;
            } else {
                printf("%s/ui/login?exp=%lld&sig=%s\n", a.server, exp, sig);
            }
        }
    } else {
        fota_err("unknown command");
        fputs(usage, stderr);
    }
    memset(a.token, 0, sizeof(a.token));
    curl_global_cleanup();
    return rc;
}
