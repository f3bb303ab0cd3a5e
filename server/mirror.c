/* fota-server's copies of its images in S3 for --redirect-downloads: see fota/mirror.h. */
#include "fota/mirror.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fota/s3presign.h"
#include "fota/srvlog.h"

#define MIRROR_SLOTS 16 /* images remembered: a few releases, both banks */

typedef enum { M_FREE = 0, M_QUEUED, M_UPLOADING, M_DONE, M_FAILED } mstate_t;

typedef struct {
    char sha[65];
    mstate_t state;
    release_blob_t *blob; /* held while queued or uploading */
    time_t failed_at;
    uint64_t used; /* for eviction: the least recently asked for goes first */
} entry_t;

struct mirror {
    mirror_cfg_t cfg;
    char access[128], secret[256], token[2048];
    s3_presign_cfg_t presign;
    pthread_t worker;
    pthread_mutex_t lock;
    pthread_cond_t work;
    int stopping;
    time_t next_check;
    uint64_t clock;
    entry_t e[MIRROR_SLOTS];
};

/* The prefix is at most 200 characters (checked at start), so the key always fits 400. */
static void key_of(const mirror_t *m, const char *sha, char *out, size_t cap)
{
    if ((size_t)snprintf(out, cap, "%s%.64s.bin", m->cfg.prefix, sha) >= cap) {
        out[0] = '\0';
    }
}

/* Called and returns with the lock held. A copy no longer in the bucket (a lifecycle rule, a
 * cleanup) is forgotten: the next request for its image is served here and copies it again. */
static void check_copies(mirror_t *m)
{
    char shas[MIRROR_SLOTS][65];
    int n = 0;
    for (int i = 0; i < MIRROR_SLOTS; i++) {
        if (m->e[i].state == M_DONE) {
            memcpy(shas[n++], m->e[i].sha, 65);
        }
    }
    for (int k = 0; k < n; k++) {
        char key[400], why[300];
        key_of(m, shas[k], key, sizeof(key));
        pthread_mutex_unlock(&m->lock);
        int rc = s3_head(m->cfg.s3, key, why, sizeof(why));
        pthread_mutex_lock(&m->lock);
        if (rc != 0) {
            for (int i = 0; i < MIRROR_SLOTS; i++) {
                if (m->e[i].state == M_DONE && strcmp(m->e[i].sha, shas[k]) == 0) {
                    m->e[i].state = M_FREE;
                    srvlog(SRVLOG_WARN,
                           "fota-server: redirect: the copy s3://%s/%s is not readable (%s): serving the image "
                           "here until it is copied again",
                           m->cfg.s3->bucket, key, why);
                }
            }
        }
    }
}

