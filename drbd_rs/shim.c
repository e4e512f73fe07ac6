// SPDX-License-Identifier: GPL-2.0
/*
 * C shims for drbd_rs: inline functions and macros of the kernel's headers that bindgen cannot
 * turn into callable functions. Each is a one-line forwarder; the Rust side (drbd_rs/sys/)
 * documents the contracts.
 */

#include <linux/cpumask.h>
#include <linux/moduleparam.h>
#include <linux/string.h>
#include <linux/workqueue.h>
#include <linux/bitmap.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <net/genetlink.h>
#include <net/netlink.h>

/* Prototypes, for -Wmissing-prototypes: these are called from Rust only. */
int drbd_rs_genlmsg_reply(struct sk_buff *skb, void *info);
int drbd_rs_skb_append(struct sk_buff *skb, const void *data, unsigned int len);
int drbd_rs_skb_len(const struct sk_buff *skb);
u32 drbd_rs_cb_portid(const void *cb);
int drbd_rs_cpu_mask_check(const char *mask);
struct proc_dir_entry *drbd_rs_proc_create_single(const char *name,
		int (*show)(struct seq_file *, void *));
void drbd_rs_proc_remove(struct proc_dir_entry *pde);
void drbd_rs_usermode_helper_path(char *buf, size_t len);
struct workqueue_struct *drbd_rs_alloc_wq(const char *name, unsigned int flags);

/* ---- generic netlink (drbd_rs/sys/genl.rs) ---- */

/* genlmsg_reply(): unicast @skb to the sender of the request @info; consumes @skb. */
int drbd_rs_genlmsg_reply(struct sk_buff *skb, void *info)
{
	return genlmsg_reply(skb, (struct genl_info *)info);
}

/* Appends @len bytes to @skb if they fit (skb_put() would BUG otherwise). */
int drbd_rs_skb_append(struct sk_buff *skb, const void *data, unsigned int len)
{
	if (skb_tailroom(skb) < (int)len)
		return -EMSGSIZE;
	skb_put_data(skb, data, len);
	return 0;
}

/* Bytes in @skb so far: what a dumpit callback returns to ask for another round. */
int drbd_rs_skb_len(const struct sk_buff *skb)
{
	return skb->len;
}

/* The netlink port id of the socket a dump request came from (NETLINK_CB). */
u32 drbd_rs_cb_portid(const void *cb)
{
	return NETLINK_CB(((const struct netlink_callback *)cb)->skb).portid;
}

/*
 * The check set_resource_options() makes on a resource's cpu-mask: 0 if @mask (at most
 * 32 bytes, NUL-terminated) is acceptable, else the negative errno bitmap_parse() gave.
 * A mask wider than the machine is truncated, not refused; on one CPU it is ignored.
 */
int drbd_rs_cpu_mask_check(const char *mask)
{
	cpumask_var_t m;
	int err;

	if (nr_cpu_ids <= 1 || mask[0] == 0)
		return 0;
	if (!zalloc_cpumask_var(&m, GFP_KERNEL))
		return -ENOMEM;
	err = bitmap_parse(mask, 32, cpumask_bits(m), nr_cpu_ids);
	if (err == -EOVERFLOW)
		err = 0;
	free_cpumask_var(m);
	return err;
}

/* ---- /proc (drbd_rs/sys/procfs.rs) ---- */

/* proc_create_single() (a macro): a read-only seq_file file in /proc rendered by @show. */
struct proc_dir_entry *drbd_rs_proc_create_single(const char *name,
		int (*show)(struct seq_file *, void *))
{
	return proc_create_single(name, S_IFREG | 0444, NULL, show);
}

/* proc_remove(): removes @pde, waiting for readers that are inside its show function. */
void drbd_rs_proc_remove(struct proc_dir_entry *pde)
{
	proc_remove(pde);
}

/* ---- usermode helpers (drbd_rs/sys/umh.rs) ---- */

/*
 * The program the helpers run, as the C module's `usermode_helper` parameter (same name, size,
 * default and permissions): settable at load time and through
 * /sys/module/drbd_rs/parameters/usermode_helper.
 */
static char drbd_rs_usermode_helper[80] = "/sbin/drbdadm";
module_param_string(usermode_helper, drbd_rs_usermode_helper, sizeof(drbd_rs_usermode_helper), 0644);

/*
 * Copies the usermode_helper parameter to @buf (@len bytes, always NUL-terminated, cut to fit)
 * under the module's parameter lock, so a write through sysfs is never seen half done.
 */
void drbd_rs_usermode_helper_path(char *buf, size_t len)
{
	kernel_param_lock(THIS_MODULE);
	strscpy(buf, drbd_rs_usermode_helper, len);
	kernel_param_unlock(THIS_MODULE);
}

/* alloc_workqueue() (a macro): one of the module's own queues (drbd_rs/sys/workqueue.rs). */
struct workqueue_struct *drbd_rs_alloc_wq(const char *name, unsigned int flags)
{
	return alloc_workqueue("%s", flags, 0, name);
}
