/* Simulator socket framing: see fota/simsock.h. */
#include "fota/simsock.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "fota/le.h"

static int fill_addr(struct sockaddr_un *a, const char *path)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(a->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(a->sun_path, path);
    return 0;
}

int simsock_connect(const char *path)
{
    struct sockaddr_un a;
    if (fill_addr(&a, path) != 0) {
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    /* A device that stopped answering (a paused or hung simulator) fails the transaction after
     * this long instead of holding the master for ever. */
    struct timeval tv = {SIMSOCK_CLIENT_TIMEOUT_S, 0};
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int simsock_listen(const char *path)
{
    struct sockaddr_un a;
    if (fill_addr(&a, path) != 0) {
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* 0 ok, 1 end of stream before any byte, -1 error or a cut message */
static int read_all(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r == 0) {
            return got == 0 ? 1 : -1;
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

int simsock_send(int fd, uint8_t kind, const void *data, uint32_t len)
{
    uint8_t hdr[5];
    hdr[0] = kind;
    le_put32(hdr + 1, len);
    if (write_all(fd, hdr, sizeof(hdr)) != 0) {
        return -1;
    }
    return len ? write_all(fd, data, len) : 0;
}

int simsock_recv(int fd, uint8_t *kind, void *buf, uint32_t cap, uint32_t *len)
{
    uint8_t hdr[5];
    int r = read_all(fd, hdr, sizeof(hdr));
    if (r != 0) {
        return r;
    }
    uint32_t n = le_get32(hdr + 1);
    if (n > cap) {
        errno = EMSGSIZE;
        return -1;
    }
    if (n > 0 && read_all(fd, buf, n) != 0) {
        return -1;
    }
    *kind = hdr[0];
    *len = n;
    return 0;
}

int simsock_transact(void *ctx, const uint8_t *tx, uint8_t *rx, uint32_t len)
{
    int fd = *(int *)ctx;
    uint8_t kind;
    uint32_t n;
    if (simsock_send(fd, 'T', tx, len) != 0 || simsock_recv(fd, &kind, rx, len, &n) != 0 || kind != 'T' ||
        n != len) {
        return -1;
    }
    return 0;
}

void simsock_wait_us(void *ctx, uint32_t us)
{
    int fd = *(int *)ctx;
    uint8_t p[8], kind;
    uint32_t n;
    le_put32(p, us);
    if (simsock_send(fd, 'W', p, 4) == 0) {
        (void)simsock_recv(fd, &kind, p, sizeof(p), &n);
    }
}

int simsock_transact_timed(void *ctx, const uint8_t *tx, uint8_t *rx, uint32_t len)
{
    const simsock_timed_t *t = ctx;
    uint8_t msg[SIMSOCK_MAX], kind;
    uint32_t n;
    if (len > sizeof(msg) - SIMSOCK_X_HDR) {
        return -1;
    }
    le_put32(msg, t->gap_ns);
    le_put32(msg + 4, t->sck_hz);
    memcpy(msg + SIMSOCK_X_HDR, tx, len);
    if (simsock_send(t->fd, 'X', msg, len + SIMSOCK_X_HDR) != 0 || simsock_recv(t->fd, &kind, rx, len, &n) != 0 ||
        kind != 'T' || n != len) {
        return -1;
    }
    return 0;
}

void simsock_wait_us_timed(void *ctx, uint32_t us)
{
    simsock_timed_t *t = ctx;
    simsock_wait_us(&t->fd, us);
}
