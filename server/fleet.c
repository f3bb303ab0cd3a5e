/* fota-server's fleet: see fota/fleet.h and docs/fleet.md. */
#include "fota/fleet.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

#include "fota/crypto.h"
#include "fota/image.h"
#include "fota/srvlog.h"

#define ROLLOUTS_CACHED 64
#define IDS_CACHED 1024 /* recent identity lookups ... */
#define IDS_CACHE_MS                                                                                                   \
    2000 /* ... trusted this long: another instance's approval or group change takes                                   \
            effect within it (this instance's own at once) */

typedef struct {
    int found;
    char grp[FLEET_GROUP_MAX + 1], status[16], hash[65];
    int has_hash;
} devrow_t;

typedef struct {
    char id[65];
    devrow_t d;
    uint64_t until; /* CLOCK_MONOTONIC ms */
} cached_id_t;

typedef struct {
    char id[FLEET_ROLLOUT_ID], version[32], grp[FLEET_GROUP_MAX + 1], state[12];
    int percent, threshold, min_failures, step, step_after, base_success;
    long long created;
} rollout_t;

typedef struct {
    rollout_t r[ROLLOUTS_CACHED];
    int nr;
} rollouts_t;

/* The columns load_rollout_row reads, in its order. */
#define ROLLOUT_COLUMNS                                                                                                \
    "SELECT id, version, grp, percent, threshold, min_failures, step, step_after, base_success, state, created "       \
    "FROM rollouts "

struct fleet {
    db_t *db;  /* writes: the report writer's batches, operator actions, the rollouts' evaluation */
    db_t *rdb; /* reads for the serving threads (identity, listings): never queued behind a write
                  transaction (SQLite in WAL mode, or a second PostgreSQL connection) */
    fleet_mode_t mode;
    pthread_mutex_t lock; /* the cache below */
    rollouts_t ro;
    pthread_mutex_t ids_lock;
    cached_id_t ids[IDS_CACHED];
};

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static cached_id_t *id_slot(fleet_t *f, const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = id; *p; p++) {
        h = (h ^ (uint8_t)*p) * 16777619u;
    }
    return &f->ids[h % IDS_CACHED];
}

/* After a change to a device here: its next request reads the database. */
static void forget_id(fleet_t *f, const char *id)
{
    pthread_mutex_lock(&f->ids_lock);
    cached_id_t *e = id_slot(f, id);
    if (strcmp(e->id, id) == 0) {
        e->id[0] = '\0';
    }
    pthread_mutex_unlock(&f->ids_lock);
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS devices(id TEXT PRIMARY KEY, token_hash TEXT, status TEXT NOT NULL, "
    "grp TEXT NOT NULL DEFAULT '', created BIGINT NOT NULL, last_seen BIGINT, version TEXT, bank TEXT, "
    "last_state TEXT, last_target TEXT, last_error TEXT);"
    "CREATE TABLE IF NOT EXISTS rollouts(id TEXT PRIMARY KEY, version TEXT NOT NULL, grp TEXT NOT NULL, "
    "percent INTEGER NOT NULL, threshold INTEGER NOT NULL, min_failures INTEGER NOT NULL, step INTEGER NOT NULL, "
    "step_after INTEGER NOT NULL, base_success INTEGER NOT NULL, state TEXT NOT NULL, created BIGINT NOT NULL, "
    "updated BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS rollout_results(rollout TEXT NOT NULL, device TEXT NOT NULL, result TEXT NOT NULL, "
    "at BIGINT NOT NULL, PRIMARY KEY(rollout, device));"
    "CREATE TABLE IF NOT EXISTS audit(at_us BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, "
    "detail TEXT NOT NULL)";

static void now_s(char out[24])
{
    snprintf(out, 24, "%lld", (long long)time(NULL));
}

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
}

static int token_hash(const char *token, char out[65])
{
    uint8_t d[32];
    if (crypto_sha256((const uint8_t *)token, strlen(token), d) != CRYPTO_OK) {
        return -1;
    }
    hex(d, 32, out);
    return 0;
}

/* The rollout's share of devices: the first four bytes of SHA-256(rollout "/" device), mod 100.
 * Stable: a device in at 10 % stays in at 50 %. */
static int bucket(const char *rollout, const char *device)
{
    char s[FLEET_ROLLOUT_ID + 70];
    uint8_t d[32];
    snprintf(s, sizeof(s), "%s/%s", rollout, device);
    if (crypto_sha256((const uint8_t *)s, strlen(s), d) != CRYPTO_OK) {
        return 100; /* never a member */
    }
    return (int)((((uint32_t)d[0] << 24) | ((uint32_t)d[1] << 16) | ((uint32_t)d[2] << 8) | d[3]) % 100u);
}

static int member(const rollout_t *r, const char *device, const char *grp)
{
    return (r->grp[0] == '\0' || strcmp(r->grp, grp) == 0) && bucket(r->id, device) < r->percent;
}

int fleet_parse_mode(const char *s, fleet_mode_t *out)
{
    static const char *const names[] = {"open", "registered", "pending"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (fleet_mode_t)i;
            return 0;
        }
    }
    return -1;
}

