//! The output of `drbdsetup show`: the configuration of each resource and volume in drbd.conf
//! syntax, its option sections (`options`, `net`, `disk`) listed in the command table's order,
//! with the values at their defaults left out unless `--show-defaults` is given.

use drbd_core::genl::{self, TopAttr};

use crate::addr::sprint_address;
use crate::app_state::App;
use crate::attrs::{self, CfgContext, DiskPaths, Info, Tla};
use crate::table::{self, Field, Kind};

/// `double_quote_string`.
pub fn double_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if c == '\\' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `field->get` of `show`: the value as drbdsetup prints it (`None` is C's NULL).
pub fn field_get(f: &Field, payload: &[u8]) -> Option<String> {
    let def = f.def?;
    let u32v = || {
        payload
            .get(..4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    match f.kind {
        Kind::Numeric => {
            let v: u64 = match def.ty {
                genl::FieldType::U64 => payload
                    .get(..8)
                    .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))?,
                _ => u64::from(u32v()?),
            };
            let scale = f.scale();
            let suffix = if scale == '1' {
                String::new()
            } else {
                scale.to_string()
            };
            Some(if f.is_signed() {
                format!("{}{suffix}", v as u32 as i32)
            } else {
                format!("{v}{suffix}")
            })
        }
        Kind::Boolean | Kind::Flag => Some(
            if payload.first().copied().unwrap_or(0) != 0 {
                "yes"
            } else {
                "no"
            }
            .into(),
        ),
        Kind::Enum => {
            let i = u32v()?;
            def.values.and_then(|e| e.name_of(i)).map(str::to_string)
        }
        Kind::Str => {
            let s = payload.split(|&b| b == 0).next().unwrap_or(&[]);
            Some(String::from_utf8_lossy(s).into_owned())
        }
        Kind::Address => Some(sprint_address(payload)),
    }
}

/// `field->is_default`.
pub fn field_is_default(f: &Field, value: Option<&str>) -> bool {
    let Some(v) = value else { return false };
    match f.kind {
        Kind::Numeric => {
            let def = f.def.and_then(|d| d.default).unwrap_or(0);
            crate::num::new_strtoll(v, f.scale()).is_ok_and(|l| l as i64 == def)
        }
        Kind::Boolean | Kind::Flag => {
            let b = match v {
                "yes" => 1,
                "no" => 0,
                _ => -1,
            };
            b == i32::from(f.bool_default())
        }
        Kind::Enum => {
            let def = f.def.and_then(|d| d.default).unwrap_or(-1);
            let e = f.def.and_then(|d| d.values);
            e.and_then(|e| e.value_of(v))
                .is_some_and(|n| i64::from(n) == def)
        }
        Kind::Str => v.is_empty(),
        Kind::Address => true,
    }
}

/// `printI`: the current indentation (4 blanks a level) and `text`.
fn print_i(app: &mut App, text: &str) {
    let pad = " ".repeat(4 * app.show.indent);
    app.out.print(&format!("{pad}{text}"));
}

/// `print_options`: one section of `show` (`options`, `net`, `disk`).
fn print_options(app: &mut App, tla: &Tla<'_>, cmd_name: &str, sect: &str) {
    let cm = table::find_cmd(cmd_name).expect("known command");
    let Some(nest) = cm.tla.and_then(|t| tla.get(t)) else {
        return;
    };
    let sdef = cm.ctx.expect("show sections have a context").sdef;
    if sdef
        .parse(nest, genl::ParseMode::Create, |_, _| {})
        .is_err()
        && genl::NlaIter::new(nest).any(|a| a.is_err())
    {
        eprintln!("nla_policy violation for {sect} payload!");
    }
    let mut opened = false;
    for f in cm.fields() {
        let Some(payload) = attrs::raw_field(nest, f.id) else {
            continue;
        };
        if !opened {
            opened = true;
            print_i(app, &format!("{sect} {{\n"));
            app.show.indent += 1;
        }
        let value = field_get(&f, payload);
        let is_default = field_is_default(&f, value.as_deref());
        if is_default && !app.show_defaults {
            continue;
        }
        let mut s = value.unwrap_or_else(|| "(null)".into());
        if f.kind == Kind::Str {
            s = double_quote(&s);
        }
        print_i(app, &format!("{:<16}\t{s};", f.name));
        let unit = f.def.and_then(|d| d.unit);
        if unit.is_some() || is_default {
            let mut c = String::from(" # ");
            if let Some(u) = unit {
                c.push_str(u);
            }
            if unit.is_some() && is_default {
                c.push_str(", ");
            }
            if is_default {
                c.push_str("default");
            }
            app.out.print(&c);
        }
        app.out.print("\n");
    }
    if opened {
        app.show.indent -= 1;
        print_i(app, "}\n");
    }
}

pub fn show_scmd(app: &mut App, info: Option<&Info<'_>>) -> i32 {
    let Some(info) = info else {
        if app.show.call_count > 0 {
            app.show.indent = app.show.indent.saturating_sub(1);
            print_i(app, "}\n");
            app.show.indent = app.show.indent.saturating_sub(1);
            print_i(app, "}\n");
        }
        app.out.flush();
        return 0;
    };
    app.show.call_count += 1;
    let cfg = CfgContext::from_tla(&info.tla).unwrap_or_default();
    let dc = DiskPaths::from_tla(&info.tla).unwrap_or_default();
    if app.show.last_resource != cfg.resource_name {
        if !app.show.last_resource.is_empty() {
            app.show.indent = app.show.indent.saturating_sub(1);
            print_i(app, "}\n");
            app.show.indent = app.show.indent.saturating_sub(1);
            print_i(app, "}\n\n");
        }
        app.show.last_resource = cfg.resource_name.clone();
        print_i(app, &format!("resource {} {{\n", cfg.resource_name));
        app.show.indent += 1;
        print_options(app, &info.tla, "resource-options", "options");
        print_options(app, &info.tla, "net-options", "net");
        if !cfg.peer_addr.is_empty() {
            print_i(app, "_remote_host {\n");
            app.show.indent += 1;
            print_i(
                app,
                &format!("address\t\t\t{};\n", sprint_address(&cfg.peer_addr)),
            );
            app.show.indent -= 1;
            print_i(app, "}\n");
        }
        print_i(app, "_this_host {\n");
        app.show.indent += 1;
        if !cfg.my_addr.is_empty() {
            print_i(
                app,
                &format!("address\t\t\t{};\n", sprint_address(&cfg.my_addr)),
            );
        }
    }
    if cfg.volume != u32::MAX {
        print_i(app, &format!("volume {} {{\n", cfg.volume as i32));
        app.show.indent += 1;
        print_i(
            app,
            &format!("device\t\t\tminor {};\n", info.hdr.minor as i32),
        );
        if info.tla.get(TopAttr::DiskConf).is_some() && !dc.backing_dev.is_empty() {
            print_i(app, &format!("disk\t\t\t\"{}\";\n", dc.backing_dev));
            print_i(app, "meta-disk\t\t\t");
            let md = match dc.meta_dev_idx {
                genl::DRBD_MD_INDEX_INTERNAL | genl::DRBD_MD_INDEX_FLEX_INT => "internal;\n".into(),
                genl::DRBD_MD_INDEX_FLEX_EXT => format!("{};\n", double_quote(&dc.meta_dev)),
                i => format!("{} [ {i} ];\n", double_quote(&dc.meta_dev)),
            };
            app.out.print(&md);
        }
        print_options(app, &info.tla, "attach", "disk");
        app.show.indent = app.show.indent.saturating_sub(1);
        print_i(app, "}\n");
    }
    0
}
