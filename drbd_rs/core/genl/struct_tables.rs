// SPDX-License-Identifier: GPL-2.0

//! The field tables of DRBD's configuration structs (`disk_conf`, `net_conf`, `res_opts`, ...,
//! [`STRUCTS`]) and the private builders they are written with.

use super::commands::TopAttr;
use super::fields::{Cli, FieldDef, FieldType, Scale, StructDef};
use super::header::{DRBD_CPU_MASK_SIZE, HISTORY_UUIDS, SHARED_SECRET_MAX, UI_SIZE};
use super::limits as l;
use super::settings::{
    EnumDef, AFTER_SB_0P, AFTER_SB_1P, AFTER_SB_2P, FENCING, ON_CONGESTION, ON_IO_ERROR,
    ON_NO_DATA, READ_BALANCING, RR_CONFLICT, WIRE_PROTOCOL,
};

const fn fd(id: u16, c_name: &'static str, name: &'static str, ty: FieldType) -> FieldDef {
    FieldDef {
        id,
        c_name,
        name,
        cli: Cli::None,
        ty,
        mandatory: false,
        required: false,
        invariant: false,
        sensitive: false,
        default: None,
        min: None,
        max: None,
        scale: Scale::One,
        unit: None,
        values: None,
    }
}

// Builders for the tables below; private so the tables stay the only source of these values.
impl FieldDef {
    const fn m(self) -> Self {
        FieldDef {
            mandatory: true,
            ..self
        }
    }
    const fn req(self) -> Self {
        FieldDef {
            required: true,
            ..self
        }
    }
    const fn inv(self) -> Self {
        FieldDef {
            invariant: true,
            ..self
        }
    }
    const fn sens(self) -> Self {
        FieldDef {
            sensitive: true,
            ..self
        }
    }
    const fn def(self, v: i64) -> Self {
        FieldDef {
            default: Some(v),
            ..self
        }
    }
    const fn range(self, min: i64, max: i64) -> Self {
        FieldDef {
            min: Some(min),
            max: Some(max),
            ..self
        }
    }
    const fn num(self, min: i64, max: i64, def: i64) -> Self {
        self.range(min, max).def(def).cli(Cli::Option)
    }
    const fn scale(self, scale: Scale) -> Self {
        FieldDef { scale, ..self }
    }
    const fn unit(self, unit: &'static str) -> Self {
        FieldDef {
            unit: Some(unit),
            ..self
        }
    }
    const fn cli(self, cli: Cli) -> Self {
        FieldDef { cli, ..self }
    }
    const fn boolean(self, def: i64) -> Self {
        self.def(def).cli(Cli::Boolean)
    }
    const fn choice(self, values: &'static EnumDef, def: i64) -> Self {
        FieldDef {
            values: Some(values),
            ..self
        }
        .def(def)
        .cli(Cli::Option)
    }
}

const U32: FieldType = FieldType::U32;
const U64: FieldType = FieldType::U64;
const I32: FieldType = FieldType::I32;
const FLAG: FieldType = FieldType::Flag;
const fn string(buffer: usize) -> FieldType {
    // The C macros size the buffer; the kernel's policy allows one byte less (room for the NUL).
    FieldType::String {
        max_len: (buffer - 1) as u16,
    }
}
const fn binary(max_len: usize) -> FieldType {
    FieldType::Binary {
        max_len: max_len as u16,
    }
}

/// `drbd_cfg_reply` (kernel to user).
pub static CFG_REPLY: StructDef = StructDef {
    tla: TopAttr::CfgReply,
    c_name: "drbd_cfg_reply",
    fields: &[fd(
        1,
        "info_text",
        "info-text",
        FieldType::String { max_len: u16::MAX },
    )
    .m()],
};

/// `drbd_cfg_context`: the object a request addresses. drbdsetup sends the resource name for
/// resource commands, both addresses for connection commands, name and volume for `new-minor`.
pub static CFG_CONTEXT: StructDef = StructDef {
    tla: TopAttr::CfgContext,
    c_name: "drbd_cfg_context",
    fields: &[
        fd(1, "ctx_volume", "volume", U32).m().cli(Cli::Positional),
        fd(2, "ctx_resource_name", "resource", string(128))
            .m()
            .cli(Cli::Positional),
        fd(3, "ctx_my_addr", "local_addr", binary(128))
            .m()
            .cli(Cli::Positional),
        fd(4, "ctx_peer_addr", "remote_addr", binary(128))
            .m()
            .cli(Cli::Positional),
    ],
};

