/* Independent watchdog (RM0090 §19). */
#ifndef FOTA_EMU_IWDG_H
#define FOTA_EMU_IWDG_H

#include "emu_internal.h"
#include "rcc.h"

typedef struct iwdg iwdg_t;
iwdg_t *iwdg_new(emu_t *emu, rcc_t *rcc);
void iwdg_free(iwdg_t *w);
emu_periph_t iwdg_periph(iwdg_t *w);

#endif
