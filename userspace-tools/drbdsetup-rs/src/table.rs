//! drbdsetup-84's command table and option definitions.
//!
//! Which struct field an option sets, its type, range, default, unit and enum spellings all come
//! from `drbd_core::genl`'s field tables. What is drbdsetup's own is kept here: which options a
//! command offers and in which order (its usage text and `show` list them in that order), the
//! context a command addresses (minor, resource, connection), and a few options that are not
//! struct fields (`--alternate-address`, the `status`/`events2`/`wait-*` switches).

use drbd_core::genl::{self, Cli, Cmd, FieldDef, FieldType, StructDef, TopAttr};

use crate::getopt::{HasArg, LongOpt};

/// `enum cfg_ctx_key`.
pub const CTX_MINOR: u32 = 1;
pub const CTX_RESOURCE: u32 = 2;
pub const CTX_ALL: u32 = 4;
pub const CTX_CONNECTION: u32 = 8;
pub const CTX_RESOURCE_AND_CONNECTION: u32 = 16;

/// How an option's value is read and sent (drbdsetup's `field_def` variants).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A number with optional unit suffix (`NUMERIC`).
    Numeric,
    /// `--name[={yes|no}]`, always sent (`BOOLEAN`).
    Boolean,
    /// `--name[={yes|no}]`, sent only when yes (`FLAG`).
    Flag,
    /// One of the spellings of [`FieldDef::values`] (`ENUM`, `ENUM_NOCASE`).
    Enum,
    /// A string (`STRING`).
    Str,
    /// An address in `[af:]addr[:port]` syntax (`ADDRESS`).
    Address,
}

/// One option of a command's context: a struct field and how drbdsetup treats it.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// drbdsetup's option name.
    pub name: &'static str,
    /// Attribute type as sent (field number plus mandatory bit).
    pub nla_type: u16,
    /// Field number.
    pub id: u16,
    pub kind: Kind,
    /// The core table entry; `None` for the two alternate-address options, which drbd-utils
    /// sends (numbers 35 and 36, not mandatory) and the kernel ignores.
    pub def: Option<&'static FieldDef>,
}

impl Field {
    fn from_def(def: &'static FieldDef) -> Field {
        let kind = match (def.cli, def.ty) {
            (Cli::Boolean, _) => Kind::Boolean,
            (Cli::Flag, _) => Kind::Flag,
            (_, _) if def.values.is_some() => Kind::Enum,
            (_, FieldType::String { .. }) => Kind::Str,
            (_, FieldType::Binary { .. }) => Kind::Address,
            _ => Kind::Numeric,
        };
        Field {
            name: def.name,
            nla_type: def.nla_type(),
            id: def.id,
            kind,
            def: Some(def),
        }
    }

    /// The scale character of a numeric field (`'1'`, `'k'`, `'s'`).
    pub fn scale(&self) -> char {
        self.def.map_or('1', |d| d.scale.as_char())
    }

    /// Whether the field is read as a signed number (`__s32_field`).
    pub fn is_signed(&self) -> bool {
        matches!(self.def.map(|d| d.ty), Some(FieldType::I32))
    }

    /// Whether the option's argument may be omitted (booleans and flags: means "yes").
    pub fn optional_argument(&self) -> bool {
        matches!(self.kind, Kind::Boolean | Kind::Flag)
    }

    /// The default a boolean or flag option has (flags: always no).
    pub fn bool_default(&self) -> bool {
        match self.kind {
            Kind::Flag => false,
            _ => self.def.and_then(|d| d.default).unwrap_or(0) != 0,
        }
    }
}

/// The option lists of drbdsetup's contexts (`struct context_def`), in its order.
pub struct Context {
    pub sdef: &'static StructDef,
    pub names: &'static [&'static str],
}

