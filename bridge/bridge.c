/* The bridge core: see fota/bridge.h. Seed flow: (1) network up (the port's business), (2) read the
 * installed version, (3) GET /version, (4) if newer: reset the STM32, ask its running bank over
 * SPI, ask the server for the opposite bank's image, (5-8) stream it over SPI while the agent
 * erases and programs, (9) commit: the STM32 resets, (10) the bootloader starts the new image. */
#include "fota/bridge.h"

#include "cJSON.h" /* Debian: -I/usr/include/cjson (pkg-config); ESP-IDF: the cjson component */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fota/delta.h"
#include "fota/image.h"
#include "fota/le.h"

typedef struct {
    const bridge_port_t *p;
    char path[96];
    char etag[72]; /* the release's SHA-256 as the server's ETag: every window must be of it */
    uint32_t size;
    uint8_t win[BRIDGE_WINDOW];
    uint32_t win_off;
    size_t win_len;
    /* The image's last bytes, fetched apart: an encrypted image's trailer is read before the
     * transfer starts from offset 0, and must not evict the window that holds it. */
    uint8_t tail[FOTA_IMG_TRAILER_MAX];
    uint32_t tail_off;
    size_t tail_len;
    int failed;
    int changed; /* the server's file is another release now (If-Range answered 200) */
    /* Where the server redirected this image (--redirect-downloads: an S3 copy named by the
     * release's SHA-256, so it cannot change under us): later windows come from there without
     * If-Range, until it fails; then the server is asked again. "" when the server serves it. */
    char copy[BRIDGE_URL_MAX];
    char next[BRIDGE_URL_MAX];
} stream_t;

static void logf_(const bridge_port_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const bridge_port_t *p, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    p->log(p->ctx, line);
}

/* want bytes of the image at off into dst, with a Range request (If-Range: the release's ETag), a
 * few quick retries, and the server's redirect to a copy followed. 0, or -1 with s->failed set. */
static int fetch(stream_t *s, uint32_t off, uint8_t *dst, size_t want)
{
    int ok = 0, hops = 0;
    for (int tries = 0; tries < 3 && !ok; tries++) {
        size_t got = 0;
        long status = 0;
        const char *from = s->copy[0] ? s->copy : s->path;
        s->next[0] = '\0';
        int rc = s->p->http_get(s->p->ctx, from, off, s->copy[0] ? NULL : s->etag, dst, want, &got, &status,
                                s->next, sizeof(s->next));
        if (rc == 0 && status >= 300 && status < 400 && s->next[0] != '\0' && hops < BRIDGE_REDIRECTS) {
            /* The server's If-Range matched (else it answers 200 itself) and it names a copy
             * of exactly this release: follow, without If-Range (the copy's validators are
             * its own, S3's MD5 ETag, never our SHA-256). */
            memcpy(s->copy, s->next, sizeof(s->copy));
            hops++;
            tries--;
            continue;
        }
        if (status == 200 && s->copy[0] != '\0') {
            /* The copy sent all of itself, ignoring Range: not usable as a window. */
            rc = -1;
        } else if (status == 200) {
            /* If-Range did not match: the file was replaced by another release. Windows of
             * two releases would make an image that fails its hash on the device. */
            s->changed = s->failed = 1;
            logf_(s->p, "bridge: %s changed on the server during the download: starting again", s->path);
            return -1;
        }
        if (rc == 0 && status == 206 && got == want) {
            ok = 1;
        } else {
            if (s->copy[0] != '\0') {
                /* Expired, deleted or unreachable: the server gives a fresh URL or the bytes. */
                logf_(s->p, "bridge: the copy of %s answered HTTP %ld at offset %u: asking the server again",
                      s->path, status, (unsigned)off);
                s->copy[0] = '\0';
            }
            s->p->sleep_ms(s->p->ctx, 100u << tries);
        }
    }
    if (!ok) {
        s->failed = 1;
        logf_(s->p, "bridge: download of %s at offset %u failed", s->path, (unsigned)off);
        return -1;
    }
    return 0;
}

