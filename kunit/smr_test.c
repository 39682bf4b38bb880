// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for kprim smr: the clock, read sections (plain and
 * sleepable), grace-period detection including wraparound, smr_call
 * progress, barrier, CPU hotplug, a use-after-free torture test under
 * KASAN, every SMR pointer accessor, the four SMR queue kinds against an
 * array model, and one _warns case per misuse check.
 */

#include <kunit/test.h>
#include <linux/cpu.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/irq_work.h>
#include <linux/kthread.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/srcu.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <kprim/smr.h>

/* Documented bound on an idle system (SMR_CALL_DELAY_MS + a grace period). */
#define SMR_TEST_PROGRESS_MS	100
/* TCG + KASAN slack on top of it. */
#define SMR_TEST_SLACK		5

#define SMR_MISUSE_DELTA(smr, before)	(smr_misuse_count(smr) - (before))

static smr_t smr_test_domain(struct kunit *test, smr_flags_t flags)
{
	smr_t smr = smr_domain_create(flags, "kunit");

	KUNIT_ASSERT_NOT_NULL(test, smr);
	return smr;
}

static bool smr_test_live(smr_t smr)
{
	return !!READ_ONCE(smr->smr_pcpu);
}

/* Start the clock @incs increments below the wrap of unsigned long. */
static void smr_test_set_clock(smr_t smr, unsigned int incs)
{
	smr_seq_t s = (smr_seq_t)ULONG_MAX - 1 - (smr_seq_t)incs * SMR_SEQ_INC;

	atomic_long_set(&smr->smr_clock.s_rd_seq, (long)s);
	atomic_long_set(&smr->smr_clock.s_wr_seq, (long)s);
}

static smr_seq_t smr_test_wr(smr_t smr)
{
	return (smr_seq_t)atomic_long_read(&smr->smr_clock.s_wr_seq);
}

static smr_seq_t smr_test_rd(smr_t smr)
{
	return (smr_seq_t)atomic_long_read(&smr->smr_clock.s_rd_seq);
}

/* ---------------------------------------------------------------------- */

static void smr_test_domains(struct kunit *test)
{
	smr_t a = smr_test_domain(test, SMR_NONE);
	smr_t b = smr_test_domain(test, SMR_SLEEPABLE);

	KUNIT_EXPECT_TRUE(test, smr_test_live(a));
	KUNIT_EXPECT_STREQ(test, a->smr_name, "kunit");
	KUNIT_EXPECT_EQ(test, b->smr_flags, SMR_SLEEPABLE);
	KUNIT_EXPECT_EQ(test, smr_test_wr(a), SMR_SEQ_INIT);
	KUNIT_EXPECT_EQ(test, smr_test_rd(a), SMR_SEQ_INIT);
	KUNIT_EXPECT_TRUE(test, smr_test_live(&smr_system));
	KUNIT_EXPECT_TRUE(test, smr_test_live(&smr_system_sleepable));
	KUNIT_EXPECT_EQ(test, smr_system_sleepable.smr_flags, SMR_SLEEPABLE);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(a), 0UL);
	smr_domain_free(a);
	smr_domain_free(b);
	smr_domain_free(NULL);
}

static SMR_DEFINE(smr_test_static, "kunit_static");
static SMR_DEFINE_SLEEPABLE(smr_test_static_sl, "kunit_static_sl");

static void smr_test_static_domain(struct kunit *test)
{
	struct smr_tracker t;

	KUNIT_ASSERT_EQ(test, smr_domain_init(&smr_test_static), 0);
	KUNIT_ASSERT_EQ(test, smr_domain_init(&smr_test_static_sl), 0);
	smr_enter(&smr_test_static);
	KUNIT_EXPECT_TRUE(test, smr_entered(&smr_test_static));
	smr_leave(&smr_test_static);
	smr_enter_sleepable(&smr_test_static_sl, &t);
	KUNIT_EXPECT_TRUE(test, smr_entered(&smr_test_static_sl));
	smr_leave_sleepable(&smr_test_static_sl, &t);
	KUNIT_EXPECT_FALSE(test, smr_entered(&smr_test_static_sl));
	smr_synchronize(&smr_test_static);
	smr_synchronize(&smr_test_static_sl);
	smr_domain_fini(&smr_test_static);
	smr_domain_fini(&smr_test_static_sl);
	KUNIT_EXPECT_FALSE(test, smr_test_live(&smr_test_static));
	KUNIT_EXPECT_EQ(test, smr_misuse_count(&smr_test_static), 0UL);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(&smr_test_static_sl), 0UL);
}

static void smr_test_clock(struct kunit *test)
{
	smr_t smr = smr_test_domain(test, SMR_NONE);
	smr_seq_t w0 = smr_test_wr(smr), g, d;

	g = smr_advance(smr);
	KUNIT_EXPECT_EQ(test, g, w0 + SMR_SEQ_INC);
	KUNIT_EXPECT_EQ(test, smr_test_wr(smr), g);
	KUNIT_EXPECT_TRUE(test, smr_poll(smr, g));
	KUNIT_EXPECT_EQ(test, smr_test_rd(smr), g);

	d = smr_deferred_advance(smr);
	KUNIT_EXPECT_EQ(test, d, g + SMR_SEQ_INC);
	KUNIT_EXPECT_EQ(test, smr_test_wr(smr), g);
	/* Not committed: not reached. */
	KUNIT_EXPECT_FALSE(test, smr_poll(smr, d));
	smr_deferred_advance_commit(smr, d);
	KUNIT_EXPECT_EQ(test, smr_test_wr(smr), d);
	smr_deferred_advance_commit(smr, d);
	KUNIT_EXPECT_EQ(test, smr_test_wr(smr), d);
	KUNIT_EXPECT_TRUE(test, smr_poll(smr, d));

	/* smr_wait() commits a deferred goal itself. */
	d = smr_deferred_advance(smr);
	smr_wait(smr, d);
	KUNIT_EXPECT_EQ(test, smr_test_wr(smr), d);
	KUNIT_EXPECT_EQ(test, smr_test_rd(smr), d);

	/* Two deferred goals taken together share one advance. */
	g = smr_deferred_advance(smr);
	d = smr_deferred_advance(smr);
	KUNIT_EXPECT_EQ(test, g, d);
	smr_synchronize(smr);
	KUNIT_EXPECT_TRUE(test, smr_poll(smr, g));
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 0UL);
	smr_domain_free(smr);
}

static void smr_test_seq_cmp(struct kunit *test)
{
	smr_seq_t top = (smr_seq_t)ULONG_MAX - 1;

	KUNIT_EXPECT_TRUE(test, SMR_SEQ_CMP(top + SMR_SEQ_INC, >, top));
	KUNIT_EXPECT_TRUE(test, SMR_SEQ_CMP(top, <, top + SMR_SEQ_INC));
	KUNIT_EXPECT_TRUE(test, SMR_SEQ_CMP(top, <=, top));
	KUNIT_EXPECT_EQ(test, top + SMR_SEQ_INC, SMR_SEQ_INIT);
	KUNIT_EXPECT_FALSE(test, SMR_SEQ_CMP((smr_seq_t)SMR_SEQ_INIT, <, top));
}

