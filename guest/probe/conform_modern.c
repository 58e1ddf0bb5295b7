/* Conformance rules for the modern interface's common configuration:
 * reset, queue selection and sizing, MSI-X vector mapping, configuration
 * generation and feature negotiation (virtio 1.2, 4.1.4.3 and 3.1). */
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "guest/probe/conform.h"

#define RESET_POLL_MAX     (1u << 20)
#define MAX_QUEUE_SIZE     32768u
#define GEN_READ_LOOPS     8
#define GEN_READ_BYTES     64u

static uint8_t status_after_reset(struct vdrv_dev *d)
{
    creg_write(d, VIRTIO_PCI_COMMON_STATUS, 0, 1);
    uint8_t s = 0xff;
    for (unsigned n = 0; n < RESET_POLL_MAX && s; n++)
        s = (uint8_t)creg_read(d, VIRTIO_PCI_COMMON_STATUS, 1);
    return s;
}

static uint16_t vector_roundtrip(struct vdrv_dev *d, uint64_t reg, uint16_t v)
{
    creg_write(d, reg, v, 2);
    return (uint16_t)creg_read(d, reg, 2);
}

static void check_vectors(struct vdrv_dev *d)
{
    if (!d->msix_cap) {
        /* Nothing to map to, so the mapping must fail visibly. */
        uint16_t got = vector_roundtrip(d, VIRTIO_PCI_COMMON_MSIX, 0);
        check(got == VIRTIO_MSI_NO_VECTOR,
              "without MSI-X, config_msix_vector=0 reads back NO_VECTOR (got 0x%04x)", got);
        creg_write(d, VIRTIO_PCI_COMMON_MSIX, VIRTIO_MSI_NO_VECTOR, 2);
        return;
    }
    uint16_t out = d->msix_size;
    uint16_t got = vector_roundtrip(d, VIRTIO_PCI_COMMON_MSIX, out);
    check(got == VIRTIO_MSI_NO_VECTOR,
          "config_msix_vector=%u (out of %u-entry table) reads back NO_VECTOR (got 0x%04x)",
          out, d->msix_size, got);
    got = vector_roundtrip(d, VIRTIO_PCI_COMMON_MSIX, 0);
    check(got == 0, "config_msix_vector=0 reads back 0 (got 0x%04x)", got);
    got = vector_roundtrip(d, VIRTIO_PCI_COMMON_MSIX, VIRTIO_MSI_NO_VECTOR);
    check(got == VIRTIO_MSI_NO_VECTOR, "config_msix_vector unmaps to NO_VECTOR (got 0x%04x)", got);

    creg_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
    got = vector_roundtrip(d, VIRTIO_PCI_COMMON_Q_MSIX, out);
    check(got == VIRTIO_MSI_NO_VECTOR,
          "queue 0 queue_msix_vector=%u (out of table) reads back NO_VECTOR (got 0x%04x)", out, got);
    got = vector_roundtrip(d, VIRTIO_PCI_COMMON_Q_MSIX, 0);
    check(got == 0, "queue 0 queue_msix_vector=0 reads back 0 (got 0x%04x)", got);
    creg_write(d, VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR, 2);
}

static void check_queues(struct vdrv_dev *d)
{
    uint16_t numq = (uint16_t)creg_read(d, VIRTIO_PCI_COMMON_NUMQ, 2);
    check(numq >= 1, "num_queues >= 1 (got %u)", numq);

    creg_write(d, VIRTIO_PCI_COMMON_Q_SELECT, numq, 2);
    uint16_t size = (uint16_t)creg_read(d, VIRTIO_PCI_COMMON_Q_SIZE, 2);
    check(size == 0, "queue_select=num_queues (%u) reads queue_size 0 (got %u)", numq, size);

    creg_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
    uint16_t max = (uint16_t)creg_read(d, VIRTIO_PCI_COMMON_Q_SIZE, 2);
    check(max >= 1 && max <= MAX_QUEUE_SIZE, "queue 0 maximum size in 1..32768 (got %u)", max);
    uint16_t en = (uint16_t)creg_read(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2);
    check(en == 0, "queue 0 queue_enable reads 0 after reset (got %u)", en);
    if (max < 2) {
        note("queue 0 maximum size %u: no smaller size to write", max);
        return;
    }
    uint16_t smaller = 1;
    while ((unsigned)smaller * 2 < max)
        smaller = (uint16_t)(smaller * 2);
    creg_write(d, VIRTIO_PCI_COMMON_Q_SIZE, smaller, 2);
    uint16_t got = (uint16_t)creg_read(d, VIRTIO_PCI_COMMON_Q_SIZE, 2);
    check(got == smaller, "queue 0 queue_size writable (wrote %u of max %u, read %u)", smaller,
          max, got);
    uint8_t s = status_after_reset(d);
    creg_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
    got = (uint16_t)creg_read(d, VIRTIO_PCI_COMMON_Q_SIZE, 2);
    check(s == 0 && got == max, "queue 0 queue_size back to its maximum after reset (got %u, max %u)",
          got, max);
}