fleet_mode_t fleet_mode(const fleet_t *f)
{
    return f->mode;
}

const char *fleet_auth_message(fleet_auth_t a)
{
    switch (a) {
    case FLEET_AUTH_OK:
        return "ok";
    case FLEET_AUTH_NO_ID:
        return "this server needs the device's identity: X-Device-Id and Authorization: Bearer <device token>";
    case FLEET_AUTH_UNKNOWN:
        return "unknown device: provision it first (fota-admin device add)";
    case FLEET_AUTH_BAD_TOKEN:
        return "wrong or missing device token";
    case FLEET_AUTH_PENDING:
        return "device is pending: an operator must approve it (fota-admin device approve)";
    case FLEET_AUTH_ERROR:
        break;
    }
    return "device store failed";
}

void fleet_audit(fleet_t *f, const char *actor, const char *action, const char *detail)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char at[24], why[200];
    snprintf(at, sizeof(at), "%lld", (long long)tv.tv_sec * 1000000 + tv.tv_usec);
    const char *p[4] = {at, actor, action, detail};
    if (db_exec(f->db, "INSERT INTO audit(at_us, actor, action, detail) VALUES($1, $2, $3, $4)", 4, p, why,
                sizeof(why)) != 0) {
        srvlog(SRVLOG_ERROR, "fota-server: fleet: cannot write the audit log: %s", why);
    }
    srvlog(SRVLOG_INFO, "fota-server: audit: %s: %s: %s", actor, action, detail);
}

static int load_rollout_row(void *ctx, int n, const char *const *c)
{
    rollouts_t *l = ctx;
    if (n < 11 || l->nr >= ROLLOUTS_CACHED) {
        return 1;
    }
    rollout_t *r = &l->r[l->nr++];
    snprintf(r->id, sizeof(r->id), "%s", c[0] ? c[0] : "");
    snprintf(r->version, sizeof(r->version), "%s", c[1] ? c[1] : "");
    snprintf(r->grp, sizeof(r->grp), "%s", c[2] ? c[2] : "");
    r->percent = atoi(c[3] ? c[3] : "0");
    r->threshold = atoi(c[4] ? c[4] : "0");
    r->min_failures = atoi(c[5] ? c[5] : "1");
    r->step = atoi(c[6] ? c[6] : "0");
    r->step_after = atoi(c[7] ? c[7] : "1");
    r->base_success = atoi(c[8] ? c[8] : "0");
    snprintf(r->state, sizeof(r->state), "%s", c[9] ? c[9] : "");
    r->created = atoll(c[10] ? c[10] : "0");
    return 0;
}

static void reload(fleet_t *f)
{
    char why[200];
    rollouts_t fresh = {.nr = 0}; /* read outside the lock, swapped in whole */
    if (db_query(f->rdb, ROLLOUT_COLUMNS "WHERE state IN ('active', 'halted') ORDER BY created DESC, id", 0, NULL,
                 load_rollout_row, &fresh, why, sizeof(why)) != 0) {
        srvlog(SRVLOG_WARN, "fota-server: fleet: cannot read the rollouts: %s", why); /* keep what we had */
        return;
    }
    pthread_mutex_lock(&f->lock);
    f->ro = fresh;
    pthread_mutex_unlock(&f->lock);
}

/* A copy of the cached rollouts, to work on without the lock. */
static void snapshot(fleet_t *f, rollouts_t *out)
{
    pthread_mutex_lock(&f->lock);
    *out = f->ro;
    pthread_mutex_unlock(&f->lock);
}

