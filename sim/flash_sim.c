/* Simulated STM32F407 flash: NOR rules, datasheet timing, torn operations at power cuts.
 * A program of n words is n operations, each word its own cut point, as the hardware programs
 * one word at a time. */
#include "fota/flash_sim.h"

#include <string.h>

void flash_sim_init(flash_sim_t *sim, uint8_t *mem)
{
    memset(sim, 0, sizeof(*sim));
    sim->mem = mem;
    sim->cut_at = UINT64_MAX;
    sim->rng = 1;
}

void flash_sim_cut_after(flash_sim_t *sim, uint64_t k, int tear, uint32_t seed, jmp_buf *on_cut)
{
    sim->cut_at = sim->ops + k;
    sim->tear = tear;
    sim->rng = seed ? seed : 1;
    sim->on_cut = on_cut;
}

void flash_sim_disarm(flash_sim_t *sim)
{
    sim->cut_at = UINT64_MAX;
}

static uint32_t next_rand(flash_sim_t *sim)
{
    uint32_t x = sim->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return sim->rng = x;
}

/* Called at the start of each operation: returns 1 when power is cut now. */
static int cut_now(flash_sim_t *sim)
{
    return sim->ops++ == sim->cut_at;
}

static void power_cut(flash_sim_t *sim)
{
    sim->cut_at = UINT64_MAX;
    longjmp(*sim->on_cut, 1);
}

static flash_err_t sim_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    flash_sim_t *sim = ctx;
    if (addr < LAYOUT_FLASH_BASE || addr - LAYOUT_FLASH_BASE > LAYOUT_FLASH_SIZE ||
        len > LAYOUT_FLASH_SIZE - (addr - LAYOUT_FLASH_BASE)) {
        return FLASH_ERR_RANGE;
    }
    memcpy(buf, sim->mem + (addr - LAYOUT_FLASH_BASE), len);
    return FLASH_OK;
}

static flash_err_t sim_erase(void *ctx, int sector)
{
    flash_sim_t *sim = ctx;
    if (sector < 0 || sector >= LAYOUT_SECTOR_COUNT) {
        return FLASH_ERR_RANGE;
    }
    uint8_t *p = sim->mem + (layout_sectors[sector].base - LAYOUT_FLASH_BASE);
    uint32_t size = layout_sectors[sector].size;
    if (cut_now(sim)) {
        if (sim->tear) {
            /* A cut erase: a random part of the sector erased, the rest as it was, with a few
             * bytes in between half erased (erasing sets bits). */
            uint32_t from = next_rand(sim) % size, n = next_rand(sim) % (size - from + 1);
            memset(p + from, 0xFF, n);
            for (int i = 0; i < 8; i++) {
                p[next_rand(sim) % size] |= (uint8_t)next_rand(sim);
            }
        }
        power_cut(sim);
    }
    memset(p, 0xFF, size);
    uint32_t us = size == 0x4000 ? SIM_ERASE_16K_US : size == 0x10000 ? SIM_ERASE_64K_US : SIM_ERASE_128K_US;
    sim->time_us += us;
    sim->erase_us += us;
    sim->erases[sector]++;
    return FLASH_OK;
}

/* One word: the cut (torn or not) happens before it, as on the device. */
static void program_word(flash_sim_t *sim, uint8_t *p, const uint8_t *d)
{
    if (cut_now(sim)) {
        if (sim->tear) {
            /* A cut program: some of the word's bits cleared, not necessarily all. */
            for (int b = 0; b < 4; b++) {
                p[b] = (uint8_t)(p[b] & (d[b] | (uint8_t)next_rand(sim)));
            }
        }
        power_cut(sim);
    }
    for (int b = 0; b < 4; b++) {
        p[b] &= d[b];
    }
    sim->time_us += SIM_PROGRAM_WORD_US;
    sim->program_us += SIM_PROGRAM_WORD_US;
}

/* The contract of every port: the whole range is checked blank first, and a program over a word
 * that is not erased changes nothing (NOR: one program per erased word). */
