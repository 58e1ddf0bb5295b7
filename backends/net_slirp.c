#include "backends/net_slirp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <libslirp.h>

/* The guest network, as QEMU's user networking lays it out by default. */
#define SLIRP_NET      "10.0.2.0"
#define SLIRP_MASK     "255.255.255.0"
#define SLIRP_HOST     "10.0.2.2"
#define SLIRP_DHCP     "10.0.2.15"
#define SLIRP_DNS      "10.0.2.3"
#define SLIRP_PREFIX6  "fec0::"
#define SLIRP_HOST6    "fec0::2"
#define SLIRP_DNS6     "fec0::3"
#define SLIRP_TIMER_RUNS_MAX 64 /* timer callbacks per poll round */

struct net_slirp_timer {
    struct net_slirp_timer *next;
    SlirpTimerCb cb;
    void *cb_opaque;
    int64_t expire_ms; /* -1: not armed */
};

#define HOSTFWD_USAGE "expected [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport"

/* --- hostfwd rules --- */

static int fwd_error(char *err, size_t errlen, const char *spec, const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "hostfwd '%s': %s; " HOSTFWD_USAGE, spec, why);
    return -EINVAL;
}

/* Parses "addr:port" from s[0..len): addr may be empty. */
static const char *parse_endpoint(const char *s, size_t len, struct in_addr *addr,
                                  struct in_addr dflt, uint16_t *port)
{
    const char *colon = memchr(s, ':', len);
    if (!colon)
        return "missing ':' before a port";
    size_t alen = (size_t)(colon - s);
    char abuf[INET_ADDRSTRLEN];
    if (alen == 0) {
        *addr = dflt;
    } else {
        if (alen >= sizeof(abuf))
            return "address too long";
        memcpy(abuf, s, alen);
        abuf[alen] = '\0';
        if (inet_pton(AF_INET, abuf, addr) != 1)
            return "not an IPv4 address";
    }
    const char *p = colon + 1, *end = s + len;
    if (p == end)
        return "missing port";
    unsigned long v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return "port is not a number";
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 65535)
            return "port above 65535";
    }
    if (v == 0)
        return "port 0";
    *port = (uint16_t)v;
    return NULL;
}

int net_slirp_parse_hostfwd(const char *spec, struct net_slirp_hostfwd *out, char *err,
                            size_t errlen)
{
    if (!spec)
        return fwd_error(err, errlen, "", "empty rule");
    const char *s = spec;
    if (strncmp(s, "hostfwd=", 8) == 0)
        s += 8;
    struct net_slirp_hostfwd f = { 0 };
    const char *colon = strchr(s, ':');
    if (!colon)
        return fwd_error(err, errlen, spec, "missing protocol separator ':'");
    size_t plen = (size_t)(colon - s);
    if (plen == 3 && strncmp(s, "udp", 3) == 0)
        f.udp = true;
    else if (!(plen == 0 || (plen == 3 && strncmp(s, "tcp", 3) == 0)))
        return fwd_error(err, errlen, spec, "protocol is not tcp or udp");
    s = colon + 1;
    const char *dash = strchr(s, '-');
    if (!dash)
        return fwd_error(err, errlen, spec, "missing '-' between host and guest");
    struct in_addr any = { htonl(INADDR_ANY) }, guest;
    inet_pton(AF_INET, SLIRP_DHCP, &guest);
    const char *why = parse_endpoint(s, (size_t)(dash - s), &f.host_addr, any, &f.host_port);
    if (!why)
        why = parse_endpoint(dash + 1, strlen(dash + 1), &f.guest_addr, guest, &f.guest_port);
    if (why)
        return fwd_error(err, errlen, spec, why);
    *out = f;
    return 0;
}

int net_slirp_add_hostfwd(struct net_slirp *s, const char *spec, char *err, size_t errlen)
{
    struct net_slirp_hostfwd f;
    int rc = net_slirp_parse_hostfwd(spec, &f, err, errlen);
    if (rc < 0)
        return rc;
    if (slirp_add_hostfwd(s->slirp, f.udp, f.host_addr, f.host_port, f.guest_addr,
                          f.guest_port) < 0) {
        int e = errno ? errno : EADDRINUSE;
        if (err && errlen)
            snprintf(err, errlen, "hostfwd '%s': cannot listen on host port %u: %s", spec,
                     f.host_port, strerror(e));
        return -e;
    }
    return 0;
}

/* --- the device side --- */

static int slirp_be_send(void *be, const void *frame, size_t len)
{
    struct net_slirp *s = be;
    if (len > INT_MAX)
        return -EMSGSIZE;
    s->frames_in++;
    slirp_input(s->slirp, frame, (int)len);
    return 0;
}

static const struct net_backend_ops slirp_be_ops = {
    .send = slirp_be_send,
};

