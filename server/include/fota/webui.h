/* fota-server's web view of the fleet: releases, rollouts with their progress, devices with their
 * last report, the audit log. Server-rendered HTML, no JavaScript. Reached through a link signed
 * with the operator token (`fota-admin ui-link`: /ui/login?exp=UNIX_TIME&sig=fota_ui_sign(...)), which sets a
 * cookie for the rest of the visit; or with the operator token as a Bearer header. */
#ifndef FOTA_WEBUI_H
#define FOTA_WEBUI_H

#include <microhttpd.h>
#include <stddef.h>
#include <time.h>

#include "fota/fleet_api.h"

/* GET /ui/login (login set: the signed link, answered with the cookie) or GET /ui (the page). */
enum MHD_Result webui_route(const fleet_api_t *a, struct MHD_Connection *c, int login, const char *method,
                            const char *url, int admin);

#endif
