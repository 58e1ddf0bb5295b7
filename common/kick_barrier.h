/* Memory ordering for rings shared with another agent (a guest vCPU, a device
 * thread, another process). Freestanding: usable from guest/ too.
 *
 * On x86-64 loads are not reordered with loads nor stores with stores, so the
 * read/write barriers only stop the compiler; the full barrier (store then
 * load, needed around event-index checks) is a real fence. */
#ifndef KICK_BARRIER_H
#define KICK_BARRIER_H

#define kick_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define kick_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define kick_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

/* A single access the compiler may neither split, merge nor cache. */
#define KICK_READ_ONCE(x)     __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define KICK_WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

#define kick_likely(x)   __builtin_expect(!!(x), 1)
#define kick_unlikely(x) __builtin_expect(!!(x), 0)

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "kick assumes a little-endian host; virtio 1.x rings are little-endian");

#endif
