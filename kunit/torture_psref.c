// SPDX-License-Identifier: GPL-2.0
/*
 * psref torture.  Objects embedding a psref target sit in RCU-protected
 * hash buckets.  Reader kthreads (spread over the CPUs by the scheduler,
 * and moved around by CPU hotplug) bind themselves, look an object up
 * under rcu_read_lock(), psref_acquire() it and hold it: under
 * migrate_disable() while sleeping (usleep_range, cond_resched),
 * or with preemption, bottom halves or interrupts disabled while spinning;
 * some copy the reference with psref_copy().  While holding, they check
 * the object's canary, psref_held(), and count themselves in the object's
 * holder count.
 *
 * The writer inserts new objects and removes old ones the NetBSD way:
 * unlink (list_del_rcu), psref_target_drain() -- after which no holder may
 * remain, which the holder count checks -- then, once an RCU grace period
 * has passed (no lookup can still reach it), psref_target_destroy(),
 * poison the canary and kfree().  At the end every object goes the same
 * way and the class is destroyed with no reference held.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bottom_half.h>
#include <linux/delay.h>
#include <linux/irqflags.h>
#include <linux/list.h>
#include <linux/preempt.h>
#include <linux/rculist.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <kprim/psref.h>

#include "torture.h"

#define TPS_BUCKETS		16
#define TPS_OBJS		64	/* population the writer aims at */
#define TPS_GRAVE_MAX		64	/* drained objects before a forced GP */
#define TPS_LIVE		0x505352454c495645ULL
#define TPS_DEAD		0x7073726564656164ULL

struct tps_obj {
	struct psref_target target;
	u64 canary;
	u64 id;
	atomic_t nholders;
	struct list_head link;		/* bucket, RCU */
	struct list_head grave;		/* writer's drained list */
	unsigned long gp;		/* RCU cookie taken after the drain */
};

static struct {
	struct psref_class *class;
	spinlock_t lock;		/* bucket updates, nobjs */
	struct list_head buckets[TPS_BUCKETS];
	int nobjs;
	struct list_head grave;		/* the writer's, then ->finish()'s */
	int ngrave;
	u64 next_id;
	unsigned long misuse_before;
} tps;

static struct {
	atomic_long_t lookups, acquired, enoent, copies, sleeps, held_checks;
	atomic_long_t inserted, drained, destroyed, forced_gp, nomem;
	atomic_long_t by_mode[4];
} tps_stats;

enum { TPS_MIGRATE, TPS_PREEMPT, TPS_BH, TPS_IRQ };

static void tps_check(struct torture_thread *th, struct tps_obj *o,
		      const char *when)
{
	u64 canary = READ_ONCE(o->canary);

	if (canary != TPS_LIVE)
		torture_error(th->t, "reader %d %s: held object %p (id %llu) is %s (canary %#llx)",
			      th->idx, when, o, o->id,
			      canary == TPS_DEAD ? "destroyed" : "corrupt", canary);
}

static struct tps_obj *tps_lookup(struct torture_thread *th)
{
	struct list_head *b = &tps.buckets[torture_random_n(th, TPS_BUCKETS)];
	int k = torture_random_n(th, 4);
	struct tps_obj *o, *found = NULL;

	list_for_each_entry_rcu(o, b, link) {
		found = o;
		if (!k--)
			break;
	}
	return found;
}

