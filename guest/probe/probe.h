/* The bare-metal probe guest: enumerates virtio-pci functions, checks each
 * against the virtio spec and drives it through kick's driver library.
 *
 * Everything that touches hardware (port I/O, config space, BAR MMIO) sits in
 * pci.c behind struct vdrv_io and the pci_cfg_* calls, so moving the work to
 * ring 3 (for kvm-pvm) only changes those and the boot code. */
#ifndef KICK_PROBE_H
#define KICK_PROBE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest/vdrv_pci.h"

/* ---- port I/O ---- */

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }

/* ---- rt.c: runtime ---- */

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

void con_init(void);
void con_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void con_vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* con_printf's formatting into buf (always terminated, cut at cap - 1). */
void probe_snprintf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* isa-debug-exit: QEMU exits with (code << 1) | 1. */
__attribute__((noreturn)) void probe_exit(uint32_t code);

/* Zeroed, identity-mapped (virtual == guest-physical) memory; never freed. */
void *probe_alloc(size_t size, size_t align);
/* Identity-maps [pa, pa + len) uncached if it lies above the boot map. */
bool probe_map_mmio(uint64_t pa, uint64_t len);
/* Value of "key=N" on the multiboot command line, or def. */
uint64_t cmdline_u64(const char *key, uint64_t def);
/* Whether `word` stands alone (space-separated) on the command line. */
bool cmdline_word(const char *word);
void rt_init(uint32_t mb_magic, uint32_t mb_info);

/* TSC ticks for about a second; under TCG the TSC runs at host rate. */
#define TSC_SECOND 3000000000ull

/* ---- report.c: verdict lines ---- */

struct pci_fn;
/* "BB:DD.F type mode" for the lines that follow. */
void report_subject(const struct pci_fn *f, const char *type, const char *mode);
/* A subject that is no one function. */
void report_subject_name(const char *name);
/* "PASS|FAIL <subject>: <what>"; returns ok. */
bool check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "INFO <subject>: <what>", not counted. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
unsigned report_failures(void);
void report_summary(void);

/* ---- pci.c: configuration mechanism #1, BARs, struct vdrv_io ---- */

#define PCI_BARS 6

struct pci_bar {
    uint64_t base;
    uint64_t size; /* 0: not implemented */
    bool io;
    bool mem64;
};

struct pci_fn {
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
    struct pci_bar bar[PCI_BARS];
    /* Library accesses outside a BAR (refused and counted): a library bug
     * or a device whose capabilities lie. */
    unsigned bad_access;
    struct vdrv_io io;
};

uint32_t pci_cfg_read(const struct pci_fn *f, uint32_t off, unsigned len);
void pci_cfg_write(const struct pci_fn *f, uint32_t off, uint32_t val, unsigned len);
/* Fills out[] with the functions of vendor `vendor` on bus 0 and behind
 * bridges, BARs sized; returns how many. */
unsigned pci_scan(uint16_t vendor, struct pci_fn *out, unsigned max);
/* Sets f->io up (ctx = f) and enables decode and bus mastering. */
void pci_fn_activate(struct pci_fn *f);

/* ---- conform.c / conform_legacy.c ---- */

const char *virtio_type_name(uint16_t type);
void conform_ids(struct pci_fn *f, struct vdrv_dev *d);
void conform_caps(struct pci_fn *f, struct vdrv_dev *d);
void conform_modern(struct pci_fn *f, struct vdrv_dev *d);
void conform_legacy(struct pci_fn *f, struct vdrv_dev *d);

/* ---- drive.c ---- */

void drive_device(struct pci_fn *f, struct vdrv_dev *d);

#endif
