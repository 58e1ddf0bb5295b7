/* PCI bus 0 of `kick run`: a host bridge at 00:00.0 reached through
 * configuration mechanism #1 (0xCF8 address, 0xCFC-0xCFF data), kick's
 * functions in slots 1, 2, ..., the firmware's BAR placement, and routing of
 * guest port I/O and MMIO to the function whose enabled BAR decodes it.
 *
 * Routing looks at each function's live BAR registers (pci_bar_addr /
 * pci_bar_enabled) on every access, so a BAR the guest moves or disables is
 * followed at once; there is no table to go stale.
 *
 * Locking: one mutex for the whole bus. Guest accesses (vCPU threads) take
 * it; so must any other thread that calls into a function or its device
 * (device threads: pci_host_lock/unlock). Function callbacks (bar_map, msi,
 * intx) run with it held. */
#ifndef KICK_PCI_HOST_H
#define KICK_PCI_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pci/pci.h"
#include "vmm/iobus.h"

#define PCI_HOST_CFG_ADDR_PORT 0xCF8
#define PCI_HOST_CFG_DATA_PORT 0xCFC
#define PCI_HOST_SLOTS         32
#define PCI_HOST_IO_BASE       0xC000ull
#define PCI_HOST_IO_END        0x10000ull
#define PCI_HOST_MEM32_BASE    0xC0000000ull /* the PCI hole; no RAM from here */
#define PCI_HOST_MEM32_END     0xFEC00000ull /* IOAPIC, LAPIC and BIOS above */
#define PCI_HOST_MEM64_ALIGN   (1ull << 30)

/* IOAPIC pin of slot's INTx pin (1 = INTA# .. 4 = INTD#): pins 16-23, swizzled
 * so neighbouring slots do not share. The MP table says the same. */
static inline unsigned pci_host_intx_gsi(unsigned slot, unsigned pin)
{
    return 16 + (slot + pin - 1) % 8;
}

struct pci_host {
    pthread_mutex_t lock;
    uint32_t cfg_addr;          /* last value written to 0xCF8 */
    struct pci_func bridge;
    struct pci_func *slot[PCI_HOST_SLOTS]; /* [0] is the bridge */
    unsigned nslots;            /* slots in use, bridge included */
    uint64_t mem64_base;        /* where 64-bit BARs go: above all RAM */
    uint64_t bar_exits[PCI_HOST_SLOTS]; /* BAR accesses routed, per slot */
    bool ready;
};

/* Sets up the bridge and claims 0xCF8-0xCFF on pio; BAR accesses come in as
 * pio/mmio fallbacks. ram_end: end of the highest RAM (64-bit BARs go above).
 * 0 or -errno. */
int pci_host_init(struct pci_host *h, struct iobus *pio, struct iobus *mmio, uint64_t ram_end);
void pci_host_destroy(struct pci_host *h);

/* Plugs f into the next free slot; returns the slot number or -ENOSPC. */
int pci_host_add(struct pci_host *h, struct pci_func *f);

/* What firmware does before the OS runs: gives every BAR an address (I/O from
 * PCI_HOST_IO_BASE, 32-bit memory in the hole, 64-bit memory above RAM), sets
 * the interrupt line and turns on decode and bus mastering. -ENOSPC if a
 * window is full. */
int pci_host_place_bars(struct pci_host *h);

/* Guest accesses, as the buses' fallbacks (also called by tests). */
bool pci_host_pio(void *host, uint64_t port, unsigned size, uint64_t *value, bool is_write);
bool pci_host_mmio(void *host, uint64_t addr, unsigned size, uint64_t *value, bool is_write);

/* Configuration access through ECAM (vmm/ecam.h callbacks; opaque is the
 * pci_host). Empty slots, other functions and buses read all ones. */
uint32_t pci_host_ecam_read(void *opaque, uint16_t bdf, unsigned off, unsigned len);
void pci_host_ecam_write(void *opaque, uint16_t bdf, unsigned off, uint32_t data, unsigned len);

static inline void pci_host_lock(struct pci_host *h) { pthread_mutex_lock(&h->lock); }
static inline void pci_host_unlock(struct pci_host *h) { pthread_mutex_unlock(&h->lock); }

#endif