static void tps_read(struct torture_thread *th)
{
	struct psref ref, ref2;
	unsigned long irqflags = 0;
	struct tps_obj *o;
	bool copied;
	u32 r = torture_random_n(th, 100);
	int mode, err;

	mode = r < 40 ? TPS_MIGRATE : r < 80 ? TPS_PREEMPT : r < 90 ? TPS_BH : TPS_IRQ;
	switch (mode) {
	case TPS_MIGRATE:
		migrate_disable();
		break;
	case TPS_PREEMPT:
		preempt_disable();
		break;
	case TPS_BH:
		local_bh_disable();
		break;
	default:
		local_irq_save(irqflags);
		break;
	}

	atomic_long_inc(&tps_stats.lookups);
	rcu_read_lock();
	o = tps_lookup(th);
	err = o ? psref_acquire(&ref, &o->target, tps.class) : 0;
	rcu_read_unlock();
	if (!o)
		goto out;
	if (err == -ENOENT) {
		atomic_long_inc(&tps_stats.enoent);
		goto out;
	}
	if (err) {
		torture_error(th->t, "reader %d: psref_acquire(%p) = %d", th->idx, o, err);
		goto out;
	}
	atomic_long_inc(&tps_stats.acquired);
	atomic_long_inc(&tps_stats.by_mode[mode]);
	atomic_inc(&o->nholders);
	tps_check(th, o, "after acquire");
	atomic_long_inc(&tps_stats.held_checks);
	if (!psref_held(&o->target, tps.class))
		torture_error(th->t, "reader %d: psref_held(%p) is false while held",
			      th->idx, o);

	copied = torture_chance(th, 20);
	if (copied) {
		psref_copy(&ref2, &ref, tps.class);
		atomic_long_inc(&tps_stats.copies);
	}
	if (mode == TPS_MIGRATE) {
		atomic_long_inc(&tps_stats.sleeps);
		switch (torture_random_n(th, 3)) {
		case 0:
			usleep_range(1000, 2000);
			break;
		case 1:
			usleep_range(20, 200);
			break;
		default:
			cond_resched();
			break;
		}
	} else {
		udelay(torture_random_n(th, 6));
	}
	tps_check(th, o, "while holding");
	if (copied && torture_chance(th, 50)) {
		/* Drop the original first: the copy alone pins it. */
		psref_release(&ref, &o->target, tps.class);
		tps_check(th, o, "holding the copy");
		atomic_dec(&o->nholders);
		psref_release(&ref2, &o->target, tps.class);
	} else {
		if (copied)
			psref_release(&ref2, &o->target, tps.class);
		atomic_dec(&o->nholders);
		psref_release(&ref, &o->target, tps.class);
	}
out:
	switch (mode) {
	case TPS_MIGRATE:
		migrate_enable();
		break;
	case TPS_PREEMPT:
		preempt_enable();
		break;
	case TPS_BH:
		local_bh_enable();
		break;
	default:
		local_irq_restore(irqflags);
		break;
	}
}

