#include "vmm/loopback.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

int loopback_init(struct loopback *lb, size_t ram_size)
{
    memset(lb, 0, sizeof(*lb));
    /* mmap gives page-aligned, zeroed memory and a guard past its end. */
    void *p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    lb->ram = p;
    lb->ram_size = ram_size;
    gmem_init(&lb->mem);
    return gmem_add(&lb->mem, LOOPBACK_RAM_GPA, ram_size, p);
}

void loopback_destroy(struct loopback *lb)
{
    if (lb->ram)
        munmap(lb->ram, lb->ram_size);
    lb->ram = NULL;
}

void *loopback_alloc(struct loopback *lb, size_t size, size_t align, uint64_t *pa)
{
    uint64_t off = (lb->brk + align - 1) & ~(uint64_t)(align - 1);
    if (off > lb->ram_size || size > lb->ram_size - off)
        return NULL;
    lb->brk = off + size;
    memset(lb->ram + off, 0, size);
    if (pa)
        *pa = LOOPBACK_RAM_GPA + off;
    return lb->ram + off;
}

uint64_t loopback_pa(const struct loopback *lb, const void *p)
{
    return LOOPBACK_RAM_GPA + (uint64_t)((const uint8_t *)p - lb->ram);
}

/* --- the guest's view of the function: vdrv_io over the PCI model --- */

static uint32_t lb_cfg_read(void *ctx, uint32_t off, unsigned len)
{
    struct loopback_fn *fn = ctx;
    return pci_cfg_read_val(&fn->t.pci, off, len);
}

static void lb_cfg_write(void *ctx, uint32_t off, uint32_t val, unsigned len)
{
    struct loopback_fn *fn = ctx;
    pci_cfg_write_val(&fn->t.pci, off, val, len);
}

static uint64_t lb_bar_read(void *ctx, int bar, uint64_t off, unsigned len)
{
    struct loopback_fn *fn = ctx;
    uint64_t v = 0;
    /* A real bus routes nothing to a BAR whose decode is off. */
    if (!pci_bar_enabled(&fn->t.pci, bar))
        return ~0ull >> (64 - 8 * len);
    pci_bar_read(&fn->t.pci, bar, off, &v, len);
    return v;
}

static void lb_bar_write(void *ctx, int bar, uint64_t off, uint64_t val, unsigned len)
{
    struct loopback_fn *fn = ctx;
    if (pci_bar_enabled(&fn->t.pci, bar))
        pci_bar_write(&fn->t.pci, bar, off, &val, len);
}

/* --- the interrupt controller's view --- */

static void lb_msi(struct vpci *t, uint64_t addr, uint32_t data)
{
    struct loopback_fn *fn = t->host;
    if (addr != LOOPBACK_MSI_ADDR || data < LOOPBACK_MSI_DATA ||
        data >= LOOPBACK_MSI_DATA + LOOPBACK_MAX_VECS) {
        fn->msi_bad++;
        return;
    }
    fn->msi[data - LOOPBACK_MSI_DATA]++;
    fn->msi_total++;
}

static void lb_intx(struct vpci *t, bool level)
{
    struct loopback_fn *fn = t->host;
    if (level && !fn->intx_level)
        fn->intx_raises++;
    fn->intx_level = level;
}

static const struct vpci_host_ops lb_host_ops = {
    .msi = lb_msi,
    .intx = lb_intx,
};

