//! Command-line parsing with the semantics of glibc's `getopt_long`, which drbdsetup-84 uses:
//! options and operands may be mixed (options are taken first, operands keep their order), long
//! options may be abbreviated to a unique prefix, `--` ends the options, and errors are reported
//! with glibc's exact texts, prefixed by `argv[0]`.
//!
//! A clap parser cannot be made to produce glibc's messages, abbreviation rules and option
//! permutation, and those are part of the interface scripts see, so this is a small reimplementation.

/// Whether a long option takes an argument (`no_argument`, `required_argument`,
/// `optional_argument`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HasArg {
    No,
    Required,
    Optional,
}

/// One entry of a `struct option` array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LongOpt {
    pub name: String,
    pub has_arg: HasArg,
    /// `option.val`: options with equal `has_arg` and `val` never make an abbreviation ambiguous.
    pub val: i32,
}

/// An option found on the command line: the index of the matched [`LongOpt`] (or `None` for a
/// short option), the value getopt returned, and its argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub index: Option<usize>,
    pub val: i32,
    pub arg: Option<String>,
}

/// The result of a full getopt loop.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Options in command-line order.
    pub opts: Vec<Found>,
    /// Operands in command-line order (argv[optind..] after getopt's permutation).
    pub operands: Vec<String>,
}

/// Runs getopt_long over `args` (without argv\[0\]; `prog` is what glibc prints as argv\[0\]).
/// On the first error returns the text glibc prints to stderr (with its newline).
pub fn getopt_long(
    prog: &str,
    args: &[String],
    shortopts: &str,
    longopts: &[LongOpt],
) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            out.operands.extend(args[i + 1..].iter().cloned());
            break;
        }
        if let Some(body) = a.strip_prefix("--") {
            i += 1;
            let (name, value) = match body.find('=') {
                Some(p) => (&body[..p], Some(&body[p + 1..])),
                None => (body, None),
            };
            let (index, opt) = find_long(prog, body, name, longopts)?;
            let arg = match (opt.has_arg, value) {
                (HasArg::No, Some(_)) => {
                    return Err(format!(
                        "{prog}: option '--{}' doesn't allow an argument\n",
                        opt.name
                    ))
                }
                (_, Some(v)) => Some(v.to_string()),
                (HasArg::Required, None) => {
                    if i < args.len() {
                        i += 1;
                        Some(args[i - 1].clone())
                    } else {
                        return Err(format!(
                            "{prog}: option '--{}' requires an argument\n",
                            opt.name
                        ));
                    }
                }
                _ => None,
            };
            out.opts.push(Found {
                index: Some(index),
                val: opt.val,
                arg,
            });
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            i += 1;
            let chars: Vec<char> = a[1..].chars().collect();
            let mut k = 0;
            while k < chars.len() {
                let c = chars[k];
                k += 1;
                let Some(pos) = shortopts.find(c).filter(|_| c != ':') else {
                    return Err(format!("{prog}: invalid option -- '{c}'\n"));
                };
                let rest = &shortopts[pos + c.len_utf8()..];
                let val = c as i32;
                if rest.starts_with("::") {
                    let tail: String = chars[k..].iter().collect();
                    out.opts.push(Found {
                        index: None,
                        val,
                        arg: (!tail.is_empty()).then_some(tail),
                    });
                    break;
                } else if rest.starts_with(':') {
                    let tail: String = chars[k..].iter().collect();
                    let arg = if !tail.is_empty() {
                        tail
                    } else if i < args.len() {
                        i += 1;
                        args[i - 1].clone()
                    } else {
                        return Err(format!("{prog}: option requires an argument -- '{c}'\n"));
                    };
                    out.opts.push(Found {
                        index: None,
                        val,
                        arg: Some(arg),
                    });
                    break;
                } else {
                    out.opts.push(Found {
                        index: None,
                        val,
                        arg: None,
                    });
                }
            }
            continue;
        }
        out.operands.push(a.clone());
        i += 1;
    }
    Ok(out)
}

