/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kprim SMR: safe memory reclamation with XNU's API (domains, read
 * sections, deferred callbacks, sleepable sections, SMR pointers and SMR
 * queues).  See Documentation/smr.rst and the theory of operation at the
 * top of module/smr.c.
 */
#ifndef _KPRIM_SMR_H
#define _KPRIM_SMR_H

#include <linux/atomic.h>
#include <linux/bug.h>
#include <linux/cache.h>
#include <linux/compiler.h>
#include <linux/completion.h>
#include <linux/lockdep.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <asm/barrier.h>
#include <asm/cmpxchg.h>
#include <kprim/kprim.h>
#include <kprim/smr_types.h>

/* ---------------------------------------------------------------------- */
/* Sequences                                                              */
/* ---------------------------------------------------------------------- */

#define SMR_SEQ_INVALID		((smr_seq_t)0)
#define SMR_SEQ_INIT		((smr_seq_t)2)
#define SMR_SEQ_INC		((smr_seq_t)4)

/* Signed distance between two sequences. */
#define SMR_SEQ_DELTA(a, b)	((long)((a) - (b)))
/* Compare two sequences with @op, correct across wraparound. */
#define SMR_SEQ_CMP(a, op, b)	(SMR_SEQ_DELTA(a, b) op 0)

/* smr_call() size that forces the queue to be processed right away. */
#define SMR_CALL_EXPEDITE	((size_t)~0UL)

/** typedef smr_flags_t - smr_domain_create() flags */
typedef unsigned long smr_flags_t;
#define SMR_NONE		((smr_flags_t)0x0)
#define SMR_SLEEPABLE		((smr_flags_t)0x1)

#define SMR_NAME_MAX		24

/**
 * struct smr_clock - a domain's clock
 * @s_rd_seq: every reader has observed at least this write sequence
 * @s_wr_seq: the current write sequence
 */
struct smr_clock {
	atomic_long_t s_rd_seq;
	atomic_long_t s_wr_seq;
};

struct smr_pcpu;

/**
 * struct smr_slot - a CPU's reader slot for one context (private)
 * @seq: the write sequence published by the section, 0 outside sections
 * @depth: section nesting depth (more than 1 is a reported misuse)
 *
 * Each CPU has one slot per context (task, softirq, hard IRQ) at the start
 * of its per-CPU state, the task slot first, so the inline smr_enter() and
 * smr_leave() reach the task slot from &struct smr alone.
 */
struct smr_slot {
	unsigned long seq;
	unsigned int depth;
};

/**
 * struct smr - an SMR domain
 * @smr_clock: read and write sequences
 * @smr_pcpu: per-CPU reader slots, callback queues and sleepable sections;
 *            NULL before the domain is initialized and after it is freed
 * @smr_flags: %SMR_NONE or %SMR_SLEEPABLE
 * @smr_name: name, shown in debugfs and lockdep reports
 * @smr_misuse: number of misuse reports against this domain
 * @smr_nsleepers: number of active sleepable sections
 * @smr_advances: write sequence advances
 * @smr_syncs: smr_synchronize() calls
 * @smr_barriers: smr_barrier() calls
 * @smr_cb_run: callbacks run
 * @smr_link: linkage on kprim's list of domains
 * @smr_debugfs: the domain's debugfs file
 * @smr_dynamic: allocated by smr_domain_create()
 * @smr_barrier_lock: serializes smr_barrier() calls
 * @smr_barrier_pending: barrier nodes not yet run, plus one for the caller
 * @smr_barrier_done: completed when @smr_barrier_pending drops to zero
 * @smr_dep_map: lockdep map of the domain's read sections
 *
 * Every field is private to kprim; the structure is in the header only so
 * SMR_DEFINE() can place a domain in a consumer's static data.
 */
struct smr {
	struct smr_clock smr_clock;
	struct smr_pcpu __percpu *smr_pcpu;
	unsigned long smr_flags;
	char smr_name[SMR_NAME_MAX];

	/* Slow path state, off the readers' cache line. */
	atomic_long_t smr_misuse ____cacheline_aligned;
	atomic_long_t smr_nsleepers;
	atomic_long_t smr_advances;
	atomic_long_t smr_syncs;
	atomic_long_t smr_barriers;
	atomic_long_t smr_cb_run;
	struct list_head smr_link;
	struct dentry *smr_debugfs;
	bool smr_dynamic;
	struct mutex smr_barrier_lock;	/* serializes smr_barrier() */
	atomic_t smr_barrier_pending;
	struct completion smr_barrier_done;
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	struct lockdep_map smr_dep_map;
#endif
} ____cacheline_aligned;

