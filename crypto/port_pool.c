/* Device crypto port: mbedTLS allocates only from this one static pool (the only heap on the device). */
#include "fota/config.h"
#include "fota/crypto.h"

#include <mbedtls/memory_buffer_alloc.h>

static unsigned char crypto_pool[FOTA_CRYPTO_POOL_SIZE] __attribute__((aligned(8)));

void crypto_port_init(void)
{
    mbedtls_memory_buffer_alloc_init(crypto_pool, sizeof(crypto_pool));
}

/* A corrupted pool is a firmware bug: stop here. With the watchdog running this ends in a reset,
 * and the bootloader's trial logic takes over. */
void crypto_port_panic(int code)
{
    (void)code;
    for (;;) {
    }
}
