// SPDX-License-Identifier: GPL-2.0

//! Generic netlink: a family with our own operations, and the messages they receive and send.
//!
//! The kernel crate's `net::netlink` only covers multicast-only families; DRBD's family has
//! requests (`doit`), dumps (`start` + `dumpit`) and a multicast group, and a name chosen at
//! load time (`drbd`, or `drbd_rs` side by side with the C module). This layer registers such a
//! family and hands the handlers safe views:
//!
//! - [`DoRequest`]: one request, its bytes after `genlmsghdr`, and the way to answer it;
//! - [`Dump`]: one round of a dump, the request's bytes, six `long`s of iteration state, and the
//!   way to add a message to the round's buffer;
//! - [`Message`]: a message being built (`genlmsg_new` + `genlmsg_put`), filled with attribute
//!   bytes that the pure core (`core::genl::NlaWriter`) encoded, sent as reply or multicast.
//!
//! The family registers no attribute policy: the genl core checks the header length, the
//! command and `GENL_ADMIN_PERM`; everything else is parsed (and validated the way the C
//! module's policies would) by the handlers from the raw bytes.

use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::ffi::{c_int, c_long, c_void};

use kernel::bindings;
use kernel::error::to_result;
use kernel::prelude::*;
use kernel::types::Opaque;

/// `GENL_HDRLEN`.
const GENL_HDRLEN: usize = core::mem::size_of::<bindings::genlmsghdr>();
/// `NLMSG_HDRLEN`.
const NLMSG_HDRLEN: usize = core::mem::size_of::<bindings::nlmsghdr>();
/// Payload size of a fresh message (`GENLMSG_DEFAULT_SIZE`, the C module's `NLMSG_GOODSIZE`).
pub(crate) const MSG_SIZE: usize = bindings::GENLMSG_DEFAULT_SIZE;
/// `NLM_F_MULTI`: a message of a dump.
pub(crate) const NLM_F_MULTI: u16 = bindings::NLM_F_MULTI as u16;
/// `NLM_F_EXCL`: the request must create, not find, its object.
pub(crate) const NLM_F_EXCL: u16 = bindings::NLM_F_EXCL as u16;

extern "C" {
    // `genl_info` and `netlink_callback` contain flexible-array members bindgen renders as
    // zero-sized structs, which `improper_ctypes` flags; the shims take them as `void *`.
    fn drbd_rs_genlmsg_reply(skb: *mut bindings::sk_buff, info: *mut c_void) -> c_int;
    fn drbd_rs_skb_append(skb: *mut bindings::sk_buff, data: *const c_void, len: u32) -> c_int;
    fn drbd_rs_skb_len(skb: *const bindings::sk_buff) -> c_int;
    fn drbd_rs_cb_portid(cb: *const c_void) -> u32;
    fn drbd_rs_cpu_mask_check(mask: *const u8) -> c_int;
}

/// Whether the task running the current request has `cap` (`capable()`), e.g.
/// `bindings::CAP_NET_ADMIN`. A dump runs in the context of the task reading it.
pub(crate) fn current_capable(cap: u32) -> bool {
    // SAFETY: `capable` only inspects the current task's credentials. `cap` is a small
    // constant, so the conversion cannot wrap.
    unsafe { bindings::capable(cap as c_int) }
}

/// The check the C module's `set_resource_options` makes on a `cpu-mask` setting:
/// `bitmap_parse` of at most 32 characters, overflow truncated, ignored on one CPU. `mask` is
/// the option's bytes without NUL; returns the negative errno `bitmap_parse` gave.
pub(crate) fn cpu_mask_check(mask: &[u8]) -> Result {
    let mut buf = [0u8; 33];
    let n = mask.len().min(32);
    buf[..n].copy_from_slice(&mask[..n]);
    // SAFETY: `buf` is NUL-terminated (at most 32 bytes copied into 33) and outlives the call.
    to_result(unsafe { drbd_rs_cpu_mask_check(buf.as_ptr()) })
}

