// SPDX-License-Identifier: GPL-2.0
/*
 * kprim_example: a session registry built from kprim's four facilities, as
 * an out-of-tree driver would use them.
 *
 * Theory of operation
 * ===================
 *
 * A session is a small kmalloc'ed object with a session ID (sid) and a
 * handle.  Users outside the driver only ever see handles.
 *
 * Session IDs (vmem).  kpx_idspace is the driver's whole ID space,
 * [1, KPX_SID_MAX).  kpx_sids, the arena sessions allocate from, starts
 * empty and imports from kpx_idspace through vmem_alloc()/vmem_free() (the
 * NetBSD idiom for chaining arenas); VM_LARGEIMPORT makes it import sixteen
 * IDs at a time, and a block whose IDs are all free again goes back to the
 * parent.  The sid of a session is freed only when the session's memory is,
 * so a sid is never reused while a stale reader can still see the session.
 *
 * Handles (ltable).  A handle is the 64-bit id of a kpx_slot in the link
 * table kpx_table.  The slot holds an SMR pointer to its session.  Ids carry
 * a generation, so a handle whose session was destroyed stops resolving at
 * once, even after the slot is reused: ltable_get_elem() returns NULL.
 * Table memory is never freed before ltable_destroy(), so resolving any
 * handle is safe without locks.
 *
 * Lookup (SMR + psref).  kpx_session_get() enters the SMR domain kpx_smr,
 * resolves the handle, loads the slot's session pointer and takes a passive
 * reference on the session's psref target.  SMR keeps the session's memory
 * valid between the pointer load and psref_acquire(); the passive reference
 * then keeps the session alive after smr_leave(), while the holder does its
 * work, possibly sleeping briefly.  A psref holder must stay on its CPU, so
 * callers are "CPU-bound users": per-CPU kthreads (kpx_user/N), or a task
 * inside migrate_disable() (the "lookup" and "hold" commands).  Lookups take
 * no lock and write no shared cache line except the session's use counter.
 *
 * Destruction.  Under kpx_lock, the destroyer clears the slot's session
 * pointer and invalidates the slot: new lookups fail from now on.  Outside
 * the lock, psref_target_drain() waits until no CPU holds the session, then
 * smr_call() retires it: once every SMR reader that could have loaded the
 * pointer before it was cleared has left its section (it may still call
 * psref_acquire(), which returns -ENOENT on a drained target), the callback
 * destroys the psref target, frees the sid and frees the session.
 *
 * Module unload stops the users, destroys the remaining sessions, waits for
 * the callbacks with smr_barrier() and tears the facilities down in reverse
 * order; kprim reports (and debugfs shows) anything left behind.
 *
 * Control: /sys/kernel/debug/kprim_example/
 *
 *   control   write "create [NAME]", "destroy HANDLE", "lookup HANDLE",
 *             "hold HANDLE MS", "users start" or "users stop"
 *   sessions  one line per live session: handle, sid, uses, name
 *   stats     counters, and the per-CPU users' hits and misses
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <kprim/kprim.h>
#include <kprim/ltable.h>
#include <kprim/psref.h>
#include <kprim/smr.h>
#include <kprim/vmem.h>

#define KPX_SID_MAX		BIT(20)
#define KPX_TABLE_MAX		BIT(16)
#define KPX_NAME_LEN		24
#define KPX_HANDLES		4096	/* ring of handles the users pick from */
#define KPX_HOLD_MAX_MS		10000
#define KPX_MAGIC		0x6b707873U	/* "kpxs" */
#define KPX_MAGIC_DEAD		0x6b707864U	/* "kpxd" */

/**
 * struct kpx_session - a session
 * @target: pinned by passive references while users work on the session
 * @smr_node: retires the session with smr_call()
 * @link: on kpx_sessions, under kpx_lock
 * @handle: the ltable id users name the session by
 * @sid: session ID, from kpx_sids
 * @uses: completed uses (lookups and holds)
 * @magic: %KPX_MAGIC while the session may be reached
 * @name: name given at creation
 */