/**
 * SMR_DEFINE_FLAGS() - define a static SMR domain
 * @var: variable name
 * @name: string literal naming the domain
 * @flags: %SMR_NONE or %SMR_SLEEPABLE
 *
 * The domain must be initialized with smr_domain_init(&var) (from the
 * consumer's module_init) before use and finalized with
 * smr_domain_fini(&var) (from its module_exit).  Using it before
 * smr_domain_init() is a reported misuse: sections fall back to plain
 * preemption-disabled (RCU) sections and smr_call() callbacks are dropped.
 */
#define SMR_DEFINE_FLAGS(var, name, flags)				\
	struct smr var = __SMR_INITIALIZER(name, flags)

/* The static initializer of SMR_DEFINE_FLAGS(). */
#define __SMR_INITIALIZER(name, flags)					\
	{								\
		.smr_clock = {						\
			.s_rd_seq = ATOMIC_LONG_INIT(SMR_SEQ_INIT),	\
			.s_wr_seq = ATOMIC_LONG_INIT(SMR_SEQ_INIT),	\
		},							\
		.smr_flags = (flags),					\
		.smr_name = "" name,					\
	}

/** SMR_DEFINE() - define a static non-sleepable domain, see SMR_DEFINE_FLAGS() */
#define SMR_DEFINE(var, name)		SMR_DEFINE_FLAGS(var, name, SMR_NONE)
/** SMR_DEFINE_SLEEPABLE() - define a static sleepable domain, see SMR_DEFINE_FLAGS() */
#define SMR_DEFINE_SLEEPABLE(var, name)	SMR_DEFINE_FLAGS(var, name, SMR_SLEEPABLE)

int __smr_domain_init(smr_t smr, struct lock_class_key *key,
		      const char *lockname);
smr_t __smr_domain_create(smr_flags_t flags, const char *name,
			  struct lock_class_key *key, const char *lockname);

/**
 * smr_domain_init() - initialize a domain defined with SMR_DEFINE()
 * @smr: the domain
 *
 * Context: process context, may sleep.  Each call site is one lockdep class.
 * Return: 0, or -ENOMEM.
 */
