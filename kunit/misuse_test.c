// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite kprim_misuse: every consumer misuse of kprim in one table.
 *
 * Each entry of mu_cases[] names a facility, builds fresh objects in a
 * per-case context (an arena, a domain, a class and its targets, a table),
 * commits one misuse against them, and says what must follow:
 *
 *  - the call returns what its kernel-doc promises (an error code, NULL,
 *    false, or nothing for a void function);
 *  - the misuse counter goes up by exactly one (by the number the entry
 *    gives, where the facility documents more than one report): the
 *    object's counter (vmem_misuse_count(vm), smr_misuse_count(smr),
 *    psref_misuse_count(class), link_table.misuse) or, for misuse that has
 *    no object, the facility's global one;
 *  - the structure still works: the facility's normal operations succeed
 *    and give checked results (the arena's segments tile its spans and add
 *    up to vmem_size(); a section, a grace period and a callback go through
 *    the domain; a target is acquired, copied, released, drained; elements
 *    are allocated, looked up, freed and the free list walks clean), plus
 *    what the entry checks itself;
 *  - teardown frees everything without a further report: the facility-wide
 *    count is compared once the case is over (the harness runs kmemleak
 *    after the suite for anything teardown could not free).
 *
 * Every phase (setup, misuse, intact check, teardown) runs in a kthread the
 * test waits for with a timeout, so a misuse that would hang (a synchronize
 * inside its own section, a drain by the holder, a domain freed from its
 * own callback) fails its case instead of hanging the suite; the context
 * is then leaked on purpose, since something may still be using it.
 * Checks made in those kthreads are recorded (MU_CHECK()) and reported by
 * the test thread.  Misuse from hard-IRQ context runs in an irq_work,
 * from softirq in a timer, on another CPU or in another task in a kthread
 * bound to that CPU.
 *
 * KPRIM_MISUSE() warns once per call site and the facility suites run
 * before this one, so warnings are not asserted, counters are.  The test
 * case's name ends in "_warns", which lets the harness accept the plain
 * WARN()s it provokes; any other splat still fails the run.
 *
 * Every KPRIM_MISUSE() site a consumer can reach is in the table, except:
 *  - vmem: a bad span from an import function is reported once per import
 *    attempt, so an unconstrained vmem_alloc() reports it up to four times
 *    (VMEM_IMPORT_TRIES); the entries use a constrained vmem_xalloc(),
 *    which imports once.  vmem_walk(), vmem_contains() and
 *    vmem_qcache_reap() share vmem_size()'s context check (one site).
 *  - smr_domain_fini() "sections still active": its own sections are
 *    refused up front and smr_barrier() waits for everybody else's, so only
 *    a section entered after the barrier, by a racing task, reaches it.
 *  - psref_target_destroy() "changed state under destroy": needs another
 *    task to change the target's state inside one cmpxchg window (a race).
 *  - lt_elem_invalidate() of a valid reserved element: no API call makes a
 *    reserved element valid (lt_elem_mkvalid() refuses, which is tested).
 *  - NMI context (no way to raise an NMI from a test).
 * Calls that may sleep, from atomic context, are the kernel's business
 * (might_sleep()), not misuse reports, and are not tried.  Re-initialising
 * live storage (ltable_init(), vmem_init(), psref_target_init()) cannot be
 * told from initialising fresh memory and is not detected.
 */

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/irq_work.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <kprim/ltable.h>
#include <kprim/psref.h>
#include <kprim/smr.h>
#include <kprim/vmem.h>

/* A phase that has not returned after this long is hung. */
#define MU_TIMEOUT_S	20
#define MU_TIMEOUT	(MU_TIMEOUT_S * HZ)

/* c->rc before the misuse stores what its call returned. */
#define MU_UNSET	(-0x7fff)

struct mu_ctx;
typedef void (*mu_fn)(struct mu_ctx *c);

enum mu_facility_id { MU_VMEM, MU_SMR, MU_PSREF, MU_LTABLE };

/*
 * The counter a misuse must bump: the object's own (arena, domain, class,
 * table) or the facility's global one (misuse with no object to charge:
 * no class given, a failed creation, an SMR accessor or queue check...).
 * vmem's and ltable's global counters also count every object report.
 */
enum mu_counter { MU_C_OBJECT, MU_C_GLOBAL };

/* What the misused call returns. */
enum mu_ret { MU_RET_VOID, MU_RET_INT, MU_RET_BOOL, MU_RET_NULL };

#define MU_NEED_2CPUS	BIT(0)	/* a second online CPU */
#define MU_NEED_DEBUG	BIT(1)	/* psref_debug, on by default with DEBUG_KERNEL */
#define MU_NEED_LOCKDEP	BIT(2)	/* SMR serialized asserts are lockdep-only */

/**
 * struct mu_case - one misuse
 * @name: parameter name shown by KUnit
 * @fac: the facility
 * @setup: builds the objects in the context (none: the misuse creates)
 * @misuse: commits the misuse and restores the consumer's own state
 * @ret: kind of return value to check
 * @expect: the expected return value for %MU_RET_INT and %MU_RET_BOOL
 * @counter: which misuse counter goes up
 * @reports: by how much, when the facility documents more than one
 * @needs: %MU_NEED_* preconditions; the case is skipped without them
 * @intact: checks of its own after the facility's generic ones
 */
struct mu_case {
	const char *name;
	enum mu_facility_id fac;
	mu_fn setup;
	mu_fn misuse;
	enum mu_ret ret;
	long expect;
	enum mu_counter counter;
	unsigned int reports;
	unsigned int needs;
	mu_fn intact;
};

/* Drained or drain abandoned: only psref_target_destroy() is left to do. */
enum mu_tstate { MU_T_NONE, MU_T_LIVE, MU_T_CLOSED };

#define MU_WALK_MAX	32

/* The segments one vmem_walk() reported, in address order. */
struct mu_walk {
	unsigned int n;
	bool overflow;
	vmem_size_t sum;
	vmem_addr_t start[MU_WALK_MAX];
	vmem_size_t size[MU_WALK_MAX];
};

struct mu_ctx {
	const struct mu_case *mc;
	char name[24];

	/* What the misused call returned. */
	long rc;
	void *ptr;

	/* First failed MU_CHECK() of the current phase; a reason to skip. */
	const char *fail;
	int fail_line;
	unsigned int nfail;
	const char *skip;

	/* Running a function in another context. */
	mu_fn ctx_fn;
	bool in_ctx;
	struct irq_work iw;
	struct timer_list timer;
	struct completion ctx_done;
	struct completion step[2];
	long rc2;

	/* vmem */
	vmem_t *vm, *src;
	vmem_addr_t live, q, imp_addr;
	vmem_size_t live_size, exp_alloc, exp_total, src_total, imp_short;
	unsigned int nimport, nrelease;
	struct mu_walk walk[3];

	/* smr */
	smr_t smr;
	bool smr_static, smr_init, smr_sleepable;
	struct smr_tracker trk;
	struct smr_node node, node2;
	atomic_t cb_runs, cb2_runs;

	/* psref */
	struct psref_class *cls, *cls2;
	struct psref_target tgt, tgt2;
	enum mu_tstate tgt_state, tgt2_state;
	struct psref ps, ps2, ps3;

	/* ltable */
	struct link_table lt;
	bool lt_init;
	struct lt_elem *e0;
	unsigned int npoison;
};

/* Record a failed check of a phase run in a kthread; returns @ok. */
static bool mu_check(struct mu_ctx *c, bool ok, const char *what, int line)
{
	if (!ok && !c->nfail++) {
		c->fail = what;
		c->fail_line = line;
	}
	return ok;
}

#define MU_CHECK(c, cond)	mu_check((c), !!(cond), #cond, __LINE__)

/* ---------------------------------------------------------------------- */
/* Running functions in kthreads, on other CPUs, in IRQ context */

struct mu_job {
	struct mu_ctx *c;
	mu_fn fn;
	struct completion done;
};

static int mu_job_thread(void *arg)
{
	struct mu_job *j = arg;

	j->fn(j->c);
	complete(&j->done);
	return 0;
}

/* Run @fn(@c) in a new kthread, bound to @cpu unless it is negative. */
static struct mu_job *mu_start(struct mu_ctx *c, mu_fn fn, int cpu)
{
	struct task_struct *t;
	struct mu_job *j;

	j = kzalloc(sizeof(*j), GFP_KERNEL);
	if (!j)
		return NULL;
	j->c = c;
	j->fn = fn;
	init_completion(&j->done);
	t = kthread_create(mu_job_thread, j, "kprim_mu/%d", cpu);
	if (IS_ERR(t)) {
		kfree(j);
		return NULL;
	}
	if (cpu >= 0)
		kthread_bind(t, cpu);
	wake_up_process(t);
	return j;
}

/*
 * Wait for @j.  False if it did not finish in time: it is then leaked on
 * purpose (the kthread still uses it), as is whatever it works on.
 */
static bool mu_finish(struct mu_job *j, unsigned long timeout)
{
	if (!j || !wait_for_completion_timeout(&j->done, timeout))
		return false;
	kfree(j);
	return true;
}

/* Run @fn(@c) in a kthread bound to @cpu and wait for it (bounded). */
static void mu_run_on(struct mu_ctx *c, mu_fn fn, int cpu)
{
	MU_CHECK(c, mu_finish(mu_start(c, fn, cpu), MU_TIMEOUT / 2));
}

/* Another online CPU than the caller's, which must be pinned; or -1. */
static int mu_other_cpu(struct mu_ctx *c)
{
	int cpu, self = smp_processor_id();

	for_each_online_cpu(cpu)
		if (cpu != self)
			return cpu;
	c->skip = "needs a second online CPU";
	return -1;
}

static void mu_irq_work_fn(struct irq_work *w)
{
	struct mu_ctx *c = container_of(w, struct mu_ctx, iw);

	c->in_ctx = in_hardirq();
	if (c->in_ctx)
		c->ctx_fn(c);
}

/* Run @fn(@c) in hard-IRQ context on this CPU. */
static void mu_in_hardirq(struct mu_ctx *c, mu_fn fn)
{
	c->ctx_fn = fn;
	c->in_ctx = false;
	init_irq_work(&c->iw, mu_irq_work_fn);
	irq_work_queue(&c->iw);
	irq_work_sync(&c->iw);
	if (!c->in_ctx)
		c->skip = "irq_work did not run in hard IRQ context";
}

static void mu_timer_fn(struct timer_list *t)
{
	struct mu_ctx *c = from_timer(c, t, timer);

	c->in_ctx = in_serving_softirq();
	if (c->in_ctx)
		c->ctx_fn(c);
	complete(&c->ctx_done);
}

/* Run @fn(@c) in softirq context (a timer) on this CPU. */
static void mu_in_softirq(struct mu_ctx *c, mu_fn fn)
{
	c->ctx_fn = fn;
	c->in_ctx = false;
	init_completion(&c->ctx_done);
	timer_setup(&c->timer, mu_timer_fn, 0);
	c->timer.expires = jiffies + 1;
	add_timer_on(&c->timer, raw_smp_processor_id());
	wait_for_completion(&c->ctx_done);
	timer_delete_sync(&c->timer);
	if (!c->in_ctx)
		c->skip = "the timer did not run in softirq context";
}

/* ---------------------------------------------------------------------- */
/* vmem */

#define MU_VM_BASE	0x100000UL
#define MU_VM_SIZE	0x10000UL
#define MU_VM_QUANTUM	0x10UL
#define MU_VM_QCACHE	0x40UL
#define MU_VM_LIVE	0x100UL

/* An arena with one live allocation the misuse must leave alone. */
static void mu_vmem_arena(struct mu_ctx *c, int ipl)
{
	c->vm = vmem_create(c->name, MU_VM_BASE, MU_VM_SIZE, MU_VM_QUANTUM,
			    NULL, NULL, NULL, MU_VM_QCACHE, VM_SLEEP, ipl);
	if (!MU_CHECK(c, c->vm))
		return;
	c->exp_total = MU_VM_SIZE;
	if (!MU_CHECK(c, !vmem_xalloc(c->vm, MU_VM_LIVE, 0, 0, 0, VMEM_ADDR_MIN,
				      VMEM_ADDR_MAX, VM_SLEEP, &c->live)))
		return;
	c->live_size = MU_VM_LIVE;
	c->exp_alloc = MU_VM_LIVE;
}

static void mu_vmem_setup(struct mu_ctx *c)
{
	mu_vmem_arena(c, IPL_NONE);
}

static void mu_vmem_setup_ipl_vm(struct mu_ctx *c)
{
	mu_vmem_arena(c, IPL_VM);
}

/* A child arena importing from a source, holding one allocation. */
static void mu_vmem_setup_child(struct mu_ctx *c)
{
	char name[32];

	snprintf(name, sizeof(name), "%s_src", c->name);
	c->src_total = 0x100000;
	c->src = vmem_create(name, 0x1000000, c->src_total, 0x1000, NULL,
			     NULL, NULL, 0, VM_SLEEP, IPL_NONE);
	if (!MU_CHECK(c, c->src))
		return;
	c->vm = vmem_create(c->name, 0, 0, MU_VM_QUANTUM, vmem_alloc, vmem_free,
			    c->src, MU_VM_QCACHE, VM_SLEEP, IPL_NONE);
	if (!MU_CHECK(c, c->vm))
		return;
	if (!MU_CHECK(c, !vmem_alloc(c->vm, MU_VM_LIVE, VM_SLEEP, &c->live)))
		return;
	c->live_size = MU_VM_LIVE;
	c->exp_alloc = MU_VM_LIVE;
	c->exp_total = MU_VM_LIVE;
}

static int mu_importfn(void *arg, vmem_size_t size, vm_flag_t flags,
		       vmem_addr_t *addrp)
{
	struct mu_ctx *c = arg;

	c->nimport++;
	*addrp = c->imp_addr;
	return 0;
}

static int mu_ximportfn(void *arg, vmem_size_t size, vmem_size_t *actual,
			vm_flag_t flags, vmem_addr_t *addrp)
{
	struct mu_ctx *c = arg;

	c->nimport++;
	*addrp = c->imp_addr;
	*actual = size - c->imp_short;
	return 0;
}

