// SPDX-License-Identifier: GPL-2.0
/*
 * kprim psref: passive references, after NetBSD's psref(9).
 *
 * Theory of operation
 * ===================
 *
 * A passive reference keeps an object (a struct psref_target embedded in
 * it) from being destroyed while the holder uses it.  Unlike a reference
 * count, taking and dropping a passive reference writes only memory that
 * belongs to the current CPU: the holder's struct psref (on its stack) is
 * linked into this CPU's list for the object's class.  Nothing is shared,
 * nothing is atomic.  The price is paid by whoever destroys an object: it
 * must ask every CPU whether its list still names the object.
 *
 * Binding.  A reference is only findable on the CPU that took it, so the
 * holder must stay on that CPU until it releases it.  NetBSD says "bound";
 * on Linux a caller is bound when preemption is disabled (which includes
 * softirq, BH-disabled and hard-IRQ context), when it runs under
 * migrate_disable() (it may then sleep briefly, e.g. on a mutex), or when it
 * is a per-CPU kthread.  psref_bound() applies exactly the test the
 * kernel's smp_processor_id() debug check uses; an unbound caller is a
 * misuse.
 *
 * Classes and IPL.  A class groups targets used from the same contexts.  Its
 * IPL (include/kprim/ipl.h) says which contexts may touch its per-CPU lists,
 * and so what a list update must block: IPL_NONE lists are used from
 * process context only and are updated with preemption disabled (a bound
 * task using migrate_disable() would otherwise race with another task on the
 * same CPU); IPL_SOFT* lists are updated with bottom halves disabled;
 * IPL_VM and above with hard interrupts disabled.  Using a class from a
 * context its IPL does not cover (an IPL_NONE class from a softirq, a soft
 * class from a hard IRQ, anything from NMI) is a misuse, refused before
 * the list is touched.
 *
 * Draining.  psref_target_drain() moves the target from LIVE to DRAINING
 * (one cmpxchg, so two drainers are detected; psref_target_destroy() of a
 * DRAINING target is refused for the same reason, and a drain abandoned
 * because its caller holds the target leaves it ABANDONED, which a later
 * destroy takes back to DRAINING by cmpxchg), counts itself in the class's
 * ndraining, then loops: it runs psref_drain_check() on every online CPU
 * with on_each_cpu(), i.e. in IPI context, and each CPU looks for the
 * target in its own list.  If some CPU still holds it, the drainer sleeps on
 * the class's waitqueue until a release bumps release_seq, or one second
 * passes (the fallback of NetBSD's cv_timedwait(hz)), and asks again.  The
 * snapshot of release_seq taken before the broadcast means no wakeup is
 * lost between the broadcast and the sleep.  A drain that lasts longer
 * than psref_drain_warn_ms is reported once, with the holding CPUs, tasks
 * and acquire sites.  Offline CPUs need no check: CPU hot-unplug waits for
 * migrate-disabled tasks, so a bound holder keeps its CPU online.
 *
 * Why the IPI can interrupt an update safely.  For IPL_NONE and soft
 * classes the check IPI may arrive in the middle of an acquire or release
 * on the same CPU.  Two rules make that harmless.  First, lists are
 * changed with hlist_add_head_rcu()/hlist_del_rcu(), whose store
 * ordering keeps every ->next chain walkable at every instruction
 * boundary, and the check walks forward only (an hlist rather than a
 * list_head: the same ordering without CONFIG_DEBUG_LIST's out-of-line
 * validation calls on the fast path).  Second, psref_acquire() links its entry *before* it
 * reads the target's state (a compiler barrier suffices: the IPI runs on
 * the same CPU and sees that CPU's stores in program order).  If the IPI
 * comes before the entry is linked, it synchronised with the drainer's
 * state change (smp_call_function's own barriers), so the acquire's later
 * read sees DRAINING and backs out with -ENOENT; otherwise the IPI sees the
 * entry and the drainer waits.  A release never reads the target after
 * unlinking (it may be freed as soon as the IPI misses the entry); it reads
 * the class's ndraining instead to decide whether to wake drainers.  The
 * class may be destroyed as soon as the drain is over, too, so the release
 * reads it before leaving its protected (hence RCU read-side) section, and
 * psref_class_destroy() waits for such sections with synchronize_rcu().
 *
 * Debug checks.  With psref_debug (default on under CONFIG_DEBUG_KERNEL)
 * acquire walks this CPU's list to refuse a struct psref that is already
 * linked, release and copy refuse a struct psref that is not, and
 * destroying a target that was never drained is reported.  The holder's
 * CPU and task are always recorded (two stores) and checked on release.  A
 * release on the wrong CPU is reported and then repaired by unlinking the
 * entry on its own CPU through an IPI; the per-CPU "busy" flag tells that
 * IPI to retry if it interrupted a list update.  Every misuse is a
 * KPRIM_MISUSE(): reported once per site, counted per class, refused.
 *
 * Known limits: a module cannot hook the return to user space, so a task
 * that keeps a reference across it is only caught when the target is
 * drained (the drain reports the holder) or the class destroyed.  A
 * per-CPU kthread counts as bound, as for smp_processor_id(): it must not
 * hold a reference while its CPU goes offline (smpboot threads are parked
 * first; a kthread_bind() thread is not), since the drain only asks online
 * CPUs.
 */

#define pr_fmt(fmt) "kprim psref: " fmt

#include <linux/bottom_half.h>
#include <linux/cache.h>
#include <linux/compiler.h>
#include <linux/debugfs.h>
#include <linux/irqflags.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/rculist.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/wait.h>
#include <kprim/psref.h>

#include "kprim_internal.h"

/* struct psref_target::prt_state; zero (never initialised) is invalid. */
#define PSREF_TARGET_LIVE	0x7073724cU
#define PSREF_TARGET_DRAINING	0x70737244U
#define PSREF_TARGET_DRAINED	0x70737264U
#define PSREF_TARGET_ABANDONED	0x70737241U	/* drain abandoned, still closed */
#define PSREF_TARGET_DESTROYED	0x70737258U