/// `disk_conf`: `drbdsetup attach` (all fields) and `disk-options` (fields not invariant).
pub static DISK_CONF: StructDef = StructDef {
    tla: TopAttr::DiskConf,
    c_name: "disk_conf",
    fields: &[
        fd(1, "backing_dev", "lower_dev", string(128))
            .req()
            .inv()
            .cli(Cli::Positional),
        fd(2, "meta_dev", "meta_data_dev", string(128))
            .req()
            .inv()
            .cli(Cli::Positional),
        // drbdsetup sends "internal" as DRBD_MD_INDEX_FLEX_INT, "flexible" as ..._FLEX_EXT.
        fd(3, "meta_dev_idx", "meta_data_index", I32)
            .req()
            .inv()
            .cli(Cli::Positional),
        fd(4, "disk_size", "size", U64)
            .m()
            .inv()
            .num(l::DISK_SIZE_MIN, l::DISK_SIZE_MAX, l::DISK_SIZE_DEF)
            .scale(Scale::Sectors)
            .unit("bytes"),
        fd(5, "max_bio_bvecs", "max-bio-bvecs", U32).m().inv().num(
            l::MAX_BIO_BVECS_MIN,
            l::MAX_BIO_BVECS_MAX,
            l::MAX_BIO_BVECS_DEF,
        ),
        fd(6, "on_io_error", "on-io-error", U32)
            .m()
            .choice(&ON_IO_ERROR, l::ON_IO_ERROR_DEF),
        fd(7, "fencing", "fencing", U32)
            .m()
            .choice(&FENCING, l::FENCING_DEF),
        fd(8, "resync_rate", "resync-rate", U32)
            .m()
            .num(l::RESYNC_RATE_MIN, l::RESYNC_RATE_MAX, l::RESYNC_RATE_DEF)
            .scale(Scale::Kilo)
            .unit("bytes/second"),
        fd(9, "resync_after", "resync-after", I32).m().num(
            l::MINOR_NUMBER_MIN,
            l::MINOR_NUMBER_MAX,
            l::MINOR_NUMBER_DEF,
        ),
        fd(10, "al_extents", "al-extents", U32).m().num(
            l::AL_EXTENTS_MIN,
            l::AL_EXTENTS_MAX,
            l::AL_EXTENTS_DEF,
        ),
        fd(11, "c_plan_ahead", "c-plan-ahead", U32)
            .m()
            .num(
                l::C_PLAN_AHEAD_MIN,
                l::C_PLAN_AHEAD_MAX,
                l::C_PLAN_AHEAD_DEF,
            )
            .unit("1/10 seconds"),
        fd(12, "c_delay_target", "c-delay-target", U32)
            .m()
            .num(
                l::C_DELAY_TARGET_MIN,
                l::C_DELAY_TARGET_MAX,
                l::C_DELAY_TARGET_DEF,
            )
            .unit("1/10 seconds"),
        fd(13, "c_fill_target", "c-fill-target", U32)
            .m()
            .num(
                l::C_FILL_TARGET_MIN,
                l::C_FILL_TARGET_MAX,
                l::C_FILL_TARGET_DEF,
            )
            .scale(Scale::Sectors)
            .unit("bytes"),
        fd(14, "c_max_rate", "c-max-rate", U32)
            .m()
            .num(l::C_MAX_RATE_MIN, l::C_MAX_RATE_MAX, l::C_MAX_RATE_DEF)
            .scale(Scale::Kilo)
            .unit("bytes/second"),
        fd(15, "c_min_rate", "c-min-rate", U32)
            .m()
            .num(l::C_MIN_RATE_MIN, l::C_MIN_RATE_MAX, l::C_MIN_RATE_DEF)
            .scale(Scale::Kilo)
            .unit("bytes/second"),
        fd(16, "disk_barrier", "disk-barrier", FLAG)
            .m()
            .boolean(l::DISK_BARRIER_DEF),
        fd(17, "disk_flushes", "disk-flushes", FLAG)
            .m()
            .boolean(l::DISK_FLUSHES_DEF),
        fd(18, "disk_drain", "disk-drain", FLAG)
            .m()
            .boolean(l::DISK_DRAIN_DEF),
        fd(19, "md_flushes", "md-flushes", FLAG)
            .m()
            .boolean(l::MD_FLUSHES_DEF),
        fd(20, "disk_timeout", "disk-timeout", U32)
            .m()
            .num(
                l::DISK_TIMEOUT_MIN,
                l::DISK_TIMEOUT_MAX,
                l::DISK_TIMEOUT_DEF,
            )
            .unit("1/10 seconds"),
        fd(21, "read_balancing", "read-balancing", U32)
            .choice(&READ_BALANCING, l::READ_BALANCING_DEF),
        // 22 is reserved (DRBD 9's unplug_watermark).
        fd(23, "al_updates", "al-updates", FLAG).boolean(l::AL_UPDATES_DEF),
        fd(
            24,
            "discard_zeroes_if_aligned",
            "discard-zeroes-if-aligned",
            FLAG,
        )
        .boolean(l::DISCARD_ZEROES_IF_ALIGNED_DEF),
        fd(25, "rs_discard_granularity", "rs-discard-granularity", U32).num(
            l::RS_DISCARD_GRANULARITY_MIN,
            l::RS_DISCARD_GRANULARITY_MAX,
            l::RS_DISCARD_GRANULARITY_DEF,
        ),
        fd(26, "disable_write_same", "disable-write-same", FLAG).boolean(l::DISABLE_WRITE_SAME_DEF),
    ],
};

