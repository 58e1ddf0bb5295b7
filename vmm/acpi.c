/* ACPI tables (see acpi.h). Layouts from ACPI 6.x chapter 5.2; every struct is
 * packed and its size checked against the specification's table. */
#include "vmm/acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vmm/acpi_aml.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ACPI tables are little-endian");

#define PACKED __attribute__((packed))

struct acpi_header { /* 5.2.6 */
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    char creator_id[4];
    uint32_t creator_revision;
} PACKED;

struct acpi_rsdp { /* 5.2.5.3 */
    char signature[8];
    uint8_t checksum;      /* over the first 20 bytes (the ACPI 1.0 part) */
    char oem_id[6];
    uint8_t revision;
    uint32_t rsdt_addr;
    uint32_t length;
    uint64_t xsdt_addr;
    uint8_t ext_checksum;  /* over all of it */
    uint8_t reserved[3];
} PACKED;

struct acpi_gas { /* 5.2.3.2 Generic Address Structure */
    uint8_t space_id;
    uint8_t bit_width;
    uint8_t bit_offset;
    uint8_t access_size;
    uint64_t address;
} PACKED;

struct acpi_fadt { /* 5.2.9, revision 6 */
    struct acpi_header h;
    uint32_t firmware_ctrl;
    uint32_t dsdt;
    uint8_t reserved0;
    uint8_t preferred_pm_profile;
    uint16_t sci_int;
    uint32_t smi_cmd;
    uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
    uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
    uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
    uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
    uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
    uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
    uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
    uint16_t iapc_boot_arch;
    uint8_t reserved1;
    uint32_t flags;
    struct acpi_gas reset_reg;
    uint8_t reset_value;
    uint16_t arm_boot_arch;
    uint8_t minor_version;
    uint64_t x_firmware_ctrl;
    uint64_t x_dsdt;
    struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
    struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
    struct acpi_gas sleep_control_reg, sleep_status_reg;
    char hypervisor_vendor[8];
} PACKED;

struct acpi_facs { /* 5.2.10 */
    char signature[4];
    uint32_t length;
    uint32_t hw_signature;
    uint32_t waking_vector;
    uint32_t global_lock;
    uint32_t flags;
    uint64_t x_waking_vector;
    uint8_t version;
    uint8_t reserved0[3];
    uint32_t ospm_flags;
    uint8_t reserved1[24];
} PACKED;

struct acpi_madt { /* 5.2.12 */
    struct acpi_header h;
    uint32_t lapic_addr;
    uint32_t flags;
} PACKED;

struct madt_lapic { /* 5.2.12.2 */
    uint8_t type, length, processor_uid, apic_id;
    uint32_t flags;
} PACKED;

struct madt_ioapic { /* 5.2.12.3 */
    uint8_t type, length, ioapic_id, reserved;
    uint32_t address;
    uint32_t gsi_base;
} PACKED;

struct madt_iso { /* 5.2.12.5 Interrupt Source Override */
    uint8_t type, length, bus, source;
    uint32_t gsi;
    uint16_t flags;
} PACKED;

struct madt_lapic_nmi { /* 5.2.12.7 */
    uint8_t type, length, processor_uid;
    uint16_t flags;
    uint8_t lint;
} PACKED;

struct acpi_mcfg { /* PCI Firmware Specification 3.x, 4.1.2 */
    struct acpi_header h;
    uint8_t reserved[8];
} PACKED;

struct mcfg_alloc {
    uint64_t base;
    uint16_t segment;
    uint8_t bus_start, bus_end;
    uint32_t reserved;
} PACKED;

_Static_assert(sizeof(struct acpi_header) == 36, "table header");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP v2");
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT flags");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT");
_Static_assert(offsetof(struct acpi_fadt, sleep_control_reg) == 244, "FADT SLEEP_CONTROL_REG");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS");
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT");
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT processor local APIC");
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT I/O APIC");
_Static_assert(sizeof(struct madt_iso) == 10, "MADT interrupt source override");
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT local APIC NMI");
_Static_assert(sizeof(struct acpi_mcfg) == 44, "MCFG");
_Static_assert(sizeof(struct mcfg_alloc) == 16, "MCFG allocation");

