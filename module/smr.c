// SPDX-License-Identifier: GPL-2.0
/*
 * smr: safe memory reclamation with XNU's API, on Linux.
 *
 * Theory of operation
 * ===================
 *
 * Clock.  Each domain has a write sequence (wr_seq) and a read sequence
 * (rd_seq).  Both start at SMR_SEQ_INIT (2) and move by SMR_SEQ_INC (4), so
 * a live sequence is never 0, which marks "not in a section".  They wrap
 * around; every comparison goes through SMR_SEQ_CMP(), a signed difference.
 * A writer that unpublished an object takes a goal, either smr_advance()
 * (wr_seq += INC, fully ordered) or smr_deferred_advance() (a full fence
 * and wr_seq + INC without writing, committed later with a cmpxchg so many
 * writers share one advance).  Once rd_seq >= goal, no reader can still
 * hold a reference obtained before the object was unpublished.
 *
 * Readers.  A domain has per-CPU state (struct smr_pcpu, alloc_percpu).  Its
 * first cache line holds one reader slot per context (task, softirq,
 * hardirq) so a softirq that interrupts a task's section on the same CPU
 * has its own slot and never clobbers the task's.  smr_enter() disables
 * preemption, loads wr_seq, stores it in the slot and issues a full fence
 * (smp_mb(), a locked instruction on x86) before the section's loads.
 * smr_leave() stores 0 with release ordering and enables preemption.  A
 * nested smr_enter() of the same domain in the same context is reported and
 * counted; the outer sequence stays published, which is the conservative
 * choice, and the matching smr_leave() calls unwind the depth.
 *
 * The common case is inline in <kprim/smr.h>: in task context (one
 * preempt-count test), with the domain initialized and this CPU's task slot
 * free (one per-CPU load, which is also the nesting check), smr_enter()
 * publishes the sequence without a call; smr_leave() clears a task slot of
 * depth 1 the same way.  The task slot is the first member of the per-CPU
 * state so the header needs no other layout.  Every other case (softirq,
 * hard IRQ, nesting, leave without enter, uninitialized domain) goes to
 * __smr_enter_slow()/__smr_leave_slow(), which report the misuse.
 *
 * Poll.  smr_poll(goal) returns true at once when goal <= rd_seq.
 * Otherwise it issues a full fence and computes the minimum over wr_seq and
 * every published slot and sleepable tracker; it then raises rd_seq to that
 * minimum with a cmpxchg loop.  The fence pairs with the reader's: either
 * poll sees the reader's slot, or the reader's loads see the unpublishing
 * store that preceded the goal.  A slot holding a value older than rd_seq
 * comes from a reader that loaded wr_seq, was delayed, and published late
 * (the stale-enter race); the poll that raised rd_seq did not see the slot,
 * so the reader's loads are ordered after that poll's goals, and its value
 * is clamped up to rd_seq.  A goal equal to wr_seq + INC is a deferred goal
 * that nobody committed yet: smr_poll() reports it not reached, smr_wait()
 * commits it.  smr_poll() is O(ncpu), takes no sleeping lock and may be
 * called with preemption or interrupts disabled.
 *
 * Sleepable sections.  XNU marks sleepable sections "stalled" from the
 * scheduler; a module has no such hook.  A sleepable section is a tracker
 * (owned by the caller) put on a per-CPU, per-domain list under a
 * spinlock, holding the sequence observed at entry; poll scans those lists
 * (lock-free emptiness test first).  The tracker records its CPU so
 * smr_leave_sleepable() removes it from the right list even after the task
 * migrated.  Cost is a spinlock round trip per section, acceptable for the
 * slow kind of section.
 *
 * Callbacks.  smr_call() appends the node to this CPU's "current" queue,
 * accounting count and size (saturating; SMR_CALL_EXPEDITE forces the
 * limit), with nothing shared between CPUs on that path: the queued count
 * is per CPU and the misuse check reads this CPU's slot (the sleepable
 * trackers are scanned only while a sleepable section exists).  Above
 * 128 callbacks or 256 KiB the queue is sealed right away: it gets a
 * deferred-advance goal and joins the "wait" queue (a later goal covers
 * both), and the per-CPU work item is kicked unless a kick is already
 * pending (the "kicked" flag, cleared when the worker starts; the worker
 * seals everything current when it runs).  Below the limits the
 * work item is armed with a SMR_CALL_DELAY_MS timer: this is the forward
 * progress guarantee XNU lacks (XNU relies on scheduler ticks).  The worker
 * seals whatever is current, promotes "wait" to "old" when "old" is empty,
 * commits old's goal, polls it, and runs old's callbacks in order when it
 * is met, or re-arms itself for the next jiffy.  Per-CPU queues are FIFO
 * through all three stages.
 *
 * Barrier.  smr_barrier() pushes a per-CPU barrier node (embedded in
 * smr_pcpu) through the queue of every online CPU that has callbacks
 * queued or a batch running (the worker sets "running" under the queue
 * lock while it runs a detached batch) with an expedited size, and waits
 * for all of them.  Like rcu_barrier() it skips the other CPUs, which
 * then wake nobody; if it skipped any, it waits for a goal itself so it
 * still waits for readers.  Finally it waits for worker runs still in
 * flight ("running" set: flush_work) so callbacks of a CPU that went
 * offline meanwhile are finished too.
 *
 * CPU hotplug.  A CPUHP_BP_PREPARE_DYN teardown callback runs after a CPU
 * died: it moves the dead CPU's three queues, in order, to the "wait" queue
 * of an online CPU with a fresh goal (later than any goal they had, so
 * nothing runs early) and kicks that CPU's worker.
 *
 * Misuse (nesting, leave without enter, synchronize/barrier/call inside a
 * section of the same domain, enter from hard IRQ, use before init) is
 * reported with KPRIM_MISUSE() and handled so that nothing hangs and no
 * state is corrupted.  Lockdep sees task-context sections of a domain as
 * recursive read acquisitions of the domain's lockdep map and
 * smr_synchronize()/smr_barrier() as a lock_map_sync() on it.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": smr: " fmt

#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/hardirq.h>
#include <linux/jiffies.h>
#include <linux/overflow.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/workqueue.h>
#include <kprim/smr.h>

#include "kprim_internal.h"

/* Queue pressure limits, as in XNU. */
#define SMR_CALL_CNT_MAX	128
#define SMR_CALL_SIZE_MAX	(256UL << 10)
/* Below the limits, a queue is processed within this delay (plus a GP). */
#define SMR_CALL_DELAY_MS	50