/// `res_opts`: `drbdsetup resource-options` and `new-resource`.
pub static RES_OPTS: StructDef = StructDef {
    tla: TopAttr::ResourceOpts,
    c_name: "res_opts",
    fields: &[
        fd(1, "cpu_mask", "cpu-mask", string(DRBD_CPU_MASK_SIZE))
            .m()
            .cli(Cli::Option),
        fd(2, "on_no_data", "on-no-data-accessible", U32)
            .m()
            .choice(&ON_NO_DATA, l::ON_NO_DATA_DEF),
    ],
};

/// `net_conf`: `drbdsetup connect` (all fields) and `net-options` (fields not invariant).
///
/// drbd-utils' own copy of the header adds `my_addr2` (35) and `peer_addr2` (36) for
/// `--alternate-address` / `--alternate-peer-address`, without the mandatory bit; the mainline
/// kernel never knew them and ignores them, and so does this table.
pub static NET_CONF: StructDef = StructDef {
    tla: TopAttr::NetConf,
    c_name: "net_conf",
    fields: &[
        fd(
            1,
            "shared_secret",
            "shared-secret",
            string(SHARED_SECRET_MAX),
        )
        .m()
        .sens()
        .cli(Cli::Option),
        fd(
            2,
            "cram_hmac_alg",
            "cram-hmac-alg",
            string(SHARED_SECRET_MAX),
        )
        .m()
        .cli(Cli::Option),
        fd(
            3,
            "integrity_alg",
            "data-integrity-alg",
            string(SHARED_SECRET_MAX),
        )
        .m()
        .cli(Cli::Option),
        fd(4, "verify_alg", "verify-alg", string(SHARED_SECRET_MAX))
            .m()
            .cli(Cli::Option),
        fd(5, "csums_alg", "csums-alg", string(SHARED_SECRET_MAX))
            .m()
            .cli(Cli::Option),
        fd(6, "wire_protocol", "protocol", U32)
            .m()
            .choice(&WIRE_PROTOCOL, l::PROTOCOL_DEF),
        fd(7, "connect_int", "connect-int", U32)
            .m()
            .num(l::CONNECT_INT_MIN, l::CONNECT_INT_MAX, l::CONNECT_INT_DEF)
            .unit("seconds"),
        fd(8, "timeout", "timeout", U32)
            .m()
            .num(l::TIMEOUT_MIN, l::TIMEOUT_MAX, l::TIMEOUT_DEF)
            .unit("1/10 seconds"),
        fd(9, "ping_int", "ping-int", U32)
            .m()
            .num(l::PING_INT_MIN, l::PING_INT_MAX, l::PING_INT_DEF)
            .unit("seconds"),
        fd(10, "ping_timeo", "ping-timeout", U32)
            .m()
            .num(l::PING_TIMEO_MIN, l::PING_TIMEO_MAX, l::PING_TIMEO_DEF)
            .unit("1/10 seconds"),
        fd(11, "sndbuf_size", "sndbuf-size", U32)
            .m()
            .num(l::SNDBUF_SIZE_MIN, l::SNDBUF_SIZE_MAX, l::SNDBUF_SIZE_DEF)
            .unit("bytes"),
        fd(12, "rcvbuf_size", "rcvbuf-size", U32)
            .m()
            .num(l::RCVBUF_SIZE_MIN, l::RCVBUF_SIZE_MAX, l::RCVBUF_SIZE_DEF)
            .unit("bytes"),
        fd(13, "ko_count", "ko-count", U32).m().num(
            l::KO_COUNT_MIN,
            l::KO_COUNT_MAX,
            l::KO_COUNT_DEF,
        ),
        fd(14, "max_buffers", "max-buffers", U32).m().num(
            l::MAX_BUFFERS_MIN,
            l::MAX_BUFFERS_MAX,
            l::MAX_BUFFERS_DEF,
        ),
        fd(15, "max_epoch_size", "max-epoch-size", U32).m().num(
            l::MAX_EPOCH_SIZE_MIN,
            l::MAX_EPOCH_SIZE_MAX,
            l::MAX_EPOCH_SIZE_DEF,
        ),
        fd(16, "unplug_watermark", "unplug-watermark", U32).m().num(
            l::UNPLUG_WATERMARK_MIN,
            l::UNPLUG_WATERMARK_MAX,
            l::UNPLUG_WATERMARK_DEF,
        ),
        fd(17, "after_sb_0p", "after-sb-0pri", U32)
            .m()
            .choice(&AFTER_SB_0P, l::AFTER_SB_0P_DEF),
        fd(18, "after_sb_1p", "after-sb-1pri", U32)
            .m()
            .choice(&AFTER_SB_1P, l::AFTER_SB_1P_DEF),
        fd(19, "after_sb_2p", "after-sb-2pri", U32)
            .m()
            .choice(&AFTER_SB_2P, l::AFTER_SB_2P_DEF),
        fd(20, "rr_conflict", "rr-conflict", U32)
            .m()
            .choice(&RR_CONFLICT, l::RR_CONFLICT_DEF),
        fd(21, "on_congestion", "on-congestion", U32)
            .m()
            .choice(&ON_CONGESTION, l::ON_CONGESTION_DEF),
        fd(22, "cong_fill", "congestion-fill", U32)
            .m()
            .num(l::CONG_FILL_MIN, l::CONG_FILL_MAX, l::CONG_FILL_DEF)
            .scale(Scale::Sectors)
            .unit("bytes"),
        fd(23, "cong_extents", "congestion-extents", U32).m().num(
            l::CONG_EXTENTS_MIN,
            l::CONG_EXTENTS_MAX,
            l::CONG_EXTENTS_DEF,
        ),
        fd(24, "two_primaries", "allow-two-primaries", FLAG)
            .m()
            .boolean(l::ALLOW_TWO_PRIMARIES_DEF),
        fd(25, "discard_my_data", "discard-my-data", FLAG)
            .m()
            .inv()
            .cli(Cli::Flag),
        fd(26, "tcp_cork", "tcp-cork", FLAG)
            .m()
            .boolean(l::TCP_CORK_DEF),
        fd(27, "always_asbp", "always-asbp", FLAG)
            .m()
            .boolean(l::ALWAYS_ASBP_DEF),
        // drbdsetup also accepts `--dry-run` for this one.
        fd(28, "tentative", "tentative", FLAG)
            .m()
            .inv()
            .cli(Cli::Flag),
        fd(29, "use_rle", "use-rle", FLAG)
            .m()
            .boolean(l::USE_RLE_DEF),
        // 30-32 are reserved (DRBD 9).
        fd(33, "csums_after_crash_only", "csums-after-crash-only", FLAG)
            .boolean(l::CSUMS_AFTER_CRASH_ONLY_DEF),
        fd(34, "sock_check_timeo", "socket-check-timeout", U32).num(
            l::SOCKET_CHECK_TIMEO_MIN,
            l::SOCKET_CHECK_TIMEO_MAX,
            l::SOCKET_CHECK_TIMEO_DEF,
        ),
    ],
};

