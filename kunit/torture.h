/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kprim_torture.ko: the interface between the torture driver
 * (torture_main.c) and the per-facility tortures (torture_smr.c,
 * torture_psref.c, torture_vmem.c, torture_ltable.c).
 *
 * A torture creates its kprim objects and its kthreads in ->start(), counts
 * what it does in its own counters, reports every error it detects with
 * torture_error(), and after the driver has stopped its threads, runs its
 * final checks and destroys its objects in ->finish().  ->summary() prints
 * its counters as "key=value" pairs, for the status and results files.
 */
#ifndef _KPRIM_TORTURE_H
#define _KPRIM_TORTURE_H

#include <linux/atomic.h>
#include <linux/compiler.h>
#include <linux/kthread.h>
#include <linux/prandom.h>
#include <linux/seq_buf.h>
#include <linux/spinlock.h>
#include <linux/types.h>

/* Every kprim object a torture creates has a name starting with this. */
#define TORTURE_PREFIX		"torture"

#define TORTURE_MAX_THREADS	64
#define TORTURE_MAX_ERRORS	4	/* errors quoted in the results */
#define TORTURE_ERR_LEN		160
#define TORTURE_PRINT_ERRORS	50	/* errors printed on the console */

struct torture;

/**
 * struct torture_thread - one kthread of a torture
 * @t: the torture it belongs to
 * @task: the kthread
 * @idx: index of the thread in its torture
 * @rnd: its random state, seeded from (seed, torture, thread)
 * @priv: the torture's per-thread data
 */
struct torture_thread {
	struct torture *t;
	struct task_struct *task;
	int idx;
	struct rnd_state rnd;
	void *priv;
};

/**
 * struct torture - one facility torture
 * @name: "smr", "psref", "vmem" or "ltable"
 * @start: create the objects and start the threads (torture_start_thread())
 * @finish: threads are stopped: final checks, destroy every object
 * @summary: print the counters as " key=value" pairs
 * @cpu_offline: optional, called by the hotplug kthread while @cpu is offline
 * @index: test number in the results (1-based)
 * @selected: chosen with the tortures= parameter
 * @started: ->start() succeeded, ->finish() must run
 * @finished: ->finish() ran
 * @threads: the kthreads started by torture_start_thread()
 * @nthreads: number of entries in @threads
 * @ops: operations performed
 * @nerrors: errors found by the torture's checks (misuse counters of the
 *	objects it used are added by ->finish())
 * @err_lock: protects @errors
 * @errors: the first errors, quoted in the results
 * @priv: the torture's own state
 */
struct torture {
	const char *name;
	int (*start)(struct torture *t);
	void (*finish)(struct torture *t);
	void (*summary)(struct torture *t, struct seq_buf *s);
	void (*cpu_offline)(struct torture *t, int cpu);

	unsigned int index;
	bool selected;
	bool started;
	bool finished;
	struct torture_thread threads[TORTURE_MAX_THREADS];
	int nthreads;
	atomic_long_t ops;
	atomic_long_t nerrors;
	spinlock_t err_lock;		/* @errors */
	char errors[TORTURE_MAX_ERRORS][TORTURE_ERR_LEN];
	void *priv;
};

extern struct torture torture_smr;
extern struct torture torture_psref;
extern struct torture torture_vmem;
extern struct torture torture_ltable;

/* Parameters of the run, fixed once module_init has validated them. */
extern u64 torture_seed_used;
extern int torture_nthreads_used;
extern bool torture_verbose;

__printf(2, 3) void torture_error(struct torture *t, const char *fmt, ...);
int torture_start_thread(struct torture *t, int (*fn)(void *arg), void *priv);
bool torture_must_stop(void);
void torture_thread_done(void);
void torture_sleep_ms(unsigned int ms);

/* Random helpers on a thread's state. */
static inline u32 torture_random(struct torture_thread *th)
{
	return prandom_u32_state(&th->rnd);
}

/* A random number in [0, n). */
static inline u32 torture_random_n(struct torture_thread *th, u32 n)
{
	return n ? torture_random(th) % n : 0;
}

/* True with probability pct percent. */
static inline bool torture_chance(struct torture_thread *th, u32 pct)
{
	return torture_random_n(th, 100) < pct;
}

#endif /* _KPRIM_TORTURE_H */
