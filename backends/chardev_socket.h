/* A named virtio-console port's host side: a UNIX stream socket kick listens
 * on (one peer at a time; the next one waits in the backlog until the first
 * leaves), or an output file.
 *
 * Option string (the --console argument's value), comma-separated:
 *   name=org.kick.test,path=/tmp/x.sock   listen on a UNIX socket
 *   name=org.kick.log,file=/tmp/x.log     append guest output to a file
 * name is what the guest sees (PORT_NAME; /dev/virtio-ports/NAME in Linux):
 * 1..CONSOLE_NAME_MAX bytes of [A-Za-z0-9._-]. Exactly one of path= and
 * file=. Errors come back as one line in err.
 *
 * The socket is connected (host side open, PORT_OPEN 1) while a peer is
 * there. A peer is accepted by service() when the listener is readable; it
 * is gone when a read sees end of file, a write sees EPIPE/ECONNRESET, or
 * service() sees a hang-up with no unread bytes left. Everything is
 * non-blocking. A file is always connected and has no input. */
#ifndef KICK_CHARDEV_SOCKET_H
#define KICK_CHARDEV_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/un.h>

#include "devices/console.h"

#define CHARDEV_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

struct chardev_socket_opts {
    char name[CONSOLE_NAME_MAX + 1];
    char path[CHARDEV_PATH_MAX]; /* socket, or file when file is set */
    bool file;
};

/* 0, or -EINVAL with one line ("console 'SPEC': why") in err. */
int chardev_socket_parse(const char *spec, struct chardev_socket_opts *o, char *err,
                         size_t errlen);

struct chardev_socket {
    struct console_backend be;
    int listen_fd;   /* -1 for a file */
    int fd;          /* the peer, or the file; -1 when not connected */
    bool file;
    bool bound;      /* we created path: unlink it on close */
    char path[CHARDEV_PATH_MAX];
};

/* Binds and listens (a stale socket file at path is replaced; a live one or
 * a non-socket is an error), or opens the file. 0 or -errno with err set. */
int chardev_socket_open(struct chardev_socket *s, const struct chardev_socket_opts *o, char *err,
                        size_t errlen);
void chardev_socket_close(struct chardev_socket *s);

#endif