static void mu_releasefn(void *arg, vmem_addr_t addr, vmem_size_t size)
{
	struct mu_ctx *c = arg;

	c->nrelease++;
}

/* An empty arena whose import function returns a misaligned span. */
static void mu_vmem_setup_import_misaligned(struct mu_ctx *c)
{
	c->imp_addr = 0x400008;
	c->vm = vmem_create(c->name, 0, 0, MU_VM_QUANTUM, mu_importfn,
			    mu_releasefn, c, 0, VM_SLEEP, IPL_NONE);
	MU_CHECK(c, c->vm);
}

/* An arena whose import function returns its own static span. */
static void mu_vmem_setup_import_overlap(struct mu_ctx *c)
{
	c->imp_addr = MU_VM_BASE;
	c->vm = vmem_create(c->name, MU_VM_BASE, 0x1000, MU_VM_QUANTUM,
			    mu_importfn, mu_releasefn, c, 0, VM_SLEEP, IPL_NONE);
	MU_CHECK(c, c->vm);
	c->exp_total = 0x1000;
}

/* An empty arena whose import function imports less than it says. */
static void mu_vmem_setup_ximport_short(struct mu_ctx *c)
{
	c->imp_addr = 0x400000;
	c->imp_short = MU_VM_QUANTUM;
	c->vm = vmem_xcreate(c->name, 0, 0, MU_VM_QUANTUM, mu_ximportfn,
			     mu_releasefn, c, 0, VM_SLEEP, IPL_NONE);
	MU_CHECK(c, c->vm);
}

static void mu_walk_fn(void *arg, vmem_addr_t start, vmem_size_t size)
{
	struct mu_walk *w = arg;

	w->sum += size;
	if (w->n == MU_WALK_MAX) {
		w->overflow = true;
		return;
	}
	w->start[w->n] = start;
	w->size[w->n] = size;
	w->n++;
}

static bool mu_disjoint(vmem_addr_t a, vmem_size_t as, vmem_addr_t b,
			vmem_size_t bs)
{
	return a + as <= b || b + bs <= a;
}

/* Is [@a, @a + @s) inside one of the spans? */
static bool mu_in_spans(const struct mu_walk *sp, vmem_addr_t a, vmem_size_t s)
{
	unsigned int i;

	for (i = 0; i < sp->n; i++)
		if (a >= sp->start[i] && a - sp->start[i] < sp->size[i] &&
		    s <= sp->size[i] - (a - sp->start[i]))
			return true;
	return false;
}

/* Segments of @w are in order, disjoint, inside the spans, not in @o. */
static void mu_check_segs(struct mu_ctx *c, const struct mu_walk *sp,
			  const struct mu_walk *w, const struct mu_walk *o)
{
	unsigned int i, j;

	for (i = 0; i < w->n; i++) {
		MU_CHECK(c, w->size[i]);
		MU_CHECK(c, mu_in_spans(sp, w->start[i], w->size[i]));
		if (i)
			MU_CHECK(c, w->start[i] >= w->start[i - 1] + w->size[i - 1]);
		for (j = 0; j < o->n; j++)
			MU_CHECK(c, mu_disjoint(w->start[i], w->size[i],
						o->start[j], o->size[j]));
	}
}

/*
 * Check an arena through its public API: with the quantum caches emptied,
 * the spans are ordered and disjoint, busy and free segments lie in them
 * without overlapping, and they add up to vmem_size(), which must say
 * @alloc allocated out of @total.  Since busy + free == spans and nothing
 * overlaps, the segments tile the spans exactly.
 */
static void mu_vmem_check(struct mu_ctx *c, vmem_t *vm, vmem_size_t alloc,
			  vmem_size_t total)
{
	struct mu_walk *sp = &c->walk[0], *busy = &c->walk[1], *idle = &c->walk[2];
	unsigned int i;

	memset(c->walk, 0, sizeof(c->walk));
	vmem_qcache_reap(vm);
	vmem_walk(vm, VMEM_SPAN, mu_walk_fn, sp);
	vmem_walk(vm, VMEM_ALLOC, mu_walk_fn, busy);
	vmem_walk(vm, VMEM_FREE, mu_walk_fn, idle);
	MU_CHECK(c, vmem_size(vm, VMEM_ALLOC) == alloc);
	MU_CHECK(c, vmem_size(vm, VMEM_ALLOC | VMEM_FREE) == total);
	MU_CHECK(c, vmem_size(vm, VMEM_FREE) == total - alloc);
	MU_CHECK(c, sp->sum == total);
	MU_CHECK(c, busy->sum == alloc);
	MU_CHECK(c, idle->sum == total - alloc);
	if (sp->overflow || busy->overflow || idle->overflow)
		return;
	for (i = 1; i < sp->n; i++)
		MU_CHECK(c, sp->start[i] >= sp->start[i - 1] + sp->size[i - 1]);
	mu_check_segs(c, sp, busy, idle);
	mu_check_segs(c, sp, idle, busy);
}

static void mu_vmem_intact(struct mu_ctx *c)
{
	vmem_addr_t a, b;

	if (c->src)
		mu_vmem_check(c, c->src, 0, c->src_total);
	if (!c->vm)
		mu_vmem_arena(c, IPL_NONE);
	if (!c->vm)
		return;
	mu_vmem_check(c, c->vm, c->exp_alloc, c->exp_total);
	if (c->exp_total - c->exp_alloc < 0x400)
		return;
	/* A cached and an uncached, aligned allocation, then both freed. */
	if (!MU_CHECK(c, !vmem_alloc(c->vm, 0x20, VM_SLEEP, &a)))
		return;
	MU_CHECK(c, vmem_contains(c->vm, a, 0x20));
	if (MU_CHECK(c, !vmem_xalloc(c->vm, 0x200, 0x100, 0, 0, VMEM_ADDR_MIN,
				     VMEM_ADDR_MAX, VM_SLEEP, &b))) {
		MU_CHECK(c, !(b & 0xff));
		MU_CHECK(c, vmem_contains(c->vm, b, 0x200));
		MU_CHECK(c, mu_disjoint(a, 0x20, b, 0x200));
		if (c->live_size)
			MU_CHECK(c, mu_disjoint(b, 0x200, c->live, c->live_size));
		vmem_xfree(c->vm, b, 0x200);
	}
	if (c->live_size)
		MU_CHECK(c, mu_disjoint(a, 0x20, c->live, c->live_size));
	vmem_free(c->vm, a, 0x20);
	mu_vmem_check(c, c->vm, c->exp_alloc, c->exp_total);
}

/* An arena fed by mu_importfn(): a well-behaved import now works. */
static void mu_vmem_import_intact(struct mu_ctx *c)
{
	unsigned int nimport = c->nimport, nrelease = c->nrelease;
	vmem_addr_t a;

	c->imp_addr = 0x400000;
	c->imp_short = 0;
	if (!MU_CHECK(c, !vmem_xalloc(c->vm, 0x100, 0x20, 0, 0, VMEM_ADDR_MIN,
				      VMEM_ADDR_MAX, VM_NOSLEEP, &a)))
		return;
	MU_CHECK(c, c->nimport == nimport + 1);
	MU_CHECK(c, a >= 0x400000 && a < 0x400000 + 0x200 && !(a & 0x1f));
	vmem_xfree(c->vm, a, 0x100);
	/* The span became free again and went back. */
	MU_CHECK(c, c->nrelease == nrelease + 1);
	mu_vmem_check(c, c->vm, 0, 0);
}

static void mu_vmem_teardown(struct mu_ctx *c)
{
	if (c->vm) {
		if (c->live_size)
			vmem_xfree(c->vm, c->live, c->live_size);
		vmem_destroy(c->vm);
		c->vm = NULL;
	}
	if (c->src) {
		vmem_destroy(c->src);
		c->src = NULL;
	}
}

/* Creation with bad arguments: NULL, nothing registered or leaked. */
static void mu_vmem_created(struct mu_ctx *c, vmem_t *vm)
{
	c->ptr = vm;
	if (vm)
		vmem_destroy(vm);
}

static void mu_vmem_create_quantum_npot(struct mu_ctx *c)
{
	mu_vmem_created(c, vmem_create(c->name, 0, 0x300, 3, NULL, NULL, NULL,
				       0, VM_SLEEP, IPL_NONE));
}

static void mu_vmem_create_quantum_zero(struct mu_ctx *c)
{
	mu_vmem_created(c, vmem_create(c->name, 0, 0x100, 0, NULL, NULL, NULL,
				       0, VM_SLEEP, IPL_NONE));
}

static void mu_vmem_create_bad_ipl(struct mu_ctx *c)
{
	mu_vmem_created(c, vmem_create(c->name, 0, 0x100, 0x10, NULL, NULL,
				       NULL, 0, VM_SLEEP, 42));
}

static void mu_vmem_create_both_sleep_flags(struct mu_ctx *c)
{
	mu_vmem_created(c, vmem_create(c->name, 0, 0x100, 0x10, NULL, NULL,
				       NULL, 0, VM_SLEEP | VM_NOSLEEP, IPL_NONE));
}

static void mu_vmem_create_misaligned_span(struct mu_ctx *c)
{
	mu_vmem_created(c, vmem_create(c->name, 8, 0x100, 0x10, NULL, NULL,
				       NULL, 0, VM_SLEEP, IPL_NONE));
}

static void mu_vmem_add_overlap(struct mu_ctx *c)
{
	c->rc = vmem_add(c->vm, MU_VM_BASE + 0x8000, MU_VM_SIZE, VM_SLEEP);
}

static void mu_vmem_add_misaligned(struct mu_ctx *c)
{
	c->rc = vmem_add(c->vm, 0x300008, 0x100, VM_SLEEP);
}

static void mu_vmem_add_empty(struct mu_ctx *c)
{
	c->rc = vmem_add(c->vm, 0x300000, 0, VM_SLEEP);
}

static void mu_vmem_add_wrapping(struct mu_ctx *c)
{
	c->rc = vmem_add(c->vm, VMEM_ADDR_MAX & ~(vmem_addr_t)0xf, 0x20,
			 VM_SLEEP);
}

static void mu_vmem_alloc_no_sleep_flag(struct mu_ctx *c)
{
	c->rc = vmem_alloc(c->vm, 0x100, 0, &c->q);
}

static void mu_vmem_alloc_both_sleep_flags(struct mu_ctx *c)
{
	c->rc = vmem_alloc(c->vm, 0x100, VM_SLEEP | VM_NOSLEEP, &c->q);
}

static void mu_vmem_alloc_two_strategies(struct mu_ctx *c)
{
	c->rc = vmem_alloc(c->vm, 0x100, VM_SLEEP | VM_BESTFIT | VM_NEXTFIT,
			   &c->q);
}

static void mu_vmem_alloc_size_zero(struct mu_ctx *c)
{
	c->rc = vmem_alloc(c->vm, 0, VM_SLEEP, &c->q);
}

static void mu_vmem_alloc_sleep_irqs_off(struct mu_ctx *c)
{
	local_irq_disable();
	c->rc = vmem_alloc(c->vm, 0x100, VM_SLEEP, &c->q);
	local_irq_enable();
}

static void mu_vmem_alloc_nosleep_fn(struct mu_ctx *c)
{
	c->rc = vmem_alloc(c->vm, 0x100, VM_NOSLEEP, &c->q);
}

static void mu_vmem_alloc_hardirq(struct mu_ctx *c)
{
	mu_in_hardirq(c, mu_vmem_alloc_nosleep_fn);
}

static void mu_vmem_alloc_softirq(struct mu_ctx *c)
{
	mu_in_softirq(c, mu_vmem_alloc_nosleep_fn);
}

static void mu_vmem_alloc_sleep_fn(struct mu_ctx *c)
{
	c->rc = vmem_alloc(c->vm, 0x100, VM_SLEEP, &c->q);
}

static void mu_vmem_alloc_sleep_hardirq(struct mu_ctx *c)
{
	mu_in_hardirq(c, mu_vmem_alloc_sleep_fn);
}

static void mu_vmem_xalloc_align_npot(struct mu_ctx *c)
{
	c->rc = vmem_xalloc(c->vm, 0x10, 0x30, 0, 0, VMEM_ADDR_MIN,
			    VMEM_ADDR_MAX, VM_SLEEP, &c->q);
}

static void mu_vmem_xalloc_phase_ge_align(struct mu_ctx *c)
{
	c->rc = vmem_xalloc(c->vm, 0x10, 0x20, 0x20, 0, VMEM_ADDR_MIN,
			    VMEM_ADDR_MAX, VM_SLEEP, &c->q);
}

static void mu_vmem_xalloc_nocross_lt_size(struct mu_ctx *c)
{
	c->rc = vmem_xalloc(c->vm, 0x40, 0, 0, 0x20, VMEM_ADDR_MIN,
			    VMEM_ADDR_MAX, VM_SLEEP, &c->q);
}

static void mu_vmem_xalloc_min_gt_max(struct mu_ctx *c)
{
	c->rc = vmem_xalloc(c->vm, 0x10, 0, 0, 0, MU_VM_BASE + 0x2000,
			    MU_VM_BASE + 0x1000, VM_SLEEP, &c->q);
}

static void mu_vmem_xalloc_addr_misaligned(struct mu_ctx *c)
{
	c->rc = vmem_xalloc_addr(c->vm, MU_VM_BASE + 0x2008, 0x10, VM_SLEEP);
}

static void mu_vmem_xfree_never_allocated(struct mu_ctx *c)
{
	vmem_xfree(c->vm, MU_VM_BASE + 0x8000, 0x100);
}

static void mu_vmem_xfree_wrong_size(struct mu_ctx *c)
{
	vmem_xfree(c->vm, c->live, c->live_size / 2);
}

static void mu_vmem_xfree_interior(struct mu_ctx *c)
{
	vmem_xfree(c->vm, c->live + MU_VM_QUANTUM, MU_VM_QUANTUM);
}

