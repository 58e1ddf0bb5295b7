/* An 8250/16550A UART as Linux's 8250 driver sees it: THR/RBR, IER, IIR/FCR,
 * LCR (with DLAB: DLL/DLM), MCR (with loopback), LSR, MSR, SCR, and a 16-byte
 * receive FIFO. Transmission is instant (THR is always empty again by the time
 * the guest looks), so the THRE interrupt fires as soon as it is enabled or a
 * byte is written. The interrupt is a level the owner forwards to the
 * interrupt controller.
 *
 * The model is locked: the vCPU thread does register accesses, another thread
 * feeds received bytes. Callbacks run with the lock held and must not call
 * back into the model. */
#ifndef KICK_SERIAL_H
#define KICK_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ  4
#define SERIAL_NREGS     8
#define SERIAL_FIFO_SIZE 16

struct serial_ops {
    void (*tx)(void *opaque, uint8_t byte);   /* a byte left the UART */
    void (*irq)(void *opaque, bool level);    /* interrupt line changed */
};

struct serial8250 {
    pthread_mutex_t lock;
    const struct serial_ops *ops;
    void *opaque;
    uint8_t ier, lcr, mcr, fcr, scr, dll, dlm;
    bool overrun;       /* LSR.OE until LSR is read */
    bool thr_ipending;  /* THRE interrupt latched, cleared by IIR read or THR write */
    bool irq_level;
    uint8_t rx[SERIAL_FIFO_SIZE];
    unsigned rx_head, rx_count;
};

void serial_init(struct serial8250 *s, const struct serial_ops *ops, void *opaque);
void serial_destroy(struct serial8250 *s);

/* Register access at offset 0..7 from the base port. */
uint8_t serial_read(struct serial8250 *s, unsigned off);
void serial_write(struct serial8250 *s, unsigned off, uint8_t value);

/* Bytes from the outside world (the console). Takes as many as the FIFO has
 * room for and returns that count; a full FIFO takes none (the caller retries
 * later, nothing is lost). */
size_t serial_receive(struct serial8250 *s, const uint8_t *buf, size_t len);

/* iobus adapters (opaque = struct serial8250 *); wider accesses touch the low
 * byte's register only, as on the ISA bus. */
uint64_t serial_pio_read(void *opaque, uint64_t off, unsigned size);
void serial_pio_write(void *opaque, uint64_t off, unsigned size, uint64_t value);

#endif
