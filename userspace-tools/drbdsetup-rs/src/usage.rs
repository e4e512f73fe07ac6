//! Usage texts: `drbdsetup help CMD` (FULL), the command list (BRIEF) and `xml-help CMD`.

use crate::getopt::HasArg;
use crate::out::Out;
use crate::table::{
    CmdDef, Field, Kind, COMMANDS, CTX_ALL, CTX_CONNECTION, CTX_MINOR, CTX_RESOURCE,
    CTX_RESOURCE_AND_CONNECTION,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageType {
    Brief,
    Full,
    Xml,
}

/// The `[--name=...]` text of a field (`field->usage`).
pub fn field_usage(f: &Field) -> String {
    match f.kind {
        Kind::Numeric => {
            let d = f.def.expect("numeric fields are table fields");
            format!(
                "[--{}=({} ... {})]",
                f.name,
                d.min.unwrap_or(0),
                d.max.unwrap_or(0)
            )
        }
        Kind::Boolean | Kind::Flag => format!("[--{}={{yes|no}}]", f.name),
        Kind::Enum => {
            let vals = f.def.and_then(|d| d.values).map_or(&[][..], |e| e.values);
            let names: Vec<&str> = vals.iter().map(|(_, n)| *n).collect();
            format!("[--{}={{{}}}]", f.name, names.join("|"))
        }
        Kind::Str => format!("[--{}=<str>]", f.name),
        Kind::Address => format!("[--{}=[{{af}}:]{{local_addr}}[:{{port}}]]", f.name),
    }
}

/// `field->describe_xml`.
pub fn field_xml(f: &Field) -> String {
    match f.kind {
        Kind::Enum => {
            let mut s = format!("\t<option name=\"{}\" type=\"handler\">\n", f.name);
            for (_, n) in f.def.and_then(|d| d.values).map_or(&[][..], |e| e.values) {
                s.push_str(&format!("\t\t<handler>{n}</handler>\n"));
            }
            s.push_str("\t</option>\n");
            s
        }
        Kind::Numeric => {
            let d = f.def.expect("numeric fields are table fields");
            let mut s = format!(
                "\t<option name=\"{}\" type=\"numeric\">\n\t\t<min>{}</min>\n\t\t<max>{}</max>\n\t\t<default>{}</default>\n\t\t<unit_prefix>{}</unit_prefix>\n",
                f.name,
                d.min.unwrap_or(0),
                d.max.unwrap_or(0),
                d.default.unwrap_or(0),
                f.scale()
            );
            if let Some(u) = d.unit {
                s.push_str(&format!("\t\t<unit>{u}</unit>\n"));
            }
            s.push_str("\t</option>\n");
            s
        }
        Kind::Boolean | Kind::Flag => format!(
            "\t<option name=\"{}\" type=\"boolean\">\n\t\t<default>{}</default>\n\t</option>\n",
            f.name,
            if f.bool_default() { "yes" } else { "no" }
        ),
        Kind::Str => format!(
            "\t<option name=\"{}\" type=\"string\">\n\t</option>\n",
            f.name
        ),
        Kind::Address => format!(
            "\t<option name=\"{}\" type=\"address\">\n\t</option>\n",
            f.name
        ),
    }
}

/// `print_command_usage`.
pub fn command_usage(out: &mut Out, progname: &str, cm: &CmdDef, ut: UsageType) {
    let mut ctx = cm.ctx_key;
    if ctx & CTX_RESOURCE_AND_CONNECTION != 0 {
        ctx = CTX_RESOURCE | CTX_CONNECTION;
    }
    if ut == UsageType::Xml {
        out.print(&format!("<command name=\"{}\">\n", cm.name));
        if ctx & (CTX_RESOURCE | CTX_MINOR | CTX_ALL) != 0 {
            let choices = ctx & (CTX_RESOURCE | CTX_MINOR | CTX_ALL);
            let more = !choices.is_power_of_two();
            let indent = if more { "\t\t" } else { "\t" };
            if more {
                out.print("\t<group>\n");
            }
            for (bit, name) in [
                (CTX_RESOURCE, "resource"),
                (CTX_MINOR, "minor"),
                (CTX_ALL, "all"),
            ] {
                if ctx & bit != 0 {
                    out.print(&format!("{indent}<argument>{name}</argument>\n"));
                }
            }
            if more {
                out.print("\t</group>\n");
            }
        }
        if ctx & CTX_CONNECTION != 0 {
            out.print("\t<argument>local_addr</argument>\n");
            out.print("\t<argument>remote_addr</argument>\n");
        }
        for (name, _) in cm.args {
            out.print(&format!("\t<argument>{name}</argument>\n"));
        }
        for o in cm.options {
            let ty = if o.has_arg == HasArg::No {
                "flag"
            } else {
                "string"
            };
            out.print(&format!(
                "\t<option name=\"{}\" type=\"{ty}\">\n\t</option>\n",
                o.name
            ));
        }
        if cm.set_defaults {
            out.print("\t<option name=\"set-defaults\" type=\"flag\">\n\t</option>\n");
        }
        for f in cm.fields() {
            out.print(&field_xml(&f));
        }
        out.print("</command>\n");
        return;
    }
    if ut == UsageType::Brief {
        out.wrap_arg(4, &format!("{:<18}  ", cm.name));
        return;
    }
    out.wrap(0, "USAGE:\n");
    out.wrap_arg(1, &format!("{progname} {}", cm.name));
    if cm.ctx_key != 0 {
        if ctx & (CTX_RESOURCE | CTX_MINOR | CTX_ALL) != 0 {
            out.wrap(4, " {");
            let mut first = true;
            for (bit, name) in [
                (CTX_RESOURCE, "resource"),
                (CTX_MINOR, "minor"),
                (CTX_ALL, "all"),
            ] {
                if ctx & bit != 0 {
                    let s = if first {
                        name.to_string()
                    } else {
                        format!("|{name}")
                    };
                    out.wrap_arg(4, &s);
                    first = false;
                }
            }
            out.wrap(4, "}");
        }
        if ctx & CTX_CONNECTION != 0 {
            out.wrap(4, " [{af}:]{local_addr}[:{port}]");
            out.wrap(4, " [{af}:]{remote_addr}[:{port}]");
        }
    }
    for (name, _) in cm.args {
        out.wrap(4, &format!(" {{{name}}}"));
    }
    for o in cm.options {
        let eq = if o.has_arg == HasArg::No { "" } else { "=..." };
        out.wrap(4, &format!(" [--{}{eq}]", o.name));
    }
    if cm.set_defaults {
        out.wrap(4, " [--set-defaults]");
    }
    for f in cm.fields() {
        out.wrap(4, &format!(" {}", field_usage(&f)));
    }
    out.wrap(4, "\n");
}

/// `print_usage_and_exit` without the exit: the general usage, then `addinfo`.
pub fn general_usage(out: &mut Out, progname: &str, addinfo: Option<&str>) {
    out.print(&format!(
        "\nUSAGE: {progname} command device arguments options\n\nDevice is usually /dev/drbdX or /dev/drbd/X.\n\nCommands are:\n"
    ));
    for c in COMMANDS.iter() {
        command_usage(out, progname, c, UsageType::Brief);
    }
    out.print("\n\nTo get more details about a command issue 'drbdsetup help cmd'.\n\n");
    if let Some(a) = addinfo {
        out.print(&format!("\n{a}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::find_cmd;

    fn golden(name: &str) -> String {
        let p = format!("{}/testdata/help/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[test]
    fn help_texts_match_drbdsetup_84() {
        for c in COMMANDS.iter() {
            let mut o = Out::new(80);
            command_usage(&mut o, "drbdsetup", c, UsageType::Full);
            assert_eq!(
                o.text(),
                golden(&format!("help-{}.txt", c.name)),
                "help {}",
                c.name
            );
            let mut o = Out::new(80);
            command_usage(&mut o, "drbdsetup", c, UsageType::Xml);
            assert_eq!(
                o.text(),
                golden(&format!("xml-{}.txt", c.name)),
                "xml-help {}",
                c.name
            );
        }
    }

    #[test]
    fn general_usage_matches_drbdsetup_84() {
        let mut o = Out::new(80);
        general_usage(&mut o, "drbdsetup", None);
        assert_eq!(o.text(), golden("usage.txt"));
        let mut o = Out::new(80);
        general_usage(&mut o, "drbdsetup", Some("invalid command"));
        assert_eq!(o.text(), golden("usage-invalid.txt"));
        let mut o = Out::new(80);
        general_usage(&mut o, "drbdsetup", Some("unknown command"));
        assert_eq!(o.text(), golden("usage-help-unknown.txt"));
        assert!(find_cmd("udev").is_none());
    }
}
