/* fota-server's resources in one table: each route is a method and a path pattern. The same table
 * dispatches a request and answers a known resource asked with another method (405, with the Allow
 * header its methods make), so a route is added in one place. No I/O: unit-tested and fuzzed. */
#ifndef FOTA_ROUTES_H
#define FOTA_ROUTES_H

typedef enum {
    ROUTE_VERSION,          /* GET /version */
    ROUTE_FIRMWARE,         /* GET /firmware/slot_a.bin, /firmware/slot_b.bin */
    ROUTE_RELEASE,          /* GET /api/v1/release */
    ROUTE_PATCH,            /* GET /api/v1/patches/{sha} */
    ROUTE_METRICS,          /* GET /metrics */
    ROUTE_RELEASE_ACTIVATE, /* POST /api/v1/releases/{ver}/activate */
    ROUTE_RELEASE_PUBLISH,  /* POST /api/v1/releases/{ver}/publish */
    ROUTE_RELEASE_UPLOAD,   /* PUT /api/v1/releases/{ver}/slot_a.bin, slot_b.bin, patches/{patch} */
    ROUTE_DEVICES,          /* GET /api/v1/devices */
    ROUTE_DEVICE_ADD,       /* POST /api/v1/devices */
    ROUTE_DEVICE_REPORT,    /* POST /api/v1/devices/{id}/report */
    ROUTE_DEVICE_REPORTS,   /* GET /api/v1/devices/{id}/reports */
    ROUTE_DEVICE_APPROVE,   /* POST /api/v1/devices/{id}/approve */
    ROUTE_DEVICE_GROUP,     /* POST /api/v1/devices/{id}/group */
    ROUTE_ROLLOUTS,         /* GET /api/v1/rollouts */
    ROUTE_ROLLOUT_CREATE,   /* POST /api/v1/rollouts */
    ROUTE_ROLLOUT_WIDEN,    /* POST /api/v1/rollouts/{id}/widen */
    ROUTE_ROLLOUT_HALT,     /* POST /api/v1/rollouts/{id}/halt */
    ROUTE_AUDIT,            /* GET /api/v1/audit */
    ROUTE_RELEASES,         /* GET /api/v1/releases */
    ROUTE_UI,               /* GET /ui */
    ROUTE_UI_LOGIN,         /* GET /ui/login */
} route_id_t;

typedef struct {
    route_id_t id;
    char arg[80]; /* what the pattern's first {...} matched (device id, version, rollout id, SHA-256), or "" */
} route_t;

typedef enum {
    ROUTES_FOUND,  /* *r is the route */
    ROUTES_METHOD, /* the resource exists, not with this method: *allow is its Allow header */
    ROUTES_NONE,   /* no such resource */
} routes_match_t;

/* url: the path, without a query. HEAD is routed as GET. {id} and {ver} match one non-empty
 * segment shorter than route_t.arg (the handler checks its syntax), {sha} 64 lowercase hex digits,
 * {patch} those and ".patch". */
routes_match_t routes_find(const char *method, const char *url, route_t *r, const char **allow);

#endif