struct kpx_session {
	struct psref_target target;
	struct smr_node smr_node;
	struct list_head link;
	u64 handle;
	vmem_addr_t sid;
	atomic_long_t uses;
	u32 magic;
	char name[KPX_NAME_LEN];
};

/**
 * struct kpx_slot - an element of kpx_table; its id is a session's handle
 * @lt: ltable header, first as ltable requires
 * @sess: the session, read under kpx_smr, written under kpx_lock
 * @unused: pads the element to a power-of-two size
 */
struct kpx_slot {
	struct lt_elem lt;
	/* Split so checkpatch does not take the macro for a cast. */
	SMR_POINTER(struct kpx_session *)
		sess;
	u64 unused;
};

static_assert(sizeof(struct kpx_slot) == 32);
static_assert(offsetof(struct kpx_slot, lt) == 0);

/**
 * struct kpx_user - a CPU-bound user: a per-CPU kthread looking sessions up
 * @task: the kthread, NULL when stopped
 * @hits: lookups that found and pinned a session
 * @misses: lookups of handles that no longer resolve
 */
struct kpx_user {
	struct task_struct *task;
	unsigned long hits;
	unsigned long misses;
};

static vmem_t *kpx_idspace;
static vmem_t *kpx_sids;
static struct link_table kpx_table;
static SMR_DEFINE(kpx_smr, "kpx_sessions");
static struct psref_class *kpx_class;
static struct dentry *kpx_debugfs;
static bool kpx_table_ready;

static DEFINE_MUTEX(kpx_lock);		/* serialises create and destroy */
static LIST_HEAD(kpx_sessions);		/* under kpx_lock */
static unsigned long kpx_nlive;		/* under kpx_lock */

/* Handles ever created (a ring, stale ones included), read by the users. */
static u64 kpx_handles[KPX_HANDLES];
static unsigned int kpx_nhandles;	/* written under kpx_lock */

static DEFINE_MUTEX(kpx_users_lock);	/* serialises users start/stop */
static struct kpx_user *kpx_users;	/* one per possible CPU */

static atomic_long_t kpx_created, kpx_destroyed, kpx_reclaimed;
static atomic_long_t kpx_lookups, kpx_stale;
static atomic_long_t kpx_magic_errors;

/* The slot poison callback: a freed slot points at no session. */
static void kpx_slot_poison(struct link_table *table, struct lt_elem *elem)
{
	struct kpx_slot *slot = container_of(elem, struct kpx_slot, lt);

	smr_clear_store(&slot->sess);
}

/* Can @handle name an element of kpx_table?  Avoids ltable misuse reports. */
static bool kpx_handle_plausible(u64 handle)
{
	struct ltable_id id = { .id = handle };

	return handle && id.idx < ltable_nelem(&kpx_table);
}

/*
 * kpx_session_get() - resolve @handle and pin its session on this CPU
 * @handle: a handle from the sessions file or kpx_handles
 * @ref: the caller's passive reference, on its stack
 *
 * Context: bound to a CPU (per-CPU kthread, or migrate_disable()) until the
 * matching kpx_session_put(); process context (kpx_class is IPL_NONE).
 * Return: the pinned session, or NULL if @handle does not resolve or the
 * session is being destroyed.
 */
static struct kpx_session *kpx_session_get(u64 handle, struct psref *ref)
{
	struct kpx_session *s = NULL;
	struct kpx_slot *slot;
	struct lt_elem *elem;

	atomic_long_inc(&kpx_lookups);
	if (!kpx_handle_plausible(handle))
		goto stale;
	smr_enter(&kpx_smr);
	elem = ltable_get_elem(&kpx_table, handle);
	if (elem) {
		slot = container_of(elem, struct kpx_slot, lt);
		s = smr_entered_load(&slot->sess);
		/* -ENOENT: the session is being destroyed. */
		if (s && psref_acquire(ref, &s->target, kpx_class))
			s = NULL;
		ltable_put_elem(&kpx_table, elem);
	}
	smr_leave(&kpx_smr);
	if (s)
		return s;
stale:
	atomic_long_inc(&kpx_stale);
	return NULL;
}

