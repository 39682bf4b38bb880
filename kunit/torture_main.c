// SPDX-License-Identifier: GPL-2.0
/*
 * kprim_torture.ko: long randomized runs of every kprim facility, in the
 * manner of rcutorture.
 *
 * Loading the module validates the parameters, creates the objects and
 * kthreads of every selected torture (smr, psref, vmem, ltable), a CPU
 * hotplug kthread and a control kthread, and returns: the run is
 * asynchronous.  When @duration seconds have passed (or at rmmod), the
 * control kthread stops the hotplug kthread (which brings every CPU it took
 * down back online) and every worker, lets each torture run its final
 * checks and destroy its kprim objects, and publishes the results in
 * /sys/kernel/debug/kprim_torture/:
 *
 *   done     "0" while running, "1" once the results are final
 *   status   live counters
 *   results  a KTAP document in the format KUnit writes to
 *            /sys/kernel/debug/kunit/<suite>/results: one test per torture
 *            and one for CPU hotplug (scripts/torture.sh parses it)
 *
 * Every error a torture detects is printed with pr_err() (never WARN: a
 * console splat fails the run by itself), counted, and the first few are
 * quoted in the results.  Each kthread draws from its own prandom state
 * seeded from (seed, torture, thread), so a seed replays the same mix of
 * operations (not the same interleaving).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/hash.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/seq_buf.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <kprim/kprim.h>

#include "torture.h"

static unsigned int duration = 60;
module_param(duration, uint, 0444);
MODULE_PARM_DESC(duration, "length of the run in seconds (default 60)");

static unsigned long seed;
module_param(seed, ulong, 0444);
MODULE_PARM_DESC(seed, "random seed; 0 picks one (printed at start)");

static char *tortures = "smr,psref,vmem,ltable";
module_param(tortures, charp, 0444);
MODULE_PARM_DESC(tortures, "comma-separated tortures to run: smr,psref,vmem,ltable");

static int nthreads;
module_param(nthreads, int, 0444);
MODULE_PARM_DESC(nthreads, "worker kthreads per torture (0: one per online CPU)");

static unsigned int hotplug_ms = 300;
module_param(hotplug_ms, uint, 0444);
MODULE_PARM_DESC(hotplug_ms, "interval between CPU offline/online actions in ms (0: no hotplug)");

bool torture_verbose;
module_param_named(verbose, torture_verbose, bool, 0644);
MODULE_PARM_DESC(verbose, "print progress every few seconds");

#define TORTURE_MAX_THREADS_PARAM	32
#define TORTURE_MAX_DURATION		(7 * 24 * 3600)
#define TORTURE_RESULTS_SIZE		(16 << 10)

u64 torture_seed_used;
int torture_nthreads_used;

static struct torture *const torture_all[] = {
	&torture_smr, &torture_psref, &torture_vmem, &torture_ltable,
};

#define TORTURE_NR	ARRAY_SIZE(torture_all)
/* Test number of the hotplug test, after the tortures. */
#define TORTURE_HOTPLUG_INDEX	(TORTURE_NR + 1)

static bool torture_stop;		/* workers: the run is over */
static int torture_done;		/* results are final (release/acquire) */
static struct task_struct *torture_control_task;
static struct dentry *torture_dir;
static char *torture_results;
static unsigned long torture_start_jiffies, torture_end_jiffies;
static unsigned int torture_ncpus;
static bool torture_interrupted;
static unsigned int torture_teardown_ms;

/* CPU hotplug kthread. */
static struct torture_thread torture_hp_thread;
static bool torture_hp_enabled;
static const char *torture_hp_skip;
static atomic_long_t torture_hp_offlined, torture_hp_onlined, torture_hp_failed;
static atomic_long_t torture_hp_errors;
static unsigned int torture_hp_max_off_ms, torture_hp_max_on_ms;
static char torture_hp_error[TORTURE_ERR_LEN];

/**
 * torture_error() - report an error found by a torture
 * @t: the torture
 * @fmt: printf format describing the error
 *
 * Prints it (pr_err, the first %TORTURE_PRINT_ERRORS of each torture),
 * counts it, and keeps the first %TORTURE_MAX_ERRORS for the results.
 * Context: any.
 */