/// `set_role_parms`: `drbdsetup primary` (`--force`, alias `--overwrite-data-of-peer`).
pub static SET_ROLE_PARMS: StructDef = StructDef {
    tla: TopAttr::SetRoleParms,
    c_name: "set_role_parms",
    fields: &[fd(1, "assume_uptodate", "force", FLAG).m().cli(Cli::Flag)],
};

/// `resize_parms`: `drbdsetup resize`.
pub static RESIZE_PARMS: StructDef = StructDef {
    tla: TopAttr::ResizeParms,
    c_name: "resize_parms",
    fields: &[
        fd(1, "resize_size", "size", U64)
            .m()
            .num(l::DISK_SIZE_MIN, l::DISK_SIZE_MAX, l::DISK_SIZE_DEF)
            .scale(Scale::Sectors)
            .unit("bytes"),
        fd(2, "resize_force", "assume-peer-has-space", FLAG)
            .m()
            .cli(Cli::Flag),
        fd(3, "no_resync", "assume-clean", FLAG).m().cli(Cli::Flag),
        fd(4, "al_stripes", "al-stripes", U32).num(
            l::AL_STRIPES_MIN,
            l::AL_STRIPES_MAX,
            l::AL_STRIPES_DEF,
        ),
        fd(5, "al_stripe_size", "al-stripe-size-kB", U32)
            .num(
                l::AL_STRIPE_SIZE_MIN,
                l::AL_STRIPE_SIZE_MAX,
                l::AL_STRIPE_SIZE_DEF,
            )
            .scale(Scale::Kilo),
    ],
};