/* Release what kpx_session_get() pinned; same CPU, same task. */
static void kpx_session_put(struct kpx_session *s, struct psref *ref)
{
	psref_release(ref, &s->target, kpx_class);
}

/* The work a user does on a pinned session. */
static void kpx_session_use(struct kpx_session *s)
{
	if (READ_ONCE(s->magic) != KPX_MAGIC) {
		/* Would mean the facilities let a retired session through. */
		atomic_long_inc(&kpx_magic_errors);
		pr_err_ratelimited("session %llx used after retirement\n",
				   s->handle);
		return;
	}
	atomic_long_inc(&s->uses);
}

/*
 * kpx_session_create() - allocate a sid and a handle, publish a session
 * @name: its name (truncated)
 * @handlep: the new handle
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno.
 */
static int kpx_session_create(const char *name, u64 *handlep)
{
	struct kpx_session *s;
	struct kpx_slot *slot;
	struct lt_elem *elem;
	vmem_addr_t sid;
	int err;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	/* vmem returns NetBSD-style positive errnos. */
	err = vmem_alloc(kpx_sids, 1, VM_SLEEP | VM_INSTANTFIT | VM_LARGEIMPORT,
			 &sid);
	if (err) {
		kfree(s);
		return -err;
	}
	/* One reference, not valid yet: nobody can resolve the handle. */
	elem = ltable_alloc_elem(&kpx_table, LT_ELEM, 1, 0);
	if (!elem) {
		vmem_free(kpx_sids, sid, 1);
		kfree(s);
		return -ENOMEM;
	}
	slot = container_of(elem, struct kpx_slot, lt);

	s->handle = elem->lt_id.id;
	s->sid = sid;
	atomic_long_set(&s->uses, 0);
	s->magic = KPX_MAGIC;
	if (name && *name)
		strscpy(s->name, name, sizeof(s->name));
	else
		snprintf(s->name, sizeof(s->name), "session-%lu",
			 (unsigned long)sid);
	psref_target_init(&s->target, kpx_class);

	mutex_lock(&kpx_lock);
	list_add_tail(&s->link, &kpx_sessions);
	kpx_nlive++;
	/* Publish the initialised session (release), then the handle. */
	smr_serialized_store(&slot->sess, s);
	lt_elem_mkvalid(elem);
	WRITE_ONCE(kpx_handles[kpx_nhandles % KPX_HANDLES], s->handle);
	/* Pairs with smp_load_acquire() in kpx_user_fn(). */
	smp_store_release(&kpx_nhandles, kpx_nhandles + 1);
	mutex_unlock(&kpx_lock);
	/* The table keeps the valid element with no reference. */
	ltable_put_elem(&kpx_table, elem);

	atomic_long_inc(&kpx_created);
	*handlep = s->handle;
	return 0;
}

/* SMR callback, from a workqueue: no reader can reach @node's session. */
static void kpx_session_reclaim(struct smr_node *node)
{
	struct kpx_session *s = container_of(node, struct kpx_session, smr_node);

	psref_target_destroy(&s->target, kpx_class);
	vmem_free(kpx_sids, s->sid, 1);
	WRITE_ONCE(s->magic, KPX_MAGIC_DEAD);
	kfree(s);
	atomic_long_inc(&kpx_reclaimed);
}

/*
 * kpx_session_unpublish() - make @slot's session unreachable by new lookups
 *
 * Return: the session, or NULL if a concurrent destroy got there first.
 */
static struct kpx_session *kpx_session_unpublish(struct kpx_slot *slot)
{
	struct kpx_session *s;

	lockdep_assert_held(&kpx_lock);
	s = smr_serialized_load(&slot->sess);
	if (!s)
		return NULL;
	smr_clear_store(&slot->sess);
	/* The handle stops resolving; the slot is freed at its last put. */
	lt_elem_invalidate(&slot->lt);
	list_del(&s->link);
	kpx_nlive--;
	return s;
}