#define OEM_ID       "KICK  "
#define OEM_TABLE_ID "KICKVMM "
#define CREATOR_ID   "KICK"

enum { MADT_LAPIC = 0, MADT_IOAPIC = 1, MADT_ISO = 2, MADT_LAPIC_NMI = 4 };
#define MADT_PCAT_COMPAT   0x1  /* dual 8259s present (KVM's in-kernel PIC) */
#define MADT_ENABLED       0x1
#define MPS_ACTIVE_HIGH    0x1
#define MPS_LEVEL          0xc
#define LAPIC_NMI_LINT     1    /* as the MP table: LINT1 is NMI on every CPU */

enum { GAS_SYSTEM_IO = 1 };
enum { GAS_ACCESS_BYTE = 1, GAS_ACCESS_WORD = 2 };

/* FADT flags (5.2.9 table "Fixed ACPI Description Table Fixed Feature
 * Flags"): WBINVD works, C1 works, no fixed power/sleep buttons (kick has
 * none to press), a reset register. Not HW_REDUCED_ACPI: S5 goes through
 * SLP_TYP/SLP_EN in PM1a_CNT. */
#define FADT_WBINVD        (1u << 0)
#define FADT_PROC_C1       (1u << 2)
#define FADT_PWR_BUTTON    (1u << 4)
#define FADT_SLP_BUTTON    (1u << 5)
#define FADT_RESET_REG_SUP (1u << 10)
/* IA-PC boot flags: the UART and the CMOS clock are at their legacy ports,
 * no 8042 (only its reset command is emulated: Linux then skips probing
 * for a keyboard), no VGA, ASPM left alone. */
#define BOOT_LEGACY_DEVICES (1u << 0)
#define BOOT_VGA_NOT_PRESENT (1u << 2)
#define BOOT_PCIE_ASPM_CONTROLS (1u << 4)

#define PM1_EVT_LEN 4
#define PM1_CNT_LEN 2
#define PM1_CNT_OFF 4
#define C2_UNSUPPORTED 101  /* latencies above 100/1000 us mean "no C2/C3" */
#define C3_UNSUPPORTED 1001
#define RTC_CENTURY_INDEX 0x32 /* x86_legacy serves the century in CMOS 0x32 */
#define RESET_PORT  0x64    /* the 8042's pulse-reset command, which kick serves */
#define RESET_VALUE 0xfe

#define FACS_VERSION 2
#define MADT_REVISION 4     /* ACPI 6.0 */
#define FADT_REVISION 6
#define DSDT_REVISION 2     /* 64-bit integers */
#define MB (1ull << 20)
#define GB (1ull << 30)

struct area {
    uint8_t *base;
    size_t len, used;
    bool overflow;
};

/* Reserves n bytes at the given alignment (relative to ACPI_AREA_GPA, which
 * is page-aligned); returns the offset. */
static size_t area_alloc(struct area *a, size_t n, size_t align)
{
    size_t off = (a->used + align - 1) & ~(align - 1);
    if (a->overflow || off > a->len || n > a->len - off) {
        a->overflow = true;
        return 0;
    }
    a->used = off + n;
    return off;
}

static uint32_t gpa32(size_t off)
{
    return (uint32_t)(ACPI_AREA_GPA + off);
}

static uint8_t checksum(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + b[i]);
    return (uint8_t)-sum;
}

/* Tables are filled in place in the (zeroed) area through pointers to the
 * packed structs: GCC 12 at -O2 miscompiles a local packed FADT filled and
 * then copied out (tree-SRA loses most of the nested header's stores). */
static void put_header(struct acpi_header *h, const char *sig, size_t len, uint8_t rev)
{
    memset(h, 0, sizeof *h);
    memcpy(h->signature, sig, 4);
    h->length = (uint32_t)len;
    h->revision = rev;
    memcpy(h->oem_id, OEM_ID, 6);
    memcpy(h->oem_table_id, OEM_TABLE_ID, 8);
    h->oem_revision = 1;
    memcpy(h->creator_id, CREATOR_ID, 4);
    h->creator_revision = 1;
}