/// `state_info`: 8.4 status replies and `DRBD_ADM_EVENT` broadcasts (kernel to user).
pub static STATE_INFO: StructDef = StructDef {
    tla: TopAttr::StateInfo,
    c_name: "state_info",
    fields: &[
        fd(1, "sib_reason", "sib-reason", U32).m(),
        fd(2, "current_state", "current-state", U32).req(),
        fd(3, "capacity", "capacity", U64).m(),
        fd(4, "ed_uuid", "ed-uuid", U64).m(),
        fd(5, "prev_state", "prev-state", U32).m(),
        fd(6, "new_state", "new-state", U32).m(),
        fd(7, "uuids", "uuids", binary(UI_SIZE * 8)).m(),
        fd(8, "disk_flags", "disk-flags", U32).m(),
        fd(9, "bits_total", "bits-total", U64).m(),
        fd(10, "bits_oos", "bits-oos", U64).m(),
        fd(11, "bits_rs_total", "bits-rs-total", U64).m(),
        fd(12, "bits_rs_failed", "bits-rs-failed", U64).m(),
        fd(13, "helper", "helper", string(32)).m(),
        fd(14, "helper_exit_code", "helper-exit-code", U32).m(),
        fd(15, "send_cnt", "send-cnt", U64),
        fd(16, "recv_cnt", "recv-cnt", U64),
        fd(17, "read_cnt", "read-cnt", U64),
        fd(18, "writ_cnt", "writ-cnt", U64),
        fd(19, "al_writ_cnt", "al-writ-cnt", U64),
        fd(20, "bm_writ_cnt", "bm-writ-cnt", U64),
        fd(21, "ap_bio_cnt", "ap-bio-cnt", U32),
        fd(22, "ap_pending_cnt", "ap-pending-cnt", U32),
        fd(23, "rs_pending_cnt", "rs-pending-cnt", U32),
    ],
};