fleet_t *fleet_open(db_t *db, db_t *rdb, fleet_mode_t mode, char *why, size_t cap)
{
    fleet_t *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    f->db = db;
    f->rdb = rdb;
    f->mode = mode;
    pthread_mutex_init(&f->lock, NULL);
    pthread_mutex_init(&f->ids_lock, NULL);
    /* Instances starting together on one PostgreSQL: CREATE TABLE IF NOT EXISTS is not safe
     * concurrently (the loser fails on the catalog's unique index), so the schema is made under a
     * transaction-level advisory lock; a failure is still tried again a few times. */
    char script[sizeof(schema) + 64];
    snprintf(script, sizeof(script), "%s%s", db_is_pg(db) ? "SELECT pg_advisory_xact_lock(7013);" : "", schema);
    int made = 0;
    for (int tries = 0; tries < 10 && !made; tries++) {
        made = db_script(db, script, why, cap) == 0;
        if (!made) {
            struct timespec pause = {0, 100000000};
            nanosleep(&pause, NULL);
        }
    }
    if (!made) {
        pthread_mutex_destroy(&f->lock);
        pthread_mutex_destroy(&f->ids_lock);
        free(f);
        return NULL;
    }
    reload(f);
    return f;
}

void fleet_close(fleet_t *f)
{
    if (f != NULL) {
        pthread_mutex_destroy(&f->lock);
        pthread_mutex_destroy(&f->ids_lock);
        free(f);
    }
}

static int device_row(void *ctx, int n, const char *const *c)
{
    devrow_t *d = ctx;
    d->found = 1;
    snprintf(d->grp, sizeof(d->grp), "%s", n > 0 && c[0] ? c[0] : "");
    snprintf(d->status, sizeof(d->status), "%s", n > 1 && c[1] ? c[1] : "");
    d->has_hash = n > 2 && c[2] != NULL;
    snprintf(d->hash, sizeof(d->hash), "%s", d->has_hash ? c[2] : "");
    return 1;
}

static int lookup(db_t *db, const char *id, devrow_t *d)
{
    char why[200];
    memset(d, 0, sizeof(*d));
    const char *p[1] = {id};
    if (db_query(db, "SELECT grp, status, token_hash FROM devices WHERE id = $1", 1, p, device_row, d, why,
                 sizeof(why)) != 0) {
        srvlog(SRVLOG_ERROR, "fota-server: fleet: cannot read device %s: %s", id, why);
        return -1;
    }
    return 0;
}

/* lookup() on the read connection through the cache of recent identities. */
static int cached_lookup(fleet_t *f, const char *id, devrow_t *d)
{
    uint64_t now = mono_ms();
    pthread_mutex_lock(&f->ids_lock);
    cached_id_t *e = id_slot(f, id);
    int hit = strcmp(e->id, id) == 0 && now < e->until;
    if (hit) {
        *d = e->d;
    }
    pthread_mutex_unlock(&f->ids_lock);
    if (hit) {
        return 0;
    }
    if (lookup(f->rdb, id, d) != 0) {
        return -1;
    }
    pthread_mutex_lock(&f->ids_lock);
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->d = *d;
    e->until = now + IDS_CACHE_MS;
    pthread_mutex_unlock(&f->ids_lock);
    return 0;
}

/* 1 when token hashes to the stored hash (compared in constant time). */
static int token_ok(const devrow_t *d, const char *token)
{
    char h[65];
    if (!d->has_hash || token == NULL || token_hash(token, h) != 0 || strlen(d->hash) != 64) {
        return 0;
    }
    return crypto_memcmp_ct((const uint8_t *)h, (const uint8_t *)d->hash, 64) == 0;
}

fleet_auth_t fleet_auth(fleet_t *f, const char *id, const char *token, char *grp, size_t cap)
{
    grp[0] = '\0';
    if (id == NULL) {
        return f->mode == FLEET_OPEN ? FLEET_AUTH_OK : FLEET_AUTH_NO_ID;
    }
    devrow_t d;
    if (cached_lookup(f, id, &d) != 0) {
        return FLEET_AUTH_ERROR;
    }
    if (!d.found) {
        if (f->mode == FLEET_OPEN) {
            return FLEET_AUTH_OK; /* added to the inventory by its first report */
        }
        if (f->mode == FLEET_REGISTERED) {
            return FLEET_AUTH_UNKNOWN;
        }
        char h[65], at[24], why[200];
        if (token == NULL || strlen(token) < 16 || token_hash(token, h) != 0) {
            return FLEET_AUTH_BAD_TOKEN; /* a pending device must present the token it will use */
        }
        now_s(at);
        const char *p[3] = {id, h, at};
        if (db_exec(f->db,
                    "INSERT INTO devices(id, token_hash, status, grp, created) VALUES($1, $2, 'pending', '', $3) "
                    "ON CONFLICT(id) DO NOTHING",
                    3, p, why, sizeof(why)) != 0) {
            srvlog(SRVLOG_ERROR, "fota-server: fleet: cannot add pending device %s: %s", id, why);
            return FLEET_AUTH_ERROR;
        }
        forget_id(f, id);
        fleet_audit(f, id, "device pending", "an unknown device asked for updates; approve it to serve it");
        return FLEET_AUTH_PENDING;
    }
    /* A provisioned device (one with a token) is never served or heard without it, in any mode. */
    if (d.has_hash && !token_ok(&d, token)) {
        return FLEET_AUTH_BAD_TOKEN;
    }
    if (!d.has_hash && f->mode != FLEET_OPEN) {
        return FLEET_AUTH_BAD_TOKEN; /* seen in open mode, never provisioned */
    }
    if (strcmp(d.status, "pending") == 0) {
        return FLEET_AUTH_PENDING;
    }
    snprintf(grp, cap, "%s", d.grp);
    return FLEET_AUTH_OK;
}

