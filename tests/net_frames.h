/* Hand-built frames for the net tests (the test is the guest's network
 * stack, as far as it needs to be): Ethernet, ARP, IPv4, ICMP, UDP, BOOTP. */
#ifndef KICK_TEST_NET_FRAMES_H
#define KICK_TEST_NET_FRAMES_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define GUEST_IP   "10.0.2.15"
#define GATEWAY_IP "10.0.2.2"
#define ETH_P_IPV4 0x0800
#define ETH_P_ARPT 0x0806

static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static inline uint32_t ip_of(const char *s)
{
    struct in_addr a;
    inet_pton(AF_INET, s, &a);
    return a.s_addr; /* network order */
}

static inline uint16_t inet_csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static inline size_t eth_hdr(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    put16(f + 12, type);
    return 14;
}

/* ARP request: who has tip? tell sip (sha). */
static inline size_t arp_request(uint8_t *f, const uint8_t *sha, uint32_t sip, uint32_t tip)
{
    size_t n = eth_hdr(f, bcast_mac, sha, ETH_P_ARPT);
    uint8_t *a = f + n;
    put16(a, 1);          /* Ethernet */
    put16(a + 2, 0x0800); /* IPv4 */
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, 1);      /* request */
    memcpy(a + 8, sha, 6);
    memcpy(a + 14, &sip, 4);
    memset(a + 18, 0, 6);
    memcpy(a + 24, &tip, 4);
    return n + 28;
}

/* IPv4 header (20 bytes) before a payload of plen bytes. */
static inline size_t ip_hdr(uint8_t *p, uint8_t proto, uint32_t src, uint32_t dst, size_t plen)
{
    memset(p, 0, 20);
    p[0] = 0x45;
    put16(p + 2, (uint16_t)(20 + plen));
    put16(p + 4, 0x1234);
    p[8] = 64;
    p[9] = proto;
    memcpy(p + 12, &src, 4);
    memcpy(p + 16, &dst, 4);
    put16(p + 10, inet_csum(p, 20));
    return 20;
}

static inline size_t icmp_echo(uint8_t *f, const uint8_t *src_mac, const uint8_t *dst_mac,
                               uint32_t src, uint32_t dst, uint16_t id, uint16_t seq,
                               const uint8_t *payload, size_t plen)
{
    size_t n = eth_hdr(f, dst_mac, src_mac, ETH_P_IPV4);
    n += ip_hdr(f + n, 1, src, dst, 8 + plen);
    uint8_t *ic = f + n;
    ic[0] = 8;
    ic[1] = 0;
    put16(ic + 2, 0);
    put16(ic + 4, id);
    put16(ic + 6, seq);
    memcpy(ic + 8, payload, plen);
    put16(ic + 2, inet_csum(ic, 8 + plen));
    return n + 8 + plen;
}

/* DHCP DISCOVER from mac with transaction id xid. */
static inline size_t dhcp_discover(uint8_t *f, const uint8_t *mac, uint32_t xid)
{
    size_t n = eth_hdr(f, bcast_mac, mac, ETH_P_IPV4);
    uint8_t *ip = f + n, *udp = ip + 20, *b = udp + 8;
    memset(b, 0, 240);
    b[0] = 1; /* BOOTREQUEST */
    b[1] = 1; /* Ethernet */
    b[2] = 6;
    b[4] = (uint8_t)(xid >> 24), b[5] = (uint8_t)(xid >> 16);
    b[6] = (uint8_t)(xid >> 8), b[7] = (uint8_t)xid;
    put16(b + 10, 0x8000); /* broadcast reply */
    memcpy(b + 28, mac, 6);
    b[236] = 99, b[237] = 130, b[238] = 83, b[239] = 99; /* magic cookie */
    uint8_t *o = b + 240;
    size_t ol = 0;
    o[ol++] = 53, o[ol++] = 1, o[ol++] = 1; /* DHCPDISCOVER */
    o[ol++] = 255;
    while (ol < 60)
        o[ol++] = 0;
    size_t blen = 240 + ol;
    put16(udp, 68);
    put16(udp + 2, 67);
    put16(udp + 4, (uint16_t)(8 + blen));
    put16(udp + 6, 0); /* no UDP checksum */
    ip_hdr(ip, 17, 0, 0xffffffffu, 8 + blen);
    return n + 20 + 8 + blen;
}

/* IPv4 payload of frame f (NULL unless IPv4 with protocol proto). */
static inline const uint8_t *ip_payload(const uint8_t *f, uint32_t len, uint8_t proto,
                                        uint32_t *plen)
{
    if (len < 34 || get16(f + 12) != ETH_P_IPV4 || f[23] != proto)
        return NULL;
    size_t ihl = (size_t)(f[14] & 0xf) * 4;
    size_t tot = get16(f + 16);
    if (14 + tot > len || tot < ihl)
        return NULL;
    *plen = (uint32_t)(tot - ihl);
    return f + 14 + ihl;
}

static inline bool is_udp_to(const uint8_t *f, uint32_t len, const void *port)
{
    uint32_t pl;
    const uint8_t *u = ip_payload(f, len, 17, &pl);
    return u && pl >= 8 && get16(u + 2) == *(const uint16_t *)port;
}

static inline bool is_arp_reply(const uint8_t *f, uint32_t len, const void *arg)
{
    (void)arg;
    return len >= 42 && get16(f + 12) == ETH_P_ARPT && get16(f + 20) == 2;
}

static inline bool is_icmp_reply(const uint8_t *f, uint32_t len, const void *arg)
{
    (void)arg;
    uint32_t pl;
    const uint8_t *ic = ip_payload(f, len, 1, &pl);
    return ic && pl >= 8 && ic[0] == 0;
}

static inline bool is_tcp_to(const uint8_t *f, uint32_t len, const void *port)
{
    uint32_t pl;
    const uint8_t *t = ip_payload(f, len, 6, &pl);
    return t && pl >= 20 && get16(t + 2) == *(const uint16_t *)port;
}

#endif
