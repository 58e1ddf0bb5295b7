/* AML emitter (see acpi_aml.h). Opcode values are from ACPI 6.x section 20.3
 * (AML grammar definitions); resource descriptor layouts from 6.4. */
#include "vmm/acpi_aml.h"

#include <string.h>

enum {
    ZERO_OP = 0x00,
    ONE_OP = 0x01,
    NAME_OP = 0x08,
    BYTE_PREFIX = 0x0A,
    WORD_PREFIX = 0x0B,
    DWORD_PREFIX = 0x0C,
    STRING_PREFIX = 0x0D,
    QWORD_PREFIX = 0x0E,
    SCOPE_OP = 0x10,
    BUFFER_OP = 0x11,
    PACKAGE_OP = 0x12,
    METHOD_OP = 0x14,
    DUAL_NAME_PREFIX = 0x2E,
    MULTI_NAME_PREFIX = 0x2F,
    EXT_OP_PREFIX = 0x5B,
    DEVICE_OP = 0x82, /* after EXT_OP_PREFIX */
    ROOT_CHAR = 0x5C,
    RETURN_OP = 0xA4,
};

/* Resource descriptor tags and fixed lengths (bytes after the header). */
enum {
    RES_IO = 0x47,            /* small item 0x08, length 7 */
    RES_END = 0x79,           /* small item 0x0F, length 1 */
    RES_MEM32_FIXED = 0x86,
    RES_DWORD = 0x87,
    RES_WORD = 0x88,
    RES_QWORD = 0x8A,
    RES_MEM32_FIXED_LEN = 9,
    RES_WORD_LEN = 13,
    RES_DWORD_LEN = 23,
    RES_QWORD_LEN = 43,
};

enum { SPACE_MEM = 0, SPACE_IO = 1, SPACE_BUS = 2 };
/* General flags: bridge windows are produced (bit 0 clear), with a fixed
 * minimum and maximum (bits 2, 3), positive decode (bit 1 clear). */
#define ADDR_WINDOW_FLAGS 0x0C
#define MEM_RW            0x01 /* non-cacheable: never prefetchable, see acpi.c */
#define IO_RANGE_ENTIRE   0x03

#define PKGLEN_MAX 0x0FFFFFFFu

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
    a->buf = buf;
    a->cap = cap;
    a->len = 0;
    a->overflow = false;
}

void aml_raw(struct aml *a, const void *p, size_t n)
{
    if (a->overflow || n > a->cap - a->len) {
        a->overflow = true;
        return;
    }
    memcpy(a->buf + a->len, p, n);
    a->len += n;
}

void aml_u8(struct aml *a, uint8_t v)
{
    aml_raw(a, &v, 1);
}

void aml_le(struct aml *a, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        aml_u8(a, (uint8_t)(v >> (8 * i)));
}

void aml_int(struct aml *a, uint64_t v)
{
    if (v <= 1) {
        aml_u8(a, v ? ONE_OP : ZERO_OP);
    } else if (v <= 0xff) {
        aml_u8(a, BYTE_PREFIX);
        aml_le(a, v, 1);
    } else if (v <= 0xffff) {
        aml_u8(a, WORD_PREFIX);
        aml_le(a, v, 2);
    } else if (v <= 0xffffffffu) {
        aml_u8(a, DWORD_PREFIX);
        aml_le(a, v, 4);
    } else {
        aml_u8(a, QWORD_PREFIX);
        aml_le(a, v, 8);
    }
}

void aml_dword(struct aml *a, uint32_t v)
{
    aml_u8(a, DWORD_PREFIX);
    aml_le(a, v, 4);
}

void aml_string(struct aml *a, const char *s)
{
    aml_u8(a, STRING_PREFIX);
    for (; *s; s++)
        aml_u8(a, (uint8_t)(*s >= 0x20 && *s < 0x7f ? *s : '?'));
    aml_u8(a, 0);
}