void fleet_target(fleet_t *f, const char *id, const char *grp, char *ver, size_t cap, char *rollout, size_t rcap)
{
    ver[0] = '\0';
    if (rollout != NULL && rcap > 0) {
        rollout[0] = '\0';
    }
    if (id == NULL) {
        return;
    }
    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < f->ro.nr; i++) { /* newest first: the latest rollout that includes the device wins */
        const rollout_t *r = &f->ro.r[i];
        if (strcmp(r->state, "active") == 0 && member(r, id, grp)) {
            snprintf(ver, cap, "%s", r->version);
            if (rollout != NULL && rcap > 0) {
                snprintf(rollout, rcap, "%s", r->id);
            }
            break;
        }
    }
    pthread_mutex_unlock(&f->lock);
}

static const char *result_of(const char *state)
{
    if (strcmp(state, "updated") == 0 || strcmp(state, "up-to-date") == 0) {
        return "success";
    }
    if (strcmp(state, "refused") == 0 || strcmp(state, "not-running") == 0) {
        return "failure";
    }
    return NULL; /* server-error, device-error: tried again, not a verdict */
}

void fleet_on_reports(void *ctx, const report_t *rows, size_t n)
{
    fleet_t *f = ctx;
    char why[200];
    rollouts_t ro;
    snapshot(f, &ro);
    if (db_begin(f->db, why, sizeof(why)) != 0) {
        srvlog(SRVLOG_ERROR, "fota-server: fleet: cannot record %zu reports: %s", n, why);
        return;
    }
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        const report_t *r = &rows[i];
        char at[24];
        snprintf(at, sizeof(at), "%lld", (long long)r->received);
        const char *p[7] = {r->device, at, r->version, r->bank, r->state, r->target ? r->target : "", r->error};
        ok = db_exec(f->db,
                     "INSERT INTO devices(id, status, grp, created, last_seen, version, bank, last_state, last_target, "
                     "last_error) VALUES($1, 'active', '', $2, $2, $3, $4, $5, $6, $7) ON CONFLICT(id) DO UPDATE SET "
                     "last_seen = $2, version = $3, bank = $4, last_state = $5, last_target = $6, last_error = $7",
                     7, p, why, sizeof(why)) == 0;
        const char *res = result_of(r->state);
        if (!ok || res == NULL || r->target == NULL || r->target[0] == '\0') {
            continue;
        }
        devrow_t d;
        ok = lookup(f->db, r->device, &d) == 0;
        for (int k = 0; ok && k < ro.nr; k++) {
            if (strcmp(ro.r[k].version, r->target) == 0 && member(&ro.r[k], r->device, d.grp)) {
                const char *q[4] = {ro.r[k].id, r->device, res, at};
                ok = db_exec(f->db,
                             "INSERT INTO rollout_results(rollout, device, result, at) VALUES($1, $2, $3, $4) "
                             "ON CONFLICT(rollout, device) DO UPDATE SET result = $3, at = $4",
                             4, q, why, sizeof(why)) == 0;
            }
        }
    }
    if (!ok) {
        db_rollback(f->db);
        srvlog(SRVLOG_ERROR, "fota-server: fleet: cannot record %zu reports: %s", n, why);
    } else if (db_commit(f->db, why, sizeof(why)) != 0) {
        srvlog(SRVLOG_ERROR, "fota-server: fleet: cannot record %zu reports: %s", n, why);
    }
}