/* A reader inside a section holds back goals taken after it entered. */
static void smr_test_reader_blocks_poll(struct kunit *test)
{
	smr_t smr = smr_test_domain(test, SMR_NONE);
	smr_seq_t before, goal;

	before = smr_advance(smr);
	smr_enter(smr);
	KUNIT_EXPECT_TRUE(test, smr_entered(smr));
	goal = smr_advance(smr);
	/* The section started before @goal: not reached, but @before is. */
	KUNIT_EXPECT_FALSE(test, smr_poll(smr, goal));
	KUNIT_EXPECT_FALSE(test, smr_poll(smr, goal));
	KUNIT_EXPECT_TRUE(test, smr_poll(smr, before));
	smr_leave(smr);
	KUNIT_EXPECT_FALSE(test, smr_entered(smr));
	KUNIT_EXPECT_TRUE(test, smr_poll(smr, goal));
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 0UL);
	smr_domain_free(smr);
}

static void smr_test_sleepable_blocks_poll(struct kunit *test)
{
	smr_t smr = smr_test_domain(test, SMR_SLEEPABLE);
	struct smr_tracker t;
	smr_seq_t goal;

	smr_enter_sleepable(smr, &t);
	KUNIT_EXPECT_TRUE(test, smr_entered(smr));
	goal = smr_advance(smr);
	msleep(20);	/* Sleeping inside is allowed. */
	KUNIT_EXPECT_FALSE(test, smr_poll(smr, goal));
	smr_leave_sleepable(smr, &t);
	KUNIT_EXPECT_FALSE(test, smr_entered(smr));
	KUNIT_EXPECT_TRUE(test, smr_poll(smr, goal));
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 0UL);
	smr_domain_free(smr);
}

struct smr_test_holder {
	smr_t smr;
	bool sleepable;
	unsigned int hold_ms;
	atomic_t entered;
	atomic_t left;
};

static int smr_test_holder_fn(void *arg)
{
	struct smr_test_holder *h = arg;
	struct smr_tracker t;

	if (h->sleepable) {
		smr_enter_sleepable(h->smr, &t);
		atomic_set(&h->entered, 1);
		msleep(h->hold_ms);
		atomic_set(&h->left, 1);
		smr_leave_sleepable(h->smr, &t);
	} else {
		smr_enter(h->smr);
		atomic_set(&h->entered, 1);
		mdelay(h->hold_ms);
		atomic_set(&h->left, 1);
		smr_leave(h->smr);
	}
	return 0;
}

static void smr_test_wait_for_reader(struct kunit *test, smr_flags_t flags,
				     unsigned int wraps)
{
	struct smr_test_holder h = { .hold_ms = 50 };
	struct task_struct *tsk;
	smr_seq_t goal;
	int cpu, other;

	h.smr = smr_test_domain(test, flags);
	h.sleepable = flags & SMR_SLEEPABLE;
	if (wraps)
		smr_test_set_clock(h.smr, wraps);
	cpu = get_cpu();
	other = cpumask_any_but(cpu_online_mask, cpu);
	put_cpu();
	/* A sleepable reader can be waited for on one CPU, a plain one not. */
	if (other >= nr_cpu_ids && !h.sleepable) {
		smr_domain_free(h.smr);
		kunit_skip(test, "needs a second online CPU");
	}
	tsk = kthread_create(smr_test_holder_fn, &h, "smr_holder");
	KUNIT_ASSERT_FALSE(test, IS_ERR(tsk));
	if (other < nr_cpu_ids)
		kthread_bind(tsk, other);
	get_task_struct(tsk);
	wake_up_process(tsk);
	while (!atomic_read(&h.entered))
		schedule_timeout_uninterruptible(1);
	/* Cross the wrap while the reader is inside. */
	goal = smr_advance(h.smr);
	while (wraps-- > 0)
		goal = smr_advance(h.smr);
	KUNIT_EXPECT_FALSE(test, smr_poll(h.smr, goal));
	smr_wait(h.smr, goal);
	KUNIT_EXPECT_EQ(test, atomic_read(&h.left), 1);
	KUNIT_EXPECT_TRUE(test, smr_poll(h.smr, goal));
	kthread_stop(tsk);
	put_task_struct(tsk);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(h.smr), 0UL);
	smr_domain_free(h.smr);
}

static void smr_test_wait(struct kunit *test)
{
	smr_test_wait_for_reader(test, SMR_NONE, 0);
}

static void smr_test_wait_sleepable(struct kunit *test)
{
	smr_test_wait_for_reader(test, SMR_SLEEPABLE, 0);
}

static void smr_test_wait_wrap(struct kunit *test)
{
	smr_test_wait_for_reader(test, SMR_NONE, 3);
}

static void smr_test_wraparound(struct kunit *test)
{
	smr_t smr = smr_test_domain(test, SMR_NONE);
	smr_seq_t goal, prev;
	int i;

	smr_test_set_clock(smr, 3);
	prev = smr_test_wr(smr);
	for (i = 0; i < 8; i++) {
		smr_enter(smr);
		goal = smr_advance(smr);
		KUNIT_EXPECT_NE(test, goal, SMR_SEQ_INVALID);
		KUNIT_EXPECT_TRUE(test, SMR_SEQ_CMP(goal, >, prev));
		KUNIT_EXPECT_FALSE(test, smr_poll(smr, goal));
		smr_leave(smr);
		KUNIT_EXPECT_TRUE(test, smr_poll(smr, goal));
		KUNIT_EXPECT_EQ(test, smr_test_rd(smr), goal);
		prev = goal;
	}
	/* We went past the wrap. */
	KUNIT_EXPECT_LT(test, smr_test_wr(smr), (smr_seq_t)64);
	goal = smr_deferred_advance(smr);
	smr_wait(smr, goal);
	KUNIT_EXPECT_EQ(test, smr_test_rd(smr), goal);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 0UL);
	smr_domain_free(smr);
}

/* ---------------------------------------------------------------------- */
/* smr_call                                                               */
/* ---------------------------------------------------------------------- */

struct smr_test_cb {
	struct smr_node node;
	atomic_long_t *count;
	unsigned long ran_at;
};

static void smr_test_count_cb(struct smr_node *node)
{
	struct smr_test_cb *c = container_of(node, struct smr_test_cb, node);

	WRITE_ONCE(c->ran_at, jiffies);
	atomic_long_inc(c->count);
}

static void smr_test_call_progress(struct kunit *test)
{
	smr_t smr = smr_test_domain(test, SMR_NONE);
	atomic_long_t count = ATOMIC_LONG_INIT(0);
	struct smr_test_cb c = { .count = &count };
	unsigned long t0, limit;

	t0 = jiffies;
	limit = t0 + msecs_to_jiffies(SMR_TEST_PROGRESS_MS * SMR_TEST_SLACK);
	smr_call(smr, &c.node, sizeof(c), smr_test_count_cb);
	while (!atomic_long_read(&count) && time_before(jiffies, limit + HZ))
		usleep_range(2000, 5000);
	KUNIT_ASSERT_EQ(test, atomic_long_read(&count), 1L);
	kunit_info(test, "one callback on an idle domain ran after %u ms\n",
		   jiffies_to_msecs(c.ran_at - t0));
	KUNIT_EXPECT_TRUE(test, time_before_eq(c.ran_at, limit));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&smr->smr_cb_run), 1L);
	smr_domain_free(smr);
}