#define PSREF_NAME_MAX		32

static bool psref_debug = IS_ENABLED(CONFIG_DEBUG_KERNEL);
module_param(psref_debug, bool, 0644);
MODULE_PARM_DESC(psref_debug, "psref: check duplicate/unknown references and undrained destroys");

static unsigned int psref_drain_warn_ms = 5000;
module_param(psref_drain_warn_ms, uint, 0644);
MODULE_PARM_DESC(psref_drain_warn_ms, "psref: report a drain waiting longer than this (ms)");

/* Misuse reports that cannot be charged to a class (no class given). */
static atomic_long_t psref_global_misuse = ATOMIC_LONG_INIT(0);
static struct dentry *psref_debugfs;

/*
 * struct psref_cpu - one CPU's references of one class
 * @head: the struct psref entries held on this CPU
 * @nheld: length of @head, for debugfs and psref_class_destroy()
 * @busy: an acquire/release/copy is updating @head (see psref_unlink_remote)
 *
 * Written only by its own CPU, under the class's IPL protection.
 */
struct psref_cpu {
	struct hlist_head head;
	unsigned long nheld;
	bool busy;
};

/*
 * struct psref_class - private state of a class of targets
 * @pcpu: per-CPU lists of references
 * @ipl: the IPL the class was created with
 * @ndraining: drains in progress; releases wake @wq while nonzero
 * @release_seq: bumped by every release seen while draining
 * @wq: where drainers sleep
 * @ntargets: targets initialised and not yet destroyed
 * @misuse: misuse reports charged to this class
 * @lock: protects @drains and the drain statistics
 * @drains: the drains in progress (struct psref_drain), for debugfs
 * @drain_count: drains completed
 * @drain_max_ns: longest drain, in ns
 * @dentry: debugfs file
 * @name: name given to psref_class_create()
 */
struct psref_class {
	struct psref_cpu __percpu *pcpu;
	int ipl;
	atomic_t ndraining;
	atomic_long_t release_seq;
	wait_queue_head_t wq;
	atomic_long_t ntargets;
	atomic_long_t misuse;
	spinlock_t lock;		/* drains, drain_count, drain_max_ns */
	struct list_head drains;
	unsigned long drain_count;
	u64 drain_max_ns;
	struct dentry *dentry;
	char name[PSREF_NAME_MAX];
};

/* A drain in progress, on the drainer's stack. */
struct psref_drain {
	struct list_head link;
	const struct psref_target *target;
	struct psref_class *class;
	pid_t pid;
	u64 start_ns;
	atomic_t nholders;
	bool report;
};

/* How psref_protect() shielded this CPU's list. */
enum psref_prot {
	PSREF_PROT_NONE,	/* the caller's context already does */
	PSREF_PROT_PREEMPT,
	PSREF_PROT_BH,
	PSREF_PROT_IRQ,
};

struct psref_guard {
	enum psref_prot prot;
	unsigned long flags;
};

static const char *psref_class_name(const struct psref_class *class)
{
	return class ? class->name : "(none)";
}

static const char *psref_state_name(unsigned int state)
{
	switch (state) {
	case PSREF_TARGET_LIVE:
		return "live";
	case PSREF_TARGET_DRAINING:
		return "draining";
	case PSREF_TARGET_DRAINED:
		return "drained";
	case PSREF_TARGET_ABANDONED:
		return "drain abandoned";
	case PSREF_TARGET_DESTROYED:
		return "destroyed";
	default:
		return "uninitialised";
	}
}

static const char *psref_context_name(void)
{
	if (in_nmi())
		return "NMI";
	if (in_hardirq())
		return "hard-IRQ";
	if (in_serving_softirq())
		return "softirq";
	return "process";
}

/* May a caller in the current context use a class of this IPL? */
static __always_inline bool psref_context_ok(const struct psref_class *class)
{
	/* The common case with a single preempt-count test. */
	if (likely(in_task()))
		return true;
	if (in_nmi())
		return false;
	if (in_hardirq())
		return kprim_ipl_is_hard(class->ipl);
	if (in_serving_softirq())
		return class->ipl != IPL_NONE;
	return true;
}

/* A task with a zero preempt count: is it pinned to this CPU? */
static __always_inline bool psref_task_bound(void)
{
#ifdef CONFIG_SMP
	if (current->migration_disabled)
		return true;
#endif
	return is_percpu_thread() || irqs_disabled();
}

/* Will the caller stay on this CPU?  Same test as smp_processor_id(). */
static __always_inline bool psref_bound(void)
{
	/* Without a preempt count there is nothing to test. */
	if (!IS_ENABLED(CONFIG_PREEMPT_COUNT) || preempt_count())
		return true;
	return psref_task_bound();
}

/*
 * Common entry checks of acquire/release/copy/held: a class, a context the
 * class's IPL covers, a bound caller, and a target of this class.
 */
static bool psref_enter_ok(struct psref_class *class,
			   const struct psref_target *target, const char *fn)
{
	if (unlikely(!class))
		return !KPRIM_MISUSE(&psref_global_misuse, "%s: NULL class", fn);
	if (unlikely(!psref_context_ok(class)))
		return !KPRIM_MISUSE(&class->misuse,
				     "%s: class %s (ipl %d) used from %s context",
				     fn, class->name, class->ipl,
				     psref_context_name());
	if (unlikely(!psref_bound()))
		return !KPRIM_MISUSE(&class->misuse,
				     "%s: class %s: caller %s/%d is not bound to a CPU (preemption and migration enabled)",
				     fn, class->name, current->comm, current->pid);
	if (unlikely(!target || target->prt_class != class))
		return !KPRIM_MISUSE(&class->misuse,
				     "%s: target %p belongs to class %s, not %s",
				     fn, target,
				     psref_class_name(target ? target->prt_class : NULL),
				     class->name);
	return true;
}

