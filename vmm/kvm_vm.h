/* A KVM virtual machine: the /dev/kvm handle, the VM, its in-kernel irqchip
 * and PIT, and guest RAM.
 *
 * Guest RAM is one memfd mapped shared into kick (so later out-of-process
 * backends can map the same pages). Physical layout, x86 style:
 *   [0, low_size)              RAM, low_size = min(memory, KVM_VM_HOLE_START)
 *   [KVM_VM_HOLE_START, 4 GiB) no RAM: PCI MMIO, IOAPIC, LAPIC, TSS, BIOS
 *   [4 GiB, 4 GiB + high_size) RAM, the rest of memory
 * host + gpa (below the hole) or host + low_size + (gpa - 4 GiB) (above) is the
 * host address of a guest byte; use kvm_vm_gpa(), which checks the range. */
#ifndef KICK_KVM_VM_H
#define KICK_KVM_VM_H

#include <stddef.h>
#include <stdint.h>

#define KVM_VM_HOLE_START 0xC0000000ull /* 3 GiB */
#define KVM_VM_HIGH_START 0x100000000ull /* 4 GiB */
/* Pages KVM needs for the real-mode TSS and the EPT identity map on Intel;
 * just below the BIOS area, inside the hole, never RAM. */
#define KVM_VM_IDENTITY_MAP_ADDR 0xFFFBC000ull
#define KVM_VM_TSS_ADDR          0xFFFBD000ull

struct kvm_vm {
    int kvm_fd;
    int vm_fd;
    int vcpu_mmap_size; /* size of each vCPU's kvm_run mapping */
    int mem_fd;
    uint8_t *host;      /* all guest RAM, low part first */
    uint64_t mem_size;
    uint64_t low_size;
    uint64_t high_size;
};

/* Opens /dev/kvm, creates the VM with its irqchip and PIT and mem_size bytes
 * of RAM. On error returns -errno and writes one line (no newline) to err. */
int kvm_vm_create(struct kvm_vm *vm, uint64_t mem_size, char *err, size_t errlen);
void kvm_vm_destroy(struct kvm_vm *vm);

/* Host address of guest-physical [gpa, gpa + len), or NULL if the range is not
 * entirely inside one RAM region (or wraps). */
void *kvm_vm_gpa(const struct kvm_vm *vm, uint64_t gpa, uint64_t len);

/* Drives an interrupt line of the in-kernel PIC/IOAPIC (GSI == ISA IRQ for
 * 0-15). Returns 0 or -errno. */
int kvm_vm_irq_line(const struct kvm_vm *vm, unsigned gsi, int level);

#endif
