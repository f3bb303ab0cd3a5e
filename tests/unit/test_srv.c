/* fota-server's request helpers: Range headers (RFC 9110 §14) and device ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "fota/front.h"
#include "fota/s3presign.h"
#include "fota/routes.h"
#include "fota/srv.h"

static void test_srv_range_forms(void **state)
{
    (void)state;
    uint64_t a = 0, b = 0;
    assert_int_equal(srv_parse_range(NULL, 1000, &a, &b), SRV_RANGE_NONE);
    assert_int_equal(srv_parse_range("bytes=0-99", 1000, &a, &b), SRV_RANGE_OK);
    assert_true(a == 0 && b == 99);
    assert_int_equal(srv_parse_range("bytes=900-", 1000, &a, &b), SRV_RANGE_OK);
    assert_true(a == 900 && b == 999);
    assert_int_equal(srv_parse_range("bytes=-100", 1000, &a, &b), SRV_RANGE_OK);
    assert_true(a == 900 && b == 999);
    assert_int_equal(srv_parse_range("bytes=-5000", 1000, &a, &b), SRV_RANGE_OK);
    assert_true(a == 0 && b == 999);
    assert_int_equal(srv_parse_range("bytes=500-5000", 1000, &a, &b), SRV_RANGE_OK);
    assert_true(a == 500 && b == 999);
    assert_int_equal(srv_parse_range("bytes=1000-", 1000, &a, &b), SRV_RANGE_UNSATISFIABLE);
    assert_int_equal(srv_parse_range("bytes=-0", 1000, &a, &b), SRV_RANGE_UNSATISFIABLE);
    assert_int_equal(srv_parse_range("bytes=0-1,5-6", 1000, &a, &b), SRV_RANGE_NONE);
    /* Positions past the end, however long, are clamped (RFC 9110 §14.1.2); a first position past
     * the end is unsatisfiable; another unit is ignored. */
    assert_int_equal(srv_parse_range("bytes=0-99999999999999999999", 1000, &a, &b), SRV_RANGE_OK);
    assert_true(a == 0 && b == 999);
    assert_int_equal(srv_parse_range("bytes=-99999999999999999999", 1000, &a, &b), SRV_RANGE_OK);
    assert_true(a == 0 && b == 999);
    assert_int_equal(srv_parse_range("bytes=99999999999999999999-", 1000, &a, &b), SRV_RANGE_UNSATISFIABLE);
    assert_int_equal(srv_parse_range("pages=0-1", 1000, &a, &b), SRV_RANGE_NONE);
    assert_int_equal(srv_parse_range("Bytes=0-1", 1000, &a, &b), SRV_RANGE_OK);
    const char *bad[] = {"bytes=", "bytes=-", "bytes=5-4", "bytes=a-b", "bytes=1-2x", "bytes= 1-2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (srv_parse_range(bad[i], 1000, &a, &b) != SRV_RANGE_MALFORMED) {
            fail_msg("'%s' was not refused as malformed", bad[i]);
        }
    }
}

static void test_srv_device_ids(void **state)
{
    (void)state;
    assert_true(srv_valid_device_id("dev-01.A_b"));
    assert_false(srv_valid_device_id(""));
    assert_false(srv_valid_device_id(".."));
    assert_false(srv_valid_device_id("a/b"));
    assert_false(srv_valid_device_id("a b"));
    assert_false(srv_valid_device_id("0123456789012345678901234567890123456789012345678901234567890123456789"));
}