#define smr_domain_init(smr)						\
	({								\
		static struct lock_class_key __smr_key;			\
		__smr_domain_init((smr), &__smr_key, "smr:" #smr);	\
	})

/**
 * smr_domain_create() - create an SMR domain
 * @flags: %SMR_NONE or %SMR_SLEEPABLE
 * @name: name of the domain (copied, truncated to %SMR_NAME_MAX - 1)
 *
 * Context: process context, may sleep.  Each call site is one lockdep class.
 * Return: the domain, or NULL on allocation failure.
 */
#define smr_domain_create(flags, name)					\
	({								\
		static struct lock_class_key __smr_key;			\
		__smr_domain_create((flags), (name), &__smr_key,	\
				    "smr:" #name);			\
	})

void smr_domain_fini(smr_t smr);
void smr_domain_free(smr_t smr);

/*
 * The system domains, initialized while kprim loads and live until it
 * unloads: smr_system (SMR_NONE, sections must not sleep) and
 * smr_system_sleepable (SMR_SLEEPABLE, for smr_enter_sleepable()).  Use them
 * like a domain of your own (&smr_system); never finalize or free them.
 * (Variables: kernel-doc has no syntax for them, hence a plain comment.)
 */
extern struct smr smr_system;
extern struct smr smr_system_sleepable;

bool smr_entered(smr_t smr);
void __smr_enter_slow(smr_t smr);
void __smr_leave_slow(smr_t smr);
void smr_enter_sleepable(smr_t smr, smr_tracker_t tracker);
void smr_leave_sleepable(smr_t smr, smr_tracker_t tracker);

smr_seq_t __must_check smr_advance(smr_t smr);
smr_seq_t __must_check smr_deferred_advance(smr_t smr);
void smr_deferred_advance_commit(smr_t smr, smr_seq_t seq);
bool __must_check smr_poll(smr_t smr, smr_seq_t goal);
void smr_wait(smr_t smr, smr_seq_t goal);
void smr_synchronize(smr_t smr);
void smr_barrier(smr_t smr);
void smr_call(smr_t smr, smr_node_t node, size_t size, smr_cb_t cb);

unsigned long smr_misuse_count(smr_t smr);
unsigned long __smr_cb_queued(smr_t smr);

/* Reports for the inline accessors below (counted, WARN once). */
void __smr_assert_failed(const char *what);
void __smr_linkage_invalid(const void *link);

/* ---------------------------------------------------------------------- */
/* Read sections: the inline fast path                                    */
/* ---------------------------------------------------------------------- */

/* Lockdep sees a task-context section as a recursive read acquisition. */
#ifdef CONFIG_DEBUG_LOCK_ALLOC
#define __smr_dep_acquire(smr)	lock_map_acquire_read(&(smr)->smr_dep_map)
#define __smr_dep_release(smr)	lock_map_release(&(smr)->smr_dep_map)
#else
#define __smr_dep_acquire(smr)	((void)(smr))
#define __smr_dep_release(smr)	((void)(smr))
#endif

/* The task-context slot of @pcpu: the first member of each CPU's state. */
static __always_inline struct smr_slot __percpu *
__smr_task_slot(struct smr_pcpu __percpu *pcpu)
{
	return (struct smr_slot __percpu *)pcpu;
}

/**
 * smr_enter() - enter a non-preemptible read section
 * @smr: the domain
 *
 * Disables preemption until the matching smr_leave().  Sections are not
 * reentrant: entering @smr again in the same context is a reported misuse
 * (it is counted and kept safe).  A softirq may enter the domain while it
 * interrupts a task section.  Use from hard IRQ context is reported.
 *
 * The common case (task context, initialized domain, no section of @smr
 * on this CPU) is inline: publish the write sequence in this CPU's task
 * slot and issue a full fence.  Everything else, misuse included, is
 * handled out of line by __smr_enter_slow().
 *
 * Context: task or softirq context.
 */
static __always_inline void smr_enter(smr_t smr)
{
	struct smr_pcpu __percpu *pcpu;
	struct smr_slot __percpu *slot;

	preempt_disable();
	pcpu = READ_ONCE(smr->smr_pcpu);
	slot = __smr_task_slot(pcpu);
	if (unlikely(!pcpu || !in_task() || __this_cpu_read(slot->depth))) {
		__smr_enter_slow(smr);
		return;
	}
	__this_cpu_write(slot->depth, 1);
	__this_cpu_write(slot->seq,
			 (smr_seq_t)atomic_long_read(&smr->smr_clock.s_wr_seq));
	/* Publish the slot before the section's loads; pairs with smr_poll(). */
	smp_mb();
	__smr_dep_acquire(smr);
}

/**
 * smr_leave() - leave a section entered with smr_enter()
 * @smr: the domain
 *
 * Leaving a section that was not entered (in this context, on this CPU) is
 * reported and ignored.  The common case (task context, depth 1) is inline;
 * a task slot of depth 1 on this CPU can only be the caller's, since its
 * owner runs with preemption disabled.  Everything else is handled out of
 * line by __smr_leave_slow().
 *
 * Context: the context that called smr_enter().
 */
static __always_inline void smr_leave(smr_t smr)
{
	struct smr_pcpu __percpu *pcpu = READ_ONCE(smr->smr_pcpu);
	struct smr_slot __percpu *slot = __smr_task_slot(pcpu);

	/* this_cpu_read(): the caller may be preemptible (a misuse). */
	if (unlikely(!pcpu || !in_task() || this_cpu_read(slot->depth) != 1)) {
		__smr_leave_slow(smr);
		return;
	}
	__smr_dep_release(smr);
	__this_cpu_write(slot->depth, 0);
	/* The section's loads complete before the slot clears. */
	smp_store_release(raw_cpu_ptr(&slot->seq), SMR_SEQ_INVALID);
	preempt_enable();
}

/* ---------------------------------------------------------------------- */
/* SMR pointers                                                           */
/* ---------------------------------------------------------------------- */

/*
 * Accessors, grouped as in XNU:
 *   entered      - inside a read section of the domain protecting the pointer
 *   serialized   - holding the writers' lock; stores publish with release
 *   unserialized - the object is no longer visible to readers (or not yet)
 *
 * The serialized _assert variants take a condition, usually
 * lockdep_is_held(&lock), and report a misuse when it is false.  Like
 * rcu_dereference_protected(), the condition is evaluated only on kernels
 * with CONFIG_LOCKDEP; elsewhere it is type-checked but never evaluated
 * (so lockdep_is_held() leaves no reference to an undefined symbol).  The
 * entered _assert variants take a domain and check smr_entered() on every
 * kernel.  In both cases the access still happens.
 */

#ifdef CONFIG_LOCKDEP
#define __smr_check_held(held_cond, what)				\
	do {								\
		if (unlikely(!(held_cond)))				\
			__smr_assert_failed(what);			\
	} while (0)
#else
#define __smr_check_held(held_cond, what)				\
	do {								\
		BUILD_BUG_ON_INVALID(held_cond);			\
		(void)(what);						\
	} while (0)
#endif

#define __smr_ptr_type(ptr)	typeof(*(ptr)->__smr_ptr)

/* smr_unsafe_load() - the pointer as an integer, for comparisons only. */
#define smr_unsafe_load(ptr)						\
	((__force uintptr_t)READ_ONCE((ptr)->__smr_ptr))

/* smr_entered_load() - read an SMR pointer inside a read section. */
#define smr_entered_load(ptr)						\
	({								\
		typeof(ptr) __smr_el_p = (ptr);				\
		(__smr_ptr_type(__smr_el_p) __force __kernel *)		\
			READ_ONCE(__smr_el_p->__smr_ptr);		\
	})

/* smr_entered_load_assert() - smr_entered_load(), checking @smr is entered. */
#define smr_entered_load_assert(ptr, smr)				\
	({								\
		if (unlikely(!smr_entered(smr)))			\
			__smr_assert_failed("smr_entered_load: not entered"); \
		smr_entered_load(ptr);					\
	})

/* smr_entered_load_acquire() - smr_entered_load() with acquire ordering. */
#define smr_entered_load_acquire(ptr)					\
	({								\
		typeof(ptr) __smr_ela_p = (ptr);			\
		/* Pairs with the release of smr_serialized_store(). */	\
		__auto_type __smr_ela_v = smp_load_acquire(&__smr_ela_p->__smr_ptr); \
		(__smr_ptr_type(__smr_ela_p) __force __kernel *)__smr_ela_v; \
	})

/* smr_entered_load_acquire_assert() - the _acquire load, checking @smr. */
#define smr_entered_load_acquire_assert(ptr, smr)			\
	({								\
		if (unlikely(!smr_entered(smr)))			\
			__smr_assert_failed("smr_entered_load_acquire: not entered"); \
		smr_entered_load_acquire(ptr);				\
	})

/* smr_serialized_load() - writer-side read. */
#define smr_serialized_load(ptr)					\
	({								\
		typeof(ptr) __smr_sl_p = (ptr);				\
		(__smr_ptr_type(__smr_sl_p) __force __kernel *)		\
			(__smr_sl_p->__smr_ptr);			\
	})

/*
 * smr_serialized_load_assert() - writer-side read, checking @held_cond
 * (evaluated only with CONFIG_LOCKDEP).
 */
#define smr_serialized_load_assert(ptr, held_cond)			\
	({								\
		__smr_check_held(held_cond, "smr_serialized_load: lock not held"); \
		smr_serialized_load(ptr);				\
	})

#define __smr_ptr_cast(ptr, value)					\
	((__smr_ptr_type(ptr) __force __rcu *)(value))

/* smr_init_store() - store before the pointer is visible to readers. */
#define smr_init_store(ptr, value)					\
	do {								\
		typeof(ptr) __smr_is_p = (ptr);				\
		WRITE_ONCE(__smr_is_p->__smr_ptr,			\
			   __smr_ptr_cast(__smr_is_p, value));		\
	} while (0)

/* smr_clear_store() - store NULL (always allowed). */
#define smr_clear_store(ptr)		smr_init_store(ptr, NULL)

/*
 * smr_serialized_store_assert() - publish @value (release), checking
 * @held_cond (evaluated only with CONFIG_LOCKDEP).
 */
#define smr_serialized_store_assert(ptr, value, held_cond)		\
	do {								\
		typeof(ptr) __smr_ss_p = (ptr);				\
		__smr_check_held(held_cond, "smr_serialized_store: lock not held"); \
		/* Initialize the object before publishing it. */	\
		smp_store_release(&__smr_ss_p->__smr_ptr,		\
				  __smr_ptr_cast(__smr_ss_p, value));	\
	} while (0)

/* smr_serialized_store() - publish @value with release ordering. */
#define smr_serialized_store(ptr, value)				\
	smr_serialized_store_assert(ptr, value, true)

/*
 * smr_serialized_store_relaxed_assert() - store an already published
 * value, checking @held_cond (evaluated only with CONFIG_LOCKDEP).
 */
#define smr_serialized_store_relaxed_assert(ptr, value, held_cond)	\
	do {								\
		typeof(ptr) __smr_ssr_p = (ptr);			\
		__smr_check_held(held_cond, "smr_serialized_store_relaxed: lock not held"); \
		WRITE_ONCE(__smr_ssr_p->__smr_ptr,			\
			   __smr_ptr_cast(__smr_ssr_p, value));		\
	} while (0)

/* smr_serialized_store_relaxed() - store a value that was already published. */
#define smr_serialized_store_relaxed(ptr, value)			\
	smr_serialized_store_relaxed_assert(ptr, value, true)

/*
 * smr_serialized_swap_assert() - exchange (release), return the old value,
 * checking @held_cond (evaluated only with CONFIG_LOCKDEP).
 */
#define smr_serialized_swap_assert(ptr, value, held_cond)		\
	({								\
		typeof(ptr) __smr_sw_p = (ptr);				\
		__smr_check_held(held_cond, "smr_serialized_swap: lock not held"); \
		(__smr_ptr_type(__smr_sw_p) __force __kernel *)		\
			xchg_release(&__smr_sw_p->__smr_ptr,		\
				     __smr_ptr_cast(__smr_sw_p, value)); \
	})

/* smr_serialized_swap() - exchange (release), return the old value. */
#define smr_serialized_swap(ptr, value)					\
	smr_serialized_swap_assert(ptr, value, true)

/* smr_unserialized_load() - read when no reader can see the object. */
#define smr_unserialized_load(ptr)					\
	({								\
		typeof(ptr) __smr_ul_p = (ptr);				\
		(__smr_ptr_type(__smr_ul_p) __force __kernel *)		\
			(__smr_ul_p->__smr_ptr);			\
	})

/* smr_unserialized_store() - store when no reader can see the object. */
#define smr_unserialized_store(ptr, value)				\
	({								\
		typeof(ptr) __smr_us_p = (ptr);				\
		__smr_us_p->__smr_ptr = __smr_ptr_cast(__smr_us_p, value); \
	})

/* ---------------------------------------------------------------------- */
/* SMR queues                                                             */
/* ---------------------------------------------------------------------- */

/*
 * Four queue kinds read forward under SMR while writers (serialized by the
 * caller's lock) update them: slist (one-pointer head, head insertion),
 * list (doubly linked, O(1) removal), stailq and tailq (two-pointer heads,
 * tail insertion).  The macros dispatch on the head/link type with
 * _Generic.  Linkage corruption is reported (WARN once, counted by
 * smr_misuse_count(NULL)) and the write is not done.
 */

#define __smrq_container_of_safe(p, type, field)			\
	({								\
		void *__smrq_p = (void *)(p);				\
		__smrq_p ? container_of(__smrq_p, type, field) : (type *)NULL; \
	})

static __always_inline __smrq_slink_t **
__smrq_slist_lastp(struct smrq_slist_head *head)
{
	return NULL;
}

static __always_inline __smrq_link_t **
__smrq_list_lastp(struct smrq_list_head *head)
{
	return NULL;
}

static __always_inline __smrq_slink_t **
__smrq_stailq_lastp(struct smrq_stailq_head *head)
{
	return &head->last;
}

static __always_inline __smrq_link_t **
__smrq_tailq_lastp(struct smrq_tailq_head *head)
{
	return &head->last;
}

#define __smrq_lastp(head)						\
	({								\
		typeof(head) __smrq_lp_h = (head);			\
		_Generic(*__smrq_lp_h,					\
			 struct smrq_slist_head : __smrq_slist_lastp,	\
			 struct smrq_list_head : __smrq_list_lastp,	\
			 struct smrq_stailq_head : __smrq_stailq_lastp, \
			 struct smrq_tailq_head : __smrq_tailq_lastp)(__smrq_lp_h); \
	})

static __always_inline void __smrq_s_init(__smrq_slink_t *first,
					  __smrq_slink_t **lastp)
{
	smr_init_store(first, NULL);
	if (lastp)
		*lastp = first;
}

static __always_inline void __smrq_d_init(__smrq_link_t *first,
					  __smrq_link_t **lastp)
{
	smr_init_store(first, NULL);
	if (lastp)
		*lastp = first;
}

#define __smrq_dispatch(first, sfn, dfn)				\
	_Generic(*(first), __smrq_slink_t : sfn, __smrq_link_t : dfn)

/* Select @sfn or @dfn by the kind of linkage @link points to. */
#define __smrq_select(link, sfn, dfn)					\
	_Generic(*(link), struct smrq_slink : sfn, struct smrq_link : dfn)

/* The type @ptrtype points to (the element type of a cursor). */
#define __smrq_elem_type(ptrtype)	typeof(*((ptrtype)NULL))

/*
 * The element after @elem, whose linkage is @link, read with @load: the
 * next linkage minus the offset of the linkage in the element.  Macros
 * below write (*(p)).field rather than (p)->field so that checkpatch does
 * not mistake the member name for an expression argument.
 */
#define __smrq_next(elem, link, load)					\
	({								\
		typeof(link) __smrq_nl = (link);			\
		void *__smrq_nn = load(&__smrq_nl->next);		\
		(typeof(elem))(__smrq_nn ? __smrq_nn +			\
			       ((void *)(elem) - (void *)__smrq_nl) : NULL); \
	})

/* smrq_init() - initialize an empty queue of any kind. */
#define smrq_init(head)							\
	({								\
		typeof(head) __h = (head);				\
		__smrq_dispatch(&__h->first, __smrq_s_init,		\
				__smrq_d_init)(&__h->first, __smrq_lastp(__h)); \
	})

/* smrq_empty() - whether the queue is empty, from any context. */
#define smrq_empty(head)	(smr_unsafe_load(&(head)->first) == 0)

/* smrq_entered_first() - first element, inside a read section. */
#define smrq_entered_first(head, type_t, field)				\
	__smrq_container_of_safe(smr_entered_load(&(head)->first), type_t, field)

/* smrq_entered_next() - next element, inside a read section. */
#define smrq_entered_next(elem, field)					\
	({								\
		typeof(elem) __smrq_en_e = (elem);			\
		__smrq_next(__smrq_en_e, &(*__smrq_en_e).field,		\
			    smr_entered_load);				\
	})

/* smrq_entered_foreach() - walk a queue inside a read section. */
#define smrq_entered_foreach(it, head, field)				\
	for (__auto_type __smrq_it = smr_entered_load(&(head)->first);	\
	     ((it) = __smrq_container_of_safe(__smrq_it,		\
					      __smrq_elem_type(typeof(it)), field)); \
	     __smrq_it = smr_entered_load(&__smrq_it->next))

/* smrq_serialized_first() - first element, holding the writers' lock. */
#define smrq_serialized_first(head, type_t, link)			\
	__smrq_container_of_safe(smr_serialized_load(&(head)->first), type_t, link)

/* smrq_serialized_next() - next element, holding the writers' lock. */
#define smrq_serialized_next(elem, field)				\
	({								\
		typeof(elem) __smrq_sn_e = (elem);			\
		__smrq_next(__smrq_sn_e, &(*__smrq_sn_e).field,		\
			    smr_serialized_load);			\
	})

/* smrq_serialized_foreach() - walk a queue holding the writers' lock. */
#define smrq_serialized_foreach(it, head, field)			\
	for (__auto_type __smrq_it = smr_serialized_load(&(head)->first); \
	     ((it) = __smrq_container_of_safe(__smrq_it,		\
					      __smrq_elem_type(typeof(it)), field)); \
	     __smrq_it = smr_serialized_load(&__smrq_it->next))

/*
 * smrq_serialized_foreach_safe() - walk, allowing removal of @it: the
 * cursor moves to the next element before the body runs.
 */
#define smrq_serialized_foreach_safe(it, head, field)			\
	for (__auto_type __smrq_it = smr_serialized_load(&(head)->first); \
	     ((it) = __smrq_container_of_safe(__smrq_it,		\
					      __smrq_elem_type(typeof(it)), field)) && \
	     ((__smrq_it = smr_serialized_load(&__smrq_it->next)) || true);)

/* Insertion after @prev (a head's first or an element's next). */
static __always_inline bool __smrq_s_insert_ok(__smrq_slink_t *prev,
					       struct smrq_slink *next,
					       __smrq_slink_t **lastp)
{
	if (!next && lastp && (*lastp != prev || smr_serialized_load(prev))) {
		__smr_linkage_invalid(prev);
		return false;
	}
	return true;
}

static __always_inline bool __smrq_d_insert_ok(__smrq_link_t *prev,
					       struct smrq_link *next,
					       __smrq_link_t **lastp)
{
	if (next && next->prev != prev) {
		__smr_linkage_invalid(prev);
		return false;
	}
	if (!next && lastp && (*lastp != prev || smr_serialized_load(prev))) {
		__smr_linkage_invalid(prev);
		return false;
	}
	return true;
}

static __always_inline void
__smrq_s_insert(__smrq_slink_t *prev, struct smrq_slink *elem,
		struct smrq_slink *next, __smrq_slink_t **lastp, bool relaxed)
{
	if (!__smrq_s_insert_ok(prev, next, lastp))
		return;
	smr_serialized_store_relaxed(&elem->next, next);
	if (relaxed)
		smr_serialized_store_relaxed(prev, elem);
	else
		smr_serialized_store(prev, elem);
	if (!next && lastp)
		*lastp = &elem->next;
}

static __always_inline void
__smrq_d_insert(__smrq_link_t *prev, struct smrq_link *elem,
		struct smrq_link *next, __smrq_link_t **lastp, bool relaxed)
{
	if (!__smrq_d_insert_ok(prev, next, lastp))
		return;
	smr_serialized_store_relaxed(&elem->next, next);
	elem->prev = prev;
	if (relaxed)
		smr_serialized_store_relaxed(prev, elem);
	else
		smr_serialized_store(prev, elem);
	if (next)
		next->prev = &elem->next;
	else if (lastp)
		*lastp = &elem->next;
}

#define __smrq_insert(prev, elem, next, lastp, relaxed)			\
	({								\
		__auto_type __smrq_ie = (elem);				\
		__smrq_select(__smrq_ie, __smrq_s_insert,		\
			      __smrq_d_insert)(prev, __smrq_ie, next, lastp, relaxed); \
	})

#define __smrq_insert_head(head, elem, relaxed)				\
	({								\
		typeof(head) __h = (head);				\
		__smrq_insert(&__h->first, (elem),			\
			      smr_serialized_load(&__h->first),		\
			      __smrq_lastp(__h), relaxed);		\
	})

#define __smrq_insert_tail(head, elem, relaxed)				\
	({								\
		typeof(head) __h = (head);				\
		__smrq_insert(__h->last, (elem), NULL, &__h->last, relaxed); \
	})

/* smrq_serialized_insert_head() - insert at the head (publishing, release). */
#define smrq_serialized_insert_head(head, elem)	__smrq_insert_head(head, elem, false)
/* smrq_serialized_insert_tail() - insert at the tail of a stailq/tailq. */
#define smrq_serialized_insert_tail(head, elem)	__smrq_insert_tail(head, elem, false)
/* smrq_serialized_insert_head_relaxed() - insert at the head, no barrier. */
#define smrq_serialized_insert_head_relaxed(head, elem)	__smrq_insert_head(head, elem, true)
/* smrq_serialized_insert_tail_relaxed() - insert at the tail, no barrier. */
#define smrq_serialized_insert_tail_relaxed(head, elem)	__smrq_insert_tail(head, elem, true)

/*
 * Removal "skips" the element: e1 -> e2 -> e3 becomes e1 -> e3.  No release
 * barrier is needed: e3 was published with one when it was inserted.
 */
static __always_inline void
__smrq_s_remove_one(__smrq_slink_t *prev, struct smrq_slink *elem,
		    __smrq_slink_t **lastp)
{
	struct smrq_slink *next = smr_serialized_load(&elem->next);

	if (smr_serialized_load(prev) != elem) {
		__smr_linkage_invalid(prev);
		return;
	}
	smr_serialized_store_relaxed(prev, next);
	if (!next && lastp)
		*lastp = prev;
}

static __always_inline void
__smrq_d_remove_one(__smrq_link_t *prev, struct smrq_link *elem,
		    __smrq_link_t **lastp)
{
	struct smrq_link *next = smr_serialized_load(&elem->next);

	if (!prev || smr_serialized_load(prev) != elem) {
		__smr_linkage_invalid(prev);
		return;
	}
	if (next && next->prev != &elem->next) {
		__smr_linkage_invalid(&elem->next);
		return;
	}
	smr_serialized_store_relaxed(prev, next);
	if (next)
		next->prev = prev;
	else if (lastp)
		*lastp = prev;
	elem->prev = NULL;
}

/* Find the link pointing at @elem in a singly linked queue, NULL if absent. */
static __always_inline __smrq_slink_t *
__smrq_s_find(__smrq_slink_t *first, struct smrq_slink *elem)
{
	__smrq_slink_t *prev = first;
	struct smrq_slink *cur;

	while ((cur = smr_serialized_load(prev)) != elem) {
		if (!cur)
			return NULL;
		prev = &cur->next;
	}
	return prev;
}

static __always_inline void
__smrq_s_remove(__smrq_slink_t *first, struct smrq_slink *elem,
		__smrq_slink_t **lastp)
{
	__smrq_slink_t *prev = __smrq_s_find(first, elem);

	if (!prev) {
		__smr_linkage_invalid(elem);
		return;
	}
	__smrq_s_remove_one(prev, elem, lastp);
}

static __always_inline void
__smrq_d_remove(__smrq_link_t *first, struct smrq_link *elem,
		__smrq_link_t **lastp)
{
	__smrq_d_remove_one(elem->prev, elem, lastp);
}

/*
 * smrq_serialized_remove() - remove @elem (O(n) for singly linked kinds).
 * Removing an element that is not on the queue is reported, not done.
 */
#define smrq_serialized_remove(head, elem)				\
	({								\
		typeof(head) __h = (head);				\
		__auto_type __smrq_re = (elem);				\
		__smrq_select(__smrq_re, __smrq_s_remove,		\
			      __smrq_d_remove)(&__h->first, __smrq_re,	\
					       __smrq_lastp(__h));	\
	})

static __always_inline void
__smrq_s_replace(__smrq_slink_t *first, struct smrq_slink *old_elem,
		 struct smrq_slink *new_elem, __smrq_slink_t **lastp)
{
	__smrq_slink_t *prev = __smrq_s_find(first, old_elem);
	struct smrq_slink *next;

	if (!prev) {
		__smr_linkage_invalid(old_elem);
		return;
	}
	next = smr_serialized_load(&old_elem->next);
	smr_serialized_store_relaxed(&new_elem->next, next);
	smr_serialized_store(prev, new_elem);
	if (!next && lastp)
		*lastp = &new_elem->next;
}

static __always_inline void
__smrq_d_replace(__smrq_link_t *first, struct smrq_link *old_elem,
		 struct smrq_link *new_elem, __smrq_link_t **lastp)
{
	__smrq_link_t *prev = old_elem->prev;
	struct smrq_link *next = smr_serialized_load(&old_elem->next);

	if (!prev || smr_serialized_load(prev) != old_elem) {
		__smr_linkage_invalid(prev);
		return;
	}
	if (next && next->prev != &old_elem->next) {
		__smr_linkage_invalid(&old_elem->next);
		return;
	}
	smr_serialized_store_relaxed(&new_elem->next, next);
	new_elem->prev = prev;
	smr_serialized_store(prev, new_elem);
	if (next)
		next->prev = &new_elem->next;
	else if (lastp)
		*lastp = &new_elem->next;
	old_elem->prev = NULL;
}

/* smrq_serialized_replace() - put @new_elem in @old_elem's place. */
#define smrq_serialized_replace(head, old_elem, new_elem)		\
	({								\
		typeof(head) __h = (head);				\
		__auto_type __smrq_ro = (old_elem);			\
		__smrq_select(__smrq_ro, __smrq_s_replace,		\
			      __smrq_d_replace)(&__h->first, __smrq_ro,	\
						(new_elem), __smrq_lastp(__h)); \
	})

static __always_inline void __smrq_iter_check(const void *chk)
{
	if (unlikely(chk))
		__smr_assert_failed("smrq_serialized_iter: cursor not moved");
}

/*
 * smrq_serialized_iter() - manual walk of a singly linked queue (slist or
 * stailq) whose body moves the cursor exactly once, with
 * smrq_serialized_iter_next() or smrq_serialized_iter_erase() (O(1)).
 * A body that moves it twice or not at all is reported.  iter_erase must
 * not erase the last element of a stailq (use smrq_serialized_remove()).
 */
#define smrq_serialized_iter(it, head, field)				\
	for (__smrq_slink_t *__prev_##it = &(head)->first,		\
	     *__chk_##it = __prev_##it;					\
	     ((it) = __smrq_container_of_safe(smr_serialized_load(__prev_##it), \
					      __smrq_elem_type(typeof(it)), field)); \
	     __smrq_iter_check(__chk_##it), __chk_##it = __prev_##it)

/* smrq_serialized_iter_next() - move the cursor to the next element. */
#define smrq_serialized_iter_next(it, field)				\
	({								\
		if (unlikely(__chk_##it != __prev_##it))		\
			__smr_assert_failed("smrq_serialized_iter_next: cursor moved twice"); \
		__chk_##it = NULL;					\
		__prev_##it = &(*(it)).field.next;			\
	})

/* smrq_serialized_iter_erase() - unlink the element under the cursor. */
#define smrq_serialized_iter_erase(it, field)				\
	({								\
		if (unlikely(__chk_##it != __prev_##it))		\
			__smr_assert_failed("smrq_serialized_iter_erase: cursor moved twice"); \
		__chk_##it = NULL;					\
		__smrq_s_remove_one(__prev_##it, &(*(it)).field, NULL); \
	})

static __always_inline void
__smrq_s_append(__smrq_slink_t *dst_first, __smrq_slink_t **dst_lastp,
		__smrq_slink_t *src_first, __smrq_slink_t **src_lastp)
{
	struct smrq_slink *src = smr_serialized_load(src_first);
	struct smrq_slink *dst;

	if (!src)
		return;
	if (dst_lastp) {
		smr_serialized_store_relaxed(*dst_lastp, src);
		if (src_lastp) {
			*dst_lastp = *src_lastp;
		} else {
			for (dst = src; smr_serialized_load(&dst->next);)
				dst = smr_serialized_load(&dst->next);
			*dst_lastp = &dst->next;
		}
		return;
	}
	while ((dst = smr_serialized_load(dst_first)))
		dst_first = &dst->next;
	smr_serialized_store_relaxed(dst_first, src);
}

static __always_inline void
__smrq_d_append(__smrq_link_t *dst_first, __smrq_link_t **dst_lastp,
		__smrq_link_t *src_first, __smrq_link_t **src_lastp)
{
	struct smrq_link *src = smr_serialized_load(src_first);
	struct smrq_link *dst;

	if (!src)
		return;
	if (dst_lastp) {
		smr_serialized_store_relaxed(*dst_lastp, src);
		src->prev = *dst_lastp;
		if (src_lastp) {
			*dst_lastp = *src_lastp;
		} else {
			for (dst = src; smr_serialized_load(&dst->next);)
				dst = smr_serialized_load(&dst->next);
			*dst_lastp = &dst->next;
		}
		return;
	}
	while ((dst = smr_serialized_load(dst_first)))
		dst_first = &dst->next;
	smr_serialized_store_relaxed(dst_first, src);
	src->prev = dst_first;
}

/*
 * smrq_serialized_append() - link @src's elements after @dst's last one.
 * Like XNU (and unlike *_CONCAT) @src is left pointing at the same elements
 * so readers walking it stay valid; reinitialize @src before reusing it.
 * Both queues must be of the same link kind.
 */
#define smrq_serialized_append(dst, src)				\
	({								\
		typeof(src) __s = (src);				\
		typeof(dst) __d = (dst);				\
		__smrq_dispatch(&__d->first, __smrq_s_append,		\
				__smrq_d_append)(&__d->first, __smrq_lastp(__d), \
						 &__s->first, __smrq_lastp(__s)); \
	})

#endif /* _KPRIM_SMR_H */