/* Wait for the session's holders, then retire it after an SMR period. */
static void kpx_session_retire(struct kpx_session *s)
{
	psref_target_drain(&s->target, kpx_class);
	smr_call(&kpx_smr, &s->smr_node, sizeof(*s), kpx_session_reclaim);
	atomic_long_inc(&kpx_destroyed);
}

/*
 * kpx_session_destroy() - destroy the session named by @handle
 *
 * Context: process context, may sleep (until no CPU holds the session).
 * Return: 0, or -ENOENT if @handle does not name a live session.
 */
static int kpx_session_destroy(u64 handle)
{
	struct kpx_session *s;
	struct lt_elem *elem;

	if (!kpx_handle_plausible(handle))
		return -ENOENT;
	elem = ltable_get_elem(&kpx_table, handle);
	if (!elem)
		return -ENOENT;
	mutex_lock(&kpx_lock);
	s = kpx_session_unpublish(container_of(elem, struct kpx_slot, lt));
	mutex_unlock(&kpx_lock);
	ltable_put_elem(&kpx_table, elem);
	if (!s)
		return -ENOENT;
	kpx_session_retire(s);
	return 0;
}

/* Destroy every session (module unload). */
static void kpx_session_destroy_all(void)
{
	struct kpx_session *s;
	u64 handle;

	for (;;) {
		mutex_lock(&kpx_lock);
		s = list_first_entry_or_null(&kpx_sessions, struct kpx_session,
					     link);
		handle = s ? s->handle : 0;
		mutex_unlock(&kpx_lock);
		if (!s)
			break;
		/* Only this function destroys now: the handle resolves. */
		if (WARN_ON_ONCE(kpx_session_destroy(handle)))
			break;
	}
}

/*
 * kpx_session_hold() - pin a session for @ms milliseconds, sleeping
 *
 * A task holding a passive reference may sleep briefly when it cannot
 * migrate; a concurrent destroy of the session waits for the release.
 */
static int kpx_session_hold(u64 handle, unsigned int ms)
{
	struct kpx_session *s;
	struct psref ref;

	migrate_disable();
	s = kpx_session_get(handle, &ref);
	if (s) {
		if (ms)
			msleep(ms);
		kpx_session_use(s);
		kpx_session_put(s, &ref);
	}
	migrate_enable();
	return s ? 0 : -ENOENT;
}

/* A CPU-bound user: looks up random handles, live and stale. */
static int kpx_user_fn(void *arg)
{
	struct kpx_user *u = arg;
	struct kpx_session *s;
	struct psref ref;
	unsigned int n, i;
	u64 handle;

	while (!kthread_should_stop()) {
		/* Pairs with smp_store_release() in kpx_session_create(). */
		n = min_t(unsigned int, smp_load_acquire(&kpx_nhandles),
			  KPX_HANDLES);
		for (i = 0; n && i < 32; i++) {
			handle = READ_ONCE(kpx_handles[get_random_u32_below(n)]);
			s = kpx_session_get(handle, &ref);
			if (!s) {
				/* Read by kpx_stats_show() without a lock. */
				WRITE_ONCE(u->misses, u->misses + 1);
				continue;
			}
			kpx_session_use(s);
			kpx_session_put(s, &ref);
			WRITE_ONCE(u->hits, u->hits + 1);
		}
		usleep_range(1000, 2000);
	}
	return 0;
}

static void kpx_users_stop(void)
{
	int cpu;

	mutex_lock(&kpx_users_lock);
	for_each_possible_cpu(cpu) {
		struct kpx_user *u = &kpx_users[cpu];

		if (u->task) {
			kthread_stop(u->task);
			put_task_struct(u->task);
			u->task = NULL;
		}
	}
	mutex_unlock(&kpx_users_lock);
}

