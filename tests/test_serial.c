/* 8250 UART model: what Linux's 8250 driver relies on (autoconfig, loopback test, THRE and RX
 * interrupts, FIFO, divisor latch), driven through its register interface. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <linux/serial_reg.h>

#include "vmm/serial.h"

struct sink {
    uint8_t out[64];
    size_t n;
    bool level;
    unsigned edges; /* rising edges of the interrupt line */
};

static void sink_tx(void *opaque, uint8_t b)
{
    struct sink *s = opaque;
    if (s->n < sizeof s->out)
        s->out[s->n++] = b;
}

static void sink_irq(void *opaque, bool level)
{
    struct sink *s = opaque;
    if (level && !s->level)
        s->edges++;
    s->level = level;
}

static const struct serial_ops ops = { .tx = sink_tx, .irq = sink_irq };

static int setup(void **state)
{
    static struct serial8250 uart;
    static struct sink sink;
    memset(&sink, 0, sizeof sink);
    serial_init(&uart, &ops, &sink);
    state[0] = &uart;
    return 0;
}

static int teardown(void **state)
{
    serial_destroy(state[0]);
    return 0;
}

#define SINK(u) ((struct sink *)(u)->opaque)

static void tx_goes_out_and_thr_stays_empty(void **state)
{
    struct serial8250 *u = *state;
    serial_write(u, UART_TX, 'h');
    serial_write(u, UART_TX, 'i');
    assert_int_equal(SINK(u)->n, 2);
    assert_memory_equal(SINK(u)->out, "hi", 2);
    uint8_t lsr = serial_read(u, UART_LSR);
    assert_true(lsr & UART_LSR_THRE);
    assert_true(lsr & UART_LSR_TEMT);
    assert_false(lsr & UART_LSR_DR);
    assert_false(SINK(u)->level); /* no interrupt enabled */
}