const CHANGEABLE_DISK: &[&str] = &[
    "on-io-error",
    "fencing",
    "disk-barrier",
    "disk-flushes",
    "disk-drain",
    "md-flushes",
    "resync-rate",
    "resync-after",
    "al-extents",
    "al-updates",
    "discard-zeroes-if-aligned",
    "disable-write-same",
    "c-plan-ahead",
    "c-delay-target",
    "c-fill-target",
    "c-max-rate",
    "c-min-rate",
    "disk-timeout",
    "read-balancing",
    "rs-discard-granularity",
];

const CHANGEABLE_NET: &[&str] = &[
    "protocol",
    "timeout",
    "max-epoch-size",
    "max-buffers",
    "unplug-watermark",
    "connect-int",
    "ping-int",
    "sndbuf-size",
    "rcvbuf-size",
    "ko-count",
    "allow-two-primaries",
    "cram-hmac-alg",
    "shared-secret",
    "after-sb-0pri",
    "after-sb-1pri",
    "after-sb-2pri",
    "always-asbp",
    "rr-conflict",
    "ping-timeout",
    "data-integrity-alg",
    "tcp-cork",
    "on-congestion",
    "congestion-fill",
    "congestion-extents",
    "csums-alg",
    "csums-after-crash-only",
    "verify-alg",
    "use-rle",
    "socket-check-timeout",
];

macro_rules! concat_names {
    ($($part:expr),*) => {{
        const LEN: usize = 0 $(+ $part.len())*;
        const fn build() -> [&'static str; LEN] {
            let mut out = [""; LEN];
            let mut n = 0;
            $(
                let p: &[&str] = $part;
                let mut i = 0;
                while i < p.len() {
                    out[n] = p[i];
                    n += 1;
                    i += 1;
                }
            )*
            out
        }
        const OUT: [&'static str; LEN] = build();
        &OUT
    }};
}

pub static DISK_OPTIONS_CTX: Context = Context {
    sdef: &genl::DISK_CONF,
    names: CHANGEABLE_DISK,
};
pub static NET_OPTIONS_CTX: Context = Context {
    sdef: &genl::NET_CONF,
    names: CHANGEABLE_NET,
};
pub static PRIMARY_CTX: Context = Context {
    sdef: &genl::SET_ROLE_PARMS,
    names: &["force"],
};
pub static ATTACH_CTX: Context = Context {
    sdef: &genl::DISK_CONF,
    names: concat_names!(&["size", "max-bio-bvecs"], CHANGEABLE_DISK),
};
pub static DETACH_CTX: Context = Context {
    sdef: &genl::DETACH_PARMS,
    names: &["force"],
};
pub static CONNECT_CTX: Context = Context {
    sdef: &genl::NET_CONF,
    names: concat_names!(
        &[
            "tentative",
            "discard-my-data",
            "alternate-address",
            "alternate-peer-address"
        ],
        CHANGEABLE_NET
    ),
};
pub static DISCONNECT_CTX: Context = Context {
    sdef: &genl::DISCONNECT_PARMS,
    names: &["force"],
};
pub static RESIZE_CTX: Context = Context {
    sdef: &genl::RESIZE_PARMS,
    names: &[
        "size",
        "assume-peer-has-space",
        "assume-clean",
        "al-stripes",
        "al-stripe-size-kB",
    ],
};
pub static RESOURCE_OPTIONS_CTX: Context = Context {
    sdef: &genl::RES_OPTS,
    names: &["cpu-mask", "on-no-data-accessible"],
};
pub static NEW_CURRENT_UUID_CTX: Context = Context {
    sdef: &genl::NEW_C_UUID_PARMS,
    names: &["clear-bitmap"],
};
pub static VERIFY_CTX: Context = Context {
    sdef: &genl::START_OV_PARMS,
    names: &["start", "stop"],
};
pub static NEW_MINOR_CTX: Context = Context {
    sdef: &genl::CFG_CONTEXT,
    names: &[],
};

impl Context {
    /// The fields, in drbdsetup's order.
    pub fn fields(&self) -> Vec<Field> {
        self.names
            .iter()
            .map(|n| match *n {
                "alternate-address" => Field {
                    name: "alternate-address",
                    nla_type: 35,
                    id: 35,
                    kind: Kind::Address,
                    def: None,
                },
                "alternate-peer-address" => Field {
                    name: "alternate-peer-address",
                    nla_type: 36,
                    id: 36,
                    kind: Kind::Address,
                    def: None,
                },
                _ => Field::from_def(
                    self.sdef
                        .field_by_name(n)
                        .unwrap_or_else(|| panic!("{n} not in {}", self.sdef.c_name)),
                ),
            })
            .collect()
    }
}

/// What a command does once its arguments are parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Config,
    Down,
    DelMinor,
    DelResource,
    Get(Scmd),
    Status,
}

