// SPDX-License-Identifier: GPL-2.0

//! DRBD 8.4 generic-netlink ABI: family `drbd`, version 1, multicast group `events`.
//!
//! Pure code (only `core`): it is compiled into the kernel module and into the userspace
//! `drbd-core` crate, and `drbdsetup-rs` takes its option tables from here, so the kernel and the
//! tool cannot disagree about a number. Every decoder takes bytes from userspace (or, in the tool,
//! from a kernel that may be newer than we are), so it checks lengths and never panics.
//!
//! # Message layout
//!
//! `nlmsghdr | genlmsghdr | drbd_genlmsghdr | top-level attributes...`. Every top-level attribute
//! ([`TopAttr`]) is a nested attribute standing for one C struct (`disk_conf`, `net_conf`, ...);
//! inside it, each struct field is one attribute whose type is the field number of
//! [`FieldDef::id`]. Field numbers restart at 1 in every struct.
//!
//! # The mandatory bit
//!
//! Userspace (drbdsetup-84) sends a field attribute with type `id | DRBD_GENLA_F_MANDATORY`
//! (bit 14) when the field is marked mandatory in DRBD's header, and with plain `id` otherwise
//! ([`FieldDef::nla_type`]). A receiver clears the bit; if it was set and the number is larger
//! than the largest field number it knows for that struct, the whole request is refused
//! (`ERR_MANDATORY_TAG`): an old kernel must not silently ignore a setting the admin relies on.
//! Unknown attributes without the bit are ignored, which is how optional settings were added
//! later. The kernel sends fields to userspace with plain ids (no mandatory bit). Bit 14 is the
//! same bit netlink calls `NLA_F_NET_BYTEORDER`, which DRBD never uses for its meaning.
//!
//! Integers are in host byte order, as everywhere in netlink.

/// Declares a C-like enum whose numbers are ABI, with `ALL`, `NAMES`, `from_raw`, `raw` and
/// `name`, so that conversions are table driven and cannot drift from the declaration.
macro_rules! abi_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $repr:ty {
            $( $(#[$vmeta:meta])* $var:ident = $val:expr => $text:expr, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr($repr)]
        pub enum $name {
            $( $(#[$vmeta])* $var = $val, )*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var,)*];
            /// `(number, name)` for every value, in declaration order.
            pub const NAMES: &'static [($repr, &'static str)] = &[$(($val, $text),)*];

            /// The value numbered `raw`, or `None` if DRBD 8.4 defines no such value.
            pub fn from_raw(raw: $repr) -> Option<Self> {
                match raw {
                    $( v if v == $val => Some($name::$var), )*
                    _ => None,
                }
            }

            /// The number of this value.
            pub fn raw(self) -> $repr {
                self as $repr
            }

            /// The name DRBD uses for this value (see the type's documentation for which).
            pub fn name(self) -> &'static str {
                match self {
                    $( $name::$var => $text, )*
                }
            }
        }
    };
}

mod commands;
mod field_values;
mod fields;
mod header;
pub mod limits;
mod nla;
mod ret_codes;
mod settings;
mod states;
mod struct_tables;

pub use commands::*;
pub use field_values::*;
pub use fields::*;
pub use header::*;
pub use nla::*;
pub use ret_codes::*;
pub use settings::*;
pub use states::*;
pub use struct_tables::*;