static void divisor_latch_hides_data_registers(void **state)
{
    struct serial8250 *u = *state;
    serial_write(u, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
    serial_write(u, UART_DLL, 0x01);
    serial_write(u, UART_DLM, 0x02);
    assert_int_equal(serial_read(u, UART_DLL), 0x01);
    assert_int_equal(serial_read(u, UART_DLM), 0x02);
    assert_int_equal(SINK(u)->n, 0); /* the DLL write was not a transmit */
    serial_write(u, UART_LCR, UART_LCR_WLEN8);
    assert_int_equal(serial_read(u, UART_IER), 0); /* IER untouched by the DLM write */
    assert_int_equal(serial_read(u, UART_LCR), UART_LCR_WLEN8);
}

static void autoconfig_sees_16550a(void **state)
{
    struct serial8250 *u = *state;
    /* Linux: IER must hold 0 and then 0x0f */
    serial_write(u, UART_IER, 0);
    assert_int_equal(serial_read(u, UART_IER) & 0x0f, 0);
    serial_write(u, UART_IER, 0xff);
    assert_int_equal(serial_read(u, UART_IER) & 0x0f, 0x0f);
    serial_write(u, UART_IER, 0);
    serial_write(u, UART_SCR, 0xa5);
    assert_int_equal(serial_read(u, UART_SCR), 0xa5);
    /* FIFO enable: IIR's top bits say 16550A */
    serial_write(u, UART_FCR, UART_FCR_ENABLE_FIFO);
    assert_int_equal(serial_read(u, UART_IIR) & 0xc0, 0xc0);
    serial_write(u, UART_FCR, 0);
    assert_int_equal(serial_read(u, UART_IIR) & 0xc0, 0);
}

static void loopback_reflects_mcr_and_keeps_tx_inside(void **state)
{
    struct serial8250 *u = *state;
    serial_write(u, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_RTS);
    assert_int_equal(serial_read(u, UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_CTS);
    serial_write(u, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT1 | UART_MCR_DTR);
    assert_int_equal(serial_read(u, UART_MSR) & 0xf0, UART_MSR_RI | UART_MSR_DSR);
    serial_write(u, UART_TX, 'L');
    assert_int_equal(SINK(u)->n, 0);
    assert_true(serial_read(u, UART_LSR) & UART_LSR_DR);
    assert_int_equal(serial_read(u, UART_RX), 'L');
    uint8_t b = 'x';
    assert_int_equal(serial_receive(u, &b, 1), 0); /* line disconnected in loopback */
    serial_write(u, UART_MCR, 0);
    assert_int_equal(serial_read(u, UART_MSR) & 0xf0,
                     UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
}

static void thre_interrupt_on_enable_acked_by_iir(void **state)
{
    struct serial8250 *u = *state;
    assert_int_equal(serial_read(u, UART_IIR) & 0x0f, UART_IIR_NO_INT);
    serial_write(u, UART_IER, UART_IER_THRI);
    assert_true(SINK(u)->level);
    assert_int_equal(serial_read(u, UART_IIR) & 0x0f, UART_IIR_THRI);
    /* reading IIR acknowledged it */
    assert_false(SINK(u)->level);
    assert_int_equal(serial_read(u, UART_IIR) & 0x0f, UART_IIR_NO_INT);
    /* a write empties THR at once: interrupt again, a new edge */
    unsigned edges = SINK(u)->edges;
    serial_write(u, UART_TX, 'a');
    assert_true(SINK(u)->level);
    assert_int_equal(SINK(u)->edges, edges + 1);
    serial_write(u, UART_IER, 0);
    assert_false(SINK(u)->level);
}

static void rx_fifo_interrupt_and_order(void **state)
{
    struct serial8250 *u = *state;
    serial_write(u, UART_FCR, UART_FCR_ENABLE_FIFO);
    serial_write(u, UART_IER, UART_IER_RDI);
    assert_false(SINK(u)->level);
    uint8_t in[20];
    for (unsigned i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)('a' + i);
    assert_int_equal(serial_receive(u, in, sizeof in), SERIAL_FIFO_SIZE);
    assert_true(SINK(u)->level);
    assert_int_equal(serial_read(u, UART_IIR) & 0x0f, UART_IIR_RDI);
    for (unsigned i = 0; i < SERIAL_FIFO_SIZE; i++) {
        assert_true(serial_read(u, UART_LSR) & UART_LSR_DR);
        assert_int_equal(serial_read(u, UART_RX), 'a' + i);
    }
    assert_false(serial_read(u, UART_LSR) & UART_LSR_DR);
    assert_false(SINK(u)->level);
    /* the rest arrives once there is room, nothing lost */
    assert_int_equal(serial_receive(u, in + SERIAL_FIFO_SIZE, 4), 4);
    assert_int_equal(serial_read(u, UART_RX), 'a' + SERIAL_FIFO_SIZE);
}

static void without_fifo_one_byte_and_fcr_clears(void **state)
{
    struct serial8250 *u = *state;
    uint8_t in[3] = { 1, 2, 3 };
    assert_int_equal(serial_receive(u, in, 3), 1);
    serial_write(u, UART_FCR, UART_FCR_ENABLE_FIFO); /* mode change empties the FIFO */
    assert_false(serial_read(u, UART_LSR) & UART_LSR_DR);
    assert_int_equal(serial_receive(u, in, 3), 3);
    serial_write(u, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR);
    assert_false(serial_read(u, UART_LSR) & UART_LSR_DR);
}

static void loopback_overrun_reported_once(void **state)
{
    struct serial8250 *u = *state;
    serial_write(u, UART_IER, UART_IER_RLSI);
    serial_write(u, UART_MCR, UART_MCR_LOOP);
    serial_write(u, UART_TX, 1);
    serial_write(u, UART_TX, 2); /* no FIFO: overrun */
    assert_true(SINK(u)->level);
    assert_int_equal(serial_read(u, UART_IIR) & 0x0f, UART_IIR_RLSI);
    assert_true(serial_read(u, UART_LSR) & UART_LSR_OE);
    assert_false(serial_read(u, UART_LSR) & UART_LSR_OE);
    assert_false(SINK(u)->level);
    assert_int_equal(serial_read(u, UART_RX), 1);
}

static void pio_adapter_uses_low_byte(void **state)
{
    struct serial8250 *u = *state;
    serial_pio_write(u, UART_SCR, 2, 0x1234);
    assert_int_equal(serial_pio_read(u, UART_SCR, 1), 0x34);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(tx_goes_out_and_thr_stays_empty),
        T(divisor_latch_hides_data_registers),
        T(autoconfig_sees_16550a),
        T(loopback_reflects_mcr_and_keeps_tx_inside),
        T(thre_interrupt_on_enable_acked_by_iir),
        T(rx_fifo_interrupt_and_order),
        T(without_fifo_one_byte_and_fcr_clears),
        T(loopback_overrun_reported_once),
        T(pio_adapter_uses_low_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
