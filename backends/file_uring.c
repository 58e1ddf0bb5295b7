#include "backends/file_uring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/fs.h>

/* SQ entries per ring. The CQ is sized for the worst case in flight (every
 * request slot with every discard segment), so completions never overflow. */
#define FILE_URING_SQ 256
#define FILE_URING_CQ (BLK_INFLIGHT * BLK_DWZ_SEG_MAX)

/* Without an alignment query that every kernel answers, 4096 satisfies
 * every file system and block device we know of. */
#define FILE_URING_DIO_ALIGN_DEFAULT 4096

static bool fu_aligned(const struct file_uring *f, const struct blk_io *io)
{
    uint64_t mask = f->dio_align - 1;
    if ((io->offset | (io->len - io->done)) & mask)
        return false;
    for (unsigned i = 0; i < io->iovcnt; i++)
        if (((uintptr_t)io->iov[i].iov_base | io->iov[i].iov_len) & mask)
            return false;
    return true;
}

/* Fills an SQE for what is left of io. */
static int fu_prep(struct file_uring *f, struct file_uring_chan *c, struct blk_io *io)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
    if (!sqe) {
        /* SQ full: hand the batch to the kernel to make room. */
        io_uring_submit(&c->ring);
        sqe = io_uring_get_sqe(&c->ring);
        if (!sqe)
            return -EAGAIN;
    }
    uint64_t off = io->offset + io->done;
    switch (io->op) {
    case BLK_IO_READ:
    case BLK_IO_WRITE: {
        int fd = f->fd;
        if (f->fd_direct >= 0 && fu_aligned(f, io)) {
            fd = f->fd_direct;
            f->direct_ios++;
        } else {
            f->buffered_ios++;
        }
        if (io->op == BLK_IO_READ)
            io_uring_prep_readv(sqe, fd, io->iov, io->iovcnt, off);
        else
            io_uring_prep_writev(sqe, fd, io->iov, io->iovcnt, off);
        if (io->sync)
            sqe->rw_flags = RWF_DSYNC;
        break;
    }
    case BLK_IO_FLUSH:
        io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
        break;
    case BLK_IO_DISCARD:
        io_uring_prep_fallocate(sqe, f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                (off_t)io->offset, (off_t)io->len);
        break;
    case BLK_IO_WRITE_ZEROES: {
        int mode = io->unmap ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE;
        io_uring_prep_fallocate(sqe, f->fd, mode | FALLOC_FL_KEEP_SIZE, (off_t)io->offset,
                                (off_t)io->len);
        break;
    }
    default:
        /* The SQE is already taken: make it a no-op that fails the io. */
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data(sqe, io);
        c->inflight++;
        return 0;
    }
    io_uring_sqe_set_data(sqe, io);
    c->inflight++;
    return 0;
}

static int fu_submit(void *be, unsigned ch, struct blk_io *io)
{
    struct file_uring *f = be;
    if (ch >= f->nch)
        return -EINVAL;
    if (io->op > BLK_IO_WRITE_ZEROES)
        return -EOPNOTSUPP;
    io->done = 0;
    return fu_prep(f, &f->ch[ch], io);
}

static void fu_commit(void *be, unsigned ch)
{
    struct file_uring *f = be;
    if (ch < f->nch)
        io_uring_submit(&f->ch[ch].ring);
}

/* Drops the first n bytes from io's iovecs, for continuing a short transfer. */
static void fu_advance(struct blk_io *io, uint64_t n)
{
    while (io->iovcnt && n >= io->iov->iov_len) {
        n -= io->iov->iov_len;
        io->iov++;
        io->iovcnt--;
    }
    if (io->iovcnt && n) {
        io->iov->iov_base = (uint8_t *)io->iov->iov_base + n;
        io->iov->iov_len -= n;
    }
}

/* One CQE: 1 when io is finished (with *res), 0 when it was continued. */
static int fu_complete(struct file_uring *f, struct file_uring_chan *c, struct blk_io *io,
                       int cqe_res, int *res)
{
    if (cqe_res < 0) {
        *res = cqe_res;
        return 1;
    }
    if (io->op != BLK_IO_READ && io->op != BLK_IO_WRITE) {
        *res = 0;
        return 1;
    }
    uint64_t left = io->len - io->done;
    if ((uint64_t)cqe_res >= left) {
        *res = 0;
        return 1;
    }
    if (cqe_res == 0) {
        /* No progress: the medium ended before the request did. */
        *res = -EIO;
        return 1;
    }
    io->done += (uint64_t)cqe_res;
    fu_advance(io, (uint64_t)cqe_res);
    f->short_continues++;
    if (fu_prep(f, c, io) < 0) {
        *res = -EIO;
        return 1;
    }
    return 0;
}

