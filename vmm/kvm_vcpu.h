/* A KVM vCPU: its fd and kvm_run mapping, CPUID (hypervisor bit, APIC ID),
 * the MSRs Linux expects a firmware to have set, the local APIC's LINT pins,
 * and the 64-bit boot registers. The run loop is in kvm_vcpu_loop.c. */
#ifndef KICK_KVM_VCPU_H
#define KICK_KVM_VCPU_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "vmm/kvm_vm.h"

struct kvm_vcpu {
    int fd;
    unsigned id;          /* also its APIC ID */
    struct kvm_run *run;  /* shared with KVM, vm->vcpu_mmap_size bytes */
    size_t run_size;
};

/* Creates vCPU id of ncpus and configures it for the 64-bit Linux entry at rip
 * with rsi = zero page (only vCPU 0 starts there). On error returns -errno and
 * writes one line to err. */
int kvm_vcpu_create(struct kvm_vcpu *cpu, const struct kvm_vm *vm, unsigned id, unsigned ncpus,
                    uint64_t rip, uint64_t rsi, char *err, size_t errlen);
void kvm_vcpu_destroy(struct kvm_vcpu *cpu);

/* Replaces the boot registers of a created vCPU with the multiboot v1 entry:
 * 32-bit protected mode at eip, EAX = 0x2BADB002, EBX = ebx (the info
 * structure). Returns 0 or -errno with one line in err. */
int kvm_vcpu_boot32(struct kvm_vcpu *cpu, uint32_t eip, uint32_t ebx, char *err, size_t errlen);

#endif