/* Mark this CPU's list busy for psref_unlink_remote(); shielded caller. */
static __always_inline struct psref_cpu *psref_busy(struct psref_class *class)
{
	struct psref_cpu *pcpu = this_cpu_ptr(class->pcpu);

	WRITE_ONCE(pcpu->busy, true);
	barrier();
	return pcpu;
}

static __always_inline void psref_unbusy(struct psref_cpu *pcpu)
{
	barrier();
	WRITE_ONCE(pcpu->busy, false);
}

/*
 * Shield this CPU's list of @class from every context that may update it,
 * unless the caller's context already does (the common case of a caller
 * with preemption, BH or IRQs disabled costs no extra call then).  The
 * context has been checked against the IPL: an IPL_NONE caller is in
 * process context, a soft one is not in hard-IRQ context.
 */
static __always_inline struct psref_cpu *
psref_protect(struct psref_class *class, struct psref_guard *g)
{
	if (kprim_ipl_is_hard(class->ipl)) {
		if (irqs_disabled()) {
			g->prot = PSREF_PROT_NONE;
		} else {
			g->prot = PSREF_PROT_IRQ;
			local_irq_save(g->flags);
		}
	} else if (kprim_ipl_is_soft(class->ipl)) {
		/* BH disabled (or being served) or IRQs off: no softirq here. */
		if (in_softirq() || irqs_disabled()) {
			g->prot = PSREF_PROT_NONE;
		} else {
			g->prot = PSREF_PROT_BH;
			local_bh_disable();
		}
	} else if (IS_ENABLED(CONFIG_PREEMPT_COUNT) &&
		   (preempt_count() || irqs_disabled())) {
		/* IPL_NONE: only other tasks matter, and none can run here. */
		g->prot = PSREF_PROT_NONE;
	} else {
		g->prot = PSREF_PROT_PREEMPT;
		preempt_disable();
	}
	return psref_busy(class);
}

static __always_inline void psref_unprotect(struct psref_cpu *pcpu,
					    struct psref_guard *g)
{
	psref_unbusy(pcpu);
	switch (g->prot) {
	case PSREF_PROT_NONE:
		break;
	case PSREF_PROT_IRQ:
		local_irq_restore(g->flags);
		break;
	case PSREF_PROT_BH:
		local_bh_enable();
		break;
	case PSREF_PROT_PREEMPT:
		preempt_enable();
		break;
	}
}

/* preempt_count() bits that mean "not task context". */
#define PSREF_NOT_TASK	(NMI_MASK | HARDIRQ_MASK | SOFTIRQ_OFFSET)

/*
 * Entry of the slow paths and of copy/held: check the class, the target,
 * the context and that the caller is bound, then shield this CPU's list
 * (see psref_protect()).  Returns the list, or NULL after reporting a
 * misuse.
 */
static struct psref_cpu *
psref_begin(struct psref_class *class, const struct psref_target *target,
	    struct psref_guard *g, const char *fn)
{
	if (unlikely(!psref_enter_ok(class, target, fn)))
		return NULL;
	return psref_protect(class, g);
}

/* What psref_fast_mode() found. */
enum psref_fast {
	PSREF_FAST_NONE,	/* already shielded: preemption or BH disabled */
	PSREF_FAST_PREEMPT,	/* bound, preemptible: disable preemption */
	PSREF_SLOW,		/* anything else: full checks */
};

/*
 * The common case of acquire and release, decided with one preempt-count
 * read: an IPL_NONE class used from task context that has preemption or BH
 * disabled (bound, and no other task can run here: nothing to do), or that
 * is bound by migrate_disable() or as a per-CPU kthread (disable
 * preemption).  Without CONFIG_PREEMPT_COUNT nothing can be tested, as in
 * psref_bound().  Everything else, misuse included, takes the slow path.
 */
static __always_inline enum psref_fast
psref_fast_mode(const struct psref_class *class,
		const struct psref_target *target)
{
	unsigned int pc;

	if (unlikely(!class || !target || target->prt_class != class ||
		     class->ipl != IPL_NONE))
		return PSREF_SLOW;
	pc = preempt_count();
	if (unlikely(pc & PSREF_NOT_TASK))
		return PSREF_SLOW;
	if (pc && IS_ENABLED(CONFIG_PREEMPT_COUNT))
		return PSREF_FAST_NONE;
	if (!IS_ENABLED(CONFIG_PREEMPT_COUNT) || psref_task_bound())
		return PSREF_FAST_PREEMPT;
	return PSREF_SLOW;
}

/* Is @psref linked on @pcpu's list?  Compares pointers only. */
static bool psref_on_list(struct psref_cpu *pcpu, const struct psref *psref)
{
	struct psref *p;

	hlist_for_each_entry(p, &pcpu->head, psref_entry)
		if (p == psref)
			return true;
	return false;
}

/*
 * The _rcu list primitives are used for their store ordering: the drain
 * IPI may walk @pcpu->head between any two instructions of these.
 */
static void psref_link(struct psref_cpu *pcpu, struct psref *psref)
{
	hlist_add_head_rcu(&psref->psref_entry, &pcpu->head);
	pcpu->nheld++;
}

static void psref_unlink(struct psref_cpu *pcpu, struct psref *psref)
{
	hlist_del_rcu(&psref->psref_entry);
	pcpu->nheld--;
}

/* A reference to a draining target went away: let the drainers look again. */
static noinline void psref_wake_drainers_now(struct psref_class *class)
{
	atomic_long_inc(&class->release_seq);
	wake_up_all(&class->wq);
}

static __always_inline void psref_wake_drainers(struct psref_class *class)
{
	if (unlikely(atomic_read(&class->ndraining)))
		psref_wake_drainers_now(class);
}