/* Firmware's job: give every BAR an address and turn decoding on. */
static void lb_place_bars(struct loopback_fn *fn)
{
    struct pci_func *f = &fn->t.pci;
    uint64_t mem = 0xc0000000ull + (uint64_t)fn->slot * 0x100000;
    uint32_t io = 0xc000 + fn->slot * 0x100;

    for (int n = 0; n < PCI_NUM_BARS; n++) {
        const struct pci_bar *b = &f->bar[n];
        if (!b->size)
            continue;
        uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * n;
        if (b->flags & PCI_BAR_IO) {
            pci_cfg_write_val(f, reg, io, 4);
            io += b->size < 0x40 ? 0x40 : (uint32_t)b->size;
            continue;
        }
        uint64_t sz = b->size < 0x1000 ? 0x1000 : b->size;
        mem = (mem + sz - 1) & ~(sz - 1);
        pci_cfg_write_val(f, reg, (uint32_t)mem, 4);
        if (b->flags & PCI_BAR_MEM64) {
            pci_cfg_write_val(f, reg + 4, (uint32_t)(mem >> 32), 4);
            n++;
        }
        mem += sz;
    }
    pci_cfg_write_val(f, PCI_COMMAND,
                      PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
}

int loopback_fn_attach(struct loopback_fn *fn, struct loopback *lb, struct virtio_dev *dev,
                       enum vpci_mode mode, unsigned msix_vectors)
{
    memset(fn, 0, sizeof(*fn));
    fn->lb = lb;
    fn->slot = lb->nfn++;
    dev->mem = &lb->mem;
    int rc = vpci_init(&fn->t, dev, mode, msix_vectors, &lb_host_ops, fn);
    if (rc < 0)
        return rc;
    fn->io = (struct vdrv_io){ lb_cfg_read, lb_cfg_write, lb_bar_read, lb_bar_write, fn };
    lb_place_bars(fn);
    return 0;
}

void loopback_fn_detach(struct loopback_fn *fn)
{
    vpci_destroy(&fn->t);
}

int loopback_fn_driver_begin(struct loopback_fn *fn, bool force_legacy, bool use_msix,
                             uint64_t wanted)
{
    struct vdrv_dev *d = &fn->drv;
    int rc = vdrv_pci_probe(d, &fn->io, force_legacy);
    if (rc < 0)
        return rc;
    vdrv_reset(d);
    vdrv_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    rc = vdrv_negotiate(d, wanted);
    if (rc < 0 || !use_msix)
        return rc;
    rc = vdrv_msix_enable(d, LOOPBACK_MSI_ADDR, LOOPBACK_MSI_DATA);
    return rc < 0 ? rc : vdrv_set_config_vector(d, 0);
}

int loopback_fn_queue(struct loopback_fn *fn, unsigned q, struct vdrv_vq *vq, uint16_t want,
                      void **tokens, uint16_t *chain_len, uint16_t vector)
{
    struct vdrv_dev *d = &fn->drv;
    int max = vdrv_queue_max(d, q);
    if (max <= 0)
        return max < 0 ? max : -ENOENT;
    uint16_t size = (!d->modern || !want || max < want) ? (uint16_t)max : want;
    if (size > 1024)
        return -E2BIG;
    uint64_t pa;
    void *mem = loopback_alloc(fn->lb, vdrv_vq_mem_size(size, !d->modern), 4096, &pa);
    if (!mem)
        return -ENOMEM;
    return vdrv_setup_queue(d, q, vq, size, mem, pa, tokens, chain_len, vector);
}

int loopback_fn_driver_ok(struct loopback_fn *fn)
{
    vdrv_add_status(&fn->drv, VIRTIO_CONFIG_S_DRIVER_OK);
    return (vdrv_get_status(&fn->drv) & VIRTIO_CONFIG_S_NEEDS_RESET) ? -EIO : 0;
}

int loopback_fn_driver_up(struct loopback_fn *fn, bool force_legacy, bool use_msix,
                          uint64_t wanted, uint16_t qsize)
{
    int rc = loopback_fn_driver_begin(fn, force_legacy, use_msix, wanted);
    if (rc == 0)
        rc = loopback_fn_queue(fn, 0, &fn->vq, qsize, fn->tokens, fn->chain_len,
                               use_msix ? 1 : VIRTIO_MSI_NO_VECTOR);
    return rc < 0 ? rc : loopback_fn_driver_ok(fn);
}

int loopback_fn_roundtrip(struct loopback_fn *fn, const struct vdrv_sg *sg, unsigned nout,
                          unsigned nin, uint32_t *written)
{
    static char token;
    int rc = vdrv_vq_add(&fn->vq, sg, nout, nin, &token);
    if (rc < 0)
        return rc;
    if (vdrv_vq_kick_prepare(&fn->vq))
        vdrv_notify(&fn->drv, 0);
    return vdrv_vq_get_used(&fn->vq, written) == &token ? 0 : -EIO;
}

unsigned loopback_fn_take_irq(struct loopback_fn *fn)
{
    if (fn->drv.msix_enabled) {
        unsigned fresh = fn->msi_total - fn->msi_taken;
        fn->msi_taken = fn->msi_total;
        return fresh ? 1 : 0;
    }
    return vdrv_read_isr(&fn->drv);
}
