/* fota-server's route table: see fota/routes.h. */
#include "fota/routes.h"

#include <string.h>

#include "fota/srv.h"

typedef struct {
    const char *method; /* GET (and HEAD), POST or PUT */
    const char *pattern;
    route_id_t id;
} route_entry_t;

static const route_entry_t table[] = {
    {"GET", "/version", ROUTE_VERSION},
    {"GET", "/firmware/slot_a.bin", ROUTE_FIRMWARE},
    {"GET", "/firmware/slot_b.bin", ROUTE_FIRMWARE},
    {"GET", "/api/v1/release", ROUTE_RELEASE},
    {"GET", "/api/v1/patches/{sha}", ROUTE_PATCH},
    {"GET", "/metrics", ROUTE_METRICS},
    {"POST", "/api/v1/releases/{ver}/activate", ROUTE_RELEASE_ACTIVATE},
    {"POST", "/api/v1/releases/{ver}/publish", ROUTE_RELEASE_PUBLISH},
    {"PUT", "/api/v1/releases/{ver}/slot_a.bin", ROUTE_RELEASE_UPLOAD},
    {"PUT", "/api/v1/releases/{ver}/slot_b.bin", ROUTE_RELEASE_UPLOAD},
    {"PUT", "/api/v1/releases/{ver}/patches/{patch}", ROUTE_RELEASE_UPLOAD},
    {"GET", "/api/v1/devices", ROUTE_DEVICES},
    {"POST", "/api/v1/devices", ROUTE_DEVICE_ADD},
    {"POST", "/api/v1/devices/{id}/report", ROUTE_DEVICE_REPORT},
    {"GET", "/api/v1/devices/{id}/reports", ROUTE_DEVICE_REPORTS},
    {"POST", "/api/v1/devices/{id}/approve", ROUTE_DEVICE_APPROVE},
    {"POST", "/api/v1/devices/{id}/group", ROUTE_DEVICE_GROUP},
    {"GET", "/api/v1/rollouts", ROUTE_ROLLOUTS},
    {"POST", "/api/v1/rollouts", ROUTE_ROLLOUT_CREATE},
    {"POST", "/api/v1/rollouts/{id}/widen", ROUTE_ROLLOUT_WIDEN},
    {"POST", "/api/v1/rollouts/{id}/halt", ROUTE_ROLLOUT_HALT},
    {"GET", "/api/v1/audit", ROUTE_AUDIT},
    {"GET", "/api/v1/releases", ROUTE_RELEASES},
    {"GET", "/ui", ROUTE_UI},
    {"GET", "/ui/login", ROUTE_UI_LOGIN},
};

/* Whether the segment seg (n bytes) fits the placeholder ph ("{id}", "{sha}", ...). */
static int fits(const char *ph, size_t pn, const char *seg, size_t n)
{
    char s[80];
    if (n == 0 || n >= sizeof(s)) {
        return 0;
    }
    memcpy(s, seg, n);
    s[n] = '\0';
    if (pn == 5 && memcmp(ph, "{sha}", 5) == 0) {
        return srv_is_sha256_hex(s);
    }
    if (pn == 7 && memcmp(ph, "{patch}", 7) == 0) {
        return srv_is_patch_name(s);
    }
    return 1; /* {id}, {ver} */
}

/* Matches url against pattern segment by segment; the first placeholder's text into arg. */
static int match(const char *pattern, const char *url, char arg[80])
{
    const char *p = pattern, *u = url;
    arg[0] = '\0';
    while (*p != '\0' && *u != '\0') {
        if (*p != '{') {
            if (*p++ != *u++) {
                return 0;
            }
            continue;
        }
        size_t pn = strcspn(p, "/"), n = strcspn(u, "/");
        if (!fits(p, pn, u, n)) {
            return 0;
        }
        if (arg[0] == '\0') {
            memcpy(arg, u, n); /* n < 80: fits() */
            arg[n] = '\0';
        }
        p += pn;
        u += n;
    }
    return *p == '\0' && *u == '\0';
}

routes_match_t routes_find(const char *method, const char *url, route_t *r, const char **allow)
{
    /* Allow headers by the methods a resource has: bit 0 GET, 1 POST, 2 PUT. */
    static const char *const allows[8] = {"",    "GET, HEAD",      "POST",      "GET, HEAD, POST",
                                          "PUT", "GET, HEAD, PUT", "POST, PUT", "GET, HEAD, POST, PUT"};
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    unsigned methods = 0;
    char arg[80];
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (!match(table[i].pattern, url, arg)) {
            continue;
        }
        if (strcmp(table[i].method, m) == 0) {
            r->id = table[i].id;
            memcpy(r->arg, arg, sizeof(r->arg));
            return ROUTES_FOUND;
        }
        methods |= table[i].method[0] == 'G' ? 1u : table[i].method[1] == 'O' ? 2u : 4u;
    }
    if (methods == 0) {
        return ROUTES_NONE;
    }
    *allow = allows[methods];
    return ROUTES_METHOD;
}
