/* fota-server's web view: see fota/webui.h. */
#include "fota/webui.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cJSON.h"
#include "fota/crypto.h"
#include "fota/hostlib.h"
#include "fota/httpx.h"

/* 1 when "EXP.SIG" (cookie) or exp and sig (query) are a valid, unexpired signature. */
static int valid(const char *token, const char *exp_s, const char *sig)
{
    char want[65], *end = NULL;
    long long exp = exp_s ? strtoll(exp_s, &end, 10) : 0;
    if (exp_s == NULL || sig == NULL || end == exp_s || *end != '\0' || exp < (long long)time(NULL) ||
        strlen(sig) != 64 || fota_ui_sign(token, exp, want) != 0) {
        return 0;
    }
    return crypto_memcmp_ct((const uint8_t *)want, (const uint8_t *)sig, 64) == 0;
}

static int cookie_ok(const char *token, struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "fota_ui");
    char buf[128];
    if (v == NULL || strlen(v) >= sizeof(buf)) {
        return 0;
    }
    snprintf(buf, sizeof(buf), "%s", v);
    char *dot = strchr(buf, '.');
    if (dot == NULL) {
        return 0;
    }
    *dot = '\0';
    return valid(token, buf, dot + 1);
}

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} html_t;

static void raw(html_t *h, const char *s, size_t n)
{
    if (h->oom) {
        return;
    }
    if (h->len + n + 1 > h->cap) {
        size_t cap = (h->cap ? h->cap * 2 : 16384) + n;
        char *p = realloc(h->p, cap);
        if (p == NULL) {
            h->oom = 1;
            return;
        }
        h->p = p;
        h->cap = cap;
    }
    memcpy(h->p + h->len, s, n);
    h->len += n;
    h->p[h->len] = '\0';
}

