// SPDX-License-Identifier: GPL-2.0

//! Enumerated settings (`on-io-error`, `fencing`, `after-sb-*`, `protocol`, ...) and the option
//! names drbdsetup accepts and prints for them ([`EnumDef`]).

abi_enum! {
    /// `on-io-error` policy (`enum drbd_io_error_p`); `name` is drbdsetup's spelling (note the
    /// underscore in `pass_on`).
    pub enum OnIoError: u32 {
        /// Report the error upwards.
        PassOn = 0 => "pass_on",
        /// Call the local-io-error handler.
        CallHelper = 1 => "call-local-io-error",
        /// Detach from the backing device.
        Detach = 2 => "detach",
    }
}

abi_enum! {
    /// `fencing` policy (`enum drbd_fencing_p`; -1 `FP_NOT_AVAIL` is not a policy). `name` is
    /// drbdsetup's spelling.
    pub enum Fencing: u32 {
        /// No fencing.
        DontCare = 0 => "dont-care",
        /// Fence the resource.
        Resource = 1 => "resource-only",
        /// Fence the resource and STONITH.
        Stonith = 2 => "resource-and-stonith",
    }
}

abi_enum! {
    /// After-split-brain and rr-conflict policies (`enum drbd_after_sb_p`). Which values are
    /// valid, and how drbdsetup spells them, depends on the option: see [`AFTER_SB_0P`],
    /// [`AFTER_SB_1P`], [`AFTER_SB_2P`] and [`RR_CONFLICT`]. `name` is the C name.
    pub enum AfterSb: u32 {
        /// Disconnect.
        Disconnect = 0 => "ASB_DISCONNECT",
        /// Discard the younger primary.
        DiscardYoungerPri = 1 => "ASB_DISCARD_YOUNGER_PRI",
        /// Discard the older primary.
        DiscardOlderPri = 2 => "ASB_DISCARD_OLDER_PRI",
        /// Discard the node without changes.
        DiscardZeroChg = 3 => "ASB_DISCARD_ZERO_CHG",
        /// Discard the node with fewer changes.
        DiscardLeastChg = 4 => "ASB_DISCARD_LEAST_CHG",
        /// Discard local data.
        DiscardLocal = 5 => "ASB_DISCARD_LOCAL",
        /// Discard remote data.
        DiscardRemote = 6 => "ASB_DISCARD_REMOTE",
        /// Follow the after-sb-0pri result if consistent.
        Consensus = 7 => "ASB_CONSENSUS",
        /// Discard the secondary.
        DiscardSecondary = 8 => "ASB_DISCARD_SECONDARY",
        /// Call the pri-lost(-after-sb) handler.
        CallHelper = 9 => "ASB_CALL_HELPER",
        /// Violently follow the after-sb-0pri result.
        Violently = 10 => "ASB_VIOLENTLY",
    }
}

abi_enum! {
    /// `on-no-data-accessible` policy (`enum drbd_on_no_data`); `name` is drbdsetup's spelling.
    pub enum OnNoData: u32 {
        /// Fail I/O.
        IoError = 0 => "io-error",
        /// Suspend I/O.
        SuspendIo = 1 => "suspend-io",
    }
}

abi_enum! {
    /// `on-congestion` policy (`enum drbd_on_congestion`); `name` is drbdsetup's spelling.
    pub enum OnCongestion: u32 {
        /// Block.
        Block = 0 => "block",
        /// Go Ahead.
        PullAhead = 1 => "pull-ahead",
        /// Disconnect.
        Disconnect = 2 => "disconnect",
    }
}

abi_enum! {
    /// `read-balancing` policy (`enum drbd_read_balancing`); `name` is drbdsetup's spelling.
    pub enum ReadBalancing: u32 {
        /// Prefer the local disk.
        PreferLocal = 0 => "prefer-local",
        /// Prefer the peer.
        PreferRemote = 1 => "prefer-remote",
        /// Alternate.
        RoundRobin = 2 => "round-robin",
        /// Fewer pending requests.
        LeastPending = 3 => "least-pending",
        /// Local unless congested.
        CongestedRemote = 4 => "when-congested-remote",
        /// Stripe by 32 KiB.
        Striping32K = 5 => "32K-striping",
        /// Stripe by 64 KiB.
        Striping64K = 6 => "64K-striping",
        /// Stripe by 128 KiB.
        Striping128K = 7 => "128K-striping",
        /// Stripe by 256 KiB.
        Striping256K = 8 => "256K-striping",
        /// Stripe by 512 KiB.
        Striping512K = 9 => "512K-striping",
        /// Stripe by 1 MiB.
        Striping1M = 10 => "1M-striping",
    }
}