static void mu_vmem_xfree_twice(struct mu_ctx *c)
{
	vmem_xfree(c->vm, c->live, c->live_size);
	c->live_size = 0;
	c->exp_alloc = 0;
	vmem_xfree(c->vm, c->live, MU_VM_LIVE);
}

static void mu_vmem_xfree_hardirq_fn(struct mu_ctx *c)
{
	vmem_xfree(c->vm, c->live, c->live_size);
}

static void mu_vmem_xfree_hardirq(struct mu_ctx *c)
{
	mu_in_hardirq(c, mu_vmem_xfree_hardirq_fn);
}

/* Freed twice on one CPU: the second is still in the magazine. */
static void mu_vmem_free_twice_qcache(struct mu_ctx *c)
{
	migrate_disable();
	if (MU_CHECK(c, !vmem_alloc(c->vm, 0x20, VM_NOSLEEP, &c->q))) {
		vmem_free(c->vm, c->q, 0x20);
		vmem_free(c->vm, c->q, 0x20);
	}
	migrate_enable();
}

static void mu_vmem_free_q_fn(struct mu_ctx *c)
{
	vmem_free(c->vm, c->q, 0x20);
}

/*
 * Freed on two CPUs: each copy sits in its CPU's magazine (documented: not
 * detected there); when the magazines go back to the arena, the second
 * copy is refused and the arena stays exact.
 */
static void mu_vmem_free_twice_qcache_two_cpus(struct mu_ctx *c)
{
	int other;

	migrate_disable();
	other = mu_other_cpu(c);
	if (other >= 0 &&
	    MU_CHECK(c, !vmem_alloc(c->vm, 0x20, VM_NOSLEEP, &c->q))) {
		vmem_free(c->vm, c->q, 0x20);
		mu_run_on(c, mu_vmem_free_q_fn, other);
	}
	migrate_enable();
	vmem_qcache_reap(c->vm);
}

static void mu_vmem_free_misaligned_qcache(struct mu_ctx *c)
{
	vmem_free(c->vm, MU_VM_BASE + 1, MU_VM_QUANTUM);
}

static void mu_vmem_free_hardirq_fn(struct mu_ctx *c)
{
	vmem_free(c->vm, c->live, c->live_size);
}

static void mu_vmem_free_hardirq(struct mu_ctx *c)
{
	mu_in_hardirq(c, mu_vmem_free_hardirq_fn);
}

static void mu_vmem_xfreeall_hardirq_fn(struct mu_ctx *c)
{
	vmem_xfreeall(c->vm);
}

static void mu_vmem_xfreeall_hardirq(struct mu_ctx *c)
{
	mu_in_hardirq(c, mu_vmem_xfreeall_hardirq_fn);
}

static void mu_vmem_size_bad_typemask(struct mu_ctx *c)
{
	c->rc = vmem_size(c->vm, 0x40);
}

static void mu_vmem_size_hardirq_fn(struct mu_ctx *c)
{
	c->rc = vmem_size(c->vm, VMEM_ALLOC | VMEM_FREE);
}

static void mu_vmem_size_hardirq(struct mu_ctx *c)
{
	mu_in_hardirq(c, mu_vmem_size_hardirq_fn);
}

/* The arena goes anyway; its imported span goes back to the source. */
static void mu_vmem_destroy_busy(struct mu_ctx *c)
{
	vmem_destroy(c->vm);
	c->vm = NULL;
	c->live_size = 0;
}

/* Constrained (align 0x20): exactly one import attempt, refused. */
static void mu_vmem_xalloc_import(struct mu_ctx *c, vmem_size_t size)
{
	c->rc = vmem_xalloc(c->vm, size, 0x20, 0, 0, VMEM_ADDR_MIN,
			    VMEM_ADDR_MAX, VM_NOSLEEP, &c->q);
	MU_CHECK(c, c->nimport == 1);
	/* The bad span was handed back to the release function. */
	MU_CHECK(c, c->nrelease == 1);
}

static void mu_vmem_import_small(struct mu_ctx *c)
{
	mu_vmem_xalloc_import(c, 0x100);
}

static void mu_vmem_import_large(struct mu_ctx *c)
{
	mu_vmem_xalloc_import(c, 0x2000);
}

/* ---------------------------------------------------------------------- */
/* SMR */

/* A static domain as a consumer module defines one; see SMR_DEFINE(). */
static SMR_DEFINE(mu_smr_static, "kprim_mu_static");
static bool mu_smr_static_used;

static void mu_smr_cb(struct smr_node *node)
{
	struct mu_ctx *c = container_of(node, struct mu_ctx, node);

	atomic_inc(&c->cb_runs);
}

static void mu_smr_cb2(struct smr_node *node)
{
	struct mu_ctx *c = container_of(node, struct mu_ctx, node2);

	atomic_inc(&c->cb2_runs);
}

static void mu_smr_setup(struct mu_ctx *c)
{
	c->smr = smr_domain_create(SMR_NONE, c->name);
	c->smr_init = MU_CHECK(c, c->smr);
}

static void mu_smr_setup_sleepable(struct mu_ctx *c)
{
	c->smr = smr_domain_create(SMR_SLEEPABLE, c->name);
	c->smr_init = MU_CHECK(c, c->smr);
	c->smr_sleepable = true;
}

/* The static domain, not initialised yet. */
static void mu_smr_setup_static(struct mu_ctx *c)
{
	if (!MU_CHECK(c, !mu_smr_static_used))
		return;
	mu_smr_static_used = true;
	c->smr = &mu_smr_static;
	c->smr_static = true;
}

static void mu_smr_setup_static_init(struct mu_ctx *c)
{
	mu_smr_setup_static(c);
	if (c->smr)
		c->smr_init = MU_CHECK(c, !smr_domain_init(c->smr));
}

/*
 * Sections, a grace period and a callback go through the domain.  An
 * uninitialised static domain is initialised first: the misuse must not
 * have left it in a state smr_domain_init() refuses.
 */
static void mu_smr_intact(struct mu_ctx *c)
{
	smr_seq_t goal;
	smr_t smr;

	if (!c->smr) {
		c->smr = smr_domain_create(SMR_NONE, c->name);
		c->smr_init = MU_CHECK(c, c->smr);
	}
	if (c->smr && !c->smr_init)
		c->smr_init = MU_CHECK(c, !smr_domain_init(c->smr));
	if (!c->smr_init)
		return;
	smr = c->smr;

	MU_CHECK(c, !smr_entered(smr));
	smr_enter(smr);
	MU_CHECK(c, smr_entered(smr));
	smr_leave(smr);
	MU_CHECK(c, !smr_entered(smr));
	if (c->smr_sleepable) {
		smr_enter_sleepable(smr, &c->trk);
		MU_CHECK(c, smr_entered(smr));
		smr_leave_sleepable(smr, &c->trk);
		MU_CHECK(c, !smr_entered(smr));
	}
	goal = smr_advance(smr);
	smr_wait(smr, goal);
	MU_CHECK(c, smr_poll(smr, goal));
	smr_synchronize(smr);
	atomic_set(&c->cb_runs, 0);
	smr_call(smr, &c->node, 0, mu_smr_cb);
	smr_barrier(smr);
	MU_CHECK(c, atomic_read(&c->cb_runs) == 1);
}

/* The callback of a dropped smr_call() never ran. */
static void mu_smr_cb2_never(struct mu_ctx *c)
{
	MU_CHECK(c, atomic_read(&c->cb2_runs) == 0);
}

static void mu_smr_teardown(struct mu_ctx *c)
{
	unsigned long m;

	if (!c->smr)
		return;
	if (c->smr_static) {
		m = smr_misuse_count(c->smr);
		if (c->smr_init)
			smr_domain_fini(c->smr);
		MU_CHECK(c, smr_misuse_count(c->smr) == m);
		mu_smr_static_used = false;
	} else {
		smr_domain_free(c->smr);
	}
	c->smr = NULL;
}

static void mu_smr_nested_enter(struct mu_ctx *c)
{
	smr_enter(c->smr);
	smr_enter(c->smr);
	smr_leave(c->smr);
	MU_CHECK(c, smr_entered(c->smr));
	smr_leave(c->smr);
	MU_CHECK(c, !smr_entered(c->smr));
}

static void mu_smr_leave_unentered(struct mu_ctx *c)
{
	smr_leave(c->smr);
}

static void mu_smr_leave_unentered_atomic(struct mu_ctx *c)
{
	preempt_disable();
	smr_leave(c->smr);
	preempt_enable();
}

static void mu_smr_enter_irq_fn(struct mu_ctx *c)
{
	smr_enter(c->smr);
	c->rc = smr_entered(c->smr);
	smr_leave(c->smr);
}

/* Reported, but the section is still a section (and left cleanly). */
static void mu_smr_enter_hardirq(struct mu_ctx *c)
{
	mu_in_hardirq(c, mu_smr_enter_irq_fn);
}

static void mu_smr_synchronize_inside(struct mu_ctx *c)
{
	smr_enter(c->smr);
	smr_synchronize(c->smr);
	smr_leave(c->smr);
}

static void mu_smr_synchronize_inside_sleepable(struct mu_ctx *c)
{
	smr_enter_sleepable(c->smr, &c->trk);
	smr_synchronize(c->smr);
	smr_leave_sleepable(c->smr, &c->trk);
}

static void mu_smr_barrier_inside(struct mu_ctx *c)
{
	smr_enter(c->smr);
	smr_barrier(c->smr);
	smr_leave(c->smr);
}

static void mu_smr_wait_inside(struct mu_ctx *c)
{
	smr_seq_t goal = smr_advance(c->smr);

	smr_enter(c->smr);
	smr_wait(c->smr, goal);
	smr_leave(c->smr);
	smr_wait(c->smr, goal);
	MU_CHECK(c, smr_poll(c->smr, goal));
}

/* Reported, and the callback is still queued: it runs once. */
static void mu_smr_call_inside(struct mu_ctx *c)
{
	smr_enter(c->smr);
	smr_call(c->smr, &c->node2, 0, mu_smr_cb2);
	smr_leave(c->smr);
	smr_barrier(c->smr);
	MU_CHECK(c, atomic_read(&c->cb2_runs) == 1);
}

static void mu_smr_call_inside_sleepable(struct mu_ctx *c)
{
	smr_enter_sleepable(c->smr, &c->trk);
	smr_call(c->smr, &c->node2, 0, mu_smr_cb2);
	smr_leave_sleepable(c->smr, &c->trk);
	smr_barrier(c->smr);
	MU_CHECK(c, atomic_read(&c->cb2_runs) == 1);
}

static void mu_smr_call_null_node(struct mu_ctx *c)
{
	smr_call(c->smr, NULL, 0, mu_smr_cb2);
}

static void mu_smr_call_null_cb(struct mu_ctx *c)
{
	smr_call(c->smr, &c->node2, 0, NULL);
}

/* A goal no smr_advance() returned: reported as reached, so nothing waits. */
static void mu_smr_poll_future_goal(struct mu_ctx *c)
{
	smr_seq_t goal = smr_advance(c->smr);

	c->rc = smr_poll(c->smr, goal + 4 * SMR_SEQ_INC);
}

static void mu_smr_barrier_cb(struct smr_node *node)
{
	struct mu_ctx *c = container_of(node, struct mu_ctx, node2);

	smr_barrier(c->smr);
	complete(&c->ctx_done);
}

/* smr_barrier() from one of the domain's callbacks would wait for itself. */
static void mu_smr_barrier_in_callback(struct mu_ctx *c)
{
	init_completion(&c->ctx_done);
	smr_call(c->smr, &c->node2, SMR_CALL_EXPEDITE, mu_smr_barrier_cb);
	wait_for_completion(&c->ctx_done);
}

static void mu_smr_free_cb(struct smr_node *node)
{
	struct mu_ctx *c = container_of(node, struct mu_ctx, node2);

	smr_domain_free(c->smr);
	complete(&c->ctx_done);
}

/* Freeing the domain from its own callback: it would cancel that callback. */
static void mu_smr_free_in_callback(struct mu_ctx *c)
{
	init_completion(&c->ctx_done);
	smr_call(c->smr, &c->node2, SMR_CALL_EXPEDITE, mu_smr_free_cb);
	wait_for_completion(&c->ctx_done);
}

static void mu_smr_fini_inside(struct mu_ctx *c)
{
	smr_enter(c->smr);
	smr_domain_fini(c->smr);
	smr_leave(c->smr);
}

static void mu_smr_free_inside_sleepable(struct mu_ctx *c)
{
	smr_enter_sleepable(c->smr, &c->trk);
	smr_domain_free(c->smr);
	smr_leave_sleepable(c->smr, &c->trk);
}

static void mu_smr_sleepable_on_plain(struct mu_ctx *c)
{
	smr_enter_sleepable(c->smr, &c->trk);
	MU_CHECK(c, smr_entered(c->smr));
	smr_leave_sleepable(c->smr, &c->trk);
	MU_CHECK(c, !smr_entered(c->smr));
}

static void mu_smr_leave_sleepable_unentered(struct mu_ctx *c)
{
	memset(&c->trk, 0, sizeof(c->trk));
	smr_leave_sleepable(c->smr, &c->trk);
}

static void mu_smr_leave_sleepable_fn(struct mu_ctx *c)
{
	smr_leave_sleepable(c->smr, &c->trk);
}

/* Another task leaves the section: refused, its owner still can. */
static void mu_smr_leave_sleepable_other_task(struct mu_ctx *c)
{
	smr_enter_sleepable(c->smr, &c->trk);
	mu_run_on(c, mu_smr_leave_sleepable_fn, -1);
	MU_CHECK(c, smr_entered(c->smr));
	smr_leave_sleepable(c->smr, &c->trk);
	MU_CHECK(c, !smr_entered(c->smr));
}

static void mu_smr_uninit_enter(struct mu_ctx *c)
{
	smr_enter(c->smr);
	smr_leave(c->smr);
}

static void mu_smr_uninit_poll(struct mu_ctx *c)
{
	c->rc = smr_poll(c->smr, SMR_SEQ_INIT + SMR_SEQ_INC);
}

