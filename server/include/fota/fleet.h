/* fota-server's fleet: device identity (a token issued at provisioning, stored as its SHA-256),
 * the inventory (group, versions, last report), staged rollouts (a release to a group and a
 * percentage of it, widened by hand or automatically while failures stay under a threshold, halted
 * above it) and an audit log, in SQLite or PostgreSQL (fota/db.h). docs/fleet.md has the model. */
#ifndef FOTA_FLEET_H
#define FOTA_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "cJSON.h"
#include "fota/db.h"
#include "fota/reports.h"

typedef enum {
    FLEET_OPEN = 0,   /* anyone may ask and report under any id (the seed's behaviour) */
    FLEET_REGISTERED, /* only provisioned devices with their token; others refused (401) */
    FLEET_PENDING,    /* an unknown device is listed as pending with the token it presented, refused
                         (403) until an operator approves it */
} fleet_mode_t;

typedef enum {
    FLEET_AUTH_OK = 0,
    FLEET_AUTH_NO_ID,     /* no X-Device-Id where one is needed: 401 */
    FLEET_AUTH_UNKNOWN,   /* not provisioned (registered mode): 401 */
    FLEET_AUTH_BAD_TOKEN, /* missing or wrong token: 401 */
    FLEET_AUTH_PENDING,   /* waiting for approval: 403 */
    FLEET_AUTH_ERROR,     /* the database failed: 500 */
} fleet_auth_t;

#define FLEET_TOKEN_HEX 64 /* a device token: 32 random bytes as hex */
#define FLEET_GROUP_MAX 64
#define FLEET_ROLLOUT_ID 17

typedef struct fleet fleet_t;

/* Creates the tables if needed and loads the rollouts. db: the connection that writes; rdb: a
 * second one for the serving threads' reads (it may be db itself). NULL with why. */
fleet_t *fleet_open(db_t *db, db_t *rdb, fleet_mode_t mode, char *why, size_t cap);
void fleet_close(fleet_t *f);
fleet_mode_t fleet_mode(const fleet_t *f);
int fleet_parse_mode(const char *s, fleet_mode_t *out);
const char *fleet_auth_message(fleet_auth_t a);

/* Who asks: id (NULL when the request names none) and token (NULL without one). On FLEET_AUTH_OK,
 * the device's group in grp ("" for none, or for an anonymous request in open mode). Seen times
 * are kept for known devices; in open mode a device naming itself is added to the inventory. */
fleet_auth_t fleet_auth(fleet_t *f, const char *id, const char *token, char *grp, size_t cap);

/* The version the device should run when an active rollout includes it (and the id of that
 * rollout), else "" (the current release). */
void fleet_target(fleet_t *f, const char *id, const char *grp, char *ver, size_t cap, char *rollout, size_t rcap);

/* Reports as the writer thread stored them: the inventory's last state and the rollouts'
 * results (a report whose target is a rollout's release: "updated" or "up-to-date" count as
 * success, "refused" and "not-running" as failure; transient errors do not count). */
void fleet_on_reports(void *fleet, const report_t *rows, size_t n);

/* Every second or so: reload the rollouts (several instances share them), then halt those whose
 * failure rate passed their threshold and widen those due a step. */
void fleet_tick(fleet_t *f);

/* Operator actions (actor: who, for the audit log). 0, or -1 with why; *status is the HTTP status
 * the API answers (201, 400, 404, 409, 500). */
int fleet_device_add(fleet_t *f, const char *id, const char *grp, const char *actor, char token[FLEET_TOKEN_HEX + 1],
                     unsigned *status, char *why, size_t cap);
int fleet_device_approve(fleet_t *f, const char *id, const char *actor, unsigned *status, char *why, size_t cap);
int fleet_device_group(fleet_t *f, const char *id, const char *grp, const char *actor, unsigned *status, char *why,
                       size_t cap);

typedef struct {
    const char *version, *group; /* group "" or NULL: every device */
    int percent;                 /* 1..100 of the group, chosen by a hash of the rollout and device ids */
    int threshold;               /* halt when failures exceed this percent of results ... */
    int min_failures;            /* ... once there are at least this many failures */
    int step, step_after;        /* widen by step percent after step_after successes since the last
                                    widening (step 0: by hand only) */
} fleet_rollout_spec_t;

int fleet_rollout_create(fleet_t *f, const fleet_rollout_spec_t *spec, const char *actor, char id[FLEET_ROLLOUT_ID],
                         unsigned *status, char *why, size_t cap);
int fleet_rollout_widen(fleet_t *f, const char *id, int percent, const char *actor, unsigned *status, char *why,
                        size_t cap);
int fleet_rollout_halt(fleet_t *f, const char *id, const char *actor, unsigned *status, char *why, size_t cap);
void fleet_audit(fleet_t *f, const char *actor, const char *action, const char *detail);

/* JSON for the API and the web view (NULL when out of memory or the database failed). */
cJSON *fleet_devices_json(fleet_t *f);
cJSON *fleet_rollouts_json(fleet_t *f);
cJSON *fleet_audit_json(fleet_t *f, int limit);

#endif
