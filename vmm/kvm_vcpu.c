/* vCPU creation and boot configuration (see kvm_vcpu.h). */
#include "vmm/kvm_vcpu.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/x86_cpu.h"

/* Architectural MSR numbers (Intel SDM vol. 4; AMD implements the same). The
 * uapi headers do not carry them. */
#define MSR_IA32_TSC            0x010u
#define MSR_IA32_SYSENTER_CS    0x174u
#define MSR_IA32_SYSENTER_ESP   0x175u
#define MSR_IA32_SYSENTER_EIP   0x176u
#define MSR_IA32_MISC_ENABLE    0x1a0u
#define MSR_MTRR_DEF_TYPE       0x2ffu
#define MSR_STAR                0xc0000081u
#define MSR_LSTAR               0xc0000082u
#define MSR_CSTAR               0xc0000083u
#define MSR_SYSCALL_MASK        0xc0000084u
#define MSR_KERNEL_GS_BASE      0xc0000102u

#define MISC_ENABLE_FAST_STRING 0x1ull
#define MTRR_ENABLE             (1ull << 11)
#define MTRR_TYPE_WRBACK        6ull

#define CPUID_1_ECX_HYPERVISOR  (1u << 31)
#define CPUID_MAX_ENTRIES       256

/* Local APIC register offsets and LVT delivery modes (Intel SDM 10.5.1). */
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_DM_MASK   0x700u
#define APIC_DM_EXTINT 0x700u
#define APIC_DM_NMI    0x400u
#define APIC_LVT_MASKED (1u << 16)

static int fail(char *err, size_t errlen, int e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < errlen)
        snprintf(err + n, errlen - (size_t)n, ": %s", strerror(e));
    return -e;
}

static struct kvm_cpuid2 *supported_cpuid(int kvm_fd)
{
    for (unsigned n = CPUID_MAX_ENTRIES; n <= 4 * CPUID_MAX_ENTRIES; n *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof *c + n * sizeof c->entries[0]);
        if (!c)
            return NULL;
        c->nent = n;
        if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
            return c;
        int e = errno;
        free(c);
        if (e != E2BIG)
            return errno = e, NULL;
    }
    errno = E2BIG;
    return NULL;
}

static int setup_cpuid(struct kvm_vcpu *cpu, const struct kvm_vm *vm, unsigned ncpus,
                       char *err, size_t errlen)
{
    struct kvm_cpuid2 *c = supported_cpuid(vm->kvm_fd);
    if (!c)
        return fail(err, errlen, errno, "KVM_GET_SUPPORTED_CPUID");
    for (unsigned i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        switch (e->function) {
        case 1:
            e->ecx |= CPUID_1_ECX_HYPERVISOR;
            /* EBX: initial APIC ID in 31:24, logical processors in 23:16 */
            e->ebx = (e->ebx & 0x0000ffffu) | (cpu->id << 24) | ((ncpus & 0xffu) << 16);
            break;
        case 0xb:
        case 0x1f:
            e->edx = cpu->id; /* x2APIC ID */
            break;
        default:
            break;
        }
    }
    int r = ioctl(cpu->fd, KVM_SET_CPUID2, c);
    int e = errno;
    free(c);
    return r < 0 ? fail(err, errlen, e, "KVM_SET_CPUID2") : 0;
}

/* What firmware leaves behind and Linux takes for granted: syscall MSRs
 * cleared, fast strings on, MTRRs enabled with write-back default. */