static noinline int psref_misuse_twice(struct psref *psref,
				       struct psref_class *class)
{
	KPRIM_MISUSE(&class->misuse,
		     "psref_acquire: class %s: psref %p acquired twice (first at %pS)",
		     class->name, psref, (void *)psref->psref_ip);
	return -EINVAL;
}

/*
 * A target that is not live refused the reference just linked on @pcpu
 * (still shielded): unlink it.  -ENOENT for a target being or already
 * drained; -EINVAL, reported, for one never initialised or destroyed.
 */
static noinline int psref_acquire_refused(struct psref_cpu *pcpu,
					  struct psref *psref,
					  const struct psref_target *target,
					  struct psref_class *class,
					  unsigned int state)
{
	psref_unlink(pcpu, psref);
	psref->psref_target = NULL;
	if (state == PSREF_TARGET_DRAINING || state == PSREF_TARGET_DRAINED ||
	    state == PSREF_TARGET_ABANDONED) {
		/* Still shielded: see psref_release_here(). */
		psref_wake_drainers(class);
		return -ENOENT;
	}
	KPRIM_MISUSE(&class->misuse, "psref_acquire: class %s: target %p is %s",
		     class->name, target, psref_state_name(state));
	return -EINVAL;
}

/* The body of psref_acquire(): @pcpu is shielded and marked busy. */
static __always_inline int psref_acquire_here(struct psref_cpu *pcpu,
					      struct psref *psref,
					      const struct psref_target *target,
					      struct psref_class *class,
					      unsigned long ip)
{
	unsigned int state;

	if (psref_debug && unlikely(psref_on_list(pcpu, psref)))
		return psref_misuse_twice(psref, class);
	psref->psref_target = target;
	psref->psref_task = current;
	psref->psref_ip = ip;
	psref->psref_cpu = raw_smp_processor_id();	/* shielded */
	psref_link(pcpu, psref);
	/* Linked before the state is read: see "Why the IPI ..." above. */
	barrier();
	state = READ_ONCE(target->prt_state);
	if (likely(state == PSREF_TARGET_LIVE))
		return 0;
	return psref_acquire_refused(pcpu, psref, target, class, state);
}

/* psref_acquire() outside the common case: full checks, IPL protection. */
static noinline int psref_acquire_slow(struct psref *psref,
				       const struct psref_target *target,
				       struct psref_class *class,
				       unsigned long ip)
{
	struct psref_guard g;
	struct psref_cpu *pcpu;
	int ret;

	pcpu = psref_begin(class, target, &g, "psref_acquire");
	if (unlikely(!pcpu))
		return -EINVAL;
	ret = psref_acquire_here(pcpu, psref, target, class, ip);
	psref_unprotect(pcpu, &g);
	return ret;
}

/**
 * psref_acquire() - take a passive reference to a target
 * @psref: caller's storage for the reference, normally on its stack
 * @target: the target, initialised with psref_target_init() in @class
 * @class: the target's class
 *
 * Records the reference in this CPU's list of @class.  The caller must stay
 * bound to this CPU until psref_release(): preemption disabled, softirq or
 * hard-IRQ context, or migrate_disable() (which allows short sleeps).  The
 * caller must also keep @target's memory valid across the call, typically
 * by looking it up inside an RCU or SMR read section.
 *
 * Context: bound (see above), in a context @class's IPL covers: process
 * context for IPL_NONE, also softirq for IPL_SOFT*, any but NMI for IPL_VM
 * and above.  Does not sleep.
 * Return: 0 with the reference held; -ENOENT if @target is being drained
 * or has been drained (no reference is held); -EINVAL on misuse (reported,
 * no reference is held).
 */
int psref_acquire(struct psref *psref, const struct psref_target *target,
		  struct psref_class *class)
{
	enum psref_fast mode = psref_fast_mode(class, target);
	struct psref_cpu *pcpu;
	int ret;

	if (unlikely(mode == PSREF_SLOW))
		return psref_acquire_slow(psref, target, class, _RET_IP_);
	if (mode == PSREF_FAST_PREEMPT)
		preempt_disable();
	pcpu = psref_busy(class);
	ret = psref_acquire_here(pcpu, psref, target, class, _RET_IP_);
	psref_unbusy(pcpu);
	if (mode == PSREF_FAST_PREEMPT)
		preempt_enable();
	return ret;
}
EXPORT_SYMBOL_KPRIM(psref_acquire);

struct psref_remote {
	struct psref_class *class;
	struct psref *psref;
	bool done;
	bool found;
};

/* IPI on the holding CPU: unlink a reference released elsewhere. */
static void psref_unlink_remote(void *arg)
{
	struct psref_remote *r = arg;
	struct psref_cpu *pcpu = this_cpu_ptr(r->class->pcpu);

	/* Interrupted an update of this very list: let the caller retry. */
	if (READ_ONCE(pcpu->busy))
		return;
	r->found = psref_on_list(pcpu, r->psref);
	if (r->found)
		psref_unlink(pcpu, r->psref);
	r->done = true;
}

/*
 * psref_release() on a CPU other than the acquiring one (already reported):
 * repair the list by unlinking the entry on its own CPU, which needs a
 * synchronous IPI and so task context with IRQs enabled.
 */
static void psref_release_remote(struct psref *psref, struct psref_class *class)
{
	struct psref_remote r = { .class = class, .psref = psref };
	int cpu = psref->psref_cpu;
	int tries;

	/*
	 * Once the entry is unlinked a drain may finish and the class be
	 * destroyed: psref_class_destroy() waits for this read section.
	 */
	rcu_read_lock();

	/* smp_call_function_single() must not wait from softirq or hard IRQ. */
	if (!in_task() || irqs_disabled() || cpu < 0 || cpu >= nr_cpu_ids) {
		KPRIM_MISUSE(&class->misuse,
			     "%s: class %s: cannot unlink psref %p from CPU %d in %s context%s; reference leaked",
			     __func__, class->name, psref, cpu,
			     psref_context_name(),
			     irqs_disabled() ? " with IRQs disabled" : "");
		rcu_read_unlock();
		return;
	}
	for (tries = 0; tries < 1000 && !r.done; tries++) {
		if (smp_call_function_single(cpu, psref_unlink_remote, &r, 1))
			break;
		cpu_relax();
	}
	if (!r.done || !r.found)
		KPRIM_MISUSE(&class->misuse,
			     "%s: class %s: psref %p not found on CPU %d",
			     __func__, class->name, psref, cpu);
	else
		psref->psref_target = NULL;
	psref_wake_drainers(class);
	rcu_read_unlock();
}

