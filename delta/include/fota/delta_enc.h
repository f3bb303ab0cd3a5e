/* The patch encoder (host only): docs/delta.md. The decoder the device runs is fota/delta.h. */
#ifndef FOTA_DELTA_ENC_H
#define FOTA_DELTA_ENC_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t pairs;       /* copy + literal pairs in the body */
    uint32_t map_entries; /* relocation breakpoints */
    uint32_t copied;      /* target bytes predicted from the base */
    uint32_t literal;     /* target bytes sent as they are */
    uint32_t residuals;   /* copied bytes the prediction got wrong */
} delta_enc_stats_t;

/* Builds the patch that turns base (stored at flash address base_addr) into target (to be stored
 * at target_addr). base_id names the base in the patch: for a signed image, the SHA-256 it is
 * signed over (its IMG_TLV_SHA256 record; fota_image_signed_hash), which the device reads from its
 * running image without hashing it again. On success returns 0 and a malloc'd patch the caller
 * frees; on failure -1 with the reason in err. stats may be NULL. */
int delta_encode(const uint8_t *base, uint32_t base_size, uint32_t base_addr, const uint8_t base_id[32],
                 const uint8_t *target, uint32_t target_size, uint32_t target_addr, uint8_t **patch, size_t *patch_size,
                 delta_enc_stats_t *stats, char *err, size_t errlen);

/* A base image in memory, read through delta_read_buffer (the decoder's read callback on the host). */
typedef struct {
    const uint8_t *data;
    size_t len;
} delta_buffer_t;

int delta_read_buffer(void *ctx, uint32_t offset, uint8_t *buf, uint32_t len);

#endif
