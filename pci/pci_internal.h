/* Private glue between pci.c (config space, BARs) and msix.c (MSI-X). Not
 * part of the contract in pci.h; nothing outside pci/ includes this. */
#ifndef KICK_PCI_INTERNAL_H
#define KICK_PCI_INTERNAL_H

#include "pci/pci.h"

/* Little-endian field access that does not care about host alignment. */
static inline uint64_t pci_get_le(const uint8_t *p, unsigned len)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < len; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void pci_put_le(uint8_t *p, uint64_t v, unsigned len)
{
    for (unsigned i = 0; i < len; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Whether [off, off+len) and [start, start+size) share a byte; overflow-safe
 * for any guest-supplied off. */
static inline bool pci_ranges_overlap(uint64_t off, uint64_t len, uint64_t start, uint64_t size)
{
    if (!len || !size)
        return false;
    return off < start ? start - off < len : off - start < size;
}

/* Served by msix.c when the access touches the MSI-X table or PBA of BAR n
 * (then true, also for refused accesses); false means the owner's turn. */
bool pci_msix_bar_read(struct pci_func *f, int n, uint64_t off, void *data, unsigned len);
bool pci_msix_bar_write(struct pci_func *f, int n, uint64_t off, const void *data, unsigned len);

/* The guest wrote the message control word; old_ctrl is its previous value. */
void pci_msix_ctrl_written(struct pci_func *f, uint16_t old_ctrl);

#endif
