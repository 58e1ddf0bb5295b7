/* Legacy PC ports (see x86_legacy.h). */
#include "vmm/x86_legacy.h"

#include <string.h>
#include <time.h>

/* MC146818 RTC registers and bits that Linux's read_persistent_clock uses. */
#define RTC_SECONDS   0x00
#define RTC_MINUTES   0x02
#define RTC_HOURS     0x04
#define RTC_WEEKDAY   0x06
#define RTC_DAY       0x07
#define RTC_MONTH     0x08
#define RTC_YEAR      0x09
#define RTC_REG_A     0x0a
#define RTC_REG_B     0x0b
#define RTC_REG_C     0x0c
#define RTC_REG_D     0x0d
#define RTC_CENTURY   0x32
#define RTC_REG_A_DEFAULT 0x26 /* 32.768 kHz base, 1024 Hz rate; UIP clear */
#define RTC_REG_B_24H 0x02     /* 24-hour, BCD */
#define RTC_REG_D_VRT 0x80     /* valid RAM and time */
#define CMOS_NMI_DISABLE 0x80

#define I8042_DATA_PORT   0x60
#define I8042_STATUS_PORT 0x64
#define I8042_CMD_RESET   0xfe
#define I8042_STR_OBF     0x01 /* output buffer full */
#define POST_PORT         0x80
#define FAST_A20_PORT     0x92
#define FAST_A20_RESET    0x01

static uint8_t bcd(int v)
{
    return (uint8_t)(((v / 10) % 10) << 4 | (v % 10));
}

static uint8_t cmos_value(struct x86_legacy *l, uint8_t idx)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    switch (idx) {
    case RTC_SECONDS: return bcd(tm.tm_sec);
    case RTC_MINUTES: return bcd(tm.tm_min);
    case RTC_HOURS:   return bcd(tm.tm_hour);
    case RTC_WEEKDAY: return bcd(tm.tm_wday + 1);
    case RTC_DAY:     return bcd(tm.tm_mday);
    case RTC_MONTH:   return bcd(tm.tm_mon + 1);
    case RTC_YEAR:    return bcd(tm.tm_year % 100);
    case RTC_CENTURY: return bcd((tm.tm_year + 1900) / 100);
    case RTC_REG_A:   return RTC_REG_A_DEFAULT;
    case RTC_REG_B:   return RTC_REG_B_24H;
    case RTC_REG_C:   return 0;
    case RTC_REG_D:   return RTC_REG_D_VRT;
    default:          return l->cmos_ram[idx & 0x7f];
    }
}

static uint64_t cmos_read(void *opaque, uint64_t off, unsigned size)
{
    struct x86_legacy *l = opaque;
    (void)size;
    return off == 0 ? 0xff : cmos_value(l, l->cmos_index);
}

static void cmos_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
    struct x86_legacy *l = opaque;
    (void)size;
    if (off == 0)
        l->cmos_index = (uint8_t)value & (uint8_t)~CMOS_NMI_DISABLE;
    else if (l->cmos_index > RTC_REG_D && l->cmos_index != RTC_CENTURY)
        l->cmos_ram[l->cmos_index & 0x7f] = (uint8_t)value; /* time stays the host's */
}

/* i8042 status: input buffer empty, so a reboot's wait for the controller is
 * short; output buffer always full, so Linux's probe finds a controller it
 * cannot flush and gives up at once ("No controller found") instead of
 * timing out on commands for a second. Data reads 0. */
static uint64_t i8042_read(void *opaque, uint64_t off, unsigned size)
{
    (void)opaque, (void)off, (void)size;
    return 0;
}

static uint64_t i8042_status_read(void *opaque, uint64_t off, unsigned size)
{
    (void)opaque, (void)off, (void)size;
    return I8042_STR_OBF;
}

static void i8042_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
    struct x86_legacy *l = opaque;
    (void)off, (void)size;
    if (value == I8042_CMD_RESET)
        run_stop_request(l->stop, 0, false, "guest reset (keyboard controller)");
}

static uint64_t fast_a20_read(void *opaque, uint64_t off, unsigned size)
{
    (void)opaque, (void)off, (void)size;
    return 0x02; /* A20 on */
}

static void fast_a20_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
    struct x86_legacy *l = opaque;
    (void)off, (void)size;
    if (value & FAST_A20_RESET)
        run_stop_request(l->stop, 0, false, "guest reset (port 0x92)");
}

static void debug_exit(struct x86_legacy *l, uint64_t value, unsigned port)
{
    int status = (int)(((value << 1) | 1) & 0xff);
    run_stop_request(l->stop, status, false, "guest wrote 0x%llx to debug-exit port 0x%x",
                     (unsigned long long)value, port);
}

static void debug_exit_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
    (void)off, (void)size;
    debug_exit(opaque, value, X86_LEGACY_DEBUG_EXIT_PORT);
}

/* The same door at 0xf4, where QEMU users usually put isa-debug-exit
 * (iobase=0xf4,iosize=0x04): bare-metal test guests written for that, such
 * as kick's probe, leave kick the same way. Nothing on a PC decodes 0xf4. */
#define DEBUG_EXIT_PORT_F4 0xf4

static void debug_exit_f4_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
    (void)off, (void)size;
    debug_exit(opaque, value, DEBUG_EXIT_PORT_F4);
}

int x86_legacy_init(struct x86_legacy *l, struct iobus *pio, struct run_stop *stop)
{
    memset(l, 0, sizeof *l);
    l->stop = stop;
    int r;
    if ((r = iobus_add(pio, POST_PORT, 1, NULL, NULL, l, "post")) < 0 ||
        (r = iobus_add(pio, 0x70, 2, cmos_read, cmos_write, l, "cmos")) < 0 ||
        (r = iobus_add(pio, I8042_DATA_PORT, 1, i8042_read, NULL, l, "i8042")) < 0 ||
        (r = iobus_add(pio, I8042_STATUS_PORT, 1, i8042_status_read, i8042_write, l,
                       "i8042")) < 0 ||
        (r = iobus_add(pio, FAST_A20_PORT, 1, fast_a20_read, fast_a20_write, l, "port92")) < 0 ||
        (r = iobus_add(pio, X86_LEGACY_DEBUG_EXIT_PORT, 4, NULL, debug_exit_write, l,
                       "debug-exit")) < 0 ||
        (r = iobus_add(pio, DEBUG_EXIT_PORT_F4, 4, NULL, debug_exit_f4_write, l,
                       "debug-exit-f4")) < 0)
        return r;
    return 0;
}

