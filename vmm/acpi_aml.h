/* A tiny AML byte-code emitter (ACPI 6.x chapter 20, "ACPI Machine Language
 * Specification") for the few objects kick's DSDT needs, and the resource
 * descriptors (chapter 6.4) of its _CRS buffers.
 *
 * Everything goes into one caller-supplied buffer. Objects with a PkgLength
 * (Scope, Device, Method, Package, Buffer) are opened, filled, then closed:
 * aml_close() measures what was written since the matching open and inserts
 * the shortest PkgLength encoding in front of it, so nesting needs no sizes
 * computed in advance. A write past the end sets `overflow` and writes
 * nothing further; check it once at the end. */
#ifndef KICK_ACPI_AML_H
#define KICK_ACPI_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
    uint8_t *buf;
    size_t cap, len;
    bool overflow;
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
void aml_raw(struct aml *a, const void *p, size_t n);
void aml_u8(struct aml *a, uint8_t v);
void aml_le(struct aml *a, uint64_t v, unsigned bytes); /* raw little-endian */

/* Data objects. */
void aml_int(struct aml *a, uint64_t v);       /* Zero/One/Byte/Word/DWord/QWord, smallest */
void aml_dword(struct aml *a, uint32_t v);     /* always DWordConst */
void aml_string(struct aml *a, const char *s); /* printable ASCII only */
void aml_eisaid(struct aml *a, const char *id); /* "PNP0A08": compressed EISA id */
void aml_buffer(struct aml *a, const void *data, size_t len);

/* A NameString: optional leading '\', then 1-4 character segments separated
 * by '.', each padded with '_' (e.g. "\\_SB.PCI0", "_HID"). */
void aml_namestring(struct aml *a, const char *path);

/* Name (path, <object>): the caller emits the object next. */
void aml_name(struct aml *a, const char *path);
/* Return (<object>): the caller emits the object next. */
void aml_return(struct aml *a);

/* Opens a PkgLength-prefixed object; returns the mark for aml_close(). */
size_t aml_scope(struct aml *a, const char *path);
size_t aml_device(struct aml *a, const char *path);
size_t aml_method(struct aml *a, const char *path, unsigned nargs, bool serialized);
size_t aml_package(struct aml *a, unsigned nelems);
void aml_close(struct aml *a, size_t mark);

/* Resource descriptors for a ResourceTemplate (ACPI 6.4.2/6.4.3). Address
 * space descriptors here describe bridge windows: produced, min and max fixed,
 * positive decode, no translation. */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len);        /* IO (Decode16) fixed */
void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len);
void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max);
void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max);
void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max);
void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max);
void aml_res_end(struct aml *a);

#endif
