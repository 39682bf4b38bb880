// SPDX-License-Identifier: GPL-2.0
/*
 * SMR torture.  Two domains, one sleepable ("torture_smr") and one not
 * ("torture_smr_fast"), each publishing an array of SMR pointers to
 * objects that carry a canary and a checksum of their generation.
 *
 * Readers enter a section (on the sleepable domain, a quarter of them a
 * sleepable section that sleeps or reschedules inside), load a few
 * pointers and check the objects, before and after a delay.  Writers
 * replace objects with smr_serialized_swap() and retire the old one with
 * the mix of XNU's smr_sleepable_stress: 20% smr_call(), 2%
 * smr_synchronize() then free, 1% smr_call() + smr_barrier() (after which
 * every callback this writer queued must have run); of the rest, 27% wait
 * on an smr_advance()/smr_deferred_advance() goal with smr_poll() (and
 * smr_deferred_advance_commit()/smr_wait() when too many are waiting), and
 * 50% are plain smr_call()s, some expedited.  A retired object's canary is
 * poisoned before kfree(), so a reader that still sees it reports it (and
 * KASAN reports the use after free).
 *
 * At the end every published object is retired with smr_call(), the
 * waiting ones with smr_wait(), smr_barrier() runs, and callbacks run must
 * equal callbacks queued, both by the torture's count and by the domain's.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/hash.h>
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <kprim/smr.h>

#include "torture.h"

#define TSMR_SLOTS		64
#define TSMR_LIVE		0x4b50524d4c495645ULL
#define TSMR_DEAD		0x6465616464656164ULL
#define TSMR_MAX_PENDING	2048	/* callbacks in flight per writer */
#define TSMR_LIMBO_COMMIT	64	/* commit the oldest goal above this */
#define TSMR_LIMBO_MAX		256	/* wait for the oldest goal above this */

struct tsmr_writer;
struct tsmr_dom;

struct tsmr_obj {
	u64 canary;
	u64 gen;
	u64 check;
	struct tsmr_dom *dom;
	struct tsmr_writer *owner;
	struct smr_node node;
	struct list_head limbo;
	smr_seq_t goal;
};

struct tsmr_dom {
	SMR_POINTER(struct tsmr_obj *)slots[TSMR_SLOTS];
	const char *name;
	smr_t smr;
};

struct tsmr_writer {
	atomic_long_t pending[2];	/* per domain: queued, not yet run */
	struct list_head limbo;		/* retired, waiting for their goal */
	unsigned long nlimbo;
};

static struct tsmr_dom tsmr_doms[2] = {
	{ .name = TORTURE_PREFIX "_smr" },		/* sleepable */
	{ .name = TORTURE_PREFIX "_smr_fast" },
};

static struct tsmr_writer *tsmr_writers;
static int tsmr_nwriters;
/* Owner of the objects retired by ->finish(). */
static struct tsmr_writer tsmr_final_owner;
static atomic64_t tsmr_gen;
static unsigned long tsmr_misuse_before;

static struct {
	atomic_long_t reads, sleepable_reads, checks, replaces;
	atomic_long_t cb_queued, cb_run, expedited, synchronize, barrier;
	atomic_long_t advanced, polled, committed, waited, nomem;
	unsigned int max_sync_ms, max_barrier_ms;
} tsmr_stats;

/* Keep the largest latency seen in *@max (racy updates are fine). */
static void tsmr_latency(unsigned int *max, unsigned long start)
{
	unsigned int ms = jiffies_to_msecs(jiffies - start);

	if (ms > READ_ONCE(*max))
		WRITE_ONCE(*max, ms);
}

static int tsmr_dom_idx(const struct tsmr_dom *d)
{
	return d - tsmr_doms;
}

static u64 tsmr_sum(u64 gen)
{
	return hash_64(gen, 64) ^ TSMR_LIVE;
}

static void tsmr_check(struct torture_thread *th, struct tsmr_obj *o,
		       const char *when)
{
	u64 canary = READ_ONCE(o->canary);
	u64 gen = READ_ONCE(o->gen);
	u64 check = READ_ONCE(o->check);

	atomic_long_inc(&tsmr_stats.checks);
	if (canary != TSMR_LIVE || check != tsmr_sum(gen))
		torture_error(th->t,
			      "reader %d %s: object %p of %s is %s (canary %#llx gen %llu check %#llx)",
			      th->idx, when, o, o->dom->name,
			      canary == TSMR_DEAD ? "freed" : "corrupt",
			      canary, gen, check);
}

static void tsmr_free(struct tsmr_obj *o)
{
	WRITE_ONCE(o->canary, TSMR_DEAD);
	WRITE_ONCE(o->check, 0);
	kfree(o);
}

