/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading a debugfs seq_file from a KUnit case, shared by the suites that
 * check what kprim prints there (kunit/ltable_test.c, kunit/fault_test.c).
 */
#ifndef _KPRIM_KUNIT_SEQ_READ_H
#define _KPRIM_KUNIT_SEQ_READ_H

#include <linux/fs.h>
#include <linux/seq_file.h>
#include <linux/uio.h>

/*
 * kernel_read() refuses debugfs files (their proxy has ->read, not
 * ->read_iter), so drive the seq_file behind the proxy directly, as read(2)
 * would.
 */
static ssize_t kprim_test_read_seq_file(struct file *filp, char *buf, size_t size)
{
	struct kvec kv = { .iov_base = buf, .iov_len = size };
	struct iov_iter iter;
	struct kiocb kiocb;

	init_sync_kiocb(&kiocb, filp);
	iov_iter_kvec(&iter, ITER_DEST, &kv, 1, size);
	return seq_read_iter(&kiocb, &iter);
}

#endif /* _KPRIM_KUNIT_SEQ_READ_H */
