// SPDX-License-Identifier: GPL-2.0

//! The answers of a request: DRBD's return codes ([`RetCode`], `enum drbd_ret_code`) and the
//! results of a state change ([`StateRv`]), with the texts drbdsetup prints for them.

/// First value of `enum drbd_ret_code`; not a code itself.
pub const ERR_CODE_BASE: i32 = 100;
/// One past the last return code this ABI defines (`AFTER_LAST_ERR_CODE`).
pub const AFTER_LAST_ERR_CODE: i32 = 171;

abi_enum! {
    /// Return codes of configuration requests (`enum drbd_ret_code`), sent in
    /// `drbd_genlmsghdr.ret_code`. `name` is the C name; [`RetCode::text`] is what drbdsetup
    /// prints. Gaps (106, 109, 110, 113, 117, 128, 136) are codes of older releases.
    pub enum RetCode: i32 {
        /// Success.
        NoError = 101 => "NO_ERROR",
        /// Local address already in use.
        LocalAddr = 102 => "ERR_LOCAL_ADDR",
        /// Peer address already in use.
        PeerAddr = 103 => "ERR_PEER_ADDR",
        /// Cannot open the backing device.
        OpenDisk = 104 => "ERR_OPEN_DISK",
        /// Cannot open the meta-data device.
        OpenMdDisk = 105 => "ERR_OPEN_MD_DISK",
        /// Backing device is not a block device.
        DiskNotBdev = 107 => "ERR_DISK_NOT_BDEV",
        /// Meta-data device is not a block device.
        MdNotBdev = 108 => "ERR_MD_NOT_BDEV",
        /// Backing device smaller than the requested size.
        DiskTooSmall = 111 => "ERR_DISK_TOO_SMALL",
        /// Meta-data device too small.
        MdDiskTooSmall = 112 => "ERR_MD_DISK_TOO_SMALL",
        /// Backing device already claimed.
        BdclaimDisk = 114 => "ERR_BDCLAIM_DISK",
        /// Meta-data device already claimed.
        BdclaimMdDisk = 115 => "ERR_BDCLAIM_MD_DISK",
        /// Invalid meta-data index.
        MdIdxInvalid = 116 => "ERR_MD_IDX_INVALID",
        /// I/O error reading the meta data.
        IoMdDisk = 118 => "ERR_IO_MD_DISK",
        /// No valid meta-data signature.
        MdInvalid = 119 => "ERR_MD_INVALID",
        /// Unknown cram-hmac-alg.
        AuthAlg = 120 => "ERR_AUTH_ALG",
        /// cram-hmac-alg is not a digest.
        AuthAlgNd = 121 => "ERR_AUTH_ALG_ND",
        /// Out of memory.
        Nomem = 122 => "ERR_NOMEM",
        /// `--discard-my-data` while primary.
        DiscardImpossible = 123 => "ERR_DISCARD_IMPOSSIBLE",
        /// Already attached.
        DiskConfigured = 124 => "ERR_DISK_CONFIGURED",
        /// Already has a network configuration.
        NetConfigured = 125 => "ERR_NET_CONFIGURED",
        /// Unknown mandatory attribute, or any other invalid attribute.
        MandatoryTag = 126 => "ERR_MANDATORY_TAG",
        /// No such minor.
        MinorInvalid = 127 => "ERR_MINOR_INVALID",
        /// Interrupted by a signal.
        Intr = 129 => "ERR_INTR",
        /// Resize during resync.
        ResizeResync = 130 => "ERR_RESIZE_RESYNC",
        /// Resize needs a primary.
        NoPrimary = 131 => "ERR_NO_PRIMARY",
        /// Invalid resync-after minor.
        ResyncAfter = 132 => "ERR_RESYNC_AFTER",
        /// resync-after dependency cycle.
        ResyncAfterCycle = 133 => "ERR_RESYNC_AFTER_CYCLE",
        /// Sync already paused by the user.
        PauseIsSet = 134 => "ERR_PAUSE_IS_SET",
        /// Sync not paused by the user.
        PauseIsClear = 135 => "ERR_PAUSE_IS_CLEAR",
        /// Unknown request.
        PacketNr = 137 => "ERR_PACKET_NR",
        /// Not attached.
        NoDisk = 138 => "ERR_NO_DISK",
        /// Needs protocol C.
        NotProtoC = 139 => "ERR_NOT_PROTO_C",
        /// Out of memory for the bitmap.
        NomemBitmap = 140 => "ERR_NOMEM_BITMAP",
        /// Unknown data-integrity-alg.
        IntegrityAlg = 141 => "ERR_INTEGRITY_ALG",
        /// data-integrity-alg is not a digest.
        IntegrityAlgNd = 142 => "ERR_INTEGRITY_ALG_ND",
        /// Invalid cpu-mask.
        CpuMaskParse = 143 => "ERR_CPU_MASK_PARSE",
        /// Unknown csums-alg.
        CsumsAlg = 144 => "ERR_CSUMS_ALG",
        /// csums-alg is not a digest.
        CsumsAlgNd = 145 => "ERR_CSUMS_ALG_ND",
        /// Unknown verify-alg.
        VerifyAlg = 146 => "ERR_VERIFY_ALG",
        /// verify-alg is not a digest.
        VerifyAlgNd = 147 => "ERR_VERIFY_ALG_ND",
        /// csums-alg change during resync.
        CsumsResyncRunning = 148 => "ERR_CSUMS_RESYNC_RUNNING",
        /// verify-alg change during online verify.
        VerifyRunning = 149 => "ERR_VERIFY_RUNNING",
        /// Attach to data that is not the latest.
        DataNotCurrent = 150 => "ERR_DATA_NOT_CURRENT",
        /// Must be StandAlone.
        Connected = 151 => "ERR_CONNECTED",
        /// Permission denied.
        Perm = 152 => "ERR_PERM",
        /// Needs protocol version 93.
        NeedApv93 = 153 => "ERR_NEED_APV_93",
        /// resource-and-stonith with protocol A.
        StonithAndProtA = 154 => "ERR_STONITH_AND_PROT_A",
        /// pull-ahead without protocol A.
        CongNotProtoA = 155 => "ERR_CONG_NOT_PROTO_A",
        /// Pause caused by a resync-after dependency.
        PicAfterDep = 156 => "ERR_PIC_AFTER_DEP",
        /// Pause caused by the peer.
        PicPeerDep = 157 => "ERR_PIC_PEER_DEP",
        /// Unknown resource.
        ResNotKnown = 158 => "ERR_RES_NOT_KNOWN",
        /// Resource still has minors.
        ResInUse = 159 => "ERR_RES_IN_USE",
        /// Minor still configured.
        MinorConfigured = 160 => "ERR_MINOR_CONFIGURED",
        /// Minor or volume exists.
        MinorOrVolumeExists = 161 => "ERR_MINOR_OR_VOLUME_EXISTS",
        /// Invalid request.
        InvalidRequest = 162 => "ERR_INVALID_REQUEST",
        /// Needs protocol version 100.
        NeedApv100 = 163 => "ERR_NEED_APV_100",
        /// Cannot clear allow-two-primaries while both are primary.
        NeedAllowTwoPri = 164 => "ERR_NEED_ALLOW_TWO_PRI",
        /// Unclean meta data (apply-al needed).
        MdUnclean = 165 => "ERR_MD_UNCLEAN",
        /// Online meta-data layout change needs a connection.
        MdLayoutConnected = 166 => "ERR_MD_LAYOUT_CONNECTED",
        /// Activity-log area too big.
        MdLayoutTooBig = 167 => "ERR_MD_LAYOUT_TOO_BIG",
        /// Activity-log area too small.
        MdLayoutTooSmall = 168 => "ERR_MD_LAYOUT_TOO_SMALL",
        /// Activity log does not fit.
        MdLayoutNoFit = 169 => "ERR_MD_LAYOUT_NO_FIT",
        /// Implicit shrinking refused.
        ImplicitShrink = 170 => "ERR_IMPLICIT_SHRINK",
    }
}