static flash_err_t program_blank(flash_sim_t *sim, uint8_t *p, const uint8_t *d, uint32_t len)
{
    for (uint32_t w = 0; w < len; w += 4) {
        if (memcmp(p + w, "\xFF\xFF\xFF\xFF", 4) != 0) {
            return FLASH_ERR_NOT_ERASED;
        }
    }
    for (uint32_t w = 0; w < len; w += 4) {
        program_word(sim, p + w, d + w);
    }
    return FLASH_OK;
}

static flash_err_t sim_program(void *ctx, uint32_t addr, const void *data, uint32_t len)
{
    flash_sim_t *sim = ctx;
    if ((addr & 3u) != 0 || (len & 3u) != 0) {
        return FLASH_ERR_ALIGN;
    }
    if (addr < LAYOUT_FLASH_BASE || addr - LAYOUT_FLASH_BASE > LAYOUT_FLASH_SIZE ||
        len > LAYOUT_FLASH_SIZE - (addr - LAYOUT_FLASH_BASE)) {
        return FLASH_ERR_RANGE;
    }
    return program_blank(sim, sim->mem + (addr - LAYOUT_FLASH_BASE), data, len);
}

static flash_err_t sim_finish_word(void *ctx, uint32_t addr, uint32_t word)
{
    flash_sim_t *sim = ctx;
    if ((addr & 3u) != 0) {
        return FLASH_ERR_ALIGN;
    }
    if (addr < LAYOUT_FLASH_BASE || addr - LAYOUT_FLASH_BASE > LAYOUT_FLASH_SIZE - 4u) {
        return FLASH_ERR_RANGE;
    }
    uint8_t *p = sim->mem + (addr - LAYOUT_FLASH_BASE);
    uint32_t cur;
    memcpy(&cur, p, 4);
    if (cur == word) {
        return FLASH_OK;
    }
    if ((~cur & word) != 0) {
        return FLASH_ERR_NOT_ERASED; /* a 0 where word has a 1: not a torn copy of it */
    }
    uint8_t d[4];
    memcpy(d, &word, 4);
    program_word(sim, p, d);
    return FLASH_OK;
}

flash_port_t flash_sim_port(flash_sim_t *sim)
{
    flash_port_t port = {sim_read, sim_erase, sim_program, sim, sim_finish_word};
    return port;
}

/* The OTP area: the same NOR rules, never erased, blocks locked by their lock byte. */
static int otp_span(const flash_sim_t *sim, uint32_t addr, uint32_t len)
{
    return sim->otp != NULL && addr >= LAYOUT_OTP_BASE && addr - LAYOUT_OTP_BASE <= FLASH_SIM_OTP_BYTES &&
           len <= FLASH_SIM_OTP_BYTES - (addr - LAYOUT_OTP_BASE);
}

static flash_err_t otp_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    flash_sim_t *sim = ctx;
    if (!otp_span(sim, addr, len)) {
        return FLASH_ERR_RANGE;
    }
    memcpy(buf, sim->otp + (addr - LAYOUT_OTP_BASE), len);
    return FLASH_OK;
}

static flash_err_t otp_erase(void *ctx, int sector)
{
    (void)ctx;
    (void)sector;
    return FLASH_ERR_PROTECTED; /* OTP: "cannot be erased" (RM0090 §3.7) */
}

static flash_err_t otp_program(void *ctx, uint32_t addr, const void *data, uint32_t len)
{
    flash_sim_t *sim = ctx;
    if ((addr & 3u) != 0 || (len & 3u) != 0) {
        return FLASH_ERR_ALIGN;
    }
    if (!otp_span(sim, addr, len)) {
        return FLASH_ERR_RANGE;
    }
    uint32_t off = addr - LAYOUT_OTP_BASE;
    for (uint32_t o = off; o < off + len; o += 4) {
        if (o < LAYOUT_OTP_SIZE && sim->otp[LAYOUT_OTP_SIZE + o / 32u] == 0x00) {
            return FLASH_ERR_PROTECTED; /* the block's lock byte is programmed */
        }
    }
    return program_blank(sim, sim->otp + off, data, len);
}

flash_port_t flash_sim_otp_port(flash_sim_t *sim)
{
    flash_port_t port = {otp_read, otp_erase, otp_program, sim, NULL};
    return port;
}