/* psref_release() with a NULL class or a psref of another target. */
static noinline void psref_release_mismatch(struct psref *psref,
					    const struct psref_target *target,
					    struct psref_class *class)
{
	if (!class)
		KPRIM_MISUSE(&psref_global_misuse, "psref_release: NULL class");
	else
		KPRIM_MISUSE(&class->misuse,
			     "psref_release: class %s: psref %p references %p, not %p",
			     class->name, psref, psref->psref_target, target);
}

static noinline void psref_misuse_not_held(struct psref *psref,
					   struct psref_class *class)
{
	KPRIM_MISUSE(&class->misuse,
		     "psref_release: class %s: psref %p is not held on CPU %d (released twice?)",
		     class->name, psref, psref->psref_cpu);
}

static noinline void psref_misuse_task(struct psref *psref,
				       struct psref_class *class)
{
	KPRIM_MISUSE(&class->misuse,
		     "psref_release: class %s: psref %p acquired by task %p at %pS, released by %s/%d",
		     class->name, psref, psref->psref_task,
		     (void *)psref->psref_ip, current->comm, current->pid);
}

/* Released on another CPU than the acquire: report, then repair. */
static noinline void psref_release_elsewhere(struct psref *psref,
					     struct psref_class *class)
{
	KPRIM_MISUSE(&class->misuse,
		     "psref_release: class %s: psref %p acquired on CPU %d at %pS, released on CPU %d",
		     class->name, psref, psref->psref_cpu,
		     (void *)psref->psref_ip, raw_smp_processor_id());
	psref_release_remote(psref, class);
}

/*
 * The body of psref_release(): @pcpu is shielded and marked busy.  Returns
 * true if @psref was acquired on another CPU, for the caller to repair
 * with psref_release_elsewhere() once unshielded.
 */
static __always_inline bool psref_release_here(struct psref_cpu *pcpu,
					       struct psref *psref,
					       struct psref_class *class)
{
	if (unlikely(psref->psref_cpu != raw_smp_processor_id()))
		return true;
	if (psref_debug && unlikely(!psref_on_list(pcpu, psref))) {
		psref_misuse_not_held(psref, class);
		return false;
	}
	psref_unlink(pcpu, psref);
	if (unlikely(psref->psref_task != current))
		psref_misuse_task(psref, class);
	psref->psref_target = NULL;
	/*
	 * Not the target's state: it may already be freed.  Not after the
	 * shield is dropped either: from the unlink on, a drain may finish and
	 * the class be destroyed while we are preempted; the shield makes this
	 * an RCU read section, which psref_class_destroy() waits for.
	 */
	psref_wake_drainers(class);
	return false;
}

/* psref_release() outside the common case: full checks, IPL protection. */
static noinline void psref_release_slow(struct psref *psref,
					const struct psref_target *target,
					struct psref_class *class)
{
	struct psref_guard g;
	struct psref_cpu *pcpu;
	bool elsewhere;

	pcpu = psref_begin(class, target, &g, "psref_release");
	if (unlikely(!pcpu))
		return;
	elsewhere = psref_release_here(pcpu, psref, class);
	psref_unprotect(pcpu, &g);
	if (unlikely(elsewhere))
		psref_release_elsewhere(psref, class);
}

/**
 * psref_release() - drop a passive reference
 * @psref: the reference, as filled in by psref_acquire() or psref_copy()
 * @target: the target it references
 * @class: the target's class
 *
 * Unlinks @psref from this CPU's list and, if a drain is in progress in
 * @class, wakes the drainers.  @target is not dereferenced: it may be freed
 * as soon as the reference is gone.  Releasing on another CPU or in another
 * task than the acquire is reported; the reference is still dropped, except
 * on another CPU from softirq or hard-IRQ context or with IRQs disabled,
 * where it cannot be unlinked: it stays held (reported) until released on
 * its own CPU.
 *
 * Context: the CPU and task that acquired @psref, in a context @class's IPL
 * covers.  Does not sleep.
 */
void psref_release(struct psref *psref, const struct psref_target *target,
		   struct psref_class *class)
{
	enum psref_fast mode;
	struct psref_cpu *pcpu;
	bool elsewhere;

	if (unlikely(!class || psref->psref_target != target)) {
		psref_release_mismatch(psref, target, class);
		return;
	}
	mode = psref_fast_mode(class, target);
	if (unlikely(mode == PSREF_SLOW)) {
		psref_release_slow(psref, target, class);
		return;
	}
	if (mode == PSREF_FAST_PREEMPT)
		preempt_disable();
	pcpu = psref_busy(class);
	elsewhere = psref_release_here(pcpu, psref, class);
	psref_unbusy(pcpu);
	if (mode == PSREF_FAST_PREEMPT)
		preempt_enable();
	if (unlikely(elsewhere))
		psref_release_elsewhere(psref, class);
}
EXPORT_SYMBOL_KPRIM(psref_release);

/**
 * psref_copy() - duplicate a passive reference
 * @pto: storage for the new reference
 * @pfrom: a reference held by the caller on this CPU
 * @class: the class of @pfrom's target
 *
 * Makes @pto a second reference to @pfrom's target, released separately
 * with psref_release().  Works even while the target is draining, since
 * @pfrom keeps the drain from completing.
 *
 * Context: as psref_acquire(); the caller holds @pfrom on this CPU.
 */