/* lm_read_fn: serves the link master from a window of the image, fetching it with a Range request
 * when the master moves outside it. A few quick retries; a longer outage fails the attempt, and the
 * next attempt resumes both the download and the transfer where they stood. */
static int stream_read(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    stream_t *s = ctx;
    if (s->size >= sizeof(s->tail) && len <= sizeof(s->tail) && off >= s->size - sizeof(s->tail) &&
        off + len <= s->size && (off < s->win_off || off >= s->win_off + s->win_len)) {
        /* Only the end of the image, and not in the window: into the tail, the window kept. */
        if (off < s->tail_off || off + len > s->tail_off + s->tail_len) {
            uint32_t from = s->size - (uint32_t)sizeof(s->tail);
            if (fetch(s, from, s->tail, s->size - from) != 0) {
                return -1;
            }
            s->tail_off = from;
            s->tail_len = s->size - from;
        }
        memcpy(buf, s->tail + (off - s->tail_off), len);
        return 0;
    }
    while (len > 0) {
        if (off < s->win_off || off >= s->win_off + s->win_len) {
            size_t want = s->size - off < BRIDGE_WINDOW ? s->size - off : BRIDGE_WINDOW;
            if (fetch(s, off, s->win, want) != 0) {
                return -1;
            }
            s->win_off = off;
            s->win_len = want;
        }
        uint32_t n = (uint32_t)(s->win_off + s->win_len - off);
        if (n > len) {
            n = len;
        }
        memcpy(buf, s->win + (off - s->win_off), n);
        buf += n;
        off += n;
        len -= n;
    }
    return 0;
}

