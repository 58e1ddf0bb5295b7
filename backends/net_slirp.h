/* Network backend: user-mode networking through libslirp, in process and
 * without privileges. The guest sees a NAT'ed 10.0.2.0/24: the gateway and
 * host at 10.0.2.2 (it answers ARP and ICMP echo itself), DNS at 10.0.2.3,
 * DHCP handing out 10.0.2.15 onwards. Connections the guest opens become
 * host sockets; `hostfwd` rules open host ports that connect into the guest.
 *
 * Frames from the device go into slirp_input() at once (the device's tx
 * path); slirp answers either inside that call or from net_slirp_poll(),
 * through its send_packet callback, which hands the frame to the device
 * (net_dev_receive). Both therefore run on the device's thread (see
 * devices/net.h): libslirp is not thread-safe.
 *
 * A VMM device thread loops on net_slirp_poll(), passing its own
 * descriptors (the queues' ioeventfds) as `extra` so one poll() waits for
 * both; slirp's notify callback writes an eventfd that is always in the set,
 * so the loop wakes when slirp has more to do. */
#ifndef KICK_NET_SLIRP_H
#define KICK_NET_SLIRP_H

#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/net.h"

struct Slirp;
struct net_slirp_timer;

/* One parsed port forwarding rule. */
struct net_slirp_hostfwd {
    bool udp;
    struct in_addr host_addr;  /* INADDR_ANY when omitted */
    uint16_t host_port;
    struct in_addr guest_addr; /* the DHCP start address when omitted */
    uint16_t guest_port;
};

struct net_slirp_opts {
    uint16_t mtu;               /* slirp's MTU/MRU; 0: NET_DEFAULT_MTU */
    bool ipv6;                  /* also fec0::/64 (host fec0::2, DNS fec0::3) */
    bool restricted;            /* guest may reach only the virtual hosts */
    const char *const *hostfwd; /* rules, see net_slirp_parse_hostfwd() */
    unsigned nhostfwd;
};

struct net_slirp {
    struct net_backend nb;      /* give &nb to net_dev_init() */
    struct Slirp *slirp;
    int notify_fd;              /* eventfd, always polled */
    struct pollfd *pfd;         /* slirp's descriptors for this round, then extras */
    unsigned npfd, cap;
    bool poll_failed;           /* this round's poll() failed */
    struct net_slirp_timer *timers;
    uint64_t guest_errors;
    char last_guest_error[128];
    uint64_t frames_in, frames_out;
};

/* Parses "[hostfwd=][tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport"
 * (the protocol defaults to tcp; ports 1-65535; addresses dotted IPv4).
 * 0, or -EINVAL with one line in err saying what is wrong. */
int net_slirp_parse_hostfwd(const char *spec, struct net_slirp_hostfwd *out, char *err,
                            size_t errlen);

/* Creates the stack and installs the rules. 0, or -errno with one line in
 * err (a bad rule, a host port that cannot be bound). */
int net_slirp_open(struct net_slirp *s, const struct net_slirp_opts *o, char *err, size_t errlen);
/* Destroy the device (net_dev_destroy) first: it holds a pointer to nb. */
void net_slirp_close(struct net_slirp *s);

/* Adds one rule to a running stack. As net_slirp_open for errors. */
int net_slirp_add_hostfwd(struct net_slirp *s, const char *spec, char *err, size_t errlen);

/* One round of the event loop: waits up to timeout_ms (-1: until something
 * happens; slirp's own timers shorten it) on slirp's descriptors and the
 * caller's extra ones (their revents are filled in), lets slirp serve the
 * ready ones and runs due timers. Returns the number of ready descriptors
 * (extras included), 0 on timeout, or -errno. */
int net_slirp_poll(struct net_slirp *s, struct pollfd *extra, unsigned nextra, int timeout_ms);

/* The same round in two halves, for a thread that must not hold its lock
 * while it waits: net_slirp_wait() only waits (same arguments and result),
 * net_slirp_serve() then lets slirp serve what was ready and runs due
 * timers. Call them alternately, from one thread. */
int net_slirp_wait(struct net_slirp *s, struct pollfd *extra, unsigned nextra, int timeout_ms);
void net_slirp_serve(struct net_slirp *s);

#endif
