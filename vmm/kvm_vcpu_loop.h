/* The vCPU thread: KVM_RUN until a stop is requested, routing port I/O and
 * MMIO exits to their buses. Resets (triple fault, system events) and errors
 * (failed entry, internal errors, unhandled exits) become stop requests; no
 * exit is fatal to kick. */
#ifndef KICK_KVM_VCPU_LOOP_H
#define KICK_KVM_VCPU_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/iobus.h"
#include "vmm/kvm_vcpu.h"
#include "vmm/run_stop.h"

struct vcpu_loop {
    struct kvm_vcpu *cpu;
    const struct iobus *pio;
    const struct iobus *mmio;
    struct run_stop *stop;
    bool verbose;             /* report unclaimed port/MMIO accesses on stderr */
    uint64_t exits;           /* KVM_RUN returns, for --verbose statistics */
    uint64_t pio_exits, mmio_exits;
    pthread_t thread;
    bool started;
    uint8_t port_seen[65536 / 8]; /* unclaimed ports already reported */
    uint32_t port_exits[65536];   /* exits per port, for --verbose statistics */
    unsigned mmio_reported;
};

/* Starts the thread. Returns 0 or -errno. */
int vcpu_loop_start(struct vcpu_loop *l);
/* Makes the thread leave KVM_RUN soon (after a stop request). */
void vcpu_loop_kick(struct vcpu_loop *l);
void vcpu_loop_join(struct vcpu_loop *l);
/* Writes the n ports with the most exits as "0x3f8:1234 0x80:56 ..." to buf. */
void vcpu_loop_top_ports(const struct vcpu_loop *l, unsigned n, char *buf, size_t len);

#endif