static void smr_test_call_expedite(struct kunit *test)
{
	smr_t smr = smr_test_domain(test, SMR_NONE);
	atomic_long_t count = ATOMIC_LONG_INIT(0);
	struct smr_test_cb c = { .count = &count };
	struct smr_test_cb c2 = { .count = &count };
	smr_seq_t goal;

	/* A callback never runs while a reader from before it is inside. */
	smr_enter(smr);
	smr_leave(smr);
	smr_call(smr, &c.node, SMR_CALL_EXPEDITE, smr_test_count_cb);
	goal = smr_advance(smr);
	smr_wait(smr, goal);
	smr_barrier(smr);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&count), 1L);
	smr_call(smr, &c2.node, SMR_CALL_EXPEDITE, smr_test_count_cb);
	smr_barrier(smr);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&count), 2L);
	smr_domain_free(smr);
}

/* Run @h's reader in a kthread (with a reference) and wait until it entered. */
static struct task_struct *smr_test_start_holder(struct kunit *test,
						 struct smr_test_holder *h)
{
	struct task_struct *tsk;

	tsk = kthread_run(smr_test_holder_fn, h, "smr_holder");
	KUNIT_ASSERT_FALSE(test, IS_ERR(tsk));
	get_task_struct(tsk);
	while (!atomic_read(&h->entered))
		usleep_range(1000, 2000);
	return tsk;
}

static void smr_test_call_blocked_by_reader(struct kunit *test)
{
	struct smr_test_holder h = { .hold_ms = 200, .sleepable = true };
	atomic_long_t count = ATOMIC_LONG_INIT(0);
	struct smr_test_cb c = { .count = &count };
	struct task_struct *tsk;

	h.smr = smr_test_domain(test, SMR_SLEEPABLE);
	tsk = smr_test_start_holder(test, &h);
	smr_call(h.smr, &c.node, SMR_CALL_EXPEDITE, smr_test_count_cb);
	msleep(50);
	/* The sleepable reader is still inside: nothing ran. */
	KUNIT_EXPECT_EQ(test, atomic_read(&h.left), 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&count), 0L);
	smr_barrier(h.smr);
	KUNIT_EXPECT_EQ(test, atomic_read(&h.left), 1);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&count), 1L);
	kthread_stop(tsk);
	put_task_struct(tsk);
	smr_domain_free(h.smr);
}

/* A callback that sleeps, so that smr_barrier() finds it running. */
struct smr_test_slow_cb {
	struct smr_node node;
	atomic_t started;
	atomic_t done;
};

static void smr_test_slow_cb_fn(struct smr_node *node)
{
	struct smr_test_slow_cb *c = container_of(node, struct smr_test_slow_cb,
						  node);

	atomic_set(&c->started, 1);
	msleep(200);
	atomic_set(&c->done, 1);
}

/*
 * smr_barrier() skips CPUs with empty queues, but not one whose worker is
 * running a batch: a callback queued before the barrier and still running
 * when the barrier starts has returned when it returns.
 */
static void smr_test_barrier_running_cb(struct kunit *test)
{
	smr_t smr = smr_test_domain(test, SMR_NONE);
	struct smr_test_slow_cb c = {};
	unsigned long limit = jiffies + 10 * HZ;

	smr_call(smr, &c.node, SMR_CALL_EXPEDITE, smr_test_slow_cb_fn);
	while (!atomic_read(&c.started) && time_before(jiffies, limit))
		usleep_range(1000, 2000);
	KUNIT_ASSERT_EQ(test, atomic_read(&c.started), 1);
	/* The queues are empty now: only the running batch is left. */
	smr_barrier(smr);
	KUNIT_EXPECT_EQ(test, atomic_read(&c.done), 1);
	smr_domain_free(smr);
}

/*
 * With nothing queued, smr_barrier() skips every CPU and waits for a goal
 * itself: it still waits for a reader that entered before it.
 */
static void smr_test_barrier_idle_waits_reader(struct kunit *test)
{
	struct smr_test_holder h = { .hold_ms = 100, .sleepable = true };
	struct task_struct *tsk;

	h.smr = smr_test_domain(test, SMR_SLEEPABLE);
	tsk = smr_test_start_holder(test, &h);
	smr_barrier(h.smr);
	KUNIT_EXPECT_EQ(test, atomic_read(&h.left), 1);
	kthread_stop(tsk);
	put_task_struct(tsk);
	smr_domain_free(h.smr);
}

#define SMR_TEST_MANY	100000

static void smr_test_barrier_many(struct kunit *test)
{
	smr_t smr = smr_test_domain(test, SMR_NONE);
	atomic_long_t count = ATOMIC_LONG_INIT(0);
	struct smr_test_cb *cbs;
	int i;

	cbs = vcalloc(SMR_TEST_MANY, sizeof(*cbs));
	KUNIT_ASSERT_NOT_NULL(test, cbs);
	for (i = 0; i < SMR_TEST_MANY; i++) {
		cbs[i].count = &count;
		smr_call(smr, &cbs[i].node, 64, smr_test_count_cb);
		if (!(i & 1023))
			cond_resched();
	}
	smr_barrier(smr);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&count), (long)SMR_TEST_MANY);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&smr->smr_cb_run), (long)SMR_TEST_MANY);
	KUNIT_EXPECT_EQ(test, __smr_cb_queued(smr), (unsigned long)SMR_TEST_MANY);
	smr_domain_free(smr);
	vfree(cbs);
}

struct smr_test_hp {
	smr_t smr;
	struct smr_test_cb *cbs;
	int n;
};

static long smr_test_hp_queue(void *arg)
{
	struct smr_test_hp *hp = arg;
	int i;

	for (i = 0; i < hp->n; i++)
		smr_call(hp->smr, &hp->cbs[i].node, 8, smr_test_count_cb);
	return 0;
}

static void smr_test_call_hotplug(struct kunit *test)
{
	atomic_long_t count = ATOMIC_LONG_INIT(0);
	struct smr_test_hp hp = { .n = 64 };
	struct smr_tracker t;
	int cpu, i, err;

	if (num_online_cpus() < 2)
		kunit_skip(test, "needs a second online CPU");
	cpu = cpumask_last(cpu_online_mask);
	if (cpu == 0)
		kunit_skip(test, "no hot-unpluggable CPU");
	hp.smr = smr_test_domain(test, SMR_SLEEPABLE);
	hp.cbs = kunit_kcalloc(test, hp.n, sizeof(*hp.cbs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, hp.cbs);
	for (i = 0; i < hp.n; i++)
		hp.cbs[i].count = &count;

	/* Hold a section so the callbacks cannot run before the unplug. */
	smr_enter_sleepable(hp.smr, &t);
	work_on_cpu(cpu, smr_test_hp_queue, &hp);
	err = remove_cpu(cpu);
	if (err) {
		smr_leave_sleepable(hp.smr, &t);
		smr_barrier(hp.smr);
		smr_domain_free(hp.smr);
		kunit_skip(test, "remove_cpu(%d) failed: %d", cpu, err);
	}
	msleep(100);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&count), 0L);
	smr_leave_sleepable(hp.smr, &t);
	smr_barrier(hp.smr);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&count), (long)hp.n);
	KUNIT_EXPECT_EQ(test, add_cpu(cpu), 0);
	smr_domain_free(hp.smr);
}

/* ---------------------------------------------------------------------- */
/* Torture                                                                */
/* ---------------------------------------------------------------------- */

#define SMR_CANARY	0x5ca1ab1e0ddba11UL
#define SMR_DEAD	0xdeadbeefdeadbeefUL

struct smr_tobj {
	unsigned long canary;
	unsigned long gen;
	struct smr_node node;
};