static void mu_smr_uninit_wait(struct mu_ctx *c)
{
	smr_wait(c->smr, SMR_SEQ_INIT + SMR_SEQ_INC);
}

static void mu_smr_uninit_synchronize(struct mu_ctx *c)
{
	smr_synchronize(c->smr);
}

static void mu_smr_uninit_barrier(struct mu_ctx *c)
{
	smr_barrier(c->smr);
}

static void mu_smr_uninit_call(struct mu_ctx *c)
{
	smr_call(c->smr, &c->node2, 0, mu_smr_cb2);
}

/* One misuse (the domain), then a correctly paired leave. */
static void mu_smr_uninit_sleepable(struct mu_ctx *c)
{
	smr_enter_sleepable(c->smr, &c->trk);
	smr_leave_sleepable(c->smr, &c->trk);
}

static void mu_smr_uninit_fini(struct mu_ctx *c)
{
	smr_domain_fini(c->smr);
}

static void mu_smr_init_twice(struct mu_ctx *c)
{
	c->rc = smr_domain_init(c->smr);
}

static void mu_smr_free_static(struct mu_ctx *c)
{
	smr_domain_free(c->smr);
}

static void mu_smr_create_bad_flags(struct mu_ctx *c)
{
	c->ptr = smr_domain_create(0x10, c->name);
	if (c->ptr)
		smr_domain_free(c->ptr);
}

struct mu_val {
	int v;
};

static void mu_smr_load_assert_unentered(struct mu_ctx *c)
{
	SMR_POINTER(struct mu_val *)p;
	struct mu_val v = { 7 };

	smr_init_store(&p, &v);
	/* Reported, and the load still happens. */
	MU_CHECK(c, smr_entered_load_assert(&p, c->smr) == &v);
}

static void mu_smr_serialized_assert_unheld(struct mu_ctx *c)
{
	SMR_POINTER(struct mu_val *)p;
	struct mu_val v = { 7 };

	smr_init_store(&p, &v);
	MU_CHECK(c, smr_serialized_load_assert(&p, false) == &v);
}

struct mu_qe {
	int val;
	struct smrq_slink sl;
	struct smrq_link dl;
};

/* Removing an element that is not on the queue changes nothing. */
static void mu_smrq_remove_absent(struct mu_ctx *c)
{
	struct mu_qe e[2] = { { .val = 0 }, { .val = 1 } };
	struct smrq_slist_head h;

	smrq_init(&h);
	smrq_serialized_insert_head(&h, &e[0].sl);
	smrq_serialized_remove(&h, &e[1].sl);
	MU_CHECK(c, smrq_serialized_first(&h, struct mu_qe, sl) == &e[0]);
	MU_CHECK(c, !smrq_serialized_next(&e[0], sl));
	smrq_serialized_remove(&h, &e[0].sl);
	MU_CHECK(c, smrq_empty(&h));
}

/* A tailq element whose back link is corrupt is not unlinked. */
static void mu_smrq_remove_corrupt_prev(struct mu_ctx *c)
{
	struct mu_qe e[2] = { { .val = 0 }, { .val = 1 } };
	struct smrq_tailq_head h;
	__smrq_link_t *prev;

	smrq_init(&h);
	smrq_serialized_insert_tail(&h, &e[0].dl);
	smrq_serialized_insert_tail(&h, &e[1].dl);
	prev = e[1].dl.prev;
	e[1].dl.prev = &h.first;
	smrq_serialized_remove(&h, &e[1].dl);
	e[1].dl.prev = prev;
	MU_CHECK(c, smrq_serialized_first(&h, struct mu_qe, dl) == &e[0]);
	MU_CHECK(c, smrq_serialized_next(&e[0], dl) == &e[1]);
	MU_CHECK(c, h.last == &e[1].dl.next);
	smrq_serialized_remove(&h, &e[1].dl);
	smrq_serialized_remove(&h, &e[0].dl);
	MU_CHECK(c, smrq_empty(&h) && h.last == &h.first);
}

/* A stailq whose tail pointer does not point at the end refuses inserts. */
static void mu_smrq_insert_stale_tail(struct mu_ctx *c)
{
	struct mu_qe e[2] = { { .val = 0 }, { .val = 1 } };
	struct smrq_stailq_head h;

	smrq_init(&h);
	smrq_serialized_insert_tail(&h, &e[0].sl);
	h.last = &h.first;
	smrq_serialized_insert_tail(&h, &e[1].sl);
	MU_CHECK(c, smrq_serialized_first(&h, struct mu_qe, sl) == &e[0]);
	MU_CHECK(c, !smrq_serialized_next(&e[0], sl));
	h.last = &e[0].sl.next;
	smrq_serialized_insert_tail(&h, &e[1].sl);
	MU_CHECK(c, smrq_serialized_next(&e[0], sl) == &e[1]);
	MU_CHECK(c, h.last == &e[1].sl.next);
}

/* An iteration body that moves the cursor twice. */
static void mu_smrq_iter_moved_twice(struct mu_ctx *c)
{
	struct mu_qe e = { .val = 0 }, *it;
	struct smrq_slist_head h;
	int n = 0;

	smrq_init(&h);
	smrq_serialized_insert_head(&h, &e.sl);
	smrq_serialized_iter(it, &h, sl) {
		n++;
		smrq_serialized_iter_next(it, sl);
		smrq_serialized_iter_next(it, sl);
	}
	MU_CHECK(c, n == 1);
	MU_CHECK(c, smrq_serialized_first(&h, struct mu_qe, sl) == &e);
}

/* ---------------------------------------------------------------------- */
/* psref */

static void mu_psref_class(struct mu_ctx *c, int ipl)
{
	c->cls = psref_class_create(c->name, ipl);
	if (!MU_CHECK(c, c->cls))
		return;
	psref_target_init(&c->tgt, c->cls);
	c->tgt_state = MU_T_LIVE;
}

static void mu_psref_setup(struct mu_ctx *c)
{
	mu_psref_class(c, IPL_NONE);
}

static void mu_psref_setup_soft(struct mu_ctx *c)
{
	mu_psref_class(c, IPL_SOFTNET);
}

/* Two targets in the class. */
static void mu_psref_setup_pair(struct mu_ctx *c)
{
	mu_psref_class(c, IPL_NONE);
	if (!c->cls)
		return;
	psref_target_init(&c->tgt2, c->cls);
	c->tgt2_state = MU_T_LIVE;
}

/* A second class with a target of its own. */
static void mu_psref_setup_two_classes(struct mu_ctx *c)
{
	char name[32];

	mu_psref_class(c, IPL_NONE);
	snprintf(name, sizeof(name), "%s_b", c->name);
	c->cls2 = psref_class_create(name, IPL_NONE);
	if (!MU_CHECK(c, c->cls2))
		return;
	psref_target_init(&c->tgt2, c->cls2);
	c->tgt2_state = MU_T_LIVE;
}

static void mu_psref_target_done(struct psref_target *t,
				 struct psref_class *cls, enum mu_tstate *state)
{
	if (*state == MU_T_LIVE)
		psref_target_drain(t, cls);
	if (*state != MU_T_NONE)
		psref_target_destroy(t, cls);
	*state = MU_T_NONE;
}

/*
 * A new target is acquired, copied, released, drained and destroyed; the
 * case's own target still takes references if it is live and refuses them
 * if its drain is over (or was abandoned).
 */
static void mu_psref_intact(struct mu_ctx *c)
{
	struct psref_target t;
	struct psref p, p2;

	if (!c->cls)
		c->cls = psref_class_create(c->name, IPL_NONE);
	if (!MU_CHECK(c, c->cls))
		return;
	psref_target_init(&t, c->cls);
	migrate_disable();
	MU_CHECK(c, !psref_held(&t, c->cls));
	if (MU_CHECK(c, !psref_acquire(&p, &t, c->cls))) {
		MU_CHECK(c, psref_held(&t, c->cls));
		psref_copy(&p2, &p, c->cls);
		psref_release(&p, &t, c->cls);
		MU_CHECK(c, psref_held(&t, c->cls));
		psref_release(&p2, &t, c->cls);
	}
	MU_CHECK(c, !psref_held(&t, c->cls));
	if (c->tgt_state == MU_T_LIVE &&
	    MU_CHECK(c, !psref_acquire(&p, &c->tgt, c->cls)))
		psref_release(&p, &c->tgt, c->cls);
	if (c->tgt_state == MU_T_CLOSED)
		MU_CHECK(c, psref_acquire(&p, &c->tgt, c->cls) == -ENOENT);
	if (c->tgt_state != MU_T_NONE)
		MU_CHECK(c, !psref_held(&c->tgt, c->cls));
	migrate_enable();
	psref_target_drain(&t, c->cls);
	migrate_disable();
	MU_CHECK(c, psref_acquire(&p, &t, c->cls) == -ENOENT);
	migrate_enable();
	psref_target_destroy(&t, c->cls);
}

static void mu_psref_teardown(struct mu_ctx *c)
{
	unsigned long m;

	if (c->cls2) {
		m = psref_misuse_count(c->cls2);
		mu_psref_target_done(&c->tgt2, c->cls2, &c->tgt2_state);
		MU_CHECK(c, psref_misuse_count(c->cls2) == m);
		psref_class_destroy(c->cls2);
		c->cls2 = NULL;
	}
	if (c->cls) {
		m = psref_misuse_count(c->cls);
		mu_psref_target_done(&c->tgt2, c->cls, &c->tgt2_state);
		mu_psref_target_done(&c->tgt, c->cls, &c->tgt_state);
		MU_CHECK(c, psref_misuse_count(c->cls) == m);
		psref_class_destroy(c->cls);
		c->cls = NULL;
	}
}

static void mu_psref_created(struct mu_ctx *c, struct psref_class *cls)
{
	c->ptr = cls;
	if (cls)
		psref_class_destroy(cls);
}

static void mu_psref_create_null_name(struct mu_ctx *c)
{
	mu_psref_created(c, psref_class_create(NULL, IPL_NONE));
}

static void mu_psref_create_bad_ipl(struct mu_ctx *c)
{
	mu_psref_created(c, psref_class_create(c->name, 42));
}

static void mu_psref_class_destroy_null(struct mu_ctx *c)
{
	psref_class_destroy(NULL);
}

/* Refused: the class and its target stay usable. */
static void mu_psref_class_destroy_live_target(struct mu_ctx *c)
{
	psref_class_destroy(c->cls);
}

/*
 * A reference held to a by-value copy of a target (a second target the
 * class does not count, as after a memcpy of the object embedding it): the
 * class has no target left but a reference is held, and destroy refuses.
 */
static void mu_psref_class_destroy_held(struct mu_ctx *c)
{
	struct psref_target copy = c->tgt;

	mu_psref_target_done(&c->tgt, c->cls, &c->tgt_state);
	migrate_disable();
	if (MU_CHECK(c, !psref_acquire(&c->ps, &copy, c->cls))) {
		psref_class_destroy(c->cls);
		MU_CHECK(c, psref_held(&copy, c->cls));
		psref_release(&c->ps, &copy, c->cls);
	}
	migrate_enable();
}

static void mu_psref_init_null_class(struct mu_ctx *c)
{
	psref_target_init(&c->tgt2, NULL);
}

static void mu_psref_init_null_target(struct mu_ctx *c)
{
	psref_target_init(NULL, c->cls);
}

static void mu_psref_acquire_null_class(struct mu_ctx *c)
{
	migrate_disable();
	c->rc = psref_acquire(&c->ps, &c->tgt, NULL);
	MU_CHECK(c, !psref_held(&c->tgt, c->cls));
	migrate_enable();
}

static void mu_psref_acquire_null_target(struct mu_ctx *c)
{
	migrate_disable();
	c->rc = psref_acquire(&c->ps, NULL, c->cls);
	migrate_enable();
}

static void mu_psref_acquire_other_class(struct mu_ctx *c)
{
	migrate_disable();
	c->rc = psref_acquire(&c->ps, &c->tgt2, c->cls);
	MU_CHECK(c, !psref_held(&c->tgt2, c->cls2));
	migrate_enable();
}

/* Preemption and migration enabled, not a per-CPU kthread: not bound. */
static void mu_psref_acquire_unbound(struct mu_ctx *c)
{
	c->rc = psref_acquire(&c->ps, &c->tgt, c->cls);
	if (!c->rc) {
		migrate_disable();
		psref_release(&c->ps, &c->tgt, c->cls);
		migrate_enable();
	}
}

static void mu_psref_acquire_release_fn(struct mu_ctx *c)
{
	c->rc = psref_acquire(&c->ps, &c->tgt, c->cls);
	if (!c->rc)
		psref_release(&c->ps, &c->tgt, c->cls);
}

static void mu_psref_acquire_softirq(struct mu_ctx *c)
{
	mu_in_softirq(c, mu_psref_acquire_release_fn);
}

static void mu_psref_acquire_hardirq(struct mu_ctx *c)
{
	mu_in_hardirq(c, mu_psref_acquire_release_fn);
}

/* Refused; the first reference is untouched. */
static void mu_psref_acquire_twice(struct mu_ctx *c)
{
	migrate_disable();
	if (MU_CHECK(c, !psref_acquire(&c->ps, &c->tgt, c->cls))) {
		c->rc = psref_acquire(&c->ps, &c->tgt, c->cls);
		MU_CHECK(c, psref_held(&c->tgt, c->cls));
		psref_release(&c->ps, &c->tgt, c->cls);
	}
	MU_CHECK(c, !psref_held(&c->tgt, c->cls));
	migrate_enable();
}

static void mu_psref_acquire_destroyed(struct mu_ctx *c)
{
	mu_psref_target_done(&c->tgt, c->cls, &c->tgt_state);
	migrate_disable();
	c->rc = psref_acquire(&c->ps, &c->tgt, c->cls);
	MU_CHECK(c, !psref_held(&c->tgt, c->cls));
	migrate_enable();
}

