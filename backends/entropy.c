#include "backends/entropy.h"

#include <errno.h>
#include <sys/random.h>

ssize_t entropy_getrandom(void *opaque, void *buf, size_t len)
{
    (void)opaque;
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom((char *)buf + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}
