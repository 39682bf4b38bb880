// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite kprim_fault: every allocation path of kprim is failed, one
 * allocation at a time (issue 9, "Faults").
 *
 * Method: syzkaller's fail-nth.  For n = 1, 2, ... fault_run() sets the
 * task's fail_nth to n just before the operation and reads and clears it
 * just after.  It counts down at every fault-injection check of this task
 * (failslab, fail_page_alloc, and kprim's own point for per-CPU memory,
 * kprim_alloc_percpu()); the check that takes it to 0 fails.  The guest
 * (scripts/guest-init.sh) lets GFP_KERNEL and order-0 allocations count and
 * keeps injected failures quiet.
 *
 * If the count reached 0, one allocation failed: the operation must report
 * a clean error (NULL or -ENOMEM) or absorb the failure by design (debugfs,
 * a partly failed tag refill, a hash resize, a magazine, or an allocation
 * of the kernel's own, such as kmemleak's metadata), and either way the
 * object it worked on must be consistent and usable and no misuse may have
 * been reported.  If the count did not reach 0, every allocation point of
 * the operation has failed once: the loop stops, and that last run must
 * have succeeded.  Each case requires that failures were injected, that a
 * path with error returns returned a clean error, and that each failure
 * kprim tolerates by design (debugfs, hash resize, magazine) was seen, so
 * it fails if its path stops allocating where it did or the mechanism
 * breaks.  What an error path leaks, kmemleak finds after the run.
 *
 * How many errors a path returns is logged, not asserted: the kernel's own
 * fault points that come and go (see fault_run()) make a count of kprim's
 * sites inexact, one way or the other.
 *
 * Allocation sites in module/ and the case that reaches each:
 *
 * vmem.c
 *   vmem_init: kzalloc(vmem)			vmem_create, vmem_create_qcache,
 *						vmem_create_source
 *   vmem_qcache_init: kcalloc, kprim_alloc_percpu
 *						vmem_create_qcache, vmem_init_qcache,
 *						vmem_create_source
 *   vmem_bt_refill: kmem_cache_alloc(btag)	vmem_create*, vmem_init_qcache,
 *						vmem_add, vmem_bt_refill,
 *						vmem_import_source_fails,
 *						vmem_import_child_fails
 *   vmem_hash_resize: kvmalloc_array		vmem_hash_grow (kmalloc),
 *						vmem_hash_grow_large (*)
 *   vmem_qcache_free: kzalloc(magazine)	vmem_qcache_magazine
 *   vmem_debugfs_add: debugfs_lookup, _create_dir, _create_file
 *						vmem_create*, vmem_init_qcache
 *   vmem_whatis_open: kzalloc, single_open	vmem_whatis_open
 *   kprim_vmem_setup: kmem_cache_create, cpuhp, debugfs
 *						module load (below)
 * smr.c
 *   __smr_domain_create: kzalloc		smr_domain_create*
 *   __smr_domain_init: kprim_alloc_percpu	smr_domain_create*, smr_domain_init*
 *   smr_debugfs_add: debugfs_create_file	smr_domain_create*, smr_domain_init*
 *   smr_call, smr_barrier, smr_synchronize: none; smr_call_no_alloc checks
 *	that they reach no fault point (smr_call runs in any context)
 *   kprim_smr_setup: alloc_workqueue, debugfs, cpuhp	module load (below)
 * psref.c
 *   psref_class_create: kzalloc, kprim_alloc_percpu, debugfs
 *						psref_class_create
 *   kprim_psref_setup: debugfs			module load (below)
 * ltable.c
 *   ltable_init: kzalloc(slab pointers), kprim_alloc_percpu(stats), debugfs
 *						ltable_init, ltable_init_large
 *   lt_add_slab: kvzalloc(slab)		ltable_init*, ltable_alloc_grow
 *						(kmalloc), ltable_alloc_grow_large (*)
 *   ltable_check: bitmap_zalloc		ltable_check
 *   kprim_ltable_setup: debugfs		module load (below)
 * kprim_main.c
 *   kprim_init: debugfs			module load (below)
 *   __kprim_alloc_percpu: the per-CPU fault point of every case above
 *
 * (*) Above a page, kvmalloc() tries kmalloc() and falls back to vmalloc():
 * a single injected failure fails the kmalloc() and the vmalloc() absorbs
 * it, so these cases check that the operation goes on unharmed; the error
 * branch behind them is the same as for the kmalloc() sizes.
 *
 * Module load (kprim_init() and the kprim_*_setup() hooks) runs before any
 * test module and cannot be reached from a KUnit case.
 */

#include <kunit/test.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uio.h>
#include <kprim/ltable.h>
#include <kprim/psref.h>
#include <kprim/smr.h>
#include <kprim/vmem.h>
#include <kprim/vmem_impl.h>

#include "seq_read.h"
#include "vmem_check.h"

#ifndef ITER_DEST
#define ITER_DEST READ
#endif

/* An operation with more fault points than this fails the case. */
#define FAULT_MAX_NTH		1000
/* Outcomes of the first runs shown per case. */
#define FAULT_TRACE_LEN		100
/* Allocations a case may keep (vmem addresses, ltable elements). */
#define FAULT_NKEEP		600

#define FQ			0x10UL		/* vmem quantum of every case */
#define FBASE			0x100000UL	/* vmem span start */
#define FSIZE			0x100000UL	/* vmem span size */
#define FIMPORT			0x100UL		/* child allocation size */

struct fault_case;

/* Everything a case works on; zeroed before each run but @tolerated. */
struct fault_ctx {
	struct kunit *test;
	const struct fault_case *fc;
	bool injected;		/* the operation's run had a failure injected */
	/* vmem */
	vmem_t *vm, *parent;
	vmem_addr_t addr[FAULT_NKEEP];
	unsigned int naddr;
	vmem_size_t parent_inuse;	/* the source's own allocations */
	unsigned int hashbits;
	/* smr */
	smr_t smr;
	/* psref */
	struct psref_class *class;
	/* ltable */
	struct link_table table;
	struct lt_elem *elem[FAULT_NKEEP];
	u64 id[FAULT_NKEEP];
	unsigned int nelem;
	struct lt_elem *op_elem;
	int ret;
	/* debugfs file of vmem_whatis_open */
	struct file *filp;
	vmem_t storage;
	/* failures the operation absorbed visibly, as designed: all runs */
	unsigned int tolerated;
};

