/* Independent watchdog, from RM0090 §19.3-19.4:
 * - KR 0xCCCC starts it (and the LSI, §19.3.2); 0xAAAA reloads the counter from RLR; 0x5555
 *   unlocks PR and RLR; any other key locks them again.
 * - The 12-bit counter counts down at LSI / (4 << PR) (PR 6 and 7: /256); at 0 the system resets
 *   with IWDGRSTF. The LSI runs at whatever the seed drew in DS8626's 17-47 kHz.
 * - A new PR or RLR value reaches the LSI domain after up to 5 LSI periods: SR.PVU/RVU are set
 *   meanwhile, and the counter keeps the old setting until then.
 * - Software watchdog option (WDG_SW = 1, as shipped): a reset stops it. */
#include "iwdg.h"

#include <stdlib.h>

struct iwdg {
    emu_t *emu;
    rcc_t *rcc;
    int running, unlocked;
    uint32_t pr, rlr; /* as the counter uses them */
    uint32_t pr_new, rlr_new;
    uint64_t pr_at, rlr_at; /* when the pending values land (EMU_NEVER: none) */
    uint64_t expire;        /* device time the counter reaches 0 */
    uint64_t reloaded;      /* when the counter was last loaded, and its value then */
    uint32_t count_at_load;
};

static uint64_t tick_ns(const iwdg_t *w)
{
    uint32_t div = w->pr >= 6 ? 256u : 4u << w->pr;
    return (uint64_t)div * 1000000000ull / rcc_lsi_hz(w->rcc);
}

static uint32_t counter(const iwdg_t *w, uint64_t now)
{
    if (!w->running) {
        return w->rlr;
    }
    uint64_t ticks = (now - w->reloaded) / tick_ns(w);
    return ticks >= w->count_at_load ? 0 : w->count_at_load - (uint32_t)ticks;
}

static void load(iwdg_t *w, uint64_t now, uint32_t value)
{
    w->reloaded = now;
    w->count_at_load = value;
    w->expire = now + (uint64_t)value * tick_ns(w);
}

static void iw_advance(void *self, uint64_t now)
{
    iwdg_t *w = self;
    if (now >= w->pr_at) {
        uint32_t c = counter(w, w->pr_at);
        w->pr = w->pr_new;
        w->pr_at = EMU_NEVER;
        if (w->running) {
            load(w, now, c);
        }
    }
    if (now >= w->rlr_at) {
        w->rlr = w->rlr_new;
        w->rlr_at = EMU_NEVER;
    }
    if (w->running && now >= w->expire) {
        emu_log(w->emu, "iwdg: counter reached 0: system reset (IWDGRSTF)");
        w->running = 0;
        emu_request_reset(w->emu, EMU_RESET_IWDG);
    }
}

static uint64_t iw_next_event(void *self)
{
    const iwdg_t *w = self;
    uint64_t t = w->running ? w->expire : EMU_NEVER;
    t = w->pr_at < t ? w->pr_at : t;
    return w->rlr_at < t ? w->rlr_at : t;
}

static void iw_reset(void *self, emu_reset_kind_t kind)
{
    iwdg_t *w = self;
    (void)kind;
    w->running = 0;
    w->unlocked = 0;
    w->pr = w->pr_new = 0;
    w->rlr = w->rlr_new = 0xFFFu;
    w->pr_at = w->rlr_at = EMU_NEVER;
}

static uint32_t iw_read(void *self, uint32_t off, unsigned size)
{
    iwdg_t *w = self;
    (void)size;
    switch (off) {
    case 0x04:
        return w->pr_new;
    case 0x08:
        return w->rlr_new;
    case 0x0C:
        return (w->pr_at != EMU_NEVER ? 1u : 0) | (w->rlr_at != EMU_NEVER ? 2u : 0);
    default:
        return 0;
    }
}

static void iw_write(void *self, uint32_t off, uint32_t v, unsigned size)
{
    iwdg_t *w = self;
    uint64_t now = emu_time(w->emu), lsi5 = 5ull * 1000000000ull / rcc_lsi_hz(w->rcc);
    (void)size;
    switch (off) {
    case 0x00:
        v &= 0xFFFFu;
        if (v == 0xCCCCu && !w->running) {
            rcc_lsi_force_on(w->rcc);
            w->running = 1;
            load(w, now, w->rlr);
        } else if (v == 0xAAAAu && w->running) {
            load(w, now, w->rlr);
        }
        w->unlocked = v == 0x5555u;
        break;
    case 0x04:
        if (w->unlocked) {
            w->pr_new = v & 7u;
            w->pr_at = now + lsi5;
        }
        break;
    case 0x08:
        if (w->unlocked) {
            w->rlr_new = v & 0xFFFu;
            w->rlr_at = now + lsi5;
        }
        break;
    default:
        break;
    }
    emu_kick(w->emu);
}

iwdg_t *iwdg_new(emu_t *emu, rcc_t *rcc)
{
    iwdg_t *w = calloc(1, sizeof(*w));
    if (w != NULL) {
        w->emu = emu;
        w->rcc = rcc;
        iw_reset(w, EMU_RESET_POWER);
    }
    return w;
}

void iwdg_free(iwdg_t *w)
{
    free(w);
}

emu_periph_t iwdg_periph(iwdg_t *w)
{
    emu_periph_t p = {"IWDG", 0x40003000u, 0x400u, iw_read, iw_write, iw_advance, iw_next_event, iw_reset, w, NULL, 0};
    return p;
}
