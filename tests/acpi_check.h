/* An independent reader for the ACPI tables tests/test_acpi.c checks: table
 * lookup from the RSDP as an OS does it, and a small AML parser for exactly
 * the terms kick's DSDT may hold (Name, Scope, Device, Method, Return and
 * data objects), which fails on anything else or on any length that does not
 * add up. Written from the ACPI 6.x text, not from vmm/acpi*.c. */
#ifndef KICK_TEST_ACPI_CHECK_H
#define KICK_TEST_ACPI_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t rd32(const uint8_t *p)
{
    return rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static inline uint64_t rd64(const uint8_t *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static inline uint8_t sum8(const uint8_t *p, size_t len)
{
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

/* ---- AML ---- */

#define CHK_MAX_OBJS 800
#define CHK_PATH 48

struct chk_obj {
    char path[CHK_PATH];  /* absolute, segments padded: "\_SB_.PCI0._HID" */
    char kind;            /* 'N' name, 'D' device, 'S' scope, 'M' method */
    const uint8_t *data;  /* Name: its data object; Method: its body */
    const uint8_t *end;
};

struct chk_ns {
    struct chk_obj obj[CHK_MAX_OBJS];
    unsigned n;
};

/* PkgLength at *p: on success *p is past it and *obj_end is where the
 * object that starts at the PkgLength ends. */
static inline bool chk_pkglen(const uint8_t **p, const uint8_t *end, const uint8_t **obj_end)
{
    const uint8_t *start = *p;
    if (start >= end)
        return false;
    unsigned follow = start[0] >> 6;
    if (start + 1 + follow > end || (follow && (start[0] & 0x30)))
        return false;
    uint32_t len = follow ? start[0] & 0x0f : start[0] & 0x3f;
    for (unsigned i = 0; i < follow; i++)
        len |= (uint32_t)start[1 + i] << (4 + 8 * i);
    if (len < 1 + follow || len > (size_t)(end - start))
        return false;
    *p = start + 1 + follow;
    *obj_end = start + len;
    return true;
}

static inline bool chk_seg_char(uint8_t c, bool first)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9');
}

static inline bool chk_namestring(const uint8_t **p, const uint8_t *end, const char *scope,
                                  char out[CHK_PATH])
{
    const uint8_t *q = *p;
    char path[CHK_PATH];
    if (q < end && *q == '\\') {
        strcpy(path, "\\");
        q++;
    } else {
        snprintf(path, sizeof path, "%s", scope);
    }
    unsigned nseg = 1;
    if (q < end && *q == 0x2E) {
        nseg = 2;
        q++;
    } else if (q < end && *q == 0x2F) {
        if (q + 1 >= end)
            return false;
        nseg = q[1];
        q += 2;
    }
    for (unsigned s = 0; s < nseg; s++) {
        if (q + 4 > end)
            return false;
        for (int i = 0; i < 4; i++)
            if (!chk_seg_char(q[i], i == 0))
                return false;
        size_t l = strlen(path);
        if (l + 6 >= CHK_PATH)
            return false;
        if (l > 1)
            path[l++] = '.';
        memcpy(path + l, q, 4);
        path[l + 4] = 0;
        q += 4;
    }
    strcpy(out, path);
    *p = q;
    return true;
}

/* Integer constant at *p (ZeroOp, OneOp, OnesOp, Byte/Word/DWord/QWord). */
static inline bool chk_int(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    const uint8_t *q = *p;
    if (q >= end)
        return false;
    unsigned n;
    switch (*q) {
    case 0x00: *v = 0; *p = q + 1; return true;
    case 0x01: *v = 1; *p = q + 1; return true;
    case 0xFF: *v = ~0ull; *p = q + 1; return true;
    case 0x0A: n = 1; break;
    case 0x0B: n = 2; break;
    case 0x0C: n = 4; break;
    case 0x0E: n = 8; break;
    default: return false;
    }
    if (q + 1 + n > end)
        return false;
    *v = 0;
    for (unsigned i = 0; i < n; i++)
        *v |= (uint64_t)q[1 + i] << (8 * i);
    *p = q + 1 + n;
    return true;
}

static inline bool chk_dataobj(const uint8_t **p, const uint8_t *end, unsigned depth);

static inline bool chk_package(const uint8_t **p, const uint8_t *end, unsigned depth,
                               unsigned *nelems)
{
    const uint8_t *q = *p + 1, *obj_end;
    if (!chk_pkglen(&q, end, &obj_end) || q >= obj_end)
        return false;
    unsigned n = *q++, count = 0;
    while (q < obj_end) {
        if (!chk_dataobj(&q, obj_end, depth + 1))
            return false;
        count++;
    }
    if (count != n) /* kick never emits fewer initializers than elements */
        return false;
    if (nelems)
        *nelems = n;
    *p = obj_end;
    return true;
}

/* Buffer at *p: the bytes it holds. */
static inline bool chk_buffer(const uint8_t **p, const uint8_t *end, const uint8_t **bytes,
                              size_t *len)
{
    const uint8_t *q = *p + 1, *obj_end;
    uint64_t size;
    if (!chk_pkglen(&q, end, &obj_end) || !chk_int(&q, obj_end, &size) ||
        size != (uint64_t)(obj_end - q))
        return false;
    *bytes = q;
    *len = (size_t)size;
    *p = obj_end;
    return true;
}

static inline bool chk_dataobj(const uint8_t **p, const uint8_t *end, unsigned depth)
{
    uint64_t v;
    if (*p >= end || depth > 8)
        return false;
    switch (**p) {
    case 0x0D: { /* String: printable ASCII up to NUL */
        const uint8_t *q = *p + 1;
        while (q < end && *q >= 0x20 && *q < 0x7f)
            q++;
        if (q >= end || *q != 0)
            return false;
        *p = q + 1;
        return true;
    }
    case 0x11: {
        const uint8_t *b;
        size_t l;
        return chk_buffer(p, end, &b, &l);
    }
    case 0x12:
        return chk_package(p, end, depth, NULL);
    default:
        return chk_int(p, end, &v);
    }
}

static inline bool chk_add(struct chk_ns *ns, const char *path, char kind, const uint8_t *data,
                           const uint8_t *end)
{
    if (ns->n >= CHK_MAX_OBJS)
        return false;
    for (unsigned i = 0; i < ns->n; i++)
        if (strcmp(ns->obj[i].path, path) == 0 && kind != 'S')
            return false; /* a name defined twice */
    struct chk_obj *o = &ns->obj[ns->n++];
    snprintf(o->path, sizeof o->path, "%s", path);
    o->kind = kind;
    o->data = data;
    o->end = end;
    return true;
}

static inline bool chk_terms(const uint8_t *p, const uint8_t *end, const char *scope,
                             struct chk_ns *ns, bool in_method, unsigned depth)
{
    char path[CHK_PATH];
    if (depth > 8)
        return false;
    while (p < end) {
        const uint8_t *obj_end, *data;
        switch (*p) {
        case 0x08: /* Name */
            p++;
            if (in_method || !chk_namestring(&p, end, scope, path))
                return false;
            data = p;
            if (!chk_dataobj(&p, end, 0) || !chk_add(ns, path, 'N', data, p))
                return false;
            break;
        case 0x10: /* Scope */
            p++;
            if (in_method || !chk_pkglen(&p, end, &obj_end) ||
                !chk_namestring(&p, obj_end, scope, path) || !chk_add(ns, path, 'S', p, obj_end) ||
                !chk_terms(p, obj_end, path, ns, false, depth + 1))
                return false;
            p = obj_end;
            break;
        case 0x5B: /* Device */
            if (in_method || p + 1 >= end || p[1] != 0x82)
                return false;
            p += 2;
            if (!chk_pkglen(&p, end, &obj_end) || !chk_namestring(&p, obj_end, scope, path) ||
                !chk_add(ns, path, 'D', p, obj_end) ||
                !chk_terms(p, obj_end, path, ns, false, depth + 1))
                return false;
            p = obj_end;
            break;
        case 0x14: /* Method */
            p++;
            if (in_method || !chk_pkglen(&p, end, &obj_end) ||
                !chk_namestring(&p, obj_end, scope, path) || p >= obj_end || (*p & 0xf0))
                return false;
            p++; /* flags: sync level 0 */
            if (!chk_add(ns, path, 'M', p, obj_end) ||
                !chk_terms(p, obj_end, path, ns, true, depth + 1))
                return false;
            p = obj_end;
            break;
        case 0xA4: /* Return */
            p++;
            if (!in_method || !chk_dataobj(&p, end, 0))
                return false;
            break;
        default:
            return false;
        }
    }
    return p == end;
}

static inline const struct chk_obj *chk_find(const struct chk_ns *ns, const char *path)
{
    for (unsigned i = 0; i < ns->n; i++)
        if (strcmp(ns->obj[i].path, path) == 0)
            return &ns->obj[i];
    return NULL;
}

/* ---- resource templates ---- */

struct chk_res {
    uint8_t tag;         /* the descriptor's first byte, e.g. 0x47 IO, 0x79 End Tag */
    uint8_t space, gflags, tflags;
    uint64_t min, max, len;
};

/* Splits a ResourceTemplate into descriptors; false unless it ends exactly
 * with an End Tag. */
static inline bool chk_resources(const uint8_t *b, size_t len, struct chk_res *out, unsigned max,
                                 unsigned *n)
{
    size_t i = 0;
    *n = 0;
    while (i < len && *n < max) {
        struct chk_res r = { .tag = b[i] };
        size_t body, hdr;
        if (b[i] & 0x80) {
            if (i + 3 > len)
                return false;
            hdr = 3;
            body = rd16(b + i + 1);
        } else {
            hdr = 1;
            body = b[i] & 7;
        }
        if (i + hdr + body > len)
            return false;
        const uint8_t *d = b + i + hdr;
        unsigned w = 0;
        switch (b[i]) {
        case 0x47: /* IO */
            if (body != 7)
                return false;
            r.min = rd16(d + 1);
            r.max = rd16(d + 3);
            r.len = d[6];
            break;
        case 0x86: /* Memory32Fixed */
            if (body != 9)
                return false;
            r.tflags = d[0];
            r.min = rd32(d + 1);
            r.len = rd32(d + 5);
            r.max = r.min + r.len - 1;
            break;
        case 0x88: w = 2; break;
        case 0x87: w = 4; break;
        case 0x8A: w = 8; break;
        case 0x79:
            if (body != 1 || i + 2 != len)
                return false;
            out[(*n)++] = r;
            return true;
        default:
            return false;
        }
        if (w) {
            if (body != 3 + 5 * w)
                return false;
            r.space = d[0];
            r.gflags = d[1];
            r.tflags = d[2];
            uint64_t f[5];
            for (unsigned k = 0; k < 5; k++) {
                f[k] = 0;
                for (unsigned j = 0; j < w; j++)
                    f[k] |= (uint64_t)d[3 + k * w + j] << (8 * j);
            }
            if (f[0] != 0 || f[3] != 0) /* granularity, translation */
                return false;
            r.min = f[1];
            r.max = f[2];
            r.len = f[4];
        }
        out[(*n)++] = r;
        i += hdr + body;
    }
    return false;
}

#endif