void torture_error(struct torture *t, const char *fmt, ...)
{
	char buf[TORTURE_ERR_LEN];
	unsigned long flags;
	va_list args;
	long n;

	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	n = atomic_long_inc_return(&t->nerrors);
	if (n <= TORTURE_PRINT_ERRORS)
		pr_err("%s: error: %s\n", t->name, buf);
	else if (n == TORTURE_PRINT_ERRORS + 1)
		pr_err("%s: more errors, not printed\n", t->name);
	if (n <= TORTURE_MAX_ERRORS) {
		spin_lock_irqsave(&t->err_lock, flags);
		strscpy(t->errors[n - 1], buf, TORTURE_ERR_LEN);
		spin_unlock_irqrestore(&t->err_lock, flags);
	}
}

/**
 * torture_must_stop() - should a torture kthread leave its loop?
 *
 * Context: a torture kthread.
 * Return: true once the run is over or the thread is being stopped.
 */
bool torture_must_stop(void)
{
	return READ_ONCE(torture_stop) || kthread_should_stop();
}

/**
 * torture_thread_done() - wait, after the loop, until kthread_stop()
 *
 * A torture kthread must not return before kthread_stop() is called on
 * it; it parks here (TASK_IDLE: no hung-task report) once its loop ended.
 * Context: a torture kthread.
 */
void torture_thread_done(void)
{
	set_current_state(TASK_IDLE);
	while (!kthread_should_stop()) {
		schedule();
		set_current_state(TASK_IDLE);
	}
	__set_current_state(TASK_RUNNING);
}

/**
 * torture_sleep_ms() - sleep, cut short when the thread is stopped
 * @ms: milliseconds
 *
 * Context: a torture kthread, may sleep.
 */
void torture_sleep_ms(unsigned int ms)
{
	if (!torture_must_stop())
		schedule_timeout_idle(msecs_to_jiffies(ms));
}

static void torture_seed_thread(struct torture_thread *th, unsigned int tidx)
{
	u64 s = torture_seed_used +
		(u64)(tidx * TORTURE_MAX_THREADS + th->idx + 1) * GOLDEN_RATIO_64;

	prandom_seed_state(&th->rnd, s);
}

/**
 * torture_start_thread() - start one kthread of a torture
 * @t: the torture
 * @fn: the thread function, called with the &struct torture_thread; it
 *	loops until torture_must_stop(), then calls torture_thread_done()
 * @priv: stored in &struct torture_thread.priv
 *
 * Context: process context (the torture's ->start()).
 * Return: 0 or a negative errno.
 */
int torture_start_thread(struct torture *t, int (*fn)(void *arg), void *priv)
{
	struct torture_thread *th;
	struct task_struct *task;

	if (t->nthreads >= TORTURE_MAX_THREADS)
		return -E2BIG;
	th = &t->threads[t->nthreads];
	th->t = t;
	th->idx = t->nthreads;
	th->priv = priv;
	torture_seed_thread(th, t->index);
	task = kthread_create(fn, th, "kt_%s/%d", t->name, th->idx);
	if (IS_ERR(task))
		return PTR_ERR(task);
	th->task = task;
	t->nthreads++;
	/*
	 * As rcutorture's: the workers run at the lowest priority, so that
	 * the kthreads of the kernel (RCU, workqueues, CPU hotplug) and of
	 * kprim (SMR callbacks) still make progress on a saturated machine.
	 */
	set_user_nice(task, MAX_NICE);
	wake_up_process(task);
	return 0;
}

static void torture_stop_threads(struct torture *t)
{
	int i;

	for (i = 0; i < t->nthreads; i++) {
		kthread_stop(t->threads[i].task);
		t->threads[i].task = NULL;
	}
}

/* ---------------------------------------------------------------------- */
/* CPU hotplug                                                            */
/* ---------------------------------------------------------------------- */

static __printf(1, 2) void torture_hp_err(const char *fmt, ...)
{
	char buf[TORTURE_ERR_LEN];
	va_list args;

	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	pr_err("hotplug: error: %s\n", buf);
	if (atomic_long_inc_return(&torture_hp_errors) == 1)
		strscpy(torture_hp_error, buf, sizeof(torture_hp_error));
}

/* A random online CPU other than CPU 0, or -1. */
static int torture_hp_pick(struct torture_thread *th)
{
	unsigned int n = 0, k;
	int cpu;

	for_each_online_cpu(cpu)
		if (cpu)
			n++;
	if (!n)
		return -1;
	k = torture_random_n(th, n);
	for_each_online_cpu(cpu)
		if (cpu && !k--)
			return cpu;
	return -1;
}