typedef struct {
    int success, failure;
} counts_t;

static int count_row(void *ctx, int n, const char *const *c)
{
    counts_t *k = ctx;
    if (n >= 2 && c[0] != NULL && c[1] != NULL) {
        if (strcmp(c[0], "success") == 0) {
            k->success = atoi(c[1]);
        } else if (strcmp(c[0], "failure") == 0) {
            k->failure = atoi(c[1]);
        }
    }
    return 0;
}

static int counts(fleet_t *f, const char *id, counts_t *k)
{
    char why[200];
    memset(k, 0, sizeof(*k));
    const char *p[1] = {id};
    return db_query(f->rdb, "SELECT result, COUNT(*) FROM rollout_results WHERE rollout = $1 GROUP BY result", 1, p,
                    count_row, k, why, sizeof(why));
}

static int any_row(void *ctx, int n, const char *const *c)
{
    (void)n, (void)c;
    *(int *)ctx = 1;
    return 1;
}

void fleet_tick(fleet_t *f)
{
    reload(f);
    rollouts_t ro;
    snapshot(f, &ro);
    int changed = 0;
    for (int i = 0; i < ro.nr; i++) {
        rollout_t *r = &ro.r[i];
        counts_t k;
        if (strcmp(r->state, "active") != 0 || counts(f, r->id, &k) != 0) {
            continue;
        }
        char at[24], why[200], detail[200];
        now_s(at);
        int results = k.success + k.failure, won = 0;
        if (k.failure >= r->min_failures && k.failure * 100 > r->threshold * results) {
            const char *p[2] = {r->id, at};
            /* Conditional, so of several instances one halts it and writes the audit line. */
            if (db_query(f->db,
                         "UPDATE rollouts SET state = 'halted', updated = $2 WHERE id = $1 AND state = 'active' "
                         "RETURNING id",
                         2, p, any_row, &won, why, sizeof(why)) == 0 &&
                won) {
                snprintf(detail, sizeof(detail), "%s (%s): %d of %d results failed, over the %d%% threshold", r->id,
                         r->version, k.failure, results, r->threshold);
                fleet_audit(f, "fota-server", "rollout halted automatically", detail);
                changed = 1;
            }
        } else if (r->step > 0 && r->percent < 100 && k.success - r->base_success >= r->step_after) {
            int to = r->percent + r->step > 100 ? 100 : r->percent + r->step;
            char pc[16], from[16], base[16];
            snprintf(pc, sizeof(pc), "%d", to);
            snprintf(from, sizeof(from), "%d", r->percent);
            snprintf(base, sizeof(base), "%d", k.success);
            const char *p[5] = {r->id, pc, base, at, from};
            if (db_query(f->db,
                         "UPDATE rollouts SET percent = $2, base_success = $3, updated = $4 WHERE id = $1 AND "
                         "state = 'active' AND percent = $5 RETURNING id",
                         5, p, any_row, &won, why, sizeof(why)) == 0 &&
                won) {
                snprintf(detail, sizeof(detail), "%s (%s): %d%% -> %d%% after %d updated, %d failed", r->id, r->version,
                         r->percent, to, k.success, k.failure);
                fleet_audit(f, "fota-server", "rollout widened automatically", detail);
                changed = 1;
            }
        }
    }
    if (changed) {
        reload(f);
    }
}

static int fail_with(unsigned *status, unsigned code, char *why, size_t cap, const char *msg)
{
    *status = code;
    snprintf(why, cap, "%s", msg);
    return -1;
}

int fleet_device_add(fleet_t *f, const char *id, const char *grp, const char *actor, char token[FLEET_TOKEN_HEX + 1],
                     unsigned *status, char *why, size_t cap)
{
    uint8_t raw[32];
    char h[65], at[24];
    if (grp == NULL) {
        grp = "";
    }
    if (strlen(grp) > FLEET_GROUP_MAX) {
        return fail_with(status, 400, why, cap, "group longer than 64 characters");
    }
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        return fail_with(status, 500, why, cap, "no randomness for the token");
    }
    hex(raw, sizeof(raw), token);
    memset(raw, 0, sizeof(raw));
    if (token_hash(token, h) != 0) {
        return fail_with(status, 500, why, cap, "cannot hash the token");
    }
    devrow_t d;
    if (lookup(f->db, id, &d) != 0) {
        return fail_with(status, 500, why, cap, "device store failed");
    }
    if (d.found && d.has_hash) {
        return fail_with(status, 409, why, cap, "device already provisioned");
    }
    now_s(at);
    const char *p[4] = {id, h, grp, at};
    /* A device seen before in open mode keeps its history and gets its first token. */
    if (db_exec(f->db,
                "INSERT INTO devices(id, token_hash, status, grp, created) VALUES($1, $2, 'active', $3, $4) "
                "ON CONFLICT(id) DO UPDATE SET token_hash = $2, status = 'active', grp = $3",
                4, p, why, cap) != 0) {
        *status = 500;
        return -1;
    }
    forget_id(f, id);
    char detail[160];
    snprintf(detail, sizeof(detail), "%s (group '%s')", id, grp);
    fleet_audit(f, actor, "device provisioned", detail);
    *status = 201;
    return 0;
}