struct smr_torture {
	SMR_POINTER(struct smr_tobj *)ptr;
	smr_t smr;
	bool sleepable;
	struct mutex lock;	/* serializes the writers' swaps */
	atomic_long_t reads;
	atomic_long_t bad;
	atomic_long_t freed;
	atomic_long_t retired;
};

static void smr_tobj_free(struct smr_node *node)
{
	struct smr_tobj *o = container_of(node, struct smr_tobj, node);

	o->canary = SMR_DEAD;
	kfree(o);
}

static int smr_torture_reader(void *arg)
{
	struct smr_torture *tt = arg;
	struct smr_tracker t;
	struct smr_tobj *o;
	unsigned long n = 0;

	while (!kthread_should_stop()) {
		if (tt->sleepable)
			smr_enter_sleepable(tt->smr, &t);
		else
			smr_enter(tt->smr);
		o = smr_entered_load_acquire(&tt->ptr);
		if (o && READ_ONCE(o->canary) != SMR_CANARY)
			atomic_long_inc(&tt->bad);
		if (tt->sleepable && !(n & 15))
			usleep_range(500, 1000);
		if (o && READ_ONCE(o->canary) != SMR_CANARY)
			atomic_long_inc(&tt->bad);
		if (tt->sleepable)
			smr_leave_sleepable(tt->smr, &t);
		else
			smr_leave(tt->smr);
		n++;
		if (!(n & 255))
			cond_resched();
	}
	atomic_long_add(n, &tt->reads);
	return 0;
}

static int smr_torture_writer(void *arg)
{
	struct smr_torture *tt = arg;
	unsigned long gen = 0;
	struct smr_tobj *o, *old;

	while (!kthread_should_stop()) {
		o = kmalloc(sizeof(*o), GFP_KERNEL);
		if (!o) {
			usleep_range(1000, 2000);
			continue;
		}
		o->canary = SMR_CANARY;
		o->gen = ++gen;
		mutex_lock(&tt->lock);
		old = smr_serialized_swap(&tt->ptr, o);
		mutex_unlock(&tt->lock);
		if (!old)
			continue;
		atomic_long_inc(&tt->retired);
		if (gen & 1) {
			smr_call(tt->smr, &old->node, sizeof(*old), smr_tobj_free);
		} else {
			smr_synchronize(tt->smr);
			old->canary = SMR_DEAD;
			kfree(old);
		}
		if (!(gen & 31))
			cond_resched();
	}
	return 0;
}

static void smr_torture_run(struct kunit *test, smr_flags_t flags)
{
	struct task_struct *tasks[10];
	struct smr_torture *tt;
	struct smr_tobj *last;
	int nr = 0, nreaders, i;

	tt = kunit_kzalloc(test, sizeof(*tt), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, tt);
	tt->smr = smr_test_domain(test, flags);
	tt->sleepable = flags & SMR_SLEEPABLE;
	smr_test_set_clock(tt->smr, 50);	/* wrap during the run */
	mutex_init(&tt->lock);
	smr_clear_store(&tt->ptr);

	nreaders = clamp_t(int, num_online_cpus() * 2, 2, 8);
	for (i = 0; i < nreaders; i++)
		tasks[nr++] = kthread_run(smr_torture_reader, tt, "smr_trd/%d", i);
	tasks[nr++] = kthread_run(smr_torture_writer, tt, "smr_twr/0");
	tasks[nr++] = kthread_run(smr_torture_writer, tt, "smr_twr/1");
	for (i = 0; i < nr; i++) {
		KUNIT_ASSERT_FALSE(test, IS_ERR(tasks[i]));
		get_task_struct(tasks[i]);
	}
	msleep(3000);
	for (i = 0; i < nr; i++) {
		kthread_stop(tasks[i]);
		put_task_struct(tasks[i]);
	}
	last = smr_serialized_swap(&tt->ptr, NULL);
	if (last)
		smr_call(tt->smr, &last->node, sizeof(*last), smr_tobj_free);
	smr_barrier(tt->smr);
	kunit_info(test, "%ld reads, %ld objects retired, wr_seq %lu\n",
		   atomic_long_read(&tt->reads), atomic_long_read(&tt->retired),
		   smr_test_wr(tt->smr));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&tt->bad), 0L);
	KUNIT_EXPECT_GT(test, atomic_long_read(&tt->reads), 0L);
	KUNIT_EXPECT_GT(test, atomic_long_read(&tt->retired), 0L);
	/* The clock wrapped around during the run. */
	KUNIT_EXPECT_LT(test, smr_test_wr(tt->smr), (smr_seq_t)ULONG_MAX / 2);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(tt->smr), 0UL);
	smr_domain_free(tt->smr);
}

static void smr_test_torture(struct kunit *test)
{
	smr_torture_run(test, SMR_NONE);
}

static void smr_test_torture_sleepable(struct kunit *test)
{
	smr_torture_run(test, SMR_SLEEPABLE);
}

/* ---------------------------------------------------------------------- */
/* SMR pointers                                                           */
/* ---------------------------------------------------------------------- */

struct smr_tval {
	int v;
};

static void smr_test_accessors(struct kunit *test)
{
	SMR_POINTER(struct smr_tval *)ptr;
	struct smr_tval a = { 1 }, b = { 2 }, *p;
	smr_t smr = &smr_system;
	unsigned long m0 = smr_misuse_count(NULL);

	smr_init_store(&ptr, &a);
	KUNIT_EXPECT_EQ(test, smr_unsafe_load(&ptr), (uintptr_t)&a);
	KUNIT_EXPECT_PTR_EQ(test, smr_serialized_load(&ptr), &a);
	KUNIT_EXPECT_PTR_EQ(test, smr_serialized_load_assert(&ptr, true), &a);
	smr_serialized_store(&ptr, &b);
	KUNIT_EXPECT_PTR_EQ(test, smr_unserialized_load(&ptr), &b);
	smr_serialized_store_assert(&ptr, &a, true);
	KUNIT_EXPECT_PTR_EQ(test, smr_serialized_load(&ptr), &a);
	smr_serialized_store_relaxed(&ptr, &b);
	KUNIT_EXPECT_PTR_EQ(test, smr_serialized_load(&ptr), &b);
	smr_serialized_store_relaxed_assert(&ptr, &a, true);
	KUNIT_EXPECT_PTR_EQ(test, smr_serialized_load(&ptr), &a);
	p = smr_serialized_swap(&ptr, &b);
	KUNIT_EXPECT_PTR_EQ(test, p, &a);
	p = smr_serialized_swap_assert(&ptr, &a, true);
	KUNIT_EXPECT_PTR_EQ(test, p, &b);

	smr_enter(smr);
	KUNIT_EXPECT_EQ(test, smr_entered_load(&ptr)->v, 1);
	KUNIT_EXPECT_EQ(test, smr_entered_load_assert(&ptr, smr)->v, 1);
	KUNIT_EXPECT_EQ(test, smr_entered_load_acquire(&ptr)->v, 1);
	KUNIT_EXPECT_EQ(test, smr_entered_load_acquire_assert(&ptr, smr)->v, 1);
	smr_leave(smr);

	smr_unserialized_store(&ptr, &b);
	KUNIT_EXPECT_PTR_EQ(test, smr_unserialized_load(&ptr), &b);
	smr_clear_store(&ptr);
	KUNIT_EXPECT_EQ(test, smr_unsafe_load(&ptr), (uintptr_t)0);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(NULL), m0);
}