static int unhex(const char *h, uint8_t *out, size_t n)
{
    if (h == NULL || strlen(h) != 2 * n) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = h[2 * i + (size_t)k];
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                                : 16;
            if (d > 15) {
                return -1;
            }
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

typedef struct {
    img_version_t app;
    layout_bank_t running;
} device_info_t;

/* INFO over SPI, until the agent answers or about five seconds pass (it may be booting). */
static int device_info(const bridge_port_t *p, link_master_t *m, device_info_t *di)
{
    for (int i = 0; i < 50; i++) {
        if (lm_request(m, LINK_INFO, NULL, 0) == LM_OK && m->status.extra_len >= 10) {
            const uint8_t *x = m->status.extra;
            di->app.major = x[3];
            di->app.minor = x[4];
            di->app.patch = x[5];
            di->app.build = 0;
            di->running = (layout_bank_t)x[6];
            return 0;
        }
        p->sleep_ms(p->ctx, 100);
    }
    return -1;
}

/* target: the version this attempt installed or tried to ("" when it did not get that far): the
 * server counts a rollout's results by it. */
static void report(const bridge_port_t *p, const bridge_config_t *cfg, const device_info_t *di, const char *state,
                   const char *target, const char *why)
{
    char vs[32] = "", path[128];
    if (di != NULL) {
        img_version_format(&di->app, vs, sizeof(vs));
    }
    cJSON *o = cJSON_CreateObject();
    char bank[2] = {di ? layout_bank_letter(di->running) : '?', 0};
    if (o == NULL || !cJSON_AddStringToObject(o, "version", vs) || !cJSON_AddStringToObject(o, "bank", bank) ||
        !cJSON_AddStringToObject(o, "state", state) || !cJSON_AddStringToObject(o, "error", why) ||
        !cJSON_AddStringToObject(o, "target", target)) {
        cJSON_Delete(o);
        return;
    }
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (json == NULL) {
        return;
    }
    snprintf(path, sizeof(path), "/api/v1/devices/%s/report", cfg->device_id);
    if (p->http_post_json(p->ctx, path, json) != 0) {
        logf_(p, "bridge: could not report to the server (it is kept for the next attempt's log only)");
    }
    cJSON_free(json);
}

/* Sends an image (BEGIN or BEGIN_ENC) or a patch (BEGIN_DELTA or BEGIN_DELTA_ENC), resuming
 * when the device answers that it is not where the transfer was (it reset, or a flash operation
 * failed: not a refusal): INFO again, and the same BEGIN resumes where the device stands (a patch
 * from its start, the agent keeping what is in flash). */
static lm_err_t send_resuming(const bridge_port_t *p, link_master_t *m, device_info_t *di, layout_bank_t target,
                              const lm_begin_t *begin, uint32_t size, lm_read_fn read, void *rctx,
                              uint32_t *from)
{
    lm_err_t e = LM_ERR_STATE;
    for (int again = 0; e == LM_ERR_STATE && again <= BRIDGE_RESUMES; again++) {
        if (again > 0) {
            logf_(p, "bridge: device answered %s at offset %u: re-reading INFO and resuming",
                  link_result_name((link_result_t)m->status.result), (unsigned)m->status.next_offset);
            if (device_info(p, m, di) != 0 || layout_other_bank(di->running) != target) {
                break;
            }
        }
        e = lm_send(m, begin, size, read, rctx, p->progress, p->ctx, from);
    }
    return e;
}

/* A patch the server offers for the device's running image: downloaded whole into the stream's
 * window (a patch larger than BRIDGE_WINDOW is not worth it: the image is used), checked to make
 * the image the server announced, then sent with BEGIN_DELTA (resumed, like an image, when the
 * device resets on the way). 0 sent and verified by the device; 1 not usable or refused (the
 * caller sends the image); -1 the device stopped answering. */
static int send_patch(const bridge_port_t *p, link_master_t *m, device_info_t *di, stream_t *s, const cJSON *patch,
                      const uint8_t sha[32], uint32_t image_size, const char *version, layout_bank_t target, char *why,
                      size_t cap)
{
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(patch, "url");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(patch, "size");
    if (!cJSON_IsString(url) || !cJSON_IsNumber(size) || size->valuedouble < DELTA_HDR_SIZE ||
        size->valuedouble > BRIDGE_WINDOW) {
        logf_(p, "bridge: the server's patch is unusable here (larger than %u bytes or malformed): the whole image",
              (unsigned)BRIDGE_WINDOW);
        return 1;
    }
    size_t got = 0;
    long status = 0;
    uint32_t n = (uint32_t)size->valuedouble;
    delta_info_t info;
    lm_begin_t begin;
    if (p->http_get(p->ctx, url->valuestring, 0, NULL, s->win, BRIDGE_WINDOW, &got, &status, NULL, 0) != 0 ||
        status != 200 || got != n) {
        logf_(p, "bridge: download of the patch %s failed (HTTP %ld, %u of %u bytes): the whole image",
              url->valuestring, status, (unsigned)got, (unsigned)n);
        return 1;
    }
    /* It must make the release's image: the same SHA-256. A patch of an encrypted release names the
     * plaintext's, which the bridge cannot know (it holds ciphertext): there, size, version and bank
     * (the server checked its header against the image's at publication; the device checks it all). */
    img_header_t th;
    img_version_t want;
    int enc = 0, makes_it = lm_begin_delta_encode(&begin, s->win, n, &info) == 0 && info.target_size == image_size &&
                            img_header_decode(info.target_header, &th) == IMG_OK && th.bank == (uint8_t)target;
    if (makes_it) {
        enc = (info.flags & DELTA_FLAG_ENCRYPTED) != 0;
        makes_it = enc ? img_version_parse(version, &want) == 0 && img_version_cmp(&want, &th.version) == 0
                       : memcmp(info.target_sha256, sha, 32) == 0;
    }
    if (!makes_it) {
        logf_(p, "bridge: the patch %s does not make the release's image: the whole image", url->valuestring);
        return 1;
    }
    logf_(p, "bridge: sending a patch of %u bytes for the %u-byte image%s", (unsigned)n, (unsigned)image_size,
          enc ? " (encrypted for the device)" : "");
    uint32_t from = 0;
    lm_err_t e = send_resuming(p, m, di, target, &begin, n, lm_read_memory, s->win, &from);
    if (e == LM_OK) {
        logf_(p, "bridge: patch applied to bank %c and verified by the device", layout_bank_letter(target));
        return 0;
    }
    if (e == LM_ERR_REFUSED) {
        logf_(p, "bridge: the device refused the patch: %s (detail %u): the whole image",
              link_result_name((link_result_t)m->status.result), (unsigned)m->status.detail);
        return 1;
    }
    snprintf(why, cap, "%s while sending the patch", lm_strerror(e));
    return -1;
}

static bridge_result_t attempt(const bridge_port_t *p, link_master_t *m, device_info_t *di, int *have_di, int first,
                               char *tried, size_t tcap, char *why, size_t cap)
{
    /* (2) what we installed last, (3) what the server has. */
    char installed_s[32] = "0.0.0";
    img_version_t installed, offered;
    if (p->kv_get(p->ctx, "version", installed_s, sizeof(installed_s)) != 0 ||
        img_version_parse(installed_s, &installed) != 0) {
        strcpy(installed_s, "0.0.0");
        (void)img_version_parse(installed_s, &installed);
    }
    uint8_t buf[256];
    size_t got = 0;
    long status = 0;
    if (p->http_get(p->ctx, "/version", 0, NULL, buf, sizeof(buf) - 1, &got, &status, NULL, 0) != 0 || status != 200) {
        snprintf(why, cap, "server unreachable or /version failed (HTTP %ld)", status);
        return BRIDGE_ERR_SERVER;
    }
    buf[got] = '\0';
    for (size_t i = got; i > 0 && (buf[i - 1] == '\n' || buf[i - 1] == '\r' || buf[i - 1] == ' '); i--) {
        buf[i - 1] = '\0';
    }
    if (img_version_parse((const char *)buf, &offered) != 0) {
        snprintf(why, cap, "server /version answered '%.40s', not X.Y.Z", (const char *)buf);
        return BRIDGE_ERR_SERVER;
    }
    if (img_version_cmp(&offered, &installed) <= 0) {
        snprintf(why, cap, "installed %s, server offers %s: nothing to do", installed_s, (const char *)buf);
        return BRIDGE_UP_TO_DATE;
    }
    logf_(p, "bridge: server offers %s, installed %s: updating", (const char *)buf, installed_s);

    /* (4) reset the STM32 (the seed's flow, on the first attempt) and ask which bank it runs. A
     * retry does not reset a device that answers: it would cost a resume its progress. */
    if ((first && p->reset_pulse(p->ctx) != 0) || device_info(p, m, di) != 0) {
        if (first || p->reset_pulse(p->ctx) != 0 || device_info(p, m, di) != 0) {
            snprintf(why, cap, "the device does not answer on SPI");
            return BRIDGE_ERR_DEVICE;
        }
    }
    *have_di = 1;
    char app_s[32];
    img_version_format(&di->app, app_s, sizeof(app_s));
    layout_bank_t target = layout_other_bank(di->running);
    logf_(p, "bridge: device runs %s from bank %c; asking for the bank %c image", app_s,
          layout_bank_letter(di->running), layout_bank_letter(target));
    /* The SHA-256 the running image is signed over names the patch the server may hold for it
     * (docs/delta.md); a device whose agent does not know IMAGE_ID gets whole images. */
    char base_hex[65] = "";
    if (lm_request(m, LINK_IMAGE_ID, NULL, 0) == LM_OK && m->status.extra_len == 32) {
        for (int i = 0; i < 32; i++) {
            snprintf(base_hex + 2 * i, 3, "%02x", m->status.extra[i]);
        }
    }
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/release?bank=%c&current=%s%s%s", target == LAYOUT_BANK_A ? 'a' : 'b', app_s,
             base_hex[0] ? "&base=" : "", base_hex);
    char body[1024];
    if (p->http_get(p->ctx, path, 0, NULL, (uint8_t *)body, sizeof(body) - 1, &got, &status, NULL, 0) != 0 ||
        status != 200) {
        snprintf(why, cap, "release API failed (HTTP %ld)", status);
        return BRIDGE_ERR_SERVER;
    }
    body[got] = '\0';
    cJSON *o = cJSON_Parse(body);
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(o, "size");
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(o, "sha256");
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(o, "url");
    const cJSON *upd = cJSON_GetObjectItemCaseSensitive(o, "update");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(o, "version");
    stream_t *s = NULL;
    uint8_t sha_bin[32];
    bridge_result_t r = BRIDGE_ERR_SERVER;
    if (!cJSON_IsNumber(size) || size->valuedouble < IMG_HEADER_SIZE || size->valuedouble > LAYOUT_BANK_SIZE ||
        !cJSON_IsString(url) || strlen(url->valuestring) >= sizeof(s->path) || !cJSON_IsString(ver) ||
        !cJSON_IsBool(upd) || !cJSON_IsString(sha) || unhex(sha->valuestring, sha_bin, 32) != 0) {
        snprintf(why, cap, "release API answer is malformed");
        goto out;
    }
    snprintf(tried, tcap, "%s", ver->valuestring);
    if (!cJSON_IsTrue(upd)) {
        snprintf(why, cap, "device already runs %s", app_s);
        (void)p->kv_set(p->ctx, "version", app_s);
        r = BRIDGE_UP_TO_DATE;
        goto out;
    }
    static stream_t stream; /* BRIDGE_WINDOW bytes: static, not on a small task stack */
    s = &stream;
    memset(s, 0, sizeof(*s));
    s->p = p;
    const cJSON *patch = cJSON_GetObjectItemCaseSensitive(o, "patch");
    if (cJSON_IsObject(patch)) {
        int pr = send_patch(p, m, di, s, patch, sha_bin, (uint32_t)size->valuedouble, ver->valuestring, target, why,
                            cap);
        if (pr == 0) {
            goto sent;
        }
        if (pr < 0) {
            r = BRIDGE_ERR_DEVICE; /* the device stopped answering: the next attempt resumes */
            goto out;
        }
        memset(s, 0, sizeof(*s)); /* refused or unusable: the whole image, as if there were no patch */
        s->p = p;
    }
    snprintf(s->path, sizeof(s->path), "%s", url->valuestring);
    snprintf(s->etag, sizeof(s->etag), "\"%s\"", sha->valuestring);
    s->size = (uint32_t)size->valuedouble;
    /* The header (and an encrypted image's trailer: the hash it is signed over, its key record). */
    lm_begin_t begin;
    int br = lm_begin_image(&begin, s->size, sha_bin, (uint8_t)target, stream_read, s);
    if (br != 0) {
        snprintf(why, cap, br == -1 ? "download of %s failed" : "%s is encrypted and its key record is malformed",
                 s->path);
        goto out;
    }
    if (begin.type == LINK_BEGIN_ENC) {
        logf_(p, "bridge: %s is encrypted for the device: it decrypts while receiving", ver->valuestring);
    }
    /* (5-8) the agent erases, receives, programs and verifies; the transfer resumes where the
     * device stands. */
    uint32_t from = 0;
    lm_err_t e = send_resuming(p, m, di, target, &begin, s->size, stream_read, s, &from);
    if (e != LM_OK) {
        if (e == LM_ERR_REFUSED) {
            snprintf(why, cap, "device refused %s: %s (detail %u)", ver->valuestring,
                     link_result_name((link_result_t)m->status.result), (unsigned)m->status.detail);
            r = BRIDGE_ERR_REFUSED;
        } else {
            snprintf(why, cap, "%s after %u bytes",
                     s->changed  ? "the release changed on the server during the download"
                     : s->failed ? "download failed"
                                 : lm_strerror(e),
                     (unsigned)m->status.next_offset);
            r = s->failed ? BRIDGE_ERR_SERVER : BRIDGE_ERR_DEVICE; /* not final: the next attempt resumes */
        }
        goto out;
    }
    logf_(p, "bridge: %s sent to bank %c (from offset %u) and verified by the device", ver->valuestring,
          layout_bank_letter(target), (unsigned)from);
sent:
    /* (9) stage and reset; (10) the bootloader starts it on trial and it confirms itself. */
    if (lm_commit(m, (uint8_t)target) != LM_OK) {
        snprintf(why, cap, "commit failed");
        r = BRIDGE_ERR_DEVICE;
        goto out;
    }
    /* The device resets and boots the new image (on trial): its time must pass, which the link
     * port's wait gives on a simulator as on the wire. */
    m->port.wait_us(m->port.ctx, 200000u);
    if (device_info(p, m, di) != 0 || di->running != target) {
        snprintf(why, cap, "device did not come back running bank %c", layout_bank_letter(target));
        r = BRIDGE_ERR_NOT_RUNNING;
        goto out;
    }
    img_version_format(&di->app, app_s, sizeof(app_s));
    (void)p->kv_set(p->ctx, "version", ver->valuestring);
    snprintf(why, cap, "device runs %s from bank %c", app_s, layout_bank_letter(target));
    r = BRIDGE_UPDATED;
out:
    cJSON_Delete(o);
    return r;
}

