/* One virtio device of `kick run` on the PCI bus: the device model and its
 * backend, its virtio-pci function (vpci) in a slot of the pci_host, its
 * interrupts (INTx on the slot's IOAPIC pin; MSI-X through irqfds with GSI
 * routing, see irq_route.h, or KVM_SIGNAL_MSI) and its device thread.
 *
 * The device thread sleeps on one ioeventfd per queue (registered with KVM
 * at every notify address the queue has, re-registered when the guest moves
 * the BAR) and on the backend's descriptors (blk: the io_uring completion
 * eventfd; console: the character backends; net: slirp's sockets or the
 * tap), so queue kicks and backend I/O never run on a vCPU thread. A disk has
 * one io_uring per request queue (VIRTIO_BLK_F_MQ when more than one), each
 * with its own completion eventfd, so a completion only polls its queue. A notify
 * write that misses the ioeventfd (a BAR being moved, a write of another
 * width) still arrives as an exit and reaches the same virtio_dev_notify.
 *
 * Everything that touches the device runs under the pci_host lock; the
 * thread only waits without it. */
#ifndef KICK_VIRTIO_SLOT_H
#define KICK_VIRTIO_SLOT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backends/chardev_socket.h"
#include "backends/chardev_stdio.h"
#include "backends/file_uring.h"
#include "backends/net_slirp.h"
#include "backends/net_tap.h"
#include "devices/blk.h"
#include "devices/console.h"
#include "devices/net.h"
#include "devices/rng.h"
#include "virtio/gmem.h"
#include "virtio/vpci.h"
#include "vmm/irq_route.h"
#include "vmm/kvm_vm.h"
#include "vmm/pci_host.h"
#include "vmm/run_stop.h"

#define VSLOT_MAX_QUEUES 16
#define VSLOT_MAX_CONSOLE_PORTS 7 /* named ones, besides port 0 (VSLOT_MAX_QUEUES) */
#define VSLOT_MAX_HOSTFWD 16
/* virtio-net queue pairs that fit VSLOT_MAX_QUEUES with the control queue */
#define VSLOT_NET_MAX_PAIRS ((VSLOT_MAX_QUEUES - 1) / 2 < NET_MAX_PAIRS ? \
                             (VSLOT_MAX_QUEUES - 1) / 2 : NET_MAX_PAIRS)

enum vslot_kind { VSLOT_RNG, VSLOT_BLK, VSLOT_CONSOLE, VSLOT_NET };

struct vslot_console {
    bool stdio;          /* port 0 (hvc0) on kick's stdin/stdout; else nothing behind it */
    struct chardev_socket_opts named[VSLOT_MAX_CONSOLE_PORTS];
    unsigned nnamed;
};

struct vslot_net {
    const char *tap;     /* tap interface name ("" : the kernel picks); NULL: slirp */
    const char *hostfwd[VSLOT_MAX_HOSTFWD];
    unsigned nhostfwd;
    unsigned queues;     /* tap: queue pairs, 1..VSLOT_NET_MAX_PAIRS; 0: 1 (slirp: always 1) */
};

struct vslot_disk {
    const char *path;
    const char *serial; /* NULL: none */
    bool read_only;
    unsigned queues;    /* request queues, 1..BLK_MAX_QUEUES; 0: 1 */
};

/* What every slot shares. */
struct vslot_env {
    const struct kvm_vm *vm;
    struct pci_host *bus;
    const struct gmem *mem;
    struct run_stop *stop;
    enum vpci_mode mode;
    bool ioeventfd;     /* false: every kick is an exit (for comparison) */
    bool packed;        /* offer packed virtqueues (modern interface only) */
    struct irq_routes *routes; /* MSI-X routing shared by all slots */
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
    struct console_dev *con;      /* allocated for the console only */
    struct chardev_stdio stdio;
    struct chardev_socket sock[VSLOT_MAX_CONSOLE_PORTS];
    unsigned nsock;               /* opened */
    bool stdio_open;
    struct net_dev *net;          /* allocated for the NIC only */
    struct net_slirp slirp;
    struct net_tap tap;
    bool use_tap, backend_open, dev_ready;
    bool file_open, blk_ready, vpci_ready;
    int route_first;              /* first irq_routes vector, -1: KVM_SIGNAL_MSI */
    unsigned nvec;
    unsigned nq;
    int kick_fd[VSLOT_MAX_QUEUES];
    struct vslot_ioev ioev[VSLOT_MAX_QUEUES][2]; /* [queue][legacy] */
    int completion_fd[VSLOT_MAX_QUEUES]; /* blk: queue q's io_uring eventfd; -1: none */
    int stop_fd, epoll_fd;
    int rng_timer_fd;             /* rng with a rate limit: serves chains left waiting */
    pthread_t thread;
    bool thread_started;
    /* statistics (under the bus lock) */
    uint64_t fd_kicks, msis, intx_raises, ioeventfd_errors;
};

/* Builds the device (rng; blk on a vslot_disk; console on a vslot_console;
 * net on a vslot_net) and plugs it into the bus. On error returns -errno and
 * writes one line to err (without the option's name: the caller adds it). */
int vslot_create(struct virtio_slot *s, const struct vslot_env *env, enum vslot_kind kind,
                 const void *cfg, char *err, size_t errlen);
/* Starts the device thread (after pci_host_place_bars). 0 or -errno. */
int vslot_start(struct virtio_slot *s);
/* Stops and joins the device thread. */
void vslot_stop(struct virtio_slot *s);
void vslot_destroy(struct virtio_slot *s);

/* Restores the terminal if the console has it (any exit path). */
void vslot_release_terminal(struct virtio_slot *s);
/* The terminal behind the console was resized (SIGWINCH): tell the guest
 * the new size, if the console is on the terminal. True if it did, with
 * the size in cols/rows. */
bool vslot_console_resized(struct virtio_slot *s, uint16_t *cols, uint16_t *rows);

/* ---- between virtio_slot.c and the per-kind files (slot_console.c,
 * slot_net.c) ---- */
int vslot_console_make(struct virtio_slot *s, const struct vslot_console *c, char *err,
                       size_t errlen);
void *vslot_console_thread(void *arg);
void vslot_console_destroy(struct virtio_slot *s);
int vslot_net_make(struct virtio_slot *s, const struct vslot_net *c, char *err, size_t errlen);
void *vslot_net_thread(void *arg);
void vslot_net_destroy(struct virtio_slot *s);
/* Empties an eventfd; true if it had been written. */
bool vslot_drain(int fd);

#endif