static void tsmr_cb(struct smr_node *node)
{
	struct tsmr_obj *o = container_of(node, struct tsmr_obj, node);

	if (READ_ONCE(o->canary) != TSMR_LIVE)
		torture_error(&torture_smr, "callback ran on a dead object %p (canary %#llx)",
			      o, o->canary);
	atomic_long_dec(&o->owner->pending[tsmr_dom_idx(o->dom)]);
	atomic_long_inc(&tsmr_stats.cb_run);
	tsmr_free(o);
}

static void tsmr_call(struct tsmr_obj *o, struct tsmr_writer *w, bool expedite)
{
	o->owner = w;
	atomic_long_inc(&w->pending[tsmr_dom_idx(o->dom)]);
	atomic_long_inc(&tsmr_stats.cb_queued);
	if (expedite)
		atomic_long_inc(&tsmr_stats.expedited);
	smr_call(o->dom->smr, &o->node,
		 expedite ? SMR_CALL_EXPEDITE : sizeof(*o), tsmr_cb);
}

/* ---------------------------------------------------------------------- */
/* Readers                                                                */
/* ---------------------------------------------------------------------- */

static void tsmr_read(struct torture_thread *th, struct tsmr_dom *d)
{
	struct tsmr_obj *o;
	int n = 1 + torture_random_n(th, 4);
	u32 delay = torture_random_n(th, 8);

	smr_enter(d->smr);
	while (n--) {
		o = smr_entered_load(&d->slots[torture_random_n(th, TSMR_SLOTS)]);
		if (!o)
			continue;
		tsmr_check(th, o, "on load");
		if (delay)
			udelay(delay);
		tsmr_check(th, o, "after a delay");
	}
	smr_leave(d->smr);
	atomic_long_inc(&tsmr_stats.reads);
}

static void tsmr_read_sleepable(struct torture_thread *th, struct tsmr_dom *d)
{
	struct smr_tracker trk;
	struct tsmr_obj *o;

	smr_enter_sleepable(d->smr, &trk);
	o = smr_entered_load(&d->slots[torture_random_n(th, TSMR_SLOTS)]);
	if (o)
		tsmr_check(th, o, "on load (sleepable)");
	switch (torture_random_n(th, 4)) {
	case 0:
		usleep_range(1000, 2000);
		break;
	case 1:
		usleep_range(20, 200);
		break;
	case 2:
		cond_resched();
		break;
	default:
		/* Let another task run on this CPU, section still open. */
		schedule_timeout_idle(1);
		break;
	}
	if (o)
		tsmr_check(th, o, "after sleeping in the section");
	smr_leave_sleepable(d->smr, &trk);
	atomic_long_inc(&tsmr_stats.sleepable_reads);
}

