/* Holds many connections to a server, for the connection tests of fota-server: opens N TCP
 * connections to 127.0.0.1:PORT, sends on each the start of a request that never ends ("partial")
 * or nothing ("idle"), prints "open N", keeps them HOLD_MS milliseconds, then prints how many the
 * server closed meanwhile: "closed K of N". Raises its own descriptor limit to the hard limit. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int closed_by_peer(int fd)
{
    char b;
    ssize_t r = recv(fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
    if (r == 0) {
        return 1;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return 0;
    }
    return r < 0; /* reset */
}

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[3], "partial") != 0 && strcmp(argv[3], "idle") != 0)) {
        fprintf(stderr, "usage: conn_hold PORT N partial|idle HOLD_MS\n");
        return 2;
    }
    int port = atoi(argv[1]), n = atoi(argv[2]), hold = atoi(argv[4]);
    int partial = strcmp(argv[3], "partial") == 0;
    if (port <= 0 || port > 65535 || n <= 0 || hold < 0) {
        fprintf(stderr, "conn_hold: bad arguments\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    int *fds = calloc((size_t)n, sizeof(int));
    if (fds == NULL) {
        fprintf(stderr, "conn_hold: out of memory\n");
        return 3;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const char head[] = "GET /version HTTP/1.1\r\nHost: conn-hold\r\n";
    int opened = 0;
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            fprintf(stderr, "conn_hold: socket %d: %s\n", i, strerror(errno));
            break;
        }
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
            fprintf(stderr, "conn_hold: connect %d: %s\n", i, strerror(errno));
            close(fd);
            break;
        }
        if (partial && send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(head) - 1)) {
            fprintf(stderr, "conn_hold: send %d: %s\n", i, strerror(errno));
        }
        fds[opened++] = fd;
    }
    printf("open %d\n", opened);
    fflush(stdout);
    struct timespec t = {.tv_sec = hold / 1000, .tv_nsec = (long)(hold % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
    int closed = 0;
    for (int i = 0; i < opened; i++) {
        closed += closed_by_peer(fds[i]);
        close(fds[i]);
    }
    printf("closed %d of %d\n", closed, opened);
    free(fds);
    return opened == n ? 0 : 1;
}