static void out(html_t *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(html_t *h, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0) {
        raw(h, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    }
}

/* Text from the database or a device, escaped for HTML. */
static void text(html_t *h, const char *s)
{
    static const char *const ent[] = {"&lt;", "&gt;", "&amp;", "&quot;", "&#39;"};
    for (; s != NULL && *s; s++) {
        const char *k = strchr("<>&\"'", *s);
        if (k != NULL) {
            raw(h, ent[k - "<>&\"'"], strlen(ent[k - "<>&\"'"]));
        } else {
            raw(h, s, 1);
        }
    }
}

static const char *js(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int jn(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
}

/* <td>value</td>, escaped, for each of the n keys of o. */
static void cells(html_t *h, const cJSON *o, const char *const *keys, int n)
{
    for (int i = 0; i < n; i++) {
        raw(h, "<td>", 4);
        text(h, js(o, keys[i]));
        raw(h, "</td>", 5);
    }
}

static void when(html_t *h, const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) {
        raw(h, "never", 5);
        return;
    }
    time_t t = (time_t)v->valuedouble;
    struct tm tm;
    char b[32];
    gmtime_r(&t, &tm);
    strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S UTC", &tm);
    text(h, b);
}

static void page(const fleet_api_t *a, html_t *h)
{
    cJSON *rel = NULL, *ro = fleet_rollouts_json(a->fleet), *dev = fleet_devices_json(a->fleet),
          *aud = fleet_audit_json(a->fleet, 20);
    out(h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fota-server: fleet</title>\n"
           "<style>body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin-bottom:"
           "1.5em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:90%%}th{background:#eee}"
           ".bar{display:flex;width:16em;height:1em;border:1px solid #999;background:#f4f4f4}.ok{background:#3a3}"
           ".fail{background:#c33}.halted{color:#c33;font-weight:bold}.active{color:#383}</style></head><body>\n"
           "<h1>Fleet</h1>\n");
    rel = fleet_api_releases_json(a);
    out(h, "<h2>Releases</h2>\n<table id=\"releases\"><tr><th>version</th><th>current</th></tr>\n");
    const cJSON *it;
    cJSON_ArrayForEach(it, rel)
    {
        out(h, "<tr class=\"release\"><td>");
        text(h, js(it, "version"));
        out(h, "</td><td>%s</td></tr>\n", cJSON_IsTrue(cJSON_GetObjectItem(it, "current")) ? "current" : "");
    }
    out(h, "</table>\n<h2>Rollouts</h2>\n<table id=\"rollouts\"><tr><th>id</th><th>release</th><th>group</th>"
           "<th>state</th><th>share</th><th>progress</th><th>updated</th><th>failed</th><th>pending</th>"
           "<th>halts above</th></tr>\n");
    cJSON_ArrayForEach(it, ro)
    {
        int members = jn(it, "members"), up = jn(it, "updated"), fail = jn(it, "failed"), pend = jn(it, "pending");
        int eligible = jn(it, "eligible");
        out(h, "<tr class=\"rollout\" data-id=\"");
        text(h, js(it, "id"));
        out(h, "\" data-state=\"");
        text(h, js(it, "state"));
        static const char *const first[] = {"id", "version"};
        out(h, "\" data-updated=\"%d\" data-failed=\"%d\" data-members=\"%d\">", up, fail, members);
        cells(h, it, first, 2);
        out(h, "<td>");
        text(h, js(it, "group")[0] ? js(it, "group") : "(all)");
        out(h, "</td><td class=\"");
        text(h, js(it, "state"));
        out(h, "\">");
        text(h, js(it, "state"));
        out(h, "</td><td>%d%% (%d of %d devices)</td>", jn(it, "percent"), members, eligible);
        int wok = members > 0 ? up * 100 / members : 0, wfail = members > 0 ? fail * 100 / members : 0;
        out(h,
            "<td><div class=\"bar\" title=\"%d updated, %d failed, %d pending\"><div class=\"ok\" style=\"width:%d%%\">"
            "</div><div class=\"fail\" style=\"width:%d%%\"></div></div></td>",
            up, fail, pend, wok, wfail);
        out(h,
            "<td class=\"updated\">%d</td><td class=\"failed\">%d</td><td>%d</td><td>%d%% (from %d "
            "failures)</td></tr>\n",
            up, fail, pend, jn(it, "threshold"), jn(it, "min_failures"));
    }
    int n = cJSON_GetArraySize(dev);
    out(h,
        "</table>\n<h2>Devices (%d)</h2>\n<table id=\"devices\"><tr><th>id</th><th>status</th><th>group</th>"
        "<th>runs</th><th>bank</th><th>last result</th><th>target</th><th>last seen</th></tr>\n",
        n);
    cJSON_ArrayForEach(it, dev)
    {
        static const char *const first[] = {"id", "status", "group", "version", "bank"};
        out(h, "<tr class=\"device\">");
        cells(h, it, first, 5);
        out(h, "<td>");
        text(h, js(it, "last_state"));
        if (js(it, "last_error")[0]) {
            out(h, ": ");
            text(h, js(it, "last_error"));
        }
        out(h, "</td><td>");
        text(h, js(it, "last_target"));
        out(h, "</td><td>");
        when(h, it, "last_seen");
        out(h, "</td></tr>\n");
    }
    out(h, "</table>\n<h2>Audit log (last 20)</h2>\n<table id=\"audit\"><tr><th>when</th><th>who</th><th>what</th>"
           "<th>detail</th></tr>\n");
    cJSON_ArrayForEach(it, aud)
    {
        static const char *const rest[] = {"actor", "action", "detail"};
        out(h, "<tr class=\"audit\"><td>");
        when(h, it, "at");
        out(h, "</td>");
        cells(h, it, rest, 3);
        out(h, "</tr>\n");
    }
    out(h, "</table>\n</body></html>\n");
    if (ro == NULL || dev == NULL || aud == NULL || rel == NULL) {
        h->oom = 1; /* the store failed: better a 500 than a page missing rows */
    }
    cJSON_Delete(rel);
    cJSON_Delete(ro);
    cJSON_Delete(dev);
    cJSON_Delete(aud);
}

enum MHD_Result webui_route(const fleet_api_t *a, struct MHD_Connection *c, int login, const char *method,
                            const char *url, int admin)
{
    if (login) {
        const char *exp = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "exp");
        const char *sig = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sig");
        if (!valid(a->token, exp, sig)) {
            return send_error(c, MHD_HTTP_FORBIDDEN, "this link is not signed with the operator token or has expired",
                              method, url);
        }
        char cookie[200];
        long long age = strtoll(exp, NULL, 10) - (long long)time(NULL);
        snprintf(cookie, sizeof(cookie), "fota_ui=%s.%s; Path=/ui; Max-Age=%lld; HttpOnly; SameSite=Strict", exp, sig,
                 age);
        return send_redirect_status(c, MHD_HTTP_SEE_OTHER, "/ui", MHD_HTTP_HEADER_SET_COOKIE, cookie, method, url);
    }
    if (!admin && !cookie_ok(a->token, c)) {
        return send_error(c, MHD_HTTP_UNAUTHORIZED, "open the web view with a link from `fota-admin ui-link`", method,
                          url);
    }
    html_t h = {NULL, 0, 0, 0};
    page(a, &h);
    enum MHD_Result ret = h.oom ? send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the page", method, url)
                                : send_text_h(c, MHD_HTTP_OK, "text/html; charset=utf-8", h.p,
                                              MHD_HTTP_HEADER_CACHE_CONTROL, "no-store", method, url);
    free(h.p);
    return ret;
}
