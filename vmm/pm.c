/* ACPI PM1a event and control registers (see pm.h). */
#include "vmm/pm.h"

#include <stdbool.h>

/* Bits the OS may set (ACPI 6.x tables 4.14-4.17); the rest read as 0. */
#define STS_W1C  0xc731 /* TMR, BM, GBL, PWRBTN, SLPBTN, RTC, PCIEXP_WAKE, WAK */
#define EN_RW    0x4721 /* TMR, GBL, PWRBTN, SLPBTN, RTC, PCIEXP_WAKE_DIS */
#define CNT_RW   (0x0002 | PM1_CNT_SLP_TYP_MASK) /* BM_RLD, SLP_TYP */

/* The six bytes are three 16-bit registers back to back, so an access of any
 * width is handled byte by byte: per register, the bytes it touches (mask)
 * and the value bits for them. iobus only hands us accesses inside the
 * range. */
enum { REG_STS, REG_EN, REG_CNT, NREGS };
#define BLOCK_LEN (2 * NREGS)

static void split(uint64_t off, unsigned size, uint64_t value, uint16_t mask[NREGS],
                  uint16_t val[NREGS])
{
    for (unsigned r = 0; r < NREGS; r++)
        mask[r] = val[r] = 0;
    for (unsigned i = 0; i < size && i < 8 && off + i < BLOCK_LEN; i++) {
        unsigned byte = (unsigned)(off + i), shift = (byte % 2) * 8;
        mask[byte / 2] |= (uint16_t)(0xff << shift);
        val[byte / 2] |= (uint16_t)(((value >> (8 * i)) & 0xff) << shift);
    }
}

static uint64_t pm_read(void *opaque, uint64_t off, unsigned size)
{
    struct pm *pm = opaque;
    pthread_mutex_lock(&pm->lock);
    /* SMI_CMD is 0 in the FADT: ACPI mode is on for good */
    uint16_t regs[NREGS] = { pm->sts, pm->en, (uint16_t)(pm->cnt | PM1_CNT_SCI_EN) };
    pthread_mutex_unlock(&pm->lock);
    uint64_t v = 0;
    for (unsigned i = 0; i < size && i < 8 && off + i < BLOCK_LEN; i++) {
        unsigned byte = (unsigned)(off + i);
        v |= (uint64_t)((regs[byte / 2] >> ((byte % 2) * 8)) & 0xff) << (8 * i);
    }
    return v;
}

static void pm_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
    struct pm *pm = opaque;
    uint16_t mask[NREGS], val[NREGS];
    split(off, size, value, mask, val);
    bool power_off = false;
    pthread_mutex_lock(&pm->lock);
    pm->sts &= (uint16_t)~(val[REG_STS] & mask[REG_STS] & STS_W1C);
    pm->en = (uint16_t)((pm->en & ~(mask[REG_EN] & EN_RW)) | (val[REG_EN] & mask[REG_EN] & EN_RW));
    uint16_t m = mask[REG_CNT], v = val[REG_CNT];
    pm->cnt = (uint16_t)((pm->cnt & ~(m & CNT_RW)) | (v & m & CNT_RW));
    /* SLP_EN is write-only: it starts the transition to the state SLP_TYP
     * holds now (written with it or before), and reads back as 0. Only S5
     * exists here; any other type is ignored, as no _Sx offers it. */
    if (m & v & PM1_CNT_SLP_EN) {
        pm->sleep_requests++;
        unsigned typ = (pm->cnt & PM1_CNT_SLP_TYP_MASK) >> PM1_CNT_SLP_TYP_SHIFT;
        power_off = typ == pm->s5_slp_typ;
    }
    pthread_mutex_unlock(&pm->lock);
    if (power_off && pm->power_off)
        pm->power_off(pm->opaque);
}

int pm_init(struct pm *pm, struct iobus *pio, uint16_t base, unsigned s5_slp_typ,
            pm_power_off_fn *power_off, void *opaque)
{
    *pm = (struct pm){ .s5_slp_typ = s5_slp_typ & 7, .power_off = power_off, .opaque = opaque };
    int r = pthread_mutex_init(&pm->lock, NULL);
    if (r)
        return -r;
    if ((r = iobus_add(pio, base, BLOCK_LEN, pm_read, pm_write, pm, "acpi-pm1a")) < 0) {
        pthread_mutex_destroy(&pm->lock);
        return r;
    }
    return 0;
}

void pm_destroy(struct pm *pm)
{
    pthread_mutex_destroy(&pm->lock);
}