static unsigned int torture_ms_since(unsigned long start)
{
	return jiffies_to_msecs(jiffies - start);
}

/* Bring back every CPU of @down; true if all came back. */
static bool torture_hp_online(struct cpumask *down, int tries)
{
	unsigned long start;
	int cpu, err;

	for (; tries > 0 && !cpumask_empty(down); tries--) {
		for_each_cpu(cpu, down) {
			start = jiffies;
			err = add_cpu(cpu);
			WRITE_ONCE(torture_hp_max_on_ms,
				   max(torture_hp_max_on_ms, torture_ms_since(start)));
			if (torture_verbose)
				pr_info("hotplug: add_cpu(%d) = %d in %u ms\n", cpu, err,
					torture_ms_since(start));
			if (!err || cpu_online(cpu)) {
				cpumask_clear_cpu(cpu, down);
				atomic_long_inc(&torture_hp_onlined);
			} else {
				atomic_long_inc(&torture_hp_failed);
			}
		}
		if (!cpumask_empty(down))
			msleep(100);
	}
	return cpumask_empty(down);
}

/* Let the tortures look at what @cpu left behind (it is offline). */
static void torture_hp_check(int cpu)
{
	unsigned int i;

	for (i = 0; i < TORTURE_NR; i++) {
		struct torture *t = torture_all[i];

		if (t->started && t->cpu_offline)
			t->cpu_offline(t, cpu);
	}
}

