/* Host crypto port: Debian's libmbedcrypto allocates with the C library; nothing to prepare. */
#include "fota/crypto.h"

void crypto_port_init(void)
{
}
