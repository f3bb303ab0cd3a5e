/* fota-server's operator API for the fleet: see fota/fleet_api.h. */
#include "fota/fleet_api.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cJSON.h"
#include "fota/httpx.h"
#include "fota/image.h"
#include "fota/srv.h"
#include "fota/webui.h"

static cJSON *parse_body(const char *body, size_t len)
{
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    while (o != NULL && end < body + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')) {
        end++;
    }
    if (o == NULL || !cJSON_IsObject(o) || end != body + len) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static const char *str_or(const cJSON *o, const char *k, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

/* -1 when present and not an integer. */
static int int_or(const cJSON *o, const char *k, int dflt, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (v == NULL) {
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble) {
        return -1;
    }
    *out = (int)v->valuedouble;
    return 0;
}

static enum MHD_Result done(struct MHD_Connection *c, int rc, unsigned status, const char *why, cJSON *ok,
                            const char *method, const char *url)
{
    if (rc != 0) {
        cJSON_Delete(ok);
        return send_error(c, status, why, method, url);
    }
    return send_json_status(c, status, ok, method, url);
}

/* The releases kept in root/releases: "X.Y.Z" folders with both images; which one is current. */
cJSON *fleet_api_releases_json(const fleet_api_t *a)
{
    char dir[600], cur[600], target[600];
    snprintf(dir, sizeof(dir), "%s/releases", a->root);
    snprintf(cur, sizeof(cur), "%s/current", a->root);
    ssize_t tl = readlink(cur, target, sizeof(target) - 1);
    target[tl > 0 ? tl : 0] = '\0';
    const char *cur_name = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
    cJSON *arr = cJSON_CreateArray();
    DIR *d = opendir(dir);
    struct dirent *e;
    while (arr != NULL && d != NULL && (e = readdir(d)) != NULL) {
        img_version_t v;
        char a_path[900], b_path[900];
        struct stat st;
        snprintf(a_path, sizeof(a_path), "%s/%s/slot_a.bin", dir, e->d_name);
        snprintf(b_path, sizeof(b_path), "%s/%s/slot_b.bin", dir, e->d_name);
        if (img_version_parse(e->d_name, &v) != 0 || stat(a_path, &st) != 0 || stat(b_path, &st) != 0) {
            continue;
        }
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddStringToObject(o, "version", e->d_name) ||
            !cJSON_AddBoolToObject(o, "current", strcmp(cur_name, e->d_name) == 0)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            arr = NULL;
            break;
        }
        /* Newest first. */
        int at = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, arr)
        {
            img_version_t iv;
            const cJSON *vs = cJSON_GetObjectItemCaseSensitive(it, "version");
            if (cJSON_IsString(vs) && img_version_parse(vs->valuestring, &iv) == 0 && img_version_cmp(&iv, &v) < 0) {
                break;
            }
            at++;
        }
        if (!cJSON_InsertItemInArray(arr, at, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            arr = NULL;
            break;
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return arr;
}

enum MHD_Result fleet_api_answer(const fleet_api_t *a, struct MHD_Connection *c, const route_t *r, const char *method,
                                 const char *url, const char *body, size_t len, int too_large, int admin)
{
    if (r->id == ROUTE_UI || r->id == ROUTE_UI_LOGIN) {
        return webui_route(a, c, r->id == ROUTE_UI_LOGIN, method, url, admin);
    }
    if (!admin) {
        return send_error(c, MHD_HTTP_UNAUTHORIZED, "the fleet API needs Authorization: Bearer <operator token>", method,
                          url);
    }
    if (too_large) {
        return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than 4096 bytes", method, url);
    }
    enum MHD_Result ret;
    char why[200] = "";
    unsigned status = 500;
    const char *id = r->arg;
    int post = strcmp(method, "POST") == 0;
    cJSON *in = post ? parse_body(body, len) : NULL;
    if (post && in == NULL && r->id != ROUTE_ROLLOUT_HALT && r->id != ROUTE_DEVICE_APPROVE) {
        return send_error(c, MHD_HTTP_BAD_REQUEST, "request body must be one JSON object", method, url);
    }
    switch (r->id) {
    case ROUTE_DEVICES:
        ret = send_json(c, fleet_devices_json(a->fleet), method, url);
        break;
    case ROUTE_DEVICE_ADD: {
        const char *dev = str_or(in, "id", NULL), *grp = str_or(in, "group", "");
        char token[FLEET_TOKEN_HEX + 1];
        if (dev == NULL || !srv_valid_device_id(dev)) {
            ret = send_error(c, MHD_HTTP_BAD_REQUEST, "id must be 1-64 of A-Z a-z 0-9 . _ -", method, url);
        } else {
            int rc = fleet_device_add(a->fleet, dev, grp, "operator", token, &status, why, sizeof(why));
            cJSON *o = rc == 0 ? cJSON_CreateObject() : NULL;
            if (o != NULL && (!cJSON_AddStringToObject(o, "id", dev) || !cJSON_AddStringToObject(o, "group", grp) ||
                              !cJSON_AddStringToObject(o, "token", token))) {
                cJSON_Delete(o);
                o = NULL;
            }
            memset(token, 0, sizeof(token));
            ret = done(c, rc, status, why, o, method, url);
        }
        break;
    }
    case ROUTE_DEVICE_APPROVE: {
        int rc = fleet_device_approve(a->fleet, id, "operator", &status, why, sizeof(why));
        ret = done(c, rc, status, why, cJSON_CreateTrue(), method, url);
        break;
    }
    case ROUTE_DEVICE_GROUP: {
        const char *grp = str_or(in, "group", NULL);
        int rc = grp == NULL ? -1 : fleet_device_group(a->fleet, id, grp, "operator", &status, why, sizeof(why));
        if (grp == NULL) {
            status = 400;
            snprintf(why, sizeof(why), "body needs a string field group");
        }
        ret = done(c, rc, status, why, cJSON_CreateTrue(), method, url);
        break;
    }
    case ROUTE_ROLLOUTS:
        ret = send_json(c, fleet_rollouts_json(a->fleet), method, url);
        break;
    case ROUTE_ROLLOUT_CREATE: {
        fleet_rollout_spec_t sp = {str_or(in, "version", NULL), str_or(in, "group", ""), 0, 0, 0, 0, 0};
        char rid[FLEET_ROLLOUT_ID], pa[700], pb[700];
        struct stat st;
        int rc = -1;
        if (int_or(in, "percent", 0, &sp.percent) || int_or(in, "threshold", 20, &sp.threshold) ||
            int_or(in, "min_failures", 3, &sp.min_failures) || int_or(in, "step", 0, &sp.step) ||
            int_or(in, "step_after", 10, &sp.step_after)) {
            status = 400;
            snprintf(why, sizeof(why), "percent, threshold, min_failures, step and step_after are integers");
        } else if (sp.version == NULL || strlen(sp.version) > 31) {
            status = 400;
            snprintf(why, sizeof(why), "body needs the release's version, X.Y.Z");
        } else if (releases_version_path(a->rel, sp.version, "slot_a.bin", pa, sizeof(pa)),
                   releases_version_path(a->rel, sp.version, "slot_b.bin", pb, sizeof(pb)),
                   stat(pa, &st) != 0 || stat(pb, &st) != 0) {
            status = 409;
            snprintf(why, sizeof(why), "release %s is not published: upload it, then POST .../publish", sp.version);
        } else {
            rc = fleet_rollout_create(a->fleet, &sp, "operator", rid, &status, why, sizeof(why));
        }
        cJSON *o = rc == 0 ? cJSON_CreateObject() : NULL;
        if (o != NULL && !cJSON_AddStringToObject(o, "id", rid)) {
            cJSON_Delete(o);
            o = NULL;
        }
        ret = done(c, rc, status, why, o, method, url);
        break;
    }
    case ROUTE_ROLLOUT_WIDEN:
    case ROUTE_ROLLOUT_HALT: {
        int rc, pc = 0;
        if (r->id == ROUTE_ROLLOUT_HALT) {
            rc = fleet_rollout_halt(a->fleet, id, "operator", &status, why, sizeof(why));
        } else if (int_or(in, "percent", 0, &pc) != 0 || pc == 0) {
            rc = -1;
            status = 400;
            snprintf(why, sizeof(why), "body needs an integer field percent");
        } else {
            rc = fleet_rollout_widen(a->fleet, id, pc, "operator", &status, why, sizeof(why));
        }
        ret = done(c, rc, status, why, cJSON_CreateTrue(), method, url);
        break;
    }
    case ROUTE_AUDIT:
        ret = send_json(c, fleet_audit_json(a->fleet, 200), method, url);
        break;
    case ROUTE_RELEASES:
        ret = send_json(c, fleet_api_releases_json(a), method, url);
        break;
    default:
        ret = send_error(c, MHD_HTTP_NOT_FOUND, "no such fleet endpoint", method, url);
        break;
    }
    cJSON_Delete(in);
    return ret;
}
