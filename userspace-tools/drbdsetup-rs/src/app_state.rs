//! The program's state and how a command's result ends it: [`App`] holds what drbdsetup keeps
//! in globals (and, in [`ShowState`], what its output routines keep in function-local statics);
//! [`Exit`] ends the process; `print_config_error`, `m_strtoll` and `warn_excess` turn result
//! codes, bad numbers and excess arguments into drbdsetup's messages and exit codes.

use std::collections::HashMap;

use drbd_core::genl::{self, RetCode, StateRv};

use crate::attrs::{
    self, ConnectionInfo, ConnectionStatistics, DeviceInfo, DeviceStatistics, PeerDeviceInfo,
    PeerDeviceStatistics, ResourceInfo, ResourceStatistics, Tla,
};
use crate::nl::GenlSock;
use crate::num::new_strtoll;
use crate::out::{ColorMode, Out};
use crate::usage::general_usage;

/// drbdsetup's internal "error already reported or described" code.
pub const OTHER_ERROR: i32 = 900;
pub const NO_ERROR: i32 = RetCode::NoError as i32;
pub const ERR_MINOR_INVALID: i32 = RetCode::MinorInvalid as i32;
pub const ERR_RES_NOT_KNOWN: i32 = RetCode::ResNotKnown as i32;

/// Ends the process the way C's `exit()` does: stdout is flushed first.
pub struct Exit(pub i32);

/// The program's state: what drbdsetup keeps in globals.
pub struct App {
    pub progname: String,
    pub out: Out,
    pub sock: Option<GenlSock>,
    pub objname: String,
    pub minor: u32,
    pub context: u32,
    pub local_addr: Option<String>,
    pub peer_addr: Option<String>,
    pub opt_now: bool,
    pub opt_verbose: bool,
    pub opt_statistics: bool,
    pub opt_timestamps: bool,
    pub show_defaults: bool,
    pub wait_after_sb: bool,
    pub color: ColorMode,
    /// Top-level attributes of the last reply (`global_attrs`), kept as the raw message.
    pub last_reply: Option<Vec<u8>>,
    pub show: ShowState,
}

/// What drbdsetup keeps in function-local statics between calls.
#[derive(Default)]
pub struct ShowState {
    /// `show`: indentation level, resource of the last message, number of calls.
    pub indent: usize,
    pub last_resource: String,
    pub call_count: u32,
    /// `events2`: objects seen so far, by key.
    pub known: HashMap<String, Known>,
    pub last_seq: Option<u32>,
    pub keep_tv: bool,
    pub tv: String,
}

/// The last info/statistics `events2` printed for an object.
#[derive(Clone, Copy)]
pub enum Known {
    Resource(ResourceInfo, ResourceStatistics),
    Device(DeviceInfo, DeviceStatistics),
    Connection(ConnectionInfo, ConnectionStatistics),
    PeerDevice(PeerDeviceInfo, PeerDeviceStatistics),
}

impl App {
    pub fn new(progname: &str) -> App {
        App {
            progname: progname.to_string(),
            out: Out::stdout(),
            sock: None,
            objname: String::new(),
            minor: u32::MAX,
            context: 0,
            local_addr: None,
            peer_addr: None,
            opt_now: false,
            opt_verbose: false,
            opt_statistics: false,
            opt_timestamps: false,
            show_defaults: false,
            wait_after_sb: false,
            color: ColorMode::Auto,
            last_reply: None,
            show: ShowState::default(),
        }
    }

    /// `print_usage_and_exit`.
    pub fn usage_exit(&mut self, addinfo: Option<&str>) -> Exit {
        let p = self.progname.clone();
        general_usage(&mut self.out, &p, addinfo);
        Exit(20)
    }

