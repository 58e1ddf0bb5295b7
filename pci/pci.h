/* PCI function model: a type 0 configuration space with per-byte write masks
 * and RW1C bits, BARs (I/O, 32- and 64-bit memory) sized by the all-ones
 * write, a capability list, MSI-X (table and PBA in a BAR) and INTx.
 * No virtio knowledge here.
 *
 * The owner supplies callbacks for BAR accesses (the MSI-X table and PBA are
 * served here and never reach the owner), BAR placement changes, MSI delivery
 * and the INTx line. All accesses are function calls: the VMM maps them from
 * port I/O, MMIO and the host bridge, tests call them directly. */
#ifndef KICK_PCI_H
#define KICK_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/pci_regs.h>

#define PCI_CFG_SIZE      4096 /* extended space, reachable through ECAM */
#define PCI_CFG_STD_SIZE  256  /* reachable through 0xCF8/0xCFC */
#define PCI_NUM_BARS      6
#define PCI_MSIX_MAX_VECTORS 2048

/* BAR kinds for pci_bar_set(). */
#define PCI_BAR_IO        0x1u
#define PCI_BAR_MEM32     0x0u
#define PCI_BAR_MEM64     0x4u
#define PCI_BAR_PREFETCH  0x8u

struct pci_func;

struct pci_func_ops {
    /* BAR accesses (len 1, 2, 4 or 8) at off within the BAR, for ranges not
     * served by the model itself. Reads must fill data (zero if nothing). */
    void (*bar_read)(struct pci_func *f, int bar, uint64_t off, void *data, unsigned len);
    void (*bar_write)(struct pci_func *f, int bar, uint64_t off, const void *data, unsigned len);
    /* The BAR's decoded address or its decode enable changed (command
     * register or BAR write). addr is the full base; enabled is false while
     * the guest sizes it or has decode off. Optional. */
    void (*bar_map)(struct pci_func *f, int bar, uint64_t addr, bool enabled);
    /* Deliver one MSI-X message. */
    void (*msi)(struct pci_func *f, uint64_t addr, uint32_t data);
    /* An MSI-X vector's address/data/mask or the enable/function mask changed
     * (so a VMM can update its interrupt routing). Optional. vector is -1 for
     * a change affecting all vectors. */
    void (*msix_changed)(struct pci_func *f, int vector);
    /* Level of the INTx line as seen by the interrupt controller (already
     * gated by the command register's INTx disable). Optional. */
    void (*intx)(struct pci_func *f, bool level);
};

/* A hook on a range of config space (for example virtio's PCI_CFG window,
 * whose data bytes are a door into a BAR). Reads first take the stored bytes,
 * then the hook may overwrite them; writes go to the stored bytes (through the
 * write mask) and then to the hook. */
typedef void pci_cfg_hook_fn(struct pci_func *f, uint32_t off, void *data, unsigned len,
                             bool is_write);

struct pci_id {
    uint16_t vendor, device;
    uint16_t subsys_vendor, subsys;
    uint8_t revision;
    uint32_t class_code; /* 24 bits: base class, sub class, prog-if */
    uint8_t intx_pin;    /* 0 none, 1 = INTA# .. 4 = INTD# */
};

struct pci_bar {
    uint64_t size;  /* 0: not implemented */
    uint32_t flags; /* PCI_BAR_* */
    uint64_t addr;  /* base as last programmed (size bits masked) */
    bool mapped;    /* last state reported through bar_map */
};

struct pci_msix {
    unsigned nvec;       /* 0: no MSI-X */
    uint8_t cap;         /* config offset of the capability */
    int table_bar, pba_bar;
    uint32_t table_off, pba_off;
    uint8_t *table;      /* nvec * 16 bytes, allocated by pci_msix_init */
    uint64_t *pba;       /* (nvec + 63) / 64 words */
};