/* Runs sql, an UPDATE of device id ending in RETURNING id: 404 when no row was changed. */
static int update_device(fleet_t *f, const char *sql, int n, const char *const *p, const char *id, unsigned *status,
                         char *why, size_t cap)
{
    int found = 0;
    if (db_query(f->db, sql, n, p, any_row, &found, why, cap) != 0) {
        *status = 500;
        return -1;
    }
    if (!found) {
        return fail_with(status, 404, why, cap, "no such device");
    }
    forget_id(f, id);
    *status = 200;
    return 0;
}

int fleet_device_approve(fleet_t *f, const char *id, const char *actor, unsigned *status, char *why, size_t cap)
{
    const char *p[1] = {id};
    if (update_device(f, "UPDATE devices SET status = 'active' WHERE id = $1 RETURNING id", 1, p, id, status, why,
                      cap) != 0) {
        return -1;
    }
    fleet_audit(f, actor, "device approved", id);
    return 0;
}

int fleet_device_group(fleet_t *f, const char *id, const char *grp, const char *actor, unsigned *status, char *why,
                       size_t cap)
{
    if (strlen(grp) > FLEET_GROUP_MAX) {
        return fail_with(status, 400, why, cap, "group longer than 64 characters");
    }
    const char *p[2] = {id, grp};
    if (update_device(f, "UPDATE devices SET grp = $2 WHERE id = $1 RETURNING id", 2, p, id, status, why, cap) != 0) {
        return -1;
    }
    char detail[160];
    snprintf(detail, sizeof(detail), "%s -> group '%s'", id, grp);
    fleet_audit(f, actor, "device group changed", detail);
    return 0;
}

int fleet_rollout_create(fleet_t *f, const fleet_rollout_spec_t *s, const char *actor, char id[FLEET_ROLLOUT_ID],
                         unsigned *status, char *why, size_t cap)
{
    img_version_t v;
    const char *grp = s->group ? s->group : "";
    if (s->version == NULL || img_version_parse(s->version, &v) != 0) {
        return fail_with(status, 400, why, cap, "version must be X.Y.Z");
    }
    if (s->percent < 1 || s->percent > 100 || s->threshold < 0 || s->threshold > 100 || s->min_failures < 1 ||
        s->step < 0 || s->step > 100 || (s->step > 0 && s->step_after < 1) || strlen(grp) > FLEET_GROUP_MAX) {
        return fail_with(status, 400, why, cap,
                         "percent 1-100, threshold 0-100, min_failures >= 1, step 0-100 with step_after >= 1");
    }
    uint8_t raw[8];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        return fail_with(status, 500, why, cap, "no randomness for the id");
    }
    hex(raw, sizeof(raw), id);
    char at[24], pc[16], th[16], mf[16], st[16], sa[16];
    now_s(at);
    snprintf(pc, sizeof(pc), "%d", s->percent);
    snprintf(th, sizeof(th), "%d", s->threshold);
    snprintf(mf, sizeof(mf), "%d", s->min_failures);
    snprintf(st, sizeof(st), "%d", s->step);
    snprintf(sa, sizeof(sa), "%d", s->step > 0 ? s->step_after : 1);
    const char *p[9] = {id, s->version, grp, pc, th, mf, st, sa, at};
    if (db_exec(
            f->db,
            "INSERT INTO rollouts(id, version, grp, percent, threshold, min_failures, step, step_after, base_success, "
            "state, created, updated) VALUES($1, $2, $3, $4, $5, $6, $7, $8, 0, 'active', $9, $9)",
            9, p, why, cap) != 0) {
        *status = 500;
        return -1;
    }
    char detail[200];
    snprintf(detail, sizeof(detail), "%s: %s to %d%% of %s%s%s, halt above %d%% failed (from %d failures)%s", id,
             s->version, s->percent, grp[0] ? "group '" : "all devices", grp, grp[0] ? "'" : "", s->threshold,
             s->min_failures, s->step > 0 ? ", widened automatically" : "");
    fleet_audit(f, actor, "rollout created", detail);
    reload(f);
    *status = 201;
    return 0;
}