static void check_generation(struct vdrv_dev *d)
{
    uint8_t first[GEN_READ_BYTES], again[GEN_READ_BYTES];
    uint32_t len = d->devcfg.bar >= 0 ? d->devcfg.len : 0;
    if (len > GEN_READ_BYTES)
        len = GEN_READ_BYTES;
    unsigned changed = 0;

    uint8_t gen0 = (uint8_t)creg_read(d, VIRTIO_PCI_COMMON_CFGGENERATION, 1);
    for (unsigned loop = 0; loop < GEN_READ_LOOPS; loop++) {
        uint8_t *buf = loop ? again : first;
        for (uint32_t i = 0; i < len; i++)
            buf[i] = (uint8_t)d->io->bar_read(d->io->ctx, d->devcfg.bar, d->devcfg.off + i, 1);
        if (loop && memcmp(first, again, len))
            changed++;
    }
    uint8_t gen1 = (uint8_t)creg_read(d, VIRTIO_PCI_COMMON_CFGGENERATION, 1);
    check(gen0 == gen1 && changed == 0,
          "config_generation stable over %u reads of %u config bytes (0x%02x -> 0x%02x, %u "
          "reads differed)",
          GEN_READ_LOOPS, len, gen0, gen1, changed);
}

static uint64_t device_features(struct vdrv_dev *d)
{
    creg_write(d, VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
    uint64_t lo = (uint32_t)creg_read(d, VIRTIO_PCI_COMMON_DF, 4);
    creg_write(d, VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
    uint64_t hi = (uint32_t)creg_read(d, VIRTIO_PCI_COMMON_DF, 4);
    return lo | hi << 32;
}

static void write_driver_features(struct vdrv_dev *d, uint64_t feat)
{
    creg_write(d, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
    creg_write(d, VIRTIO_PCI_COMMON_GF, (uint32_t)feat, 4);
    creg_write(d, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
    creg_write(d, VIRTIO_PCI_COMMON_GF, (uint32_t)(feat >> 32), 4);
}

/* Resets, says ACKNOWLEDGE|DRIVER, accepts feat and asks for FEATURES_OK;
 * returns the status read back. */
static uint8_t try_features(struct vdrv_dev *d, uint64_t feat)
{
    status_after_reset(d);
    creg_write(d, VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE, 1);
    creg_write(d, VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1);
    write_driver_features(d, feat);
    creg_write(d, VIRTIO_PCI_COMMON_STATUS,
               VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK, 1);
    return (uint8_t)creg_read(d, VIRTIO_PCI_COMMON_STATUS, 1);
}

static void check_features(struct vdrv_dev *d)
{
    uint64_t offered = device_features(d);
    note("device features 0x%016llx", (unsigned long long)offered);
    check(offered & (1ull << VIRTIO_F_VERSION_1), "modern interface offers VIRTIO_F_VERSION_1");

    /* An unoffered bit from the reserved range far from any device's own
     * bits, so accepting it can only be wrong. */
    int bit = -1;
    for (int b = 63; b >= 0 && bit < 0; b--)
        if (!(offered & (1ull << b)))
            bit = b;
    if (bit < 0) {
        note("every feature bit offered: no unoffered bit to try");
    } else {
        uint8_t s = try_features(d, (1ull << VIRTIO_F_VERSION_1) | (1ull << bit));
        check(!(s & VIRTIO_CONFIG_S_FEATURES_OK),
              "FEATURES_OK refused when the driver accepts unoffered bit %d (status 0x%02x)", bit, s);
    }
    uint8_t s = try_features(d, offered & (1ull << VIRTIO_F_VERSION_1));
    check(s & VIRTIO_CONFIG_S_FEATURES_OK,
          "FEATURES_OK accepted for the subset {VERSION_1} (status 0x%02x)", s);
    s = status_after_reset(d);
    check(s == 0, "device_status reads 0 after reset from FEATURES_OK (got 0x%02x)", s);
}

void conform_modern(struct pci_fn *f, struct vdrv_dev *d)
{
    (void)f;
    uint8_t s = status_after_reset(d);
    check(s == 0, "device_status reads 0 after reset (got 0x%02x)", s);
    uint16_t v = (uint16_t)creg_read(d, VIRTIO_PCI_COMMON_MSIX, 2);
    check(v == VIRTIO_MSI_NO_VECTOR, "config_msix_vector NO_VECTOR after reset (got 0x%04x)", v);
    check_queues(d);
    check_vectors(d);
    check_generation(d);
    check_features(d);
    status_after_reset(d);
}
