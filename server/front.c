/* fota-server's plain-HTTP front: see fota/front.h. */
#include "fota/front.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <time.h>
#include <unistd.h>

#include "fota/metrics.h"
#include "fota/srvlog.h"

#define PEEK_MAX 8192 /* a request whose header is longer goes to libmicrohttpd */
#define TICK_MS 250   /* timeouts and a paused accept are looked at this often */

typedef struct conn {
    int fd;
    struct conn *prev, *next; /* the thread's connections, least recently active first */
    time_t active;            /* monotonic seconds of the last byte in or out */
    size_t peeked;            /* bytes of the next request seen so far (progress, for the timeout) */
    int more;                 /* bytes may be waiting unseen: an EPOLLIN came, or the last peek saw
                               * more than the request it took (else a new one brings an EPOLLIN) */
    int sending, close_after;
    char head[512];
    size_t head_len, head_sent;
    int body_fd;
    off_t body_off;
    uint64_t body_left;
    struct sockaddr_storage addr;
    socklen_t addrlen;
} conn_t;

typedef struct {
    struct front *f;
    pthread_t tid;
    int ep, started;
    int listening; /* the listening socket is in ep */
    conn_t *first, *last;
} worker_t;

struct front {
    front_config_t cfg;
    int wake_fd; /* an eventfd, written once to stop the threads */
    int stop;
    unsigned nworkers;
    worker_t *w;
};

static time_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static void unlink_conn(worker_t *w, conn_t *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        w->first = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    } else {
        w->last = c->prev;
    }
    c->prev = c->next = NULL;
}

/* Progress: the connection goes to the end of the list, its idle time starts again. */
static void touch(worker_t *w, conn_t *c)
{
    if (w->last != c) {
        if (c->prev != NULL || w->first == c) {
            unlink_conn(w, c);
        }
        c->prev = w->last;
        if (w->last != NULL) {
            w->last->next = c;
        } else {
            w->first = c;
        }
        w->last = c;
    }
    c->active = now_s();
}

static void drop(worker_t *w, conn_t *c)
{
    unlink_conn(w, c);
    close(c->fd); /* also leaves the epoll set */
    if (c->body_fd >= 0) {
        close(c->body_fd);
    }
    free(c);
    metrics_connection(0);
}

/* The connection, with its next request unread, to libmicrohttpd. */
static void hand_off(worker_t *w, conn_t *c)
{
    (void)epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    unlink_conn(w, c);
    int fd = c->fd;
    struct sockaddr_storage addr = c->addr;
    socklen_t len = c->addrlen;
    free(c);
    metrics_connection(0); /* counted again by libmicrohttpd's own notice */
    if (MHD_add_connection(w->f->cfg.daemon, fd, (const struct sockaddr *)&addr, len) != MHD_YES) {
        /* libmicrohttpd closed it: its share of the connection limit is full */
        srvlog(SRVLOG_WARN, "fota-server: a connection could not be handed over (%s): closed", strerror(errno));
    }
}

static void listen_on(worker_t *w, int on)
{
    if (on == w->listening) {
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
    if (epoll_ctl(w->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, w->f->cfg.listen_fd, &ev) == 0) {
        w->listening = on;
    }
}

static void accept_some(worker_t *w)
{
    front_t *f = w->f;
    for (;;) {
        if (metrics_open_connections() >= f->cfg.max_conns) {
            listen_on(w, 0); /* taken up again by the tick, when a connection has closed */
            return;
        }
        struct sockaddr_storage addr;
        socklen_t len = sizeof(addr);
        int fd = accept4(f->cfg.listen_fd, (struct sockaddr *)&addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                srvlog(SRVLOG_WARN, "fota-server: accept: %s", strerror(errno));
                listen_on(w, 0); /* out of descriptors or memory: try again at the next tick */
            }
            return;
        }
        conn_t *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->body_fd = -1;
        c->addr = addr;
        c->addrlen = len;
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* the last segment not held */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) { /* reports a request already there */
            close(fd);
            free(c);
            continue;
        }
        metrics_connection(1);
        touch(w, c);
    }
}

/* Sends what it can of the response: 1 when it is all sent, 0 when the socket is full, -1 when
 * the connection is lost (or the file ended early). */
static int send_some(worker_t *w, conn_t *c)
{
    int progress = 0, r = 1;
    while (r == 1 && c->head_sent < c->head_len) {
        ssize_t n = send(c->fd, c->head + c->head_sent, c->head_len - c->head_sent,
                         MSG_NOSIGNAL | (c->body_left > 0 ? MSG_MORE : 0)); /* held for the body */
        if (n < 0) {
            r = errno == EINTR ? 1 : errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
            continue;
        }
        c->head_sent += (size_t)n;
        progress = 1;
    }
    while (r == 1 && c->body_left > 0) {
        size_t chunk = c->body_left > (1u << 30) ? (1u << 30) : (size_t)c->body_left;
        ssize_t n = sendfile(c->fd, c->body_fd, &c->body_off, chunk);
        if (n <= 0) {
            r = n == 0 ? -1 : errno == EINTR ? 1 : errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
            continue;
        }
        c->body_left -= (uint64_t)n;
        progress = 1;
    }
    if (progress && r >= 0) {
        touch(w, c);
    }
    return r;
}