/* Checksums the table at off, whose header holds its length. */
static void seal(struct area *a, size_t off)
{
    struct acpi_header h;
    memcpy(&h, a->base + off, sizeof h);
    a->base[off + offsetof(struct acpi_header, checksum)] = 0;
    a->base[off + offsetof(struct acpi_header, checksum)] = checksum(a->base + off, h.length);
}

/* Reserves a table of len bytes (8-aligned) and returns it, or NULL. */
static void *new_table(struct area *a, size_t len, size_t *off)
{
    *off = area_alloc(a, len, 8);
    return a->overflow ? NULL : a->base + *off;
}

static void set_gas_io(struct acpi_gas *g, uint16_t port, unsigned bytes, uint8_t access)
{
    g->space_id = GAS_SYSTEM_IO;
    g->bit_width = (uint8_t)(8 * bytes);
    g->bit_offset = 0;
    g->access_size = access;
    g->address = port;
}

static size_t build_facs(struct area *a)
{
    size_t off = area_alloc(a, sizeof(struct acpi_facs), 64); /* 64-byte aligned */
    if (a->overflow)
        return 0;
    struct acpi_facs *f = (struct acpi_facs *)(a->base + off);
    memcpy(f->signature, "FACS", 4); /* no checksum */
    f->length = sizeof *f;
    f->version = FACS_VERSION;
    return off;
}

static size_t build_fadt(struct area *a, const struct acpi_config *c, size_t facs, size_t dsdt)
{
    size_t off;
    struct acpi_fadt *f = new_table(a, sizeof *f, &off);
    if (!f)
        return 0;
    put_header(&f->h, "FACP", sizeof *f, FADT_REVISION);
    /* X_FIRMWARE_CTRL must stay 0 when FIRMWARE_CTRL is set */
    f->firmware_ctrl = gpa32(facs);
    f->dsdt = gpa32(dsdt);
    f->x_dsdt = gpa32(dsdt);
    f->sci_int = ACPI_SCI_IRQ;
    /* SMI_CMD 0: no mode switch; the OS finds ACPI enabled (SCI_EN=1) */
    f->pm1a_evt_blk = c->pm1_base;
    f->pm1a_cnt_blk = c->pm1_base + PM1_CNT_OFF;
    f->pm1_evt_len = PM1_EVT_LEN;
    f->pm1_cnt_len = PM1_CNT_LEN;
    set_gas_io(&f->x_pm1a_evt_blk, c->pm1_base, PM1_EVT_LEN, GAS_ACCESS_WORD);
    set_gas_io(&f->x_pm1a_cnt_blk, (uint16_t)(c->pm1_base + PM1_CNT_OFF), PM1_CNT_LEN,
               GAS_ACCESS_WORD);
    f->p_lvl2_lat = C2_UNSUPPORTED;
    f->p_lvl3_lat = C3_UNSUPPORTED;
    f->century = RTC_CENTURY_INDEX;
    f->iapc_boot_arch = BOOT_LEGACY_DEVICES | BOOT_VGA_NOT_PRESENT | BOOT_PCIE_ASPM_CONTROLS;
    f->flags = FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON |
               FADT_RESET_REG_SUP;
    set_gas_io(&f->reset_reg, RESET_PORT, 1, GAS_ACCESS_BYTE);
    f->reset_value = RESET_VALUE;
    f->minor_version = 0;
    memcpy(f->hypervisor_vendor, "KICKVMM ", 8);
    seal(a, off);
    return off;
}

