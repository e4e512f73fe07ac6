//! drbdsetup-rs: a drop-in for Debian's `drbdsetup-84`, configuring the C DRBD 8.4 and drbd-rs
//! through the `drbd` generic-netlink family with the same commands, options, output, messages
//! and exit codes.
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
