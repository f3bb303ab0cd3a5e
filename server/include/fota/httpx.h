/* fota-server's HTTP answers: text, JSON, errors naming the problem, redirects; each counted in the
 * metrics and logged as one line "METHOD URL -> STATUS (BYTES)". */
#ifndef FOTA_HTTPX_H
#define FOTA_HTTPX_H

#include "cJSON.h"
#include <microhttpd.h>

/* Queues text (type NULL: no Content-Type) with one more header when hname is not NULL. */
enum MHD_Result send_text_h(struct MHD_Connection *c, unsigned status, const char *type, const char *text,
                            const char *hname, const char *hvalue, const char *method, const char *url);
enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type, const char *text,
                          const char *method, const char *url);
/* {"error": msg} with status. */
enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg, const char *method,
                           const char *url);
/* 405 for a known resource and another method, with its Allow header. */
enum MHD_Result send_error_allow(struct MHD_Connection *c, const char *allow, const char *method, const char *url);
/* 1 when method is one of the comma-separated tokens of allow. */
int method_allowed(const char *allow, const char *method);
/* o as JSON, 200 (o is freed; NULL: 500 out of memory). */
enum MHD_Result send_json(struct MHD_Connection *c, cJSON *o, const char *method, const char *url);
/* The same with another status (201 for a created resource). */
enum MHD_Result send_json_status(struct MHD_Connection *c, unsigned status, cJSON *o, const char *method,
                                 const char *url);
/* A redirect (status 3xx) to loc, never cached, with one more header when hname is not NULL. */
enum MHD_Result send_redirect_status(struct MHD_Connection *c, unsigned status, const char *loc, const char *hname,
                                     const char *hvalue, const char *method, const char *url);
/* 307 to loc (a presigned URL: valid for minutes, so never cached). */
enum MHD_Result send_redirect(struct MHD_Connection *c, const char *loc, const char *method, const char *url);

#endif