/// `start_ov_parms`: `drbdsetup verify --start/--stop` (sectors on the wire).
pub static START_OV_PARMS: StructDef = StructDef {
    tla: TopAttr::StartOvParms,
    c_name: "start_ov_parms",
    fields: &[
        fd(1, "ov_start_sector", "start", U64)
            .m()
            .num(l::DISK_SIZE_MIN, l::DISK_SIZE_MAX, l::DISK_SIZE_DEF)
            .scale(Scale::Sectors)
            .unit("bytes"),
        fd(2, "ov_stop_sector", "stop", U64)
            .m()
            .num(l::DISK_SIZE_MIN, l::DISK_SIZE_MAX, l::DISK_SIZE_DEF)
            .scale(Scale::Sectors)
            .unit("bytes"),
    ],
};

/// `new_c_uuid_parms`: `drbdsetup new-current-uuid`.
pub static NEW_C_UUID_PARMS: StructDef = StructDef {
    tla: TopAttr::NewCUuidParms,
    c_name: "new_c_uuid_parms",
    fields: &[fd(1, "clear_bm", "clear-bitmap", FLAG).m().cli(Cli::Flag)],
};

/// `timeout_parms`: reply to `DRBD_ADM_GET_TIMEOUT_TYPE`, see [`TimeoutType`](super::TimeoutType).
pub static TIMEOUT_PARMS: StructDef = StructDef {
    tla: TopAttr::TimeoutParms,
    c_name: "timeout_parms",
    fields: &[fd(1, "timeout_type", "timeout-type", U32).req()],
};

/// `disconnect_parms`: `drbdsetup disconnect --force`.
pub static DISCONNECT_PARMS: StructDef = StructDef {
    tla: TopAttr::DisconnectParms,
    c_name: "disconnect_parms",
    fields: &[fd(1, "force_disconnect", "force", FLAG).m().cli(Cli::Flag)],
};

/// `detach_parms`: `drbdsetup detach --force`.
pub static DETACH_PARMS: StructDef = StructDef {
    tla: TopAttr::DetachParms,
    c_name: "detach_parms",
    fields: &[fd(1, "force_detach", "force", FLAG).m().cli(Cli::Flag)],
};

/// `resource_info` (events2 / status).
pub static RESOURCE_INFO: StructDef = StructDef {
    tla: TopAttr::ResourceInfo,
    c_name: "resource_info",
    fields: &[
        fd(1, "res_role", "res-role", U32),
        fd(2, "res_susp", "res-susp", FLAG),
        fd(3, "res_susp_nod", "res-susp-nod", FLAG),
        fd(4, "res_susp_fen", "res-susp-fen", FLAG),
    ],
};

/// `device_info` (events2 / status).
pub static DEVICE_INFO: StructDef = StructDef {
    tla: TopAttr::DeviceInfo,
    c_name: "device_info",
    fields: &[fd(1, "dev_disk_state", "dev-disk-state", U32)],
};

/// `connection_info` (events2 / status).
pub static CONNECTION_INFO: StructDef = StructDef {
    tla: TopAttr::ConnectionInfo,
    c_name: "connection_info",
    fields: &[
        fd(1, "conn_connection_state", "conn-connection-state", U32),
        fd(2, "conn_role", "conn-role", U32),
    ],
};

/// `peer_device_info` (events2 / status).
pub static PEER_DEVICE_INFO: StructDef = StructDef {
    tla: TopAttr::PeerDeviceInfo,
    c_name: "peer_device_info",
    fields: &[
        fd(1, "peer_repl_state", "peer-repl-state", U32),
        fd(2, "peer_disk_state", "peer-disk-state", U32),
        fd(3, "peer_resync_susp_user", "peer-resync-susp-user", U32),
        fd(4, "peer_resync_susp_peer", "peer-resync-susp-peer", U32),
        fd(
            5,
            "peer_resync_susp_dependency",
            "peer-resync-susp-dependency",
            U32,
        ),
    ],
};

/// `resource_statistics` (events2 / status).
pub static RESOURCE_STATISTICS: StructDef = StructDef {
    tla: TopAttr::ResourceStatistics,
    c_name: "resource_statistics",
    fields: &[fd(
        1,
        "res_stat_write_ordering",
        "res-stat-write-ordering",
        U32,
    )],
};