typedef struct {
    int found, percent;
    char state[12], version[32];
} rrow_t;

static int rollout_row(void *ctx, int n, const char *const *c)
{
    rrow_t *r = ctx;
    r->found = 1;
    r->percent = n > 0 && c[0] ? atoi(c[0]) : 0;
    snprintf(r->state, sizeof(r->state), "%s", n > 1 && c[1] ? c[1] : "");
    snprintf(r->version, sizeof(r->version), "%s", n > 2 && c[2] ? c[2] : "");
    return 1;
}

static int get_rollout(fleet_t *f, const char *id, rrow_t *r, unsigned *status, char *why, size_t cap)
{
    memset(r, 0, sizeof(*r));
    const char *p[1] = {id};
    if (db_query(f->db, "SELECT percent, state, version FROM rollouts WHERE id = $1", 1, p, rollout_row, r, why, cap) !=
        0) {
        *status = 500;
        return -1;
    }
    if (!r->found) {
        return fail_with(status, 404, why, cap, "no such rollout");
    }
    return 0;
}

int fleet_rollout_widen(fleet_t *f, const char *id, int percent, const char *actor, unsigned *status, char *why,
                        size_t cap)
{
    rrow_t r;
    if (get_rollout(f, id, &r, status, why, cap) != 0) {
        return -1;
    }
    if (strcmp(r.state, "active") != 0) {
        return fail_with(status, 409, why, cap, "the rollout is halted: create a new one");
    }
    if (percent <= r.percent || percent > 100) {
        return fail_with(status, 400, why, cap, "a rollout widens: percent must be above its current one, up to 100");
    }
    char at[24], pc[16];
    now_s(at);
    snprintf(pc, sizeof(pc), "%d", percent);
    const char *p[3] = {id, pc, at};
    if (db_exec(f->db, "UPDATE rollouts SET percent = $2, updated = $3 WHERE id = $1", 3, p, why, cap) != 0) {
        *status = 500;
        return -1;
    }
    char detail[160];
    snprintf(detail, sizeof(detail), "%s (%s): %d%% -> %d%%", id, r.version, r.percent, percent);
    fleet_audit(f, actor, "rollout widened", detail);
    reload(f);
    *status = 200;
    return 0;
}

int fleet_rollout_halt(fleet_t *f, const char *id, const char *actor, unsigned *status, char *why, size_t cap)
{
    rrow_t r;
    if (get_rollout(f, id, &r, status, why, cap) != 0) {
        return -1;
    }
    if (strcmp(r.state, "active") != 0) {
        return fail_with(status, 409, why, cap, "the rollout is already halted");
    }
    char at[24];
    now_s(at);
    const char *p[2] = {id, at};
    if (db_exec(f->db, "UPDATE rollouts SET state = 'halted', updated = $2 WHERE id = $1", 2, p, why, cap) != 0) {
        *status = 500;
        return -1;
    }
    char detail[160];
    snprintf(detail, sizeof(detail), "%s (%s) at %d%%", id, r.version, r.percent);
    fleet_audit(f, actor, "rollout halted", detail);
    reload(f);
    *status = 200;
    return 0;
}

static int add_device_json(void *ctx, int n, const char *const *c)
{
    cJSON *arr = ctx;
    static const char *const keys[] = {"id",      "status", "group",      "created",     "last_seen",
                                       "version", "bank",   "last_state", "last_target", "last_error"};
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return 1;
    }
    for (int i = 0; i < n && i < 10; i++) {
        if (i == 3 || i == 4) {
            if (c[i] == NULL ? cJSON_AddNullToObject(o, keys[i]) == NULL
                             : cJSON_AddNumberToObject(o, keys[i], (double)atoll(c[i])) == NULL) {
                return 1;
            }
        } else if (cJSON_AddStringToObject(o, keys[i], c[i] ? c[i] : "") == NULL) {
            return 1;
        }
    }
    return 0;
}

cJSON *fleet_devices_json(fleet_t *f)
{
    char why[200];
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL || db_query(f->rdb,
                                "SELECT id, status, grp, created, last_seen, version, bank, last_state, last_target, "
                                "last_error FROM devices ORDER BY id",
                                0, NULL, add_device_json, arr, why, sizeof(why)) != 0) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