static void test_srv_s3_listing(void **state)
{
    (void)state;
    const char *xml = "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"x\"><Name>fw</Name>"
                      "<Contents><Key>rel/slot_a.bin</Key><ETag>&quot;aa&quot;</ETag><Size>1</Size></Contents>"
                      "<Contents><Key>rel/version.txt</Key><ETag>&quot;bb&quot;</ETag></Contents>"
                      "</ListBucketResult>";
    srv_s3_object_t o[4];
    assert_int_equal(srv_s3_list_parse(xml, strlen(xml), o, 4), 2);
    assert_string_equal(o[0].key, "rel/slot_a.bin");
    assert_string_equal(o[0].etag, "\"aa\""); /* the entities S3 sends, decoded */
    assert_string_equal(o[1].key, "rel/version.txt");
    assert_int_equal(srv_s3_list_parse(xml, strlen(xml), o, 1), 2); /* counted, first one stored */
    const char *empty = "<ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>";
    assert_int_equal(srv_s3_list_parse(empty, strlen(empty), o, 4), 0);
    const char *amp = "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Contents>"
                      "<Key>r&amp;d/slot_a.bin</Key><ETag>&quot;cc&quot;</ETag></Contents>"
                      "<Contents><Key><![CDATA[x/y]]></Key>\n  <ETag>\"dd\"</ETag></Contents></ListBucketResult>";
    assert_int_equal(srv_s3_list_parse(amp, strlen(amp), o, 4), 2);
    assert_string_equal(o[0].key, "r&d/slot_a.bin");
    assert_string_equal(o[1].key, "x/y");
    assert_string_equal(o[1].etag, "\"dd\"");
    const char *bad[] = {"<Error><Code>AccessDenied</Code></Error>",
                         "<ListBucketResult><Contents><Key>a</Key><ETag>x</ETag></Contents>",
                         "<ListBucketResult><Contents><Key>a&bogus;</Key><ETag>x</ETag></Contents></ListBucketResult>",
                         "<ListBucketResult><Contents><Key>a</Key>",
                         "<ListBucketResult><Contents><ETag>x</ETag></Contents></ListBucketResult>",
                         "<ListBucketResult><Contents><Key>a</Key><ETag>x</Contents></ListBucketResult>"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(srv_s3_list_parse(bad[i], strlen(bad[i]), o, 4), -1);
    }
    char token[64];
    assert_int_equal(srv_s3_list_next(xml, strlen(xml), token, sizeof(token)), 0);
    const char *page = "<ListBucketResult><IsTruncated>true</IsTruncated>"
                       "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
                       "</ListBucketResult>";
    assert_int_equal(srv_s3_list_next(page, strlen(page), token, sizeof(token)), 1);
    assert_string_equal(token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    const char *notoken = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
    assert_int_equal(srv_s3_list_next(notoken, strlen(notoken), token, sizeof(token)), -1);
    /* Bounded by len, not by a terminator: a cut answer is malformed, not read past. */
    assert_int_equal(srv_s3_list_parse(xml, 120, o, 4), -1);
}

static void test_srv_listen(void **state)
{
    (void)state;
    struct sockaddr_storage a;
    char where[80];
    assert_int_equal(srv_parse_listen(NULL, 5000, &a, where, sizeof(where)), 0);
    assert_string_equal(where, "127.0.0.1:5000");
    assert_int_equal(a.ss_family, AF_INET);
    assert_int_equal(srv_parse_listen("0.0.0.0:80", 5000, &a, where, sizeof(where)), 0);
    assert_string_equal(where, "0.0.0.0:80");
    assert_int_equal(ntohs(((struct sockaddr_in *)&a)->sin_port), 80);
    assert_int_equal(srv_parse_listen("[::1]:8443", 5000, &a, where, sizeof(where)), 0);
    assert_int_equal(a.ss_family, AF_INET6);
    assert_string_equal(where, "[::1]:8443");
    static const char *const bad[] = {"", ":80", "1.2.3.4", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536",
                                      "1.2.3.4:08", "1.2.3.4:80x", "::1:80", "[::1]80", "[]:80",
                                      "host.example:80", "1.2.3.256:80", "[1.2.3.4]:80", "1.2.3.4:-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (srv_parse_listen(bad[i], 5000, &a, where, sizeof(where)) != -1) {
            fail_msg("'%s' accepted", bad[i]);
        }
    }
}

/* The front's request heads (fota/front.h): what it takes itself, and what it leaves to
 * libmicrohttpd. */
static int front_takes(const char *head, front_request_t *rq, int *close_after, char *buf, size_t cap)
{
    size_t n = strlen(head);
    assert_true(n + 1 <= cap);
    memcpy(buf, head, n + 1);
    return front_parse(buf, n, rq, close_after);
}