static int kpx_users_start(void)
{
	struct task_struct *t;
	int cpu, err = 0;

	mutex_lock(&kpx_users_lock);
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		struct kpx_user *u = &kpx_users[cpu];

		if (u->task)
			continue;
		/* Bound to @cpu: psref_acquire() accepts per-CPU kthreads. */
		t = kthread_create_on_cpu(kpx_user_fn, u, cpu, "kpx_user/%u");
		if (IS_ERR(t)) {
			err = PTR_ERR(t);
			break;
		}
		get_task_struct(t);
		u->task = t;
		wake_up_process(t);
	}
	cpus_read_unlock();
	mutex_unlock(&kpx_users_lock);
	if (err)
		kpx_users_stop();
	return err;
}

static int kpx_control_cmd(char *cmd)
{
	char *verb = strsep(&cmd, " \t");
	char *arg1 = strsep(&cmd, " \t");
	char *arg2 = strsep(&cmd, " \t");
	unsigned int ms;
	u64 handle;
	int err;

	if (!verb || !*verb)
		return -EINVAL;
	if (!strcmp(verb, "create")) {
		if (arg2)
			return -EINVAL;
		return kpx_session_create(arg1, &handle);
	}
	if (!strcmp(verb, "users")) {
		if (arg1 && !strcmp(arg1, "start") && !arg2)
			return kpx_users_start();
		if (arg1 && !strcmp(arg1, "stop") && !arg2) {
			kpx_users_stop();
			return 0;
		}
		return -EINVAL;
	}
	if (!arg1 || kstrtou64(arg1, 0, &handle))
		return -EINVAL;
	if (!strcmp(verb, "destroy") && !arg2)
		return kpx_session_destroy(handle);
	if (!strcmp(verb, "lookup") && !arg2)
		return kpx_session_hold(handle, 0);
	if (!strcmp(verb, "hold") && arg2) {
		err = kstrtouint(arg2, 0, &ms);
		if (err || ms > KPX_HOLD_MAX_MS)
			return -EINVAL;
		return kpx_session_hold(handle, ms);
	}
	return -EINVAL;
}

static ssize_t kpx_control_write(struct file *file, const char __user *ubuf,
				 size_t len, loff_t *ppos)
{
	char buf[64];
	int err;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	err = kpx_control_cmd(strim(buf));
	return err ? err : len;
}

static const struct file_operations kpx_control_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = kpx_control_write,
	.llseek = noop_llseek,
};

