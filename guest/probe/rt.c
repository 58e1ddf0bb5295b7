/* Runtime for the probe guest: what libc and a kernel would otherwise give
 * it (memory functions, a console on COM1, an allocator, page mappings for
 * BARs above the boot map, the exit door). */
#include <stdarg.h>

#include "guest/probe/probe.h"

#define COM1          0x3f8
#define COM_LSR       5
#define COM_LSR_THRE  0x20
#define DEBUG_EXIT    0xf4

#define MB_BOOT_MAGIC 0x2BADB002
#define MB_INFO_MEM   (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)

#define PAGE_SIZE     4096ull
#define HUGE_SIZE     (2ull << 20)
#define BOOT_MAP_END  (4ull << 30)
#define PTE_P         0x001ull
#define PTE_W         0x002ull
#define PTE_PWT       0x008ull
#define PTE_PCD       0x010ull
#define PTE_PS        0x080ull
#define PTE_ADDR      0x000ffffffffff000ull

extern char __image_end[];
extern uint64_t boot_pml4[512];

/* ---- memory functions: rep string instructions, so the compiler cannot
 * turn them back into calls to themselves ---- */

void *memcpy(void *dst, const void *src, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    if ((uintptr_t)dst - (uintptr_t)src >= n)
        return memcpy(dst, src, n);
    /* Overlap with dst above src: copy backwards. */
    void *d = (char *)dst + n - 1;
    const void *s = (const char *)src + n - 1;
    __asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

/* ---- console ---- */

void con_init(void)
{
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* DLAB */
    outb(COM1 + 0, 0x01); /* 115200 */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0x07); /* FIFO on, cleared */
}

/* Where formatted output goes: the UART, or probe_snprintf's buffer. */
static char *sink;
static size_t sink_len, sink_cap;

static void uart_putc(char c)
{
    /* Bounded: a missing UART must not hang the probe. */
    for (unsigned n = 0; n < 100000 && !(inb(COM1 + COM_LSR) & COM_LSR_THRE); n++)
        cpu_relax();
    outb(COM1, (uint8_t)c);
}

static void con_putc(char c)
{
    if (!sink) {
        uart_putc(c);
        return;
    }
    if (sink_len + 1 < sink_cap)
        sink[sink_len++] = c;
}

static void put_str(const char *s, int width, bool left)
{
    int len = 0;
    while (s[len])
        len++;
    for (; !left && width > len; width--)
        con_putc(' ');
    for (const char *p = s; *p; p++)
        con_putc(*p);
    for (; left && width > len; width--)
        con_putc(' ');
}

static void put_num(uint64_t v, unsigned base, bool neg, int width, char pad, bool upper)
{
    char buf[24];
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0;
    do {
        buf[n++] = digits[v % base];
        v /= base;
    } while (v);
    if (neg)
        width--;
    if (neg && pad == '0')
        con_putc('-');
    for (; width > n; width--)
        con_putc(pad);
    if (neg && pad != '0')
        con_putc('-');
    while (n)
        con_putc(buf[--n]);
}

void con_vprintf(const char *fmt, va_list ap)
{
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            if (*p == '\n')
                con_putc('\r');
            con_putc(*p);
            continue;
        }
        p++;
        bool left = false;
        char pad = ' ';
        for (; *p == '-' || *p == '0'; p++) {
            if (*p == '-')
                left = true;
            else
                pad = '0';
        }
        int width = 0;
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        int lng = 0;
        for (; *p == 'l' || *p == 'z'; p++)
            lng++;
        switch (*p) {
        case 'd':
        case 'i': {
            int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            put_num(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 10, v < 0, width, pad, false);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            put_num(v, *p == 'u' ? 10 : 16, false, width, pad, *p == 'X');
            break;
        }
        case 'p':
            put_str("0x", 0, false);
            put_num((uintptr_t)va_arg(ap, void *), 16, false, width, pad, false);
            break;
        case 'c':
            con_putc((char)va_arg(ap, int));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            put_str(s ? s : "(null)", width, left);
            break;
        }
        case '%':
            con_putc('%');
            break;
        default:
            return; /* malformed: stop rather than walk off the arguments */
        }
    }
}

void probe_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
    if (!cap)
        return;
    va_list ap;
    sink = buf;
    sink_len = 0;
    sink_cap = cap;
    va_start(ap, fmt);
    con_vprintf(fmt, ap);
    va_end(ap);
    buf[sink_len] = 0;
    sink = 0;
}