static void smr_test_accessors_assert_warns(struct kunit *test)
{
	SMR_POINTER(struct smr_tval *)ptr;
	struct smr_tval a = { 1 };
	unsigned long m0 = smr_misuse_count(NULL);
	/* Serialized conditions are evaluated only with lockdep. */
	unsigned long held = IS_ENABLED(CONFIG_LOCKDEP);
	struct smr_tval *p;

	smr_init_store(&ptr, &a);
	p = smr_serialized_load_assert(&ptr, false);
	KUNIT_EXPECT_PTR_EQ(test, p, &a);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(NULL), m0 + held);
	p = smr_entered_load_assert(&ptr, &smr_system);
	KUNIT_EXPECT_PTR_EQ(test, p, &a);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(NULL), m0 + held + 1);
	smr_serialized_store_assert(&ptr, NULL, false);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(NULL), m0 + 2 * held + 1);
	KUNIT_EXPECT_PTR_EQ(test, smr_unserialized_load(&ptr), NULL);
}

static bool smr_test_cond(int *evals, bool val)
{
	(*evals)++;
	return val;
}

/*
 * The _assert conditions: lockdep_is_held() of a held lock passes, and a
 * condition is evaluated exactly when CONFIG_LOCKDEP is set (so that
 * lockdep_is_held() links on kernels without lockdep).
 */
static void smr_test_accessors_assert_lockdep(struct kunit *test)
{
	SMR_POINTER(struct smr_tval *)ptr;
	struct smr_tval a = { 1 }, b = { 2 };
	unsigned long m0 = smr_misuse_count(NULL);
	struct mutex lock;	/* the writers' lock of ptr */
	int evals = 0;

	mutex_init(&lock);
	smr_init_store(&ptr, &a);
	mutex_lock(&lock);
	KUNIT_EXPECT_PTR_EQ(test,
			    smr_serialized_load_assert(&ptr, lockdep_is_held(&lock)),
			    &a);
	smr_serialized_store_assert(&ptr, &b, lockdep_is_held(&lock));
	smr_serialized_store_relaxed_assert(&ptr, &a, lockdep_is_held(&lock));
	KUNIT_EXPECT_PTR_EQ(test,
			    smr_serialized_swap_assert(&ptr, &b, lockdep_is_held(&lock)),
			    &a);
	mutex_unlock(&lock);
	mutex_destroy(&lock);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(NULL), m0);

	KUNIT_EXPECT_PTR_EQ(test,
			    smr_serialized_load_assert(&ptr, smr_test_cond(&evals, true)),
			    &b);
	smr_serialized_store_assert(&ptr, &a, smr_test_cond(&evals, true));
	KUNIT_EXPECT_EQ(test, evals, IS_ENABLED(CONFIG_LOCKDEP) ? 2 : 0);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(NULL), m0);
	KUNIT_EXPECT_PTR_EQ(test, smr_unserialized_load(&ptr), &a);
}

/* ---------------------------------------------------------------------- */
/* SMR queues against an array model                                      */
/* ---------------------------------------------------------------------- */

#define QN	24

struct smr_qe {
	int val;
	struct smrq_slink sl;
	struct smrq_link dl;
};

struct smr_qmodel {
	int v[QN];
	int n;
	bool in[QN];
};

static u32 smr_lcg(u32 *s)
{
	*s = *s * 1103515245 + 12345;
	return *s >> 8;
}

static void smr_qmodel_insert(struct smr_qmodel *m, int pos, int val)
{
	memmove(&m->v[pos + 1], &m->v[pos], (m->n - pos) * sizeof(int));
	m->v[pos] = val;
	m->n++;
	m->in[val] = true;
}

static int smr_qmodel_find(struct smr_qmodel *m, int val)
{
	int i;

	for (i = 0; i < m->n; i++)
		if (m->v[i] == val)
			return i;
	return -1;
}

static void smr_qmodel_remove(struct smr_qmodel *m, int val)
{
	int pos = smr_qmodel_find(m, val);

	memmove(&m->v[pos], &m->v[pos + 1], (m->n - pos - 1) * sizeof(int));
	m->n--;
	m->in[val] = false;
}

/* Per queue kind: the linkage of struct smr_qe and the tail insertion. */
#define SMRQ_FIELD_slist		sl
#define SMRQ_FIELD_list			dl
#define SMRQ_FIELD_stailq		sl
#define SMRQ_FIELD_tailq		dl
#define SMRQ_TAIL_slist			smrq_serialized_insert_head
#define SMRQ_TAIL_list			smrq_serialized_insert_head
#define SMRQ_TAIL_stailq		smrq_serialized_insert_tail
#define SMRQ_TAIL_tailq			smrq_serialized_insert_tail
#define SMRQ_TAIL_RELAXED_slist		smrq_serialized_insert_head_relaxed
#define SMRQ_TAIL_RELAXED_list		smrq_serialized_insert_head_relaxed
#define SMRQ_TAIL_RELAXED_stailq	smrq_serialized_insert_tail_relaxed
#define SMRQ_TAIL_RELAXED_tailq		smrq_serialized_insert_tail_relaxed
#define SMRQ_AT_TAIL_slist		false
#define SMRQ_AT_TAIL_list		false
#define SMRQ_AT_TAIL_stailq		true
#define SMRQ_AT_TAIL_tailq		true

/* The back pointers of a doubly linked queue against the model. */
static void smrq_check_prev(struct kunit *test, __smrq_link_t *first,
			    struct smr_qmodel *m, struct smr_qe *e)
{
	int j;

	for (j = 0; j < m->n; j++)
		KUNIT_EXPECT_PTR_EQ(test, (void *)e[m->v[j]].dl.prev,
				    j ? (void *)&e[m->v[j - 1]].dl.next
				      : (void *)first);
}

/* The tail pointer of a tail queue: the last element's next, or first. */
static void smrq_check_last(struct kunit *test, void *last, void *first,
			    void *last_next)
{
	KUNIT_EXPECT_PTR_EQ(test, last, last_next ? last_next : first);
}

/* Checks specific to each kind: back pointers and tail pointers. */
static void smrq_check_extra_slist(struct kunit *test,
				   struct smrq_slist_head *head,
				   struct smr_qmodel *m, struct smr_qe *e)
{
}

static void smrq_check_extra_list(struct kunit *test,
				  struct smrq_list_head *head,
				  struct smr_qmodel *m, struct smr_qe *e)
{
	smrq_check_prev(test, &head->first, m, e);
}

static void smrq_check_extra_stailq(struct kunit *test,
				    struct smrq_stailq_head *head,
				    struct smr_qmodel *m, struct smr_qe *e)
{
	smrq_check_last(test, head->last, &head->first,
			m->n ? &e[m->v[m->n - 1]].sl.next : NULL);
}

static void smrq_check_extra_tailq(struct kunit *test,
				   struct smrq_tailq_head *head,
				   struct smr_qmodel *m, struct smr_qe *e)
{
	smrq_check_last(test, head->last, &head->first,
			m->n ? &e[m->v[m->n - 1]].dl.next : NULL);
	smrq_check_prev(test, &head->first, m, e);
}

/*
 * SMRQ_CHECK_FN() - define smrq_check_<kind>(): walk the queue with every
 * iterator (serialized, entered, first/next) and compare with the model.
 */
