/* `kick run`: one VM from a validated configuration. Builds the machine
 * (KVM VM, RAM, bzImage + zero page, UART, legacy ports, vCPU), runs it until
 * the guest resets, writes the debug-exit port, the user quits, or something
 * fails, and tears it down. */
#ifndef KICK_RUN_H
#define KICK_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/vpci.h"
#include "vmm/virtio_slot.h"

#define RUN_DEFAULT_MEMORY (512ull << 20)
#define RUN_MIN_MEMORY     (32ull << 20)
#define RUN_MAX_MEMORY     (1ull << 40)
#define RUN_DEFAULT_CMDLINE "console=ttyS0"
#define RUN_MAX_CPUS 64
#define RUN_MAX_DISKS 8

struct run_disk {
    const char *path;
    const char *serial;   /* NULL: none */
    bool read_only;
    unsigned queues;      /* request queues (MSI-X vector each); 0 until parsed: the vCPUs */
    char *spec;           /* the parsed --disk value, owned (path and serial point in) */
};

struct run_config {
    const char *kernel;   /* bzImage path, required */
    const char *initrd;   /* NULL: none */
    const char *cmdline;  /* NULL: RUN_DEFAULT_CMDLINE */
    uint64_t memory;      /* bytes, page-aligned, RUN_MIN_MEMORY..RUN_MAX_MEMORY */
    const char *memory_arg; /* as the user wrote it, for messages */
    unsigned cpus;        /* 1..RUN_MAX_CPUS */
    bool verbose;
    bool rng;             /* a virtio-rng device */
    uint64_t rng_rate;    /* its bytes per second (0: unlimited) */
    struct run_disk disks[RUN_MAX_DISKS];
    unsigned ndisks;
    enum vpci_mode transport; /* of every virtio device */
    bool no_ioeventfd;    /* every queue kick exits to kick (for comparisons) */
    bool no_irqfd;        /* MSI-X through KVM_SIGNAL_MSI only (for comparisons) */
    bool packed;          /* offer VIRTIO_F_RING_PACKED on every device */
    bool virtio_console;  /* a virtio-console device, configured by console */
    struct vslot_console console;
    bool net;             /* a virtio-net device, configured by net_cfg */
    struct vslot_net net_cfg;
    char *net_spec;       /* the parsed --net value, owned (net_cfg points in) */
    const char *net_arg;  /* as the user wrote it, for messages */
};

/* Returns kick's exit status: the guest's (0 after a reset, or what it wrote
 * to the debug-exit port), 1 after printing one error line on stderr. */
int run_vm(const struct run_config *cfg);

#endif