static int setup_msrs(struct kvm_vcpu *cpu, char *err, size_t errlen)
{
    static const struct { uint32_t index; uint64_t data; } boot_msrs[] = {
        { MSR_IA32_SYSENTER_CS, 0 },  { MSR_IA32_SYSENTER_ESP, 0 },
        { MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 },
        { MSR_CSTAR, 0 },             { MSR_KERNEL_GS_BASE, 0 },
        { MSR_SYSCALL_MASK, 0 },      { MSR_LSTAR, 0 },
        { MSR_IA32_TSC, 0 },          { MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
        { MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WRBACK },
    };
    enum { N = sizeof boot_msrs / sizeof boot_msrs[0] };
    /* kvm_msrs ends in a flexible array: room for N entries right behind it */
    union {
        struct kvm_msrs hdr;
        uint8_t bytes[sizeof(struct kvm_msrs) + N * sizeof(struct kvm_msr_entry)];
    } m;
    memset(&m, 0, sizeof m);
    m.hdr.nmsrs = N;
    for (unsigned i = 0; i < N; i++) {
        m.hdr.entries[i].index = boot_msrs[i].index;
        m.hdr.entries[i].data = boot_msrs[i].data;
    }
    int r = ioctl(cpu->fd, KVM_SET_MSRS, &m);
    if (r < 0)
        return fail(err, errlen, errno, "KVM_SET_MSRS");
    if (r < N) {
        snprintf(err, errlen, "KVM_SET_MSRS: KVM refused MSR 0x%x", boot_msrs[r].index);
        return -EINVAL;
    }
    return 0;
}

/* Without an MP table or ACPI, Linux runs in virtual-wire mode: PIC
 * interrupts reach the CPU through LINT0 as ExtINT, NMIs through LINT1. Set
 * them so before the kernel gets to it, as a BIOS would. */
static int setup_lapic(struct kvm_vcpu *cpu, char *err, size_t errlen)
{
    struct kvm_lapic_state lapic;
    if (ioctl(cpu->fd, KVM_GET_LAPIC, &lapic) < 0)
        return fail(err, errlen, errno, "KVM_GET_LAPIC");
    uint32_t v;
    memcpy(&v, lapic.regs + APIC_LVT_LINT0, 4);
    v = (v & ~(APIC_DM_MASK | APIC_LVT_MASKED)) | APIC_DM_EXTINT;
    memcpy(lapic.regs + APIC_LVT_LINT0, &v, 4);
    memcpy(&v, lapic.regs + APIC_LVT_LINT1, 4);
    v = (v & ~(APIC_DM_MASK | APIC_LVT_MASKED)) | APIC_DM_NMI;
    memcpy(lapic.regs + APIC_LVT_LINT1, &v, 4);
    if (ioctl(cpu->fd, KVM_SET_LAPIC, &lapic) < 0)
        return fail(err, errlen, errno, "KVM_SET_LAPIC");
    return 0;
}

static int setup_boot_regs(struct kvm_vcpu *cpu, uint64_t rip, uint64_t rsi, char *err,
                           size_t errlen)
{
    struct kvm_sregs sregs;
    if (ioctl(cpu->fd, KVM_GET_SREGS, &sregs) < 0)
        return fail(err, errlen, errno, "KVM_GET_SREGS");
    x86_cpu_boot_sregs(&sregs);
    if (ioctl(cpu->fd, KVM_SET_SREGS, &sregs) < 0)
        return fail(err, errlen, errno, "KVM_SET_SREGS");
    struct kvm_regs regs;
    x86_cpu_boot_regs(&regs, rip, rsi);
    if (ioctl(cpu->fd, KVM_SET_REGS, &regs) < 0)
        return fail(err, errlen, errno, "KVM_SET_REGS");
    return 0;
}

int kvm_vcpu_boot32(struct kvm_vcpu *cpu, uint32_t eip, uint32_t ebx, char *err, size_t errlen)
{
    struct kvm_sregs sregs;
    if (ioctl(cpu->fd, KVM_GET_SREGS, &sregs) < 0)
        return fail(err, errlen, errno, "KVM_GET_SREGS");
    x86_cpu_boot32_sregs(&sregs);
    if (ioctl(cpu->fd, KVM_SET_SREGS, &sregs) < 0)
        return fail(err, errlen, errno, "KVM_SET_SREGS");
    struct kvm_regs regs;
    x86_cpu_boot32_regs(&regs, eip, ebx);
    if (ioctl(cpu->fd, KVM_SET_REGS, &regs) < 0)
        return fail(err, errlen, errno, "KVM_SET_REGS");
    return 0;
}

int kvm_vcpu_create(struct kvm_vcpu *cpu, const struct kvm_vm *vm, unsigned id, unsigned ncpus,
                    uint64_t rip, uint64_t rsi, char *err, size_t errlen)
{
    *cpu = (struct kvm_vcpu){ .fd = -1, .id = id };
    int r;
    cpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
    if (cpu->fd < 0)
        return fail(err, errlen, errno, "KVM_CREATE_VCPU %u", id);
    cpu->run_size = (size_t)vm->vcpu_mmap_size;
    void *p = mmap(NULL, cpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu->fd, 0);
    if (p == MAP_FAILED) {
        r = fail(err, errlen, errno, "cannot map kvm_run of vCPU %u", id);
        goto out;
    }
    cpu->run = p;
    if ((r = setup_cpuid(cpu, vm, ncpus, err, errlen)) < 0 ||
        (r = setup_msrs(cpu, err, errlen)) < 0 || (r = setup_lapic(cpu, err, errlen)) < 0)
        goto out;
    if (id == 0 && (r = setup_boot_regs(cpu, rip, rsi, err, errlen)) < 0)
        goto out;
    return 0;
out:
    kvm_vcpu_destroy(cpu);
    return r;
}

void kvm_vcpu_destroy(struct kvm_vcpu *cpu)
{
    if (cpu->run)
        munmap(cpu->run, cpu->run_size);
    if (cpu->fd >= 0)
        close(cpu->fd);
    cpu->run = NULL;
    cpu->fd = -1;
}