void psref_copy(struct psref *pto, const struct psref *pfrom,
		struct psref_class *class)
{
	const struct psref_target *target = pfrom->psref_target;
	struct psref_guard g;
	struct psref_cpu *pcpu;

	pcpu = psref_begin(class, target, &g, "psref_copy");
	if (unlikely(!pcpu)) {
		pto->psref_target = NULL;
		return;
	}
	if (unlikely(pfrom->psref_cpu != raw_smp_processor_id() ||
		     (psref_debug && !psref_on_list(pcpu, pfrom)))) {
		psref_unprotect(pcpu, &g);
		pto->psref_target = NULL;
		KPRIM_MISUSE(&class->misuse,
			     "%s: class %s: source psref %p is not held on this CPU",
			     __func__, class->name, pfrom);
		return;
	}
	if (psref_debug && unlikely(psref_on_list(pcpu, pto))) {
		psref_unprotect(pcpu, &g);
		KPRIM_MISUSE(&class->misuse,
			     "%s: class %s: destination psref %p is already held",
			     __func__, class->name, pto);
		return;
	}
	pto->psref_target = target;
	pto->psref_task = current;
	pto->psref_ip = _RET_IP_;
	pto->psref_cpu = raw_smp_processor_id();
	psref_link(pcpu, pto);
	psref_unprotect(pcpu, &g);
}
EXPORT_SYMBOL_KPRIM(psref_copy);

/*
 * Does the current task hold a reference to @target on this CPU?  The
 * caller has checked the context.
 */
static bool psref_held_here(const struct psref_target *target,
			    struct psref_class *class)
{
	struct psref_guard g;
	struct psref_cpu *pcpu;
	struct psref *p;
	bool held = false;

	pcpu = psref_protect(class, &g);
	hlist_for_each_entry(p, &pcpu->head, psref_entry) {
		if (p->psref_target == target && p->psref_task == current) {
			held = true;
			break;
		}
	}
	psref_unprotect(pcpu, &g);
	return held;
}

/**
 * psref_held() - does the caller hold a passive reference to a target?
 * @target: the target
 * @class: its class
 *
 * For assertions, e.g. ``WARN_ON(!psref_held(&obj->target, class))``.
 *
 * Context: as psref_acquire().
 * Return: true if the current task holds a reference to @target on this CPU.
 */
bool psref_held(const struct psref_target *target, struct psref_class *class)
{
	if (unlikely(!psref_enter_ok(class, target, "psref_held")))
		return false;
	return psref_held_here(target, class);
}
EXPORT_SYMBOL_KPRIM(psref_held);

/* IPI on every CPU: does this CPU's list still name the target? */
static void psref_drain_check(void *arg)
{
	struct psref_drain *d = arg;
	struct psref_cpu *pcpu = this_cpu_ptr(d->class->pcpu);
	struct psref *p;

	hlist_for_each_entry(p, &pcpu->head, psref_entry) {
		if (p->psref_target != d->target)
			continue;
		atomic_inc(&d->nholders);
		if (!d->report)
			break;
		/* The holder is bound here and still running or sleeping. */
		pr_warn("  class %s: CPU %d holds target %p: psref %p, task pid %d, acquired at %pS\n",
			d->class->name, smp_processor_id(), d->target, p,
			task_pid_nr(p->psref_task), (void *)p->psref_ip);
	}
}

/*
 * Wait until no CPU holds @target, which the caller has marked DRAINING,
 * then mark it DRAINED.  Returns false (target marked ABANDONED, still
 * refusing references) if the caller itself holds a reference, which would
 * never drain.  DRAINING thus always means a drainer is at work.
 */
static bool psref_drain_wait(struct psref_target *target,
			     struct psref_class *class)
{
	struct psref_drain d = {
		.target = target,
		.class = class,
		.pid = task_pid_nr(current),
	};
	bool reported = false;
	u64 elapsed;

	if (psref_held_here(target, class)) {
		KPRIM_MISUSE(&class->misuse,
			     "%s: class %s: %s/%d drains target %p while holding a reference to it",
			     __func__, class->name, current->comm, current->pid, target);
		WRITE_ONCE(target->prt_state, PSREF_TARGET_ABANDONED);
		return false;
	}

	atomic_inc(&class->ndraining);
	d.start_ns = ktime_get_ns();
	spin_lock(&class->lock);
	list_add_tail(&d.link, &class->drains);
	spin_unlock(&class->lock);

	for (;;) {
		long seq = atomic_long_read(&class->release_seq);

		elapsed = ktime_get_ns() - d.start_ns;
		d.report = !reported &&
			elapsed >= (u64)READ_ONCE(psref_drain_warn_ms) * NSEC_PER_MSEC;
		if (d.report) {
			pr_warn("class %s: drain of target %p by pid %d waiting for %llu ms; holders:\n",
				class->name, target, d.pid,
				div_u64(elapsed, NSEC_PER_MSEC));
			reported = true;
		}
		atomic_set(&d.nholders, 0);
		on_each_cpu(psref_drain_check, &d, 1);
		if (!atomic_read(&d.nholders))
			break;
		wait_event_timeout(class->wq,
				   atomic_long_read(&class->release_seq) != seq,
				   HZ);
	}
	elapsed = ktime_get_ns() - d.start_ns;

	spin_lock(&class->lock);
	list_del(&d.link);
	class->drain_count++;
	if (elapsed > class->drain_max_ns)
		class->drain_max_ns = elapsed;
	spin_unlock(&class->lock);
	atomic_dec(&class->ndraining);
	WRITE_ONCE(target->prt_state, PSREF_TARGET_DRAINED);
	return true;
}

