/* libFuzzer harness: the server's byte parsers: S3 listings, Range headers, device ids. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    free(s);
    return 0;
}