/// What one command of the family supports.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OpSpec {
    /// Command number.
    pub(crate) cmd: u8,
    /// Handles single requests.
    pub(crate) doit: bool,
    /// Handles `NLM_F_DUMP` requests.
    pub(crate) dumpit: bool,
    /// Needs `CAP_NET_ADMIN` (`GENL_ADMIN_PERM`), checked by the genl core before the handler.
    pub(crate) admin: bool,
}

/// The handlers of a family.
pub(crate) trait Handler: 'static {
    /// Handles one request. An `Err` is sent to the requester as a netlink error; an `Ok`
    /// request has sent its reply (or chose not to).
    fn doit(req: &DoRequest<'_>) -> Result;

    /// Checks a dump request before its first round (`start`); an `Err` is the answer.
    fn dump_start(dump: &mut Dump<'_>) -> Result;

    /// One round of a dump: adds messages with [`Dump::put`] and returns. A round that adds
    /// nothing ends the dump; an `Err` ends it with that error.
    fn dumpit(dump: &mut Dump<'_>) -> Result;
}

/// The storage the kernel keeps pointers into while the family is registered.
struct Storage {
    family: Opaque<bindings::genl_family>,
    ops: KVec<bindings::genl_ops>,
    mcgrps: [bindings::genl_multicast_group; 1],
}

/// A registered generic-netlink family.
///
/// # Invariants
///
/// `storage.family` is registered with the genl core (`genl_register_family` succeeded) and
/// stays so until `drop`; its `ops` and `mcgrps` pointers point into `storage`, which is heap
/// allocated and never moved or changed while registered.
pub(crate) struct Registration {
    storage: KBox<Storage>,
}

// SAFETY: The family is only read after registration (by us through `genlmsg_*`, which is safe
// from any thread) and unregistered in `drop`, which the genl core serializes itself.
unsafe impl Send for Registration {}
// SAFETY: See `Send`; `&Registration` only gives out the family pointer for reading.
unsafe impl Sync for Registration {}

/// Copies `s` into a fixed C name buffer; fails if it does not fit with its NUL.
fn copy_name(dst: &mut [kernel::ffi::c_char], s: &CStr) -> Result {
    let b = s.to_bytes_with_nul();
    if b.len() > dst.len() {
        return Err(EINVAL);
    }
    for (d, &c) in dst.iter_mut().zip(b) {
        *d = c as kernel::ffi::c_char;
    }
    Ok(())
}

impl Registration {
    /// Registers family `name` (version `version`, family header of `hdrsize` bytes) with the
    /// commands in `ops`, handled by `H`, and one multicast group `group`. `resv_start_op` is
    /// the first command number for which the genl core checks header flags strictly (the C
    /// module uses 42: none). Like the C family: `netnsok`, no parallel ops (requests and dump
    /// rounds run under the genl mutex, one at a time).
    pub(crate) fn register<H: Handler>(
        module: &'static ThisModule,
        name: &CStr,
        version: u32,
        hdrsize: u32,
        resv_start_op: u8,
        ops: &[OpSpec],
        group: &CStr,
    ) -> Result<Self> {
        let mut kops = KVec::with_capacity(ops.len(), GFP_KERNEL)?;
        for op in ops {
            let mut o = bindings::genl_ops::default();
            o.cmd = op.cmd;
            if op.doit {
                o.doit = Some(doit_trampoline::<H>);
            }
            if op.dumpit {
                o.start = Some(start_trampoline::<H>);
                o.dumpit = Some(dumpit_trampoline::<H>);
            }
            if op.admin {
                o.flags = bindings::GENL_ADMIN_PERM as u8;
            }
            kops.push(o, GFP_KERNEL)?;
        }
        let mut grp = bindings::genl_multicast_group::default();
        copy_name(&mut grp.name, group)?;
        let mut fam = bindings::genl_family::default();
        copy_name(&mut fam.name, name)?;
        fam.version = version;
        fam.hdrsize = hdrsize;
        fam.maxattr = 0;
        fam.set_netnsok(1);
        fam.set_parallel_ops(0);
        fam.resv_start_op = resv_start_op;
        fam.module = module.as_ptr();
        fam.n_ops = u8::try_from(kops.len()).map_err(|_| EINVAL)?;
        fam.n_mcgrps = 1;
        let storage = KBox::new(
            Storage {
                family: Opaque::new(fam),
                ops: kops,
                mcgrps: [grp],
            },
            GFP_KERNEL,
        )?;
        let fam = storage.family.get();
        // SAFETY: `fam` points into the boxed `storage`, which is not moved from here on; no
        // other reference to the family exists yet.
        unsafe {
            (*fam).ops = storage.ops.as_ptr();
            (*fam).mcgrps = storage.mcgrps.as_ptr();
        }
        // SAFETY: `fam` is a fully initialized family whose ops and groups live in `storage`,
        // which outlives the registration (it is only freed after `genl_unregister_family`
        // in `drop`).
        to_result(unsafe { bindings::genl_register_family(fam) })?;
        // INVARIANT: registered above; `storage` is kept unchanged until `drop`.
        Ok(Registration { storage })
    }

    /// The registered family, for building messages.
    pub(crate) fn family(&self) -> FamilyRef<'_> {
        FamilyRef {
            ptr: self.storage.family.get(),
            _p: PhantomData,
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: The family is registered (type invariant). After this returns no request or
        // dump round of this family runs any more, so `storage` may be freed.
        unsafe { bindings::genl_unregister_family(self.storage.family.get()) };
    }
}

/// A family that stays valid (registered, or at least alive) for `'a`.
///
/// # Invariants
///
/// `ptr` points to a `genl_family` that is valid for reads for `'a`.
#[derive(Clone, Copy)]
pub(crate) struct FamilyRef<'a> {
    ptr: *const bindings::genl_family,
    _p: PhantomData<&'a bindings::genl_family>,
}

/// A generic-netlink message under construction: a fresh skb with `nlmsghdr`, `genlmsghdr`
/// and the family header in place.
///
/// # Invariants
///
/// `skb` is an skb we own (from `genlmsg_new`); `hdr` points to the family header that
/// `genlmsg_put` reserved in it; `family` is valid as long as this message exists.
pub(crate) struct Message<'a> {
    skb: NonNull<bindings::sk_buff>,
    hdr: NonNull<c_void>,
    family: FamilyRef<'a>,
}