bridge_result_t bridge_run_once(const bridge_port_t *p, const bridge_config_t *cfg, char *why, size_t why_cap)
{
    link_master_t m;
    lm_init(&m, &p->spi);
    uint32_t delay = cfg->backoff_ms;
    bridge_result_t r = BRIDGE_ERR_SERVER;
    for (uint32_t n = 1; n <= cfg->max_attempts; n++) {
        device_info_t di;
        int have_di = 0;
        memset(&di, 0, sizeof(di));
        char target[32] = "";
        r = attempt(p, &m, &di, &have_di, n == 1, target, sizeof(target), why, why_cap);
        logf_(p, "bridge: attempt %u: %s: %s", (unsigned)n, bridge_result_name(r), why);
        report(p, cfg, have_di ? &di : NULL, bridge_result_name(r), target,
               r == BRIDGE_UPDATED || r == BRIDGE_UP_TO_DATE ? "" : why);
        if (r == BRIDGE_UPDATED || r == BRIDGE_UP_TO_DATE || r == BRIDGE_ERR_REFUSED || n == cfg->max_attempts) {
            break;
        }
        uint32_t jitter = delay / 2 ? p->random(p->ctx) % (delay / 2 + 1) : 0;
        logf_(p, "bridge: retrying in %u ms", (unsigned)(delay + jitter));
        p->sleep_ms(p->ctx, delay + jitter);
        delay = delay * 2 > cfg->backoff_max_ms ? cfg->backoff_max_ms : delay * 2;
    }
    return r;
}

int bridge_url_is_absolute(const char *path)
{
    return strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0;
}

int bridge_get_is_ranged(const char *path, uint64_t from)
{
    return from != 0 || strncmp(path, "/firmware/", 10) == 0 || bridge_url_is_absolute(path);
}

int bridge_progress_milestone(uint32_t done, uint32_t total)
{
    return done == total || done % 65536 < LINK_MAX_DATA;
}

const char *bridge_result_name(bridge_result_t r)
{
    switch (r) {
    case BRIDGE_UP_TO_DATE:
        return "up-to-date";
    case BRIDGE_UPDATED:
        return "updated";
    case BRIDGE_ERR_SERVER:
        return "server-error";
    case BRIDGE_ERR_DEVICE:
        return "device-error";
    case BRIDGE_ERR_REFUSED:
        return "refused";
    case BRIDGE_ERR_NOT_RUNNING:
        return "not-running";
    }
    return "?";
}