    /// The top-level attributes of the last reply.
    fn last_tla(&self) -> Tla<'_> {
        match &self.last_reply {
            Some(m) => Tla::parse(m).unwrap_or_default(),
            None => Tla::default(),
        }
    }

    /// `print_config_error`: the message for a result code, the kernel's additional info, and
    /// the exit code.
    pub fn print_config_error(&mut self, err_no: i32, desc: Option<&str>) -> i32 {
        if err_no == NO_ERROR || err_no == StateRv::Success as i32 {
            return 0;
        }
        let obj = self.objname.clone();
        if err_no == OTHER_ERROR {
            if let Some(d) = desc {
                eprintln!("{obj}: {d}");
            }
            return 20;
        }
        let mut rv = 0;
        if (err_no >= genl::AFTER_LAST_ERR_CODE || err_no <= genl::ERR_CODE_BASE)
            && (err_no > StateRv::CwNoNeed as i32 || err_no <= genl::SS_AFTER_LAST_ERROR)
        {
            eprint!(
                "{obj}: Error code {err_no} unknown.\nYou should update the drbd userland tools.\n"
            );
            rv = 20;
        } else if err_no > genl::ERR_CODE_BASE {
            let text = desc.map(str::to_string).unwrap_or_else(|| {
                genl::ret_code_text(err_no)
                    .unwrap_or(genl::UNKNOWN_RET_CODE_TEXT)
                    .to_string()
            });
            eprintln!("{obj}: Failure: ({err_no}) {text}");
            rv = 10;
        } else if err_no == StateRv::UnknownError as i32 {
            eprintln!("{obj}: State change failed: ({err_no})unknown error.");
            rv = 11;
        } else if err_no > StateRv::TwoPrimaries as i32 {
            // SS_NOTHING_TO_DO, SS_CW_SUCCESS, ...: not an error.
        } else {
            eprintln!(
                "{obj}: State change failed: ({err_no}) {}",
                genl::set_st_err_str(err_no)
            );
            rv = match err_no {
                x if x == StateRv::NoUpToDateDisk as i32 => 17,
                x if x == StateRv::LowerThanOutdated as i32 => 5,
                x if x == StateRv::NoLocalDisk as i32 => 16,
                _ => 11,
            };
        }
        if let Some(texts) = attrs::info_texts(&self.last_tla()) {
            eprintln!("additional info from kernel:");
            for t in texts {
                eprintln!("{t}");
            }
        }
        rv
    }

    pub fn sock(&mut self) -> &mut GenlSock {
        self.sock
            .as_mut()
            .expect("netlink socket is connected before commands run")
    }

    pub fn family_id(&mut self) -> u16 {
        self.sock().family.id
    }
}

/// `warn_print_excess_args`: the list goes to stderr, its newline to stdout.
pub fn warn_excess(app: &mut App, args: &[String]) {
    let mut s = String::from("Excess arguments:");
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    eprint!("{s}");
    app.out.print("\n");
}

/// `m_strtoll` that exits the way drbd-utils does.
pub fn m_strtoll(s: &str, unit: char) -> Result<u64, Exit> {
    new_strtoll(s, unit).map_err(|e| {
        let (msg, code) = e.message(s);
        eprint!("{msg}");
        Exit(code)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An App that prints into a buffer and has no netlink socket.
    pub(crate) fn test_app() -> App {
        let mut app = App::new("drbdsetup");
        app.out = Out::new(80);
        app.out.live = false;
        app
    }

    #[test]
    fn result_codes_to_exit_codes() {
        let mut app = test_app();
        app.objname = "r0".into();
        assert_eq!(app.print_config_error(101, None), 0);
        assert_eq!(app.print_config_error(1, None), 0);
        assert_eq!(app.print_config_error(2, None), 0);
        assert_eq!(app.print_config_error(158, None), 10);
        assert_eq!(app.print_config_error(-2, None), 17);
        assert_eq!(app.print_config_error(-16, None), 5);
        assert_eq!(app.print_config_error(-4, None), 16);
        assert_eq!(app.print_config_error(-1, None), 11);
        assert_eq!(app.print_config_error(0, None), 11);
        assert_eq!(app.print_config_error(OTHER_ERROR, Some("x")), 20);
        assert_eq!(app.print_config_error(5, None), 20);
        assert_eq!(app.print_config_error(-22, None), 20);
        assert_eq!(app.print_config_error(171, None), 20);
    }
}