impl<'a> Message<'a> {
    /// A new message of family `family`: command `cmd`, netlink `flags`, addressed by `portid`
    /// and `seq`, with the family header set to `user_hdr` (which must be exactly the family's
    /// `hdrsize` long). `gfp` (`bindings::GFP_*`) chooses how the buffer may be allocated.
    pub(crate) fn new(
        family: FamilyRef<'a>,
        portid: u32,
        seq: u32,
        flags: u16,
        cmd: u8,
        user_hdr: &[u8],
        gfp: bindings::gfp_t,
    ) -> Result<Self> {
        // SAFETY: `family.ptr` is valid for reads (type invariant of `FamilyRef`).
        let hdrsize = unsafe { (*family.ptr).hdrsize } as usize;
        if user_hdr.len() != hdrsize {
            return Err(EINVAL);
        }
        // SAFETY: `genlmsg_new` takes any size and allocation flags.
        let skb = NonNull::new(unsafe { bindings::genlmsg_new(MSG_SIZE, gfp) }).ok_or(ENOMEM)?;
        // SAFETY: `skb` is a fresh skb we own; `family.ptr` is a valid family.
        let hdr = unsafe {
            bindings::genlmsg_put(skb.as_ptr(), portid, seq, family.ptr, flags.into(), cmd)
        };
        let Some(hdr) = NonNull::new(hdr) else {
            // SAFETY: We own `skb` and nobody else has seen it.
            unsafe { bindings::nlmsg_free(skb.as_ptr()) };
            return Err(EMSGSIZE);
        };
        // SAFETY: `genlmsg_put` reserved `hdrsize` bytes at `hdr` in our skb, and `user_hdr`
        // is exactly that long.
        unsafe {
            core::ptr::copy_nonoverlapping(user_hdr.as_ptr(), hdr.as_ptr().cast::<u8>(), hdrsize)
        };
        // INVARIANT: `skb` is ours, `hdr` is its family header.
        Ok(Message { skb, hdr, family })
    }

