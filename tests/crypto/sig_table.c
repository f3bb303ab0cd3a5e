/* Reading and writing signature tables (sig_table.h) on the host. */
#include "sig_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sig_table_add(sig_table_t *t, const sig_record_t *rec)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        sig_record_t *p = realloc(t->rec, cap * sizeof(*p));
        if (p == NULL) {
            return -1;
        }
        t->rec = p;
        t->cap = cap;
    }
    t->rec[t->count] = *rec;
    memset(t->rec[t->count].pad, 0xFF, sizeof(rec->pad));
    t->count++;
    return 0;
}

int sig_table_write(const char *path, const sig_table_t *t)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    sig_table_header_t h = {.magic = SIG_TABLE_MAGIC, .count = (uint32_t)t->count,
                            .reserved = {0xFFFFFFFFu, 0xFFFFFFFFu}};
    int ok = fwrite(&h, sizeof(h), 1, f) == 1 && (t->count == 0 || fwrite(t->rec, sizeof(*t->rec), t->count, f) == t->count);
    if (fclose(f) != 0 || !ok) {
        fprintf(stderr, "%s: write failed\n", path);
        return -1;
    }
    return 0;
}

int sig_table_read(const char *path, sig_table_t *t)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    sig_table_header_t h;
    int rc = -1;
    if (fread(&h, sizeof(h), 1, f) != 1 || h.magic != SIG_TABLE_MAGIC || h.count > 100000) {
        fprintf(stderr, "%s: not a signature table\n", path);
        goto out;
    }
    for (uint32_t i = 0; i < h.count; i++) {
        sig_record_t r;
        if (fread(&r, sizeof(r), 1, f) != 1) {
            fprintf(stderr, "%s: truncated at record %u of %u\n", path, i, h.count);
            goto out;
        }
        if (sig_table_add(t, &r) != 0) {
            fprintf(stderr, "%s: out of memory\n", path);
            goto out;
        }
    }
    rc = 0;
out:
    fclose(f);
    return rc;
}

void sig_table_free(sig_table_t *t)
{
    free(t->rec);
    memset(t, 0, sizeof(*t));
}