void aml_eisaid(struct aml *a, const char *id)
{
    /* Three letters of 5 bits each ('A' = 1), then four hex digits, stored
     * big-endian by nibble: the byte order Windows and Linux expect. */
    uint32_t v = 0;
    for (int i = 0; i < 3; i++)
        v = v << 5 | (uint32_t)((id[i] - '@') & 0x1f);
    for (int i = 3; i < 7; i++) {
        char c = id[i];
        uint32_t d = c >= '0' && c <= '9' ? (uint32_t)(c - '0')
                     : c >= 'A' && c <= 'F' ? (uint32_t)(c - 'A' + 10) : 0;
        v = v << 4 | d;
    }
    /* v holds the 32 bits most significant first; AML wants them as bytes. */
    uint32_t swapped = (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
    aml_dword(a, swapped);
}

static void name_seg(struct aml *a, const char *s, size_t n)
{
    for (size_t i = 0; i < 4; i++)
        aml_u8(a, (uint8_t)(i < n ? s[i] : '_'));
}

void aml_namestring(struct aml *a, const char *path)
{
    if (*path == '\\') {
        aml_u8(a, ROOT_CHAR);
        path++;
    }
    unsigned nseg = *path ? 1 : 0;
    for (const char *p = path; *p; p++)
        nseg += *p == '.';
    if (nseg == 0) {
        aml_u8(a, 0); /* NullName */
        return;
    }
    if (nseg == 2)
        aml_u8(a, DUAL_NAME_PREFIX);
    else if (nseg > 2) {
        aml_u8(a, MULTI_NAME_PREFIX);
        aml_u8(a, (uint8_t)nseg);
    }
    while (*path) {
        size_t n = strcspn(path, ".");
        name_seg(a, path, n > 4 ? 4 : n);
        path += n;
        if (*path == '.')
            path++;
    }
}

void aml_name(struct aml *a, const char *path)
{
    aml_u8(a, NAME_OP);
    aml_namestring(a, path);
}

void aml_return(struct aml *a)
{
    aml_u8(a, RETURN_OP);
}

size_t aml_scope(struct aml *a, const char *path)
{
    aml_u8(a, SCOPE_OP);
    size_t mark = a->len;
    aml_namestring(a, path);
    return mark;
}

size_t aml_device(struct aml *a, const char *path)
{
    aml_u8(a, EXT_OP_PREFIX);
    aml_u8(a, DEVICE_OP);
    size_t mark = a->len;
    aml_namestring(a, path);
    return mark;
}

size_t aml_method(struct aml *a, const char *path, unsigned nargs, bool serialized)
{
    aml_u8(a, METHOD_OP);
    size_t mark = a->len;
    aml_namestring(a, path);
    aml_u8(a, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0)));
    return mark;
}

size_t aml_package(struct aml *a, unsigned nelems)
{
    aml_u8(a, PACKAGE_OP);
    size_t mark = a->len;
    aml_u8(a, (uint8_t)nelems);
    return mark;
}

void aml_close(struct aml *a, size_t mark)
{
    if (a->overflow || mark > a->len)
        return;
    size_t body = a->len - mark;
    unsigned n = body + 1 <= 0x3f ? 1 : body + 2 <= 0xfff ? 2 : body + 3 <= 0xfffff ? 3 : 4;
    if (body + n > PKGLEN_MAX || n > a->cap - a->len) {
        a->overflow = true;
        return;
    }
    uint32_t total = (uint32_t)(body + n); /* PkgLength counts its own bytes */
    memmove(a->buf + mark + n, a->buf + mark, body);
    uint8_t *p = a->buf + mark;
    if (n == 1) {
        p[0] = (uint8_t)total;
    } else {
        p[0] = (uint8_t)((n - 1) << 6 | (total & 0x0f));
        for (unsigned i = 1; i < n; i++)
            p[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
    }
    a->len += n;
}

void aml_buffer(struct aml *a, const void *data, size_t len)
{
    aml_u8(a, BUFFER_OP);
    size_t mark = a->len;
    aml_int(a, len);
    aml_raw(a, data, len);
    aml_close(a, mark);
}

void aml_res_io(struct aml *a, uint16_t base, uint8_t len)
{
    aml_u8(a, RES_IO);
    aml_u8(a, 0x01); /* 16-bit decode */
    aml_le(a, base, 2);
    aml_le(a, base, 2);
    aml_u8(a, 1);    /* alignment */
    aml_u8(a, len);
}

void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len)
{
    aml_u8(a, RES_MEM32_FIXED);
    aml_le(a, RES_MEM32_FIXED_LEN, 2);
    aml_u8(a, MEM_RW);
    aml_le(a, base, 4);
    aml_le(a, len, 4);
}

/* Word, DWord and QWord address space descriptors differ only in tag and
 * field width: granularity, min, max, translation, length. */
static void addr_space(struct aml *a, uint8_t tag, unsigned width, uint8_t space,
                       uint8_t type_flags, uint64_t min, uint64_t max)
{
    aml_u8(a, tag);
    aml_le(a, 3 + 5 * width, 2);
    aml_u8(a, space);
    aml_u8(a, ADDR_WINDOW_FLAGS);
    aml_u8(a, type_flags);
    aml_le(a, 0, width);             /* granularity: fixed window */
    aml_le(a, min, width);
    aml_le(a, max, width);
    aml_le(a, 0, width);             /* no translation */
    aml_le(a, max - min + 1, width);
}

void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
    addr_space(a, RES_WORD, 2, SPACE_BUS, 0, min, max);
}

void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max)
{
    addr_space(a, RES_WORD, 2, SPACE_IO, IO_RANGE_ENTIRE, min, max);
}

void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max)
{
    addr_space(a, RES_DWORD, 4, SPACE_MEM, MEM_RW, min, max);
}

void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max)
{
    addr_space(a, RES_QWORD, 8, SPACE_MEM, MEM_RW, min, max);
}

void aml_res_end(struct aml *a)
{
    aml_u8(a, RES_END);
    aml_u8(a, 0); /* checksum 0: "treat as if the checksum were correct" */
}

_Static_assert(3 + 5 * 2 == RES_WORD_LEN, "Word address space descriptor length");
_Static_assert(3 + 5 * 4 == RES_DWORD_LEN, "DWord address space descriptor length");
_Static_assert(3 + 5 * 8 == RES_QWORD_LEN, "QWord address space descriptor length");