    /// Appends raw attribute bytes (already aligned and encoded); `EMSGSIZE` if they do not
    /// fit.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result {
        let len = u32::try_from(bytes.len()).map_err(|_| EMSGSIZE)?;
        // SAFETY: `skb` is ours (type invariant); `bytes` is valid for `len` bytes; the shim
        // checks the tail room before copying.
        to_result(unsafe { drbd_rs_skb_append(self.skb.as_ptr(), bytes.as_ptr().cast(), len) })
    }

    /// Finishes the message (`genlmsg_end`) and gives up ownership of the skb.
    fn finish(self) -> NonNull<bindings::sk_buff> {
        let me = core::mem::ManuallyDrop::new(self);
        // SAFETY: `hdr` is the header `genlmsg_put` returned for `skb` (type invariant).
        unsafe { bindings::genlmsg_end(me.skb.as_ptr(), me.hdr.as_ptr()) };
        me.skb
    }

    /// Sends the message to the multicast group `group` (index within the family) of the
    /// initial network namespace. Having no listeners is not an error.
    pub(crate) fn multicast(self, group: u32, gfp: bindings::gfp_t) -> Result {
        let family = self.family;
        let skb = self.finish();
        // SAFETY: We own `skb`, which `genlmsg_multicast` consumes in every case; the family
        // is registered (a multicast needs its group offset).
        let r = unsafe { bindings::genlmsg_multicast(family.ptr, skb.as_ptr(), 0, group, gfp) };
        if r == -(bindings::ESRCH as c_int) {
            return Ok(());
        }
        to_result(r)
    }

    /// The finished message's bytes (from `nlmsghdr` on), for tests.
    #[cfg(drbd_rs_kunit)]
    pub(crate) fn finished_bytes(self, out: &mut KVec<u8>) -> Result {
        let skb = self.finish();
        // SAFETY: `skb` is ours; `data` and `len` describe its linear contents (genetlink
        // messages built here are always linear).
        let r = unsafe {
            let s = skb.as_ptr();
            let data = core::slice::from_raw_parts((*s).data, (*s).len as usize);
            out.extend_from_slice(data, GFP_KERNEL)
        };
        // SAFETY: We own `skb`.
        unsafe { bindings::nlmsg_free(skb.as_ptr()) };
        r.map_err(|_| ENOMEM)
    }
}

impl Drop for Message<'_> {
    fn drop(&mut self) {
        // SAFETY: We own `skb` (type invariant) and it was not handed on.
        unsafe { bindings::nlmsg_free(self.skb.as_ptr()) };
    }
}

/// A family that is not registered, only for building messages in tests.
#[cfg(drbd_rs_kunit)]
pub(crate) struct TestFamily {
    family: Opaque<bindings::genl_family>,
}

#[cfg(drbd_rs_kunit)]
impl TestFamily {
    /// A family with the given header size and id.
    pub(crate) fn new(hdrsize: u32, id: c_int) -> Self {
        let mut fam = bindings::genl_family::default();
        fam.hdrsize = hdrsize;
        fam.version = 1;
        fam.id = id;
        TestFamily {
            family: Opaque::new(fam),
        }
    }

    /// The family for [`Message::new`].
    pub(crate) fn family(&self) -> FamilyRef<'_> {
        FamilyRef {
            ptr: self.family.get(),
            _p: PhantomData,
        }
    }
}

/// One request to a `doit` handler.
///
/// # Invariants
///
/// `info` is the argument the genl core passed to the `doit` callback that is running for
/// `'a`; `info.nlhdr` holds a message of `nlmsg_len` bytes of which at least
/// `GENL_HDRLEN` + the family header are present (checked by the genl core).
pub(crate) struct DoRequest<'a> {
    info: *mut bindings::genl_info,
    _p: PhantomData<&'a ()>,
}