static void test_srv_front_parse(void **state)
{
    (void)state;
    char buf[1024];
    front_request_t rq;
    int close_after;
    assert_int_equal(front_takes("GET /firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\n\r\n", &rq, &close_after, buf,
                                 sizeof(buf)),
                     1);
    assert_string_equal(rq.path, "/firmware/slot_a.bin");
    assert_null(rq.range);
    assert_null(rq.device_id);
    assert_int_equal(close_after, 0);
    assert_int_equal(front_takes("GET /firmware/slot_b.bin HTTP/1.1\r\nhost: x\r\nx-device-id:  dev-1 \r\n"
                                 "Authorization: Bearer abc\r\nRANGE: bytes=0-99\r\nIf-Range: \"e\"\r\n"
                                 "If-None-Match: \"f\"\r\nUser-Agent: curl\r\nAccept: */*\r\n"
                                 "Accept-Encoding: gzip\r\nConnection: Close\r\n\r\n",
                                 &rq, &close_after, buf, sizeof(buf)),
                     1);
    assert_string_equal(rq.path, "/firmware/slot_b.bin");
    assert_string_equal(rq.device_id, "dev-1"); /* whitespace around a value is not part of it */
    assert_string_equal(rq.authorization, "Bearer abc");
    assert_string_equal(rq.range, "bytes=0-99");
    assert_string_equal(rq.if_range, "\"e\"");
    assert_string_equal(rq.if_none_match, "\"f\"");
    assert_int_equal(close_after, 1);
    static const char *const left[] = {
        "HEAD /firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\n\r\n",        /* only GET */
        "get /firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\n\r\n",         /* methods are case-sensitive */
        "GET /firmware/slot_a.bin HTTP/1.0\r\nHost: x\r\n\r\n",         /* only HTTP/1.1 */
        "GET /firmware/slot_a.bin HTTP/1.1\r\n\r\n",                      /* no Host */
        "GET /firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", /* two */
        "GET /firmware/slot_a.bin?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",     /* a query */
        "GET /firmware/slot%5Fa.bin HTTP/1.1\r\nHost: x\r\n\r\n",       /* an escape */
        "GET /firmware/../slot_a.bin HTTP/1.1\r\nHost: x\r\n\r\n",      /* dot segments */
        "GET http://x/firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\n\r\n", /* absolute form */
        "GET /firmware/slot_a.bin  HTTP/1.1\r\nHost: x\r\n\r\n",        /* two spaces */
        "GET /firmware/slot_a.bin HTTP/1.1\nHost: x\r\n\r\n",            /* a bare LF */
        "GET /firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n Range: bytes=2-3\r\n\r\n", /* fold */
        "GET /firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\nRange : bytes=0-1\r\n\r\n", /* space before ':' */
        "GET /firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n",
        "GET /firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", /* a body */
        "GET /firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET /firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\r\n",
        "GET /firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\nConnection: close\r\n\r\n",
        "GET /firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\nX-Other: 1\r\n\r\n", /* a header it does not know */
        "GET /firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\nX-Device-Id: a\x01b\r\n\r\n", /* a control byte */
        "GET /firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\nUser-Agent: \xc3\xa9\r\n\r\n", /* not ASCII */
        "GET /firmware/slot_a.bin HTTP/1.1\r\nHost: x\r\n",                       /* not the end of a head */
    };
    for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
        if (front_takes(left[i], &rq, &close_after, buf, sizeof(buf)) != 0) {
            fail_msg("front took: %s", left[i]);
        }
    }
}

