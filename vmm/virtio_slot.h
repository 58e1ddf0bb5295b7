/* One virtio device of `kick run` on the PCI bus: the device model and its
 * backend, its virtio-pci function (vpci) in a slot of the pci_host, its
 * interrupts (INTx on the slot's IOAPIC pin, MSI-X through KVM_SIGNAL_MSI) and
 * its device thread.
 *
 * The device thread sleeps in epoll on one ioeventfd per queue (registered
 * with KVM at every notify address the queue has, re-registered when the
 * guest moves the BAR) and on the backend's completion eventfd, so queue
 * kicks and I/O completions never run on a vCPU thread. A notify write that
 * misses the ioeventfd (a BAR being moved, a write of another width) still
 * arrives as an exit and reaches the same virtio_dev_notify.
 *
 * Everything that touches the device runs under the pci_host lock. */
#ifndef KICK_VIRTIO_SLOT_H
#define KICK_VIRTIO_SLOT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backends/file_uring.h"
#include "devices/blk.h"
#include "devices/rng.h"
#include "virtio/gmem.h"
#include "virtio/vpci.h"
#include "vmm/kvm_vm.h"
#include "vmm/pci_host.h"
#include "vmm/run_stop.h"

#define VSLOT_MAX_QUEUES 4

enum vslot_kind { VSLOT_RNG, VSLOT_BLK };

struct vslot_disk {
    const char *path;
    const char *serial; /* NULL: none */
    bool read_only;
};

/* What every slot shares. */
struct vslot_env {
    const struct kvm_vm *vm;
    struct pci_host *bus;
    const struct gmem *mem;
    struct run_stop *stop;
    enum vpci_mode mode;
    bool ioeventfd;     /* false: every kick is an exit (for comparison) */
};

struct vslot_ioev {
    uint64_t addr;
    bool on;
};

struct virtio_slot {
    struct vpci t;
    const struct vslot_env *env;
    enum vslot_kind kind;
    unsigned slot;
    struct virtio_dev *vdev;
    struct rng_dev rng;
    struct blk_dev *blk;          /* large: allocated for disks only */
    struct file_uring file;
    bool file_open, blk_ready, vpci_ready;
    unsigned nq;
    int kick_fd[VSLOT_MAX_QUEUES];
    struct vslot_ioev ioev[VSLOT_MAX_QUEUES][2]; /* [queue][legacy] */
    int completion_fd;            /* -1: none */
    int stop_fd, epoll_fd;
    pthread_t thread;
    bool thread_started;
    /* statistics (under the bus lock) */
    uint64_t fd_kicks, msis, intx_raises, ioeventfd_errors;
};

/* Builds the device (rng, or blk on disk) and plugs it into the bus. On error
 * returns -errno and writes one line to err (for a disk, prefixed by nothing:
 * the caller names the option). */
int vslot_create(struct virtio_slot *s, const struct vslot_env *env, enum vslot_kind kind,
                 const struct vslot_disk *disk, char *err, size_t errlen);
/* Starts the device thread (after pci_host_place_bars). 0 or -errno. */
int vslot_start(struct virtio_slot *s);
/* Stops and joins the device thread. */
void vslot_stop(struct virtio_slot *s);
void vslot_destroy(struct virtio_slot *s);

#endif