fn find_long<'a>(
    prog: &str,
    body: &str,
    name: &str,
    longopts: &'a [LongOpt],
) -> Result<(usize, &'a LongOpt), String> {
    if let Some(i) = longopts.iter().position(|o| o.name == name) {
        return Ok((i, &longopts[i]));
    }
    let mut found: Option<usize> = None;
    let mut ambig: Vec<usize> = Vec::new();
    for (i, o) in longopts.iter().enumerate() {
        if !o.name.starts_with(name) {
            continue;
        }
        match found {
            None => found = Some(i),
            Some(f) => {
                let p = &longopts[f];
                if p.has_arg != o.has_arg || p.val != o.val {
                    if ambig.is_empty() {
                        ambig.push(f);
                    }
                    ambig.push(i);
                }
            }
        }
    }
    if !ambig.is_empty() {
        let mut msg = format!("{prog}: option '--{body}' is ambiguous; possibilities:");
        for i in ambig {
            msg.push_str(&format!(" '--{}'", longopts[i].name));
        }
        msg.push('\n');
        return Err(msg);
    }
    match found {
        Some(i) => Ok((i, &longopts[i])),
        None => Err(format!("{prog}: unrecognized option '--{body}'\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Vec<LongOpt> {
        let o = |name: &str, has_arg, val| LongOpt {
            name: name.into(),
            has_arg,
            val,
        };
        vec![
            o("disk-barrier", HasArg::Optional, 0),
            o("disk-flushes", HasArg::Optional, 0),
            o("disk-timeout", HasArg::Required, 0),
            o("c-plan-ahead", HasArg::Required, 0),
            o("c-delay-target", HasArg::Required, 0),
            o("verbose", HasArg::No, 'v' as i32),
            o("set-defaults", HasArg::No, '(' as i32),
        ]
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn permutes_and_takes_arguments() {
        let p = getopt_long(
            "attach",
            &args(&[
                "0",
                "--disk-timeout",
                "5",
                "/dev/x",
                "--disk-barrier=no",
                "--verbose",
                "--",
                "--x",
            ]),
            "(",
            &opts(),
        )
        .unwrap();
        assert_eq!(p.operands, args(&["0", "/dev/x", "--x"]));
        assert_eq!(p.opts.len(), 3);
        assert_eq!(p.opts[0].index, Some(2));
        assert_eq!(p.opts[0].arg.as_deref(), Some("5"));
        assert_eq!(p.opts[1].arg.as_deref(), Some("no"));
        assert_eq!(p.opts[2].val, 'v' as i32);
    }

    #[test]
    fn optional_argument_needs_equals() {
        let p = getopt_long("x", &args(&["--disk-barrier", "no"]), "(", &opts()).unwrap();
        assert_eq!(p.opts[0].arg, None);
        assert_eq!(p.operands, args(&["no"]));
    }

    #[test]
    fn abbreviations() {
        // Same has_arg and val: glibc takes the first without complaint.
        let p = getopt_long("x", &args(&["--c-=3"]), "(", &opts()).unwrap();
        assert_eq!(p.opts[0].index, Some(3));
        let p = getopt_long("x", &args(&["--verb"]), "(", &opts()).unwrap();
        assert_eq!(p.opts[0].index, Some(5));
        assert_eq!(
            getopt_long("attach", &args(&["--disk"]), "(", &opts()).unwrap_err(),
            "attach: option '--disk' is ambiguous; possibilities: '--disk-barrier' '--disk-timeout'\n"
        );
    }

    #[test]
    fn glibc_error_texts() {
        let e = |a: &[&str]| getopt_long("primary", &args(a), "(", &opts()).unwrap_err();
        assert_eq!(e(&["--foo=1"]), "primary: unrecognized option '--foo=1'\n");
        assert_eq!(
            e(&["--verbose=1"]),
            "primary: option '--verbose' doesn't allow an argument\n"
        );
        assert_eq!(
            e(&["--disk-timeout"]),
            "primary: option '--disk-timeout' requires an argument\n"
        );
        assert_eq!(e(&["-v"]), "primary: invalid option -- 'v'\n");
        let p = getopt_long("x", &args(&["-("]), "(", &opts()).unwrap();
        assert_eq!(p.opts[0].val, '(' as i32);
        assert_eq!(p.opts[0].index, None);
        let p = getopt_long("x", &args(&["-", "-c7"]), "c::", &opts()).unwrap();
        assert_eq!(p.operands, args(&["-"]));
        assert_eq!(p.opts[0].arg.as_deref(), Some("7"));
    }
}
