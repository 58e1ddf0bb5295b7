/* `kick demo`: kick's driver side drives kick's device side through the PCI
 * model and prints what it negotiated and moved. */
#include "vmm/loopback_demo.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "backends/entropy.h"
#include "devices/rng.h"
#include "vmm/echo_dev.h"
#include "vmm/loopback.h"

struct demo_opts {
    enum vpci_mode mode;
    bool msix;
    unsigned requests;
};

static const struct {
    unsigned bit;
    const char *name;
} feature_names[] = {
    { VIRTIO_RING_F_INDIRECT_DESC, "RING_INDIRECT_DESC" },
    { VIRTIO_RING_F_EVENT_IDX, "RING_EVENT_IDX" },
    { VIRTIO_F_VERSION_1, "VERSION_1" },
    { VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM" },
    { VIRTIO_F_RING_PACKED, "RING_PACKED" },
    { VIRTIO_F_RING_RESET, "RING_RESET" },
};

static void print_features(const char *label, uint64_t f)
{
    printf("  %s 0x%016" PRIx64 " (", label, f);
    bool first = true;
    for (size_t i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++) {
        if (f & (1ull << feature_names[i].bit)) {
            printf("%s%s", first ? "" : " ", feature_names[i].name);
            first = false;
        }
    }
    printf(")\n");
}

static const char *mode_name(enum vpci_mode m)
{
    return m == VPCI_MODERN ? "modern" : m == VPCI_LEGACY ? "legacy" : "transitional";
}

static void print_irqs(const struct loopback_fn *fn)
{
    if (fn->drv.msix_enabled)
        printf("  interrupts: MSI-X vector 0 (config) %u, vector 1 (queue 0) %u\n", fn->msi[0],
               fn->msi[1]);
    else
        printf("  interrupts: INTx raised %u times, serviced through the ISR\n",
               fn->intx_raises);
}

/* One request; the interrupt the loopback device raised is serviced the way
 * a driver would (ISR read with INTx). */
static int demo_roundtrip(struct loopback_fn *fn, const struct vdrv_sg *sg, unsigned nout,
                          unsigned nin, uint32_t *written)
{
    int rc = loopback_fn_roundtrip(fn, sg, nout, nin, written);
    (void)loopback_fn_take_irq(fn);
    return rc;
}

static int demo_rng(struct loopback *lb, const struct demo_opts *o)
{
    struct rng_dev rng;
    struct loopback_fn fn;
    rng_dev_init(&rng, entropy_getrandom, NULL);
    int rc = loopback_fn_attach(&fn, lb, &rng.vdev, o->mode, o->msix ? 2 : 0);
    if (rc < 0)
        return fprintf(stderr, "kick demo: rng attach failed: %s\n", strerror(-rc)), rc;
    printf("virtio-rng  PCI %04x:%04x rev %u subsystem %04x, device offers %s\n", fn.t.pci.cfg[0] | fn.t.pci.cfg[1] << 8,
           fn.t.pci.cfg[2] | fn.t.pci.cfg[3] << 8, fn.t.pci.cfg[8],
           fn.t.pci.cfg[0x2e] | fn.t.pci.cfg[0x2f] << 8, mode_name(o->mode));
    rc = loopback_fn_driver_up(&fn, false, o->msix, ~0ull, 256);
    if (rc < 0) {
        fprintf(stderr, "kick demo: rng driver bring-up failed: %s\n", strerror(-rc));
        goto out;
    }
    printf("  driver chose the %s interface, queue 0 size %u\n", fn.drv.modern ? "modern" : "legacy",
           fn.vq.size);
    print_features("negotiated", fn.drv.features);

    uint64_t pa;
    uint8_t *buf = loopback_alloc(lb, 64, 64, &pa);
    uint64_t total = 0, nonzero = 0;
    for (unsigned i = 0; i < o->requests && rc == 0; i++) {
        struct vdrv_sg sg = { pa, 64 };
        uint32_t got = 0;
        memset(buf, 0, 64);
        rc = demo_roundtrip(&fn, &sg, 0, 1, &got);
        total += got;
        for (unsigned j = 0; j < got && j < 64; j++)
            nonzero += buf[j] != 0;
    }
    if (rc < 0) {
        fprintf(stderr, "kick demo: rng request failed: %s\n", strerror(-rc));
        goto out;
    }
    printf("  %u requests of 64 bytes: device wrote %" PRIu64 " bytes (%" PRIu64 " non-zero)\n",
           o->requests, total, nonzero);
    print_irqs(&fn);
    if (total != 64ull * o->requests || nonzero == 0)
        rc = -EIO;
out:
    loopback_fn_detach(&fn);
    return rc;
}

static int demo_echo(struct loopback *lb, const struct demo_opts *o)
{
    struct echo_dev echo;
    struct loopback_fn fn;
    echo_dev_init(&echo, 256);
    int rc = loopback_fn_attach(&fn, lb, &echo.vdev, VPCI_MODERN, o->msix ? 2 : 0);
    if (rc < 0)
        return fprintf(stderr, "kick demo: echo attach failed: %s\n", strerror(-rc)), rc;
    printf("echo (test device, modern only)\n");
    rc = loopback_fn_driver_up(&fn, false, o->msix, ~0ull, 256);
    if (rc < 0) {
        fprintf(stderr, "kick demo: echo driver bring-up failed: %s\n", strerror(-rc));
        goto out;
    }
    print_features("negotiated", fn.drv.features);
    uint64_t hpa, ppa, rpa;
    uint8_t *hdr = loopback_alloc(lb, 16, 16, &hpa);
    uint8_t *payload = loopback_alloc(lb, 512, 64, &ppa);
    uint8_t *reply = loopback_alloc(lb, 528, 64, &rpa);
    unsigned verified = 0;
    for (unsigned i = 0; i < o->requests && rc == 0; i++) {
        for (unsigned j = 0; j < 16; j++)
            hdr[j] = (uint8_t)(i + j);
        for (unsigned j = 0; j < 512; j++)
            payload[j] = (uint8_t)(i * 7 + j);
        struct vdrv_sg sg[3] = { { hpa, 16 }, { ppa, 512 }, { rpa, 528 } };
        uint32_t got = 0;
        rc = demo_roundtrip(&fn, sg, 2, 1, &got);
        if (rc == 0 && got == 528 && !memcmp(reply, hdr, 16) && !memcmp(reply + 16, payload, 512))
            verified++;
    }
    if (rc < 0) {
        fprintf(stderr, "kick demo: echo request failed: %s\n", strerror(-rc));
        goto out;
    }
    printf("  %u requests of 3 descriptors (16+512 bytes out, 528 in): %u echoed back intact\n",
           o->requests, verified);
    print_irqs(&fn);
    if (verified != o->requests)
        rc = -EIO;
out:
    loopback_fn_detach(&fn);
    return rc;
}

static int parse(int argc, char **argv, struct demo_opts *o)
{
    *o = (struct demo_opts){ VPCI_TRANSITIONAL, true, 64 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--intx")) {
            o->msix = false;
        } else if (!strcmp(a, "--transport") && i + 1 < argc) {
            const char *m = argv[++i];
            if (!strcmp(m, "modern"))
                o->mode = VPCI_MODERN;
            else if (!strcmp(m, "legacy"))
                o->mode = VPCI_LEGACY;
            else if (!strcmp(m, "transitional"))
                o->mode = VPCI_TRANSITIONAL;
            else
                return fprintf(stderr, "kick demo: --transport '%s': expected modern, legacy or transitional\n", m), -1;
        } else if (!strcmp(a, "--requests") && i + 1 < argc) {
            char *end;
            unsigned long n = strtoul(argv[++i], &end, 10);
            if (*end || n == 0 || n > 1000000)
                return fprintf(stderr, "kick demo: --requests '%s': expected a number from 1 to 1000000\n", argv[i]), -1;
            o->requests = (unsigned)n;
        } else {
            return fprintf(stderr, "kick demo: unknown or incomplete option '%s' (try 'kick --help')\n", a), -1;
        }
    }
    return 0;
}

int loopback_demo_main(int argc, char **argv)
{
    struct demo_opts o;
    if (parse(argc, argv, &o) < 0)
        return 2;
    struct loopback lb;
    int rc = loopback_init(&lb, 16 << 20);
    if (rc < 0) {
        fprintf(stderr, "kick demo: cannot allocate guest memory: %s\n", strerror(-rc));
        return 1;
    }
    printf("kick loopback demo: guest-side driver (guest/) <-> device side (virtio/, pci/), "
           "%s, MSI-X %s\n", mode_name(o.mode), o.msix ? "on" : "off (INTx)");
    rc = demo_rng(&lb, &o);
    if (rc == 0)
        rc = demo_echo(&lb, &o);
    loopback_destroy(&lb);
    printf("demo: %s\n", rc == 0 ? "ok" : "FAILED");
    return rc == 0 ? 0 : 1;
}
