// SPDX-License-Identifier: GPL-2.0

//! Page buffers for data that is not in a request of `/dev/drbdN`: writes received from the
//! peer, resync data, replies to the peer's read requests. The backing device reads into them
//! and writes from them with [`super::bdev::LowerDev::read_buf`] and
//! [`super::bdev::LowerDev::write_buf`] (the bios map the pages, no copy).
//!
//! Pages are allocated while the task is in a `memalloc_noio` scope (the `kernel` crate's
//! allocation flags have no `GFP_NOIO`), so allocating on the I/O path cannot recurse into the
//! device being served. They are zeroed: a buffer that is sent before being completely filled
//! never shows stale kernel memory to the peer.

use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::{
    page::{Page, PAGE_SIZE},
    prelude::*,
};

/// Largest buffer: DRBD's largest bio (`DRBD_MAX_BIO_SIZE`, 1 MiB).
pub(crate) const MAX_BUF_BYTES: usize = 1 << 20;

/// Set in [`PageBuf::state`] while the backing device fills the pages.
const FILLING: usize = 1 << (usize::BITS - 1);

/// Owned pages holding `len` bytes of data: page `i` holds bytes `i * PAGE_SIZE ..`.
///
/// # Invariants
///
/// - `0 < len <= MAX_BUF_BYTES`, `len` is a multiple of 512, and `pages` holds exactly
///   `len.div_ceil(PAGE_SIZE)` pages.
/// - `state` is [`FILLING`] while a read of the backing device into the pages is in flight
///   (started by [`PageBuf::begin_fill`], ended by [`PageBuf::end_fill`]); otherwise it is the
///   number of CPU reads of the pages ([`PageBuf::copy_to_slice`], synchronous writes to the
///   backing device) in progress. The two exclude each other, so the CPU never reads a page
///   while the device writes it. Writing the pages takes `&mut self`, which no I/O can hold.
pub(crate) struct PageBuf {
    pages: KVec<Page>,
    len: usize,
    state: AtomicUsize,
}

impl PageBuf {
    /// Allocates zeroed pages for `len` bytes. `len` must be positive, at most 1 MiB
    /// ([`MAX_BUF_BYTES`]) and a multiple of 512, else `EINVAL`; `ENOMEM` if pages are short.
    /// May sleep.
    pub(crate) fn alloc(len: usize) -> Result<PageBuf> {
        if len == 0 || len > MAX_BUF_BYTES || !len.is_multiple_of(512) {
            return Err(EINVAL);
        }
        let n = len.div_ceil(PAGE_SIZE);
        let _noio = NoIoScope::enter();
        let mut pages = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            pages.push(Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?, GFP_KERNEL)?;
        }
        // INVARIANT: `len` checked above, `n` pages, no I/O yet.
        Ok(PageBuf {
            pages,
            len,
            state: AtomicUsize::new(0),
        })
    }

    /// Bytes of data.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The pages and how many bytes of each are used (all `PAGE_SIZE` except maybe the last).
    pub(crate) fn pages(&self) -> impl Iterator<Item = (&Page, usize)> {
        let len = self.len;
        self.pages
            .iter()
            .enumerate()
            .map(move |(i, p)| (p, (len - i * PAGE_SIZE).min(PAGE_SIZE)))
    }

    /// Copies `src` into the buffer at byte `offset`; `EINVAL` if it does not fit.
    pub(crate) fn copy_from_slice(&mut self, offset: usize, src: &[u8]) -> Result {
        self.for_each_piece(offset, src.len(), |page, in_page, at, n| {
            // SAFETY: `src[at..at + n]` is in bounds (`for_each_piece` stays inside the range
            // it was given). `&mut self` excludes every other access to the pages: CPU reads
            // borrow the buffer, and I/O holds a shared reference to it while in flight.
            unsafe { page.write_raw(src.as_ptr().add(at), in_page, n) }
        })
    }

    /// Copies bytes from `offset` into `dst`; `EINVAL` if the range is not in the buffer,
    /// `EBUSY` while the backing device is reading into the buffer.
    pub(crate) fn copy_to_slice(&self, offset: usize, dst: &mut [u8]) -> Result {
        if !self.begin_read() {
            return Err(EBUSY);
        }
        let r = self.for_each_piece(offset, dst.len(), |page, in_page, at, n| {
            // SAFETY: `dst[at..at + n]` is in bounds; the read share taken above excludes a
            // device read into the pages (type invariant), and CPU writes need `&mut self`.
            unsafe { page.read_raw(dst.as_mut_ptr().add(at), in_page, n) }
        });
        self.end_read();
        r
    }

    /// Calls `f(page, offset in page, offset in the range, bytes)` for the pieces of the byte
    /// range `offset..offset + len`, in order; `EINVAL` if the range is not in the buffer.
    fn for_each_piece(
        &self,
        offset: usize,
        len: usize,
        mut f: impl FnMut(&Page, usize, usize, usize) -> Result,
    ) -> Result {
        let end = offset.checked_add(len).ok_or(EINVAL)?;
        if end > self.len {
            return Err(EINVAL);
        }
        let mut pos = offset;
        while pos < end {
            let in_page = pos % PAGE_SIZE;
            let n = (PAGE_SIZE - in_page).min(end - pos);
            let page = self.pages.get(pos / PAGE_SIZE).ok_or(EINVAL)?;
            f(page, in_page, pos - offset, n)?;
            pos += n;
        }
        Ok(())
    }

    /// Marks the buffer as being filled by the device; `false` (and nothing changed) if it is
    /// being read or filled already.
    pub(super) fn begin_fill(&self) -> bool {
        self.state
            .compare_exchange(0, FILLING, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Ends a fill started by [`PageBuf::begin_fill`].
    pub(super) fn end_fill(&self) {
        self.state.store(0, Ordering::Release);
    }

    /// Takes a read share; `false` while the device fills the buffer.
    pub(super) fn begin_read(&self) -> bool {
        self.state
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |s| {
                (s & FILLING == 0).then_some(s + 1)
            })
            .is_ok()
    }

    /// Gives back a read share taken with [`PageBuf::begin_read`].
    pub(super) fn end_read(&self) {
        self.state.fetch_sub(1, Ordering::Release);
    }
}

/// While alive, allocations of the current task behave as `GFP_NOIO`
/// (`memalloc_noio_save`/`memalloc_noio_restore`). Not `Send`: it must end on its task.
///
/// # Invariants
///
/// `old` is what `memalloc_noio_save` returned on this task; restored once, in drop.
struct NoIoScope {
    old: c_uint,
    _not_send: core::marker::PhantomData<*mut ()>,
}

impl NoIoScope {
    fn enter() -> Self {
        // SAFETY: sets a flag of the current task; the guard restores it on the same task.
        let old = unsafe { shim::drbd_rs_memalloc_noio_save() };
        // INVARIANT: saved just above.
        NoIoScope {
            old,
            _not_send: core::marker::PhantomData,
        }
    }
}

impl Drop for NoIoScope {
    fn drop(&mut self) {
        // SAFETY: `old` came from `memalloc_noio_save` on this task (type invariant); scopes
        // nest, and drops come in reverse order.
        unsafe { shim::drbd_rs_memalloc_noio_restore(self.old) };
    }
}

mod shim {
    extern "C" {
        /// `memalloc_noio_save()`.
        pub(super) fn drbd_rs_memalloc_noio_save() -> core::ffi::c_uint;
        /// `memalloc_noio_restore(flags)`.
        pub(super) fn drbd_rs_memalloc_noio_restore(flags: core::ffi::c_uint);
    }
}