#define SMRQ_CHECK_FN(kind)						\
static void smrq_check_##kind(struct kunit *test,			\
			      struct smrq_##kind##_head *head,		\
			      struct smr_qmodel *m, struct smr_qe *e)	\
{									\
	struct smr_qe *q;						\
	int i = 0;							\
									\
	smrq_serialized_foreach(q, head, SMRQ_FIELD_##kind) {		\
		KUNIT_ASSERT_LT(test, i, m->n);				\
		KUNIT_EXPECT_EQ(test, q->val, m->v[i]);			\
		i++;							\
	}								\
	KUNIT_EXPECT_EQ(test, i, m->n);					\
	KUNIT_EXPECT_EQ(test, smrq_empty(head), m->n == 0);		\
	i = 0;								\
	smr_enter(&smr_system);						\
	smrq_entered_foreach(q, head, SMRQ_FIELD_##kind) {		\
		if (i >= m->n)						\
			break;						\
		KUNIT_EXPECT_EQ(test, q->val, m->v[i]);			\
		i++;							\
	}								\
	smr_leave(&smr_system);						\
	KUNIT_EXPECT_EQ(test, i, m->n);					\
	q = smrq_serialized_first(head, struct smr_qe, SMRQ_FIELD_##kind); \
	KUNIT_EXPECT_PTR_EQ(test, q, m->n ? &e[m->v[0]] : NULL);	\
	if (q && m->n > 1)						\
		KUNIT_EXPECT_PTR_EQ(test,				\
				    smrq_serialized_next(q, SMRQ_FIELD_##kind), \
				    &e[m->v[1]]);			\
	smrq_check_extra_##kind(test, head, m, e);			\
}

SMRQ_CHECK_FN(slist)
SMRQ_CHECK_FN(list)
SMRQ_CHECK_FN(stailq)
SMRQ_CHECK_FN(tailq)

/*
 * Random inserts (head, and tail for tail queues, plain and relaxed),
 * removals and replacements, checked after each step.
 */
#define SMRQ_MODEL_TEST(kind)						\
static void smr_test_queue_##kind(struct kunit *test)			\
{									\
	struct smr_qe *e = kunit_kcalloc(test, QN, sizeof(*e), GFP_KERNEL); \
	struct smr_qmodel *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL); \
	struct smrq_##kind##_head *head =				\
		kunit_kzalloc(test, sizeof(*head), GFP_KERNEL);		\
	unsigned long m0 = smr_misuse_count(NULL);			\
	u32 seed = 42;							\
	int op, i;							\
									\
	KUNIT_ASSERT_NOT_NULL(test, e);					\
	KUNIT_ASSERT_NOT_NULL(test, m);					\
	KUNIT_ASSERT_NOT_NULL(test, head);				\
	for (i = 0; i < QN; i++)					\
		e[i].val = i;						\
	smrq_init(head);						\
	KUNIT_EXPECT_TRUE(test, smrq_empty(head));			\
	smrq_check_extra_##kind(test, head, m, e);			\
	for (op = 0; op < 600; op++) {					\
		u32 r = smr_lcg(&seed);					\
		int x = r % QN, y, k;					\
									\
		switch ((r >> 8) % 5) {					\
		case 0:							\
			if (m->in[x])					\
				break;					\
			smrq_serialized_insert_head(head, &e[x].SMRQ_FIELD_##kind); \
			smr_qmodel_insert(m, 0, x);			\
			break;						\
		case 1:							\
			if (m->in[x])					\
				break;					\
			SMRQ_TAIL_RELAXED_##kind(head, &e[x].SMRQ_FIELD_##kind); \
			smr_qmodel_insert(m, SMRQ_AT_TAIL_##kind ? m->n : 0, x); \
			break;						\
		case 2:							\
			if (m->in[x])					\
				break;					\
			SMRQ_TAIL_##kind(head, &e[x].SMRQ_FIELD_##kind); \
			smr_qmodel_insert(m, SMRQ_AT_TAIL_##kind ? m->n : 0, x); \
			break;						\
		case 3:							\
			if (!m->in[x])					\
				break;					\
			smrq_serialized_remove(head, &e[x].SMRQ_FIELD_##kind); \
			smr_qmodel_remove(m, x);			\
			break;						\
		case 4:							\
			if (!m->in[x])					\
				break;					\
			for (k = 0, y = (x + 1) % QN; k < QN && m->in[y]; k++) \
				y = (y + 1) % QN;			\
			if (m->in[y])					\
				break;					\
			smrq_serialized_replace(head, &e[x].SMRQ_FIELD_##kind, \
						&e[y].SMRQ_FIELD_##kind); \
			m->v[smr_qmodel_find(m, x)] = y;		\
			m->in[x] = false;				\
			m->in[y] = true;				\
			break;						\
		}							\
		smrq_check_##kind(test, head, m, e);			\
	}								\
	KUNIT_EXPECT_EQ(test, smr_misuse_count(NULL), m0);		\
}

SMRQ_MODEL_TEST(slist)
SMRQ_MODEL_TEST(list)
SMRQ_MODEL_TEST(stailq)
SMRQ_MODEL_TEST(tailq)

/*
 * Append src (elements 10..10+ns, inserted at the head) after dst
 * (elements 0..nd); dst is of kind @dk, src of kind @sk (same linkage).
 */
#define SMRQ_APPEND_TEST(name, dk, sk)					\
static void smr_test_append_##name(struct kunit *test)			\
{									\
	struct smr_qe *e = kunit_kcalloc(test, QN, sizeof(*e), GFP_KERNEL); \
	struct smr_qmodel *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL); \
	struct smrq_##dk##_head *dst =					\
		kunit_kzalloc(test, sizeof(*dst), GFP_KERNEL);		\
	struct smrq_##sk##_head *src =					\
		kunit_kzalloc(test, sizeof(*src), GFP_KERNEL);		\
	unsigned long m0 = smr_misuse_count(NULL);			\
	int nd, ns, i;							\
									\
	KUNIT_ASSERT_NOT_NULL(test, e);					\
	KUNIT_ASSERT_NOT_NULL(test, m);					\
	KUNIT_ASSERT_NOT_NULL(test, dst);				\
	KUNIT_ASSERT_NOT_NULL(test, src);				\
	for (i = 0; i < QN; i++)					\
		e[i].val = i;						\
	for (nd = 0; nd <= 3; nd += 3) {				\
		for (ns = 0; ns <= 4; ns += 4) {			\
			memset(m, 0, sizeof(*m));			\
			smrq_init(dst);					\
			smrq_init(src);					\
			for (i = nd - 1; i >= 0; i--) {			\
				smrq_serialized_insert_head(dst,	\
					&e[i].SMRQ_FIELD_##dk);		\
				smr_qmodel_insert(m, 0, i);		\
			}						\
			for (i = ns - 1; i >= 0; i--)			\
				smrq_serialized_insert_head(src,	\
					&e[10 + i].SMRQ_FIELD_##sk);	\
			for (i = 0; i < ns; i++)			\
				smr_qmodel_insert(m, m->n, 10 + i);	\
			smrq_serialized_append(dst, src);		\
			smrq_check_##dk(test, dst, m, e);		\
		}							\
	}								\
	KUNIT_EXPECT_EQ(test, smr_misuse_count(NULL), m0);		\
}

SMRQ_APPEND_TEST(slist, slist, slist)
SMRQ_APPEND_TEST(list, list, list)
SMRQ_APPEND_TEST(stailq, stailq, stailq)
SMRQ_APPEND_TEST(tailq, tailq, tailq)
SMRQ_APPEND_TEST(stailq_from_slist, stailq, slist)

static void smr_test_iter_erase(struct kunit *test)
{
	struct smr_qe *e = kunit_kcalloc(test, QN, sizeof(*e), GFP_KERNEL);
	struct smr_qmodel *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	struct smrq_slist_head head;
	unsigned long m0 = smr_misuse_count(NULL);
	struct smr_qe *it, *s;
	int i, seen = 0;

	KUNIT_ASSERT_NOT_NULL(test, e);
	KUNIT_ASSERT_NOT_NULL(test, m);
	smrq_init(&head);
	for (i = QN - 1; i >= 0; i--) {
		e[i].val = i;
		smrq_serialized_insert_head(&head, &e[i].sl);
		smr_qmodel_insert(m, 0, i);
	}
	smrq_serialized_iter(it, &head, sl) {
		seen++;
		if (it->val & 1) {
			smrq_serialized_iter_erase(it, sl);
			smr_qmodel_remove(m, it->val);
		} else {
			smrq_serialized_iter_next(it, sl);
		}
	}
	KUNIT_EXPECT_EQ(test, seen, QN);
	smrq_check_slist(test, &head, m, e);
	/* foreach_safe allows removing the current element. */
	smrq_serialized_foreach_safe(s, &head, sl) {
		if (s->val % 4 == 0) {
			smrq_serialized_remove(&head, &s->sl);
			smr_qmodel_remove(m, s->val);
		}
	}
	smrq_check_slist(test, &head, m, e);
	smr_enter(&smr_system);
	it = smrq_entered_first(&head, struct smr_qe, sl);
	KUNIT_EXPECT_EQ(test, it->val, m->v[0]);
	KUNIT_EXPECT_EQ(test, smrq_entered_next(it, sl)->val, m->v[1]);
	smr_leave(&smr_system);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(NULL), m0);
}

static void smr_test_queue_corrupt_warns(struct kunit *test)
{
	struct smr_qe e[3] = { { .val = 0 }, { .val = 1 }, { .val = 2 } };
	struct smrq_tailq_head tq;
	struct smrq_stailq_head sq;
	unsigned long m0 = smr_misuse_count(NULL);
	struct smr_qmodel m = {};

	smrq_init(&tq);
	smrq_serialized_insert_tail(&tq, &e[0].dl);
	smrq_serialized_insert_tail(&tq, &e[1].dl);
	smr_qmodel_insert(&m, 0, 0);
	smr_qmodel_insert(&m, 1, 1);
	/* Corrupt a back pointer: removal must refuse and report. */
	e[1].dl.prev = &e[2].dl.next;
	smrq_serialized_remove(&tq, &e[1].dl);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(NULL), m0 + 1);
	e[1].dl.prev = &e[0].dl.next;
	smrq_check_tailq(test, &tq, &m, e);

	/* Removing a non-member of a singly linked queue. */
	smrq_init(&sq);
	smrq_serialized_insert_tail(&sq, &e[0].sl);
	smrq_serialized_remove(&sq, &e[2].sl);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(NULL), m0 + 2);
	KUNIT_EXPECT_PTR_EQ(test, (void *)sq.last, (void *)&e[0].sl.next);
	/* A tail pointer that does not point at the end. */
	sq.last = &sq.first;
	smrq_serialized_insert_tail(&sq, &e[1].sl);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(NULL), m0 + 3);
	KUNIT_EXPECT_PTR_EQ(test, smrq_serialized_first(&sq, struct smr_qe, sl), &e[0]);
}

/* ---------------------------------------------------------------------- */
/* Misuse                                                                 */
/* ---------------------------------------------------------------------- */

static void smr_test_nested_enter_warns(struct kunit *test)
{
	smr_t smr = smr_test_domain(test, SMR_NONE);
	smr_seq_t goal;

	smr_enter(smr);
	smr_enter(smr);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 1UL);
	KUNIT_EXPECT_TRUE(test, smr_entered(smr));
	smr_leave(smr);
	/* Still inside the outer section, still protected. */
	KUNIT_EXPECT_TRUE(test, smr_entered(smr));
	goal = smr_advance(smr);
	KUNIT_EXPECT_FALSE(test, smr_poll(smr, goal));
	smr_leave(smr);
	KUNIT_EXPECT_FALSE(test, smr_entered(smr));
	KUNIT_EXPECT_TRUE(test, smr_poll(smr, goal));
	KUNIT_EXPECT_TRUE(test, preemptible());
	smr_domain_free(smr);
}

static void smr_test_leave_without_enter_warns(struct kunit *test)
{
	smr_t smr = smr_test_domain(test, SMR_SLEEPABLE);
	struct smr_tracker t = {};

	smr_leave(smr);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 1UL);
	KUNIT_EXPECT_TRUE(test, preemptible());
	preempt_disable();
	smr_leave(smr);
	preempt_enable();
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 2UL);
	smr_leave_sleepable(smr, &t);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 3UL);
	/* Double leave of a sleepable section. */
	smr_enter_sleepable(smr, &t);
	smr_leave_sleepable(smr, &t);
	smr_leave_sleepable(smr, &t);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 4UL);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&smr->smr_nsleepers), 0L);
	smr_synchronize(smr);
	smr_domain_free(smr);
}