abi_enum! {
    /// Replication protocol (`DRBD_PROT_*`, the `protocol` option); drbdsetup accepts the
    /// letters in either case.
    pub enum WireProtocol: u32 {
        /// Asynchronous.
        A = 1 => "A",
        /// Memory synchronous.
        B = 2 => "B",
        /// Synchronous.
        C = 3 => "C",
    }
}

/// The names drbdsetup accepts and prints for an enumerated option, in the order its usage text
/// lists them (by number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnumDef {
    /// `(number, name)` pairs.
    pub values: &'static [(u32, &'static str)],
    /// Whether drbdsetup matches names without regard to ASCII case (only `protocol`).
    pub ignore_case: bool,
}

impl EnumDef {
    /// The name of `value`, or `None` if the option does not allow it.
    pub fn name_of(&self, value: u32) -> Option<&'static str> {
        self.values
            .iter()
            .find(|(v, _)| *v == value)
            .map(|(_, n)| *n)
    }

    /// The number for `name`, or `None` if the option has no such value.
    pub fn value_of(&self, name: &str) -> Option<u32> {
        self.values
            .iter()
            .find(|(_, n)| {
                if self.ignore_case {
                    n.eq_ignore_ascii_case(name)
                } else {
                    *n == name
                }
            })
            .map(|(v, _)| *v)
    }
}

/// `on-io-error` values.
pub static ON_IO_ERROR: EnumDef = EnumDef {
    values: OnIoError::NAMES,
    ignore_case: false,
};
/// `fencing` values.
pub static FENCING: EnumDef = EnumDef {
    values: Fencing::NAMES,
    ignore_case: false,
};
/// `after-sb-0pri` values.
pub static AFTER_SB_0P: EnumDef = EnumDef {
    values: &[
        (0, "disconnect"),
        (1, "discard-younger-primary"),
        (2, "discard-older-primary"),
        (3, "discard-zero-changes"),
        (4, "discard-least-changes"),
        (5, "discard-local"),
        (6, "discard-remote"),
    ],
    ignore_case: false,
};
/// `after-sb-1pri` values.
pub static AFTER_SB_1P: EnumDef = EnumDef {
    values: &[
        (0, "disconnect"),
        (7, "consensus"),
        (8, "discard-secondary"),
        (9, "call-pri-lost-after-sb"),
        (10, "violently-as0p"),
    ],
    ignore_case: false,
};
/// `after-sb-2pri` values.
pub static AFTER_SB_2P: EnumDef = EnumDef {
    values: &[
        (0, "disconnect"),
        (9, "call-pri-lost-after-sb"),
        (10, "violently-as0p"),
    ],
    ignore_case: false,
};
/// `rr-conflict` values (note `call-pri-lost` and `violently`, unlike the after-sb options).
pub static RR_CONFLICT: EnumDef = EnumDef {
    values: &[(0, "disconnect"), (9, "call-pri-lost"), (10, "violently")],
    ignore_case: false,
};
/// `on-no-data-accessible` values.
pub static ON_NO_DATA: EnumDef = EnumDef {
    values: OnNoData::NAMES,
    ignore_case: false,
};
/// `on-congestion` values.
pub static ON_CONGESTION: EnumDef = EnumDef {
    values: OnCongestion::NAMES,
    ignore_case: false,
};
/// `read-balancing` values.
pub static READ_BALANCING: EnumDef = EnumDef {
    values: ReadBalancing::NAMES,
    ignore_case: false,
};
/// `protocol` values.
pub static WIRE_PROTOCOL: EnumDef = EnumDef {
    values: WireProtocol::NAMES,
    ignore_case: true,
};