typedef struct {
    char (*id)[65];
    char (*grp)[FLEET_GROUP_MAX + 1];
    size_t n, cap;
} devlist_t;

static int add_dev(void *ctx, int n, const char *const *c)
{
    devlist_t *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        void *a = realloc(l->id, cap * sizeof(*l->id)), *b = a ? realloc(l->grp, cap * sizeof(*l->grp)) : NULL;
        if (a != NULL) {
            l->id = a;
        }
        if (b == NULL) {
            return 1;
        }
        l->grp = b;
        l->cap = cap;
    }
    snprintf(l->id[l->n], sizeof(l->id[0]), "%s", n > 0 && c[0] ? c[0] : "");
    snprintf(l->grp[l->n], sizeof(l->grp[0]), "%s", n > 1 && c[1] ? c[1] : "");
    l->n++;
    return 0;
}

cJSON *fleet_rollouts_json(fleet_t *f)
{
    char why[200];
    rollouts_t all = {.nr = 0}; /* every rollout, not only the cached ones */
    devlist_t devs = {NULL, NULL, 0, 0};
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL ||
        db_query(f->rdb, ROLLOUT_COLUMNS "ORDER BY created DESC, id", 0, NULL, load_rollout_row, &all, why,
                 sizeof(why)) != 0 ||
        db_query(f->rdb, "SELECT id, grp FROM devices WHERE status = 'active'", 0, NULL, add_dev, &devs, why,
                 sizeof(why)) != 0) {
        cJSON_Delete(arr);
        free(devs.id);
        free(devs.grp);
        return NULL;
    }
    for (int i = 0; i < all.nr; i++) {
        const rollout_t *r = &all.r[i];
        int eligible = 0, members = 0;
        for (size_t d = 0; d < devs.n; d++) {
            if (r->grp[0] == '\0' || strcmp(r->grp, devs.grp[d]) == 0) {
                eligible++;
                members += bucket(r->id, devs.id[d]) < r->percent;
            }
        }
        counts_t k;
        if (counts(f, r->id, &k) != 0) {
            memset(&k, 0, sizeof(k));
        }
        int pending = members - k.success - k.failure;
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(arr, o) || !cJSON_AddStringToObject(o, "id", r->id) ||
            !cJSON_AddStringToObject(o, "version", r->version) || !cJSON_AddStringToObject(o, "group", r->grp) ||
            !cJSON_AddStringToObject(o, "state", r->state) || !cJSON_AddNumberToObject(o, "percent", r->percent) ||
            !cJSON_AddNumberToObject(o, "threshold", r->threshold) ||
            !cJSON_AddNumberToObject(o, "min_failures", r->min_failures) ||
            !cJSON_AddNumberToObject(o, "step", r->step) || !cJSON_AddNumberToObject(o, "step_after", r->step_after) ||
            !cJSON_AddNumberToObject(o, "created", (double)r->created) ||
            !cJSON_AddNumberToObject(o, "eligible", eligible) || !cJSON_AddNumberToObject(o, "members", members) ||
            !cJSON_AddNumberToObject(o, "updated", k.success) || !cJSON_AddNumberToObject(o, "failed", k.failure) ||
            !cJSON_AddNumberToObject(o, "pending", pending > 0 ? pending : 0)) {
            cJSON_Delete(arr);
            arr = NULL;
            break;
        }
    }
    free(devs.id);
    free(devs.grp);
    return arr;
}

static int add_audit_json(void *ctx, int n, const char *const *c)
{
    cJSON *arr = ctx;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(arr, o) || n < 4) {
        cJSON_Delete(o);
        return 1;
    }
    if (!cJSON_AddNumberToObject(o, "at", (double)(atoll(c[0] ? c[0] : "0") / 1000000)) ||
        !cJSON_AddStringToObject(o, "actor", c[1] ? c[1] : "") ||
        !cJSON_AddStringToObject(o, "action", c[2] ? c[2] : "") ||
        !cJSON_AddStringToObject(o, "detail", c[3] ? c[3] : "")) {
        return 1;
    }
    return 0;
}

cJSON *fleet_audit_json(fleet_t *f, int limit)
{
    char why[200], lim[12];
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[1] = {lim};
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL || db_query(f->rdb, "SELECT at_us, actor, action, detail FROM audit ORDER BY at_us DESC LIMIT $1",
                                1, p, add_audit_json, arr, why, sizeof(why)) != 0) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}
