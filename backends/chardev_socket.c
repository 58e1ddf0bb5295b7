/* UNIX socket / file character backend (see chardev_socket.h). */
#include "backends/chardev_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- options --- */

_Static_assert(CONSOLE_NAME_MAX == 128, "the name length message below says 128");

static bool name_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
}

static int parse_fail(char *err, size_t errlen, const char *spec, const char *why,
                      const char *what, size_t what_len)
{
    if (err && errlen)
        snprintf(err, errlen, "console '%s': %s%s%.*s%s", spec, why, what ? " '" : "",
                 (int)what_len, what ? what : "", what ? "'" : "");
    return -EINVAL;
}

int chardev_socket_parse(const char *spec, struct chardev_socket_opts *o, char *err,
                         size_t errlen)
{
    bool have_name = false, have_path = false, have_file = false;
    memset(o, 0, sizeof(*o));
    if (!spec || !*spec)
        return parse_fail(err, errlen, spec ? spec : "", "empty option", NULL, 0);
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq)
            return parse_fail(err, errlen, spec, "expected key=value, got", p, len);
        size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
        const char *v = eq + 1;
        if (vlen == 0)
            return parse_fail(err, errlen, spec, "empty value for", p, klen);
        if (klen == 4 && !memcmp(p, "name", 4)) {
            if (have_name)
                return parse_fail(err, errlen, spec, "name given twice", NULL, 0);
            if (vlen > CONSOLE_NAME_MAX)
                return parse_fail(err, errlen, spec, "name longer than 128 bytes", NULL, 0);
            for (size_t i = 0; i < vlen; i++)
                if (!name_char_ok(v[i]))
                    return parse_fail(err, errlen, spec,
                                      "name may hold only A-Z a-z 0-9 . _ -, not", v + i, 1);
            memcpy(o->name, v, vlen);
            have_name = true;
        } else if ((klen == 4 && !memcmp(p, "path", 4)) || (klen == 4 && !memcmp(p, "file", 4))) {
            bool file = p[0] == 'f';
            if (have_path || have_file)
                return parse_fail(err, errlen, spec, "give one path= or file=", NULL, 0);
            if (vlen >= sizeof(o->path))
                return parse_fail(err, errlen, spec, "path too long for a UNIX socket", NULL, 0);
            memcpy(o->path, v, vlen);
            o->file = file;
            have_path = !file;
            have_file = file;
        } else {
            return parse_fail(err, errlen, spec, "unknown key (expected name, path or file):", p,
                              klen);
        }
        p += len;
        if (*p == ',' && !*++p)
            return parse_fail(err, errlen, spec, "trailing comma", NULL, 0);
    }
    if (!have_name)
        return parse_fail(err, errlen, spec, "missing name=", NULL, 0);
    if (!have_path && !have_file)
        return parse_fail(err, errlen, spec, "missing path= (socket) or file=", NULL, 0);
    return 0;
}

/* --- the backend --- */

static void peer_gone(struct chardev_socket *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->be.connected = false;
}

static ssize_t sock_read(struct console_backend *be, void *buf, size_t len)
{
    struct chardev_socket *s = (struct chardev_socket *)be;
    if (s->file || s->fd < 0 || len == 0)
        return 0;
    ssize_t n = recv(s->fd, buf, len, MSG_DONTWAIT);
    if (n > 0)
        return n;
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    peer_gone(s);
    return -EPIPE;
}

static ssize_t sock_write(struct console_backend *be, const void *buf, size_t len)
{
    struct chardev_socket *s = (struct chardev_socket *)be;
    if (s->fd < 0)
        return -ENOTCONN;
    for (;;) {
        ssize_t n = s->file ? write(s->fd, buf, len)
                            : send(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return -EAGAIN;
        int e = errno;
        if (!s->file)
            peer_gone(s);
        return -e;
    }
}

static unsigned sock_pollfds(struct console_backend *be, bool want_in, bool want_out,
                             struct pollfd *fds, unsigned max)
{
    struct chardev_socket *s = (struct chardev_socket *)be;
    if (max == 0)
        return 0;
    if (!s->file && s->fd < 0) {
        fds[0] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
        return 1;
    }
    short ev = (short)((want_in && !s->file ? POLLIN : 0) | (want_out ? POLLOUT : 0));
    if (!ev)
        return 0; /* nothing wanted: a level-triggered hang-up would only spin */
    fds[0] = (struct pollfd){ .fd = s->fd, .events = ev };
    return 1;
}

static void sock_service(struct console_backend *be)
{
    struct chardev_socket *s = (struct chardev_socket *)be;
    if (s->file)
        return;
    if (s->fd >= 0) {
        /* A peer that hung up with nothing left unread is gone now; with
         * bytes left, the read that drains them notices. */
        struct pollfd p = { .fd = s->fd, .events = POLLRDHUP };
        int unread = 0;
        if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLRDHUP)) &&
            ioctl(s->fd, FIONREAD, &unread) == 0 && unread == 0)
            peer_gone(s);
    }
    if (s->fd < 0) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            s->fd = fd;
            s->be.connected = true;
        }
    }
}

static const struct console_backend_ops sock_ops = {
    .read = sock_read,
    .write = sock_write,
    .pollfds = sock_pollfds,
    .service = sock_service,
};

static int open_fail(struct chardev_socket *s, char *err, size_t errlen, const char *what, int e)
{
    if (err && errlen)
        snprintf(err, errlen, "console '%s': %s: %s", s->path, what, strerror(e));
    chardev_socket_close(s);
    return -e;
}

int chardev_socket_open(struct chardev_socket *s, const struct chardev_socket_opts *o, char *err,
                        size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->listen_fd = s->fd = -1;
    s->be.ops = &sock_ops;
    s->file = o->file;
    snprintf(s->path, sizeof(s->path), "%s", o->path);
    if (s->file) {
        s->fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC, 0600);
        if (s->fd < 0)
            return open_fail(s, err, errlen, "cannot open file", errno);
        s->be.connected = true;
        return 0;
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    memcpy(sa.sun_path, s->path, strlen(s->path));
    struct stat st;
    if (lstat(s->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return open_fail(s, err, errlen, "exists and is not a socket", EEXIST);
        /* A socket file someone still answers on is theirs; a dead one is a
         * leftover of an earlier run. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (probe >= 0)
            close(probe);
        if (live)
            return open_fail(s, err, errlen, "socket in use", EADDRINUSE);
        unlink(s->path);
    }
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0)
        return open_fail(s, err, errlen, "socket", errno);
    if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return open_fail(s, err, errlen, "bind", errno);
    s->bound = true;
    if (listen(s->listen_fd, 1) < 0)
        return open_fail(s, err, errlen, "listen", errno);
    return 0;
}

void chardev_socket_close(struct chardev_socket *s)
{
    if (s->fd >= 0)
        close(s->fd);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->bound)
        unlink(s->path);
    s->fd = s->listen_fd = -1;
    s->bound = false;
    s->be.connected = false;
}