static void test_srv_utf8_unescape_methods(void **state)
{
    (void)state;
    assert_true(srv_valid_utf8("plain", 5));
    assert_true(srv_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
    static const char *const bad[] = {"\xff", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                                      "\xf4\x90\x80\x80", "\x80", "a\xe2\x82"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (srv_valid_utf8(bad[i], strlen(bad[i]))) {
            fail_msg("invalid UTF-8 #%zu accepted", i);
        }
    }
    char u1[] = "/version%00x", u2[] = "/firmware%2Fslot_a.bin", u3[] = "/a%zz%4", u4[] = "%41%62";
    assert_int_equal(srv_unescape(u1), 12);
    assert_string_equal(u1, "/version%00x");
    srv_unescape(u2);
    assert_string_equal(u2, "/firmware/slot_a.bin");
    srv_unescape(u3);
    assert_string_equal(u3, "/a%zz%4");
    srv_unescape(u4);
    assert_string_equal(u4, "Ab");
    /* One route table: the route a method and path take, or the Allow header of a resource asked
     * with another method. */
    route_t r;
    const char *allow = NULL;
    assert_int_equal(routes_find("HEAD", "/version", &r, &allow), ROUTES_FOUND);
    assert_int_equal(r.id, ROUTE_VERSION);
    assert_int_equal(routes_find("POST", "/version", &r, &allow), ROUTES_METHOD);
    assert_string_equal(allow, "GET, HEAD");
    assert_int_equal(routes_find("POST", "/api/v1/devices/d1/report", &r, &allow), ROUTES_FOUND);
    assert_int_equal(r.id, ROUTE_DEVICE_REPORT);
    assert_string_equal(r.arg, "d1");
    assert_int_equal(routes_find("GET", "/api/v1/devices/d1/report", &r, &allow), ROUTES_METHOD);
    assert_string_equal(allow, "POST");
    assert_int_equal(routes_find("DELETE", "/api/v1/devices/d1/reports", &r, &allow), ROUTES_METHOD);
    assert_string_equal(allow, "GET, HEAD");
    assert_int_equal(routes_find("GET", "/api/v1/releases/1.2.3/slot_b.bin", &r, &allow), ROUTES_METHOD);
    assert_string_equal(allow, "PUT");
    char patch[120];
    snprintf(patch, sizeof(patch), "/api/v1/releases/1.2.3/patches/%064d.patch", 0);
    assert_int_equal(routes_find("PUT", patch, &r, &allow), ROUTES_FOUND);
    assert_int_equal(r.id, ROUTE_RELEASE_UPLOAD);
    assert_string_equal(r.arg, "1.2.3");
    assert_int_equal(routes_find("GET", patch, &r, &allow), ROUTES_METHOD); /* was a 404 before the table */
    assert_string_equal(allow, "PUT");
    patch[40] = 'X';
    assert_int_equal(routes_find("PUT", patch, &r, &allow), ROUTES_NONE);
    assert_int_equal(routes_find("POST", "/api/v1/releases/1.2.3/activate", &r, &allow), ROUTES_FOUND);
    assert_int_equal(r.id, ROUTE_RELEASE_ACTIVATE);
    assert_int_equal(routes_find("PUT", "/api/v1/releases/1.2.3/publish", &r, &allow), ROUTES_METHOD);
    assert_string_equal(allow, "POST");
    assert_int_equal(routes_find("PUT", "/api/v1/devices", &r, &allow), ROUTES_METHOD);
    assert_string_equal(allow, "GET, HEAD, POST");
    assert_int_equal(routes_find("POST", "/api/v1/devices", &r, &allow), ROUTES_FOUND);
    assert_int_equal(r.id, ROUTE_DEVICE_ADD);
    assert_int_equal(routes_find("POST", "/api/v1/devices/d1/approve", &r, &allow), ROUTES_FOUND);
    assert_int_equal(r.id, ROUTE_DEVICE_APPROVE);
    assert_int_equal(routes_find("GET", "/api/v1/rollouts", &r, &allow), ROUTES_FOUND);
    assert_int_equal(r.id, ROUTE_ROLLOUTS);
    assert_int_equal(routes_find("POST", "/api/v1/rollouts/abc/halt", &r, &allow), ROUTES_FOUND);
    assert_int_equal(r.id, ROUTE_ROLLOUT_HALT);
    assert_string_equal(r.arg, "abc");
    assert_int_equal(routes_find("GET", "/api/v1/audit", &r, &allow), ROUTES_FOUND);
    assert_int_equal(routes_find("GET", "/ui/login", &r, &allow), ROUTES_FOUND);
    assert_int_equal(r.id, ROUTE_UI_LOGIN);
    char sha[100];
    snprintf(sha, sizeof(sha), "/api/v1/patches/%064d", 7);
    assert_int_equal(routes_find("GET", sha, &r, &allow), ROUTES_FOUND);
    assert_int_equal(r.id, ROUTE_PATCH);
    assert_int_equal(strlen(r.arg), 64);
    assert_int_equal(routes_find("GET", "/api/v1/patches/abc", &r, &allow), ROUTES_NONE);
    assert_int_equal(routes_find("POST", "/api/v1/rollouts/abc/nothing", &r, &allow), ROUTES_NONE);
    assert_int_equal(routes_find("GET", "/nothing", &r, &allow), ROUTES_NONE);
    assert_int_equal(routes_find("GET", "/version/", &r, &allow), ROUTES_NONE);
    assert_int_equal(routes_find("POST", "/api/v1/devices//report", &r, &allow), ROUTES_NONE);
    char longid[200] = "/api/v1/devices/";
    memset(longid + 16, 'a', 100);
    strcpy(longid + 116, "/report");
    assert_int_equal(routes_find("POST", longid, &r, &allow), ROUTES_NONE); /* longer than an id can be */
    /* Patch names: the publishing API's uploads and the S3 sync's keys. */
    char name[80];
    memset(name, 'a', 64);
    strcpy(name + 64, ".patch");
    assert_true(srv_is_patch_name(name));
    name[10] = 'A'; /* uppercase hex is not a name the server makes or serves */
    assert_false(srv_is_patch_name(name));
    name[10] = 'a';
    strcpy(name + 64, ".patc");
    assert_false(srv_is_patch_name(name));
    strcpy(name + 63, ".patch");
    assert_false(srv_is_patch_name(name));
    assert_false(srv_is_patch_name("../../etc/passwd.patch"));
}

/* Presigned URLs against AWS's reference implementation: the example of AWS's "Authenticating
 * Requests: Using Query Parameters" page (its published signature), and a path-style URL with a
 * port, a session token and a key needing escapes, signed by botocore 1.43 (S3SigV4QueryAuth) at
 * the same instant. */
static void test_srv_presign(void **state)
{
    (void)state;
    char url[2048];
    /* Object paths as S3 encodes its canonical URI. */
    assert_int_equal(s3_uri_encode("odd name+1/slot_a.bin?x~", url, sizeof(url)), 0);
    assert_string_equal(url, "odd%20name%2B1/slot_a.bin%3Fx~");
    char small[8];
    assert_int_equal(s3_uri_encode("a b c d", small, sizeof(small)), -1); /* 11 bytes encoded */
    s3_presign_cfg_t aws = {"https://examplebucket.s3.amazonaws.com", "us-east-1", "AKIAIOSFODNN7EXAMPLE",
                            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL};
    assert_int_equal(s3_presign_get(&aws, "/test.txt", 1369353600, 86400, url, sizeof(url)), 0);
    assert_string_equal(url, "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                             "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                             "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                             "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    /* The scheme's default port is not part of the signed Host. */
    s3_presign_cfg_t aws443 = aws;
    aws443.base = "https://examplebucket.s3.amazonaws.com:443/";
    char url2[2048];
    assert_int_equal(s3_presign_get(&aws443, "/test.txt", 1369353600, 86400, url2, sizeof(url2)), 0);
    assert_string_equal(url2, url);

    s3_presign_cfg_t local = {"http://127.0.0.1:4569", "eu-west-1", "S3RVER", "S3RVER/secret+x",
                              "FQoGZXIvYXdzE/tok+en=="};
    assert_int_equal(s3_presign_get(&local, "/fw/fota-objects/ab c+d~e.bin", 1795654923, 900, url, sizeof(url)), 0);
    assert_string_equal(url, "http://127.0.0.1:4569/fw/fota-objects/ab%20c%2Bd~e.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                             "&X-Amz-Credential=S3RVER%2F20261126%2Feu-west-1%2Fs3%2Faws4_request"
                             "&X-Amz-Date=20261126T010203Z&X-Amz-Expires=900"
                             "&X-Amz-Security-Token=FQoGZXIvYXdzE%2Ftok%2Ben%3D%3D&X-Amz-SignedHeaders=host"
                             "&X-Amz-Signature=fa93d7b5fe2c9228c6f0b759d79034302f3f2ba41d60700d62e39c6105d3189a");

    /* Refused: no scheme, expiry out of S3's range, a relative path, a buffer too small. */
    s3_presign_cfg_t bad = aws;
    bad.base = "examplebucket.s3.amazonaws.com";
    assert_int_equal(s3_presign_get(&bad, "/test.txt", 1369353600, 60, url, sizeof(url)), -1);
    assert_int_equal(s3_presign_get(&aws, "/test.txt", 1369353600, 0, url, sizeof(url)), -1);
    assert_int_equal(s3_presign_get(&aws, "/test.txt", 1369353600, 604801, url, sizeof(url)), -1);
    assert_int_equal(s3_presign_get(&aws, "test.txt", 1369353600, 60, url, sizeof(url)), -1);
    assert_int_equal(s3_presign_get(&aws, "/test.txt", 1369353600, 60, url, 100), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srv_range_forms),
        cmocka_unit_test(test_srv_device_ids),
        cmocka_unit_test(test_srv_s3_listing),
        cmocka_unit_test(test_srv_listen),
        cmocka_unit_test(test_srv_front_parse),
        cmocka_unit_test(test_srv_utf8_unescape_methods),
        cmocka_unit_test(test_srv_presign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