/// drbdsetup-84's message for each code from 101 to 170, including codes older releases used.
/// Kept byte for byte (some end in `\n`, which drbdsetup prints before its own newline).
static RET_CODE_TEXTS: [&str; 70] = [
    "No further Information available.",
    "Local address(port) already in use.",
    "Remote address(port) already in use.",
    "Can not open backing device.",
    "Can not open meta device.",
    "Lower device already in use.",
    "Lower device is not a block device.",
    "Meta device is not a block device.",
    "Open of lower device failed.",
    "Open of meta device failed.",
    "Low.dev. smaller than requested DRBD-dev. size.",
    "Meta device too small.",
    "You have to use the disk command first.",
    "Lower device is already claimed. This usually means it is mounted.",
    "Meta device is already claimed. This usually means it is mounted.",
    "Lower device / meta device / index combination invalid.",
    "Currently we only support devices up to 3.998TB.\n\
     (up to 2TB in case you do not have CONFIG_LBD set)\n\
     Contact office@linbit.com, if you need more.",
    "IO error(s) occurred during initial access to meta-data.\n",
    "No valid meta-data signature found.\n\n\
     \t==> Use 'drbdadm create-md res' to initialize meta-data area. <==\n",
    "The 'cram-hmac-alg' you specified is not known in the kernel. \
     (Maybe you need to modprobe it, or modprobe hmac?)",
    "The 'cram-hmac-alg' you specified is not a digest.",
    "kmalloc() failed. Out of memory?",
    "--discard-my-data not allowed when primary.",
    "Device is attached to a disk (use detach first)",
    "Device has a net-config (use disconnect first)",
    "UnknownMandatoryTag",
    "Device minor not allocated",
    "Resulting device state would be invalid",
    "Interrupted by Signal",
    "Resize not allowed during resync.",
    "Need one Primary node to resize.",
    "The resync-after minor number is invalid",
    "This would cause a resync-after dependency cycle",
    "Sync-pause flag is already set",
    "Sync-pause flag is already cleared",
    "Disk state is lower than outdated",
    "Kernel does not know how to handle your request.\nMaybe API_VERSION mismatch?",
    "Device does not have a disk-config",
    "Protocol C required",
    "vmalloc() failed. Out of memory?",
    "The 'data-integrity-alg' you specified is not known in the kernel. \
     (Maybe you need to modprobe it, or modprobe hmac?)",
    "The 'data-integrity-alg' you specified is not a digest.",
    "Invalid cpu-mask.",
    "CSUMSAlgNotAvail",
    "CSUMSAlgNotDigest",
    "VERIFYAlgNotAvail",
    "VERIFYAlgNotDigest",
    "Can not change csums-alg while resync is in progress",
    "Can not change verify-alg while online verify runs",
    "Can only attach to the data we lost last (see kernel log).",
    "Need to be StandAlone",
    "Permission denied. CAP_SYS_ADMIN necessary",
    "Protocol version 93 required to use --assume-clean",
    "Fencing policy resource-and-stonith only with prot B or C allowed",
    "on-congestion policy pull-ahead only with prot A allowed",
    "Sync-pause flag is already cleared.\nNote: Resync pause caused by a local resync-after dependency.",
    "Sync-pause flag is already cleared.\nNote: Resync pause caused by the peer node.",
    "Unknown resource",
    "Resource still in use (delete all minors first)",
    "Minor still configured (down it first)",
    "Minor or volume exists already (delete it first)",
    "Invalid configuration request",
    "Prot version 100 required in order to change\nthese network options while connected",
    "Can not clear allow_two_primaries as long as\nthere a primaries on both sides",
    "Unclean meta-data found.\nYou need to 'drbdadm apply-al res'\n",
    "DRBD need to be connected for online MD layout change\n",
    "Resulting AL area too big\n",
    "Resulting AL are too small\n",
    "Resulting AL does not fit into available meta data space\n",
    "Implicit device shrinking not allowed. See kernel log.\n",
];