static void smr_test_sync_inside_warns(struct kunit *test)
{
	smr_t smr = smr_test_domain(test, SMR_SLEEPABLE);
	atomic_long_t count = ATOMIC_LONG_INIT(0);
	struct smr_test_cb c = { .count = &count };
	struct smr_test_cb c2 = { .count = &count };
	struct smr_tracker t;
	smr_seq_t goal;

	smr_enter(smr);
	smr_synchronize(smr);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 1UL);
	goal = smr_advance(smr);
	smr_wait(smr, goal);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 2UL);
	smr_call(smr, &c.node, 16, smr_test_count_cb);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 3UL);
	smr_leave(smr);

	smr_enter_sleepable(smr, &t);
	smr_synchronize(smr);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 4UL);
	smr_barrier(smr);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 5UL);
	/* smr_call() scans the sleepable sections while any exist. */
	smr_call(smr, &c2.node, 16, smr_test_count_cb);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 6UL);
	smr_leave_sleepable(smr, &t);

	/* The callbacks queued inside the sections were kept and run. */
	smr_barrier(smr);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&count), 2L);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 6UL);
	smr_domain_free(smr);
}

struct smr_test_irq {
	struct irq_work work;
	smr_t smr;
	bool hardirq;
	bool entered;
};

static void smr_test_irq_fn(struct irq_work *work)
{
	struct smr_test_irq *ti = container_of(work, struct smr_test_irq, work);

	ti->hardirq = in_hardirq();
	smr_enter(ti->smr);
	ti->entered = smr_entered(ti->smr);
	smr_leave(ti->smr);
}

static void smr_test_enter_hardirq_warns(struct kunit *test)
{
	struct smr_test_irq ti = {};

	ti.smr = smr_test_domain(test, SMR_NONE);
	init_irq_work(&ti.work, smr_test_irq_fn);
	irq_work_queue(&ti.work);
	irq_work_sync(&ti.work);
	if (!ti.hardirq) {
		smr_domain_free(ti.smr);
		kunit_skip(test, "irq_work did not run in hard IRQ context");
	}
	KUNIT_EXPECT_TRUE(test, ti.entered);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(ti.smr), 1UL);
	smr_synchronize(ti.smr);
	smr_domain_free(ti.smr);
}

