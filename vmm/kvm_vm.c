/* VM creation: /dev/kvm checks, in-kernel irqchip and PIT, memfd guest RAM. */
#include "vmm/kvm_vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

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

static int map_ram(struct kvm_vm *vm, char *err, size_t errlen)
{
    vm->mem_fd = memfd_create("kick-guest-ram", MFD_CLOEXEC);
    if (vm->mem_fd < 0)
        return fail(err, errlen, errno, "guest RAM: memfd_create");
    if (ftruncate(vm->mem_fd, (off_t)vm->mem_size) < 0)
        return fail(err, errlen, errno, "guest RAM: cannot size memfd to %llu bytes",
                    (unsigned long long)vm->mem_size);
    void *p = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                   vm->mem_fd, 0);
    if (p == MAP_FAILED)
        return fail(err, errlen, errno, "guest RAM: cannot map %llu bytes",
                    (unsigned long long)vm->mem_size);
    vm->host = p;
    /* THP would be nice but memfd shmem hugepages depend on host policy;
     * a hint is all we can give. */
    madvise(p, vm->mem_size, MADV_HUGEPAGE);

    struct kvm_userspace_memory_region low = {
        .slot = 0,
        .guest_phys_addr = 0,
        .memory_size = vm->low_size,
        .userspace_addr = (uint64_t)(uintptr_t)vm->host,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &low) < 0)
        return fail(err, errlen, errno, "KVM_SET_USER_MEMORY_REGION (low RAM)");
    if (vm->high_size) {
        struct kvm_userspace_memory_region high = {
            .slot = 1,
            .guest_phys_addr = KVM_VM_HIGH_START,
            .memory_size = vm->high_size,
            .userspace_addr = (uint64_t)(uintptr_t)(vm->host + vm->low_size),
        };
        if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &high) < 0)
            return fail(err, errlen, errno, "KVM_SET_USER_MEMORY_REGION (RAM above 4 GiB)");
    }
    return 0;
}

int kvm_vm_create(struct kvm_vm *vm, uint64_t mem_size, char *err, size_t errlen)
{
    *vm = (struct kvm_vm){ .kvm_fd = -1, .vm_fd = -1, .mem_fd = -1 };
    vm->mem_size = mem_size;
    vm->low_size = mem_size < KVM_VM_HOLE_START ? mem_size : KVM_VM_HOLE_START;
    vm->high_size = mem_size - vm->low_size;
    int r;

    vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0)
        return fail(err, errlen, errno, "cannot open /dev/kvm");
    int api = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) {
        snprintf(err, errlen, "/dev/kvm speaks KVM API %d, kick needs %d", api, KVM_API_VERSION);
        r = -ENOTSUP;
        goto out;
    }
    static const struct { long cap; const char *name; } needed[] = {
        { KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
        { KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
        { KVM_CAP_PIT2, "KVM_CAP_PIT2" },
        { KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
        { KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR" },
        { KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
        { KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
    };
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, needed[i].cap) <= 0) {
            snprintf(err, errlen, "/dev/kvm lacks %s", needed[i].name);
            r = -ENOTSUP;
            goto out;
        }
    }
    vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vm->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
        r = fail(err, errlen, errno ? errno : EINVAL, "KVM_GET_VCPU_MMAP_SIZE");
        goto out;
    }
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        r = fail(err, errlen, errno, "KVM_CREATE_VM");
        goto out;
    }
    if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_VM_TSS_ADDR) < 0) {
        r = fail(err, errlen, errno, "KVM_SET_TSS_ADDR");
        goto out;
    }
    uint64_t idmap = KVM_VM_IDENTITY_MAP_ADDR;
    if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) {
        r = fail(err, errlen, errno, "KVM_SET_IDENTITY_MAP_ADDR");
        goto out;
    }
    if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        r = fail(err, errlen, errno, "KVM_CREATE_IRQCHIP");
        goto out;
    }
    /* The PIT's speaker port (0x61) is served in-kernel too, which Linux's
     * TSC calibration polls. */
    struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
    if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
        r = fail(err, errlen, errno, "KVM_CREATE_PIT2");
        goto out;
    }
    r = map_ram(vm, err, errlen);
    if (r == 0)
        return 0;
out:
    kvm_vm_destroy(vm);
    return r;
}

void kvm_vm_destroy(struct kvm_vm *vm)
{
    if (vm->host)
        munmap(vm->host, vm->mem_size);
    if (vm->mem_fd >= 0)
        close(vm->mem_fd);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    vm->host = NULL;
    vm->mem_fd = vm->vm_fd = vm->kvm_fd = -1;
}

void *kvm_vm_gpa(const struct kvm_vm *vm, uint64_t gpa, uint64_t len)
{
    if (gpa + len < gpa)
        return NULL;
    if (gpa + len <= vm->low_size)
        return vm->host + gpa;
    if (gpa >= KVM_VM_HIGH_START && gpa - KVM_VM_HIGH_START <= vm->high_size &&
        len <= vm->high_size - (gpa - KVM_VM_HIGH_START))
        return vm->host + vm->low_size + (gpa - KVM_VM_HIGH_START);
    return NULL;
}

int kvm_vm_irq_line(const struct kvm_vm *vm, unsigned gsi, int level)
{
    struct kvm_irq_level irq = { .irq = gsi, .level = level ? 1 : 0 };
    return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}