static void *worker(void *arg)
{
    mirror_t *m = arg;
    pthread_mutex_lock(&m->lock);
    for (;;) {
        entry_t *job = NULL;
        for (int i = 0; i < MIRROR_SLOTS && job == NULL; i++) {
            if (m->e[i].state == M_QUEUED) {
                job = &m->e[i];
            }
        }
        if (job == NULL) {
            if (m->stopping) {
                break;
            }
            if (m->cfg.check_s == 0) {
                pthread_cond_wait(&m->work, &m->lock);
            } else if (time(NULL) >= m->next_check) {
                check_copies(m);
                m->next_check = time(NULL) + m->cfg.check_s;
            } else {
                struct timespec until = {m->next_check, 0};
                pthread_cond_timedwait(&m->work, &m->lock, &until);
            }
            continue;
        }
        job->state = M_UPLOADING;
        char sha[65], key[400], why[300];
        snprintf(sha, sizeof(sha), "%s", job->sha);
        release_blob_t *blob = job->blob;
        pthread_mutex_unlock(&m->lock);
        key_of(m, sha, key, sizeof(key));
        int rc = s3_put(m->cfg.s3, key, blob->data, blob->size, why, sizeof(why));
        if (rc == 0) {
            srvlog(SRVLOG_INFO, "fota-server: redirect: image %.12s copied to s3://%s/%s (%zu bytes)", sha,
                   m->cfg.s3->bucket, key, blob->size);
        } else {
            srvlog(SRVLOG_WARN,
                   "fota-server: redirect: cannot copy image %.12s to s3://%s/%s: %s; serving it here "
                   "and trying again in %u s",
                   sha, m->cfg.s3->bucket, key, why, (unsigned)m->cfg.retry_s);
        }
        release_blob_unref(blob);
        pthread_mutex_lock(&m->lock);
        job->blob = NULL;
        job->state = rc == 0 ? M_DONE : M_FAILED;
        job->failed_at = time(NULL);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

mirror_t *mirror_start(const mirror_cfg_t *cfg)
{
    const char *colon = strchr(cfg->s3->userpwd, ':');
    if (colon == NULL) {
        return NULL;
    }
    mirror_t *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return NULL;
    }
    m->cfg = *cfg;
    snprintf(m->access, sizeof(m->access), "%.*s", (int)(colon - cfg->s3->userpwd), cfg->s3->userpwd);
    snprintf(m->secret, sizeof(m->secret), "%s", colon + 1);
    const char *tok = "x-amz-security-token: ";
    if (strncmp(cfg->s3->token_header, tok, strlen(tok)) == 0) {
        snprintf(m->token, sizeof(m->token), "%s", cfg->s3->token_header + strlen(tok));
    }
    m->presign = (s3_presign_cfg_t){cfg->base, cfg->s3->region, m->access, m->secret, m->token[0] ? m->token : NULL};
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->work, NULL);
    if (pthread_create(&m->worker, NULL, worker, m) != 0) {
        pthread_cond_destroy(&m->work);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
    }
    return m;
}

void mirror_stop(mirror_t *m)
{
    if (m == NULL) {
        return;
    }
    pthread_mutex_lock(&m->lock);
    m->stopping = 1;
    /* Queued uploads are dropped (the next start makes them again); one running is waited for. */
    for (int i = 0; i < MIRROR_SLOTS; i++) {
        if (m->e[i].state == M_QUEUED) {
            release_blob_unref(m->e[i].blob);
            m->e[i].blob = NULL;
            m->e[i].state = M_FREE;
        }
    }
    pthread_cond_signal(&m->work);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->worker, NULL);
    pthread_cond_destroy(&m->work);
    pthread_mutex_destroy(&m->lock);
    memset(m->secret, 0, sizeof(m->secret));
    free(m);
}

int mirror_location(mirror_t *m, const char *sha_hex, release_blob_t *blob, char *url, size_t cap)
{
    pthread_mutex_lock(&m->lock);
    entry_t *hit = NULL, *victim = NULL;
    for (int i = 0; i < MIRROR_SLOTS; i++) {
        entry_t *e = &m->e[i];
        if (e->state != M_FREE && strcmp(e->sha, sha_hex) == 0) {
            hit = e;
            break;
        }
        if (e->state != M_QUEUED && e->state != M_UPLOADING && (victim == NULL || e->used < victim->used)) {
            victim = e;
        }
    }
    int done = 0;
    if (hit != NULL) {
        hit->used = ++m->clock;
        done = hit->state == M_DONE;
        if (hit->state == M_FAILED && time(NULL) - hit->failed_at >= (time_t)m->cfg.retry_s && !m->stopping) {
            hit->blob = release_blob_ref(blob);
            hit->state = M_QUEUED;
            pthread_cond_signal(&m->work);
        }
    } else if (victim != NULL && !m->stopping) {
        snprintf(victim->sha, sizeof(victim->sha), "%s", sha_hex);
        victim->blob = release_blob_ref(blob);
        victim->state = M_QUEUED;
        victim->used = ++m->clock;
        pthread_cond_signal(&m->work);
    }
    pthread_mutex_unlock(&m->lock);
    if (!done) {
        return 0;
    }
    char path[400];
    path[0] = '/';
    key_of(m, sha_hex, path + 1, sizeof(path) - 1);
    return s3_presign_get(&m->presign, path, time(NULL), m->cfg.expires, url, cap) == 0 ? 1 : -1;
}