static void mu_psref_release_null_class(struct mu_ctx *c)
{
	migrate_disable();
	if (MU_CHECK(c, !psref_acquire(&c->ps, &c->tgt, c->cls))) {
		psref_release(&c->ps, &c->tgt, NULL);
		MU_CHECK(c, psref_held(&c->tgt, c->cls));
		psref_release(&c->ps, &c->tgt, c->cls);
	}
	migrate_enable();
}

static void mu_psref_release_twice(struct mu_ctx *c)
{
	migrate_disable();
	if (MU_CHECK(c, !psref_acquire(&c->ps, &c->tgt, c->cls))) {
		psref_release(&c->ps, &c->tgt, c->cls);
		psref_release(&c->ps, &c->tgt, c->cls);
	}
	MU_CHECK(c, !psref_held(&c->tgt, c->cls));
	migrate_enable();
}

static void mu_psref_release_wrong_target(struct mu_ctx *c)
{
	migrate_disable();
	if (MU_CHECK(c, !psref_acquire(&c->ps, &c->tgt, c->cls))) {
		psref_release(&c->ps, &c->tgt2, c->cls);
		MU_CHECK(c, psref_held(&c->tgt, c->cls));
		psref_release(&c->ps, &c->tgt, c->cls);
	}
	MU_CHECK(c, !psref_held(&c->tgt, c->cls));
	migrate_enable();
}

/* A struct psref copied by assignment (instead of psref_copy()). */
static void mu_psref_release_copied(struct mu_ctx *c)
{
	migrate_disable();
	if (MU_CHECK(c, !psref_acquire(&c->ps, &c->tgt, c->cls))) {
		c->ps2 = c->ps;
		psref_release(&c->ps2, &c->tgt, c->cls);
		MU_CHECK(c, psref_held(&c->tgt, c->cls));
		psref_release(&c->ps, &c->tgt, c->cls);
	}
	MU_CHECK(c, !psref_held(&c->tgt, c->cls));
	migrate_enable();
}

static void mu_psref_release_fn(struct mu_ctx *c)
{
	psref_release(&c->ps, &c->tgt, c->cls);
}

static void mu_psref_release_copy_fn(struct mu_ctx *c)
{
	psref_release(&c->ps2, &c->tgt, c->cls);
}

/* Same CPU, another (bound) task: reported, and still released. */
static void mu_psref_release_other_task(struct mu_ctx *c)
{
	migrate_disable();
	if (MU_CHECK(c, !psref_acquire(&c->ps, &c->tgt, c->cls))) {
		mu_run_on(c, mu_psref_release_fn, smp_processor_id());
		MU_CHECK(c, !psref_held(&c->tgt, c->cls));
	}
	migrate_enable();
}

/* Another CPU, task context: reported, then unlinked on its own CPU. */
static void mu_psref_release_other_cpu(struct mu_ctx *c)
{
	int other;

	migrate_disable();
	other = mu_other_cpu(c);
	if (other >= 0 && MU_CHECK(c, !psref_acquire(&c->ps, &c->tgt, c->cls))) {
		mu_run_on(c, mu_psref_release_fn, other);
		MU_CHECK(c, !psref_held(&c->tgt, c->cls));
	}
	migrate_enable();
}

static void mu_psref_release_softirq_job(struct mu_ctx *c)
{
	mu_in_softirq(c, mu_psref_release_fn);
}

/*
 * Another CPU, from softirq: two reports (wrong CPU; cannot unlink it from
 * there, so the reference stays held), then the right release works.
 */
static void mu_psref_release_other_cpu_softirq(struct mu_ctx *c)
{
	int other;

	migrate_disable();
	other = mu_other_cpu(c);
	if (other >= 0 && MU_CHECK(c, !psref_acquire(&c->ps, &c->tgt, c->cls))) {
		mu_run_on(c, mu_psref_release_softirq_job, other);
		MU_CHECK(c, psref_held(&c->tgt, c->cls));
		psref_release(&c->ps, &c->tgt, c->cls);
	}
	MU_CHECK(c, !psref_held(&c->tgt, c->cls));
	migrate_enable();
}

/*
 * A copied struct psref released on another CPU: two reports (wrong CPU;
 * not found on its CPU), the real reference is untouched.
 */
static void mu_psref_release_copied_other_cpu(struct mu_ctx *c)
{
	int other;

	migrate_disable();
	other = mu_other_cpu(c);
	if (other >= 0 && MU_CHECK(c, !psref_acquire(&c->ps, &c->tgt, c->cls))) {
		c->ps2 = c->ps;
		mu_run_on(c, mu_psref_release_copy_fn, other);
		MU_CHECK(c, psref_held(&c->tgt, c->cls));
		psref_release(&c->ps, &c->tgt, c->cls);
	}
	MU_CHECK(c, !psref_held(&c->tgt, c->cls));
	migrate_enable();
}

/* An IPL_NONE class released from softirq: refused, still held. */
static void mu_psref_release_softirq_ipl_none(struct mu_ctx *c)
{
	migrate_disable();
	if (MU_CHECK(c, !psref_acquire(&c->ps, &c->tgt, c->cls))) {
		mu_in_softirq(c, mu_psref_release_fn);
		MU_CHECK(c, psref_held(&c->tgt, c->cls));
		psref_release(&c->ps, &c->tgt, c->cls);
	}
	MU_CHECK(c, !psref_held(&c->tgt, c->cls));
	migrate_enable();
}

static void mu_psref_copy_unheld(struct mu_ctx *c)
{
	migrate_disable();
	if (MU_CHECK(c, !psref_acquire(&c->ps, &c->tgt, c->cls))) {
		c->ps2 = c->ps;
		psref_copy(&c->ps3, &c->ps2, c->cls);
		psref_release(&c->ps, &c->tgt, c->cls);
	}
	/* Had ps3 been linked, the target would still be held. */
	MU_CHECK(c, !psref_held(&c->tgt, c->cls));
	migrate_enable();
}

static void mu_psref_copy_onto_held(struct mu_ctx *c)
{
	migrate_disable();
	if (MU_CHECK(c, !psref_acquire(&c->ps, &c->tgt, c->cls))) {
		psref_copy(&c->ps, &c->ps, c->cls);
		psref_release(&c->ps, &c->tgt, c->cls);
	}
	MU_CHECK(c, !psref_held(&c->tgt, c->cls));
	migrate_enable();
}

static void mu_psref_held_unbound(struct mu_ctx *c)
{
	c->rc = psref_held(&c->tgt, c->cls);
}

static void mu_psref_drain_null_class(struct mu_ctx *c)
{
	psref_target_drain(&c->tgt, NULL);
}

static void mu_psref_drain_other_class(struct mu_ctx *c)
{
	psref_target_drain(&c->tgt2, c->cls);
}

static void mu_psref_drain_twice(struct mu_ctx *c)
{
	psref_target_drain(&c->tgt, c->cls);
	c->tgt_state = MU_T_CLOSED;
	psref_target_drain(&c->tgt, c->cls);
}

/* The holder drains: it would wait for itself.  Abandoned, still closed. */
static void mu_psref_drain_while_holding(struct mu_ctx *c)
{
	migrate_disable();
	if (MU_CHECK(c, !psref_acquire(&c->ps, &c->tgt, c->cls))) {
		psref_target_drain(&c->tgt, c->cls);
		c->tgt_state = MU_T_CLOSED;
		psref_release(&c->ps, &c->tgt, c->cls);
	}
	migrate_enable();
}

/* Reported, then drained and destroyed as asked. */
static void mu_psref_destroy_undrained(struct mu_ctx *c)
{
	psref_target_destroy(&c->tgt, c->cls);
	c->tgt_state = MU_T_NONE;
}

static void mu_psref_destroy_twice(struct mu_ctx *c)
{
	mu_psref_target_done(&c->tgt, c->cls, &c->tgt_state);
	psref_target_destroy(&c->tgt, c->cls);
}

static void mu_psref_destroy_null_class(struct mu_ctx *c)
{
	psref_target_destroy(&c->tgt, NULL);
}

static void mu_psref_destroy_uninit(struct mu_ctx *c)
{
	struct psref_target t = {};

	psref_target_destroy(&t, c->cls);
}

/* Holds the target until step[1]. */
static void mu_psref_holder(struct mu_ctx *c)
{
	migrate_disable();
	c->rc2 = psref_acquire(&c->ps, &c->tgt, c->cls);
	complete(&c->step[0]);
	wait_for_completion(&c->step[1]);
	if (!c->rc2)
		psref_release(&c->ps, &c->tgt, c->cls);
	migrate_enable();
}

static void mu_psref_drainer(struct mu_ctx *c)
{
	psref_target_drain(&c->tgt, c->cls);
}

/* Destroy while another task's drain waits for a holder: refused. */
static void mu_psref_destroy_while_draining(struct mu_ctx *c)
{
	unsigned long deadline = jiffies + 10 * HZ;
	struct mu_job *holder, *drainer;
	struct psref p;
	int r;

	init_completion(&c->step[0]);
	init_completion(&c->step[1]);
	holder = mu_start(c, mu_psref_holder, -1);
	if (!MU_CHECK(c, holder))
		return;
	wait_for_completion(&c->step[0]);
	MU_CHECK(c, !c->rc2);
	drainer = mu_start(c, mu_psref_drainer, -1);
	/* The drain has begun once new references are refused. */
	do {
		migrate_disable();
		r = psref_acquire(&p, &c->tgt, c->cls);
		if (!r)
			psref_release(&p, &c->tgt, c->cls);
		migrate_enable();
		if (r)
			break;
		usleep_range(1000, 2000);
	} while (time_before(jiffies, deadline));
	MU_CHECK(c, r == -ENOENT);
	psref_target_destroy(&c->tgt, c->cls);
	complete(&c->step[1]);
	MU_CHECK(c, mu_finish(holder, MU_TIMEOUT / 2));
	MU_CHECK(c, mu_finish(drainer, MU_TIMEOUT / 2));
	c->tgt_state = MU_T_CLOSED;
}

/* ---------------------------------------------------------------------- */
/* ltable */

#define MU_LT_MAX	256
#define MU_LT_ELEM_SZ	32

static void mu_lt_poison(struct link_table *t, struct lt_elem *e)
{
	struct mu_ctx *c = container_of(t, struct mu_ctx, lt);

	c->npoison++;
}

static void mu_lt_init(struct mu_ctx *c)
{
	c->lt_init = MU_CHECK(c, !ltable_init(&c->lt, c->name, MU_LT_MAX,
					      MU_LT_ELEM_SZ, mu_lt_poison));
}

/* A table with one valid element, holding its allocation reference. */
static void mu_lt_setup(struct mu_ctx *c)
{
	mu_lt_init(c);
	if (!c->lt_init)
		return;
	c->e0 = ltable_alloc_elem(&c->lt, LT_ELEM, 1, 0);
	if (MU_CHECK(c, c->e0))
		lt_elem_mkvalid(c->e0);
}

static u64 mu_lt_id(u32 idx)
{
	struct ltable_id id = { .id = 0 };

	id.idx = idx;
	id.generation = 1;
	return id.id;
}

static u32 mu_lt_idx(struct lt_elem *e)
{
	struct ltable_id id = { .id = READ_ONCE(e->lt_id.id) };

	return id.idx;
}

/*
 * Elements are allocated, published, looked up, invalidated and freed
 * (poisoned once each), a reserved list is built and released, and the
 * free list walks clean with the same number of free elements; the setup's
 * element still resolves with its one reference.
 */
static void mu_lt_intact(struct mu_ctx *c)
{
	struct link_table *lt = &c->lt;
	unsigned int npoison;
	struct lt_elem *e;
	int nfree;
	u64 id;

	if (!c->lt_init)
		mu_lt_init(c);
	if (!c->lt_init)
		return;
	nfree = ltable_check(lt);
	if (!MU_CHECK(c, nfree > 0))
		return;
	npoison = c->npoison;
	e = ltable_alloc_elem(lt, LT_ELEM, 1, 0);
	if (MU_CHECK(c, e)) {
		lt_elem_mkvalid(e);
		id = e->lt_id.id;
		MU_CHECK(c, ltable_get_elem(lt, id) == e);
		ltable_put_elem(lt, e);
		lt_elem_invalidate(e);
		MU_CHECK(c, !ltable_get_elem(lt, id));
		ltable_put_elem(lt, e);
		MU_CHECK(c, c->npoison == npoison + 1);
	}
	e = ltable_alloc_elem(lt, LT_RESERVED, 3, 0);
	if (MU_CHECK(c, e)) {
		MU_CHECK(c, lt_elem_list_link(lt, e, NULL) == 3);
		MU_CHECK(c, lt_elem_list_release(lt, e, LT_RESERVED) == 3);
	}
	MU_CHECK(c, ltable_check(lt) == nfree);
	if (c->e0) {
		e = ltable_get_elem(lt, c->e0->lt_id.id);
		MU_CHECK(c, e == c->e0);
		if (e)
			ltable_put_elem(lt, e);
		MU_CHECK(c, lt_bits_valid(READ_ONCE(c->e0->lt_bits)));
		MU_CHECK(c, lt_bits_refcnt(READ_ONCE(c->e0->lt_bits)) == 1);
	}
}

static void mu_lt_teardown(struct mu_ctx *c)
{
	if (!c->lt_init)
		return;
	if (c->e0) {
		lt_elem_invalidate(c->e0);
		ltable_put_elem(&c->lt, c->e0);
		c->e0 = NULL;
	}
	ltable_destroy(&c->lt);
	c->lt_init = false;
}

static void mu_lt_init_bad(struct mu_ctx *c, u32 max, u32 elem_sz)
{
	c->rc = ltable_init(&c->lt, c->name, max, elem_sz, NULL);
	c->lt_init = !c->rc;
}

static void mu_lt_init_elem_npot(struct mu_ctx *c)
{
	mu_lt_init_bad(c, 64, 24);
}

static void mu_lt_init_elem_small(struct mu_ctx *c)
{
	mu_lt_init_bad(c, 64, sizeof(struct lt_elem) / 2);
}

static void mu_lt_init_elem_big(struct mu_ctx *c)
{
	mu_lt_init_bad(c, 64, 128 * 1024);
}