/// The output routine of a query command (drbdsetup's `*_scmd`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scmd {
    Role,
    ShStatus,
    Cstate,
    Dstate,
    Uuids,
    Show,
    CheckResize,
    Events,
    Events2,
    WaitConnect,
    WaitSync,
}

/// A positional argument of a configuration command (`struct drbd_argument`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    BlockDev(u16),
    MdIdx,
    ResourceName,
    Minor,
    Volume,
}

/// An option that is not a struct field (`struct option` in drbdsetup).
#[derive(Clone, Copy, Debug)]
pub struct PlainOpt {
    pub name: &'static str,
    pub has_arg: HasArg,
    pub val: char,
}

const WAIT_OPTS: &[PlainOpt] = &[
    PlainOpt {
        name: "wfc-timeout",
        has_arg: HasArg::Required,
        val: 't',
    },
    PlainOpt {
        name: "degr-wfc-timeout",
        has_arg: HasArg::Required,
        val: 'd',
    },
    PlainOpt {
        name: "outdated-wfc-timeout",
        has_arg: HasArg::Required,
        val: 'o',
    },
    PlainOpt {
        name: "wait-after-sb",
        has_arg: HasArg::Optional,
        val: 'w',
    },
];
const EVENTS_OPTS: &[PlainOpt] = &[
    PlainOpt {
        name: "timestamps",
        has_arg: HasArg::No,
        val: 'T',
    },
    PlainOpt {
        name: "statistics",
        has_arg: HasArg::No,
        val: 's',
    },
    PlainOpt {
        name: "now",
        has_arg: HasArg::No,
        val: 'n',
    },
];
const SHOW_OPTS: &[PlainOpt] = &[PlainOpt {
    name: "show-defaults",
    has_arg: HasArg::No,
    val: 'D',
}];
const STATUS_OPTS: &[PlainOpt] = &[
    PlainOpt {
        name: "verbose",
        has_arg: HasArg::No,
        val: 'v',
    },
    PlainOpt {
        name: "statistics",
        has_arg: HasArg::No,
        val: 's',
    },
    PlainOpt {
        name: "color",
        has_arg: HasArg::Optional,
        val: 'c',
    },
];

/// One command (`struct drbd_cmd`).
pub struct CmdDef {
    pub name: &'static str,
    pub ctx_key: u32,
    /// Netlink command; `None` for `status`, which issues several.
    pub cmd: Option<Cmd>,
    /// Top-level attribute the options and arguments go into.
    pub tla: Option<TopAttr>,
    pub action: Action,
    pub args: &'static [(&'static str, Arg)],
    pub options: &'static [PlainOpt],
    pub ctx: Option<&'static Context>,
    pub missing_ok: bool,
    pub warn_on_missing: bool,
    pub continuous_poll: bool,
    pub wait_for_connect_timeouts: bool,
    pub set_defaults: bool,
    pub lockless: bool,
}