static size_t build_madt(struct area *a, const struct acpi_config *c)
{
    size_t len = sizeof(struct acpi_madt) + c->ncpus * sizeof(struct madt_lapic) +
                 sizeof(struct madt_ioapic) + sizeof(struct madt_iso) +
                 sizeof(struct madt_lapic_nmi);
    size_t off;
    struct acpi_madt *m = new_table(a, len, &off);
    if (!m)
        return 0;
    put_header(&m->h, "APIC", len, MADT_REVISION);
    m->lapic_addr = c->lapic_addr;
    m->flags = MADT_PCAT_COMPAT;
    struct madt_lapic *l = (struct madt_lapic *)(m + 1);
    for (unsigned i = 0; i < c->ncpus; i++, l++) {
        l->type = MADT_LAPIC;
        l->length = sizeof *l;
        l->processor_uid = (uint8_t)i;
        l->apic_id = (uint8_t)i;
        l->flags = MADT_ENABLED;
    }
    struct madt_ioapic *io = (struct madt_ioapic *)l;
    io->type = MADT_IOAPIC;
    io->length = sizeof *io;
    io->ioapic_id = c->ioapic_id;
    io->address = (uint32_t)c->ioapic_addr;
    io->gsi_base = 0;
    /* KVM's default routing wires ISA IRQ n to IOAPIC pin n, the PIT's IRQ 0
     * included (there is no IRQ0 -> GSI2 remap as on real chipsets or QEMU),
     * which is what no override says. Only the SCI needs one: ISA IRQs are
     * edge by default, the SCI is level. Active high, because KVM's IOAPIC
     * takes the line level as given (kvm_vm_irq_line(9, 1) = asserted). */
    struct madt_iso *sci = (struct madt_iso *)(io + 1);
    sci->type = MADT_ISO;
    sci->length = sizeof *sci;
    sci->bus = 0;
    sci->source = ACPI_SCI_IRQ;
    sci->gsi = ACPI_SCI_IRQ;
    sci->flags = MPS_ACTIVE_HIGH | MPS_LEVEL;
    struct madt_lapic_nmi *nmi = (struct madt_lapic_nmi *)(sci + 1);
    nmi->type = MADT_LAPIC_NMI;
    nmi->length = sizeof *nmi;
    nmi->processor_uid = 0xff; /* all processors */
    nmi->flags = 0;
    nmi->lint = LAPIC_NMI_LINT;
    seal(a, off);
    return off;
}

static size_t build_mcfg(struct area *a, const struct acpi_config *c)
{
    size_t len = sizeof(struct acpi_mcfg) + sizeof(struct mcfg_alloc), off;
    struct acpi_mcfg *m = new_table(a, len, &off);
    if (!m)
        return 0;
    put_header(&m->h, "MCFG", len, 1);
    struct mcfg_alloc *alloc = (struct mcfg_alloc *)(m + 1);
    alloc->base = c->ecam_base;
    alloc->segment = 0;
    alloc->bus_start = c->ecam_bus_start;
    alloc->bus_end = c->ecam_bus_end;
    seal(a, off);
    return off;
}

static size_t build_xsdt(struct area *a, const size_t *tables, unsigned n)
{
    size_t len = sizeof(struct acpi_header) + 8 * (size_t)n;
    size_t off = area_alloc(a, len, 8);
    if (a->overflow)
        return 0;
    struct acpi_header *h = (struct acpi_header *)(a->base + off);
    put_header(h, "XSDT", len, 1);
    for (unsigned i = 0; i < n; i++) {
        uint64_t addr = gpa32(tables[i]);
        memcpy(a->base + off + sizeof *h + 8 * i, &addr, 8);
    }
    seal(a, off);
    return off;
}

static void build_rsdp(struct area *a, size_t rsdp, size_t xsdt)
{
    struct acpi_rsdp *r = (struct acpi_rsdp *)(a->base + rsdp);
    memcpy(r->signature, "RSD PTR ", 8);
    memcpy(r->oem_id, OEM_ID, 6);
    r->revision = 2;
    r->length = sizeof *r;
    r->xsdt_addr = gpa32(xsdt);
    r->checksum = checksum(r, 20);
    r->ext_checksum = checksum(r, sizeof *r);
}

/* The DSDT. The names below are what tests/test_acpi.c looks for. */
static void dsdt_processors(struct aml *m, const struct acpi_config *c)
{
    for (unsigned i = 0; i < c->ncpus; i++) {
        char name[16];
        snprintf(name, sizeof name, "C%03X", i & 0xfff);
        size_t dev = aml_device(m, name);
        aml_name(m, "_HID");
        aml_string(m, "ACPI0007");
        aml_name(m, "_UID");
        aml_int(m, i); /* the MADT's processor UID */
        aml_close(m, dev);
    }
}

