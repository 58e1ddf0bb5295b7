/* 8250/16550A UART model (see serial.h). Register layout and bits from
 * <linux/serial_reg.h>. */
#include "vmm/serial.h"

#include <string.h>

#include <linux/serial_reg.h>

/* Modem status bits reported when the line is not in loopback: carrier,
 * data set ready, clear to send, i.e. "a terminal is connected". */
#define MSR_CONNECTED (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS)

void serial_init(struct serial8250 *s, const struct serial_ops *ops, void *opaque)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    s->ops = ops;
    s->opaque = opaque;
    s->lcr = UART_LCR_WLEN8;
    s->dll = 0x0c; /* 9600 baud, as firmware leaves it */
    /* Like most PC UARTs, OUT2 set at power-on does no harm; Linux rewrites it. */
    s->mcr = UART_MCR_OUT2;
}

void serial_destroy(struct serial8250 *s)
{
    pthread_mutex_destroy(&s->lock);
}

static unsigned rx_capacity(const struct serial8250 *s)
{
    return (s->fcr & UART_FCR_ENABLE_FIFO) ? SERIAL_FIFO_SIZE : 1;
}

/* Highest-priority pending interrupt as IIR encodes it (without FIFO bits). */
static uint8_t pending_iir(const struct serial8250 *s)
{
    if ((s->ier & UART_IER_RLSI) && s->overrun)
        return UART_IIR_RLSI;
    if ((s->ier & UART_IER_RDI) && s->rx_count)
        return UART_IIR_RDI;
    if ((s->ier & UART_IER_THRI) && s->thr_ipending)
        return UART_IIR_THRI;
    /* Modem status never changes outside loopback, and delta bits are not
     * modelled, so there is never a modem status interrupt. */
    return UART_IIR_NO_INT;
}

static void update_irq(struct serial8250 *s)
{
    bool level = pending_iir(s) != UART_IIR_NO_INT;
    if (level != s->irq_level) {
        s->irq_level = level;
        if (s->ops && s->ops->irq)
            s->ops->irq(s->opaque, level);
    }
}

static void rx_push(struct serial8250 *s, uint8_t byte)
{
    if (s->rx_count >= rx_capacity(s)) {
        s->overrun = true;
        return;
    }
    s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = byte;
    s->rx_count++;
}

static uint8_t rx_pop(struct serial8250 *s)
{
    if (!s->rx_count)
        return 0;
    uint8_t b = s->rx[s->rx_head];
    s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
    s->rx_count--;
    return b;
}

static uint8_t modem_status(const struct serial8250 *s)
{
    if (!(s->mcr & UART_MCR_LOOP))
        return MSR_CONNECTED;
    uint8_t msr = 0;
    if (s->mcr & UART_MCR_RTS)
        msr |= UART_MSR_CTS;
    if (s->mcr & UART_MCR_DTR)
        msr |= UART_MSR_DSR;
    if (s->mcr & UART_MCR_OUT1)
        msr |= UART_MSR_RI;
    if (s->mcr & UART_MCR_OUT2)
        msr |= UART_MSR_DCD;
    return msr;
}

static uint8_t read_locked(struct serial8250 *s, unsigned off)
{
    bool dlab = s->lcr & UART_LCR_DLAB;
    uint8_t v;
    switch (off) {
    case UART_RX:
        if (dlab)
            return s->dll;
        v = rx_pop(s);
        update_irq(s);
        return v;
    case UART_IER:
        return dlab ? s->dlm : s->ier;
    case UART_IIR:
        v = pending_iir(s);
        if (v == UART_IIR_THRI) {
            s->thr_ipending = false; /* reading IIR acknowledges THRE */
            update_irq(s);
        }
        if (s->fcr & UART_FCR_ENABLE_FIFO)
            v |= 0xc0; /* "FIFOs enabled": identifies a 16550A */
        return v;
    case UART_LCR:
        return s->lcr;
    case UART_MCR:
        return s->mcr;
    case UART_LSR:
        v = UART_LSR_THRE | UART_LSR_TEMT;
        if (s->rx_count)
            v |= UART_LSR_DR;
        if (s->overrun) {
            v |= UART_LSR_OE;
            s->overrun = false;
            update_irq(s);
        }
        return v;
    case UART_MSR:
        return modem_status(s);
    case UART_SCR:
        return s->scr;
    default:
        return 0xff;
    }
}

static void write_locked(struct serial8250 *s, unsigned off, uint8_t value)
{
    bool dlab = s->lcr & UART_LCR_DLAB;
    switch (off) {
    case UART_TX:
        if (dlab) {
            s->dll = value;
            return;
        }
        if (s->mcr & UART_MCR_LOOP)
            rx_push(s, value);
        else if (s->ops && s->ops->tx)
            s->ops->tx(s->opaque, value);
        /* sent at once: THR is empty again */
        s->thr_ipending = true;
        break;
    case UART_IER:
        if (dlab) {
            s->dlm = value;
            return;
        }
        if ((value & UART_IER_THRI) && !(s->ier & UART_IER_THRI))
            s->thr_ipending = true;
        s->ier = value & 0x0f;
        break;
    case UART_FCR:
        if ((value ^ s->fcr) & UART_FCR_ENABLE_FIFO)
            value |= UART_FCR_CLEAR_RCVR; /* toggling FIFO mode empties it */
        if (value & UART_FCR_CLEAR_RCVR)
            s->rx_head = s->rx_count = 0;
        s->fcr = value & (UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_MASK);
        break;
    case UART_LCR:
        s->lcr = value;
        return;
    case UART_MCR:
        s->mcr = value & 0x1f;
        break;
    case UART_SCR:
        s->scr = value;
        return;
    default: /* LSR and MSR are read-only */
        return;
    }
    update_irq(s);
}

uint8_t serial_read(struct serial8250 *s, unsigned off)
{
    pthread_mutex_lock(&s->lock);
    uint8_t v = read_locked(s, off);
    pthread_mutex_unlock(&s->lock);
    return v;
}

void serial_write(struct serial8250 *s, unsigned off, uint8_t value)
{
    pthread_mutex_lock(&s->lock);
    write_locked(s, off, value);
    pthread_mutex_unlock(&s->lock);
}

size_t serial_receive(struct serial8250 *s, const uint8_t *buf, size_t len)
{
    pthread_mutex_lock(&s->lock);
    size_t n = 0;
    /* In loopback the line is disconnected from the outside world. */
    if (!(s->mcr & UART_MCR_LOOP)) {
        while (n < len && s->rx_count < rx_capacity(s))
            rx_push(s, buf[n++]);
        update_irq(s);
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

uint64_t serial_pio_read(void *opaque, uint64_t off, unsigned size)
{
    (void)size;
    return serial_read(opaque, (unsigned)off);
}

void serial_pio_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
    (void)size;
    serial_write(opaque, (unsigned)off, (uint8_t)value);
}