enum smr_ctx {
	SMR_CTX_TASK,
	SMR_CTX_SOFTIRQ,
	SMR_CTX_HARDIRQ,
	SMR_CTX_NR,
};

/* A FIFO of callback nodes with its goal, pressure and age. */
struct smr_cbq {
	struct smr_node *head;
	struct smr_node **tail;
	unsigned long cnt;
	size_t size;
	smr_seq_t seq;
	unsigned long stamp;
};

struct smr_pcpu {
	/*
	 * Written only by this CPU's readers; read by pollers.  First, task
	 * slot first: the inline smr_enter()/smr_leave() of <kprim/smr.h>
	 * find the task slot at the start of the per-CPU state.
	 */
	struct smr_slot slot[SMR_CTX_NR];

	/* Callback queues, under @lock (irq-safe). */
	spinlock_t lock ____cacheline_aligned_in_smp;
	struct smr_cbq cur;
	struct smr_cbq wait;
	struct smr_cbq old;
	struct delayed_work work;
	struct smr_node barrier_node;
	struct smr *smr;
	int cpu;
	bool running;		/* the worker is running callbacks */
	bool kicked;		/* the worker is queued to run at once */
	unsigned long cb_queued;	/* callbacks passed to smr_call() */

	/* Active sleepable sections that entered on this CPU. */
	spinlock_t trk_lock ____cacheline_aligned_in_smp;
	struct list_head trackers;
};

static_assert(SMR_CTX_TASK == 0 && offsetof(struct smr_pcpu, slot) == 0);

static DEFINE_MUTEX(smr_domains_lock);
static LIST_HEAD(smr_domains);
static struct workqueue_struct *smr_wq;
static struct dentry *smr_debugfs_dir;
static int smr_cpuhp_state = -1;
static atomic_long_t smr_global_misuse = ATOMIC_LONG_INIT(0);
static unsigned long smr_debugfs_id;

struct smr smr_system = __SMR_INITIALIZER("smr_system", SMR_NONE);
EXPORT_SYMBOL_KPRIM(smr_system);
struct smr smr_system_sleepable =
	__SMR_INITIALIZER("smr_system_sleepable", SMR_SLEEPABLE);
EXPORT_SYMBOL_KPRIM(smr_system_sleepable);

#ifdef CONFIG_DEBUG_LOCK_ALLOC
#define smr_dep_sync(smr)	lock_map_sync(&(smr)->smr_dep_map)
#else
#define smr_dep_sync(smr)	((void)(smr))
#endif