static void dsdt_pci_crs(struct aml *m, const struct acpi_config *c, uint8_t *tmp, size_t cap)
{
    struct aml r;
    aml_init(&r, tmp, cap);
    aml_res_word_bus(&r, c->ecam_bus_start, c->ecam_bus_end);
    aml_res_io(&r, 0x0cf8, 8); /* the config mechanism #1 ports the bridge itself uses */
    aml_res_word_io(&r, 0x0000, 0x0cf7);
    aml_res_word_io(&r, 0x0d00, 0xffff);
    aml_res_dword_mem(&r, c->mem32_base, c->mem32_end - 1);
    if (c->mem64_size)
        aml_res_qword_mem(&r, c->mem64_base, c->mem64_base + c->mem64_size - 1);
    aml_res_end(&r);
    aml_name(m, "_CRS");
    if (r.overflow)
        m->overflow = true;
    else
        aml_buffer(m, r.buf, r.len);
}

static void dsdt_pci_prt(struct aml *m, const struct acpi_config *c)
{
    unsigned n = 0;
    for (unsigned s = 0; s < ACPI_MAX_PCI_SLOTS; s++)
        n += (c->pci_slot_mask >> s & 1) * 4;
    aml_name(m, "_PRT");
    size_t prt = aml_package(m, n);
    for (unsigned s = 0; s < ACPI_MAX_PCI_SLOTS; s++) {
        if (!(c->pci_slot_mask >> s & 1))
            continue;
        for (unsigned pin = 0; pin < 4; pin++) {
            size_t e = aml_package(m, 4);
            aml_dword(m, s << 16 | 0xffff); /* any function of the slot */
            aml_int(m, pin);
            aml_int(m, 0);                  /* Source 0: Source Index is a GSI */
            aml_int(m, acpi_pci_gsi(s, pin));
            aml_close(m, e);
        }
    }
    aml_close(m, prt);
}

static void build_dsdt_body(struct aml *m, const struct acpi_config *c)
{
    /* \_S5: SLP_TYP for PM1a_CNT and PM1b_CNT (unused), then two reserved */
    aml_name(m, "\\_S5");
    size_t s5 = aml_package(m, 4);
    aml_int(m, ACPI_S5_SLP_TYP);
    aml_int(m, ACPI_S5_SLP_TYP);
    aml_int(m, 0);
    aml_int(m, 0);
    aml_close(m, s5);

    size_t sb = aml_scope(m, "\\_SB");
    dsdt_processors(m, c);

    size_t pci = aml_device(m, "PCI0");
    aml_name(m, "_HID");
    aml_eisaid(m, "PNP0A08"); /* PCI Express root: ECAM reaches 4 KiB config */
    aml_name(m, "_CID");
    aml_eisaid(m, "PNP0A03");
    aml_name(m, "_SEG");
    aml_int(m, 0);
    aml_name(m, "_BBN");
    aml_int(m, c->ecam_bus_start);
    aml_name(m, "_UID");
    aml_int(m, 0);
    size_t sta = aml_method(m, "_STA", 0, false);
    aml_return(m);
    aml_int(m, 0x0f); /* present, enabled, shown, functioning */
    aml_close(m, sta);
    uint8_t crs[160];
    dsdt_pci_crs(m, c, crs, sizeof crs);
    dsdt_pci_prt(m, c);
    aml_close(m, pci);

    size_t mres = aml_device(m, "MRES");
    aml_name(m, "_HID");
    aml_eisaid(m, "PNP0C02");
    aml_name(m, "_UID");
    aml_int(m, 1);
    struct aml r;
    uint8_t res[40];
    aml_init(&r, res, sizeof res);
    uint64_t ecam_lo = c->ecam_base + ((uint64_t)c->ecam_bus_start << 20);
    uint64_t ecam_len = ((uint64_t)c->ecam_bus_end - c->ecam_bus_start + 1) << 20;
    aml_res_mem32_fixed(&r, (uint32_t)ecam_lo, (uint32_t)ecam_len);
    aml_res_io(&r, c->pm1_base, PM1_EVT_LEN + PM1_CNT_LEN);
    aml_res_end(&r);
    aml_name(m, "_CRS");
    aml_buffer(m, r.buf, r.len);
    aml_close(m, mres);

    aml_close(m, sb);
}