const fn config(
    name: &'static str,
    ctx_key: u32,
    cmd: Cmd,
    tla: Option<TopAttr>,
    ctx: Option<&'static Context>,
) -> CmdDef {
    CmdDef {
        name,
        ctx_key,
        cmd: Some(cmd),
        tla,
        action: Action::Config,
        args: &[],
        options: &[],
        ctx,
        missing_ok: false,
        warn_on_missing: false,
        continuous_poll: false,
        wait_for_connect_timeouts: false,
        set_defaults: false,
        lockless: false,
    }
}

const fn get(name: &'static str, ctx_key: u32, show: Scmd) -> CmdDef {
    CmdDef {
        name,
        ctx_key,
        cmd: Some(Cmd::GetStatus),
        tla: None,
        action: Action::Get(show),
        args: &[],
        options: &[],
        ctx: None,
        missing_ok: false,
        warn_on_missing: false,
        continuous_poll: false,
        wait_for_connect_timeouts: false,
        set_defaults: false,
        lockless: true,
    }
}

const MRA: u32 = CTX_MINOR | CTX_RESOURCE | CTX_ALL;

/// Every command, in drbdsetup-84's order (the order `help` lists them).
pub static COMMANDS: [CmdDef; 38] = [
    config(
        "primary",
        CTX_MINOR,
        Cmd::Primary,
        Some(TopAttr::SetRoleParms),
        Some(&PRIMARY_CTX),
    ),
    config("secondary", CTX_MINOR, Cmd::Secondary, None, None),
    CmdDef {
        args: &[
            ("lower_dev", Arg::BlockDev(1)),
            ("meta_data_dev", Arg::BlockDev(2)),
            ("meta_data_index", Arg::MdIdx),
        ],
        ..config(
            "attach",
            CTX_MINOR,
            Cmd::Attach,
            Some(TopAttr::DiskConf),
            Some(&ATTACH_CTX),
        )
    },
    CmdDef {
        set_defaults: true,
        ..config(
            "disk-options",
            CTX_MINOR,
            Cmd::ChgDiskOpts,
            Some(TopAttr::DiskConf),
            Some(&DISK_OPTIONS_CTX),
        )
    },
    config(
        "detach",
        CTX_MINOR,
        Cmd::Detach,
        Some(TopAttr::DetachParms),
        Some(&DETACH_CTX),
    ),
    config(
        "connect",
        CTX_RESOURCE_AND_CONNECTION,
        Cmd::Connect,
        Some(TopAttr::NetConf),
        Some(&CONNECT_CTX),
    ),
    CmdDef {
        set_defaults: true,
        ..config(
            "net-options",
            CTX_CONNECTION,
            Cmd::ChgNetOpts,
            Some(TopAttr::NetConf),
            Some(&NET_OPTIONS_CTX),
        )
    },
    config(
        "disconnect",
        CTX_CONNECTION,
        Cmd::Disconnect,
        Some(TopAttr::DisconnectParms),
        Some(&DISCONNECT_CTX),
    ),
    config(
        "resize",
        CTX_MINOR,
        Cmd::Resize,
        Some(TopAttr::ResizeParms),
        Some(&RESIZE_CTX),
    ),
    CmdDef {
        set_defaults: true,
        ..config(
            "resource-options",
            CTX_RESOURCE,
            Cmd::ResourceOpts,
            Some(TopAttr::ResourceOpts),
            Some(&RESOURCE_OPTIONS_CTX),
        )
    },
    config(
        "new-current-uuid",
        CTX_MINOR,
        Cmd::NewCUuid,
        Some(TopAttr::NewCUuidParms),
        Some(&NEW_CURRENT_UUID_CTX),
    ),
    config("invalidate", CTX_MINOR, Cmd::Invalidate, None, None),
    config("invalidate-remote", CTX_MINOR, Cmd::InvalPeer, None, None),
    config("pause-sync", CTX_MINOR, Cmd::PauseSync, None, None),
    config("resume-sync", CTX_MINOR, Cmd::ResumeSync, None, None),
    config("suspend-io", CTX_MINOR, Cmd::SuspendIo, None, None),
    config("resume-io", CTX_MINOR, Cmd::ResumeIo, None, None),
    config("outdate", CTX_MINOR, Cmd::Outdate, None, None),
    config(
        "verify",
        CTX_MINOR,
        Cmd::StartOv,
        Some(TopAttr::StartOvParms),
        Some(&VERIFY_CTX),
    ),
    CmdDef {
        action: Action::Down,
        missing_ok: true,
        warn_on_missing: true,
        ..config("down", CTX_RESOURCE, Cmd::Down, None, None)
    },
    CmdDef {
        lockless: false,
        ..get("state", CTX_MINOR, Scmd::Role)
    },
    get("role", CTX_MINOR, Scmd::Role),
    CmdDef {
        missing_ok: true,
        ..get("sh-status", MRA, Scmd::ShStatus)
    },
    get("cstate", CTX_MINOR, Scmd::Cstate),
    get("dstate", CTX_MINOR, Scmd::Dstate),
    get("show-gi", CTX_MINOR, Scmd::Uuids),
    get("get-gi", CTX_MINOR, Scmd::Uuids),
    CmdDef {
        options: SHOW_OPTS,
        ..get("show", MRA, Scmd::Show)
    },
    CmdDef {
        cmd: None,
        action: Action::Status,
        options: STATUS_OPTS,
        ..get("status", CTX_RESOURCE | CTX_ALL, Scmd::Show)
    },
    get("check-resize", CTX_MINOR, Scmd::CheckResize),
    CmdDef {
        missing_ok: true,
        continuous_poll: true,
        ..get("events", MRA, Scmd::Events)
    },
    CmdDef {
        cmd: Some(Cmd::GetInitialState),
        options: EVENTS_OPTS,
        missing_ok: true,
        continuous_poll: true,
        ..get("events2", CTX_RESOURCE | CTX_ALL, Scmd::Events2)
    },
    CmdDef {
        options: WAIT_OPTS,
        continuous_poll: true,
        wait_for_connect_timeouts: true,
        ..get("wait-connect", CTX_MINOR, Scmd::WaitConnect)
    },
    CmdDef {
        options: WAIT_OPTS,
        continuous_poll: true,
        wait_for_connect_timeouts: true,
        ..get("wait-sync", CTX_MINOR, Scmd::WaitSync)
    },
    config(
        "new-resource",
        CTX_RESOURCE,
        Cmd::NewResource,
        Some(TopAttr::ResourceOpts),
        Some(&RESOURCE_OPTIONS_CTX),
    ),
    CmdDef {
        args: &[
            ("resource", Arg::ResourceName),
            ("minor", Arg::Minor),
            ("volume", Arg::Volume),
        ],
        ..config(
            "new-minor",
            0,
            Cmd::NewMinor,
            Some(TopAttr::CfgContext),
            Some(&NEW_MINOR_CTX),
        )
    },
    CmdDef {
        action: Action::DelMinor,
        ..config("del-minor", CTX_MINOR, Cmd::DelMinor, None, None)
    },
    CmdDef {
        action: Action::DelResource,
        ..config("del-resource", CTX_RESOURCE, Cmd::DelResource, None, None)
    },
];

