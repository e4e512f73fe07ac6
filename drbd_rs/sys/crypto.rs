// SPDX-License-Identifier: GPL-2.0

//! Synchronous hashes of the kernel crypto API (`crypto_shash`): DRBD's `cram-hmac-alg` peer
//! authentication (`hmac(sha1)`, ...), `data-integrity-alg`, `verify-alg` and `csums-alg`.

use core::{ffi::CStr, ptr::NonNull};

use kernel::{
    error::{from_err_ptr, to_result},
    new_mutex,
    prelude::*,
    sync::{Mutex, MutexGuard},
};

/// An opaque `struct crypto_shash`.
#[repr(C)]
pub(crate) struct CryptoShash {
    _opaque: [u8; 0],
}

/// A synchronous hash transform, e.g. `c"hmac(sha1)"`, `c"md5"`, `c"crc32c"`.
///
/// # Invariants
///
/// `tfm` is a live transform from `crypto_alloc_shash`, owned by this object and freed by drop.
pub(crate) struct Shash {
    tfm: NonNull<CryptoShash>,
}

// SAFETY: a transform is not tied to the thread that allocated it; it may be used and freed
// from any process context (one user at a time: `Shash` is not `Sync`, and `digest` and
// `set_key` take `&mut self`).
unsafe impl Send for Shash {}

impl Shash {
    /// Allocates the transform for `alg`; `ENOENT` if the kernel has no such algorithm.
    pub(crate) fn new(alg: &CStr) -> Result<Shash> {
        // SAFETY: `alg` is NUL-terminated; the call may sleep (process context) and may load
        // a crypto module.
        let tfm = from_err_ptr(unsafe { shim::drbd_rs_shash_alloc(alg.as_ptr().cast()) })?;
        // INVARIANT: a live transform, now ours.
        Ok(Shash {
            tfm: NonNull::new(tfm).ok_or(ENOENT)?,
        })
    }

    /// Sets the key (for keyed hashes such as `hmac(...)`); `EINVAL` if the algorithm refuses
    /// it, `ENOSYS` if it takes no key.
    pub(crate) fn set_key(&mut self, key: &[u8]) -> Result {
        let len = u32::try_from(key.len()).map_err(|_| EINVAL)?;
        // SAFETY: a live transform, used by us alone (`&mut self`); `key` is readable for
        // `len` bytes and copied by the algorithm.
        to_result(unsafe { shim::drbd_rs_shash_setkey(self.tfm.as_ptr(), key.as_ptr(), len) })
    }

    /// The digest length in bytes.
    pub(crate) fn digest_size(&self) -> usize {
        // SAFETY: a live transform; reads a constant of its algorithm.
        unsafe { shim::drbd_rs_shash_digestsize(self.tfm.as_ptr()) as usize }
    }

    /// Hashes `data` into the first [`Shash::digest_size`] bytes of `out` (`EINVAL` if `out`
    /// is shorter) and returns that length. A keyed hash without a key fails (`ENOKEY`).
    pub(crate) fn digest(&mut self, data: &[u8], out: &mut [u8]) -> Result<usize> {
        let size = self.digest_size();
        if out.len() < size {
            return Err(EINVAL);
        }
        let len = u32::try_from(data.len()).map_err(|_| EINVAL)?;
        // SAFETY: a live transform, used by us alone; `data` is readable for `len` bytes and
        // `out` writable for the `size` bytes the algorithm writes.
        to_result(unsafe {
            shim::drbd_rs_shash_digest(self.tfm.as_ptr(), data.as_ptr(), len, out.as_mut_ptr())
        })?;
        Ok(size)
    }
}

/// A transform kept for the algorithm a setting names (`verify-alg`, `csums-alg`), so that a
/// digest per 4 KiB block does not allocate a transform per block (`crypto_alloc_shash` looks
/// the algorithm up and may load a module). Allocated on first use and again when the name
/// changes.
#[pin_data]
pub(crate) struct ShashSlot {
    #[pin]
    cached: Mutex<Option<NamedShash>>,
}

/// A transform and the algorithm name it was allocated for.
struct NamedShash {
    name: KVec<u8>,
    tfm: Shash,
}

/// The slot's transform, locked for one user.
///
/// # Invariants
///
/// The guarded option is `Some`.
pub(crate) struct ShashGuard<'a>(MutexGuard<'a, Option<NamedShash>>);

impl ShashSlot {
    /// An empty slot.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(ShashSlot { cached <- new_mutex!(None) })
    }

    /// The transform for `name` (a NUL-free algorithm name such as `b"sha1"`), allocated if the
    /// slot holds none or one for another name; `None` for an empty name, one the kernel does
    /// not have, or no memory. Held until the guard is dropped; may sleep.
    pub(crate) fn get(&self, name: &[u8]) -> Option<ShashGuard<'_>> {
        if name.is_empty() {
            return None;
        }
        let mut g = self.cached.lock();
        if g.as_ref().map(|n| n.name.as_slice()) != Some(name) {
            *g = None;
            let mut cname = KVec::with_capacity(name.len() + 1, GFP_KERNEL).ok()?;
            cname.extend_from_slice(name, GFP_KERNEL).ok()?;
            cname.push(0, GFP_KERNEL).ok()?;
            let tfm = Shash::new(CStr::from_bytes_with_nul(&cname).ok()?).ok()?;
            cname.pop();
            *g = Some(NamedShash { name: cname, tfm });
        }
        // INVARIANT: set above if it was not.
        Some(ShashGuard(g))
    }
}

impl core::ops::Deref for ShashGuard<'_> {
    type Target = Shash;

    fn deref(&self) -> &Shash {
        match &*self.0 {
            Some(n) => &n.tfm,
            // The type invariant rules this out.
            None => unreachable!(),
        }
    }
}

impl core::ops::DerefMut for ShashGuard<'_> {
    fn deref_mut(&mut self) -> &mut Shash {
        match &mut *self.0 {
            Some(n) => &mut n.tfm,
            // The type invariant rules this out.
            None => unreachable!(),
        }
    }
}

impl Drop for Shash {
    fn drop(&mut self) {
        // SAFETY: owned (type invariant), freed once.
        unsafe { shim::drbd_rs_shash_free(self.tfm.as_ptr()) };
    }
}

mod shim {
    use super::CryptoShash;
    use kernel::ffi::{c_char, c_int, c_uint};

    extern "C" {
        /// `crypto_alloc_shash(alg, 0, 0)`: a transform or an `ERR_PTR`.
        pub(super) fn drbd_rs_shash_alloc(alg: *const c_char) -> *mut CryptoShash;
        /// `crypto_free_shash()`.
        pub(super) fn drbd_rs_shash_free(tfm: *mut CryptoShash);
        /// `crypto_shash_setkey()`.
        pub(super) fn drbd_rs_shash_setkey(
            tfm: *mut CryptoShash,
            key: *const u8,
            len: c_uint,
        ) -> c_int;
        /// `crypto_shash_digestsize()`.
        pub(super) fn drbd_rs_shash_digestsize(tfm: *mut CryptoShash) -> c_uint;
        /// `crypto_shash_tfm_digest()`.
        pub(super) fn drbd_rs_shash_digest(
            tfm: *mut CryptoShash,
            data: *const u8,
            len: c_uint,
            out: *mut u8,
        ) -> c_int;
    }
}
