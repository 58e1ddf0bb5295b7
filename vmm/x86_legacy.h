/* The legacy PC ports Linux touches that are not in KVM's kernel (PIC, PIT and
 * its speaker port 0x61 are): POST code 0x80, CMOS/RTC 0x70-0x71, the i8042
 * keyboard controller 0x60/0x64 (only its reset command), port 0x92 (fast
 * reset), and a debug-exit port:
 *
 *   X86_LEGACY_DEBUG_EXIT_PORT (0x501): writing value v ends kick with status
 *   (v << 1) | 1, QEMU's isa-debug-exit convention (iobase=0x501), so a guest
 *   can report a result the same way under both.
 *
 * A reset (0xFE to port 0x64, bit 0 of port 0x92) ends kick with status 0:
 * kick has no firmware to reboot into, and a guest's "reboot -f" is how tests
 * end a run. Anything else unclaimed reads as all ones (no device). */
#ifndef KICK_X86_LEGACY_H
#define KICK_X86_LEGACY_H

#include <stdint.h>

#include "vmm/iobus.h"
#include "vmm/run_stop.h"

#define X86_LEGACY_DEBUG_EXIT_PORT 0x501

struct x86_legacy {
    struct run_stop *stop;
    uint8_t cmos_index;
    uint8_t cmos_ram[128];
};

/* Registers the ports on pio. Returns 0 or -errno (a port already taken). */
int x86_legacy_init(struct x86_legacy *l, struct iobus *pio, struct run_stop *stop);

#endif
