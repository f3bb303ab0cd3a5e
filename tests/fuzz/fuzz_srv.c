/* libFuzzer harness: the server's byte parsers: S3 listings, Range headers, device ids, UTF-8,
 * URL unescaping, --listen addresses, the method table and the front's request heads. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fota/front.h"
#include "fota/routes.h"
#include "fota/srv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    srv_s3_object_t o[8];
    (void)srv_s3_list_parse((const char *)data, size, o, 8);
    char token[64];
    (void)srv_s3_list_next((const char *)data, size, token, sizeof(token));
    char *s = malloc(size + 1);
    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    uint64_t a, b;
    (void)srv_parse_range(s, 1000, &a, &b);
    (void)srv_valid_device_id(s);
    (void)srv_valid_utf8((const char *)data, size);
    struct sockaddr_storage addr;
    char where[80];
    (void)srv_parse_listen(s, 5000, &addr, where, sizeof(where));
    size_t n = srv_unescape(s);
    if (n > size || s[n] != '\0') {
        abort(); /* unescaping never grows the text and ends it */
    }
    route_t r;
    const char *allow = NULL;
    routes_match_t m = routes_find(size > 0 && data[0] & 1 ? "POST" : "GET", s, &r, &allow);
    if ((m == ROUTES_FOUND && strlen(r.arg) >= sizeof(r.arg)) || (m == ROUTES_METHOD && allow == NULL)) {
        abort();
    }
    /* A request head as the front sees it: the input with an empty line after it, so that some
     * reach the header loop; what it takes is a plain GET of a clean path. */
    char *head = malloc(size + 5);
    if (head == NULL) {
        free(s);
        return 0;
    }
    memcpy(head, data, size);
    memcpy(head + size, "\r\n\r\n", 4);
    front_request_t rq;
    int close_after;
    if (front_parse(head, size + 4, &rq, &close_after) == 1 &&
        (rq.path < head || rq.path >= head + size || rq.path[0] != '/' || strstr(rq.path, "..") != NULL ||
         strchr(rq.path, ' ') != NULL || strchr(rq.path, '%') != NULL || memcmp(head, "GET ", 4) != 0)) {
        abort();
    }
    free(head);
    free(s);
    return 0;
}
