/* Verdict lines: one PASS/FAIL line per rule with what was observed, and the
 * summary the run scripts read. */
#include "guest/probe/probe.h"

static char subject[48];
static unsigned passes, failures;

static size_t put_hex(char *out, size_t n, unsigned v, unsigned digits)
{
    for (unsigned i = digits; i-- > 0;)
        out[n++] = "0123456789abcdef"[(v >> (4 * i)) & 15];
    return n;
}

static size_t put_text(char *out, size_t n, size_t cap, const char *s)
{
    while (*s && n + 1 < cap)
        out[n++] = *s++;
    return n;
}

void report_subject(const struct pci_fn *f, const char *type, const char *mode)
{
    size_t n = 0;
    n = put_hex(subject, n, f->bus, 2);
    subject[n++] = ':';
    n = put_hex(subject, n, f->dev, 2);
    subject[n++] = '.';
    n = put_hex(subject, n, f->fn, 1);
    subject[n++] = ' ';
    n = put_text(subject, n, sizeof(subject), type);
    if (*mode) {
        n = put_text(subject, n, sizeof(subject), " ");
        n = put_text(subject, n, sizeof(subject), mode);
    }
    subject[n] = 0;
}

void report_subject_name(const char *name)
{
    size_t n = put_text(subject, 0, sizeof(subject), name);
    subject[n] = 0;
}

bool check(bool ok, const char *fmt, ...)
{
    va_list ap;
    if (ok)
        passes++;
    else
        failures++;
    con_printf("%s %s: ", ok ? "PASS" : "FAIL", subject);
    va_start(ap, fmt);
    con_vprintf(fmt, ap);
    va_end(ap);
    con_printf("\n");
    return ok;
}

void note(const char *fmt, ...)
{
    va_list ap;
    con_printf("INFO %s: ", subject);
    va_start(ap, fmt);
    con_vprintf(fmt, ap);
    va_end(ap);
    con_printf("\n");
}

unsigned report_failures(void)
{
    return failures;
}

void report_summary(void)
{
    con_printf("PROBE-SUMMARY: pass=%u fail=%u\n", passes, failures);
}