/**
 * struct fault_case - one allocation path
 * @name: KUnit parameter name
 * @setup: prepares the state the operation works on (not injected)
 * @op: the operation; returns 0 or a negative errno
 * @check: after @op returned @err: checks consistency and usability and
 *	frees what @op made; counts visibly tolerated failures in
 *	&fault_ctx.tolerated
 * @teardown: undoes @setup
 * @arg: case parameter for @setup/@op
 * @errors: the path returns allocation failures (a clean error must be
 *	seen); the comment gives its sites
 * @min_tolerated: absorbed failures @check must have recognised at least
 * @absorbs: every failure is absorbed without a trace (kvmalloc() falls
 *	back to vmalloc() when its kmalloc() fails; a single injected failure
 *	cannot fail both)
 * @no_alloc: the path must reach no fault point at all
 */
struct fault_case {
	const char *name;
	void (*setup)(struct fault_ctx *c);
	int (*op)(struct fault_ctx *c);
	void (*check)(struct fault_ctx *c, int err);
	void (*teardown)(struct fault_ctx *c);
	unsigned long arg;
	bool errors;
	unsigned int min_tolerated;
	bool absorbs;
	bool no_alloc;
};

/* Misuse reports of all facilities outside objects: none may appear. */
static long fault_misuse_total(void)
{
	return vmem_misuse_count(NULL) + (long)psref_misuse_count(NULL) +
	       (long)ltable_misuse_count() + (long)smr_misuse_count(NULL);
}

#ifdef CONFIG_FAULT_INJECTION
/*
 * One run of @fc: setup, the operation with the @n-th fault point of this
 * task failing (none if @n is 0), check, teardown.  Returns what the
 * operation returned; *@left is what remained of the count.
 */
static int fault_once(const struct fault_case *fc, struct fault_ctx *c,
		      unsigned int n, unsigned int *left)
{
	unsigned int tolerated = c->tolerated;
	struct kunit *test = c->test;
	long misuse;
	int err;

	memset(c, 0, offsetof(struct fault_ctx, tolerated));
	c->test = test;
	c->fc = fc;
	if (fc->setup)
		fc->setup(c);
	misuse = fault_misuse_total();
	WRITE_ONCE(current->fail_nth, n);
	err = fc->op(c);
	*left = READ_ONCE(current->fail_nth);
	WRITE_ONCE(current->fail_nth, 0);
	c->injected = n && !*left;
	KUNIT_EXPECT_EQ_MSG(test, fault_misuse_total(), misuse,
			    "%s: misuse reported with fail-nth %u", fc->name, n);
	if (!c->injected)
		KUNIT_EXPECT_EQ_MSG(test, err, 0,
				    "%s: failed with nothing injected (fail-nth %u)",
				    fc->name, n);
	else if (err)
		KUNIT_EXPECT_EQ_MSG(test, err, -ENOMEM, "%s: fail-nth %u", fc->name, n);
	fc->check(c, err);
	if (fc->absorbs && c->injected)
		KUNIT_EXPECT_TRUE_MSG(test, !err && c->tolerated == tolerated,
				      "%s: failure not absorbed (fail-nth %u)",
				      fc->name, n);
	if (fc->teardown)
		fc->teardown(c);
	return err;
}
#endif

/*
 * The scaffolding of every case: fail each fault point of @fc in turn.
 *
 * The kernel has fault points of its own on the way, and some come and
 * go: kmemleak's metadata is allocated with every object, but a new slab
 * page (KASAN's quarantine keeps freed objects from being reused at once)
 * or a new pool of KASAN's stack depot is needed only now and then.  One
 * that a run has and the next has not shifts the count, so that a point
 * of kprim may escape.  Hence each injected run follows an identical run
 * without injection on the same CPU (filling what fills once, such as
 * the stack depot), and a run whose failure left no trace ('a') or that
 * injected nothing is tried again, up to FAULT_TRIES times.
 */
#define FAULT_TRIES	3

static void fault_run(struct kunit *test, const struct fault_case *fc)
{
#ifdef CONFIG_FAULT_INJECTION
	unsigned int n, try, left, injected = 0, errors = 0, tolerated;
	char trace[FAULT_TRACE_LEN + 1] = "", o;
	struct fault_ctx *c;
	int err;

	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->test = test;
	set_cpus_allowed_ptr(current, cpumask_of(raw_smp_processor_id()));
	for (n = 1; n <= FAULT_MAX_NTH; n++) {
		/* E error, t tolerated visibly, a absorbed, . nothing injected */
		o = '.';
		for (try = 0; try < FAULT_TRIES && (o == '.' || o == 'a'); try++) {
			fault_once(fc, c, 0, &left);
			tolerated = c->tolerated;
			err = fault_once(fc, c, n, &left);
			if (!left)
				o = err ? 'E' : c->tolerated > tolerated ? 't' : 'a';
		}
		if (n <= FAULT_TRACE_LEN)
			trace[n - 1] = o;
		if (o == '.')
			break;
		injected++;
		errors += o == 'E';
	}
	set_cpus_allowed_ptr(current, cpu_possible_mask);
	kunit_info(test, "%s: %u fault points failed: %u returned an error, %u absorbed (%u runs visibly, as designed)\n",
		   fc->name, injected, errors, injected - errors, c->tolerated);
	kunit_info(test, "%s: outcome by fail-nth: %s\n", fc->name, trace);
	KUNIT_EXPECT_LE_MSG(test, n, FAULT_MAX_NTH, "%s: more than %d fault points",
			    fc->name, FAULT_MAX_NTH);
	if (fc->no_alloc) {
		KUNIT_EXPECT_EQ_MSG(test, injected, 0U,
				    "%s: reached a fault point", fc->name);
		return;
	}
	KUNIT_EXPECT_GE_MSG(test, injected, 1U, "%s: no fault point reached", fc->name);
	if (fc->errors)
		KUNIT_EXPECT_GT_MSG(test, errors, 0U, "%s: no error returned", fc->name);
	else
		KUNIT_EXPECT_EQ_MSG(test, errors, 0U, "%s: error returned", fc->name);
	KUNIT_EXPECT_GE_MSG(test, c->tolerated, fc->min_tolerated,
			    "%s: a failure kprim tolerates was never seen", fc->name);
#else
	kunit_skip(test, "needs CONFIG_FAULT_INJECTION");
#endif
}