static void mu_lt_init_max_zero(struct mu_ctx *c)
{
	mu_lt_init_bad(c, 0, MU_LT_ELEM_SZ);
}

static void mu_lt_init_max_big(struct mu_ctx *c)
{
	mu_lt_init_bad(c, LT_IDX_MAX + 1, MU_LT_ELEM_SZ);
}

static void mu_lt_destroy_twice(struct mu_ctx *c)
{
	mu_lt_teardown(c);
	ltable_destroy(&c->lt);
}

/* Refused with a live element: the table stays intact and usable. */
static void mu_lt_destroy_live(struct mu_ctx *c)
{
	ltable_destroy(&c->lt);
}

static void mu_lt_grow_atomic(struct mu_ctx *c)
{
	preempt_disable();
	c->rc = ltable_grow(&c->lt, 1);
	preempt_enable();
}

static void mu_lt_allocated(struct mu_ctx *c, struct lt_elem *e)
{
	c->ptr = e;
	if (e)
		ltable_put_elem(&c->lt, e);
}

static void mu_lt_alloc_bad_type(struct mu_ctx *c)
{
	mu_lt_allocated(c, ltable_alloc_elem(&c->lt, LT_FREE, 1, 0));
}

static void mu_lt_alloc_zero(struct mu_ctx *c)
{
	mu_lt_allocated(c, ltable_alloc_elem(&c->lt, LT_ELEM, 0, 0));
}

static void mu_lt_alloc_too_many(struct mu_ctx *c)
{
	mu_lt_allocated(c, ltable_alloc_elem(&c->lt, LT_ELEM, MU_LT_MAX + 1, 0));
}

static void mu_lt_realloc_foreign(struct mu_ctx *c)
{
	struct lt_elem x = {};

	ltable_realloc_elem(&c->lt, &x, LT_LINK);
	MU_CHECK(c, !x.lt_id.id && !x.lt_bits);
}

static void mu_lt_realloc_bad_type(struct mu_ctx *c)
{
	struct lt_elem *e = ltable_alloc_elem(&c->lt, LT_ELEM, 1, 0);
	u64 id;

	if (!MU_CHECK(c, e))
		return;
	id = e->lt_id.id;
	ltable_realloc_elem(&c->lt, e, 7);
	MU_CHECK(c, e->lt_id.id == id);
	MU_CHECK(c, lt_bits_type(READ_ONCE(e->lt_bits)) == LT_ELEM);
	ltable_put_elem(&c->lt, e);
}

/* A valid element keeps its id: lookups still find it. */
static void mu_lt_realloc_valid(struct mu_ctx *c)
{
	u64 id = c->e0->lt_id.id;

	ltable_realloc_elem(&c->lt, c->e0, LT_LINK);
	MU_CHECK(c, c->e0->lt_id.id == id);
	MU_CHECK(c, lt_bits_type(READ_ONCE(c->e0->lt_bits)) == LT_ELEM);
}

static void mu_lt_get_beyond(struct mu_ctx *c)
{
	c->ptr = ltable_get_elem(&c->lt, mu_lt_id(LT_IDX_MAX - 1));
}

/*
 * An element at the maximum reference count (2^29 - 1, what a consumer
 * leaking references reaches; set directly rather than by that many gets):
 * one more get is refused and the count does not wrap.
 */
static void mu_lt_get_overflow(struct mu_ctx *c)
{
	u32 bits = READ_ONCE(c->e0->lt_bits);

	WRITE_ONCE(c->e0->lt_bits, bits | LT_BITS_REFCNT_MASK);
	c->ptr = ltable_get_elem(&c->lt, c->e0->lt_id.id);
	MU_CHECK(c, READ_ONCE(c->e0->lt_bits) == (bits | LT_BITS_REFCNT_MASK));
	WRITE_ONCE(c->e0->lt_bits, bits);
}

static void mu_lt_put_foreign(struct mu_ctx *c)
{
	struct lt_elem x = {};

	ltable_put_elem(&c->lt, &x);
}

/* Put after the last put freed it: refused, not freed twice. */
static void mu_lt_put_twice(struct mu_ctx *c)
{
	struct lt_elem *e = ltable_alloc_elem(&c->lt, LT_ELEM, 1, 0);

	if (!MU_CHECK(c, e))
		return;
	ltable_put_elem(&c->lt, e);
	ltable_put_elem(&c->lt, e);
	MU_CHECK(c, c->npoison == 1);
}

/* A valid element nobody holds a reference on. */
static void mu_lt_put_unreferenced(struct mu_ctx *c)
{
	struct lt_elem *e = ltable_alloc_elem(&c->lt, LT_ELEM, 1, 0), *g;
	u64 id;

	if (!MU_CHECK(c, e))
		return;
	lt_elem_mkvalid(e);
	id = e->lt_id.id;
	ltable_put_elem(&c->lt, e);
	ltable_put_elem(&c->lt, e);
	g = ltable_get_elem(&c->lt, id);
	if (!MU_CHECK(c, g == e))
		return;
	lt_elem_invalidate(g);
	ltable_put_elem(&c->lt, g);
}

static void mu_lt_invalidate_twice(struct mu_ctx *c)
{
	struct lt_elem *e = ltable_alloc_elem(&c->lt, LT_ELEM, 1, 0);

	if (!MU_CHECK(c, e))
		return;
	lt_elem_mkvalid(e);
	lt_elem_invalidate(e);
	lt_elem_invalidate(e);
	ltable_put_elem(&c->lt, e);
	MU_CHECK(c, c->npoison == 1);
}

/*
 * Invalidated while nobody holds a reference: documented to leak the
 * element (no put will ever free it).  It is given back by hand, so that
 * the table can be destroyed, by restoring the reference it lacks.
 */
static void mu_lt_invalidate_unreferenced(struct mu_ctx *c)
{
	struct lt_elem *e = ltable_alloc_elem(&c->lt, LT_ELEM, 1, 0);

	if (!MU_CHECK(c, e))
		return;
	lt_elem_mkvalid(e);
	ltable_put_elem(&c->lt, e);
	lt_elem_invalidate(e);
	MU_CHECK(c, !ltable_get_elem(&c->lt, e->lt_id.id));
	WRITE_ONCE(e->lt_bits, READ_ONCE(e->lt_bits) + 1);
	ltable_put_elem(&c->lt, e);
	MU_CHECK(c, c->npoison == 1);
}

static void mu_lt_mkvalid_valid(struct mu_ctx *c)
{
	lt_elem_mkvalid(c->e0);
}

/* A free element must not become valid (and resolvable). */
static void mu_lt_mkvalid_free(struct mu_ctx *c)
{
	struct lt_elem *e = ltable_alloc_elem(&c->lt, LT_ELEM, 1, 0);

	if (!MU_CHECK(c, e))
		return;
	ltable_put_elem(&c->lt, e);
	lt_elem_mkvalid(e);
	MU_CHECK(c, !READ_ONCE(e->lt_bits));
	MU_CHECK(c, !ltable_get_elem(&c->lt, e->lt_id.id));
}

static void mu_lt_mkvalid_reserved(struct mu_ctx *c)
{
	struct lt_elem *r = ltable_alloc_elem(&c->lt, LT_RESERVED, 1, 0);

	if (!MU_CHECK(c, r))
		return;
	lt_elem_mkvalid(r);
	MU_CHECK(c, !lt_bits_valid(READ_ONCE(r->lt_bits)));
	MU_CHECK(c, lt_elem_list_release(&c->lt, r, LT_RESERVED) == 1);
}

static void mu_lt_link_bad_parent(struct mu_ctx *c)
{
	c->rc = lt_elem_list_link(&c->lt, c->e0, NULL);
}

static void mu_lt_link_bad_child(struct mu_ctx *c)
{
	struct lt_elem *r = ltable_alloc_elem(&c->lt, LT_RESERVED, 1, 0);
	struct lt_elem x = {};

	if (!MU_CHECK(c, r))
		return;
	c->rc = lt_elem_list_link(&c->lt, r, &x);
	MU_CHECK(c, READ_ONCE(r->lt_next_idx) == LT_IDX_MAX);
	MU_CHECK(c, lt_elem_list_release(&c->lt, r, LT_RESERVED) == 1);
}

/* Linking a list's own member would make it loop. */
static void mu_lt_link_child_on_list(struct mu_ctx *c)
{
	struct lt_elem *r = ltable_alloc_elem(&c->lt, LT_RESERVED, 2, 0);

	if (!MU_CHECK(c, r))
		return;
	c->rc = lt_elem_list_link(&c->lt, r, lt_elem_list_next(&c->lt, r));
	MU_CHECK(c, lt_elem_list_link(&c->lt, r, NULL) == 2);
	MU_CHECK(c, lt_elem_list_release(&c->lt, r, LT_RESERVED) == 2);
}

/* A stray write in the consumer's element corrupts the list link. */
static void mu_lt_link_corrupt(struct mu_ctx *c)
{
	struct lt_elem *r = ltable_alloc_elem(&c->lt, LT_RESERVED, 2, 0);
	u32 next;

	if (!MU_CHECK(c, r))
		return;
	next = READ_ONCE(r->lt_next_idx);
	WRITE_ONCE(r->lt_next_idx, LT_IDX_MAX - 1);
	c->rc = lt_elem_list_link(&c->lt, r, NULL);
	WRITE_ONCE(r->lt_next_idx, next);
	MU_CHECK(c, lt_elem_list_release(&c->lt, r, LT_RESERVED) == 2);
}

static void mu_lt_first_beyond(struct mu_ctx *c)
{
	c->ptr = lt_elem_list_first(&c->lt, mu_lt_id(LT_IDX_MAX - 1));
}

static void mu_lt_first_valid(struct mu_ctx *c)
{
	c->ptr = lt_elem_list_first(&c->lt, c->e0->lt_id.id);
}

static void mu_lt_release_foreign(struct mu_ctx *c)
{
	struct lt_elem x = {};

	c->rc = lt_elem_list_release(&c->lt, &x, LT_RESERVED);
}

static void mu_lt_release_wrong_type(struct mu_ctx *c)
{
	struct lt_elem *r = ltable_alloc_elem(&c->lt, LT_RESERVED, 2, 0);

	if (!MU_CHECK(c, r))
		return;
	c->rc = lt_elem_list_release(&c->lt, r, LT_ELEM);
	MU_CHECK(c, lt_elem_list_release(&c->lt, r, LT_RESERVED) == 2);
}

static void mu_lt_release_loop(struct mu_ctx *c)
{
	struct lt_elem *r = ltable_alloc_elem(&c->lt, LT_RESERVED, 2, 0), *b;

	if (!MU_CHECK(c, r))
		return;
	b = lt_elem_list_next(&c->lt, r);
	if (!MU_CHECK(c, b))
		return;
	WRITE_ONCE(b->lt_next_idx, mu_lt_idx(r));
	c->rc = lt_elem_list_release(&c->lt, r, LT_RESERVED);
	WRITE_ONCE(b->lt_next_idx, LT_IDX_MAX);
	MU_CHECK(c, lt_elem_list_release(&c->lt, r, LT_RESERVED) == 2);
}

static void mu_lt_release_corrupt(struct mu_ctx *c)
{
	struct lt_elem *r = ltable_alloc_elem(&c->lt, LT_RESERVED, 2, 0);
	u32 next;

	if (!MU_CHECK(c, r))
		return;
	next = READ_ONCE(r->lt_next_idx);
	WRITE_ONCE(r->lt_next_idx, LT_IDX_MAX - 1);
	c->rc = lt_elem_list_release(&c->lt, r, LT_RESERVED);
	WRITE_ONCE(r->lt_next_idx, next);
	MU_CHECK(c, lt_elem_list_release(&c->lt, r, LT_RESERVED) == 2);
}

/* ---------------------------------------------------------------------- */
/* The table */