/// `device_statistics` (events2 / status); sizes in sectors.
pub static DEVICE_STATISTICS: StructDef = StructDef {
    tla: TopAttr::DeviceStatistics,
    c_name: "device_statistics",
    fields: &[
        fd(1, "dev_size", "dev-size", U64),
        fd(2, "dev_read", "dev-read", U64),
        fd(3, "dev_write", "dev-write", U64),
        fd(4, "dev_al_writes", "dev-al-writes", U64),
        fd(5, "dev_bm_writes", "dev-bm-writes", U64),
        fd(6, "dev_upper_pending", "dev-upper-pending", U32),
        fd(7, "dev_lower_pending", "dev-lower-pending", U32),
        fd(8, "dev_upper_blocked", "dev-upper-blocked", FLAG),
        fd(9, "dev_lower_blocked", "dev-lower-blocked", FLAG),
        fd(10, "dev_al_suspended", "dev-al-suspended", FLAG),
        fd(11, "dev_exposed_data_uuid", "dev-exposed-data-uuid", U64),
        fd(12, "dev_current_uuid", "dev-current-uuid", U64),
        fd(13, "dev_disk_flags", "dev-disk-flags", U32),
        fd(
            14,
            "history_uuids",
            "history-uuids",
            binary(HISTORY_UUIDS * 8),
        ),
    ],
};

/// `connection_statistics` (events2 / status).
pub static CONNECTION_STATISTICS: StructDef = StructDef {
    tla: TopAttr::ConnectionStatistics,
    c_name: "connection_statistics",
    fields: &[fd(1, "conn_congested", "conn-congested", FLAG)],
};

/// `peer_device_statistics` (events2 / status); 8 is unused.
pub static PEER_DEVICE_STATISTICS: StructDef = StructDef {
    tla: TopAttr::PeerDeviceStatistics,
    c_name: "peer_device_statistics",
    fields: &[
        fd(1, "peer_dev_received", "peer-dev-received", U64),
        fd(2, "peer_dev_sent", "peer-dev-sent", U64),
        fd(3, "peer_dev_pending", "peer-dev-pending", U32),
        fd(4, "peer_dev_unacked", "peer-dev-unacked", U32),
        fd(5, "peer_dev_out_of_sync", "peer-dev-out-of-sync", U64),
        fd(6, "peer_dev_resync_failed", "peer-dev-resync-failed", U64),
        fd(7, "peer_dev_bitmap_uuid", "peer-dev-bitmap-uuid", U64),
        fd(9, "peer_dev_flags", "peer-dev-flags", U32),
    ],
};

/// `drbd_notification_header` (events2).
pub static NOTIFICATION_HEADER: StructDef = StructDef {
    tla: TopAttr::NotificationHeader,
    c_name: "drbd_notification_header",
    fields: &[fd(1, "nh_type", "nh-type", U32).m()],
};

/// `drbd_helper_info` (events2).
pub static HELPER_INFO: StructDef = StructDef {
    tla: TopAttr::Helper,
    c_name: "drbd_helper_info",
    fields: &[
        fd(1, "helper_name", "helper-name", string(32)).m(),
        fd(2, "helper_status", "helper-status", U32).m(),
    ],
};

/// Every struct, in top-level attribute order.
pub static STRUCTS: [&StructDef; 23] = [
    &CFG_REPLY,
    &CFG_CONTEXT,
    &DISK_CONF,
    &RES_OPTS,
    &NET_CONF,
    &SET_ROLE_PARMS,
    &RESIZE_PARMS,
    &STATE_INFO,
    &START_OV_PARMS,
    &NEW_C_UUID_PARMS,
    &TIMEOUT_PARMS,
    &DISCONNECT_PARMS,
    &DETACH_PARMS,
    &RESOURCE_INFO,
    &DEVICE_INFO,
    &CONNECTION_INFO,
    &PEER_DEVICE_INFO,
    &RESOURCE_STATISTICS,
    &DEVICE_STATISTICS,
    &CONNECTION_STATISTICS,
    &PEER_DEVICE_STATISTICS,
    &NOTIFICATION_HEADER,
    &HELPER_INFO,
];