/// What drbdsetup-84 prints for an unknown code in the 101..=170 lookup.
pub const UNKNOWN_RET_CODE_TEXT: &str = "Unknown... maybe API_VERSION mismatch?";

/// drbdsetup-84's text for return code `code` (`error_to_string`), for every code from 101 to
/// 170, including codes of older releases that [`RetCode`] does not name. drbdsetup prints it
/// as `"{object}: Failure: ({code}) {text}\n"`.
pub fn ret_code_text(code: i32) -> Option<&'static str> {
    let idx = code.checked_sub(ERR_CODE_BASE + 1)?;
    RET_CODE_TEXTS.get(usize::try_from(idx).ok()?).copied()
}

impl RetCode {
    /// drbdsetup-84's message for this code.
    pub fn text(self) -> &'static str {
        ret_code_text(self as i32).unwrap_or(UNKNOWN_RET_CODE_TEXT)
    }
}

abi_enum! {
    /// Result of a state change (`enum drbd_state_rv`); configuration requests that change
    /// state reply with these in `ret_code`. Positive values are success. `name` is the C name;
    /// [`set_st_err_str`] gives drbdsetup's text.
    pub enum StateRv: i32 {
        /// Cluster-wide change not needed.
        CwNoNeed = 4 => "SS_CW_NO_NEED",
        /// Cluster-wide change succeeded.
        CwSuccess = 3 => "SS_CW_SUCCESS",
        /// Already in the requested state.
        NothingToDo = 2 => "SS_NOTHING_TO_DO",
        /// Success.
        Success = 1 => "SS_SUCCESS",
        /// Unknown error.
        UnknownError = 0 => "SS_UNKNOWN_ERROR",
        /// Two primaries not allowed.
        TwoPrimaries = -1 => "SS_TWO_PRIMARIES",
        /// Needs UpToDate data.
        NoUpToDateDisk = -2 => "SS_NO_UP_TO_DATE_DISK",
        /// No local disk.
        NoLocalDisk = -4 => "SS_NO_LOCAL_DISK",
        /// No remote disk.
        NoRemoteDisk = -5 => "SS_NO_REMOTE_DISK",
        /// Cannot outdate while connected.
        ConnectedOutdates = -6 => "SS_CONNECTED_OUTDATES",
        /// Cannot become primary, peer not outdated.
        PrimaryNop = -7 => "SS_PRIMARY_NOP",
        /// Resync already running.
        ResyncRunning = -8 => "SS_RESYNC_RUNNING",
        /// Already StandAlone.
        AlreadyStandalone = -9 => "SS_ALREADY_STANDALONE",
        /// Refused by the peer.
        CwFailedByPeer = -10 => "SS_CW_FAILED_BY_PEER",
        /// Operation needs a disk.
        IsDiskless = -11 => "SS_IS_DISKLESS",
        /// Device held open.
        DeviceInUse = -12 => "SS_DEVICE_IN_USE",
        /// No network configuration.
        NoNetConfig = -13 => "SS_NO_NET_CONFIG",
        /// Online verify needs verify-alg.
        NoVerifyAlg = -14 => "SS_NO_VERIFY_ALG",
        /// Needs a connection.
        NeedConnection = -15 => "SS_NEED_CONNECTION",
        /// Disk state lower than Outdated.
        LowerThanOutdated = -16 => "SS_LOWER_THAN_OUTDATED",
        /// Peer lacks protocol support.
        NotSupported = -17 => "SS_NOT_SUPPORTED",
        /// Transient state; retry.
        InTransientState = -18 => "SS_IN_TRANSIENT_STATE",
        /// Concurrent state change.
        ConcurrentStChg = -19 => "SS_CONCURRENT_ST_CHG",
        /// Another volume is primary on the peer.
        OVolPeerPri = -20 => "SS_O_VOL_PEER_PRI",
        /// Outdate needs a connection.
        OutdateWoConn = -21 => "SS_OUTDATE_WO_CONN",
    }
}

