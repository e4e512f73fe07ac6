// SPDX-License-Identifier: GPL-2.0
/*
 * C shims for the block side of drbd_rs (drbd_rs/sys/disk.rs, drbd_rs/sys/bdev.rs): static
 * inline functions bindgen cannot call, and build-time checks of the constants the Rust side
 * defines itself because they are C macros with casts bindgen does not evaluate.
 */

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/build_bug.h>
#include <linux/fs_struct.h>
#include <linux/pgtable.h>
#include <linux/sched/mm.h>
#include <linux/workqueue.h>

/* queue_limits_start_update(): takes q->limits_lock and copies the limits to @lim. */
void drbd_rs_queue_limits_start_update(struct request_queue *q, struct queue_limits *lim);
void drbd_rs_queue_limits_start_update(struct request_queue *q, struct queue_limits *lim)
{
	*lim = queue_limits_start_update(q);
}

/* INIT_WORK(): a work item in a request's private area, to end it outside a completion. */
void drbd_rs_init_work(struct work_struct *work, work_func_t func);
void drbd_rs_init_work(struct work_struct *work, work_func_t func)
{
	INIT_WORK(work, func);
}

/* The values drbd_rs/sys/disk.rs uses. */
static_assert(BLK_STS_OK == 0);
static_assert(BLK_STS_NOTSUPP == (__force blk_status_t)1);
static_assert(BLK_STS_RESOURCE == (__force blk_status_t)9);
static_assert(BLK_STS_IOERR == (__force blk_status_t)10);
static_assert(BLK_OPEN_READ == (__force blk_mode_t)(1 << 0));
static_assert(BLK_OPEN_WRITE == (__force blk_mode_t)(1 << 1));
static_assert(BLK_OPEN_EXCL == (__force blk_mode_t)(1 << 2));
static_assert(BLK_FEAT_WRITE_CACHE == (__force blk_features_t)(1u << 0));
static_assert(BLK_FEAT_FUA == (__force blk_features_t)(1u << 1));
static_assert(BLK_FEAT_ROTATIONAL == (__force blk_features_t)(1u << 2));
static_assert(BLK_FEAT_STABLE_WRITES == (__force blk_features_t)(1u << 5));
static_assert(BLK_MAX_SEGMENTS == 128);
static_assert(GFP_NOIO == (__GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM));

/*
 * Since 7.x kernel threads live in an empty nullfs root; a KUnit test that opens devices by
 * path (as drbdsetup's attach does from user space) resolves them in user space's init root
 * for a while (scoped_with_init_fs()).
 */
struct fs_struct *drbd_rs_override_init_fs(void);
void drbd_rs_revert_init_fs(struct fs_struct *old);

struct fs_struct *drbd_rs_override_init_fs(void)
{
	return __override_init_fs();
}

void drbd_rs_revert_init_fs(struct fs_struct *old)
{
	__revert_init_fs(old);
}

/* memalloc_noio_save()/restore(): page buffers (drbd_rs/sys/pages.rs) are allocated as GFP_NOIO. */
unsigned int drbd_rs_memalloc_noio_save(void);
void drbd_rs_memalloc_noio_restore(unsigned int flags);

unsigned int drbd_rs_memalloc_noio_save(void)
{
	return memalloc_noio_save();
}

void drbd_rs_memalloc_noio_restore(unsigned int flags)
{
	memalloc_noio_restore(flags);
}

/* ZERO_PAGE(0): the shared page of zeroes, written where a device has no write-zeroes. */
struct page *drbd_rs_zero_page(void);

struct page *drbd_rs_zero_page(void)
{
	return ZERO_PAGE(0);
}