/* Is /sys/kernel/debug/kprim/@dir/@name[/@file] there? */
static bool fault_debugfs_has(const char *dir, const char *name,
			      const char *file)
{
	struct dentry *root, *d = NULL, *e = NULL, *f = NULL;
	bool ret;

	root = debugfs_lookup("kprim", NULL);
	if (root)
		d = debugfs_lookup(dir, root);
	if (d)
		e = debugfs_lookup(name, d);
	if (e && file)
		f = debugfs_lookup(file, e);
	ret = file ? !!f : !!e;
	dput(f);
	dput(e);
	dput(d);
	dput(root);
	return ret;
}

/*
 * After a create that succeeded: its debugfs entries are there, or a
 * failure was injected into their creation and tolerated.
 */
static void fault_debugfs_created(struct fault_ctx *c, bool present)
{
	if (present)
		return;
	KUNIT_EXPECT_TRUE_MSG(c->test, c->injected,
			      "%s: debugfs entry missing, nothing injected", c->fc->name);
	c->tolerated++;
}

/* ---------------------------------------------------------------------- */
/* vmem */

static void fault_vmem_check(struct fault_ctx *c, vmem_t *vm)
{
	const char *err;
	unsigned long flags;

	spin_lock_irqsave(&vm->vm_lock, flags);
	err = vmem_check_locked(vm);
	spin_unlock_irqrestore(&vm->vm_lock, flags);
	KUNIT_ASSERT_PTR_EQ_MSG(c->test, err, NULL, "%s: arena %s: %s",
				c->fc->name, vm->vm_name, err);
	KUNIT_EXPECT_EQ_MSG(c->test, vmem_misuse_count(vm), 0L, "%s: arena %s",
			    c->fc->name, vm->vm_name);
}

/* vmem returns NetBSD's positive errnos. */
static int fault_vmem_err(int rc)
{
	return -rc;
}

static void fault_vmem_alloc(struct fault_ctx *c, vmem_t *vm, vmem_size_t size)
{
	KUNIT_ASSERT_LT(c->test, c->naddr, FAULT_NKEEP);
	KUNIT_ASSERT_EQ(c->test, vmem_alloc(vm, size, VM_SLEEP, &c->addr[c->naddr]), 0);
	c->naddr++;
}

static void fault_vmem_free_all(struct fault_ctx *c, vmem_t *vm, vmem_size_t size)
{
	while (c->naddr)
		vmem_free(vm, c->addr[--c->naddr], size);
}

static void fault_vmem_destroy(struct fault_ctx *c, vmem_t *vm)
{
	if (!vm)
		return;
	vmem_qcache_reap(vm);
	KUNIT_EXPECT_EQ_MSG(c->test, vmem_size(vm, VMEM_ALLOC), 0,
			    "%s: arena %s not empty", c->fc->name, vm->vm_name);
	vmem_destroy(vm);
}

/* Arena creation: @arg is qcache_max. */
static int fault_op_vmem_create(struct fault_ctx *c)
{
	c->vm = vmem_create("fault-vmem", FBASE, FSIZE, FQ, NULL, NULL, NULL,
			    c->fc->arg, VM_SLEEP, IPL_NONE);
	return c->vm ? 0 : -ENOMEM;
}

static int fault_op_vmem_init(struct fault_ctx *c)
{
	c->vm = vmem_init(&c->storage, "fault-vmem", FBASE, FSIZE, FQ, NULL,
			  NULL, NULL, c->fc->arg, VM_SLEEP, IPL_SOFTNET);
	return c->vm ? 0 : -ENOMEM;
}

static void fault_setup_parent(struct fault_ctx *c)
{
	c->parent = vmem_create("fault-parent", FBASE, FSIZE, FQ, NULL, NULL,
				NULL, 0, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(c->test, c->parent);
}

static void fault_teardown_parent(struct fault_ctx *c)
{
	if (c->parent)
		vmem_xfreeall(c->parent);
	fault_vmem_destroy(c, c->parent);
}

static int fault_op_vmem_create_source(struct fault_ctx *c)
{
	c->vm = vmem_create("fault-vmem", 0, 0, FQ, vmem_alloc, vmem_free,
			    c->parent, c->fc->arg, VM_SLEEP, IPL_NONE);
	return c->vm ? 0 : -ENOMEM;
}

static void fault_check_vmem_created(struct fault_ctx *c, int err)
{
	struct kunit *test = c->test;
	vmem_t *vm = c->vm;
	vmem_addr_t a, b;

	if (err) {
		KUNIT_EXPECT_NULL(test, vm);
		KUNIT_EXPECT_FALSE_MSG(test, fault_debugfs_has("vmem", "fault-vmem", NULL),
				       "%s: failed arena left in debugfs", c->fc->name);
		return;
	}
	fault_vmem_check(c, vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC | VMEM_FREE),
			c->parent ? 0 : FSIZE);
	KUNIT_EXPECT_EQ(test, vm->vm_qcache_max, rounddown(c->fc->arg, FQ));
	fault_debugfs_created(c, fault_debugfs_has("vmem", "fault-vmem", "stats") &&
			      fault_debugfs_has("vmem", "fault-vmem", "segments"));

	/* Usable: a cached and an uncached size, imported if from a source. */
	KUNIT_EXPECT_EQ(test, vmem_alloc(vm, FQ, VM_SLEEP, &a), 0);
	KUNIT_EXPECT_EQ(test, vmem_alloc(vm, FIMPORT, VM_SLEEP, &b), 0);
	fault_vmem_check(c, vm);
	if (c->parent)
		KUNIT_EXPECT_EQ(test, vmem_size(c->parent, VMEM_ALLOC),
				vmem_size(vm, VMEM_ALLOC | VMEM_FREE));
	vmem_free(vm, a, FQ);
	vmem_free(vm, b, FIMPORT);
	fault_vmem_destroy(c, vm);
	if (c->parent)
		KUNIT_EXPECT_EQ(test, vmem_size(c->parent, VMEM_ALLOC), 0);
}

