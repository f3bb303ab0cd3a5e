/* The front's request parser (fota/front.h): no I/O, unit-tested and fuzzed. */
#include "fota/front.h"

#include <string.h>
#include <strings.h>

#define PATH_MAX_LEN 200

static int is_name(const char *s, const char *name)
{
    return strcasecmp(s, name) == 0;
}

int front_parse(char *buf, size_t len, front_request_t *rq, int *close_after)
{
    memset(rq, 0, sizeof(*rq));
    *close_after = 0;
    if (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) { /* CRLF line ends only, no control characters but HTAB */
        unsigned char ch = (unsigned char)buf[i];
        if (ch == '\r' ? i + 1 >= len || buf[i + 1] != '\n'
            : ch == '\n' ? i == 0 || buf[i - 1] != '\r'
                         : (ch < 0x20 && ch != '\t') || ch >= 0x7F) {
            return 0;
        }
    }
    buf[len] = '\0';
    char *eol = strstr(buf, "\r\n");
    if (strncmp(buf, "GET /", 5) != 0 || eol == NULL || eol - buf < 14 || memcmp(eol - 9, " HTTP/1.1", 9) != 0) {
        return 0;
    }
    char *path = buf + 4;
    eol[-9] = '\0';
    if (strlen(path) > PATH_MAX_LEN || strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/") !=
                                           strlen(path) || strstr(path, "..") != NULL) {
        return 0;
    }
    rq->path = path;
    int host = 0, conn = 0;
    char *end = buf + len - 2; /* the empty line */
    for (char *line = eol + 2; line < end;) {
        char *le = strstr(line, "\r\n");
        *le = '\0';
        size_t nl = strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-");
        if (nl == 0 || line[nl] != ':') {
            return 0; /* not a plain name and a colon: folded lines, a space before the colon, ... */
        }
        line[nl] = '\0';
        char *v = line + nl + 1;
        v += strspn(v, " \t");
        for (char *t = v + strlen(v); t > v && (t[-1] == ' ' || t[-1] == '\t'); t--) {
            t[-1] = '\0';
        }
        const char **slot = is_name(line, "X-Device-Id")     ? &rq->device_id
                            : is_name(line, "Authorization") ? &rq->authorization
                            : is_name(line, "Range")         ? &rq->range
                            : is_name(line, "If-Range")      ? &rq->if_range
                            : is_name(line, "If-None-Match") ? &rq->if_none_match
                                                             : NULL;
        if (slot != NULL) {
            if (*slot != NULL) {
                return 0;
            }
            *slot = v;
        } else if (is_name(line, "Host")) {
            host++;
        } else if (is_name(line, "Connection")) {
            if (conn++ > 0 || (!is_name(v, "close") && !is_name(v, "keep-alive"))) {
                return 0;
            }
            *close_after = is_name(v, "close");
        } else if (!is_name(line, "User-Agent") && !is_name(line, "Accept") && !is_name(line, "Accept-Encoding")) {
            return 0;
        }
        line = le + 2;
    }
    return host == 1;
}