static void http_date(char *out, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The next request: 1 when its answer is set up, 0 while it is incomplete, -1 when the connection
 * is over, 2 when it went to libmicrohttpd (c is gone). */
static int take_request(worker_t *w, conn_t *c)
{
    char buf[PEEK_MAX + 1];
    ssize_t n = recv(c->fd, buf, PEEK_MAX, MSG_PEEK);
    if (n <= 0) {
        c->more = n < 0 && errno == EINTR;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    }
    if ((size_t)n > c->peeked) {
        c->peeked = (size_t)n;
        touch(w, c);
    }
    char *end = memmem(buf, (size_t)n, "\r\n\r\n", 4);
    if (end == NULL && n < PEEK_MAX) {
        c->more = 0; /* all of it seen: the rest comes with an EPOLLIN */
        return 0;
    }
    size_t len = end != NULL ? (size_t)(end - buf) + 4 : 0;
    front_request_t rq;
    front_reply_t rep;
    int close_after = 0;
    memset(&rep, 0, sizeof(rep));
    rep.fd = -1;
    if (end == NULL || !front_parse(buf, len, &rq, &close_after) || !w->f->cfg.answer(w->f->cfg.cls, &rq, &rep)) {
        hand_off(w, c);
        return 2;
    }
    char date[40];
    http_date(date, sizeof(date));
    int hl = snprintf(c->head, sizeof(c->head), "HTTP/1.1 %u %s\r\nDate: %s\r\n%s%sContent-Length: %llu\r\n\r\n",
                      rep.status, rep.status == 206 ? "Partial Content" : "OK", date,
                      close_after ? "Connection: close\r\n" : "", rep.headers, (unsigned long long)rep.length);
    metrics_response(rep.status, rep.length);
    srvlog(SRVLOG_INFO, "GET %s -> %u (%llu bytes, sendfile)", rq.path, rep.status, (unsigned long long)rep.length);
    /* The request itself, read at last into the buffer that peeked at it (rq is not used again). */
    if (hl < 0 || (size_t)hl >= sizeof(c->head) || recv(c->fd, buf, len, 0) != (ssize_t)len) {
        close(rep.fd); /* cannot happen: the head fits, the request is in the socket */
        return -1;
    }
    c->peeked = 0;
    c->more = (size_t)n > len || n == PEEK_MAX; /* another request behind this one (pipelined) */
    c->head_len = (size_t)hl;
    c->head_sent = 0;
    c->body_fd = rep.fd;
    c->body_off = (off_t)rep.offset;
    c->body_left = rep.length;
    c->close_after = close_after;
    c->sending = 1;
    return 1;
}

static void on_ready(worker_t *w, conn_t *c, uint32_t events)
{
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        c->more = 1;
    }
    for (;;) {
        if (c->sending) {
            int r = send_some(w, c);
            if (r <= 0) {
                if (r < 0) {
                    drop(w, c);
                }
                return;
            }
            close(c->body_fd);
            c->body_fd = -1;
            c->sending = 0;
            if (c->close_after) {
                (void)shutdown(c->fd, SHUT_WR);
                drop(w, c);
                return;
            }
        }
        if (!c->more) {
            return; /* nothing new since the last look: saves a recv per request */
        }
        int r = take_request(w, c); /* the next one may be in the socket already (pipelined) */
        if (r < 0) {
            drop(w, c);
        }
        if (r != 1) {
            return;
        }
    }
}

static void tick(worker_t *w)
{
    front_t *f = w->f;
    time_t now = now_s();
    while (w->first != NULL && now - w->first->active >= (time_t)f->cfg.idle_timeout_s) {
        drop(w, w->first);
    }
    if (!w->listening && metrics_open_connections() < f->cfg.max_conns) {
        listen_on(w, 1);
    }
}

static void *run(void *arg)
{
    worker_t *w = arg;
    front_t *f = w->f;
    struct epoll_event evs[128];
    time_t last = 0;
    while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
        int n = epoll_wait(w->ep, evs, 128, TICK_MS);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                accept_some(w);
            } else if (evs[i].data.ptr != (void *)f) { /* f: the stop signal */
                on_ready(w, evs[i].data.ptr, evs[i].events);
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        time_t ms = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (ms - last >= TICK_MS) {
            last = ms;
            tick(w);
        }
    }
    return NULL;
}

int front_listen(const struct sockaddr_storage *addr)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    int one = 1;
    socklen_t len = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (addr->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
        bind(fd, (const struct sockaddr *)addr, len) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

front_t *front_start(const front_config_t *cfg)
{
    front_t *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        close(cfg->listen_fd);
        return NULL;
    }
    f->cfg = *cfg;
    f->nworkers = cfg->threads > 0 ? cfg->threads : 1;
    f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    f->w = calloc(f->nworkers, sizeof(*f->w));
    if (f->wake_fd < 0 || f->w == NULL) {
        front_stop(f);
        return NULL;
    }
    for (unsigned i = 0; i < f->nworkers; i++) {
        worker_t *w = &f->w[i];
        w->f = f;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = f};
        if (w->ep < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, f->wake_fd, &ev) != 0) {
            front_stop(f);
            return NULL;
        }
        listen_on(w, 1);
        if (!w->listening || pthread_create(&w->tid, NULL, run, w) != 0) {
            front_stop(f);
            return NULL;
        }
        w->started = 1;
    }
    return f;
}

void front_stop(front_t *f)
{
    if (f == NULL) {
        return;
    }
    __atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    if (f->wake_fd >= 0 && write(f->wake_fd, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
        /* the threads still see stop within a tick */
    }
    for (unsigned i = 0; f->w != NULL && i < f->nworkers; i++) {
        worker_t *w = &f->w[i];
        if (w->started) {
            pthread_join(w->tid, NULL);
        }
        while (w->first != NULL) {
            drop(w, w->first);
        }
        if (w->ep > 0) {
            close(w->ep);
        }
    }
    free(f->w);
    if (f->wake_fd >= 0) {
        close(f->wake_fd);
    }
    close(f->cfg.listen_fd);
    free(f);
}