static const struct mu_case mu_cases[] = {
	/* vmem: creation (no arena to charge: the global count) */
	{ .name = "vmem_create_quantum_not_power_of_two", .fac = MU_VMEM,
	  .misuse = mu_vmem_create_quantum_npot,
	  .ret = MU_RET_NULL, .counter = MU_C_GLOBAL },
	{ .name = "vmem_create_quantum_zero", .fac = MU_VMEM,
	  .misuse = mu_vmem_create_quantum_zero,
	  .ret = MU_RET_NULL, .counter = MU_C_GLOBAL },
	{ .name = "vmem_create_bad_ipl", .fac = MU_VMEM,
	  .misuse = mu_vmem_create_bad_ipl,
	  .ret = MU_RET_NULL, .counter = MU_C_GLOBAL },
	{ .name = "vmem_create_both_sleep_flags", .fac = MU_VMEM,
	  .misuse = mu_vmem_create_both_sleep_flags,
	  .ret = MU_RET_NULL, .counter = MU_C_GLOBAL },
	{ .name = "vmem_create_misaligned_span", .fac = MU_VMEM,
	  .misuse = mu_vmem_create_misaligned_span,
	  .ret = MU_RET_NULL, .counter = MU_C_GLOBAL },
	/* vmem: spans */
	{ .name = "vmem_add_overlapping_span", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_add_overlap,
	  .ret = MU_RET_INT, .expect = EINVAL },
	{ .name = "vmem_add_misaligned_span", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_add_misaligned,
	  .ret = MU_RET_INT, .expect = EINVAL },
	{ .name = "vmem_add_empty_span", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_add_empty,
	  .ret = MU_RET_INT, .expect = EINVAL },
	{ .name = "vmem_add_wrapping_span", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_add_wrapping,
	  .ret = MU_RET_INT, .expect = EINVAL },
	/* vmem: allocation flags, sizes, constraints, contexts */
	{ .name = "vmem_alloc_no_sleep_flag", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_alloc_no_sleep_flag,
	  .ret = MU_RET_INT, .expect = EINVAL },
	{ .name = "vmem_alloc_both_sleep_flags", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_alloc_both_sleep_flags,
	  .ret = MU_RET_INT, .expect = EINVAL },
	{ .name = "vmem_alloc_two_fit_strategies", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_alloc_two_strategies,
	  .ret = MU_RET_INT, .expect = EINVAL },
	{ .name = "vmem_alloc_size_zero", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_alloc_size_zero,
	  .ret = MU_RET_INT, .expect = EINVAL },
	{ .name = "vmem_alloc_sleep_with_irqs_off", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_alloc_sleep_irqs_off,
	  .ret = MU_RET_INT, .expect = EINVAL },
	{ .name = "vmem_alloc_hardirq_on_ipl_none", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_alloc_hardirq,
	  .ret = MU_RET_INT, .expect = EINVAL },
	{ .name = "vmem_alloc_softirq_on_ipl_none", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_alloc_softirq,
	  .ret = MU_RET_INT, .expect = EINVAL },
	{ .name = "vmem_alloc_sleep_from_hardirq_on_ipl_vm", .fac = MU_VMEM,
	  .setup = mu_vmem_setup_ipl_vm, .misuse = mu_vmem_alloc_sleep_hardirq,
	  .ret = MU_RET_INT, .expect = EINVAL },
	{ .name = "vmem_xalloc_align_not_power_of_two", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_xalloc_align_npot,
	  .ret = MU_RET_INT, .expect = EINVAL },
	{ .name = "vmem_xalloc_phase_not_below_align", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_xalloc_phase_ge_align,
	  .ret = MU_RET_INT, .expect = EINVAL },
	{ .name = "vmem_xalloc_nocross_below_size", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_xalloc_nocross_lt_size,
	  .ret = MU_RET_INT, .expect = EINVAL },
	{ .name = "vmem_xalloc_minaddr_above_maxaddr", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_xalloc_min_gt_max,
	  .ret = MU_RET_INT, .expect = EINVAL },
	{ .name = "vmem_xalloc_addr_misaligned", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_xalloc_addr_misaligned,
	  .ret = MU_RET_INT, .expect = EINVAL },
	/* vmem: frees */
	{ .name = "vmem_xfree_never_allocated", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_xfree_never_allocated },
	{ .name = "vmem_xfree_wrong_size", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_xfree_wrong_size },
	{ .name = "vmem_xfree_inside_an_allocation", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_xfree_interior },
	{ .name = "vmem_xfree_twice", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_xfree_twice },
	{ .name = "vmem_xfree_hardirq_on_ipl_none", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_xfree_hardirq },
	{ .name = "vmem_free_twice_through_qcache", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_free_twice_qcache },
	{ .name = "vmem_free_twice_through_qcache_two_cpus", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_free_twice_qcache_two_cpus,
	  .needs = MU_NEED_2CPUS },
	{ .name = "vmem_free_misaligned_through_qcache", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_free_misaligned_qcache },
	{ .name = "vmem_free_hardirq_on_ipl_none", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_free_hardirq },
	{ .name = "vmem_xfreeall_hardirq_on_ipl_none", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_xfreeall_hardirq },
	/* vmem: queries */
	{ .name = "vmem_size_bad_typemask", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_size_bad_typemask,
	  .ret = MU_RET_INT, .expect = 0 },
	{ .name = "vmem_size_hardirq_on_ipl_none", .fac = MU_VMEM,
	  .setup = mu_vmem_setup, .misuse = mu_vmem_size_hardirq,
	  .ret = MU_RET_INT, .expect = 0 },
	/* vmem: destroy, import */
	{ .name = "vmem_destroy_with_live_allocations", .fac = MU_VMEM,
	  .setup = mu_vmem_setup_child, .misuse = mu_vmem_destroy_busy,
	  .counter = MU_C_GLOBAL },
	{ .name = "vmem_import_returns_misaligned_span", .fac = MU_VMEM,
	  .setup = mu_vmem_setup_import_misaligned,
	  .misuse = mu_vmem_import_small,
	  .ret = MU_RET_INT, .expect = ENOMEM,
	  .intact = mu_vmem_import_intact },
	{ .name = "vmem_import_returns_overlapping_span", .fac = MU_VMEM,
	  .setup = mu_vmem_setup_import_overlap,
	  .misuse = mu_vmem_import_large,
	  .ret = MU_RET_INT, .expect = ENOMEM },
	{ .name = "vmem_ximport_returns_less_than_asked", .fac = MU_VMEM,
	  .setup = mu_vmem_setup_ximport_short,
	  .misuse = mu_vmem_import_small,
	  .ret = MU_RET_INT, .expect = ENOMEM,
	  .intact = mu_vmem_import_intact },

	/* SMR: sections */
	{ .name = "smr_enter_nested", .fac = MU_SMR,
	  .setup = mu_smr_setup, .misuse = mu_smr_nested_enter },
	{ .name = "smr_leave_without_enter", .fac = MU_SMR,
	  .setup = mu_smr_setup, .misuse = mu_smr_leave_unentered },
	{ .name = "smr_leave_without_enter_preempt_off", .fac = MU_SMR,
	  .setup = mu_smr_setup, .misuse = mu_smr_leave_unentered_atomic },
	{ .name = "smr_enter_from_hardirq", .fac = MU_SMR,
	  .setup = mu_smr_setup, .misuse = mu_smr_enter_hardirq,
	  .ret = MU_RET_BOOL, .expect = true },
	{ .name = "smr_enter_sleepable_on_plain_domain", .fac = MU_SMR,
	  .setup = mu_smr_setup, .misuse = mu_smr_sleepable_on_plain },
	{ .name = "smr_leave_sleepable_without_enter", .fac = MU_SMR,
	  .setup = mu_smr_setup_sleepable,
	  .misuse = mu_smr_leave_sleepable_unentered },
	{ .name = "smr_leave_sleepable_by_another_task", .fac = MU_SMR,
	  .setup = mu_smr_setup_sleepable,
	  .misuse = mu_smr_leave_sleepable_other_task },
	/* SMR: writers inside their own sections or callbacks */
	{ .name = "smr_synchronize_inside_section", .fac = MU_SMR,
	  .setup = mu_smr_setup, .misuse = mu_smr_synchronize_inside },
	{ .name = "smr_synchronize_inside_sleepable_section", .fac = MU_SMR,
	  .setup = mu_smr_setup_sleepable,
	  .misuse = mu_smr_synchronize_inside_sleepable },
	{ .name = "smr_barrier_inside_section", .fac = MU_SMR,
	  .setup = mu_smr_setup, .misuse = mu_smr_barrier_inside },
	{ .name = "smr_barrier_from_own_callback", .fac = MU_SMR,
	  .setup = mu_smr_setup, .misuse = mu_smr_barrier_in_callback },
	{ .name = "smr_wait_inside_section", .fac = MU_SMR,
	  .setup = mu_smr_setup, .misuse = mu_smr_wait_inside },
	{ .name = "smr_call_inside_section", .fac = MU_SMR,
	  .setup = mu_smr_setup, .misuse = mu_smr_call_inside },
	{ .name = "smr_call_inside_sleepable_section", .fac = MU_SMR,
	  .setup = mu_smr_setup_sleepable,
	  .misuse = mu_smr_call_inside_sleepable },
	{ .name = "smr_domain_fini_inside_section", .fac = MU_SMR,
	  .setup = mu_smr_setup_static_init, .misuse = mu_smr_fini_inside },
	{ .name = "smr_domain_free_inside_sleepable_section", .fac = MU_SMR,
	  .setup = mu_smr_setup_sleepable,
	  .misuse = mu_smr_free_inside_sleepable },
	{ .name = "smr_domain_free_from_own_callback", .fac = MU_SMR,
	  .setup = mu_smr_setup, .misuse = mu_smr_free_in_callback },
	/* SMR: bad arguments */
	{ .name = "smr_call_null_node", .fac = MU_SMR,
	  .setup = mu_smr_setup, .misuse = mu_smr_call_null_node,
	  .intact = mu_smr_cb2_never },
	{ .name = "smr_call_null_callback", .fac = MU_SMR,
	  .setup = mu_smr_setup, .misuse = mu_smr_call_null_cb },
	{ .name = "smr_poll_goal_never_advanced_to", .fac = MU_SMR,
	  .setup = mu_smr_setup, .misuse = mu_smr_poll_future_goal,
	  .ret = MU_RET_BOOL, .expect = true },
	{ .name = "smr_domain_create_bad_flags", .fac = MU_SMR,
	  .misuse = mu_smr_create_bad_flags,
	  .ret = MU_RET_NULL, .counter = MU_C_GLOBAL },
	{ .name = "smr_domain_init_twice", .fac = MU_SMR,
	  .setup = mu_smr_setup_static_init, .misuse = mu_smr_init_twice,
	  .ret = MU_RET_INT, .expect = -EBUSY },
	{ .name = "smr_domain_free_static_domain", .fac = MU_SMR,
	  .setup = mu_smr_setup_static_init, .misuse = mu_smr_free_static },
	/* SMR: a static domain used before smr_domain_init() */
	{ .name = "smr_enter_uninitialised_domain", .fac = MU_SMR,
	  .setup = mu_smr_setup_static, .misuse = mu_smr_uninit_enter },
	{ .name = "smr_poll_uninitialised_domain", .fac = MU_SMR,
	  .setup = mu_smr_setup_static, .misuse = mu_smr_uninit_poll,
	  .ret = MU_RET_BOOL, .expect = false },
	{ .name = "smr_wait_uninitialised_domain", .fac = MU_SMR,
	  .setup = mu_smr_setup_static, .misuse = mu_smr_uninit_wait },
	{ .name = "smr_synchronize_uninitialised_domain", .fac = MU_SMR,
	  .setup = mu_smr_setup_static, .misuse = mu_smr_uninit_synchronize },
	{ .name = "smr_barrier_uninitialised_domain", .fac = MU_SMR,
	  .setup = mu_smr_setup_static, .misuse = mu_smr_uninit_barrier },
	{ .name = "smr_call_uninitialised_domain", .fac = MU_SMR,
	  .setup = mu_smr_setup_static, .misuse = mu_smr_uninit_call,
	  .intact = mu_smr_cb2_never },
	{ .name = "smr_enter_sleepable_uninitialised_domain", .fac = MU_SMR,
	  .setup = mu_smr_setup_static, .misuse = mu_smr_uninit_sleepable },
	{ .name = "smr_domain_fini_uninitialised_domain", .fac = MU_SMR,
	  .setup = mu_smr_setup_static, .misuse = mu_smr_uninit_fini },
	/* SMR: accessor and queue checks (global count) */
	{ .name = "smr_entered_load_assert_outside_section", .fac = MU_SMR,
	  .setup = mu_smr_setup, .misuse = mu_smr_load_assert_unentered,
	  .counter = MU_C_GLOBAL },
	{ .name = "smr_serialized_load_assert_lock_not_held", .fac = MU_SMR,
	  .misuse = mu_smr_serialized_assert_unheld,
	  .counter = MU_C_GLOBAL, .needs = MU_NEED_LOCKDEP },
	{ .name = "smrq_remove_element_not_on_slist", .fac = MU_SMR,
	  .misuse = mu_smrq_remove_absent, .counter = MU_C_GLOBAL },
	{ .name = "smrq_remove_tailq_element_corrupt_prev", .fac = MU_SMR,
	  .misuse = mu_smrq_remove_corrupt_prev, .counter = MU_C_GLOBAL },
	{ .name = "smrq_insert_tail_stale_stailq_tail", .fac = MU_SMR,
	  .misuse = mu_smrq_insert_stale_tail, .counter = MU_C_GLOBAL },
	{ .name = "smrq_iter_cursor_moved_twice", .fac = MU_SMR,
	  .misuse = mu_smrq_iter_moved_twice, .counter = MU_C_GLOBAL },

	/* psref: classes */
	{ .name = "psref_class_create_null_name", .fac = MU_PSREF,
	  .misuse = mu_psref_create_null_name,
	  .ret = MU_RET_NULL, .counter = MU_C_GLOBAL },
	{ .name = "psref_class_create_bad_ipl", .fac = MU_PSREF,
	  .misuse = mu_psref_create_bad_ipl,
	  .ret = MU_RET_NULL, .counter = MU_C_GLOBAL },
	{ .name = "psref_class_destroy_null", .fac = MU_PSREF,
	  .misuse = mu_psref_class_destroy_null, .counter = MU_C_GLOBAL },
	{ .name = "psref_class_destroy_with_live_target", .fac = MU_PSREF,
	  .setup = mu_psref_setup,
	  .misuse = mu_psref_class_destroy_live_target },
	{ .name = "psref_class_destroy_with_reference_held", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_class_destroy_held },
	/* psref: targets */
	{ .name = "psref_target_init_null_class", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_init_null_class,
	  .counter = MU_C_GLOBAL },
	{ .name = "psref_target_init_null_target", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_init_null_target },
	{ .name = "psref_target_drain_null_class", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_drain_null_class,
	  .counter = MU_C_GLOBAL },
	{ .name = "psref_target_drain_target_of_other_class", .fac = MU_PSREF,
	  .setup = mu_psref_setup_two_classes,
	  .misuse = mu_psref_drain_other_class },
	{ .name = "psref_target_drain_twice", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_drain_twice },
	{ .name = "psref_target_drain_while_holding", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_drain_while_holding },
	{ .name = "psref_target_destroy_never_drained", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_destroy_undrained,
	  .needs = MU_NEED_DEBUG },
	{ .name = "psref_target_destroy_twice", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_destroy_twice },
	{ .name = "psref_target_destroy_null_class", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_destroy_null_class,
	  .counter = MU_C_GLOBAL },
	{ .name = "psref_target_destroy_uninitialised", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_destroy_uninit },
	{ .name = "psref_target_destroy_while_another_drains", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_destroy_while_draining },
	/* psref: acquire */
	{ .name = "psref_acquire_null_class", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_acquire_null_class,
	  .ret = MU_RET_INT, .expect = -EINVAL, .counter = MU_C_GLOBAL },
	{ .name = "psref_acquire_null_target", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_acquire_null_target,
	  .ret = MU_RET_INT, .expect = -EINVAL },
	{ .name = "psref_acquire_target_of_other_class", .fac = MU_PSREF,
	  .setup = mu_psref_setup_two_classes,
	  .misuse = mu_psref_acquire_other_class,
	  .ret = MU_RET_INT, .expect = -EINVAL },
	{ .name = "psref_acquire_unbound", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_acquire_unbound,
	  .ret = MU_RET_INT, .expect = -EINVAL },
	{ .name = "psref_acquire_softirq_on_ipl_none", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_acquire_softirq,
	  .ret = MU_RET_INT, .expect = -EINVAL },
	{ .name = "psref_acquire_hardirq_on_ipl_softnet", .fac = MU_PSREF,
	  .setup = mu_psref_setup_soft, .misuse = mu_psref_acquire_hardirq,
	  .ret = MU_RET_INT, .expect = -EINVAL },
	{ .name = "psref_acquire_same_psref_twice", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_acquire_twice,
	  .ret = MU_RET_INT, .expect = -EINVAL, .needs = MU_NEED_DEBUG },
	{ .name = "psref_acquire_destroyed_target", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_acquire_destroyed,
	  .ret = MU_RET_INT, .expect = -EINVAL },
	/* psref: release, copy, held */
	{ .name = "psref_release_null_class", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_release_null_class,
	  .counter = MU_C_GLOBAL },
	{ .name = "psref_release_twice", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_release_twice },
	{ .name = "psref_release_wrong_target", .fac = MU_PSREF,
	  .setup = mu_psref_setup_pair, .misuse = mu_psref_release_wrong_target },
	{ .name = "psref_release_struct_copy", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_release_copied,
	  .needs = MU_NEED_DEBUG },
	{ .name = "psref_release_by_another_task", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_release_other_task },
	{ .name = "psref_release_on_another_cpu", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_release_other_cpu,
	  .needs = MU_NEED_2CPUS },
	{ .name = "psref_release_on_another_cpu_from_softirq", .fac = MU_PSREF,
	  .setup = mu_psref_setup_soft,
	  .misuse = mu_psref_release_other_cpu_softirq,
	  .reports = 2, .needs = MU_NEED_2CPUS },
	{ .name = "psref_release_struct_copy_on_another_cpu", .fac = MU_PSREF,
	  .setup = mu_psref_setup,
	  .misuse = mu_psref_release_copied_other_cpu,
	  .reports = 2, .needs = MU_NEED_2CPUS },
	{ .name = "psref_release_softirq_on_ipl_none", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_release_softirq_ipl_none },
	{ .name = "psref_copy_from_psref_not_held", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_copy_unheld,
	  .needs = MU_NEED_DEBUG },
	{ .name = "psref_copy_onto_held_psref", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_copy_onto_held,
	  .needs = MU_NEED_DEBUG },
	{ .name = "psref_held_unbound", .fac = MU_PSREF,
	  .setup = mu_psref_setup, .misuse = mu_psref_held_unbound,
	  .ret = MU_RET_BOOL, .expect = false },

	/* ltable: init and destroy (a failed init charges the global count) */
	{ .name = "ltable_init_elem_size_not_power_of_two", .fac = MU_LTABLE,
	  .misuse = mu_lt_init_elem_npot,
	  .ret = MU_RET_INT, .expect = -EINVAL, .counter = MU_C_GLOBAL },
	{ .name = "ltable_init_elem_size_below_lt_elem", .fac = MU_LTABLE,
	  .misuse = mu_lt_init_elem_small,
	  .ret = MU_RET_INT, .expect = -EINVAL, .counter = MU_C_GLOBAL },
	{ .name = "ltable_init_elem_size_too_large", .fac = MU_LTABLE,
	  .misuse = mu_lt_init_elem_big,
	  .ret = MU_RET_INT, .expect = -EINVAL, .counter = MU_C_GLOBAL },
	{ .name = "ltable_init_max_size_zero", .fac = MU_LTABLE,
	  .misuse = mu_lt_init_max_zero,
	  .ret = MU_RET_INT, .expect = -EINVAL, .counter = MU_C_GLOBAL },
	{ .name = "ltable_init_max_size_above_lt_idx_max", .fac = MU_LTABLE,
	  .misuse = mu_lt_init_max_big,
	  .ret = MU_RET_INT, .expect = -EINVAL, .counter = MU_C_GLOBAL },
	{ .name = "ltable_destroy_twice", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_destroy_twice,
	  .counter = MU_C_GLOBAL },
	{ .name = "ltable_destroy_with_live_elements", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_destroy_live },
	{ .name = "ltable_grow_from_atomic_context", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_grow_atomic,
	  .ret = MU_RET_INT, .expect = -EAGAIN },
	/* ltable: elements */
	{ .name = "ltable_alloc_elem_invalid_type", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_alloc_bad_type,
	  .ret = MU_RET_NULL },
	{ .name = "ltable_alloc_elem_zero_elements", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_alloc_zero,
	  .ret = MU_RET_NULL },
	{ .name = "ltable_alloc_elem_more_than_max", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_alloc_too_many,
	  .ret = MU_RET_NULL },
	{ .name = "ltable_realloc_elem_foreign_element", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_realloc_foreign },
	{ .name = "ltable_realloc_elem_invalid_type", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_realloc_bad_type },
	{ .name = "ltable_realloc_elem_valid_element", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_realloc_valid },
	{ .name = "ltable_get_elem_index_beyond_table", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_get_beyond,
	  .ret = MU_RET_NULL },
	{ .name = "ltable_get_elem_refcount_overflow", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_get_overflow,
	  .ret = MU_RET_NULL },
	{ .name = "ltable_put_elem_foreign_element", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_put_foreign },
	{ .name = "ltable_put_elem_after_free", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_put_twice },
	{ .name = "ltable_put_elem_unreferenced_valid", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_put_unreferenced },
	{ .name = "lt_elem_invalidate_twice", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_invalidate_twice,
	  .counter = MU_C_GLOBAL },
	{ .name = "lt_elem_invalidate_without_reference", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_invalidate_unreferenced,
	  .counter = MU_C_GLOBAL },
	{ .name = "lt_elem_mkvalid_valid_element", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_mkvalid_valid,
	  .counter = MU_C_GLOBAL },
	{ .name = "lt_elem_mkvalid_free_element", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_mkvalid_free,
	  .counter = MU_C_GLOBAL },
	{ .name = "lt_elem_mkvalid_reserved_element", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_mkvalid_reserved,
	  .counter = MU_C_GLOBAL },
	/* ltable: reserved lists */
	{ .name = "lt_elem_list_link_valid_parent", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_link_bad_parent,
	  .ret = MU_RET_INT, .expect = -EINVAL },
	{ .name = "lt_elem_list_link_foreign_child", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_link_bad_child,
	  .ret = MU_RET_INT, .expect = -EINVAL },
	{ .name = "lt_elem_list_link_child_already_on_list", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_link_child_on_list,
	  .ret = MU_RET_INT, .expect = -EINVAL },
	{ .name = "lt_elem_list_link_corrupt_list", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_link_corrupt,
	  .ret = MU_RET_INT, .expect = -EINVAL },
	{ .name = "lt_elem_list_first_index_beyond_table", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_first_beyond,
	  .ret = MU_RET_NULL },
	{ .name = "lt_elem_list_first_valid_element", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_first_valid,
	  .ret = MU_RET_NULL },
	{ .name = "lt_elem_list_release_foreign_head", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_release_foreign,
	  .ret = MU_RET_INT, .expect = -EINVAL },
	{ .name = "lt_elem_list_release_wrong_type", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_release_wrong_type,
	  .ret = MU_RET_INT, .expect = -EINVAL },
	{ .name = "lt_elem_list_release_list_that_loops", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_release_loop,
	  .ret = MU_RET_INT, .expect = -EINVAL },
	{ .name = "lt_elem_list_release_corrupt_link", .fac = MU_LTABLE,
	  .setup = mu_lt_setup, .misuse = mu_lt_release_corrupt,
	  .ret = MU_RET_INT, .expect = -EINVAL },
};

