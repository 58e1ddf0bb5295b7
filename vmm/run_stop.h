/* Why and with which status the VM ends. Any thread (a device on a vCPU
 * thread, the console on the main thread) may request the stop; the first
 * request wins, later ones are ignored. A request wakes whoever polls
 * run_stop_fd(). */
#ifndef KICK_RUN_STOP_H
#define KICK_RUN_STOP_H

#include <pthread.h>
#include <stdbool.h>

struct run_stop {
    pthread_mutex_t lock;
    bool requested;
    int status;     /* kick's exit status */
    bool error;     /* an error ended the run, not the guest */
    char why[256];
    int efd;        /* eventfd, readable once stop is requested */
};

int run_stop_init(struct run_stop *st);
void run_stop_destroy(struct run_stop *st);
/* error: the stop is a failure of kick or the VM, reported as one error line. */
void run_stop_request(struct run_stop *st, int status, bool error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool run_stop_requested(struct run_stop *st);
int run_stop_fd(const struct run_stop *st);

#endif