/// One below the most negative state-change result (`SS_AFTER_LAST_ERROR`).
pub const SS_AFTER_LAST_ERROR: i32 = -22;

/// DRBD's text for a failed state change (`drbd_set_st_err_str`), which drbdsetup prints as
/// `"{object}: State change failed: ({code}) {text}\n"`. Like the C function it answers
/// `"TOO_LARGE"` for non-negative codes and `"TOO_SMALL"` below -21. -3 has no entry in DRBD's
/// table; C would pass a NULL pointer to printf, which glibc prints as `"(null)"`.
pub fn set_st_err_str(code: i32) -> &'static str {
    match code {
        c if c <= SS_AFTER_LAST_ERROR => "TOO_SMALL",
        c if c > -1 => "TOO_LARGE",
        -1 => "Multiple primaries not allowed by config",
        -2 => "Need access to UpToDate data",
        -4 => "Can not resync without local disk",
        -5 => "Can not resync without remote disk",
        -6 => "Refusing to be Outdated while Connected",
        -7 => "Refusing to be Primary while peer is not outdated",
        -8 => "Can not start OV/resync since it is already active",
        -9 => "Can not disconnect a StandAlone device",
        -10 => "State change was refused by peer node",
        -11 => "Device is diskless, the requested operation requires a disk",
        -12 => "Device is held open by someone",
        -13 => "Have no net/connection configuration",
        -14 => "Need a verify algorithm to start online verify",
        -15 => "Need a connection to start verify or resync",
        -16 => "Disk state is lower than outdated",
        -17 => "Peer does not support protocol",
        -18 => "In transient state, retry after next state change",
        -19 => "Concurrent state changes detected and aborted",
        -20 => "Other vol primary on peer not allowed by config",
        -21 => "Need a connection for a graceful disconnect/outdate peer",
        _ => "(null)",
    }
}