/// `find_cmd_by_name`.
pub fn find_cmd(name: &str) -> Option<&'static CmdDef> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// What a query needs to know of its command (a `struct drbd_cmd` subset).
#[derive(Clone, Copy)]
pub struct GetSpec {
    pub cmd: Cmd,
    pub missing_ok: bool,
    pub warn_on_missing: bool,
    pub continuous_poll: bool,
}

/// What an entry of [`CmdDef::long_options`] stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptTarget {
    /// Index into the context's fields.
    Field(usize),
    /// A plain option; getopt's `val`.
    Plain(char),
    /// `--set-defaults`.
    SetDefaults,
}

impl CmdDef {
    /// The context's fields, in order (empty without a context).
    pub fn fields(&self) -> Vec<Field> {
        self.ctx.map(Context::fields).unwrap_or_default()
    }

    /// `make_longoptions`: context fields first, then plain options, the two aliases
    /// (`--overwrite-data-of-peer` for primary's `--force`, `--dry-run` for connect's
    /// `--tentative`), then `--set-defaults`.
    pub fn long_options(&self) -> (Vec<LongOpt>, Vec<OptTarget>) {
        let mut opts = Vec::new();
        let mut targets = Vec::new();
        let fields = self.fields();
        let mut alias = None;
        for (i, f) in fields.iter().enumerate() {
            opts.push(LongOpt {
                name: f.name.to_string(),
                has_arg: if f.optional_argument() {
                    HasArg::Optional
                } else {
                    HasArg::Required
                },
                val: 0,
            });
            targets.push(OptTarget::Field(i));
            if self.name == "primary" && f.name == "force" {
                alias = Some(("overwrite-data-of-peer", i));
            }
            if self.name == "connect" && f.name == "tentative" {
                alias = Some(("dry-run", i));
            }
        }
        for o in self.options {
            opts.push(LongOpt {
                name: o.name.to_string(),
                has_arg: o.has_arg,
                val: o.val as i32,
            });
            targets.push(OptTarget::Plain(o.val));
        }
        if let Some((name, i)) = alias {
            let mut o = opts[i].clone();
            o.name = name.to_string();
            o.val = 1000 + i as i32;
            opts.push(o);
            targets.push(OptTarget::Field(i));
        }
        if self.set_defaults {
            opts.push(LongOpt {
                name: "set-defaults".into(),
                has_arg: HasArg::No,
                val: '(' as i32,
            });
            targets.push(OptTarget::SetDefaults);
        }
        (opts, targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_context_field_is_in_the_core_tables() {
        for c in COMMANDS.iter() {
            for f in c.fields() {
                assert!(f.def.is_some() || f.kind == Kind::Address, "{}", f.name);
            }
        }
    }

    #[test]
    fn kinds_come_from_the_tables() {
        let f = ATTACH_CTX.fields();
        let kind = |n: &str| f.iter().find(|x| x.name == n).unwrap().kind;
        assert_eq!(kind("size"), Kind::Numeric);
        assert_eq!(kind("on-io-error"), Kind::Enum);
        assert_eq!(kind("disk-barrier"), Kind::Boolean);
        assert_eq!(kind("resync-rate"), Kind::Numeric);
        assert_eq!(f.len(), 22);
        let c = CONNECT_CTX.fields();
        assert_eq!(c[0].kind, Kind::Flag);
        assert_eq!(c[2].kind, Kind::Address);
        assert_eq!(
            c.iter().find(|x| x.name == "shared-secret").unwrap().kind,
            Kind::Str
        );
        assert_eq!(PRIMARY_CTX.fields()[0].kind, Kind::Flag);
        assert!(f
            .iter()
            .find(|x| x.name == "resync-after")
            .unwrap()
            .is_signed());
        assert_eq!(
            f.iter().find(|x| x.name == "resync-rate").unwrap().scale(),
            'k'
        );
    }

    #[test]
    fn long_options_with_aliases() {
        let (o, t) = find_cmd("primary").unwrap().long_options();
        assert_eq!(o.len(), 2);
        assert_eq!(o[1].name, "overwrite-data-of-peer");
        assert_eq!(t[1], OptTarget::Field(0));
        let (o, _) = find_cmd("disk-options").unwrap().long_options();
        assert_eq!(o.last().unwrap().name, "set-defaults");
        let (o, t) = find_cmd("status").unwrap().long_options();
        assert_eq!(o.len(), 3);
        assert_eq!(t[2], OptTarget::Plain('c'));
    }
}