/* vmem_add() to an arena without spans (and so without reserved tags). */
static void fault_setup_vmem_empty(struct fault_ctx *c)
{
	c->vm = vmem_create("fault-add", 0, 0, FQ, NULL, NULL, NULL, 0,
			    VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(c->test, c->vm);
}

static void fault_teardown_vm(struct fault_ctx *c)
{
	fault_vmem_destroy(c, c->vm);
}

static int fault_op_vmem_add(struct fault_ctx *c)
{
	return fault_vmem_err(vmem_add(c->vm, FBASE, FSIZE, VM_SLEEP));
}

static void fault_check_vmem_add(struct fault_ctx *c, int err)
{
	struct kunit *test = c->test;
	vmem_addr_t a;

	fault_vmem_check(c, c->vm);
	if (err) {
		KUNIT_EXPECT_EQ(test, vmem_size(c->vm, VMEM_ALLOC | VMEM_FREE), 0);
		KUNIT_EXPECT_FALSE(test, vmem_contains(c->vm, FBASE, 1));
		KUNIT_EXPECT_NE(test, vmem_alloc(c->vm, FQ, VM_NOSLEEP, &a), 0);
		KUNIT_ASSERT_EQ(test, vmem_add(c->vm, FBASE, FSIZE, VM_SLEEP), 0);
	}
	KUNIT_EXPECT_EQ(test, vmem_size(c->vm, VMEM_ALLOC | VMEM_FREE), FSIZE);
	KUNIT_EXPECT_TRUE(test, vmem_contains(c->vm, FBASE, FSIZE));
	KUNIT_EXPECT_EQ(test, vmem_alloc(c->vm, FQ, VM_SLEEP, &a), 0);
	vmem_free(c->vm, a, FQ);
	fault_vmem_check(c, c->vm);
}

/*
 * Boundary-tag refill: pieces in the middle of free segments need two new
 * tags each, so the reserve runs dry every few allocations (VM_NOSLEEP:
 * GFP_NOWAIT tags).
 */
#define FAULT_NPIECES	16
#define FAULT_PIECE(i)	(FBASE + (i) * 0x1000UL + 0x800UL)

static void fault_setup_vmem_span(struct fault_ctx *c)
{
	c->vm = vmem_create("fault-bt", FBASE, FSIZE, FQ, NULL, NULL, NULL, 0,
			    VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(c->test, c->vm);
}

static int fault_op_vmem_pieces(struct fault_ctx *c)
{
	int rc = 0;

	while (c->naddr < FAULT_NPIECES) {
		rc = vmem_xalloc_addr(c->vm, FAULT_PIECE(c->naddr), FQ, VM_NOSLEEP);
		if (rc)
			break;
		c->naddr++;
	}
	return fault_vmem_err(rc);
}

static void fault_check_vmem_pieces(struct fault_ctx *c, int err)
{
	struct kunit *test = c->test;
	vmem_t *vm = c->vm;
	unsigned int i;

	fault_vmem_check(c, vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), c->naddr * FQ);
	if (err) {
		KUNIT_EXPECT_LT(test, c->naddr, FAULT_NPIECES);
		/* The failed piece is still free: the arena goes on. */
		KUNIT_EXPECT_EQ(test, fault_op_vmem_pieces(c), 0);
		fault_vmem_check(c, vm);
	}
	KUNIT_EXPECT_EQ(test, c->naddr, FAULT_NPIECES);
	for (i = 0; i < c->naddr; i++)
		vmem_xfree(vm, FAULT_PIECE(i), FQ);
	c->naddr = 0;
	fault_vmem_check(c, vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_MAXFREE), FSIZE);
}

/*
 * Busy-hash growth, inline for VM_SLEEP: @arg busy segments fill the hash
 * exactly; one more makes it grow (to 64 buckets, kmalloc; or to 1024,
 * 8 KiB, which kvmalloc may take from vmalloc).
 */
static void fault_setup_vmem_busy(struct fault_ctx *c)
{
	unsigned int i;

	fault_setup_vmem_span(c);
	for (i = 0; i < c->fc->arg; i++)
		fault_vmem_alloc(c, c->vm, FQ);
	c->hashbits = c->vm->vm_hashbits;
	KUNIT_ASSERT_EQ(c->test, 2UL << c->hashbits, c->fc->arg);
}

static int fault_op_vmem_alloc_one(struct fault_ctx *c)
{
	int rc;

	rc = vmem_alloc(c->vm, FQ, VM_SLEEP, &c->addr[c->naddr]);
	if (!rc)
		c->naddr++;
	return fault_vmem_err(rc);
}

static void fault_check_vmem_hash(struct fault_ctx *c, int err)
{
	struct kunit *test = c->test;
	vmem_t *vm = c->vm;

	fault_vmem_check(c, vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), c->naddr * FQ);
	if (!err && READ_ONCE(vm->vm_hashbits) == c->hashbits) {
		/* The resize failed and the allocation went on. */
		KUNIT_EXPECT_TRUE(test, c->injected);
		c->tolerated++;
	}
	/* The next allocation grows the hash after all. */
	fault_vmem_alloc(c, vm, FQ);
	KUNIT_EXPECT_EQ(test, READ_ONCE(vm->vm_hashbits),
			order_base_2(c->naddr + 1));
	fault_vmem_check(c, vm);
	fault_vmem_free_all(c, vm, FQ);
	fault_vmem_check(c, vm);
}

