/* Stop requests (see run_stop.h). */
#include "vmm/run_stop.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

int run_stop_init(struct run_stop *st)
{
    *st = (struct run_stop){ .efd = -1 };
    pthread_mutex_init(&st->lock, NULL);
    st->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return st->efd < 0 ? -errno : 0;
}

void run_stop_destroy(struct run_stop *st)
{
    if (st->efd >= 0)
        close(st->efd);
    st->efd = -1;
    pthread_mutex_destroy(&st->lock);
}

void run_stop_request(struct run_stop *st, int status, bool error, const char *fmt, ...)
{
    pthread_mutex_lock(&st->lock);
    if (!st->requested) {
        st->requested = true;
        st->status = status;
        st->error = error;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(st->why, sizeof st->why, fmt, ap);
        va_end(ap);
        uint64_t one = 1;
        /* cannot fail short of a full counter, which one write never reaches */
        if (write(st->efd, &one, sizeof one) < 0)
            st->why[sizeof st->why - 1] = 0;
    }
    pthread_mutex_unlock(&st->lock);
}

bool run_stop_requested(struct run_stop *st)
{
    pthread_mutex_lock(&st->lock);
    bool r = st->requested;
    pthread_mutex_unlock(&st->lock);
    return r;
}

int run_stop_fd(const struct run_stop *st)
{
    return st->efd;
}