/* --- libslirp callbacks --- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
    struct net_slirp *s = opaque;
    s->frames_out++;
    /* The device copies the frame (or drops it, which TCP recovers from). */
    net_dev_receive(s->nb.dev, buf, len);
    return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
    struct net_slirp *s = opaque;
    s->guest_errors++;
    snprintf(s->last_guest_error, sizeof(s->last_guest_error), "%s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
    (void)opaque;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_ms(void)
{
    return cb_clock_get_ns(NULL) / 1000000;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    struct net_slirp *s = opaque;
    struct net_slirp_timer *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->cb = cb;
    t->cb_opaque = cb_opaque;
    t->expire_ms = -1;
    t->next = s->timers;
    s->timers = t;
    return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
    struct net_slirp *s = opaque;
    for (struct net_slirp_timer **p = &s->timers; *p; p = &(*p)->next) {
        if (*p == timer) {
            *p = (*p)->next;
            free(timer);
            return;
        }
    }
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    struct net_slirp_timer *t = timer;
    t->expire_ms = expire_ms < 0 ? 0 : expire_ms;
}

/* Descriptors are collected afresh every round by slirp_pollfds_fill, so
 * the per-descriptor registration has nothing to keep. */
static void cb_register_poll_fd(int fd, void *opaque)
{
    (void)fd;
    (void)opaque;
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
    (void)fd;
    (void)opaque;
}

static void cb_notify(void *opaque)
{
    struct net_slirp *s = opaque;
    uint64_t one = 1;
    if (write(s->notify_fd, &one, sizeof(one)) < 0) {
        /* the counter is saturated: the loop is already due to wake */
    }
}

static const SlirpCb slirp_callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_new = cb_timer_new,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
};

/* --- the poll loop --- */

static int pfd_reserve(struct net_slirp *s, unsigned n)
{
    if (n <= s->cap)
        return 0;
    unsigned cap = s->cap ? s->cap : 16;
    while (cap < n)
        cap *= 2;
    struct pollfd *p = realloc(s->pfd, cap * sizeof(*p));
    if (!p)
        return -ENOMEM;
    s->pfd = p;
    s->cap = cap;
    return 0;
}

static int cb_add_poll(int fd, int events, void *opaque)
{
    struct net_slirp *s = opaque;
    if (pfd_reserve(s, s->npfd + 1) < 0)
        return -1; /* slirp then never asks for this index */
    short ev = 0;
    if (events & SLIRP_POLL_IN)
        ev |= POLLIN;
    if (events & SLIRP_POLL_OUT)
        ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI)
        ev |= POLLPRI;
    s->pfd[s->npfd] = (struct pollfd){ .fd = fd, .events = ev };
    return (int)s->npfd++;
}

static int cb_get_revents(int idx, void *opaque)
{
    struct net_slirp *s = opaque;
    if (idx < 0 || (unsigned)idx >= s->npfd)
        return 0;
    short re = s->pfd[idx].revents;
    int ev = 0;
    if (re & POLLIN)
        ev |= SLIRP_POLL_IN;
    if (re & POLLOUT)
        ev |= SLIRP_POLL_OUT;
    if (re & POLLPRI)
        ev |= SLIRP_POLL_PRI;
    if (re & (POLLERR | POLLNVAL))
        ev |= SLIRP_POLL_ERR;
    if (re & POLLHUP)
        ev |= SLIRP_POLL_HUP;
    return ev;
}

static void run_due_timers(struct net_slirp *s)
{
    /* A callback may arm, disarm or free timers, so rescan after each. */
    for (int runs = 0; runs < SLIRP_TIMER_RUNS_MAX; runs++) {
        int64_t now = now_ms();
        struct net_slirp_timer *due = NULL;
        for (struct net_slirp_timer *t = s->timers; t; t = t->next)
            if (t->expire_ms >= 0 && t->expire_ms <= now) {
                due = t;
                break;
            }
        if (!due)
            return;
        due->expire_ms = -1;
        due->cb(due->cb_opaque);
    }
}

