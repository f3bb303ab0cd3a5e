/* A minimal application, linked once for each bank: proves the application linker scripts and
 * gives `fota sign` real ELF files to sign. The example application (issue 3) replaces it. */
#include <stdint.h>

volatile uint32_t probe_counter = 1; /* in .data: exercises the copy from flash */

int main(void)
{
    for (;;) {
        probe_counter++;
    }
}