static int tps_reader_fn(void *arg)
{
	struct torture_thread *th = arg;
	unsigned long i = 0;

	while (!torture_must_stop()) {
		tps_read(th);
		atomic_long_inc(&th->t->ops);
		/*
		 * CPU hot-unplug waits for the migrate-disabled tasks of the
		 * dying CPU, and moves a task away only when it schedules
		 * while not migrate-disabled.  A reader that sleeps only
		 * while holding (migrate-disabled) and is otherwise alone on
		 * the CPU never does: it would hold the unplug off for the
		 * whole run.  Sleep now and then outside the sections.
		 */
		if (!(++i & 15))
			torture_sleep_ms(1);
	}
	torture_thread_done();
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Writer                                                                 */
/* ---------------------------------------------------------------------- */

static void tps_destroy(struct torture *t, struct tps_obj *o)
{
	bool held;

	preempt_disable();
	held = psref_held(&o->target, tps.class);
	preempt_enable();
	if (held)
		torture_error(t, "object %p (id %llu) held by the destroyer", o, o->id);
	psref_target_destroy(&o->target, tps.class);
	WRITE_ONCE(o->canary, TPS_DEAD);
	kfree(o);
	atomic_long_inc(&tps_stats.destroyed);
}

/* Unlinked: drain, then wait for a grace period before destroying. */
static void tps_drain(struct torture *t, struct tps_obj *o)
{
	int n;

	psref_target_drain(&o->target, tps.class);
	atomic_long_inc(&tps_stats.drained);
	n = atomic_read(&o->nholders);
	if (n)
		torture_error(t, "psref_target_drain(%p) returned with %d holders", o, n);
	o->gp = get_state_synchronize_rcu();
	list_add_tail(&o->grave, &tps.grave);
	tps.ngrave++;
}

static void tps_reap(struct torture *t, bool force)
{
	struct tps_obj *o, *tmp;

	if (force && tps.ngrave) {
		synchronize_rcu();
		atomic_long_inc(&tps_stats.forced_gp);
	}
	list_for_each_entry_safe(o, tmp, &tps.grave, grave) {
		if (!poll_state_synchronize_rcu(o->gp))
			break;
		list_del(&o->grave);
		tps.ngrave--;
		tps_destroy(t, o);
	}
}

static void tps_insert(struct torture_thread *th)
{
	struct tps_obj *o = kzalloc(sizeof(*o), GFP_KERNEL);

	if (!o) {
		atomic_long_inc(&tps_stats.nomem);
		torture_sleep_ms(10);
		return;
	}
	psref_target_init(&o->target, tps.class);
	o->canary = TPS_LIVE;
	atomic_set(&o->nholders, 0);
	spin_lock(&tps.lock);
	o->id = ++tps.next_id;
	list_add_rcu(&o->link, &tps.buckets[torture_random_n(th, TPS_BUCKETS)]);
	tps.nobjs++;
	spin_unlock(&tps.lock);
	atomic_long_inc(&tps_stats.inserted);
}

static void tps_remove(struct torture_thread *th)
{
	struct list_head *b = &tps.buckets[torture_random_n(th, TPS_BUCKETS)];
	struct tps_obj *o;

	spin_lock(&tps.lock);
	o = list_first_entry_or_null(b, struct tps_obj, link);
	if (o) {
		list_del_rcu(&o->link);
		tps.nobjs--;
	}
	spin_unlock(&tps.lock);
	if (o)
		tps_drain(th->t, o);
}

static int tps_writer_fn(void *arg)
{
	struct torture_thread *th = arg;
	int n;

	while (!torture_must_stop()) {
		n = READ_ONCE(tps.nobjs);
		if (n < TPS_OBJS / 2 || (n < 2 * TPS_OBJS && torture_chance(th, 50)))
			tps_insert(th);
		else
			tps_remove(th);
		tps_reap(th->t, tps.ngrave > TPS_GRAVE_MAX);
		atomic_long_inc(&th->t->ops);
		cond_resched();
	}
	torture_thread_done();
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Setup and final checks                                                 */
/* ---------------------------------------------------------------------- */

static int tps_start(struct torture *t)
{
	int i, ret;

	spin_lock_init(&tps.lock);
	for (i = 0; i < TPS_BUCKETS; i++)
		INIT_LIST_HEAD(&tps.buckets[i]);
	INIT_LIST_HEAD(&tps.grave);
	tps.misuse_before = psref_misuse_count(NULL);
	tps.class = psref_class_create(TORTURE_PREFIX "_psref", IPL_NONE);
	if (!tps.class)
		return -ENOMEM;
	ret = torture_start_thread(t, tps_writer_fn, NULL);
	for (i = 0; !ret && i < torture_nthreads_used; i++)
		ret = torture_start_thread(t, tps_reader_fn, NULL);
	return ret;
}

static void tps_finish(struct torture *t)
{
	struct tps_obj *o, *tmp;
	unsigned long misuse;
	LIST_HEAD(all);
	int i;

	if (!tps.class)
		return;
	spin_lock(&tps.lock);
	for (i = 0; i < TPS_BUCKETS; i++) {
		list_for_each_entry_safe(o, tmp, &tps.buckets[i], link) {
			list_del_rcu(&o->link);
			list_add_tail(&o->grave, &all);
		}
	}
	tps.nobjs = 0;
	spin_unlock(&tps.lock);
	list_for_each_entry_safe(o, tmp, &all, grave) {
		list_del(&o->grave);
		tps_drain(t, o);
	}
	tps_reap(t, true);
	if (tps.ngrave)
		torture_error(t, "%d drained objects left after a grace period", tps.ngrave);

	misuse = psref_misuse_count(tps.class);
	if (misuse)
		torture_error(t, "class %s: %lu misuse reports", TORTURE_PREFIX "_psref", misuse);
	psref_class_destroy(tps.class);
	tps.class = NULL;
	misuse = psref_misuse_count(NULL) - tps.misuse_before;
	if (misuse)
		torture_error(t, "%lu psref misuse reports not tied to a class", misuse);
}

static void tps_summary(struct torture *t, struct seq_buf *s)
{
	seq_buf_printf(s,
		       " lookups=%ld acquired=%ld enoent=%ld copies=%ld held_sleeping=%ld held_checks=%ld",
		       atomic_long_read(&tps_stats.lookups),
		       atomic_long_read(&tps_stats.acquired),
		       atomic_long_read(&tps_stats.enoent),
		       atomic_long_read(&tps_stats.copies),
		       atomic_long_read(&tps_stats.sleeps),
		       atomic_long_read(&tps_stats.held_checks));
	seq_buf_printf(s, " migrate=%ld preempt=%ld bh=%ld irq=%ld",
		       atomic_long_read(&tps_stats.by_mode[TPS_MIGRATE]),
		       atomic_long_read(&tps_stats.by_mode[TPS_PREEMPT]),
		       atomic_long_read(&tps_stats.by_mode[TPS_BH]),
		       atomic_long_read(&tps_stats.by_mode[TPS_IRQ]));
	seq_buf_printf(s, " inserted=%ld drained=%ld destroyed=%ld forced_gp=%ld nomem=%ld",
		       atomic_long_read(&tps_stats.inserted),
		       atomic_long_read(&tps_stats.drained),
		       atomic_long_read(&tps_stats.destroyed),
		       atomic_long_read(&tps_stats.forced_gp),
		       atomic_long_read(&tps_stats.nomem));
}

struct torture torture_psref = {
	.name = "psref",
	.start = tps_start,
	.finish = tps_finish,
	.summary = tps_summary,
};
