//! drbdsetup-rs: a drop-in for Debian's `drbdsetup-84`, configuring the C DRBD 8.4 and drbd-rs
//! through the `drbd` generic-netlink family with the same commands, options, output, messages
//! and exit codes.
//!
//! # Layering
//!
//! A module uses only the layers below its own and, within its layer, the modules listed before
//! it; nothing imports upwards, so there is no import circle. From the top:
//!
//! ```text
//! 7  app           main program: help, the drbd family, the minor's lock, the command's action
//! 6  cmdline       the command line: options and the object a command addresses
//!    config_cmds   configuration requests (built, sent, their result), down's registry links
//!    query_cmds    the *_scmd queries (options, wait timeouts) and status (its four dumps)
//! 5  exchange      kernel exchanges: one reply (recv_reply); a query's replies and
//!                  broadcasts, each handed to an output routine (generic_get)
//! 4  status_items  printers: the status-line items status and events2 share,
//!    status          the status output,
//!    show            the show output,
//!    events2         the events2 output,
//!    scmd            the other *_scmd output routines and dispatch, which picks one
//! 3  app_state     App (drbdsetup's globals, the printers' statics), Exit, and the messages
//!                  and exit codes of result codes, bad numbers, excess arguments
//! 2  table         the command table: commands, their options/attributes, contexts, GetSpec
//!    usage         the help texts made from it
//! 1  sys addr      foundations: system calls and devices; addresses;
//!    attrs           a reply's attributes and Info (a message handed to an output routine)
//! 0  getopt nl     getopt_long; the netlink socket;
//!    num out         drbd-utils' number parsing; stdout with wrap_printf and colours
//! ```
mod addr;
mod app;
mod app_state;
mod attrs;
mod cmdline;
mod config_cmds;
mod events2;
mod exchange;
mod getopt;
mod nl;
mod num;
mod out;
mod query_cmds;
mod scmd;
mod show;
mod status;
mod status_items;
mod sys;
mod table;
mod usage;

fn main() {
    let code = app::run(std::env::args().collect());
    std::process::exit(code);
}