static unsigned fu_reap(void *be, unsigned ch, bool wait, blk_io_done_fn *done, void *ctx)
{
    struct file_uring *f = be;
    if (ch >= f->nch)
        return 0;
    struct file_uring_chan *c = &f->ch[ch];
    unsigned finished = 0;
    bool resubmit = false;

    for (;;) {
        struct io_uring_cqe *cqe;
        int rc;
        if (wait && finished == 0 && c->inflight)
            rc = io_uring_wait_cqe(&c->ring, &cqe);
        else
            rc = io_uring_peek_cqe(&c->ring, &cqe);
        if (rc == -EINTR)
            continue;
        if (rc < 0)
            break;
        struct blk_io *io = io_uring_cqe_get_data(cqe);
        int cqe_res = cqe->res, res;
        io_uring_cqe_seen(&c->ring, cqe);
        c->inflight--;
        if (!fu_complete(f, c, io, cqe_res, &res)) {
            /* Continued: the new SQE must reach the kernel before we block. */
            io_uring_submit(&c->ring);
            resubmit = true;
            continue;
        }
        finished++;
        done(ctx, io, res);
    }
    if (resubmit)
        io_uring_submit(&c->ring);
    return finished;
}

static const struct blk_backend_ops file_uring_ops = {
    .submit = fu_submit,
    .commit = fu_commit,
    .reap = fu_reap,
};

static int fu_size(struct file_uring *f, uint64_t *size)
{
    struct stat st;
    if (fstat(f->fd, &st) < 0)
        return -errno;
    if (S_ISBLK(st.st_mode)) {
        f->is_blockdev = true;
        if (ioctl(f->fd, BLKGETSIZE64, size) < 0)
            return -errno;
        int lbs = 0;
        if (ioctl(f->fd, BLKSSZGET, &lbs) == 0 && lbs >= 512 && !(lbs & (lbs - 1)))
            f->dio_align = (uint32_t)lbs;
        return 0;
    }
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    *size = (uint64_t)st.st_size;
    return 0;
}

static int fu_setup(struct file_uring *f, const struct file_uring_opts *o)
{
    unsigned nch = o && o->channels ? o->channels : 1;
    uint64_t size = 0;
    int rc;

    f->dio_align = FILE_URING_DIO_ALIGN_DEFAULT;
    rc = fu_size(f, &size);
    if (rc < 0)
        return rc;
    f->ch = calloc(nch, sizeof(*f->ch));
    if (!f->ch)
        return -ENOMEM;
    f->nch = nch;
    for (unsigned i = 0; i < nch; i++) {
        struct file_uring_chan *c = &f->ch[i];
        struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE, .cq_entries = FILE_URING_CQ };
        c->event_fd = -1;
        rc = io_uring_queue_init_params(FILE_URING_SQ, &c->ring, &p);
        if (rc < 0)
            return rc;
        c->ring_ok = true;
        c->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (c->event_fd < 0)
            return -errno;
        rc = io_uring_register_eventfd(&c->ring, c->event_fd);
        if (rc < 0)
            return rc;
    }
    f->blk = (struct blk_backend){
        .ops = &file_uring_ops,
        .be = f,
        .size = size,
        .read_only = o && o->read_only,
        .channels = nch,
    };
    return 0;
}

int file_uring_open_fd(struct file_uring *f, int fd, const struct file_uring_opts *o)
{
    memset(f, 0, sizeof(*f));
    f->fd = fd;
    f->fd_direct = -1;
    int rc = fu_setup(f, o);
    if (rc < 0)
        file_uring_close(f);
    return rc;
}

int file_uring_open(struct file_uring *f, const char *path, const struct file_uring_opts *o)
{
    int flags = (o && o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    int fd = open(path, flags);
    if (fd < 0)
        return -errno;
    int rc = file_uring_open_fd(f, fd, o);
    if (rc < 0 || !o || !o->direct)
        return rc;
    f->fd_direct = open(path, flags | O_DIRECT);
    if (f->fd_direct < 0) {
        rc = -errno;
        file_uring_close(f);
        return rc;
    }
    return 0;
}

void file_uring_close(struct file_uring *f)
{
    for (unsigned i = 0; f->ch && i < f->nch; i++) {
        struct file_uring_chan *c = &f->ch[i];
        /* Buffers in flight belong to the guest: wait rather than abandon. */
        while (c->ring_ok && c->inflight) {
            struct io_uring_cqe *cqe;
            int rc = io_uring_wait_cqe(&c->ring, &cqe);
            if (rc == -EINTR)
                continue;
            if (rc < 0)
                break;
            io_uring_cqe_seen(&c->ring, cqe);
            c->inflight--;
        }
        if (c->ring_ok)
            io_uring_queue_exit(&c->ring);
        if (c->event_fd >= 0)
            close(c->event_fd);
    }
    free(f->ch);
    f->ch = NULL;
    f->nch = 0;
    if (f->fd_direct >= 0)
        close(f->fd_direct);
    if (f->fd >= 0)
        close(f->fd);
    f->fd = f->fd_direct = -1;
}

int file_uring_event_fd(const struct file_uring *f, unsigned ch)
{
    return ch < f->nch ? f->ch[ch].event_fd : -1;
}
