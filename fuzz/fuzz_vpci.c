/* libFuzzer target: a hostile guest driving a virtio-pci function.
 *
 * Input: one byte choosing the mode and MSI-X vector count, then records of
 * 12 bytes: op, len code, 2 bytes of offset, 8 bytes of value. Ops are config
 * space and BAR accesses (any width, any offset), writes into guest RAM (so
 * rings the guest enables can hold anything), and device-side events
 * (interrupts, config changes, resets). The device pops and completes every
 * chain it is kicked for. Nothing may crash, hang or touch memory it should
 * not; ASan/UBSan watch. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <linux/virtio_ids.h>

#include "virtio/gmem.h"
#include "virtio/vpci.h"

#define RAM_SIZE 0x10000
#define NQ 3
#define QMAX 8
#define REC 12

struct fuzz_state {
    uint8_t ram[RAM_SIZE];
    struct gmem mem;
    struct virtq vqs[NQ];
    uint8_t config[12];
    struct virtio_dev dev;
    struct vpci t;
};

static struct fuzz_state S;

static void fz_notify(struct virtio_dev *d, unsigned q)
{
    struct iovec iov[QMAX * 2];
    struct virtq_elem e = { .iov = iov, .iov_cap = sizeof iov / sizeof iov[0] };
    struct virtq *vq = &d->vqs[q];

    /* Bounded: a queue holds at most QMAX chains at once, and a broken
     * queue pops nothing. */
    for (int n = 0; n < 4 * QMAX && virtq_pop(vq, &e) == 1; n++)
        virtq_push(vq, e.head, e.in_len);
    virtio_dev_queue_irq(d, q);
}

static void fz_config_write(struct virtio_dev *d, uint32_t off, const void *buf, uint32_t len)
{
    memcpy((uint8_t *)d->config + off, buf, len);
    virtio_dev_config_changed(d);
}

static const struct virtio_dev_ops fz_ops = {
    .queue_notify = fz_notify,
    .config_write = fz_config_write,
};

static void fz_msi(struct vpci *t, uint64_t addr, uint32_t data)
{
    (void)t, (void)addr, (void)data;
}

static void fz_intx(struct vpci *t, bool level)
{
    (void)t, (void)level;
}

static const struct vpci_host_ops fz_host = { .msi = fz_msi, .intx = fz_intx };

static const unsigned len_codes[] = { 1, 2, 4, 8, 1, 2, 4, 0, 3, 5, 6, 7, 1, 2, 4, 8 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const enum vpci_mode modes[] = { VPCI_MODERN, VPCI_LEGACY, VPCI_TRANSITIONAL,
                                            VPCI_TRANSITIONAL };
    enum vpci_mode mode = modes[data[0] & 3];
    unsigned nvec = (data[0] >> 2) & 7; /* 0: no MSI-X */
    data++, size--;

    memset(&S, 0, sizeof S);
    gmem_init(&S.mem);
    if (gmem_add(&S.mem, 0, RAM_SIZE, S.ram) < 0)
        __builtin_trap();
    virtio_dev_init(&S.dev, VIRTIO_ID_NET, (1ull << 5) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
                        (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_F_RING_RESET),
                    S.vqs, NQ, QMAX, S.config, sizeof S.config, &fz_ops, NULL);
    S.dev.mem = &S.mem;
    if (vpci_init(&S.t, &S.dev, mode, nvec, &fz_host, NULL) < 0)
        __builtin_trap(); /* a valid configuration must always build */
    struct pci_func *f = vpci_func(&S.t);

    for (; size >= REC; data += REC, size -= REC) {
        uint8_t op = data[0];
        unsigned len = len_codes[data[1] & 15];
        uint64_t off = data[2] | (uint64_t)data[3] << 8;
        uint8_t val[8];
        memcpy(val, data + 4, 8);
        /* Now and then an offset far outside anything. */
        if (data[1] & 0x80)
            off |= (uint64_t)val[7] << 56 | (uint64_t)val[6] << 32;
        int bar = (data[1] >> 4) % PCI_NUM_BARS;
        uint8_t buf[8];

        switch (op % 8) {
        case 0:
            pci_cfg_read(f, (uint32_t)(off % (PCI_CFG_SIZE + 8)), buf, len);
            break;
        case 1:
            pci_cfg_write(f, (uint32_t)(off % (PCI_CFG_SIZE + 8)), val, len);
            break;
        case 2:
            pci_bar_read(f, bar, off, buf, len);
            break;
        case 3:
            pci_bar_write(f, bar, off, val, len);
            break;
        case 4: /* the guest fills its RAM (rings, descriptors) */
            memcpy(S.ram + (off % (RAM_SIZE - 8)), val, 8);
            break;
        case 5: /* device side: interrupts and config changes */
            if (val[0] & 1)
                virtio_dev_config_changed(&S.dev);
            else
                virtio_dev_queue_irq(&S.dev, val[1] % (NQ + 1));
            break;
        case 6: /* device side: a kick arriving through ioeventfd */
            virtio_dev_notify(&S.dev, val[0] % (NQ + 2));
            break;
        case 7:
            if ((val[0] & 15) == 0)
                vpci_reset(&S.t);
            else if ((val[0] & 15) == 1)
                virtio_dev_needs_reset(&S.dev);
            break;
        }
    }
    vpci_destroy(&S.t);
    return 0;
}