/* The first free of a cached size needs a magazine (GFP_NOWAIT). */
static void fault_setup_vmem_qcache(struct fault_ctx *c)
{
	c->vm = vmem_create("fault-qc", FBASE, FSIZE, FQ, NULL, NULL, NULL,
			    4 * FQ, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(c->test, c->vm);
	fault_vmem_alloc(c, c->vm, FQ);
}

static int fault_op_vmem_free_cached(struct fault_ctx *c)
{
	vmem_free(c->vm, c->addr[--c->naddr], FQ);
	return 0;
}

static void fault_check_vmem_qcache(struct fault_ctx *c, int err)
{
	struct kunit *test = c->test;
	vmem_t *vm = c->vm;
	vmem_addr_t a;

	/* Cached (a magazine was made), or freed to the arena. */
	if (!vmem_size(vm, VMEM_ALLOC)) {
		KUNIT_EXPECT_TRUE(test, c->injected);
		c->tolerated++;
	} else {
		KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), FQ);
	}
	fault_vmem_check(c, vm);
	KUNIT_EXPECT_EQ(test, vmem_alloc(vm, FQ, VM_SLEEP, &a), 0);
	vmem_free(vm, a, FQ);
	vmem_qcache_reap(vm);
	KUNIT_EXPECT_EQ(test, vmem_size(vm, VMEM_ALLOC), 0);
	fault_vmem_check(c, vm);
}

/*
 * Import through a source arena whose own tag reserve is down to one, so
 * the source's allocation refills it (after the child's first refill).
 */
