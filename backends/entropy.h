/* Entropy source for virtio-rng: the kernel's CSPRNG via getrandom(2). */
#ifndef KICK_ENTROPY_H
#define KICK_ENTROPY_H

#include <stddef.h>
#include <sys/types.h>

/* Fills buf with len random bytes; returns len or a negative errno. */
ssize_t entropy_getrandom(void *opaque, void *buf, size_t len);

#endif