static void mu_case_desc(const struct mu_case *mc, char *desc)
{
	strscpy(desc, mc->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(mu_table, mu_cases, mu_case_desc);

/* ---------------------------------------------------------------------- */
/* Driving one entry */

struct mu_facility {
	mu_fn intact;
	mu_fn teardown;
};

static const struct mu_facility mu_facilities[] = {
	[MU_VMEM] = { mu_vmem_intact, mu_vmem_teardown },
	[MU_SMR] = { mu_smr_intact, mu_smr_teardown },
	[MU_PSREF] = { mu_psref_intact, mu_psref_teardown },
	[MU_LTABLE] = { mu_lt_intact, mu_lt_teardown },
};

static unsigned long mu_count(struct mu_ctx *c, enum mu_counter which)
{
	bool global = which == MU_C_GLOBAL;

	switch (c->mc->fac) {
	case MU_VMEM:
		if (global || !c->vm)
			return vmem_misuse_count(NULL);
		return vmem_misuse_count(c->vm);
	case MU_SMR:
		return smr_misuse_count(global ? NULL : c->smr);
	case MU_PSREF:
		return psref_misuse_count(global ? NULL : c->cls);
	case MU_LTABLE:
		return global ? ltable_misuse_count() : atomic_long_read(&c->lt.misuse);
	}
	return 0;
}

/*
 * The reports a case leaves in its facility's global count, which outlives
 * every object: vmem and ltable count every report there, SMR and psref
 * only those with no object.
 */
static unsigned long mu_global_reports(const struct mu_case *mc)
{
	unsigned int reports = mc->reports ?: 1;

	if (mc->fac == MU_VMEM || mc->fac == MU_LTABLE ||
	    mc->counter == MU_C_GLOBAL)
		return reports;
	return 0;
}

static void mu_intact(struct mu_ctx *c)
{
	mu_facilities[c->mc->fac].intact(c);
	if (c->mc->intact)
		c->mc->intact(c);
}

/*
 * Run one phase in a kthread.  False if it hung (failed, and the context is
 * leaked on purpose: the kthread may still use it) or could not start.
 */
static bool mu_phase(struct kunit *test, struct mu_ctx *c, mu_fn fn,
		     const char *phase)
{
	c->fail = NULL;
	c->nfail = 0;
	if (!mu_finish(mu_start(c, fn, -1), MU_TIMEOUT)) {
		KUNIT_FAIL(test, "%s: %s did not return within %d s; its context is leaked",
			   c->mc->name, phase, MU_TIMEOUT_S);
		return false;
	}
	KUNIT_EXPECT_EQ_MSG(test, c->nfail, 0U, "%s: %s: line %d: %s is false",
			    c->mc->name, phase, c->fail_line, c->fail);
	return true;
}

static const char *mu_unmet(const struct mu_case *mc)
{
	if ((mc->needs & MU_NEED_2CPUS) && num_online_cpus() < 2)
		return "needs a second online CPU";
	if ((mc->needs & MU_NEED_DEBUG) && !IS_ENABLED(CONFIG_DEBUG_KERNEL))
		return "psref_debug checks are off without CONFIG_DEBUG_KERNEL";
	if ((mc->needs & MU_NEED_LOCKDEP) && !IS_ENABLED(CONFIG_LOCKDEP))
		return "serialized SMR asserts are checked only with CONFIG_LOCKDEP";
	return NULL;
}

static void mu_expect_ret(struct kunit *test, struct mu_ctx *c)
{
	const struct mu_case *mc = c->mc;

	switch (mc->ret) {
	case MU_RET_VOID:
		break;
	case MU_RET_INT:
	case MU_RET_BOOL:
		KUNIT_EXPECT_EQ_MSG(test, c->rc, mc->expect, "%s: return value",
				    mc->name);
		break;
	case MU_RET_NULL:
		KUNIT_EXPECT_NULL_MSG(test, c->ptr, "%s: return value", mc->name);
		break;
	}
}

/*
 * One entry of mu_cases[]: setup, misuse, its return value and report
 * count, the intact check, teardown, and the facility's global count.
 */
static void kprim_misuse_table_warns(struct kunit *test)
{
	const struct mu_case *mc = test->param_value;
	unsigned long reports = mc->reports ?: 1;
	unsigned long global0, before, global_reports = 0;
	const char *why = mu_unmet(mc);
	struct mu_ctx *c;

	if (why)
		kunit_skip(test, "%s", why);
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->mc = mc;
	c->rc = MU_UNSET;
	c->ptr = c;
	snprintf(c->name, sizeof(c->name), "kprim_mu%u",
		 (unsigned int)(mc - mu_cases));
	global0 = mu_count(c, MU_C_GLOBAL);

	if (mc->setup) {
		if (!mu_phase(test, c, mc->setup, "setup"))
			return;
		if (c->nfail)
			goto teardown;
	}
	before = mu_count(c, mc->counter);
	if (!mu_phase(test, c, mc->misuse, "misuse"))
		return;
	global_reports = mu_global_reports(mc);
	if (c->skip) {
		why = c->skip;
		if (mu_phase(test, c, mu_facilities[mc->fac].teardown, "teardown"))
			kfree(c);
		kunit_skip(test, "%s", why);
	}
	KUNIT_EXPECT_EQ_MSG(test, mu_count(c, mc->counter) - before, reports,
			    "%s: misuse reports", mc->name);
	mu_expect_ret(test, c);

	if (!mu_phase(test, c, mu_intact, "intact check"))
		return;
	KUNIT_EXPECT_EQ_MSG(test, mu_count(c, mc->counter) - before, reports,
			    "%s: reports after the intact check", mc->name);
teardown:
	if (!mu_phase(test, c, mu_facilities[mc->fac].teardown, "teardown"))
		return;
	KUNIT_EXPECT_EQ_MSG(test, mu_count(c, MU_C_GLOBAL) - global0,
			    global_reports,
			    "%s: facility-wide reports after teardown", mc->name);
	kfree(c);
}

static struct kunit_case mu_test_cases[] = {
	KUNIT_CASE_PARAM(kprim_misuse_table_warns, mu_table_gen_params),
	{}
};

static struct kunit_suite mu_suite = {
	.name = "kprim_misuse",
	.test_cases = mu_test_cases,
};

kunit_test_suite(mu_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit table of every kprim misuse: report, counter, intact structure");
KPRIM_MODULE_IMPORT_NS();