static void fault_setup_import_source(struct fault_ctx *c)
{
	vmem_addr_t a;
	int i;

	fault_setup_parent(c);
	/* Kept until fault_teardown_parent()'s vmem_xfreeall(). */
	for (i = 0; i < 16 && c->parent->vm_nbtreserve != 1; i++)
		KUNIT_ASSERT_EQ(c->test, vmem_alloc(c->parent, FQ, VM_SLEEP, &a), 0);
	KUNIT_ASSERT_EQ(c->test, c->parent->vm_nbtreserve, 1U);
	c->parent_inuse = vmem_size(c->parent, VMEM_ALLOC);
	c->vm = vmem_create("fault-child", 0, 0, FQ, vmem_alloc, vmem_free,
			    c->parent, 0, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(c->test, c->vm);
}

/*
 * Import whose new span leaves the child's reserve empty: each allocation
 * of exactly FIMPORT imports a span that it fills, which takes the two
 * tags of the span and none for the segment; after three, the fourth
 * import uses the last two tags and the retry must refill.
 */
static void fault_setup_import_child(struct fault_ctx *c)
{
	vmem_addr_t a;
	int i;

	fault_setup_parent(c);
	c->vm = vmem_create("fault-child", 0, 0, FQ, vmem_alloc, vmem_free,
			    c->parent, 0, VM_SLEEP, IPL_NONE);
	KUNIT_ASSERT_NOT_NULL(c->test, c->vm);
	for (i = 0; i < 3; i++) {
		KUNIT_ASSERT_EQ(c->test, vmem_alloc(c->vm, FIMPORT, VM_NOSLEEP, &a), 0);
		c->addr[c->naddr++] = a;
	}
	KUNIT_ASSERT_EQ(c->test, c->vm->vm_nbtreserve, 2U);
}

static int fault_op_vmem_import(struct fault_ctx *c)
{
	int rc;

	rc = vmem_alloc(c->vm, FIMPORT, VM_NOSLEEP, &c->addr[c->naddr]);
	if (!rc)
		c->naddr++;
	return fault_vmem_err(rc);
}

static void fault_check_vmem_import(struct fault_ctx *c, int err)
{
	struct kunit *test = c->test;
	vmem_size_t child = vmem_size(c->vm, VMEM_ALLOC | VMEM_FREE);

	fault_vmem_check(c, c->vm);
	fault_vmem_check(c, c->parent);
	/* The child holds exactly what it imported, in use or not. */
	KUNIT_EXPECT_EQ(test, vmem_size(c->parent, VMEM_ALLOC), c->parent_inuse + child);
	/* A failed allocation gives back what it imported. */
	KUNIT_EXPECT_EQ(test, vmem_size(c->vm, VMEM_ALLOC), child);
	KUNIT_EXPECT_EQ(test, vmem_size(c->vm, VMEM_ALLOC), c->naddr * FIMPORT);
	if (err)
		KUNIT_EXPECT_EQ(test, fault_op_vmem_import(c), 0);
	fault_vmem_check(c, c->vm);
	while (c->naddr)
		vmem_free(c->vm, c->addr[--c->naddr], FIMPORT);
	KUNIT_EXPECT_EQ(test, vmem_size(c->vm, VMEM_ALLOC | VMEM_FREE), 0);
	KUNIT_EXPECT_EQ(test, vmem_size(c->parent, VMEM_ALLOC), c->parent_inuse);
	fault_vmem_destroy(c, c->vm);
	c->vm = NULL;
}

static void fault_teardown_import(struct fault_ctx *c)
{
	fault_vmem_destroy(c, c->vm);
	c->vm = NULL;
	fault_teardown_parent(c);
}

static int fault_op_whatis_open(struct fault_ctx *c)
{
	c->filp = filp_open("/sys/kernel/debug/kprim/vmem/whatis", O_RDWR, 0);
	return IS_ERR(c->filp) ? PTR_ERR(c->filp) : 0;
}

static void fault_check_whatis_open(struct fault_ctx *c, int err)
{
	char buf[64] = "";

	if (err)
		return;
	KUNIT_EXPECT_GT(c->test, kprim_test_read_seq_file(c->filp, buf, sizeof(buf) - 1), 0);
	KUNIT_EXPECT_STREQ(c->test, buf, "write an address to this file\n");
	filp_close(c->filp, NULL);
}

/* ---------------------------------------------------------------------- */
/* smr */

static SMR_DEFINE(fault_smr_static, "fault-smr-static");
static SMR_DEFINE_SLEEPABLE(fault_smr_static_sl, "fault-smr-static-sl");

struct fault_smr_node {
	struct smr_node node;
	bool ran;
};

static void fault_smr_cb(struct smr_node *node)
{
	container_of(node, struct fault_smr_node, node)->ran = true;
}

/* The domain works: a section, a callback through a barrier, a sync. */
static void fault_smr_use(struct fault_ctx *c, smr_t smr)
{
	struct fault_smr_node n = { .ran = false };
	struct smr_tracker trk;

	if (smr->smr_flags & SMR_SLEEPABLE) {
		smr_enter_sleepable(smr, &trk);
		smr_leave_sleepable(smr, &trk);
	} else {
		smr_enter(smr);
		smr_leave(smr);
	}
	smr_call(smr, &n.node, sizeof(n), fault_smr_cb);
	smr_barrier(smr);
	KUNIT_EXPECT_TRUE(c->test, n.ran);
	smr_synchronize(smr);
	KUNIT_EXPECT_EQ(c->test, smr_misuse_count(smr), 0UL);
}

static int fault_op_smr_create(struct fault_ctx *c)
{
	c->smr = smr_domain_create(c->fc->arg, "fault-smr");
	return c->smr ? 0 : -ENOMEM;
}

static void fault_check_smr_create(struct fault_ctx *c, int err)
{
	bool debugfs = fault_debugfs_has("smr", "fault-smr", NULL);

	if (err) {
		KUNIT_EXPECT_NULL(c->test, c->smr);
		KUNIT_EXPECT_FALSE(c->test, debugfs);
		return;
	}
	fault_debugfs_created(c, debugfs);
	fault_smr_use(c, c->smr);
	smr_domain_free(c->smr);
	KUNIT_EXPECT_FALSE(c->test, fault_debugfs_has("smr", "fault-smr", NULL));
}

static smr_t fault_smr_static_of(struct fault_ctx *c)
{
	return c->fc->arg & SMR_SLEEPABLE ? &fault_smr_static_sl : &fault_smr_static;
}

static int fault_op_smr_init(struct fault_ctx *c)
{
	return smr_domain_init(fault_smr_static_of(c));
}

static void fault_check_smr_init(struct fault_ctx *c, int err)
{
	smr_t smr = fault_smr_static_of(c);
	bool debugfs = fault_debugfs_has("smr", smr->smr_name, NULL);

	if (err) {
		KUNIT_EXPECT_TRUE(c->test, !READ_ONCE(smr->smr_pcpu));
		KUNIT_EXPECT_FALSE(c->test, debugfs);
		return;
	}
	fault_debugfs_created(c, debugfs);
	fault_smr_use(c, smr);
	smr_domain_fini(smr);
	KUNIT_EXPECT_TRUE(c->test, !READ_ONCE(smr->smr_pcpu));
}

/* smr_call() runs in any context: none of these may allocate. */
static void fault_setup_smr(struct fault_ctx *c)
{
	c->smr = smr_domain_create(SMR_NONE, "fault-smr");
	KUNIT_ASSERT_NOT_NULL(c->test, c->smr);
}

static int fault_op_smr_call(struct fault_ctx *c)
{
	struct fault_smr_node n1 = { .ran = false }, n2 = { .ran = false };

	smr_call(c->smr, &n1.node, sizeof(n1), fault_smr_cb);
	smr_call(c->smr, &n2.node, SMR_CALL_EXPEDITE, fault_smr_cb);
	smr_barrier(c->smr);
	smr_synchronize(c->smr);
	return n1.ran && n2.ran ? 0 : -EINVAL;
}

static void fault_check_smr_call(struct fault_ctx *c, int err)
{
	KUNIT_EXPECT_EQ(c->test, smr_misuse_count(c->smr), 0UL);
}

static void fault_teardown_smr(struct fault_ctx *c)
{
	smr_domain_free(c->smr);
}

/* ---------------------------------------------------------------------- */
/* psref */

static int fault_op_psref_class_create(struct fault_ctx *c)
{
	c->class = psref_class_create("fault-psref", IPL_SOFTNET);
	return c->class ? 0 : -ENOMEM;
}

static void fault_check_psref_class(struct fault_ctx *c, int err)
{
	bool debugfs = fault_debugfs_has("psref", "fault-psref", NULL);
	struct kunit *test = c->test;
	struct psref_target t;
	struct psref r;

	if (err) {
		KUNIT_EXPECT_NULL(test, c->class);
		KUNIT_EXPECT_FALSE(test, debugfs);
		return;
	}
	fault_debugfs_created(c, debugfs);
	psref_target_init(&t, c->class);
	local_bh_disable();
	KUNIT_EXPECT_EQ(test, psref_acquire(&r, &t, c->class), 0);
	KUNIT_EXPECT_TRUE(test, psref_held(&t, c->class));
	psref_release(&r, &t, c->class);
	local_bh_enable();
	psref_target_drain(&t, c->class);
	psref_target_destroy(&t, c->class);
	KUNIT_EXPECT_EQ(test, psref_misuse_count(c->class), 0UL);
	psref_class_destroy(c->class);
	KUNIT_EXPECT_FALSE(test, fault_debugfs_has("psref", "fault-psref", NULL));
}

/* ---------------------------------------------------------------------- */
/* ltable */

#define FAULT_LT_ELEM_SZ	64U
/* @arg: maximum table size; small tables have page-sized slabs. */
#define FAULT_LT_SMALL		1024U
#define FAULT_LT_LARGE		LT_IDX_MAX

static int fault_op_ltable_init(struct fault_ctx *c)
{
	return ltable_init(&c->table, "fault-lt", c->fc->arg, FAULT_LT_ELEM_SZ, NULL);
}

/* Free the kept elements (valid, one reference each) and the op's. */
static void fault_ltable_free(struct fault_ctx *c)
{
	struct link_table *t = &c->table;

	while (c->nelem) {
		struct lt_elem *e = c->elem[--c->nelem];

		lt_elem_invalidate(e);
		ltable_put_elem(t, e);
	}
	if (c->op_elem)
		ltable_put_elem(t, c->op_elem);
	c->op_elem = NULL;
	KUNIT_EXPECT_EQ(c->test, ltable_check(t), (int)ltable_nelem(t));
}

static void fault_ltable_keep(struct fault_ctx *c)
{
	struct lt_elem *e;

	KUNIT_ASSERT_LT(c->test, c->nelem, FAULT_NKEEP);
	e = ltable_alloc_elem(&c->table, LT_ELEM, 1, 0);
	KUNIT_ASSERT_NOT_NULL(c->test, e);
	lt_elem_mkvalid(e);
	c->id[c->nelem] = e->lt_id.id;
	c->elem[c->nelem++] = e;
}

/* Every kept element resolves by its id; the free list is whole. */
static void fault_ltable_consistent(struct fault_ctx *c)
{
	struct link_table *t = &c->table;
	struct lt_elem *e;
	unsigned int i;

	for (i = 0; i < c->nelem; i++) {
		e = ltable_get_elem(t, c->id[i]);
		KUNIT_EXPECT_PTR_EQ(c->test, e, c->elem[i]);
		if (e)
			ltable_put_elem(t, e);
	}
	KUNIT_EXPECT_EQ(c->test, ltable_check(t),
			(int)(ltable_nelem(t) - atomic_read(&t->used_elem)));
	KUNIT_EXPECT_EQ(c->test, atomic_long_read(&t->misuse), 0L);
}

static void fault_check_ltable_init(struct fault_ctx *c, int err)
{
	bool debugfs = fault_debugfs_has("ltable", "fault-lt", NULL);
	struct link_table *t = &c->table;

	if (err) {
		KUNIT_EXPECT_NULL(c->test, t->table);
		KUNIT_EXPECT_TRUE(c->test, !t->stats);
		KUNIT_EXPECT_FALSE(c->test, debugfs);
		return;
	}
	fault_debugfs_created(c, debugfs);
	KUNIT_EXPECT_EQ(c->test, t->nslabs, 1U);
	KUNIT_EXPECT_EQ(c->test, ltable_nelem(t), t->slab_elem);
	fault_ltable_keep(c);
	fault_ltable_consistent(c);
	fault_ltable_free(c);
	ltable_destroy(t);
	KUNIT_EXPECT_FALSE(c->test, fault_debugfs_has("ltable", "fault-lt", NULL));
}

/* A table whose first slab is in use: the next allocation grows it. */
static void fault_setup_ltable_full(struct fault_ctx *c)
{
	struct link_table *t = &c->table;

	KUNIT_ASSERT_EQ(c->test, fault_op_ltable_init(c), 0);
	while (c->nelem < t->slab_elem)
		fault_ltable_keep(c);
	KUNIT_ASSERT_EQ(c->test, ltable_nelem(t), t->slab_elem);
}

static void fault_teardown_ltable(struct fault_ctx *c)
{
	fault_ltable_free(c);
	ltable_destroy(&c->table);
}

static int fault_op_ltable_alloc(struct fault_ctx *c)
{
	c->op_elem = ltable_alloc_elem(&c->table, LT_ELEM, 1, 0);
	return c->op_elem ? 0 : -ENOMEM;
}

static void fault_check_ltable_grow(struct fault_ctx *c, int err)
{
	struct link_table *t = &c->table;

	if (err) {
		KUNIT_EXPECT_EQ(c->test, t->nslabs, 1U);
		KUNIT_EXPECT_EQ(c->test, ltable_nelem(t), t->slab_elem);
	}
	fault_ltable_consistent(c);
	if (err)
		KUNIT_EXPECT_EQ(c->test, fault_op_ltable_alloc(c), 0);
	KUNIT_EXPECT_EQ(c->test, t->nslabs, 2U);
	fault_ltable_consistent(c);
}

static void fault_setup_ltable(struct fault_ctx *c)
{
	KUNIT_ASSERT_EQ(c->test, fault_op_ltable_init(c), 0);
	fault_ltable_keep(c);
	fault_ltable_keep(c);
}

static int fault_op_ltable_check(struct fault_ctx *c)
{
	c->ret = ltable_check(&c->table);
	return c->ret < 0 ? c->ret : 0;
}

static void fault_check_ltable_check(struct fault_ctx *c, int err)
{
	if (!err)
		KUNIT_EXPECT_EQ(c->test, c->ret, (int)ltable_nelem(&c->table) - 2);
	fault_ltable_consistent(c);
}

/* ---------------------------------------------------------------------- */

static const struct fault_case fault_cases[] = {
	{
		.name = "vmem_create",
		.op = fault_op_vmem_create,
		.check = fault_check_vmem_created,
		.errors = true,	/* arena, tag */
		.min_tolerated = 1,	/* debugfs */
	}, {
		.name = "vmem_create_qcache",
		.op = fault_op_vmem_create,
		.check = fault_check_vmem_created,
		.arg = 16 * FQ,
		.errors = true,	/* arena, caches, 16 per-CPU, tag */
		.min_tolerated = 1,
	}, {
		.name = "vmem_init_qcache",
		.op = fault_op_vmem_init,
		.check = fault_check_vmem_created,
		.arg = 4 * FQ,
		.errors = true,	/* caches, 4 per-CPU, tag */
		.min_tolerated = 1,
	}, {
		.name = "vmem_create_source",
		.setup = fault_setup_parent,
		.op = fault_op_vmem_create_source,
		.check = fault_check_vmem_created,
		.teardown = fault_teardown_parent,
		.arg = 4 * FQ,
		.errors = true,	/* arena, caches, 4 per-CPU */
		.min_tolerated = 1,
	}, {
		.name = "vmem_add",
		.setup = fault_setup_vmem_empty,
		.op = fault_op_vmem_add,
		.check = fault_check_vmem_add,
		.teardown = fault_teardown_vm,
		.errors = true,	/* tag */
	}, {
		.name = "vmem_bt_refill",
		.setup = fault_setup_vmem_span,
		.op = fault_op_vmem_pieces,
		.check = fault_check_vmem_pieces,
		.teardown = fault_teardown_vm,
		.errors = true,	/* tag */
	}, {
		.name = "vmem_hash_grow",
		.setup = fault_setup_vmem_busy,
		.op = fault_op_vmem_alloc_one,
		.check = fault_check_vmem_hash,
		.teardown = fault_teardown_vm,
		.arg = 2 * VMEM_HASH_INITIAL,
		.min_tolerated = 1,	/* the resize */
	}, {
		.name = "vmem_hash_grow_large",
		.setup = fault_setup_vmem_busy,
		.op = fault_op_vmem_alloc_one,
		.check = fault_check_vmem_hash,
		.teardown = fault_teardown_vm,
		.arg = 512,
		.absorbs = true,	/* 8 KiB table: kvmalloc */
	}, {
		.name = "vmem_qcache_magazine",
		.setup = fault_setup_vmem_qcache,
		.op = fault_op_vmem_free_cached,
		.check = fault_check_vmem_qcache,
		.teardown = fault_teardown_vm,
		.min_tolerated = 1,	/* freed past the cache */
	}, {
		.name = "vmem_import_source_fails",
		.setup = fault_setup_import_source,
		.op = fault_op_vmem_import,
		.check = fault_check_vmem_import,
		.teardown = fault_teardown_import,
		.errors = true,	/* child's tag, source's tag */
	}, {
		.name = "vmem_import_child_fails",
		.setup = fault_setup_import_child,
		.op = fault_op_vmem_import,
		.check = fault_check_vmem_import,
		.teardown = fault_teardown_import,
		.errors = true,	/* child's tag after the import */
	}, {
		.name = "vmem_whatis_open",
		.op = fault_op_whatis_open,
		.check = fault_check_whatis_open,
		.errors = true,	/* whatis state, seq_file */
	}, {
		.name = "smr_domain_create",
		.op = fault_op_smr_create,
		.check = fault_check_smr_create,
		.arg = SMR_NONE,
		.errors = true,	/* domain, per-CPU */
		.min_tolerated = 1,
	}, {
		.name = "smr_domain_create_sleepable",
		.op = fault_op_smr_create,
		.check = fault_check_smr_create,
		.arg = SMR_SLEEPABLE,
		.errors = true,
		.min_tolerated = 1,
	}, {
		.name = "smr_domain_init",
		.op = fault_op_smr_init,
		.check = fault_check_smr_init,
		.arg = SMR_NONE,
		.errors = true,	/* per-CPU */
		.min_tolerated = 1,
	}, {
		.name = "smr_domain_init_sleepable",
		.op = fault_op_smr_init,
		.check = fault_check_smr_init,
		.arg = SMR_SLEEPABLE,
		.errors = true,
		.min_tolerated = 1,
	}, {
		.name = "smr_call_no_alloc",
		.setup = fault_setup_smr,
		.op = fault_op_smr_call,
		.check = fault_check_smr_call,
		.teardown = fault_teardown_smr,
		.no_alloc = true,
	}, {
		.name = "psref_class_create",
		.op = fault_op_psref_class_create,
		.check = fault_check_psref_class,
		.errors = true,	/* class, per-CPU */
		.min_tolerated = 1,
	}, {
		.name = "ltable_init",
		.op = fault_op_ltable_init,
		.check = fault_check_ltable_init,
		.arg = FAULT_LT_SMALL,
		.errors = true,	/* slab pointers, per-CPU stats, slab */
		.min_tolerated = 1,
	}, {
		.name = "ltable_init_large",
		.op = fault_op_ltable_init,
		.check = fault_check_ltable_init,
		.arg = FAULT_LT_LARGE,
		.errors = true,	/* the 32 KiB slab is kvmalloc'ed */
		.min_tolerated = 1,
	}, {
		.name = "ltable_alloc_grow",
		.setup = fault_setup_ltable_full,
		.op = fault_op_ltable_alloc,
		.check = fault_check_ltable_grow,
		.teardown = fault_teardown_ltable,
		.arg = FAULT_LT_SMALL,
		.errors = true,	/* slab */
	}, {
		.name = "ltable_alloc_grow_large",
		.setup = fault_setup_ltable_full,
		.op = fault_op_ltable_alloc,
		.check = fault_check_ltable_grow,
		.teardown = fault_teardown_ltable,
		.arg = FAULT_LT_LARGE,
		.absorbs = true,	/* 32 KiB slab: kvmalloc */
	}, {
		.name = "ltable_check",
		.setup = fault_setup_ltable,
		.op = fault_op_ltable_check,
		.check = fault_check_ltable_check,
		.teardown = fault_teardown_ltable,
		.arg = FAULT_LT_SMALL,
		.errors = true,	/* bitmap */
	},
};

static void fault_case_desc(const struct fault_case *fc, char *desc)
{
	strscpy(desc, fc->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(fault, fault_cases, fault_case_desc);

static void fault_allocation_paths(struct kunit *test)
{
	fault_run(test, test->param_value);
}

static struct kunit_case fault_test_cases[] = {
	KUNIT_CASE_PARAM(fault_allocation_paths, fault_gen_params),
	{}
};

static struct kunit_suite fault_suite = {
	.name = "kprim_fault",
	.test_cases = fault_test_cases,
};

kunit_test_suite(fault_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit fault injection of every kprim allocation path");
KPRIM_MODULE_IMPORT_NS();