/* Report a misuse of @smr from the calling API function. */
#define SMR_MISUSE(smr, fmt, ...)					\
	({								\
		smr_t __smr = (smr);					\
		KPRIM_MISUSE(&__smr->smr_misuse, "%s(%s)" fmt, __func__, \
			     __smr->smr_name, ##__VA_ARGS__);		\
	})

static void smr_worker(struct work_struct *work);
static void smr_barrier_cb(struct smr_node *node);

static __always_inline enum smr_ctx smr_ctx(void)
{
	unsigned int count = preempt_count();

	if (count & (NMI_MASK | HARDIRQ_MASK))
		return SMR_CTX_HARDIRQ;
	if (count & SOFTIRQ_OFFSET)
		return SMR_CTX_SOFTIRQ;
	return SMR_CTX_TASK;
}

static inline smr_seq_t smr_wr(smr_t smr)
{
	return (smr_seq_t)atomic_long_read(&smr->smr_clock.s_wr_seq);
}

static inline smr_seq_t smr_rd(smr_t smr)
{
	return (smr_seq_t)atomic_long_read_acquire(&smr->smr_clock.s_rd_seq);
}

/**
 * smr_misuse_count() - number of misuse reports
 * @smr: a domain, or NULL for reports not tied to a domain (accessor
 *       assertions and SMR queue linkage corruption)
 *
 * Context: any.
 * Return: the number of misuse reports so far.
 */
unsigned long smr_misuse_count(smr_t smr)
{
	return atomic_long_read(smr ? &smr->smr_misuse : &smr_global_misuse);
}
EXPORT_SYMBOL_KPRIM(smr_misuse_count);

/**
 * __smr_cb_queued() - number of callbacks passed to smr_call()
 * @smr: the domain
 *
 * The sum of per-CPU counters, for debugfs and the tests; callbacks
 * dropped because the domain was not initialized are not counted.
 *
 * Context: any.
 * Return: the number of callbacks queued so far.
 */
unsigned long __smr_cb_queued(smr_t smr)
{
	struct smr_pcpu __percpu *pcpu = READ_ONCE(smr->smr_pcpu);
	unsigned long queued = 0;
	int cpu;

	if (!pcpu)
		return 0;
	for_each_possible_cpu(cpu)
		queued += READ_ONCE(per_cpu_ptr(pcpu, cpu)->cb_queued);
	return queued;
}
EXPORT_SYMBOL_KPRIM(__smr_cb_queued);

/**
 * __smr_assert_failed() - report a failed SMR accessor or iterator check
 * @what: the check that failed
 *
 * Called by the <kprim/smr.h> macros; counted by smr_misuse_count(NULL).
 *
 * Context: any.
 */
void __smr_assert_failed(const char *what)
{
	KPRIM_MISUSE(&smr_global_misuse, "%s", what);
}
EXPORT_SYMBOL_KPRIM(__smr_assert_failed);

/**
 * __smr_linkage_invalid() - report a corrupt SMR queue linkage
 * @link: the link found inconsistent
 *
 * Called by the <kprim/smr.h> queue macros, which then skip the write.
 *
 * Context: any.
 */
void __smr_linkage_invalid(const void *link)
{
	KPRIM_MISUSE(&smr_global_misuse, "smr queue: invalid linkage at %p", link);
}
EXPORT_SYMBOL_KPRIM(__smr_linkage_invalid);

/* ---------------------------------------------------------------------- */
/* Clock                                                                  */
/* ---------------------------------------------------------------------- */

/**
 * smr_advance() - advance the write sequence
 * @smr: the domain
 *
 * Everything the caller stored before this call is visible to every reader
 * once the read sequence reaches the returned goal.
 *
 * Context: any.
 * Return: the goal to pass to smr_poll() or smr_wait().
 */
smr_seq_t smr_advance(smr_t smr)
{
	atomic_long_inc(&smr->smr_advances);
	return (smr_seq_t)atomic_long_add_return(SMR_SEQ_INC,
						 &smr->smr_clock.s_wr_seq);
}
EXPORT_SYMBOL_KPRIM(smr_advance);

/**
 * smr_deferred_advance() - take a goal without advancing the clock
 * @smr: the domain
 *
 * Same guarantee as smr_advance(), but the write sequence is not written:
 * the goal must be committed with smr_deferred_advance_commit() (or waited
 * for with smr_wait(), or overtaken by an smr_advance()) to be reached.
 *
 * Context: any.
 * Return: the goal.
 */
smr_seq_t smr_deferred_advance(smr_t smr)
{
	smp_mb();	/* Order the caller's stores before the goal. */
	return smr_wr(smr) + SMR_SEQ_INC;
}
EXPORT_SYMBOL_KPRIM(smr_deferred_advance);

/**
 * smr_deferred_advance_commit() - commit a goal of smr_deferred_advance()
 * @smr: the domain
 * @seq: the goal
 *
 * Advances the write sequence to @seq unless another writer already did.
 *
 * Context: any.
 */
void smr_deferred_advance_commit(smr_t smr, smr_seq_t seq)
{
	long old = (long)(seq - SMR_SEQ_INC);

	if (atomic_long_try_cmpxchg(&smr->smr_clock.s_wr_seq, &old, (long)seq))
		atomic_long_inc(&smr->smr_advances);
}
EXPORT_SYMBOL_KPRIM(smr_deferred_advance_commit);

/* Minimum sequence of the sleepable sections, starting from @min. */
static smr_seq_t smr_scan_trackers(smr_t smr, struct smr_pcpu *pc,
				   smr_seq_t rd, smr_seq_t min)
{
	struct smr_tracker *t;
	unsigned long flags;

	if (list_empty(&pc->trackers))
		return min;
	spin_lock_irqsave(&pc->trk_lock, flags);
	list_for_each_entry(t, &pc->trackers, smrt_link) {
		smr_seq_t seq = t->smrt_seq;

		if (SMR_SEQ_CMP(seq, <, rd))
			seq = rd;
		if (SMR_SEQ_CMP(seq, <, min))
			min = seq;
	}
	spin_unlock_irqrestore(&pc->trk_lock, flags);
	return min;
}

static bool __smr_poll(smr_t smr, struct smr_pcpu __percpu *pcpu,
		       smr_seq_t goal, bool wait)
{
	smr_seq_t rd, wr, min;
	long old;
	int cpu, i;

	rd = smr_rd(smr);
	if (SMR_SEQ_CMP(goal, <=, rd))
		return true;

	wr = smr_wr(smr);
	if (goal == wr + SMR_SEQ_INC) {
		if (!wait)
			return false;
		smr_deferred_advance_commit(smr, goal);
		wr = smr_wr(smr);
	} else if (SMR_SEQ_CMP(goal, >, wr)) {
		SMR_MISUSE(smr, ": goal %lu beyond write sequence %lu", goal, wr);
		return true;
	}

	/* Pairs with the fence of smr_enter()/smr_enter_sleepable(). */
	smp_mb();

	min = wr;
	for_each_possible_cpu(cpu) {
		struct smr_pcpu *pc = per_cpu_ptr(pcpu, cpu);

		for (i = 0; i < SMR_CTX_NR; i++) {
			smr_seq_t seq;

			for (;;) {
				seq = READ_ONCE(pc->slot[i].seq);
				if (seq == SMR_SEQ_INVALID)
					break;
				if (SMR_SEQ_CMP(seq, <, rd))
					seq = rd;
				if (!wait || SMR_SEQ_CMP(seq, >=, goal))
					break;
				/* Non-sleepable sections are short: spin. */
				cpu_relax();
			}
			if (seq != SMR_SEQ_INVALID && SMR_SEQ_CMP(seq, <, min))
				min = seq;
		}
		min = smr_scan_trackers(smr, pc, rd, min);
	}

	/* Order the scan before the caller's frees. */
	smp_mb();

	old = atomic_long_read(&smr->smr_clock.s_rd_seq);
	do {
		if (SMR_SEQ_CMP(min, <=, (smr_seq_t)old))
			break;
	} while (!atomic_long_try_cmpxchg(&smr->smr_clock.s_rd_seq, &old,
					  (long)min));

	return SMR_SEQ_CMP(goal, <=, min);
}

/**
 * smr_poll() - whether every reader has observed a goal
 * @smr: the domain
 * @goal: a value returned by smr_advance() or smr_deferred_advance()
 *
 * A deferred goal that nobody committed yet is reported not reached.
 * Worst-case cost is O(ncpu).
 *
 * Context: any, including preemption or interrupts disabled.
 * Return: true when objects retired before @goal may be freed.
 */
bool smr_poll(smr_t smr, smr_seq_t goal)
{
	struct smr_pcpu __percpu *pcpu = READ_ONCE(smr->smr_pcpu);

	if (!pcpu) {
		SMR_MISUSE(smr, ": domain not initialized");
		return false;
	}
	return __smr_poll(smr, pcpu, goal, false);
}
EXPORT_SYMBOL_KPRIM(smr_poll);

static void __smr_wait(smr_t smr, struct smr_pcpu __percpu *pcpu, smr_seq_t goal)
{
	unsigned int tries = 0;

	while (!__smr_poll(smr, pcpu, goal, true)) {
		/* Only sleepable sections get here: back off. */
		if (preemptible() && ++tries > 8)
			schedule_timeout_uninterruptible(1);
		else
			cpu_relax();
	}
}

/**
 * smr_wait() - wait until every reader has observed a goal
 * @smr: the domain
 * @goal: a value returned by smr_advance() or smr_deferred_advance()
 *
 * Spins on non-sleepable sections; sleeps between polls for sleepable ones
 * when preemptible.  Waiting from inside a section of @smr would never end:
 * it is reported and returns at once.
 *
 * Context: any; may sleep when preemptible and a sleepable section blocks
 * the goal.
 */
void smr_wait(smr_t smr, smr_seq_t goal)
{
	struct smr_pcpu __percpu *pcpu = READ_ONCE(smr->smr_pcpu);

	if (!pcpu) {
		SMR_MISUSE(smr, ": domain not initialized");
		return;
	}
	if (smr_entered(smr)) {
		SMR_MISUSE(smr, " inside a section");
		return;
	}
	__smr_wait(smr, pcpu, goal);
}
EXPORT_SYMBOL_KPRIM(smr_wait);

/* ---------------------------------------------------------------------- */
/* Readers                                                                */
/* ---------------------------------------------------------------------- */

static bool smr_tracker_held(smr_t smr, struct smr_pcpu __percpu *pcpu)
{
	struct smr_tracker *t;
	unsigned long flags;
	bool found = false;
	int cpu;

	if (!atomic_long_read(&smr->smr_nsleepers))
		return false;
	for_each_possible_cpu(cpu) {
		struct smr_pcpu *pc = per_cpu_ptr(pcpu, cpu);

		spin_lock_irqsave(&pc->trk_lock, flags);
		list_for_each_entry(t, &pc->trackers, smrt_link) {
			if (t->smrt_task == current) {
				found = true;
				break;
			}
		}
		spin_unlock_irqrestore(&pc->trk_lock, flags);
		if (found)
			break;
	}
	return found;
}

/**
 * smr_entered() - whether the caller is inside a section of a domain
 * @smr: the domain
 *
 * True inside smr_enter()/smr_leave() in the caller's context (task,
 * softirq or hard IRQ) on this CPU, or inside a sleepable section of the
 * current task.  Meant for assertions.
 *
 * Context: any.
 * Return: whether @smr is entered.
 */
bool smr_entered(smr_t smr)
{
	struct smr_pcpu __percpu *pcpu = READ_ONCE(smr->smr_pcpu);

	if (!pcpu)
		return false;
	if (!preemptible() &&
	    READ_ONCE(raw_cpu_ptr(pcpu)->slot[smr_ctx()].depth))
		return true;
	if (in_task())
		return smr_tracker_held(smr, pcpu);
	return false;
}
EXPORT_SYMBOL_KPRIM(smr_entered);

/**
 * __smr_enter_slow() - smr_enter() outside its inline fast path
 * @smr: the domain
 *
 * Called by smr_enter() with preemption already disabled when the domain
 * is not initialized, outside task context, or when this CPU's task slot
 * is in use (nesting).  Reports the misuse cases.
 *
 * Context: task or softirq context, preemption disabled by smr_enter().
 */
void __smr_enter_slow(smr_t smr)
{
	struct smr_pcpu __percpu *pcpu;
	struct smr_slot *slot;
	enum smr_ctx ctx;

	pcpu = READ_ONCE(smr->smr_pcpu);
	if (unlikely(!pcpu)) {
		/* A preemption-disabled section is still an RCU section. */
		SMR_MISUSE(smr, ": domain not initialized");
		return;
	}
	ctx = smr_ctx();
	if (unlikely(ctx == SMR_CTX_HARDIRQ))
		SMR_MISUSE(smr, " from hard IRQ context");
	slot = this_cpu_ptr(&pcpu->slot[ctx]);
	if (unlikely(slot->depth++)) {
		SMR_MISUSE(smr, ": nested section");
		return;
	}
	WRITE_ONCE(slot->seq, smr_wr(smr));
	/* Publish the slot before the section's loads; pairs with poll. */
	smp_mb();
	if (ctx == SMR_CTX_TASK)
		__smr_dep_acquire(smr);
}
EXPORT_SYMBOL_KPRIM(__smr_enter_slow);

/**
 * __smr_leave_slow() - smr_leave() outside its inline fast path
 * @smr: the domain
 *
 * Called by smr_leave() for an uninitialized domain, outside task
 * context, for a nested section, or when no section is entered (reported
 * and ignored).
 *
 * Context: the context that called smr_enter().
 */
void __smr_leave_slow(smr_t smr)
{
	struct smr_pcpu __percpu *pcpu = READ_ONCE(smr->smr_pcpu);
	struct smr_slot *slot;
	enum smr_ctx ctx;

	if (unlikely(preemptible())) {
		SMR_MISUSE(smr, " without smr_enter");
		return;
	}
	if (unlikely(!pcpu)) {
		preempt_enable();
		return;
	}
	ctx = smr_ctx();
	slot = raw_cpu_ptr(&pcpu->slot[ctx]);
	if (unlikely(!slot->depth)) {
		SMR_MISUSE(smr, " without smr_enter");
		return;
	}
	if (--slot->depth == 0) {
		if (ctx == SMR_CTX_TASK)
			__smr_dep_release(smr);
		/* The section's loads complete before the slot clears. */
		smp_store_release(&slot->seq, SMR_SEQ_INVALID);
	}
	preempt_enable();
}
EXPORT_SYMBOL_KPRIM(__smr_leave_slow);

/**
 * smr_enter_sleepable() - enter a sleepable read section
 * @smr: a domain created with %SMR_SLEEPABLE
 * @tracker: caller-owned state for this section, passed to the matching
 *           smr_leave_sleepable()
 *
 * The section may sleep (take a mutex, allocate with GFP_KERNEL) but must
 * not wait for unbounded events: it holds back reclamation of the whole
 * domain.  Using it on a non-sleepable domain is a reported misuse (the
 * section still works).
 *
 * Context: process context, may sleep.
 */
void smr_enter_sleepable(smr_t smr, smr_tracker_t tracker)
{
	struct smr_pcpu __percpu *pcpu = READ_ONCE(smr->smr_pcpu);
	struct smr_pcpu *pc;
	unsigned long flags;
	int cpu;

	might_sleep();
	tracker->smrt_domain = NULL;
	tracker->smrt_task = NULL;
	if (!pcpu) {
		SMR_MISUSE(smr, ": domain not initialized");
		/* Untracked (no CPU); the matching leave is not reported again. */
		tracker->smrt_domain = smr;
		tracker->smrt_task = current;
		tracker->smrt_cpu = -1;
		return;
	}
	if (!(smr->smr_flags & SMR_SLEEPABLE))
		SMR_MISUSE(smr, ": domain is not sleepable");

	atomic_long_inc(&smr->smr_nsleepers);
	cpu = get_cpu();
	pc = per_cpu_ptr(pcpu, cpu);
	tracker->smrt_domain = smr;
	tracker->smrt_task = current;
	tracker->smrt_cpu = cpu;
	spin_lock_irqsave(&pc->trk_lock, flags);
	tracker->smrt_seq = smr_wr(smr);
	list_add_tail(&tracker->smrt_link, &pc->trackers);
	spin_unlock_irqrestore(&pc->trk_lock, flags);
	put_cpu();
	/* Publish the tracker before the section's loads; pairs with poll. */
	smp_mb();
	__smr_dep_acquire(smr);
}
EXPORT_SYMBOL_KPRIM(smr_enter_sleepable);

/**
 * smr_leave_sleepable() - leave a section entered with smr_enter_sleepable()
 * @smr: the domain
 * @tracker: the tracker passed to smr_enter_sleepable()
 *
 * A tracker that is not in a section of @smr owned by the current task is
 * reported and ignored.
 *
 * Context: the task that entered the section.
 */
void smr_leave_sleepable(smr_t smr, smr_tracker_t tracker)
{
	struct smr_pcpu __percpu *pcpu = READ_ONCE(smr->smr_pcpu);
	struct smr_pcpu *pc;
	unsigned long flags;

	if (tracker->smrt_domain != smr || tracker->smrt_task != current) {
		SMR_MISUSE(smr, " without smr_enter_sleepable");
		return;
	}
	/* Entered before smr_domain_init() (reported then), never tracked. */
	if (tracker->smrt_cpu < 0) {
		tracker->smrt_domain = NULL;
		tracker->smrt_task = NULL;
		return;
	}
	if (WARN_ON_ONCE(!pcpu))
		return;
	__smr_dep_release(smr);
	/* The section's loads complete before the tracker disappears. */
	smp_mb();
	pc = per_cpu_ptr(pcpu, tracker->smrt_cpu);
	spin_lock_irqsave(&pc->trk_lock, flags);
	list_del_init(&tracker->smrt_link);
	spin_unlock_irqrestore(&pc->trk_lock, flags);
	tracker->smrt_domain = NULL;
	tracker->smrt_task = NULL;
	atomic_long_dec(&smr->smr_nsleepers);
}
EXPORT_SYMBOL_KPRIM(smr_leave_sleepable);

/* ---------------------------------------------------------------------- */
/* Writers                                                                */
/* ---------------------------------------------------------------------- */

static bool smr_in_own_worker(smr_t smr)
{
	struct work_struct *w = current_work();

	return w && w->func == smr_worker &&
	       container_of(to_delayed_work(w), struct smr_pcpu, work)->smr == smr;
}

/**
 * smr_synchronize() - wait until every reader has observed prior updates
 * @smr: the domain
 *
 * Expensive; prefer smr_call().  Calling it inside a section of @smr is a
 * reported misuse and returns at once (it could never complete).
 *
 * Context: process context, may sleep; no section of @smr entered.
 */
void smr_synchronize(smr_t smr)
{
	struct smr_pcpu __percpu *pcpu = READ_ONCE(smr->smr_pcpu);

	/* Report (and do not sleep) inside a section, before might_sleep(). */
	if (pcpu && smr_entered(smr)) {
		SMR_MISUSE(smr, " inside a section");
		return;
	}
	might_sleep();
	if (!pcpu) {
		SMR_MISUSE(smr, ": domain not initialized");
		/* Sections of an uninitialized domain are RCU sections. */
		synchronize_rcu();
		return;
	}
	smr_dep_sync(smr);
	atomic_long_inc(&smr->smr_syncs);
	__smr_wait(smr, pcpu, smr_deferred_advance(smr));
}
EXPORT_SYMBOL_KPRIM(smr_synchronize);

/* Seal the current queue: give it a goal and move it to "wait". */
static void smr_cbq_seal(smr_t smr, struct smr_pcpu *pc)
	__must_hold(&pc->lock)
{
	lockdep_assert_held(&pc->lock);
	if (!pc->cur.cnt)
		return;
	if (!pc->wait.cnt) {
		pc->wait.head = pc->cur.head;
		pc->wait.stamp = pc->cur.stamp;
	} else {
		*pc->wait.tail = pc->cur.head;
	}
	pc->wait.tail = pc->cur.tail;
	pc->wait.cnt += pc->cur.cnt;
	pc->wait.size = size_add(pc->wait.size, pc->cur.size);
	pc->wait.seq = smr_deferred_advance(smr);
	pc->cur.head = NULL;
	pc->cur.tail = &pc->cur.head;
	pc->cur.cnt = 0;
	pc->cur.size = 0;
}

static void smr_cbq_reset(struct smr_cbq *q)
{
	q->head = NULL;
	q->tail = &q->head;
	q->cnt = 0;
	q->size = 0;
	q->seq = SMR_SEQ_INVALID;
}

static void smr_worker(struct work_struct *work)
{
	struct smr_pcpu *pc = container_of(to_delayed_work(work),
					   struct smr_pcpu, work);
	smr_t smr = pc->smr;
	struct smr_node *node, *next;
	unsigned long ran = 0;
	bool have_old, more;
	smr_seq_t goal;

	spin_lock_irq(&pc->lock);
	/* From here on, a new kick must queue the work again. */
	pc->kicked = false;
	smr_cbq_seal(smr, pc);
	if (!pc->old.cnt && pc->wait.cnt) {
		pc->old = pc->wait;
		if (pc->old.tail == &pc->wait.head)
			pc->old.tail = &pc->old.head;
		smr_cbq_reset(&pc->wait);
	}
	have_old = pc->old.cnt != 0;
	goal = pc->old.seq;
	spin_unlock_irq(&pc->lock);

	if (!have_old)
		return;

	smr_deferred_advance_commit(smr, goal);
	if (!__smr_poll(smr, smr->smr_pcpu, goal, false)) {
		queue_delayed_work_on(pc->cpu, smr_wq, &pc->work, 1);
		return;
	}

	spin_lock_irq(&pc->lock);
	node = pc->old.head;
	smr_cbq_reset(&pc->old);
	more = pc->wait.cnt || pc->cur.cnt;
	/* smr_barrier() does not skip this CPU until the batch has run. */
	pc->running = true;
	spin_unlock_irq(&pc->lock);

	for (; node; node = next) {
		next = node->smrn_next;
		/* Barrier nodes are internal: not counted as callbacks. */
		if (node->smrn_cb != smr_barrier_cb)
			ran++;
		node->smrn_cb(node);
		if (!(ran & 63))
			cond_resched();
	}
	atomic_long_add(ran, &smr->smr_cb_run);
	spin_lock_irq(&pc->lock);
	pc->running = false;
	spin_unlock_irq(&pc->lock);

	/* A kick since the start already queued the next run. */
	if (more && !READ_ONCE(pc->kicked))
		mod_delayed_work_on(pc->cpu, smr_wq, &pc->work, 1);
}

/**
 * smr_call() - call @cb once every reader has observed prior updates
 * @smr: the domain
 * @node: node embedded in the object to reclaim, owned by SMR until @cb
 * @size: rough number of bytes @cb will free (%SMR_CALL_EXPEDITE: now)
 * @cb: the callback, run from a workqueue (process context)
 *
 * Callbacks queued on one CPU run in order.  Unlike XNU, progress is
 * guaranteed: a callback runs within about SMR_CALL_DELAY_MS (50 ms) plus
 * one grace period even on an idle system.  Calling it inside a section of
 * @smr is a reported misuse (the callback is still queued safely).
 *
 * Context: any except NMI.
 */
void smr_call(smr_t smr, smr_node_t node, size_t size, smr_cb_t cb)
{
	struct smr_pcpu __percpu *pcpu = READ_ONCE(smr->smr_pcpu);
	struct smr_pcpu *pc;
	unsigned long flags;
	bool kick, entered;

	if (unlikely(!pcpu)) {
		SMR_MISUSE(smr, ": domain not initialized, callback dropped");
		return;
	}
	if (unlikely(!node || !cb)) {
		SMR_MISUSE(smr, ": NULL node or callback");
		return;
	}

	node->smrn_next = NULL;
	node->smrn_cb = cb;

	local_irq_save(flags);
	pc = this_cpu_ptr(pcpu);
	/*
	 * Misuse check, as smr_entered() but inline: with interrupts off, a
	 * busy slot of the current context on this CPU is the caller's.
	 */
	entered = pc->slot[smr_ctx()].depth != 0;
	spin_lock(&pc->lock);
	pc->cb_queued++;
	if (!pc->cur.cnt)
		pc->cur.stamp = jiffies;
	*pc->cur.tail = node;
	pc->cur.tail = &node->smrn_next;
	pc->cur.cnt++;
	pc->cur.size = size_add(pc->cur.size, size);
	kick = pc->cur.cnt > SMR_CALL_CNT_MAX || pc->cur.size > SMR_CALL_SIZE_MAX;
	if (kick) {
		smr_cbq_seal(smr, pc);
		/*
		 * The worker seals "current" when it starts: while a kick is
		 * pending, later batches need no mod_delayed_work_on().
		 */
		kick = !pc->kicked;
		pc->kicked = true;
	}
	spin_unlock(&pc->lock);
	if (kick)
		mod_delayed_work_on(pc->cpu, smr_wq, &pc->work, 0);
	else if (!pc->kicked && !delayed_work_pending(&pc->work))
		queue_delayed_work_on(pc->cpu, smr_wq, &pc->work,
				      msecs_to_jiffies(SMR_CALL_DELAY_MS));
	local_irq_restore(flags);

	/* Sleepable sections: scanned only while some exist. */
	if (unlikely(entered ||
		     (in_task() && atomic_long_read(&smr->smr_nsleepers) &&
		      smr_tracker_held(smr, pcpu))))
		SMR_MISUSE(smr, " inside a section");
}
EXPORT_SYMBOL_KPRIM(smr_call);

static void smr_barrier_cb(struct smr_node *node)
{
	struct smr_pcpu *pc = container_of(node, struct smr_pcpu, barrier_node);
	smr_t smr = pc->smr;

	if (atomic_dec_and_test(&smr->smr_barrier_pending))
		complete(&smr->smr_barrier_done);
}

/**
 * smr_barrier() - wait for readers and for all callbacks queued before it
 * @smr: the domain
 *
 * Waits until every callback passed to smr_call() on any CPU before this
 * call has returned; after it a consumer module may unload.  Calling it
 * inside a section of @smr or from one of @smr's callbacks is a reported
 * misuse and returns at once.
 *
 * Context: process context, may sleep; no section of @smr entered.
 */
void smr_barrier(smr_t smr)
{
	struct smr_pcpu __percpu *pcpu = READ_ONCE(smr->smr_pcpu);
	bool skipped = false, queued = false;
	int cpu;

	if (pcpu && (smr_entered(smr) || smr_in_own_worker(smr))) {
		SMR_MISUSE(smr, " inside a section or callback");
		return;
	}
	might_sleep();
	if (!pcpu) {
		SMR_MISUSE(smr, ": domain not initialized");
		synchronize_rcu();
		return;
	}
	smr_dep_sync(smr);
	atomic_long_inc(&smr->smr_barriers);

	mutex_lock(&smr->smr_barrier_lock);
	reinit_completion(&smr->smr_barrier_done);
	atomic_set(&smr->smr_barrier_pending, 1);
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		struct smr_pcpu *pc = per_cpu_ptr(pcpu, cpu);

		spin_lock_irq(&pc->lock);
		/*
		 * As rcu_barrier(), skip a CPU with nothing queued and no
		 * batch running: every callback queued there before this
		 * point has returned.
		 */
		if (!pc->cur.cnt && !pc->wait.cnt && !pc->old.cnt &&
		    !pc->running) {
			spin_unlock_irq(&pc->lock);
			skipped = true;
			continue;
		}
		atomic_inc(&smr->smr_barrier_pending);
		queued = true;
		pc->barrier_node.smrn_next = NULL;
		pc->barrier_node.smrn_cb = smr_barrier_cb;
		if (!pc->cur.cnt)
			pc->cur.stamp = jiffies;
		*pc->cur.tail = &pc->barrier_node;
		pc->cur.tail = &pc->barrier_node.smrn_next;
		pc->cur.cnt++;
		pc->cur.size = SMR_CALL_EXPEDITE;
		smr_cbq_seal(smr, pc);
		spin_unlock_irq(&pc->lock);
		mod_delayed_work_on(cpu, smr_wq, &pc->work, 0);
	}
	cpus_read_unlock();
	if (queued) {
		if (atomic_dec_and_test(&smr->smr_barrier_pending))
			complete(&smr->smr_barrier_done);
		wait_for_completion(&smr->smr_barrier_done);
	}
	/* Skipped CPUs had no barrier node to wait for readers: wait here. */
	if (skipped)
		__smr_wait(smr, pcpu, smr_deferred_advance(smr));
	/*
	 * A batch detached by the worker of a CPU that died meanwhile may
	 * still be running while the barrier node, handed off, already ran.
	 */
	for_each_possible_cpu(cpu) {
		struct smr_pcpu *pc = per_cpu_ptr(pcpu, cpu);
		bool running;

		spin_lock_irq(&pc->lock);
		running = pc->running;
		spin_unlock_irq(&pc->lock);
		if (running)
			flush_work(&pc->work.work);
	}
	mutex_unlock(&smr->smr_barrier_lock);
}
EXPORT_SYMBOL_KPRIM(smr_barrier);