impl<'a> DoRequest<'a> {
    fn nlh(&self) -> &'a bindings::nlmsghdr {
        // SAFETY: `info` and its `nlhdr` are valid while the callback runs (type invariant).
        unsafe { &*(*self.info).nlhdr }
    }

    /// The command number.
    pub(crate) fn cmd(&self) -> u8 {
        // SAFETY: `genlhdr` points into the request (type invariant).
        unsafe { (*(*self.info).genlhdr).cmd }
    }

    /// The netlink header flags (`NLM_F_*`).
    pub(crate) fn nlmsg_flags(&self) -> u16 {
        self.nlh().nlmsg_flags
    }

    /// The request's bytes after `genlmsghdr`: the family header, then the attributes.
    pub(crate) fn payload(&self) -> &'a [u8] {
        // SAFETY: The message is `nlmsg_len` bytes long starting at `nlh` (the genl core
        // checked it against the skb).
        unsafe { payload_after_genl_header(self.nlh()) }
    }

    /// A reply message (`genlmsg_put_reply`): same port and sequence number as the request.
    pub(crate) fn new_reply(&self, cmd: u8, user_hdr: &[u8]) -> Result<Message<'a>> {
        // SAFETY: `info` is valid (type invariant) and so is the family it names, for as
        // long as the callback runs.
        let (portid, seq, family) = unsafe {
            let i = &*self.info;
            (i.snd_portid, i.snd_seq, i.family)
        };
        let family = FamilyRef {
            ptr: family,
            _p: PhantomData,
        };
        Message::new(family, portid, seq, 0, cmd, user_hdr, bindings::GFP_KERNEL)
    }

    /// Sends `msg` to the requester (`genlmsg_reply`).
    pub(crate) fn reply(&self, msg: Message<'_>) -> Result {
        let skb = msg.finish();
        // SAFETY: We own `skb`, which `genlmsg_reply` consumes; `info` is valid.
        to_result(unsafe { drbd_rs_genlmsg_reply(skb.as_ptr(), self.info.cast()) })
    }
}

/// The bytes of a generic-netlink request after `nlmsghdr` and `genlmsghdr`.
///
/// # Safety
///
/// `nlh` must head a message that is `nlmsg_len` bytes long, at least both headers long (the
/// genl core checks both before calling a family), and readable for `'a`.
unsafe fn payload_after_genl_header<'a>(nlh: &'a bindings::nlmsghdr) -> &'a [u8] {
    let len = (nlh.nlmsg_len as usize).saturating_sub(NLMSG_HDRLEN + GENL_HDRLEN);
    // SAFETY: By the function's contract the message spans `nlmsg_len` bytes from `nlh` and
    // holds both headers, so `start` is inside it (or one past its end) and `len` bytes follow.
    unsafe {
        let start = (nlh as *const bindings::nlmsghdr)
            .cast::<u8>()
            .add(NLMSG_HDRLEN + GENL_HDRLEN);
        core::slice::from_raw_parts(start, len)
    }
}

/// One round of a dump.
///
/// # Invariants
///
/// `skb` and `cb` are the arguments of the `dumpit` (or `start`, then `skb` is null) callback
/// running for `'a`; `cb.data` is the genl core's `genl_dumpit_info` and `cb.nlh` the request
/// (at least headers long).
pub(crate) struct Dump<'a> {
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
    _p: PhantomData<&'a mut ()>,
}

