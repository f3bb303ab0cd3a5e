/* A measuring instrument for make bench-server, not a server: it answers every request on every
 * connection to 127.0.0.1:PORT with the same 200 response carrying FILE, sent one of three ways,
 * so that wrk shows what each way of putting a response on a socket costs on this machine:
 *   writev    header and body in one writev from memory (the body copied into the socket):
 *             what libmicrohttpd does with fota-server's in-memory images (TLS aside)
 *   hdr-push  the header sent and pushed alone, then the body with sendfile (no copy):
 *             what libmicrohttpd does with a descriptor response
 *   hdr-more  the header sent with MSG_MORE (held until the body follows), then sendfile:
 *             what nginx does with sendfile and tcp_nopush, and fota-server's front (front.c)
 * It reads no more of a request than where it ends (an empty line); whatever the request says,
 * the answer is the same. Epoll, edge-triggered, THREADS threads (default 2).
 * Usage: send_pattern writev|hdr-push|hdr-more PORT FILE [THREADS] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

enum pattern { P_WRITEV, P_HDR_PUSH, P_HDR_MORE };

static enum pattern pattern;
static int listen_fd, file_fd;
static char *body;
static size_t body_len;
static char header[256];
static size_t header_len;

typedef struct {
    int fd;
    unsigned pending; /* requests read and not yet answered */
    unsigned eol;     /* how much of "\r\n\r\n" the bytes read so far end with */
    size_t sent;      /* of the response being sent: header_len + body_len in all */
    int sending;
} conn_t;

/* Counts the requests that end in buf (at an empty line), across reads. */
static void count_requests(conn_t *c, const char *buf, size_t n)
{
    static const char end[] = "\r\n\r\n";
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == end[c->eol]) {
            if (++c->eol == 4) {
                c->pending++;
                c->eol = 0;
            }
        } else {
            c->eol = buf[i] == '\r' ? 1 : 0;
        }
    }
}

/* Sends what it can of the current response; 1 when it is all sent, 0 on EAGAIN, -1 on error. */
static int send_some(conn_t *c)
{
    size_t total = header_len + body_len;
    while (c->sent < total) {
        ssize_t w;
        if (c->sent < header_len && pattern == P_WRITEV) {
            struct iovec iov[2] = {{header + c->sent, header_len - c->sent}, {body, body_len}};
            w = writev(c->fd, iov, 2);
        } else if (c->sent < header_len) {
            w = send(c->fd, header + c->sent, header_len - c->sent,
                     MSG_NOSIGNAL | (pattern == P_HDR_MORE ? MSG_MORE : 0));
        } else if (pattern == P_WRITEV) {
            w = send(c->fd, body + (c->sent - header_len), total - c->sent, MSG_NOSIGNAL);
        } else {
            off_t off = (off_t)(c->sent - header_len);
            w = sendfile(c->fd, file_fd, &off, total - c->sent);
        }
        if (w < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        c->sent += (size_t)w;
    }
    return 1;
}

/* Reads and answers until the socket would block; -1 when the connection is over. */
static int serve(conn_t *c)
{
    for (;;) {
        if (c->sending) {
            int r = send_some(c);
            if (r <= 0) {
                return r;
            }
            c->sending = 0;
            c->pending--;
        }
        if (c->pending > 0) {
            c->sending = 1;
            c->sent = 0;
            continue;
        }
        char buf[4096];
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            return -1;
        }
        if (n < 0) {
            return 0;
        }
        count_requests(c, buf, (size_t)n);
    }
}

static void *worker(void *arg)
{
    (void)arg;
    int ep = epoll_create1(0);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &lev) != 0) {
        perror("send_pattern: epoll");
        exit(1);
    }
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno != EINTR) {
            perror("send_pattern: epoll_wait");
            exit(1);
        }
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    c = calloc(1, sizeof(*c));
                    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
                    if (c == NULL || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
                        close(fd);
                        free(c);
                        continue;
                    }
                    c->fd = fd;
                }
                continue;
            }
            if (serve(c) < 0) {
                close(c->fd); /* also leaves the epoll set */
                free(c);
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *names[] = {"writev", "hdr-push", "hdr-more"};
    int p = -1;
    for (int i = 0; argc >= 4 && i < 3; i++) {
        if (strcmp(argv[1], names[i]) == 0) {
            p = i;
        }
    }
    int port = argc >= 4 ? atoi(argv[2]) : 0;
    int threads = argc >= 5 ? atoi(argv[4]) : 2;
    if (p < 0 || port <= 0 || port > 65535 || threads < 1 || threads > 64 || argc > 5) {
        fprintf(stderr, "usage: send_pattern writev|hdr-push|hdr-more PORT FILE [THREADS]\n");
        return 2;
    }
    pattern = (enum pattern)p;
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl); /* more connections if allowed; fewer is not an error */
    }
    struct stat st;
    file_fd = open(argv[3], O_RDONLY);
    if (file_fd < 0 || fstat(file_fd, &st) != 0 || st.st_size <= 0) {
        fprintf(stderr, "send_pattern: cannot read %s\n", argv[3]);
        return 1;
    }
    body_len = (size_t)st.st_size;
    body = malloc(body_len);
    if (body == NULL || pread(file_fd, body, body_len, 0) != (ssize_t)body_len) {
        fprintf(stderr, "send_pattern: cannot read %s\n", argv[3]);
        return 1;
    }
    header_len = (size_t)snprintf(header, sizeof(header),
                                  "HTTP/1.1 200 OK\r\nServer: send_pattern\r\nContent-Length: %zu\r\n"
                                  "Content-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\n\r\n",
                                  body_len);
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(listen_fd, 4096) != 0) {
        fprintf(stderr, "send_pattern: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    pthread_t t[64];
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&t[i], NULL, worker, NULL) != 0) {
            fprintf(stderr, "send_pattern: cannot start a thread\n");
            return 1;
        }
    }
    pthread_join(t[0], NULL); /* runs until killed */
    return 0;
}