/* ---------------------------------------------------------------------- */
/* CPU hotplug                                                            */
/* ---------------------------------------------------------------------- */

static void smr_cbq_splice(struct smr_cbq *dst, struct smr_cbq *src)
{
	if (!src->cnt)
		return;
	if (!dst->cnt) {
		dst->head = src->head;
		dst->stamp = src->stamp;
	} else {
		*dst->tail = src->head;
		if (time_before(src->stamp, dst->stamp))
			dst->stamp = src->stamp;
	}
	dst->tail = src->tail;
	dst->cnt += src->cnt;
	dst->size = size_add(dst->size, src->size);
	smr_cbq_reset(src);
}

/* Move the queues of dead CPU @cpu to online CPU @target, in order. */
static void smr_handoff(smr_t smr, unsigned int cpu, unsigned int target)
{
	struct smr_pcpu *from = per_cpu_ptr(smr->smr_pcpu, cpu);
	struct smr_pcpu *to = per_cpu_ptr(smr->smr_pcpu, target);
	struct smr_cbq q;

	smr_cbq_reset(&q);
	spin_lock_irq(&from->lock);
	smr_cbq_splice(&q, &from->old);
	smr_cbq_splice(&q, &from->wait);
	smr_cbq_splice(&q, &from->cur);
	spin_unlock_irq(&from->lock);
	if (!q.cnt)
		return;

	spin_lock_irq(&to->lock);
	smr_cbq_seal(smr, to);
	smr_cbq_splice(&to->wait, &q);
	/* A goal later than any the moved callbacks had. */
	to->wait.seq = smr_deferred_advance(smr);
	spin_unlock_irq(&to->lock);
	mod_delayed_work_on(target, smr_wq, &to->work, 0);
}