static int tsmr_reader_fn(void *arg)
{
	struct torture_thread *th = arg;
	unsigned long i = 0;

	while (!torture_must_stop()) {
		struct tsmr_dom *d = &tsmr_doms[torture_random_n(th, 2)];

		if (d == &tsmr_doms[0] && torture_chance(th, 25))
			tsmr_read_sleepable(th, d);
		else
			tsmr_read(th, d);
		atomic_long_inc(&th->t->ops);
		if (!(++i & 15))
			cond_resched();
	}
	torture_thread_done();
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Writers                                                                */
/* ---------------------------------------------------------------------- */

/* Free the retired objects whose goal was reached; bound the backlog. */
static void tsmr_limbo_reclaim(struct tsmr_writer *w)
{
	bool blocked[ARRAY_SIZE(tsmr_doms)] = {};
	struct tsmr_obj *o, *tmp;
	int di;

	/* A writer's goals grow per domain: stop at the first unmet one. */
	list_for_each_entry_safe(o, tmp, &w->limbo, limbo) {
		di = o->dom - tsmr_doms;
		if (blocked[di])
			continue;
		if (!smr_poll(o->dom->smr, o->goal)) {
			blocked[di] = true;
			continue;
		}
		list_del(&o->limbo);
		w->nlimbo--;
		atomic_long_inc(&tsmr_stats.polled);
		tsmr_free(o);
	}
	if (w->nlimbo > TSMR_LIMBO_COMMIT) {
		o = list_first_entry(&w->limbo, struct tsmr_obj, limbo);
		smr_deferred_advance_commit(o->dom->smr, o->goal);
		atomic_long_inc(&tsmr_stats.committed);
	}
	while (w->nlimbo > TSMR_LIMBO_MAX) {
		o = list_first_entry(&w->limbo, struct tsmr_obj, limbo);
		smr_wait(o->dom->smr, o->goal);
		list_del(&o->limbo);
		w->nlimbo--;
		atomic_long_inc(&tsmr_stats.waited);
		tsmr_free(o);
	}
}

static void tsmr_retire(struct torture_thread *th, struct tsmr_writer *w,
			struct tsmr_obj *old)
{
	struct tsmr_dom *d = old->dom;
	u32 r = torture_random_n(th, 100);
	unsigned long start = jiffies;
	smr_t smr = d->smr;
	long left;

	if (r < 1) {
		/*
		 * smr_barrier: every callback this writer queued on the
		 * domain before it has run (@old included: it is freed).
		 */
		tsmr_call(old, w, false);
		smr_barrier(smr);
		tsmr_latency(&tsmr_stats.max_barrier_ms, start);
		atomic_long_inc(&tsmr_stats.barrier);
		left = atomic_long_read(&w->pending[tsmr_dom_idx(d)]);
		if (left)
			torture_error(th->t,
				      "writer %d: %ld callbacks still pending after smr_barrier(%s)",
				      th->idx, left, d->name);
	} else if (r < 3) {
		smr_synchronize(smr);
		tsmr_latency(&tsmr_stats.max_sync_ms, start);
		atomic_long_inc(&tsmr_stats.synchronize);
		tsmr_free(old);
	} else if (r < 23) {
		tsmr_call(old, w, false);
	} else if (r < 50) {
		old->goal = torture_chance(th, 50) ? smr_advance(smr) :
			    smr_deferred_advance(smr);
		list_add_tail(&old->limbo, &w->limbo);
		w->nlimbo++;
		atomic_long_inc(&tsmr_stats.advanced);
	} else {
		tsmr_call(old, w, torture_chance(th, 2));
	}
}

static int tsmr_writer_fn(void *arg)
{
	struct torture_thread *th = arg;
	struct tsmr_writer *w = th->priv;
	struct tsmr_obj *o, *old;
	struct tsmr_dom *d;
	unsigned long i = 0;

	while (!torture_must_stop()) {
		/* Do not let callbacks pile up faster than SMR runs them. */
		if (atomic_long_read(&w->pending[0]) +
		    atomic_long_read(&w->pending[1]) > TSMR_MAX_PENDING) {
			torture_sleep_ms(10);
			continue;
		}
		d = &tsmr_doms[torture_random_n(th, 2)];
		o = kmalloc(sizeof(*o), GFP_KERNEL);
		if (!o) {
			atomic_long_inc(&tsmr_stats.nomem);
			torture_sleep_ms(10);
			continue;
		}
		o->gen = atomic64_inc_return(&tsmr_gen);
		o->check = tsmr_sum(o->gen);
		o->canary = TSMR_LIVE;
		o->dom = d;
		o->owner = w;
		old = smr_serialized_swap(&d->slots[torture_random_n(th, TSMR_SLOTS)], o);
		atomic_long_inc(&tsmr_stats.replaces);
		if (old)
			tsmr_retire(th, w, old);
		tsmr_limbo_reclaim(w);
		atomic_long_inc(&th->t->ops);
		if (!(++i & 7))
			cond_resched();
	}
	torture_thread_done();
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Setup and final checks                                                 */
/* ---------------------------------------------------------------------- */

static int tsmr_start(struct torture *t)
{
	int i, ret, nreaders = torture_nthreads_used;

	tsmr_misuse_before = smr_misuse_count(NULL);
	tsmr_doms[0].smr = smr_domain_create(SMR_SLEEPABLE, tsmr_doms[0].name);
	tsmr_doms[1].smr = smr_domain_create(SMR_NONE, tsmr_doms[1].name);
	if (!tsmr_doms[0].smr || !tsmr_doms[1].smr)
		return -ENOMEM;
	tsmr_nwriters = DIV_ROUND_UP(torture_nthreads_used, 2);
	tsmr_writers = kcalloc(tsmr_nwriters, sizeof(*tsmr_writers), GFP_KERNEL);
	if (!tsmr_writers)
		return -ENOMEM;
	for (i = 0; i < tsmr_nwriters; i++)
		INIT_LIST_HEAD(&tsmr_writers[i].limbo);
	for (i = 0; i < tsmr_nwriters; i++) {
		ret = torture_start_thread(t, tsmr_writer_fn, &tsmr_writers[i]);
		if (ret)
			return ret;
	}
	for (i = 0; i < nreaders; i++) {
		ret = torture_start_thread(t, tsmr_reader_fn, NULL);
		if (ret)
			return ret;
	}
	return 0;
}

static void tsmr_finish(struct torture *t)
{
	unsigned long queued, run, misuse;
	struct tsmr_obj *o, *tmp;
	int i, j;
	long left;

	/* Retire everything still published, through smr_call(). */
	for (i = 0; i < ARRAY_SIZE(tsmr_doms); i++) {
		struct tsmr_dom *d = &tsmr_doms[i];

		if (!d->smr)
			continue;
		for (j = 0; j < TSMR_SLOTS; j++) {
			o = smr_serialized_swap(&d->slots[j], NULL);
			if (o)
				tsmr_call(o, &tsmr_final_owner, false);
		}
	}
	/* Objects waiting for a goal: smr_wait() commits and waits. */
	for (i = 0; tsmr_writers && i < tsmr_nwriters; i++) {
		list_for_each_entry_safe(o, tmp, &tsmr_writers[i].limbo, limbo) {
			smr_wait(o->dom->smr, o->goal);
			list_del(&o->limbo);
			atomic_long_inc(&tsmr_stats.waited);
			tsmr_free(o);
		}
		tsmr_writers[i].nlimbo = 0;
	}
	for (i = 0; i < ARRAY_SIZE(tsmr_doms); i++) {
		struct tsmr_dom *d = &tsmr_doms[i];

		if (!d->smr)
			continue;
		smr_barrier(d->smr);
		atomic_long_inc(&tsmr_stats.barrier);
		queued = __smr_cb_queued(d->smr);
		run = atomic_long_read(&d->smr->smr_cb_run);
		if (queued != run)
			torture_error(t,
				      "%s: domain ran %lu callbacks of %lu queued after smr_barrier",
				      d->name, run, queued);
		misuse = smr_misuse_count(d->smr);
		if (misuse)
			torture_error(t, "%s: %lu misuse reports", d->name, misuse);
	}
	queued = atomic_long_read(&tsmr_stats.cb_queued);
	run = atomic_long_read(&tsmr_stats.cb_run);
	if (queued != run)
		torture_error(t, "callbacks run %lu != callbacks queued %lu", run, queued);
	for (j = 0; j < ARRAY_SIZE(tsmr_doms); j++) {
		for (i = 0; tsmr_writers && i < tsmr_nwriters; i++) {
			left = atomic_long_read(&tsmr_writers[i].pending[j]);
			if (left)
				torture_error(t, "writer %d: %ld callbacks on %s never ran",
					      i, left, tsmr_doms[j].name);
		}
		left = atomic_long_read(&tsmr_final_owner.pending[j]);
		if (left)
			torture_error(t, "%ld final callbacks on %s never ran",
				      left, tsmr_doms[j].name);
	}
	misuse = smr_misuse_count(NULL) - tsmr_misuse_before;
	if (misuse)
		torture_error(t, "%lu SMR misuse reports not tied to a domain", misuse);

	for (i = 0; i < ARRAY_SIZE(tsmr_doms); i++) {
		smr_domain_free(tsmr_doms[i].smr);
		tsmr_doms[i].smr = NULL;
	}
	kfree(tsmr_writers);
	tsmr_writers = NULL;
}

static void tsmr_summary(struct torture *t, struct seq_buf *s)
{
	seq_buf_printf(s, " reads=%ld sleepable_reads=%ld canary_checks=%ld replaces=%ld",
		       atomic_long_read(&tsmr_stats.reads),
		       atomic_long_read(&tsmr_stats.sleepable_reads),
		       atomic_long_read(&tsmr_stats.checks),
		       atomic_long_read(&tsmr_stats.replaces));
	seq_buf_printf(s, " cb_queued=%ld cb_run=%ld expedited=%ld synchronize=%ld barrier=%ld",
		       atomic_long_read(&tsmr_stats.cb_queued),
		       atomic_long_read(&tsmr_stats.cb_run),
		       atomic_long_read(&tsmr_stats.expedited),
		       atomic_long_read(&tsmr_stats.synchronize),
		       atomic_long_read(&tsmr_stats.barrier));
	seq_buf_printf(s, " max_synchronize_ms=%u max_barrier_ms=%u",
		       READ_ONCE(tsmr_stats.max_sync_ms),
		       READ_ONCE(tsmr_stats.max_barrier_ms));
	seq_buf_printf(s, " advance=%ld poll_freed=%ld commit=%ld wait=%ld nomem=%ld writers=%d",
		       atomic_long_read(&tsmr_stats.advanced),
		       atomic_long_read(&tsmr_stats.polled),
		       atomic_long_read(&tsmr_stats.committed),
		       atomic_long_read(&tsmr_stats.waited),
		       atomic_long_read(&tsmr_stats.nomem), tsmr_nwriters);
}

struct torture torture_smr = {
	.name = "smr",
	.start = tsmr_start,
	.finish = tsmr_finish,
	.summary = tsmr_summary,
};