static size_t build_dsdt(struct area *a, const struct acpi_config *c)
{
    size_t off = area_alloc(a, sizeof(struct acpi_header), 8);
    if (a->overflow)
        return 0;
    struct aml m;
    aml_init(&m, a->base + a->used, a->len - a->used);
    build_dsdt_body(&m, c);
    if (m.overflow) {
        a->overflow = true;
        return 0;
    }
    a->used += m.len;
    struct acpi_header *h = (struct acpi_header *)(a->base + off);
    put_header(h, "DSDT", sizeof *h + m.len, DSDT_REVISION);
    memcpy(h->oem_table_id, "KICKDSDT", 8);
    seal(a, off);
    return off;
}

static bool config_valid(const struct acpi_config *c)
{
    uint64_t ecam_lo = c->ecam_base + ((uint64_t)c->ecam_bus_start << 20);
    uint64_t ecam_hi = c->ecam_base + (((uint64_t)c->ecam_bus_end + 1) << 20);
    return c->ncpus >= 1 && c->ncpus <= ACPI_MAX_CPUS && c->ioapic_id >= c->ncpus &&
           c->ioapic_addr && c->ioapic_addr < 4 * GB && c->lapic_addr &&
           c->mem32_base < c->mem32_end &&
           (c->mem64_size == 0 ||
            (c->mem64_base >= 4 * GB && c->mem64_base + c->mem64_size > c->mem64_base)) &&
           c->ecam_bus_start <= c->ecam_bus_end && c->ecam_base % MB == 0 &&
           c->ecam_base < 4 * GB && ecam_hi <= 4 * GB &&
           (ecam_hi <= c->mem32_base || ecam_lo >= c->mem32_end) &&
           !(c->ioapic_addr >= ecam_lo && c->ioapic_addr < ecam_hi) &&
           !(c->lapic_addr >= ecam_lo && c->lapic_addr < ecam_hi) &&
           c->pm1_base >= 0x100 && c->pm1_base % 8 == 0 &&
           c->pm1_base + 8 <= 0x0cf8; /* inside the root's low I/O window */
}

void acpi_config_default(struct acpi_config *c, unsigned ncpus, uint64_t ram_end,
                         uint32_t pci_slot_mask)
{
    uint64_t above = ram_end > 4 * GB ? ram_end : 4 * GB;
    *c = (struct acpi_config){
        .ncpus = ncpus,
        .ioapic_addr = 0xFEC00000u,
        .ioapic_id = (uint8_t)ncpus,
        .lapic_addr = 0xFEE00000u,
        .mem32_base = 0xC0000000u,
        .mem32_end = 0xFEC00000u,
        .mem64_base = (above + GB - 1) & ~(GB - 1),
        .mem64_size = 16 * GB,
        .ecam_base = ACPI_ECAM_BASE,
        .ecam_bus_start = 0,
        .ecam_bus_end = 0,
        .pci_slot_mask = pci_slot_mask,
        .pm1_base = ACPI_PM1_BASE,
    };
}

int acpi_build(const struct acpi_config *c, void *bios_area, size_t len, uint64_t *rsdp_gpa)
{
    if (!config_valid(c) || len > ACPI_AREA_SIZE)
        return -EINVAL;
    struct area a = { .base = bios_area, .len = len };
    memset(bios_area, 0, len);
    /* The RSDP first, on a 16-byte boundary where Linux's scan starts. */
    size_t rsdp = area_alloc(&a, sizeof(struct acpi_rsdp), 16);
    size_t facs = build_facs(&a);
    size_t dsdt = build_dsdt(&a, c);
    size_t tables[3];
    tables[0] = build_fadt(&a, c, facs, dsdt);
    tables[1] = build_madt(&a, c);
    tables[2] = build_mcfg(&a, c);
    size_t xsdt = build_xsdt(&a, tables, 3);
    if (a.overflow)
        return -ENOSPC;
    build_rsdp(&a, rsdp, xsdt);
    *rsdp_gpa = ACPI_AREA_GPA + rsdp;
    return 0;
}