static int smr_cpu_dead(unsigned int cpu)
{
	unsigned int target = cpumask_any_but(cpu_online_mask, cpu);
	smr_t smr;

	if (target >= nr_cpu_ids)
		return 0;
	mutex_lock(&smr_domains_lock);
	list_for_each_entry(smr, &smr_domains, smr_link)
		smr_handoff(smr, cpu, target);
	mutex_unlock(&smr_domains_lock);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* debugfs                                                                */
/* ---------------------------------------------------------------------- */

static int smr_domain_show(struct seq_file *m, void *v)
{
	smr_t smr = m->private;
	struct smr_pcpu __percpu *pcpu = READ_ONCE(smr->smr_pcpu);
	unsigned long now = jiffies;
	int cpu;

	seq_printf(m, "name        : %s\n", smr->smr_name);
	seq_printf(m, "flags       : %s\n",
		   smr->smr_flags & SMR_SLEEPABLE ? "sleepable" : "none");
	seq_printf(m, "wr_seq      : %lu\n", smr_wr(smr));
	seq_printf(m, "rd_seq      : %lu\n", smr_rd(smr));
	seq_printf(m, "advances    : %ld\n", atomic_long_read(&smr->smr_advances));
	seq_printf(m, "synchronize : %ld\n", atomic_long_read(&smr->smr_syncs));
	seq_printf(m, "barrier     : %ld\n", atomic_long_read(&smr->smr_barriers));
	seq_printf(m, "cb_queued   : %lu\n", __smr_cb_queued(smr));
	seq_printf(m, "cb_run      : %ld\n", atomic_long_read(&smr->smr_cb_run));
	seq_printf(m, "sleepers    : %ld\n", atomic_long_read(&smr->smr_nsleepers));
	seq_printf(m, "misuse      : %ld\n", atomic_long_read(&smr->smr_misuse));
	if (!pcpu)
		return 0;
	seq_puts(m, "# cpu  task_seq  softirq_seq  hardirq_seq  pending  size  oldest_ms\n");
	for_each_possible_cpu(cpu) {
		struct smr_pcpu *pc = per_cpu_ptr(pcpu, cpu);
		unsigned long cnt, stamp = now;
		size_t size;

		spin_lock_irq(&pc->lock);
		cnt = pc->old.cnt + pc->wait.cnt + pc->cur.cnt;
		size = size_add(size_add(pc->old.size, pc->wait.size), pc->cur.size);
		if (pc->old.cnt)
			stamp = pc->old.stamp;
		else if (pc->wait.cnt)
			stamp = pc->wait.stamp;
		else if (pc->cur.cnt)
			stamp = pc->cur.stamp;
		spin_unlock_irq(&pc->lock);
		seq_printf(m, "%5d  %lu  %lu  %lu  %lu  %zu  %u\n", cpu,
			   READ_ONCE(pc->slot[SMR_CTX_TASK].seq),
			   READ_ONCE(pc->slot[SMR_CTX_SOFTIRQ].seq),
			   READ_ONCE(pc->slot[SMR_CTX_HARDIRQ].seq),
			   cnt, size, jiffies_to_msecs(now - stamp));
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(smr_domain);

/* ---------------------------------------------------------------------- */
/* Domains                                                                */
/* ---------------------------------------------------------------------- */

static void smr_debugfs_add(smr_t smr)
	__must_hold(&smr_domains_lock)
{
	char name[SMR_NAME_MAX + 24];
	bool dup = false;
	smr_t other;

	lockdep_assert_held(&smr_domains_lock);
	if (!smr_debugfs_dir)
		return;
	list_for_each_entry(other, &smr_domains, smr_link)
		if (other != smr && !strcmp(other->smr_name, smr->smr_name))
			dup = true;
	if (dup)
		snprintf(name, sizeof(name), "%s.%lu", smr->smr_name,
			 ++smr_debugfs_id);
	else
		strscpy(name, smr->smr_name, sizeof(name));
	smr->smr_debugfs = debugfs_create_file(name, 0444, smr_debugfs_dir,
					       smr, &smr_domain_fops);
}

/**
 * __smr_domain_init() - initialize a domain; use smr_domain_init()
 * @smr: the domain, defined with SMR_DEFINE() or SMR_DEFINE_SLEEPABLE()
 * @key: lockdep class key of the call site
 * @lockname: lockdep class name of the call site (static storage)
 *
 * Context: process context, may sleep.
 * Return: 0, -ENOMEM, or -EBUSY when @smr is already initialized (a
 * reported misuse).
 */
int __smr_domain_init(smr_t smr, struct lock_class_key *key,
		      const char *lockname)
{
	struct smr_pcpu __percpu *pcpu;
	int cpu;

	might_sleep();
	if (READ_ONCE(smr->smr_pcpu)) {
		SMR_MISUSE(smr, ": already initialized");
		return -EBUSY;
	}
	pcpu = kprim_alloc_percpu(struct smr_pcpu);
	if (!pcpu)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		struct smr_pcpu *pc = per_cpu_ptr(pcpu, cpu);

		spin_lock_init(&pc->lock);
		smr_cbq_reset(&pc->cur);
		smr_cbq_reset(&pc->wait);
		smr_cbq_reset(&pc->old);
		INIT_DELAYED_WORK(&pc->work, smr_worker);
		pc->smr = smr;
		pc->cpu = cpu;
		spin_lock_init(&pc->trk_lock);
		INIT_LIST_HEAD(&pc->trackers);
	}
	if (!atomic_long_read(&smr->smr_clock.s_wr_seq)) {
		atomic_long_set(&smr->smr_clock.s_rd_seq, SMR_SEQ_INIT);
		atomic_long_set(&smr->smr_clock.s_wr_seq, SMR_SEQ_INIT);
	}
	mutex_init(&smr->smr_barrier_lock);
	init_completion(&smr->smr_barrier_done);
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	lockdep_init_map(&smr->smr_dep_map, lockname, key, 0);
#endif

	mutex_lock(&smr_domains_lock);
	list_add_tail(&smr->smr_link, &smr_domains);
	smr_debugfs_add(smr);
	/* Publish the initialized per-CPU state last. */
	smp_store_release(&smr->smr_pcpu, pcpu);
	mutex_unlock(&smr_domains_lock);
	return 0;
}
EXPORT_SYMBOL_KPRIM(__smr_domain_init);

/**
 * smr_domain_fini() - tear down a domain initialized with smr_domain_init()
 * @smr: the domain
 *
 * Runs smr_barrier() first, so every callback has run when it returns.
 * A domain with active sections is reported and left allocated.  Calling
 * it inside a section of @smr or from one of @smr's callbacks (which it
 * would have to wait for) is a reported misuse: the domain is left
 * initialized and usable.
 *
 * Context: process context, may sleep; no section of @smr entered, not
 * in one of its callbacks.
 */
void smr_domain_fini(smr_t smr)
{
	struct smr_pcpu __percpu *pcpu = READ_ONCE(smr->smr_pcpu);
	bool busy;
	int cpu, i;

	/*
	 * Report (and do not sleep) inside a section, before might_sleep();
	 * in a callback, cancelling its own work below would never return.
	 */
	if (pcpu && (smr_entered(smr) || smr_in_own_worker(smr))) {
		SMR_MISUSE(smr, " inside a section or callback, not finalized");
		return;
	}
	might_sleep();
	if (!pcpu) {
		SMR_MISUSE(smr, ": not initialized");
		return;
	}
	smr_barrier(smr);
	busy = atomic_long_read(&smr->smr_nsleepers) != 0;
	for_each_possible_cpu(cpu)
		for (i = 0; i < SMR_CTX_NR; i++)
			if (READ_ONCE(per_cpu_ptr(pcpu, cpu)->slot[i].depth))
				busy = true;
	if (busy) {
		SMR_MISUSE(smr, ": sections still active, leaked");
		return;
	}

	for_each_possible_cpu(cpu)
		cancel_delayed_work_sync(&per_cpu_ptr(pcpu, cpu)->work);

	mutex_lock(&smr_domains_lock);
	list_del(&smr->smr_link);
	debugfs_remove(smr->smr_debugfs);
	smr->smr_debugfs = NULL;
	WRITE_ONCE(smr->smr_pcpu, NULL);
	mutex_unlock(&smr_domains_lock);

	/* Racing smr_enter() calls read the pointer with preemption off. */
	synchronize_rcu();
	free_percpu(pcpu);
}
EXPORT_SYMBOL_KPRIM(smr_domain_fini);

/**
 * __smr_domain_create() - allocate a domain; use smr_domain_create()
 * @flags: %SMR_NONE or %SMR_SLEEPABLE
 * @name: name of the domain
 * @key: lockdep class key of the call site
 * @lockname: lockdep class name of the call site (static storage)
 *
 * Context: process context, may sleep.
 * Return: the domain, or NULL on allocation failure or invalid @flags.
 */
smr_t __smr_domain_create(smr_flags_t flags, const char *name,
			  struct lock_class_key *key, const char *lockname)
{
	smr_t smr;

	might_sleep();
	if (flags & ~SMR_SLEEPABLE) {
		KPRIM_MISUSE(&smr_global_misuse, "smr_domain_create(%s): bad flags %#lx",
			     name, flags);
		return NULL;
	}
	smr = kzalloc(sizeof(*smr), GFP_KERNEL);
	if (!smr)
		return NULL;
	smr->smr_flags = flags;
	smr->smr_dynamic = true;
	strscpy(smr->smr_name, name ? name : "smr", sizeof(smr->smr_name));
	if (__smr_domain_init(smr, key, lockname)) {
		kfree(smr);
		return NULL;
	}
	return smr;
}
EXPORT_SYMBOL_KPRIM(__smr_domain_create);

/**
 * smr_domain_free() - destroy a domain made by smr_domain_create()
 * @smr: the domain (NULL is ignored)
 *
 * Implies smr_barrier(): every callback has run when it returns.  As for
 * smr_domain_fini(), calling it inside a section of @smr or from one of
 * its callbacks is a reported misuse and frees nothing.
 *
 * Context: process context, may sleep; no section of @smr entered, not
 * in one of its callbacks.
 */
void smr_domain_free(smr_t smr)
{
	if (!smr)
		return;
	if (!smr->smr_dynamic) {
		SMR_MISUSE(smr, ": static domain, use smr_domain_fini");
		return;
	}
	smr_domain_fini(smr);
	if (!READ_ONCE(smr->smr_pcpu))
		kfree(smr);
}
EXPORT_SYMBOL_KPRIM(smr_domain_free);

/* ---------------------------------------------------------------------- */
/* Module hooks                                                           */
/* ---------------------------------------------------------------------- */

int kprim_smr_setup(struct dentry *root)
{
	int ret;

	smr_wq = alloc_workqueue("kprim_smr", WQ_MEM_RECLAIM, 0);
	if (!smr_wq)
		return -ENOMEM;
	smr_debugfs_dir = debugfs_create_dir("smr", root);
	ret = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "kprim/smr:dead",
					NULL, smr_cpu_dead);
	if (ret < 0)
		goto err_wq;
	smr_cpuhp_state = ret;
	ret = smr_domain_init(&smr_system);
	if (ret)
		goto err_cpuhp;
	ret = smr_domain_init(&smr_system_sleepable);
	if (ret)
		goto err_system;
	return 0;

err_system:
	smr_domain_fini(&smr_system);
err_cpuhp:
	cpuhp_remove_state_nocalls(smr_cpuhp_state);
err_wq:
	debugfs_remove_recursive(smr_debugfs_dir);
	smr_debugfs_dir = NULL;
	destroy_workqueue(smr_wq);
	return ret;
}

void kprim_smr_teardown(void)
{
	smr_domain_fini(&smr_system_sleepable);
	smr_domain_fini(&smr_system);
	cpuhp_remove_state_nocalls(smr_cpuhp_state);
	debugfs_remove_recursive(smr_debugfs_dir);
	smr_debugfs_dir = NULL;
	destroy_workqueue(smr_wq);
}
