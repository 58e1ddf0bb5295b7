/* Builds kick's ACPI tables and writes each one to OUTDIR/<signature>.dat,
 * following the chain from the RSDP as an OS would, for `iasl -d`
 * (tests/test_acpi_iasl.sh).  Usage: acpi_dump OUTDIR [NCPUS [SLOTMASK]] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/acpi.h"

static uint8_t area[ACPI_AREA_SIZE];

static const uint8_t *at(uint64_t gpa, size_t len)
{
    if (gpa < ACPI_AREA_GPA || gpa - ACPI_AREA_GPA > sizeof area - len) {
        fprintf(stderr, "acpi_dump: address %#llx outside the area\n", (unsigned long long)gpa);
        exit(1);
    }
    return area + (gpa - ACPI_AREA_GPA);
}

static uint32_t le32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void dump(const char *dir, const char *name, const uint8_t *p, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.dat", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void dump_table(const char *dir, uint64_t gpa)
{
    const uint8_t *h = at(gpa, 36);
    char sig[5] = { 0 };
    for (int i = 0; i < 4; i++)
        sig[i] = (char)(h[i] | 0x20); /* lower case file names */
    dump(dir, sig, at(gpa, le32(h + 4)), le32(h + 4));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: acpi_dump OUTDIR [NCPUS [SLOTMASK]]\n");
        return 2;
    }
    unsigned ncpus = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 4;
    uint32_t slots = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 0xfffffffe;
    struct acpi_config c;
    acpi_config_default(&c, ncpus, 0x80000000ull, slots);
    uint64_t rsdp;
    int r = acpi_build(&c, area, sizeof area, &rsdp);
    if (r) {
        fprintf(stderr, "acpi_dump: acpi_build: %s\n", strerror(-r));
        return 1;
    }
    const uint8_t *rp = at(rsdp, 36);
    dump(argv[1], "rsdp", rp, le32(rp + 20));
    uint64_t xsdt = le64(rp + 24);
    const uint8_t *x = at(xsdt, 36);
    dump_table(argv[1], xsdt);
    for (uint32_t off = 36; off + 8 <= le32(x + 4); off += 8) {
        uint64_t t = le64(x + off);
        dump_table(argv[1], t);
        if (memcmp(at(t, 4), "FACP", 4) == 0) {
            const uint8_t *fadt = at(t, 148);
            dump(argv[1], "facs", at(le32(fadt + 36), 64), 64);
            dump_table(argv[1], le64(fadt + 140));
        }
    }
    return 0;
}