void con_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    con_vprintf(fmt, ap);
    va_end(ap);
}

void probe_exit(uint32_t code)
{
    outl(DEBUG_EXIT, code);
    /* No debug-exit device: a triple fault ends QEMU under -no-reboot. */
    static const struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) no_idt = { 0, 0 };
    __asm__ volatile("lidt %0; int3" : : "m"(no_idt));
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* ---- memory: bump allocator above the image ---- */

static uint64_t heap_next, heap_end;
static char cmdline[256];

void rt_init(uint32_t mb_magic, uint32_t mb_info)
{
    heap_next = ((uintptr_t)__image_end + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1);
    heap_end = 64ull << 20; /* the least RAM the scripts give us */
    if (mb_magic != MB_BOOT_MAGIC || !mb_info)
        return;
    const volatile uint32_t *info = (const volatile uint32_t *)(uintptr_t)mb_info;
    if (info[0] & MB_INFO_MEM) {
        uint64_t top = (1ull << 20) + (uint64_t)info[2] * 1024; /* mem_upper, KiB above 1 MiB */
        heap_end = top < BOOT_MAP_END ? top : BOOT_MAP_END;
    }
    /* Copied now: the info block sits right above the image, where the
     * allocator is about to hand out memory. */
    if (info[0] & MB_INFO_CMDLINE && info[4]) {
        const volatile char *s = (const volatile char *)(uintptr_t)info[4];
        for (size_t i = 0; i + 1 < sizeof(cmdline) && s[i]; i++)
            cmdline[i] = s[i];
    }
}

void *probe_alloc(size_t size, size_t align)
{
    if (align < 16)
        align = 16;
    uint64_t p = (heap_next + align - 1) & ~(uint64_t)(align - 1);
    if (p + size < p || p + size > heap_end) {
        con_printf("probe: out of memory (%zu bytes)\n", size);
        probe_exit(1);
    }
    heap_next = p + size;
    memset((void *)(uintptr_t)p, 0, size);
    return (void *)(uintptr_t)p;
}

/* ---- page tables for BARs above 4 GiB ---- */

#define PT_POOL_PAGES 16
static uint64_t pt_pool[PT_POOL_PAGES][512] __attribute__((aligned(4096)));
static unsigned pt_used;

static uint64_t *next_table(uint64_t *entry)
{
    if (!(*entry & PTE_P)) {
        if (pt_used == PT_POOL_PAGES)
            return 0;
        uint64_t *t = pt_pool[pt_used++];
        *entry = (uintptr_t)t | PTE_P | PTE_W;
        return t;
    }
    if (*entry & PTE_PS)
        return 0;
    return (uint64_t *)(uintptr_t)(*entry & PTE_ADDR);
}

bool probe_map_mmio(uint64_t pa, uint64_t len)
{
    if (len == 0 || pa + len < pa || pa + len > (1ull << 46))
        return false;
    if (pa + len <= BOOT_MAP_END)
        return true;
    for (uint64_t a = pa & ~(HUGE_SIZE - 1); a < pa + len; a += HUGE_SIZE) {
        if (a < BOOT_MAP_END)
            continue;
        uint64_t *pdpt = next_table(&boot_pml4[(a >> 39) & 511]);
        uint64_t *pd = pdpt ? next_table(&pdpt[(a >> 30) & 511]) : 0;
        if (!pd)
            return false;
        pd[(a >> 21) & 511] = a | PTE_P | PTE_W | PTE_PS | PTE_PCD | PTE_PWT;
    }
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
    return true;
}

/* The first command-line word that starts with `word`, or NULL: the
 * returned pointer is just past the match, on whatever follows it. */
static const char *cmdline_after(const char *word, char follow)
{
    size_t wlen = 0;
    while (word[wlen])
        wlen++;
    for (size_t i = 0; cmdline[i]; i++) {
        if (i && cmdline[i - 1] != ' ')
            continue;
        size_t k = 0;
        while (k < wlen && cmdline[i + k] == word[k])
            k++;
        const char *rest = &cmdline[i + k];
        if (k == wlen && (*rest == follow || (follow == ' ' && *rest == 0)))
            return rest;
    }
    return NULL;
}

bool cmdline_word(const char *word)
{
    return cmdline_after(word, ' ') != NULL;
}

uint64_t cmdline_u64(const char *key, uint64_t def)
{
    const char *p = cmdline_after(key, '=');
    if (!p)
        return def;
    uint64_t v = 0;
    for (p++; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    return v;
}