struct pci_func {
    uint8_t cfg[PCI_CFG_SIZE];
    uint8_t wmask[PCI_CFG_SIZE];  /* bits the guest may write */
    uint8_t w1cmask[PCI_CFG_SIZE]; /* bits a guest write of 1 clears */
    struct pci_bar bar[PCI_NUM_BARS];
    uint32_t cap_end;   /* next free config offset for a capability */
    uint8_t last_cap;   /* offset of the last capability (0: none) */
    struct pci_msix msix;
    bool intx_level;    /* device's INTx request, before INTx disable */

    uint32_t hook_off, hook_len;
    pci_cfg_hook_fn *hook;

    const struct pci_func_ops *ops;
    void *owner;
};

void pci_func_init(struct pci_func *f, const struct pci_id *id,
                   const struct pci_func_ops *ops, void *owner);

/* Frees what pci_msix_init allocated. */
void pci_func_destroy(struct pci_func *f);

/* Declares BAR n (size a power of two; I/O >= 4 bytes, memory >= 16). A
 * 64-bit BAR also takes n+1. 0 or -EINVAL. */
int pci_bar_set(struct pci_func *f, int n, uint64_t size, uint32_t flags);

/* Appends a capability. body holds the whole capability from its ID byte
 * (the next pointer is filled in here); len >= 2. Returns its config offset
 * (dword aligned, >= 0x40) or -ENOSPC. Bytes stay read-only unless
 * pci_cfg_set_wmask() says otherwise. */
int pci_cap_add(struct pci_func *f, const void *body, unsigned len);
void pci_cfg_set_wmask(struct pci_func *f, uint32_t off, uint32_t len, uint8_t mask);
void pci_cfg_hook(struct pci_func *f, uint32_t off, uint32_t len, pci_cfg_hook_fn *fn);

/* Adds the MSI-X capability with nvec vectors (<= 2048), its table and PBA in
 * the given BARs (already declared, large enough). Returns the cap offset or
 * a negative errno. All vectors start masked. */
int pci_msix_init(struct pci_func *f, unsigned nvec, int table_bar, uint32_t table_off,
                  int pba_bar, uint32_t pba_off);

/* Guest configuration access: len 1, 2 or 4, naturally aligned (otherwise a
 * read gives all ones and a write is dropped); off < PCI_CFG_SIZE. */
void pci_cfg_read(struct pci_func *f, uint32_t off, void *data, unsigned len);
void pci_cfg_write(struct pci_func *f, uint32_t off, const void *data, unsigned len);
/* Convenience forms returning/taking a value. */
uint32_t pci_cfg_read_val(struct pci_func *f, uint32_t off, unsigned len);
void pci_cfg_write_val(struct pci_func *f, uint32_t off, uint32_t val, unsigned len);

/* Guest access to BAR n at off (len 1, 2, 4 or 8). Out-of-range or
 * undeclared accesses read all ones / are dropped. Decode enable is the
 * caller's business (the bus checks it when routing addresses). */
void pci_bar_read(struct pci_func *f, int n, uint64_t off, void *data, unsigned len);
void pci_bar_write(struct pci_func *f, int n, uint64_t off, const void *data, unsigned len);

/* Decoded base of BAR n and whether the guest enabled decoding for it
 * (command I/O or memory bit set and the BAR is not being sized). */
uint64_t pci_bar_addr(const struct pci_func *f, int n);
bool pci_bar_enabled(const struct pci_func *f, int n);

/* MSI-X: enabled bit of the message control. */
bool pci_msix_enabled(const struct pci_func *f);
/* Raise vector v: delivered now, or recorded pending while masked. Returns
 * false if MSI-X is off or v is out of range (nothing happens). */
bool pci_msix_notify(struct pci_func *f, unsigned v);
/* The message (address, data) of vector v and whether it is masked (per
 * vector or function). Returns -EINVAL when v is out of range. */
int pci_msix_message(const struct pci_func *f, unsigned v, uint64_t *addr, uint32_t *data,
                     bool *masked);

/* INTx: the device's request. Sets the status register's interrupt bit and,
 * unless the command register disables INTx, drives the line. */
void pci_intx_set(struct pci_func *f, bool level);

#endif