static int torture_hp_fn(void *arg)
{
	struct torture_thread *th = arg;
	static struct cpumask down;
	unsigned long start;
	int cpu, err;

	cpumask_clear(&down);
	while (!torture_must_stop()) {
		torture_sleep_ms(hotplug_ms);
		if (torture_must_stop())
			break;
		cpu = torture_hp_pick(th);
		if (cpu < 0)
			continue;
		start = jiffies;
		err = remove_cpu(cpu);
		WRITE_ONCE(torture_hp_max_off_ms,
			   max(torture_hp_max_off_ms, torture_ms_since(start)));
		if (torture_verbose)
			pr_info("hotplug: remove_cpu(%d) = %d in %u ms\n", cpu, err,
				torture_ms_since(start));
		if (err) {
			atomic_long_inc(&torture_hp_failed);
			continue;
		}
		atomic_long_inc(&torture_hp_offlined);
		cpumask_set_cpu(cpu, &down);
		torture_hp_check(cpu);
		/* Stay offline for a while, then come back. */
		msleep(1 + torture_random_n(th, hotplug_ms / 2 + 1));
		torture_hp_online(&down, 1);
	}
	if (!torture_hp_online(&down, 50))
		torture_hp_err("CPUs %*pbl stayed offline", cpumask_pr_args(&down));
	torture_thread_done();
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Results                                                                */
/* ---------------------------------------------------------------------- */

static long torture_reports(struct torture *t)
{
	return atomic_long_read(&t->nerrors);
}

static void torture_print_counters(struct torture *t, struct seq_buf *s)
{
	seq_buf_printf(s, "ops=%ld reports=%ld", atomic_long_read(&t->ops),
		       torture_reports(t));
	t->summary(t, s);
}

static void torture_print_hotplug(struct seq_buf *s)
{
	seq_buf_printf(s, "offlined=%ld onlined=%ld failed=%ld max_offline_ms=%u max_online_ms=%u",
		       atomic_long_read(&torture_hp_offlined),
		       atomic_long_read(&torture_hp_onlined),
		       atomic_long_read(&torture_hp_failed),
		       READ_ONCE(torture_hp_max_off_ms),
		       READ_ONCE(torture_hp_max_on_ms));
}

static void torture_build_results(void)
{
	unsigned int pass = 0, fail = 0, skip = 0, i, n;
	unsigned long elapsed;
	struct seq_buf s;
	char *buf;

	buf = kzalloc(TORTURE_RESULTS_SIZE, GFP_KERNEL);
	if (!buf)
		return;
	seq_buf_init(&s, buf, TORTURE_RESULTS_SIZE);
	elapsed = (torture_end_jiffies - torture_start_jiffies) / HZ;
	seq_buf_puts(&s, "KTAP version 1\n1..1\n");
	seq_buf_puts(&s, "    KTAP version 1\n    # Subtest: kprim_torture\n");
	seq_buf_printf(&s, "    # seed=%llu duration=%u cpus=%u nthreads=%d hotplug_ms=%u\n",
		       torture_seed_used, duration, torture_ncpus,
		       torture_nthreads_used, hotplug_ms);
	if (torture_interrupted)
		seq_buf_printf(&s, "    # interrupted by rmmod after %lu s\n", elapsed);
	seq_buf_printf(&s, "    # teardown_ms=%u (stopping the threads, final checks)\n",
		       torture_teardown_ms);
	seq_buf_printf(&s, "    1..%zu\n", TORTURE_NR + 1);
	for (i = 0; i < TORTURE_NR; i++) {
		struct torture *t = torture_all[i];
		long nerr = torture_reports(t);

		if (!t->selected) {
			seq_buf_printf(&s, "    ok %u %s # SKIP not selected\n",
				       t->index, t->name);
			skip++;
			continue;
		}
		seq_buf_printf(&s, "    # %s: ", t->name);
		torture_print_counters(t, &s);
		seq_buf_puts(&s, "\n");
		for (n = 0; n < min_t(long, nerr, TORTURE_MAX_ERRORS); n++)
			seq_buf_printf(&s, "    # %s: error: %s\n", t->name,
				       t->errors[n]);
		if (nerr > TORTURE_MAX_ERRORS)
			seq_buf_printf(&s, "    # %s: ... %ld errors in all\n",
				       t->name, nerr);
		seq_buf_printf(&s, "    %sok %u %s\n", nerr ? "not " : "",
			       t->index, t->name);
		if (nerr)
			fail++;
		else
			pass++;
	}
	if (!torture_hp_enabled) {
		seq_buf_printf(&s, "    ok %zu hotplug # SKIP %s\n",
			       TORTURE_HOTPLUG_INDEX, torture_hp_skip);
		skip++;
	} else {
		seq_buf_puts(&s, "    # hotplug: ");
		torture_print_hotplug(&s);
		seq_buf_puts(&s, "\n");
		if (atomic_long_read(&torture_hp_errors))
			seq_buf_printf(&s, "    # hotplug: error: %s\n",
				       torture_hp_error);
		seq_buf_printf(&s, "    %sok %zu hotplug\n",
			       atomic_long_read(&torture_hp_errors) ? "not " : "",
			       TORTURE_HOTPLUG_INDEX);
		if (atomic_long_read(&torture_hp_errors))
			fail++;
		else
			pass++;
	}
	seq_buf_printf(&s, "# kprim_torture: pass:%u fail:%u skip:%u total:%zu\n",
		       pass, fail, skip, TORTURE_NR + 1);
	seq_buf_printf(&s, "# Totals: pass:%u fail:%u skip:%u total:%zu\n",
		       pass, fail, skip, TORTURE_NR + 1);
	seq_buf_printf(&s, "%sok 1 kprim_torture\n", fail ? "not " : "");
	if (seq_buf_has_overflowed(&s))
		pr_err("results truncated\n");
	torture_results = buf;
}

static void torture_print_summaries(void)
{
	char buf[512];
	struct seq_buf s;
	unsigned int i;

	for (i = 0; i < TORTURE_NR; i++) {
		struct torture *t = torture_all[i];

		if (!t->selected)
			continue;
		seq_buf_init(&s, buf, sizeof(buf));
		torture_print_counters(t, &s);
		pr_info("%s %s: %s\n", t->name,
			torture_reports(t) ? "FAILED" : "passed", seq_buf_str(&s));
	}
	if (torture_hp_enabled) {
		seq_buf_init(&s, buf, sizeof(buf));
		torture_print_hotplug(&s);
		pr_info("hotplug %s: %s\n",
			atomic_long_read(&torture_hp_errors) ? "FAILED" : "passed",
			seq_buf_str(&s));
	}
}

/* ---------------------------------------------------------------------- */
/* Run control                                                            */
/* ---------------------------------------------------------------------- */

/* Stop every kthread, run the final checks, tear everything down. */
static void torture_end_run(void)
{
	unsigned int i;

	WRITE_ONCE(torture_stop, true);
	torture_end_jiffies = jiffies;
	if (torture_hp_thread.task) {
		kthread_stop(torture_hp_thread.task);
		torture_hp_thread.task = NULL;
	}
	for (i = 0; i < TORTURE_NR; i++)
		if (torture_all[i]->started)
			torture_stop_threads(torture_all[i]);
	for (i = 0; i < TORTURE_NR; i++) {
		struct torture *t = torture_all[i];

		if (t->started && !t->finished) {
			t->finish(t);
			t->finished = true;
		}
	}
}

static int torture_control_fn(void *arg)
{
	unsigned long next_report = jiffies + 10 * HZ;
	char buf[256];
	struct seq_buf s;
	unsigned int i;

	while (!kthread_should_stop() &&
	       time_before(jiffies, torture_end_jiffies)) {
		schedule_timeout_idle(min_t(long, torture_end_jiffies - jiffies, HZ));
		if (torture_verbose && time_after(jiffies, next_report)) {
			next_report = jiffies + 10 * HZ;
			for (i = 0; i < TORTURE_NR; i++) {
				if (!torture_all[i]->selected)
					continue;
				seq_buf_init(&s, buf, sizeof(buf));
				torture_print_counters(torture_all[i], &s);
				pr_info("%s: %s\n", torture_all[i]->name,
					seq_buf_str(&s));
			}
		}
	}
	torture_interrupted = kthread_should_stop();
	torture_end_run();
	torture_teardown_ms = jiffies_to_msecs(jiffies - torture_end_jiffies);
	torture_build_results();
	torture_print_summaries();
	pr_info("run finished after %lu s; stopping and final checks took %u ms\n",
		(torture_end_jiffies - torture_start_jiffies) / HZ,
		torture_teardown_ms);
	/* The results are complete before anyone sees done = 1. */
	smp_store_release(&torture_done, 1);
	torture_thread_done();
	return 0;
}

/* ---------------------------------------------------------------------- */
/* debugfs                                                                */
/* ---------------------------------------------------------------------- */

static int torture_done_show(struct seq_file *m, void *v)
{
	/* Pairs with torture_control_fn(): then the results are final. */
	seq_printf(m, "%d\n", smp_load_acquire(&torture_done));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(torture_done);

static int torture_results_show(struct seq_file *m, void *v)
{
	/* Pairs with torture_control_fn(): torture_results is complete. */
	if (!smp_load_acquire(&torture_done))
		seq_puts(m, "# kprim_torture: still running, see done\n");
	else if (!torture_results)
		seq_puts(m, "# kprim_torture: no memory for the results\n");
	else
		seq_puts(m, torture_results);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(torture_results);

static int torture_status_show(struct seq_file *m, void *v)
{
	unsigned long now = READ_ONCE(torture_done) ? torture_end_jiffies : jiffies;
	struct seq_buf s;
	unsigned int i;
	char *buf;

	buf = kmalloc(1024, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	seq_printf(m, "state %s\n", READ_ONCE(torture_done) ? "done" :
		   READ_ONCE(torture_stop) ? "finishing" : "running");
	seq_printf(m, "elapsed %lu s of %u\n",
		   (now - torture_start_jiffies) / HZ, duration);
	seq_printf(m, "seed %llu cpus %u online %u nthreads %d hotplug_ms %u\n",
		   torture_seed_used, torture_ncpus, num_online_cpus(),
		   torture_nthreads_used, hotplug_ms);
	for (i = 0; i < TORTURE_NR; i++) {
		struct torture *t = torture_all[i];

		if (!t->selected)
			continue;
		seq_buf_init(&s, buf, 1024);
		torture_print_counters(t, &s);
		seq_printf(m, "%s: %s\n", t->name, seq_buf_str(&s));
	}
	if (torture_hp_enabled) {
		seq_buf_init(&s, buf, 1024);
		torture_print_hotplug(&s);
		seq_printf(m, "hotplug: %s\n", seq_buf_str(&s));
	}
	kfree(buf);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(torture_status);

/* ---------------------------------------------------------------------- */
/* Module                                                                 */
/* ---------------------------------------------------------------------- */

static int torture_parse_list(void)
{
	char *list, *p, *tok;
	unsigned int i, nsel = 0;
	int ret = 0;

	if (!tortures)
		return -EINVAL;
	list = kstrdup(tortures, GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	p = list;
	while ((tok = strsep(&p, ",")) != NULL) {
		tok = strim(tok);
		if (!*tok)
			continue;
		for (i = 0; i < TORTURE_NR; i++)
			if (!strcmp(tok, torture_all[i]->name))
				break;
		if (i == TORTURE_NR) {
			pr_err("unknown torture \"%s\" (known: smr,psref,vmem,ltable)\n", tok);
			ret = -EINVAL;
			break;
		}
		if (!torture_all[i]->selected)
			nsel++;
		torture_all[i]->selected = true;
	}
	kfree(list);
	if (!ret && !nsel) {
		pr_err("tortures=\"%s\" selects nothing\n", tortures);
		ret = -EINVAL;
	}
	return ret;
}

static int torture_check_params(void)
{
	if (!duration || duration > TORTURE_MAX_DURATION) {
		pr_err("duration=%u: must be 1 to %u seconds\n", duration,
		       TORTURE_MAX_DURATION);
		return -EINVAL;
	}
	if (nthreads < 0 || nthreads > TORTURE_MAX_THREADS_PARAM) {
		pr_err("nthreads=%d: must be 0 to %d\n", nthreads,
		       TORTURE_MAX_THREADS_PARAM);
		return -EINVAL;
	}
	if (hotplug_ms && (hotplug_ms < 10 || hotplug_ms > 600000)) {
		pr_err("hotplug_ms=%u: must be 0 or 10 to 600000\n", hotplug_ms);
		return -EINVAL;
	}
	return torture_parse_list();
}

static void torture_abort_start(void)
{
	unsigned int i;

	torture_end_run();
	for (i = 0; i < TORTURE_NR; i++)
		torture_all[i]->started = false;
}

static int __init torture_init(void)
{
	struct task_struct *task;
	unsigned int i;
	int ret;

	ret = torture_check_params();
	if (ret)
		return ret;
	torture_seed_used = seed ? seed : get_random_u64();
	torture_ncpus = num_online_cpus();
	torture_nthreads_used = nthreads ? nthreads : torture_ncpus;
	pr_info("seed=%llu duration=%u tortures=%s nthreads=%d hotplug_ms=%u cpus=%u (kprim %s)\n",
		torture_seed_used, duration, tortures, torture_nthreads_used,
		hotplug_ms, torture_ncpus, kprim_version());

	torture_start_jiffies = jiffies;
	torture_end_jiffies = jiffies + (unsigned long)duration * HZ;
	for (i = 0; i < TORTURE_NR; i++) {
		struct torture *t = torture_all[i];

		t->index = i + 1;
		spin_lock_init(&t->err_lock);
		if (!t->selected)
			continue;
		ret = t->start(t);
		/* Threads started before a failure are stopped by finish. */
		t->started = true;
		if (ret) {
			pr_err("%s: start failed: %d\n", t->name, ret);
			torture_abort_start();
			return ret;
		}
	}

	if (!hotplug_ms) {
		torture_hp_skip = "hotplug_ms=0";
	} else if (num_online_cpus() < 2) {
		torture_hp_skip = "needs a second online CPU";
	} else {
		torture_hp_thread.idx = 0;
		torture_seed_thread(&torture_hp_thread, TORTURE_HOTPLUG_INDEX);
		task = kthread_run(torture_hp_fn, &torture_hp_thread, "kt_hotplug");
		if (IS_ERR(task)) {
			torture_abort_start();
			return PTR_ERR(task);
		}
		torture_hp_thread.task = task;
		torture_hp_enabled = true;
	}

	task = kthread_run(torture_control_fn, NULL, "kt_control");
	if (IS_ERR(task)) {
		torture_abort_start();
		return PTR_ERR(task);
	}
	torture_control_task = task;

	torture_dir = debugfs_create_dir("kprim_torture", NULL);
	debugfs_create_file("done", 0444, torture_dir, NULL, &torture_done_fops);
	debugfs_create_file("status", 0444, torture_dir, NULL, &torture_status_fops);
	debugfs_create_file("results", 0444, torture_dir, NULL, &torture_results_fops);
	return 0;
}

static void __exit torture_exit(void)
{
	debugfs_remove_recursive(torture_dir);
	/* Ends a run still in progress: the control thread tears down. */
	kthread_stop(torture_control_task);
	kfree(torture_results);
	torture_results = NULL;
}

module_init(torture_init);
module_exit(torture_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kprim torture tests: long randomized runs of smr, psref, vmem and ltable with CPU hotplug");
KPRIM_MODULE_IMPORT_NS();