static int kpx_sessions_show(struct seq_file *m, void *v)
{
	struct kpx_session *s;

	seq_puts(m, "# handle             sid      uses  name\n");
	mutex_lock(&kpx_lock);
	list_for_each_entry(s, &kpx_sessions, link)
		seq_printf(m, "%#018llx %-8lu %5ld  %s\n", s->handle,
			   (unsigned long)s->sid, atomic_long_read(&s->uses),
			   s->name);
	mutex_unlock(&kpx_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kpx_sessions);

static int kpx_stats_show(struct seq_file *m, void *v)
{
	unsigned long live;
	int cpu;

	mutex_lock(&kpx_lock);
	live = kpx_nlive;
	mutex_unlock(&kpx_lock);
	seq_printf(m, "live %lu\n", live);
	seq_printf(m, "created %ld\n", atomic_long_read(&kpx_created));
	seq_printf(m, "destroyed %ld\n", atomic_long_read(&kpx_destroyed));
	seq_printf(m, "reclaimed %ld\n", atomic_long_read(&kpx_reclaimed));
	seq_printf(m, "lookups %ld\n", atomic_long_read(&kpx_lookups));
	seq_printf(m, "stale_lookups %ld\n", atomic_long_read(&kpx_stale));
	seq_printf(m, "use_after_retire %ld\n",
		   atomic_long_read(&kpx_magic_errors));
	seq_printf(m, "sids_in_use %zu\n", vmem_size(kpx_sids, VMEM_ALLOC));
	seq_printf(m, "sids_imported %zu\n", vmem_size(kpx_sids, VMEM_ALLOC |
							  VMEM_FREE));
	mutex_lock(&kpx_users_lock);
	for_each_possible_cpu(cpu) {
		struct kpx_user *u = &kpx_users[cpu];

		if (u->task || u->hits || u->misses)
			seq_printf(m, "user cpu%d %s hits %lu misses %lu\n", cpu,
				   u->task ? "running" : "stopped",
				   READ_ONCE(u->hits), READ_ONCE(u->misses));
	}
	mutex_unlock(&kpx_users_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kpx_stats);

/* Undo kpx_init(): every session must be reclaimed already. */
static void kpx_teardown(void)
{
	vmem_size_t left;

	if (kpx_table_ready)
		ltable_destroy(&kpx_table);
	if (kpx_class)
		psref_class_destroy(kpx_class);
	if (kpx_sids) {
		left = vmem_size(kpx_sids, VMEM_ALLOC);
		if (left)
			pr_err("%zu session IDs still allocated\n", left);
		vmem_destroy(kpx_sids);	/* releases its blocks to the parent */
	}
	if (kpx_idspace)
		vmem_destroy(kpx_idspace);
	smr_domain_fini(&kpx_smr);	/* runs smr_barrier() first */
	kfree(kpx_users);
}

static int __init kpx_init(void)
{
	int err;

	kpx_users = kcalloc(nr_cpu_ids, sizeof(*kpx_users), GFP_KERNEL);
	if (!kpx_users)
		return -ENOMEM;
	err = smr_domain_init(&kpx_smr);
	if (err) {
		kfree(kpx_users);
		return err;
	}
	err = -ENOMEM;
	kpx_idspace = vmem_create("kpx_idspace", 1, KPX_SID_MAX - 1, 1,
				  NULL, NULL, NULL, 0, VM_SLEEP, IPL_NONE);
	if (!kpx_idspace)
		goto fail;
	/* The child imports from the parent with vmem_alloc/vmem_free. */
	kpx_sids = vmem_create("kpx_sids", 0, 0, 1, vmem_alloc, vmem_free,
			       kpx_idspace, 0, VM_SLEEP, IPL_NONE);
	if (!kpx_sids)
		goto fail;
	kpx_class = psref_class_create("kpx_sessions", IPL_NONE);
	if (!kpx_class)
		goto fail;
	err = ltable_init(&kpx_table, "kpx_handles", KPX_TABLE_MAX,
			  sizeof(struct kpx_slot), kpx_slot_poison);
	if (err)
		goto fail;
	kpx_table_ready = true;
	err = ltable_grow(&kpx_table, 64);
	if (err)
		goto fail;

	kpx_debugfs = debugfs_create_dir("kprim_example", NULL);
	debugfs_create_file("control", 0200, kpx_debugfs, NULL,
			    &kpx_control_fops);
	debugfs_create_file("sessions", 0400, kpx_debugfs, NULL,
			    &kpx_sessions_fops);
	debugfs_create_file("stats", 0400, kpx_debugfs, NULL, &kpx_stats_fops);
	pr_info("loaded (kprim %s)\n", kprim_version());
	return 0;

fail:
	kpx_teardown();
	return err;
}

static void __exit kpx_exit(void)
{
	debugfs_remove_recursive(kpx_debugfs);
	kpx_users_stop();
	kpx_session_destroy_all();
	/* Every retired session's callback has run when this returns. */
	smr_barrier(&kpx_smr);
	pr_info("unloading: %ld sessions created, %ld reclaimed, %zu IDs in use\n",
		atomic_long_read(&kpx_created),
		atomic_long_read(&kpx_reclaimed),
		vmem_size(kpx_sids, VMEM_ALLOC));
	kpx_teardown();
}

module_init(kpx_init);
module_exit(kpx_exit);

MODULE_DESCRIPTION("kprim sample consumer: a session registry using vmem, ltable, SMR and psref");
MODULE_AUTHOR("The kprim authors");
MODULE_LICENSE("GPL");
MODULE_VERSION(KPRIM_VERSION);
MODULE_IMPORT_NS(KPRIM);