/* Class and target checks shared by drain and destroy. */
static bool psref_target_ok(struct psref_target *target,
			    struct psref_class *class, const char *fn)
{
	if (unlikely(!class))
		return !KPRIM_MISUSE(&psref_global_misuse, "%s: NULL class", fn);
	if (unlikely(!target || target->prt_class != class))
		return !KPRIM_MISUSE(&class->misuse,
				     "%s: target %p belongs to class %s, not %s",
				     fn, target,
				     psref_class_name(target ? target->prt_class : NULL),
				     class->name);
	return true;
}

/**
 * psref_target_init() - prepare a target for passive references
 * @target: the target, embedded in the caller's object
 * @class: the class its references belong to
 *
 * The caller publishes the object only afterwards, with release semantics
 * (rcu_assign_pointer(), list_add_rcu(), a lock, ...).
 *
 * Context: any context @class's IPL covers.
 */
void psref_target_init(struct psref_target *target, struct psref_class *class)
{
	if (unlikely(!class)) {
		KPRIM_MISUSE(&psref_global_misuse, "%s: NULL class", __func__);
		return;
	}
	if (unlikely(!target)) {
		KPRIM_MISUSE(&class->misuse, "%s: class %s: NULL target",
			     __func__, class->name);
		return;
	}
	target->prt_class = class;
	WRITE_ONCE(target->prt_state, PSREF_TARGET_LIVE);
	atomic_long_inc(&class->ntargets);
}
EXPORT_SYMBOL_KPRIM(psref_target_init);

/**
 * psref_target_drain() - refuse new references and wait for the old ones
 * @target: a live target of @class
 * @class: its class
 *
 * From the call on, psref_acquire() on @target fails with -ENOENT.  Then
 * broadcasts an IPI asking every CPU whether it still holds @target and
 * sleeps until none does.  Unpublish the object first (and make sure no
 * lookup can still find it, or that lookups tolerate -ENOENT).  The caller
 * must hold no reference to @target and no lock a holder may need; holding
 * a reference is detected and reported, and the drain is then abandoned.
 *
 * Context: process context, may sleep.
 */
void psref_target_drain(struct psref_target *target, struct psref_class *class)
{
	unsigned int old;

	might_sleep();
	if (unlikely(!psref_target_ok(target, class, "psref_target_drain")))
		return;
	old = cmpxchg(&target->prt_state, PSREF_TARGET_LIVE,
		      PSREF_TARGET_DRAINING);
	if (unlikely(old != PSREF_TARGET_LIVE)) {
		KPRIM_MISUSE(&class->misuse,
			     "%s: class %s: target %p is %s, not live",
			     __func__, class->name, target, psref_state_name(old));
		return;
	}
	psref_drain_wait(target, class);
}
EXPORT_SYMBOL_KPRIM(psref_target_drain);

/**
 * psref_target_destroy() - finish with a target
 * @target: a target of @class, normally drained with psref_target_drain()
 * @class: its class
 *
 * Drains @target first if that was not done (reported as a misuse when
 * psref_debug is set, since the caller should have unpublished and drained
 * the object), then marks it destroyed.  Afterwards the memory holding
 * @target may be freed, once no lookup can reach it any more.  Finishes a
 * drain abandoned by psref_target_drain(); destroying a target that another
 * task is draining right now is reported and refused (call it after that
 * drain returns).
 *
 * Context: process context, may sleep.
 */
void psref_target_destroy(struct psref_target *target, struct psref_class *class)
{
	unsigned int state;

	might_sleep();
	if (unlikely(!psref_target_ok(target, class, "psref_target_destroy")))
		return;
	state = READ_ONCE(target->prt_state);
	switch (state) {
	case PSREF_TARGET_LIVE:
		if (psref_debug)
			KPRIM_MISUSE(&class->misuse,
				     "%s: class %s: target %p was never drained",
				     __func__, class->name, target);
		if (cmpxchg(&target->prt_state, PSREF_TARGET_LIVE,
			    PSREF_TARGET_DRAINING) != PSREF_TARGET_LIVE) {
			KPRIM_MISUSE(&class->misuse,
				     "%s: class %s: target %p changed state under destroy",
				     __func__, class->name, target);
			return;
		}
		if (!psref_drain_wait(target, class))
			return;
		break;
	case PSREF_TARGET_ABANDONED:
		/* An earlier drain was abandoned: finish it. */
		if (cmpxchg(&target->prt_state, PSREF_TARGET_ABANDONED,
			    PSREF_TARGET_DRAINING) != PSREF_TARGET_ABANDONED) {
			KPRIM_MISUSE(&class->misuse,
				     "%s: class %s: target %p changed state under destroy",
				     __func__, class->name, target);
			return;
		}
		if (!psref_drain_wait(target, class))
			return;
		break;
	case PSREF_TARGET_DRAINING:
		/*
		 * Another task is draining it and will mark it drained when
		 * done: joining would let it write to @target after we return.
		 */
		KPRIM_MISUSE(&class->misuse,
			     "%s: class %s: target %p is being drained by another task",
			     __func__, class->name, target);
		return;
	case PSREF_TARGET_DRAINED:
		break;
	default:
		KPRIM_MISUSE(&class->misuse,
			     "%s: class %s: target %p is %s",
			     __func__, class->name, target, psref_state_name(state));
		return;
	}
	WRITE_ONCE(target->prt_state, PSREF_TARGET_DESTROYED);
	atomic_long_dec(&class->ntargets);
}
EXPORT_SYMBOL_KPRIM(psref_target_destroy);

/*
 * /sys/kernel/debug/kprim/psref/<class>.  Created "unsafe" (no debugfs
 * proxy) so that it has ->read_iter and in-kernel readers (the KUnit suite)
 * can use kernel_read(); the class is therefore only touched between
 * debugfs_file_get() and debugfs_file_put(), which psref_class_destroy()'s
 * debugfs_remove() waits for.
 */
