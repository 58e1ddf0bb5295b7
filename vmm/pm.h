/* The ACPI PM1a register blocks (ACPI 6.x 4.8.3.1, 4.8.3.2) in port I/O,
 * which the FADT points at:
 *   base + 0: PM1a_STS (16 bits, write 1 to clear)
 *   base + 2: PM1a_EN  (16 bits)
 *   base + 4: PM1a_CNT (16 bits)
 * What kick needs from them is the way out: the OS writes SLP_TYP = \_S5's
 * value together with SLP_EN, and pm asks its owner to power off.
 *
 * The FADT has SMI_CMD = 0 (no ACPI mode switch), so SCI_EN reads as 1 for
 * good. Nothing here ever raises a status bit (no PM timer, no fixed power
 * or sleep button, no wake from sleep), so the SCI line is never asserted
 * and pm has no interrupt to drive.
 *
 * Callbacks come from vCPU threads, possibly several at once: the registers
 * are under a mutex, and the power-off callback runs without it held. */
#ifndef KICK_PM_H
#define KICK_PM_H

#include <pthread.h>
#include <stdint.h>

#include "vmm/iobus.h"

#define PM1_EVT_BLK_LEN 4
#define PM1_CNT_BLK_OFF 4
#define PM1_CNT_BLK_LEN 2

#define PM1_STS_WAK          0x8000 /* the only status the OS clears on S5 */
#define PM1_CNT_SCI_EN       0x0001
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_TYP_MASK 0x1c00
#define PM1_CNT_SLP_EN       0x2000

typedef void pm_power_off_fn(void *opaque);

struct pm {
    pthread_mutex_t lock;
    uint16_t sts, en, cnt;
    unsigned s5_slp_typ;
    pm_power_off_fn *power_off;
    void *opaque;
    uint64_t sleep_requests;   /* SLP_EN writes, whatever their SLP_TYP */
};

/* Claims [base, base + 6) on pio (one range: the event block, then the
 * control block).
 * s5_slp_typ is \_S5's first element. 0 or -errno (ports taken). */
int pm_init(struct pm *pm, struct iobus *pio, uint16_t base, unsigned s5_slp_typ,
            pm_power_off_fn *power_off, void *opaque);
void pm_destroy(struct pm *pm);

#endif
