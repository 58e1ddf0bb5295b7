// Proves a /dev/kvm really runs guest code: one vCPU in real mode executes
// "mov $42,%al; out %al,$0x10; hlt"; we must see KVM_EXIT_IO carrying 42 on port 0x10, then
// KVM_EXIT_HLT. Prints "KVM-SMOKE: PASS" or "KVM-SMOKE: FAIL <why>"; exit status 0 on PASS.
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUEST_PHYS 0x1000u
#define MEM_SIZE 0x1000u
#define SMOKE_PORT 0x10
#define SMOKE_VALUE 42

static int fail(const char *fmt, ...)
{
    va_list ap;
    int saved = errno;
    printf("KVM-SMOKE: FAIL ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(" (errno %d: %s)\n", saved, strerror(saved));
    return 1;
}

static const char *exit_name(uint32_t reason)
{
    switch (reason) {
    case KVM_EXIT_IO: return "IO";
    case KVM_EXIT_HLT: return "HLT";
    case KVM_EXIT_MMIO: return "MMIO";
    case KVM_EXIT_SHUTDOWN: return "SHUTDOWN";
    case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
    case KVM_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
    default: return "other";
    }
}

int main(int argc, char **argv)
{
    static const uint8_t code[] = {
        0xb0, SMOKE_VALUE,       // mov $42, %al
        0xe6, SMOKE_PORT,        // out %al, $0x10
        0xf4,                    // hlt
    };
    const char *dev = argc > 1 ? argv[1] : "/dev/kvm";
    setvbuf(stdout, NULL, _IONBF, 0);

    int kvm = open(dev, O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        return fail("open %s", dev);
    int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION)
        return fail("KVM_GET_API_VERSION returned %d, want %d", api, KVM_API_VERSION);
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        return fail("KVM_CREATE_VM");

    uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return fail("mmap guest memory");
    memcpy(mem, code, sizeof(code));
    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .guest_phys_addr = GUEST_PHYS,
        .memory_size = MEM_SIZE,
        .userspace_addr = (uintptr_t)mem,
    };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return fail("KVM_SET_USER_MEMORY_REGION");

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        return fail("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < (int)sizeof(struct kvm_run))
        return fail("KVM_GET_VCPU_MMAP_SIZE returned %d", run_size);
    struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        return fail("mmap kvm_run");

    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        return fail("KVM_GET_SREGS");
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
        return fail("KVM_SET_SREGS");
    struct kvm_regs regs = { .rip = GUEST_PHYS, .rflags = 0x2 }; // bit 1 of RFLAGS is reserved-1
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        return fail("KVM_SET_REGS");

    if (ioctl(vcpu, KVM_RUN, 0) < 0)
        return fail("first KVM_RUN");
    if (run->exit_reason != KVM_EXIT_IO)
        return fail("first exit %s (%u), want IO", exit_name(run->exit_reason), run->exit_reason);
    if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != SMOKE_PORT || run->io.size != 1 ||
        run->io.count != 1)
        return fail("IO exit dir %u port %#x size %u count %u, want out %#x size 1 count 1",
                    run->io.direction, run->io.port, run->io.size, run->io.count, SMOKE_PORT);
    if (run->io.data_offset > (uint64_t)run_size - 1)
        return fail("IO data_offset %llu outside the %d-byte run area",
                    (unsigned long long)run->io.data_offset, run_size);
    uint8_t value = ((const uint8_t *)run)[run->io.data_offset];
    if (value != SMOKE_VALUE)
        return fail("guest wrote %u, want %u", value, SMOKE_VALUE);

    if (ioctl(vcpu, KVM_RUN, 0) < 0)
        return fail("second KVM_RUN");
    if (run->exit_reason != KVM_EXIT_HLT)
        return fail("second exit %s (%u), want HLT", exit_name(run->exit_reason), run->exit_reason);

    printf("KVM-SMOKE: PASS (out %#x <- %u, then hlt)\n", SMOKE_PORT, value);
    return 0;
}