static int psref_class_show(struct seq_file *m, void *v)
{
	struct dentry *dentry = m->file->f_path.dentry;
	struct psref_class *class = m->private;
	struct psref_drain *d;
	u64 now = ktime_get_ns();
	int cpu;

	if (debugfs_file_get(dentry))
		return -EIO;
	seq_printf(m, "class %s ipl %d\n", class->name, class->ipl);
	seq_printf(m, "targets %ld\n", atomic_long_read(&class->ntargets));
	seq_printf(m, "misuse %ld\n", atomic_long_read(&class->misuse));
	spin_lock(&class->lock);
	seq_printf(m, "drains %lu\nworst_drain_us %llu\n", class->drain_count,
		   div_u64(class->drain_max_ns, NSEC_PER_USEC));
	list_for_each_entry(d, &class->drains, link)
		seq_printf(m, "draining %p by pid %d for %llu ms\n", d->target,
			   d->pid, div_u64(now - d->start_ns, NSEC_PER_MSEC));
	spin_unlock(&class->lock);
	for_each_possible_cpu(cpu)
		seq_printf(m, "cpu%d held %lu\n", cpu,
			   READ_ONCE(per_cpu_ptr(class->pcpu, cpu)->nheld));
	debugfs_file_put(dentry);
	return 0;
}

static int psref_class_open(struct inode *inode, struct file *file)
{
	return single_open(file, psref_class_show, inode->i_private);
}

static const struct file_operations psref_class_fops = {
	.owner = THIS_MODULE,
	.open = psref_class_open,
	.read_iter = seq_read_iter,
	.llseek = seq_lseek,
	.release = single_release,
};

/**
 * psref_class_create() - create a class of passive reference targets
 * @name: name for reports and /sys/kernel/debug/kprim/psref/<name>
 *        (copied, truncated to 31 characters)
 * @ipl: the highest context that uses the class's references: IPL_NONE
 *       (process context), IPL_SOFT* (softirq), IPL_VM..IPL_HIGH (hard IRQ)
 *
 * Context: process context, may sleep.
 * Return: the class, or NULL if out of memory or @name/@ipl is invalid.
 */
struct psref_class *psref_class_create(const char *name, int ipl)
{
	struct psref_class *class;
	int cpu;

	might_sleep();
	if (unlikely(!name || !kprim_ipl_valid(ipl))) {
		KPRIM_MISUSE(&psref_global_misuse,
			     "%s: invalid name %p or ipl %d",
			     __func__, name, ipl);
		return NULL;
	}
	class = kzalloc(sizeof(*class), GFP_KERNEL);
	if (!class)
		return NULL;
	class->pcpu = kprim_alloc_percpu(struct psref_cpu);
	if (!class->pcpu) {
		kfree(class);
		return NULL;
	}
	for_each_possible_cpu(cpu)
		INIT_HLIST_HEAD(&per_cpu_ptr(class->pcpu, cpu)->head);
	class->ipl = ipl;
	atomic_set(&class->ndraining, 0);
	atomic_long_set(&class->release_seq, 0);
	init_waitqueue_head(&class->wq);
	atomic_long_set(&class->ntargets, 0);
	atomic_long_set(&class->misuse, 0);
	spin_lock_init(&class->lock);
	INIT_LIST_HEAD(&class->drains);
	strscpy(class->name, name, sizeof(class->name));
	if (psref_debugfs)
		class->dentry = debugfs_create_file_unsafe(class->name, 0444,
							   psref_debugfs, class,
							   &psref_class_fops);
	return class;
}
EXPORT_SYMBOL_KPRIM(psref_class_create);

/**
 * psref_class_destroy() - free a class
 * @class: a class whose targets have all been destroyed
 *
 * Refused (reported, nothing freed) while a target of @class is not
 * destroyed or a reference is held; the caller may fix that and retry.
 * Waits (synchronize_rcu()) for releases that the last drain no longer
 * saw but that have not returned yet.
 *
 * Context: process context, may sleep.
 */
void psref_class_destroy(struct psref_class *class)
{
	unsigned long held = 0;
	long ntargets;
	int cpu;

	might_sleep();
	if (unlikely(!class)) {
		KPRIM_MISUSE(&psref_global_misuse, "%s: NULL class", __func__);
		return;
	}
	ntargets = atomic_long_read(&class->ntargets);
	if (unlikely(ntargets)) {
		KPRIM_MISUSE(&class->misuse,
			     "%s: class %s still has %ld targets",
			     __func__, class->name, ntargets);
		return;
	}
	for_each_possible_cpu(cpu)
		held += READ_ONCE(per_cpu_ptr(class->pcpu, cpu)->nheld);
	if (unlikely(held)) {
		KPRIM_MISUSE(&class->misuse,
			     "%s: class %s: %lu references still held",
			     __func__, class->name, held);
		return;
	}
	/*
	 * A release whose entry the last drain no longer saw may still be
	 * about to wake drainers (psref_release()): wait for it.
	 */
	synchronize_rcu();
	debugfs_remove(class->dentry);
	free_percpu(class->pcpu);
	kfree(class);
}
EXPORT_SYMBOL_KPRIM(psref_class_destroy);

/**
 * psref_misuse_count() - number of misuse reports
 * @class: a class, or NULL for reports not charged to any class
 *
 * For tests and diagnostics: each misuse is reported once per call site
 * with a warning but counted every time.
 *
 * Context: any.
 * Return: the number of misuses counted so far.
 */
unsigned long psref_misuse_count(const struct psref_class *class)
{
	return atomic_long_read(class ? &class->misuse : &psref_global_misuse);
}
EXPORT_SYMBOL_KPRIM(psref_misuse_count);

static int psref_misuse_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%ld\n", atomic_long_read(&psref_global_misuse));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(psref_misuse);

int kprim_psref_setup(struct dentry *root)
{
	psref_debugfs = debugfs_create_dir("psref", root);
	debugfs_create_file("misuse", 0444, psref_debugfs, NULL,
			    &psref_misuse_fops);
	return 0;
}

void kprim_psref_teardown(void)
{
	debugfs_remove_recursive(psref_debugfs);
	psref_debugfs = NULL;
}