static void smr_test_sleepable_on_plain_warns(struct kunit *test)
{
	smr_t smr = smr_test_domain(test, SMR_NONE);
	struct smr_tracker t;
	smr_seq_t goal;

	smr_enter_sleepable(smr, &t);
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 1UL);
	/* It still protects. */
	goal = smr_advance(smr);
	KUNIT_EXPECT_FALSE(test, smr_poll(smr, goal));
	smr_leave_sleepable(smr, &t);
	KUNIT_EXPECT_TRUE(test, smr_poll(smr, goal));
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 1UL);
	smr_domain_free(smr);
}

static SMR_DEFINE(smr_test_uninit, "kunit_uninit");

static void smr_test_uninit_warns(struct kunit *test)
{
	atomic_long_t count = ATOMIC_LONG_INIT(0);
	struct smr_test_cb c = { .count = &count };
	unsigned long m0 = smr_misuse_count(&smr_test_uninit);

	smr_enter(&smr_test_uninit);
	KUNIT_EXPECT_FALSE(test, preemptible());
	smr_leave(&smr_test_uninit);
	KUNIT_EXPECT_TRUE(test, preemptible());
	smr_synchronize(&smr_test_uninit);
	smr_call(&smr_test_uninit, &c.node, 8, smr_test_count_cb);
	smr_barrier(&smr_test_uninit);
	KUNIT_EXPECT_EQ(test, SMR_MISUSE_DELTA(&smr_test_uninit, m0), 4UL);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&count), 0L);
	smr_domain_fini(&smr_test_uninit);
	KUNIT_EXPECT_EQ(test, SMR_MISUSE_DELTA(&smr_test_uninit, m0), 5UL);
}

static void smr_test_bad_goal_warns(struct kunit *test)
{
	smr_t smr = smr_test_domain(test, SMR_NONE);
	smr_seq_t far = smr_test_wr(smr) + 100 * SMR_SEQ_INC;

	KUNIT_EXPECT_TRUE(test, smr_poll(smr, far));
	KUNIT_EXPECT_EQ(test, smr_misuse_count(smr), 1UL);
	smr_domain_free(smr);
}

/* ---------------------------------------------------------------------- */
/* debugfs                                                                */
/* ---------------------------------------------------------------------- */

static bool smr_test_debugfs_exists(const char *path)
{
	struct file *f = filp_open(path, O_RDONLY, 0);

	if (IS_ERR(f))
		return false;
	filp_close(f, NULL);
	return true;
}

/*
 * debugfs files cannot be read with kernel_read() (the debugfs proxy has no
 * read_iter): check that the domain's file comes and goes with it.
 */
static void smr_test_debugfs(struct kunit *test)
{
	const char *path = "/sys/kernel/debug/kprim/smr/kunit_dbg";
	smr_t smr;

	if (!smr_test_debugfs_exists("/sys/kernel/debug/kprim/smr/smr_system"))
		kunit_skip(test, "debugfs not mounted");
	KUNIT_EXPECT_FALSE(test, smr_test_debugfs_exists(path));
	smr = smr_domain_create(SMR_NONE, "kunit_dbg");
	KUNIT_ASSERT_NOT_NULL(test, smr);
	KUNIT_EXPECT_TRUE(test, smr_test_debugfs_exists(path));
	smr_domain_free(smr);
	KUNIT_EXPECT_FALSE(test, smr_test_debugfs_exists(path));
}

/* ---------------------------------------------------------------------- */
/* Read-side cost                                                         */
/* ---------------------------------------------------------------------- */

DEFINE_STATIC_SRCU(smr_test_srcu);

static void smr_test_read_cost(struct kunit *test)
{
	const int loops = 200000;
	u64 t0, t_smr, t_rcu, t_srcu;
	int i, idx;

	t0 = ktime_get_ns();
	for (i = 0; i < loops; i++) {
		smr_enter(&smr_system);
		smr_leave(&smr_system);
	}
	t_smr = ktime_get_ns() - t0;
	t0 = ktime_get_ns();
	for (i = 0; i < loops; i++) {
		rcu_read_lock();
		rcu_read_unlock();
	}
	t_rcu = ktime_get_ns() - t0;
	t0 = ktime_get_ns();
	for (i = 0; i < loops; i++) {
		idx = srcu_read_lock(&smr_test_srcu);
		srcu_read_unlock(&smr_test_srcu, idx);
	}
	t_srcu = ktime_get_ns() - t0;
	kunit_info(test, "ns per enter+leave: smr %llu, rcu %llu, srcu %llu (debug kernel)\n",
		   div_u64(t_smr, loops), div_u64(t_rcu, loops),
		   div_u64(t_srcu, loops));
	KUNIT_EXPECT_EQ(test, smr_misuse_count(&smr_system), 0UL);
}

static struct kunit_case smr_cases[] = {
	KUNIT_CASE(smr_test_domains),
	KUNIT_CASE(smr_test_static_domain),
	KUNIT_CASE(smr_test_clock),
	KUNIT_CASE(smr_test_seq_cmp),
	KUNIT_CASE(smr_test_reader_blocks_poll),
	KUNIT_CASE(smr_test_sleepable_blocks_poll),
	KUNIT_CASE(smr_test_wait),
	KUNIT_CASE(smr_test_wait_sleepable),
	KUNIT_CASE(smr_test_wait_wrap),
	KUNIT_CASE(smr_test_wraparound),
	KUNIT_CASE(smr_test_call_progress),
	KUNIT_CASE(smr_test_call_expedite),
	KUNIT_CASE(smr_test_call_blocked_by_reader),
	KUNIT_CASE(smr_test_barrier_running_cb),
	KUNIT_CASE(smr_test_barrier_idle_waits_reader),
	KUNIT_CASE_SLOW(smr_test_barrier_many),
	KUNIT_CASE_SLOW(smr_test_call_hotplug),
	KUNIT_CASE_SLOW(smr_test_torture),
	KUNIT_CASE_SLOW(smr_test_torture_sleepable),
	KUNIT_CASE(smr_test_accessors),
	KUNIT_CASE(smr_test_accessors_assert_warns),
	KUNIT_CASE(smr_test_accessors_assert_lockdep),
	KUNIT_CASE(smr_test_queue_slist),
	KUNIT_CASE(smr_test_queue_list),
	KUNIT_CASE(smr_test_queue_stailq),
	KUNIT_CASE(smr_test_queue_tailq),
	KUNIT_CASE(smr_test_append_slist),
	KUNIT_CASE(smr_test_append_list),
	KUNIT_CASE(smr_test_append_stailq),
	KUNIT_CASE(smr_test_append_tailq),
	KUNIT_CASE(smr_test_append_stailq_from_slist),
	KUNIT_CASE(smr_test_iter_erase),
	KUNIT_CASE(smr_test_queue_corrupt_warns),
	KUNIT_CASE(smr_test_nested_enter_warns),
	KUNIT_CASE(smr_test_leave_without_enter_warns),
	KUNIT_CASE(smr_test_sync_inside_warns),
	KUNIT_CASE(smr_test_enter_hardirq_warns),
	KUNIT_CASE(smr_test_sleepable_on_plain_warns),
	KUNIT_CASE(smr_test_uninit_warns),
	KUNIT_CASE(smr_test_bad_goal_warns),
	KUNIT_CASE(smr_test_debugfs),
	KUNIT_CASE(smr_test_read_cost),
	{}
};

static struct kunit_suite smr_suite = {
	.name = "kprim_smr",
	.test_cases = smr_cases,
};

kunit_test_suite(smr_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for kprim smr");
KPRIM_MODULE_IMPORT_NS();
