//! Output: a buffer for stdout with drbd-utils' `wrap_printf` line wrapping, and the colour
//! escapes of `drbdsetup status --color`.

use std::io::{IsTerminal, Write};

/// stdout's text, with the wrap state `wrap_printf` keeps in static variables.
pub struct Out {
    pub buf: Vec<u8>,
    col: i32,
    columns: i32,
    /// Write through to the real stdout after each `flush` (false in tests).
    pub live: bool,
}

impl Out {
    /// An output of `columns` width (`wrap_printf` asks the terminal, 80 when it is none).
    pub fn new(columns: i32) -> Out {
        Out {
            buf: Vec::new(),
            col: 0,
            columns,
            live: false,
        }
    }

    /// An output bound to the process's stdout.
    pub fn stdout() -> Out {
        let mut ws: libc::winsize = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ fills a winsize; on failure it stays zeroed.
        unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) };
        let cols = if ws.ws_col == 0 {
            80
        } else {
            i32::from(ws.ws_col)
        };
        let mut o = Out::new(cols);
        o.live = true;
        o
    }

    /// Plain `printf` (no wrap bookkeeping).
    pub fn print(&mut self, s: &str) {
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// `wrap_printf(indent, fmt)` for a format without conversions (or whose arguments cannot
    /// start with blanks or newlines): leading newlines are printed first, and at the start of a
    /// line the leading blanks give way to `indent` blanks.
    pub fn wrap(&mut self, indent: i32, text: &str) {
        self.wrap_parts(indent, text, "")
    }

    /// Like [`Out::wrap`] for a format `"%s"`: nothing of `arg` counts as format text.
    pub fn wrap_arg(&mut self, indent: i32, arg: &str) {
        self.wrap_parts(indent, "", arg)
    }

    fn wrap_parts(&mut self, indent: i32, fmt_lit: &str, arg: &str) {
        let mut lit = fmt_lit;
        while let Some(r) = lit.strip_prefix('\n') {
            self.buf.push(b'\n');
            self.col = 0;
            lit = r;
        }
        if lit.is_empty() && arg.is_empty() {
            return;
        }
        let n = (lit.len() + arg.len()) as i32;
        if self.col > 0 && self.col + n > self.columns {
            self.buf.push(b'\n');
            self.col = 0;
        }
        if self.col == 0 {
            lit = lit.trim_start_matches(' ');
            for _ in 0..indent.max(0) {
                self.buf.push(b' ');
            }
            self.col = indent.max(0);
        }
        let printed = lit.len() + arg.len();
        self.buf.extend_from_slice(lit.as_bytes());
        self.buf.extend_from_slice(arg.as_bytes());
        self.col += printed as i32;
        if lit.ends_with('\n') && arg.is_empty() {
            self.col = 0;
        }
    }

    /// Writes what has accumulated to stdout (`fflush(stdout)`).
    pub fn flush(&mut self) {
        if self.live {
            let mut so = std::io::stdout().lock();
            let _ = so.write_all(&self.buf);
            let _ = so.flush();
            self.buf.clear();
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }
}

/// `--color`: never, auto (stdout is a terminal), always.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorMode {
    Never,
    Auto,
    Always,
}

/// `enum colors` of drbdsetup_colors.c.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ColorClass {
    Transitional,
    Normal,
    Primary,
    Good,
    Bad,
}

fn code(class: ColorClass, local: bool) -> Option<&'static str> {
    use ColorClass::*;
    match (class, local) {
        (Transitional, true) => Some("\x1b[1m"),
        (Transitional, false) | (Normal, _) => None,
        (Primary, true) => Some("\x1b[1;36m"),
        (Good, true) => Some("\x1b[1;32m"),
        (Bad, true) => Some("\x1b[1;31m"),
        (Primary, false) => Some("\x1b[36m"),
        (Good, false) => Some("\x1b[32m"),
        (Bad, false) => Some("\x1b[31m"),
    }
}

pub const STOP_COLOR: &str = "\x1b[0m";

/// Colour decisions for one run.
#[derive(Clone, Copy, Debug)]
pub struct Colors {
    pub enabled: bool,
}

impl Colors {
    pub fn new(mode: ColorMode) -> Colors {
        let enabled = match mode {
            ColorMode::Never => false,
            ColorMode::Always => true,
            ColorMode::Auto => std::io::stdout().is_terminal(),
        };
        Colors { enabled }
    }

    fn pair(&self, class: ColorClass, local: bool) -> (&'static str, &'static str) {
        if !self.enabled {
            return ("", "");
        }
        match code(class, local) {
            Some(c) => (c, STOP_COLOR),
            None => ("", ""),
        }
    }

    /// Start and stop codes for a role (`role_colors`).
    pub fn role(&self, role: u32, local: bool) -> (&'static str, &'static str) {
        let class = match role {
            1 => ColorClass::Primary,
            2 => ColorClass::Normal,
            _ => ColorClass::Transitional,
        };
        self.pair(class, local)
    }

    /// `cstate_colors` (always the local palette).
    pub fn cstate(&self, c: u32) -> (&'static str, &'static str) {
        let class = match c {
            0 | 8 => ColorClass::Bad,
            1..=7 => ColorClass::Transitional,
            9 => ColorClass::Normal,
            _ => ColorClass::Transitional,
        };
        self.pair(class, true)
    }

    /// `repl_state_colors`; the local palette for states where this node is behind.
    pub fn repl_state(&self, c: u32) -> (&'static str, &'static str) {
        let class = match c {
            10 | 18 | 19 | 20 | 22 => ColorClass::Normal,
            16 | 17 | 21 => ColorClass::Bad,
            _ => ColorClass::Transitional,
        };
        let local = matches!(c, 17 | 21 | 23);
        self.pair(class, local)
    }

    /// `disk_state_colors`.
    pub fn disk_state(&self, d: u32, local: bool) -> (&'static str, &'static str) {
        let class = match d {
            0 | 4 | 5 => ColorClass::Bad,
            8 => ColorClass::Good,
            _ => ColorClass::Transitional,
        };
        self.pair(class, local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_like_wrap_printf() {
        let mut o = Out::new(80);
        o.wrap(0, "USAGE:\n");
        o.wrap(1, " drbdsetup primary");
        o.wrap(4, " {minor}");
        o.wrap(4, " [--force={yes|no}]");
        o.wrap(4, "\n");
        assert_eq!(
            o.text(),
            "USAGE:\n drbdsetup primary {minor} [--force={yes|no}]\n"
        );
        let mut o = Out::new(20);
        o.wrap(0, "aaaaaaaaaa");
        o.wrap(4, " bbbbbbbbbb");
        o.wrap(4, " cccc");
        assert_eq!(o.text(), "aaaaaaaaaa\n    bbbbbbbbbb cccc");
    }

    #[test]
    fn colour_tables() {
        let c = Colors { enabled: true };
        assert_eq!(c.role(1, true).0, "\x1b[1;36m");
        assert_eq!(c.role(2, true), ("", ""));
        assert_eq!(c.disk_state(8, false).0, "\x1b[32m");
        assert_eq!(c.repl_state(17).0, "\x1b[1;31m");
        assert_eq!(c.repl_state(16).0, "\x1b[31m");
        assert_eq!(c.cstate(9), ("", ""));
        let n = Colors { enabled: false };
        assert_eq!(n.role(1, true), ("", ""));
    }
}
