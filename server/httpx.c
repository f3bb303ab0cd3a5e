/* fota-server's HTTP answers: see fota/httpx.h. */
#include "fota/httpx.h"

#include <stdio.h>
#include <string.h>

#include "fota/metrics.h"
#include "fota/srvlog.h"

/* Queues text (type NULL: no Content-Type) with one more header when hname is not NULL. */
enum MHD_Result send_text_h(struct MHD_Connection *c, unsigned status, const char *type, const char *text,
                            const char *hname, const char *hvalue, const char *method, const char *url)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) {
        return MHD_NO;
    }
    if (type != NULL) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    }
    if (hname != NULL) {
        MHD_add_response_header(r, hname, hvalue);
    }
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    metrics_response(status, strlen(text));
    srvlog(SRVLOG_INFO, "%s %s -> %u (%zu bytes)", method, url, status, strlen(text));
    return ret;
}

enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type, const char *text,
                          const char *method, const char *url)
{
    return send_text_h(c, status, type, text, NULL, NULL, method, url);
}

/* Errors are JSON with a message that names the problem. */
enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg, const char *method,
                           const char *url)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (o != NULL && cJSON_AddStringToObject(o, "error", msg) != NULL) {
        text = cJSON_PrintUnformatted(o);
    }
    cJSON_Delete(o);
    enum MHD_Result r =
        send_text(c, status, "application/json", text ? text : "{\"error\":\"out of memory\"}", method, url);
    cJSON_free(text);
    return r;
}

/* 405 for a known resource and another method, with its Allow header. */
enum MHD_Result send_error_allow(struct MHD_Connection *c, const char *allow, const char *method, const char *url)
{
    char text[160];
    snprintf(text, sizeof(text), "{\"error\":\"method not allowed here; allowed: %s\"}", allow);
    return send_text_h(c, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json", text, MHD_HTTP_HEADER_ALLOW, allow, method,
                       url);
}

/* 1 when method is one of the comma-separated tokens of allow. */
int method_allowed(const char *allow, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = allow; *p != '\0';) {
        size_t t = strcspn(p, ", ");
        if (t == n && strncmp(p, method, n) == 0) {
            return 1;
        }
        p += t;
        p += strspn(p, ", ");
    }
    return 0;
}

enum MHD_Result send_json_status(struct MHD_Connection *c, unsigned status, cJSON *o, const char *method,
                                 const char *url)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (text == NULL) {
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", method, url);
    }
    enum MHD_Result r = send_text(c, status, "application/json", text, method, url);
    cJSON_free(text);
    return r;
}

enum MHD_Result send_json(struct MHD_Connection *c, cJSON *o, const char *method, const char *url)
{
    return send_json_status(c, MHD_HTTP_OK, o, method, url);
}

enum MHD_Result send_redirect_status(struct MHD_Connection *c, unsigned status, const char *loc, const char *hname,
                                     const char *hvalue, const char *method, const char *url)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, loc);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (hname != NULL) {
        MHD_add_response_header(r, hname, hvalue);
    }
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    metrics_response(status, 0);
    srvlog(SRVLOG_INFO, "%s %s -> %u (redirect)", method, url, status);
    return ret;
}

enum MHD_Result send_redirect(struct MHD_Connection *c, const char *loc, const char *method, const char *url)
{
    return send_redirect_status(c, MHD_HTTP_TEMPORARY_REDIRECT, loc, NULL, NULL, method, url);
}
