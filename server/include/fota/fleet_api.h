/* fota-server's operator API for the fleet (devices, rollouts, audit, releases) and its web view;
 * every route needs the operator token (the publish token). docs/fleet.md lists them. */
#ifndef FOTA_FLEET_API_H
#define FOTA_FLEET_API_H

#include <microhttpd.h>
#include <stddef.h>

#include "cJSON.h"
#include "fota/fleet.h"
#include "fota/releases.h"
#include "fota/routes.h"

typedef struct {
    fleet_t *fleet;
    releases_t *rel;
    const char *root;
    const char *token; /* the operator token ("" when none): also the key of the web view's links */
} fleet_api_t;

/* Answers one of the operator's routes (ROUTE_DEVICES ... ROUTE_UI, fota/routes.h): refused with
 * 401 without the operator token, 400 for a bad body. body: the request body (len bytes;
 * too_large when it did not fit). admin: the request bears the operator token. */
enum MHD_Result fleet_api_answer(const fleet_api_t *a, struct MHD_Connection *c, const route_t *r, const char *method,
                                 const char *url, const char *body, size_t len, int too_large, int admin);

/* The releases in root/releases (both images present) and which is current, as a JSON array. */
cJSON *fleet_api_releases_json(const fleet_api_t *a);

#endif