impl<'a> Dump<'a> {
    fn nlh(&self) -> &'a bindings::nlmsghdr {
        // SAFETY: `cb.nlh` is the request, valid for the whole dump (type invariant).
        unsafe { &*(*self.cb).nlh }
    }

    /// The request's bytes after `genlmsghdr`: the family header, then the attributes.
    pub(crate) fn payload(&self) -> &'a [u8] {
        // SAFETY: The request is `nlmsg_len` bytes long, checked by the genl core before the
        // dump started.
        unsafe { payload_after_genl_header(self.nlh()) }
    }

    /// The request's command.
    pub(crate) fn cmd(&self) -> u8 {
        // The genl header follows the netlink header; it is part of the checked length.
        self.payload_with_genl()[0]
    }

    fn payload_with_genl(&self) -> &'a [u8] {
        let nlh = self.nlh();
        let len = (nlh.nlmsg_len as usize).saturating_sub(NLMSG_HDRLEN);
        // SAFETY: See `payload`.
        unsafe {
            let start = (nlh as *const bindings::nlmsghdr)
                .cast::<u8>()
                .add(NLMSG_HDRLEN);
            core::slice::from_raw_parts(start, len)
        }
    }

    /// The request's sequence number.
    pub(crate) fn seq(&self) -> u32 {
        self.nlh().nlmsg_seq
    }

    /// The port of the socket that asked for the dump.
    pub(crate) fn portid(&self) -> u32 {
        // SAFETY: `cb` is valid (type invariant).
        unsafe { drbd_rs_cb_portid(self.cb.cast_const().cast()) }
    }

    /// Iteration state kept between rounds (`cb->args`), zero at the first round.
    pub(crate) fn args(&mut self) -> &mut [c_long; 6] {
        // SAFETY: `cb` is valid and only this round uses it; `args` is the `long` view of the
        // union the genl core zeroed at the start of the dump.
        unsafe { &mut (*self.cb).__bindgen_anon_1.args }
    }

    fn family(&self) -> FamilyRef<'a> {
        // SAFETY: `cb.data` is the `genl_dumpit_info` of this dump (type invariant); its
        // family is registered while the dump runs.
        let fam = unsafe {
            (*(*self.cb).data.cast::<bindings::genl_dumpit_info>())
                .info
                .family
        };
        FamilyRef {
            ptr: fam,
            _p: PhantomData,
        }
    }

    /// Adds a message to this round: `cmd`, netlink `flags`, `portid`/`seq`, family header
    /// `user_hdr`, then `attrs`. `EMSGSIZE` (and nothing added) if it does not fit.
    pub(crate) fn put(
        &mut self,
        portid: u32,
        seq: u32,
        flags: u16,
        cmd: u8,
        user_hdr: &[u8],
        attrs: &[u8],
    ) -> Result {
        if self.skb.is_null() {
            return Err(EINVAL);
        }
        let family = self.family();
        // SAFETY: The family is valid while the dump runs.
        let hdrsize = unsafe { (*family.ptr).hdrsize } as usize;
        if user_hdr.len() != hdrsize {
            return Err(EINVAL);
        }
        let len = u32::try_from(attrs.len()).map_err(|_| EMSGSIZE)?;
        // SAFETY: `skb` is this round's buffer (type invariant), the family is valid.
        let hdr =
            unsafe { bindings::genlmsg_put(self.skb, portid, seq, family.ptr, flags.into(), cmd) };
        if hdr.is_null() {
            return Err(EMSGSIZE);
        }
        // SAFETY: `genlmsg_put` reserved `hdrsize` bytes at `hdr`; `attrs` is valid for `len`
        // bytes; a failed append leaves the skb as it was and the message is cancelled.
        unsafe {
            core::ptr::copy_nonoverlapping(user_hdr.as_ptr(), hdr.cast::<u8>(), hdrsize);
            if drbd_rs_skb_append(self.skb, attrs.as_ptr().cast(), len) != 0 {
                bindings::genlmsg_cancel(self.skb, hdr);
                return Err(EMSGSIZE);
            }
            bindings::genlmsg_end(self.skb, hdr);
        }
        Ok(())
    }

    fn len(&self) -> c_int {
        if self.skb.is_null() {
            return 0;
        }
        // SAFETY: `skb` is this round's buffer.
        unsafe { drbd_rs_skb_len(self.skb) }
    }
}

unsafe extern "C" fn doit_trampoline<H: Handler>(
    _skb: *mut bindings::sk_buff,
    info: *mut bindings::genl_info,
) -> c_int {
    // INVARIANT: `info` is the genl core's argument for this call, which checked the header
    // length before calling.
    let req = DoRequest {
        info,
        _p: PhantomData,
    };
    match H::doit(&req) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

unsafe extern "C" fn start_trampoline<H: Handler>(cb: *mut bindings::netlink_callback) -> c_int {
    // INVARIANT: `cb` is the dump's callback state; `start` has no skb to fill.
    let mut dump = Dump {
        skb: core::ptr::null_mut(),
        cb,
        _p: PhantomData,
    };
    match H::dump_start(&mut dump) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

unsafe extern "C" fn dumpit_trampoline<H: Handler>(
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
) -> c_int {
    // INVARIANT: `skb` is this round's buffer, `cb` the dump's state.
    let mut dump = Dump {
        skb,
        cb,
        _p: PhantomData,
    };
    match H::dumpit(&mut dump) {
        Ok(()) => dump.len(),
        Err(e) => e.to_errno(),
    }
}