int net_slirp_wait(struct net_slirp *s, struct pollfd *extra, unsigned nextra, int timeout_ms)
{
    uint32_t timeout = timeout_ms < 0 ? UINT32_MAX : (uint32_t)timeout_ms;
    s->npfd = 0;
    s->poll_failed = true;
    if (cb_add_poll(s->notify_fd, SLIRP_POLL_IN, s) < 0)
        return -ENOMEM;
    slirp_pollfds_fill(s->slirp, &timeout, cb_add_poll, s);
    unsigned nslirp = s->npfd;
    if (pfd_reserve(s, nslirp + nextra) < 0)
        return -ENOMEM;
    for (unsigned i = 0; i < nextra; i++)
        s->pfd[nslirp + i] = (struct pollfd){ .fd = extra[i].fd, .events = extra[i].events };

    int64_t now = now_ms();
    for (struct net_slirp_timer *t = s->timers; t; t = t->next) {
        if (t->expire_ms < 0)
            continue;
        int64_t left = t->expire_ms > now ? t->expire_ms - now : 0;
        if ((uint64_t)left < timeout)
            timeout = (uint32_t)left;
    }
    int wait = timeout == UINT32_MAX ? -1 : (timeout > INT_MAX ? INT_MAX : (int)timeout);
    int n = poll(s->pfd, nslirp + nextra, wait);
    int err = n < 0 ? errno : 0;
    s->poll_failed = n < 0;
    if (n < 0)
        for (unsigned i = 0; i < nslirp + nextra; i++)
            s->pfd[i].revents = 0;
    for (unsigned i = 0; i < nextra; i++)
        extra[i].revents = s->pfd[nslirp + i].revents;
    if (n < 0)
        return err == EINTR ? 0 : -err;
    return n;
}

void net_slirp_serve(struct net_slirp *s)
{
    if (s->npfd && (s->pfd[0].revents & POLLIN)) {
        uint64_t v;
        if (read(s->notify_fd, &v, sizeof(v)) < 0) {
            /* nothing was pending after all */
        }
    }
    slirp_pollfds_poll(s->slirp, s->poll_failed, cb_get_revents, s);
    run_due_timers(s);
}

int net_slirp_poll(struct net_slirp *s, struct pollfd *extra, unsigned nextra, int timeout_ms)
{
    int r = net_slirp_wait(s, extra, nextra, timeout_ms);
    if (r != -ENOMEM) /* nothing was waited on then */
        net_slirp_serve(s);
    return r;
}

/* --- lifetime --- */

int net_slirp_open(struct net_slirp *s, const struct net_slirp_opts *o, char *err, size_t errlen)
{
    static const struct net_slirp_opts defaults;
    if (!o)
        o = &defaults;
    memset(s, 0, sizeof(*s));
    s->notify_fd = -1;
    for (unsigned i = 0; i < o->nhostfwd; i++) {
        struct net_slirp_hostfwd f;
        int rc = net_slirp_parse_hostfwd(o->hostfwd[i], &f, err, errlen);
        if (rc < 0)
            return rc;
    }
    uint16_t mtu = o->mtu ? o->mtu : NET_DEFAULT_MTU;
    if (mtu < 576) {
        if (err && errlen)
            snprintf(err, errlen, "slirp: mtu %u below 576", mtu);
        return -EINVAL;
    }

    SlirpConfig cfg = {
        .version = 3,
        .restricted = o->restricted,
        .in_enabled = true,
        .in6_enabled = o->ipv6,
        .vprefix_len = 64,
        .if_mtu = mtu,
        .if_mru = mtu,
    };
    inet_pton(AF_INET, SLIRP_NET, &cfg.vnetwork);
    inet_pton(AF_INET, SLIRP_MASK, &cfg.vnetmask);
    inet_pton(AF_INET, SLIRP_HOST, &cfg.vhost);
    inet_pton(AF_INET, SLIRP_DHCP, &cfg.vdhcp_start);
    inet_pton(AF_INET, SLIRP_DNS, &cfg.vnameserver);
    inet_pton(AF_INET6, SLIRP_PREFIX6, &cfg.vprefix_addr6);
    inet_pton(AF_INET6, SLIRP_HOST6, &cfg.vhost6);
    inet_pton(AF_INET6, SLIRP_DNS6, &cfg.vnameserver6);

    s->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->notify_fd < 0) {
        int e = errno;
        if (err && errlen)
            snprintf(err, errlen, "slirp: eventfd: %s", strerror(e));
        return -e;
    }
    s->slirp = slirp_new(&cfg, &slirp_callbacks, s);
    if (!s->slirp) {
        if (err && errlen)
            snprintf(err, errlen, "slirp: slirp_new failed");
        net_slirp_close(s);
        return -ENOMEM;
    }
    s->nb = (struct net_backend){ .ops = &slirp_be_ops, .be = s };
    for (unsigned i = 0; i < o->nhostfwd; i++) {
        int rc = net_slirp_add_hostfwd(s, o->hostfwd[i], err, errlen);
        if (rc < 0) {
            net_slirp_close(s);
            return rc;
        }
    }
    return 0;
}

void net_slirp_close(struct net_slirp *s)
{
    if (s->slirp)
        slirp_cleanup(s->slirp); /* frees its timers through timer_free */
    s->slirp = NULL;
    while (s->timers) {
        struct net_slirp_timer *t = s->timers;
        s->timers = t->next;
        free(t);
    }
    if (s->notify_fd >= 0)
        close(s->notify_fd);
    s->notify_fd = -1;
    free(s->pfd);
    s->pfd = NULL;
    s->npfd = s->cap = 0;
    s->nb.dev = NULL;
}
