/* fota-server's plain-HTTP front: it owns the listening socket, answers image downloads itself with
 * the header and the file in one TCP push (header sent with MSG_MORE, body with sendfile, as nginx
 * does with tcp_nopush), and hands every other request to libmicrohttpd, which sends a file's
 * header alone and then its body (docs/PERFORMANCE.md, "What the gap at 1,000 connections is").
 *
 * The front only ever peeks at a request (MSG_PEEK) until it has decided: a request it does not
 * take whole, or cannot parse strictly, is left unread in the socket and the connection is handed
 * to libmicrohttpd (MHD_add_connection), which reads it as if it had accepted it; so every answer
 * other than a 200/206 with a body, and every error message, comes from the one HTTP server. What
 * it takes: "GET <path> HTTP/1.1", CRLF line ends, a Host header, and no header outside Host,
 * User-Agent, Accept, Accept-Encoding, Connection (keep-alive or close), X-Device-Id,
 * Authorization, Range, If-Range and If-None-Match (none of these twice); a path of A-Z a-z 0-9
 * . _ - / without "..". The answer function decides the rest.
 *
 * Epoll threads, each with its own connections, an idle timeout and the connection limit shared
 * with libmicrohttpd (the open-connection gauge of fota/metrics.h counts both); at the limit the
 * front stops accepting, as libmicrohttpd does. */
#ifndef FOTA_FRONT_H
#define FOTA_FRONT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct MHD_Daemon;

typedef struct {
    const char *path; /* the request target (a path, no query, nothing escaped) */
    const char *device_id, *authorization, *range, *if_range, *if_none_match; /* NULL when absent */
} front_request_t;

typedef struct {
    unsigned status;   /* 200 or 206 */
    int fd;            /* the body: length bytes of fd from offset; the front closes fd */
    uint64_t offset, length;
    char headers[320]; /* the other header lines, each ending in CRLF (the front adds Date,
                        * Connection: close when asked, Content-Length) */
} front_reply_t;

/* 1: answer with *reply (filled); 0: not this one, hand the connection to libmicrohttpd. Called
 * from the front's threads, at the same time from several. */
typedef int (*front_answer_fn)(void *cls, const front_request_t *rq, front_reply_t *reply);

typedef struct {
    int listen_fd; /* from front_listen */
    unsigned threads, max_conns, idle_timeout_s;
    struct MHD_Daemon *daemon; /* started with MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC */
    front_answer_fn answer;
    void *cls;
} front_config_t;

typedef struct front front_t;

/* Takes a request head apart in place: buf[0, len) ends in its empty line ("\r\n\r\n"), and buf
 * has room for one byte more (a NUL is written at buf[len]). 1 when the front can take the request
 * (*rq points into buf; *close_after when it asked for Connection: close), 0 when it goes to
 * libmicrohttpd. */
int front_parse(char *buf, size_t len, front_request_t *rq, int *close_after);

/* A non-blocking listening socket on addr (backlog 1024), or -1 with errno set. */
int front_listen(const struct sockaddr_storage *addr);
/* Starts the threads; NULL if they cannot start. The front owns cfg->listen_fd from here. */
front_t *front_start(const front_config_t *cfg);
/* Stops the threads and closes the front's connections and the listening socket. NULL: nothing. */
void front_stop(front_t *f);

#endif
