// SPDX-License-Identifier: GPL-2.0

//! DRBD 8.4 ("v08") on-disk meta-data: the 4 KiB superblock, where superblock, activity log and
//! bitmap live for each meta-disk kind, and the 4 KiB activity-log transaction block.
//!
//! Pure code (only `core`): it is compiled into the kernel module and into the userspace
//! `drbd-core` crate, where `cargo test` and property tests exercise it. Meta-data is read from a
//! disk that may hold garbage or stale data from another tool, so every decoder checks lengths,
//! magic values and offsets with checked arithmetic and never panics.
//!
//! The layout must match what the C module and `drbdmeta` (drbd-utils) write, so that a disk
//! created with `drbdadm create-md` attaches to drbd-rs and vice versa. All fields are big-endian
//! on disk. Sector numbers are in 512-byte units throughout, as in DRBD.
//!
//! Internal meta-data sits at the end of the backing device (`drbd_int.h`):
//!
//! ```text
//! [data .........][ bitmap ][ activity log ][ 4k superblock ][ 0..7 sectors padding ]
//!                 |         |<- al_offset <0|
//!                 |<------ bm_offset < 0 ---|
//!                 |<------------- md_size_sect ------------->|
//! ```
//!
//! External meta-data (flexible, or one of the fixed 128 MiB slots of an indexed meta device)
//! starts with the superblock: `[ superblock ][ activity log ][ bitmap ]`, `al_offset` = 8 and
//! `bm_offset` = 8 + AL size, both positive.

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

/// Bytes per sector; every offset and size in the meta-data counts these.
pub const SECTOR_SIZE: u64 = 512;
/// Size of the superblock and of one AL transaction: DRBD does all meta-data I/O in 4 KiB blocks.
pub const MD_BLOCK_SIZE: usize = 4096;
/// 4 KiB in sectors (`MD_4kB_SECT`): the superblock size, and the external `al_offset`.
pub const MD_4KB_SECT: u64 = 8;
/// 32 KiB in sectors (`MD_32kB_SECT`): the classic, unstriped activity log.
pub const MD_32KB_SECT: u64 = 64;
/// 128 MiB in sectors (`MD_128MB_SECT`): one slot of indexed external meta-data.
pub const MD_128MB_SECT: u64 = 128 << 11;

/// `DRBD_MD_MAGIC_07` (`DRBD_MAGIC + 3`): DRBD 0.7 meta-data, which needs `create-md` first.
pub const DRBD_MD_MAGIC_07: u32 = 0x8374_026a;
/// `DRBD_MD_MAGIC_08` (`DRBD_MAGIC + 4`): v08 meta-data whose activity log has been applied.
pub const DRBD_MD_MAGIC_08: u32 = 0x8374_026b;
/// `DRBD_MD_MAGIC_84_UNCLEAN` (`DRBD_MAGIC + 5`): written by an 8.4 module while the disk is
/// attached. Old tools and modules that only know the 08 magic must refuse such a disk, because
/// the activity log may describe regions the bitmap does not yet mark out of sync; `drbdmeta
/// apply-al` (run by `drbdadm attach`/`apply-al`) folds the AL into the bitmap and restores the
/// 08 magic.
pub const DRBD_MD_MAGIC_84_UNCLEAN: u32 = 0x8374_026c;
/// Magic of an activity-log transaction block ("actlog==" base64-decoded).
pub const DRBD_AL_MAGIC: u32 = 0x69cb_65a2;

/// Bitmap granularity: one bit covers 4 KiB (`BM_BLOCK_SHIFT`).
pub const BM_BLOCK_SHIFT: u32 = 12;
/// Bytes of storage per bitmap bit (`BM_BLOCK_SIZE`); the only `bm_bytes_per_bit` 8.4 accepts.
pub const BM_BLOCK_SIZE: u32 = 1 << BM_BLOCK_SHIFT;
/// Sectors of storage per bitmap bit.
pub const BM_SECT_PER_BIT: u64 = 1 << (BM_BLOCK_SHIFT - 9);
/// A bitmap ("resync") extent covers 16 MiB (`BM_EXT_SHIFT`); that is one 512-byte sector of
/// on-disk bitmap, which is why the internal bitmap size is computed in these units.
pub const BM_EXT_SHIFT: u32 = 24;
/// Sectors of storage per bitmap extent, i.e. per sector of on-disk bitmap (`BM_SECT_PER_EXT`).
pub const BM_SECT_PER_EXT: u64 = 1 << (BM_EXT_SHIFT - 9);

/// An activity-log extent covers 4 MiB of storage (`AL_EXTENT_SHIFT`).
pub const AL_EXTENT_SHIFT: u32 = 22;
/// Bytes of storage per activity-log extent.
pub const AL_EXTENT_SIZE: u64 = 1 << AL_EXTENT_SHIFT;
/// Extent changes one AL transaction can log (`AL_UPDATES_PER_TRANSACTION`).
pub const AL_UPDATES_PER_TRANSACTION: usize = 64;
/// Context entries in one AL transaction: what is left of 4 KiB after the 36-byte header and the
/// 64 (slot, extent) updates of 6 bytes each, in 4-byte words (`AL_CONTEXT_PER_TRANSACTION`).
pub const AL_CONTEXT_PER_TRANSACTION: usize = 919;
/// AL transaction type: a normal update of the active set.
pub const AL_TR_UPDATE: u16 = 0;
/// AL transaction type: an empty block written by `drbdmeta create-md`.
pub const AL_TR_INITIALIZED: u16 = 0xffff;
/// Extent number of an unused slot (`LC_FREE` of the kernel's lru_cache).
pub const LC_FREE: u32 = u32::MAX;

/// Fewest AL stripes a configuration may ask for (`DRBD_AL_STRIPES_MIN`).
pub const DRBD_AL_STRIPES_MIN: u32 = 1;
/// Most AL stripes a configuration may ask for (`DRBD_AL_STRIPES_MAX`).
pub const DRBD_AL_STRIPES_MAX: u32 = 1024;
/// Smallest AL stripe size in KiB (`DRBD_AL_STRIPE_SIZE_MIN`).
pub const DRBD_AL_STRIPE_SIZE_KB_MIN: u32 = 4;
/// Largest AL stripe size in KiB (`DRBD_AL_STRIPE_SIZE_MAX`).
pub const DRBD_AL_STRIPE_SIZE_KB_MAX: u32 = 16_777_216;
/// Smallest total AL size in 4 KiB blocks the module accepts on attach: the classic 32 KiB, so
/// that existing setups keep working.
pub const AL_SIZE_4K_MIN: u64 = MD_32KB_SECT / 8;
/// Largest total AL size in 4 KiB blocks the module accepts on attach (16 GiB). It bounds the
/// arithmetic that maps a transaction number to a sector.
pub const AL_SIZE_4K_MAX: u64 = 16 * 1024 * 1024 / 4;

/// Largest data size with indexed (fixed 128 MiB) meta-data: what the bitmap left after the
/// superblock and the 32 KiB AL can cover, about 3.8 TiB (`DRBD_MAX_SECTORS_FIXED_BM`).
pub const DRBD_MAX_SECTORS: u64 =
    (MD_128MB_SECT - MD_32KB_SECT - MD_4KB_SECT) << (BM_EXT_SHIFT - 9);
/// Largest data size with flexible meta-data (`DRBD_MAX_SECTORS_FLEX`). On 32-bit hosts the
/// module keeps the bit number below 2^32 minus a page of bits so bitmap searches cannot wrap.
#[cfg(target_pointer_width = "32")]
pub const DRBD_MAX_SECTORS_FLEX: u64 = 0xffff_7fff << (BM_BLOCK_SHIFT - 9);
/// Largest data size with flexible meta-data (`DRBD_MAX_SECTORS_FLEX`).
#[cfg(not(target_pointer_width = "32"))]
pub const DRBD_MAX_SECTORS_FLEX: u64 = 1 << 51;
/// Smallest meta-data device for flexible meta-data: the module refuses to attach anything
/// below 1 MiB (`ERR_MD_DISK_TOO_SMALL`).
pub const MIN_FLEX_MD_DEVICE_SECTORS: u64 = 2 << 10;

/// `meta_dev_idx` for internal meta-data.
pub const DRBD_MD_INDEX_INTERNAL: i32 = -1;
/// `meta_dev_idx` for flexible external meta-data.
pub const DRBD_MD_INDEX_FLEX_EXT: i32 = -2;
/// `meta_dev_idx` for "flex-internal", an alias the module treats exactly like internal.
pub const DRBD_MD_INDEX_FLEX_INT: i32 = -3;

/// Meta-data flag: the data is consistent (not in the middle of a resync target run).
pub const MDF_CONSISTENT: u32 = 1 << 0;
/// Meta-data flag: this node was primary.
pub const MDF_PRIMARY_IND: u32 = 1 << 1;
/// Meta-data flag: this node was connected.
pub const MDF_CONNECTED_IND: u32 = 1 << 2;
/// Meta-data flag: a full sync is required.
pub const MDF_FULL_SYNC: u32 = 1 << 3;
/// Meta-data flag: the data was up to date.
pub const MDF_WAS_UP_TO_DATE: u32 = 1 << 4;
/// Meta-data flag: the peer is known to be outdated.
pub const MDF_PEER_OUT_DATED: u32 = 1 << 5;
/// Meta-data flag: this node crashed while primary.
pub const MDF_CRASHED_PRIMARY: u32 = 1 << 6;
/// Meta-data flag: the activity log is clean ("AL clean", not "all clean"). A v08 superblock
/// without it is as unclean as one with the 84-unclean magic.
pub const MDF_AL_CLEAN: u32 = 1 << 7;
/// Meta-data flag: the activity log is disabled.
pub const MDF_AL_DISABLED: u32 = 1 << 8;

/// UUID slot of the current data generation.
pub const UI_CURRENT: usize = 0;
/// UUID slot of the generation the bitmap is relative to.
pub const UI_BITMAP: usize = 1;
/// First of the two history UUID slots.
pub const UI_HISTORY_START: usize = 2;
/// Last of the two history UUID slots.
pub const UI_HISTORY_END: usize = 3;
/// Number of UUIDs in the superblock (`UI_SIZE`); the netlink UUID array reuses this index for
/// the count of dirty bits.
pub const UI_SIZE: usize = 4;
/// Netlink UUID array index of the meta-data flags.
pub const UI_FLAGS: usize = 5;
/// Length of the netlink UUID array (`UI_EXTENDED_SIZE`).
pub const UI_EXTENDED_SIZE: usize = 6;
/// Current UUID of freshly created meta-data (`UUID_JUST_CREATED`).
pub const UUID_JUST_CREATED: u64 = 4;

/// `al_nr_extents` that `drbdmeta v08 create-md` writes (the pre-8.4 default of `al-extents`).
/// The module overwrites it with its configured value on the first meta-data write.
pub const CREATE_MD_AL_NR_EXTENTS: u32 = 257;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why meta-data was rejected or a layout could not be computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaError {
    /// Fewer bytes than one 4 KiB meta-data block.
    Truncated {
        /// Bytes given.
        have: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The activity log has not been applied: the magic is [`DRBD_MD_MAGIC_84_UNCLEAN`], or it is
    /// [`DRBD_MD_MAGIC_08`] without [`MDF_AL_CLEAN`]. A caller should tell the user to run
    /// `drbdadm apply-al <resource>`, as DRBD does.
    Unclean,
    /// DRBD 0.7 meta-data ([`DRBD_MD_MAGIC_07`]); the user has to run `drbdadm create-md`.
    OldMagic07,
    /// No DRBD meta-data magic at all.
    BadMagic(u32),
    /// `bm_bytes_per_bit` is not [`BM_BLOCK_SIZE`].
    BadBytesPerBit(u32),
    /// Activity-log striping that is incomplete, or smaller than 32 KiB or larger than 16 GiB.
    BadAlStripes {
        /// Number of stripes.
        stripes: u32,
        /// Size of one stripe in 4 KiB blocks.
        stripe_size_4k: u32,
    },
    /// A non-negative `al_offset` other than 8 (external meta-data has the AL right after the
    /// superblock).
    BadAlOffset(i32),
    /// The bitmap offset puts the bitmap into (or on the wrong side of) the activity log.
    BitmapOverlapsAl {
        /// Offset of the AL from the superblock, in sectors.
        al_offset: i32,
        /// Offset of the bitmap from the superblock, in sectors.
        bm_offset: i32,
    },
    /// The space between the offsets does not match the size the AL striping describes.
    AlAreaSize {
        /// Sectors the offsets leave for the AL.
        on_disk_sect: i64,
        /// Sectors the AL striping needs.
        expected_sect: u64,
    },
    /// `bm_offset` is not 4 KiB aligned.
    BitmapMisaligned(i32),
    /// The on-disk bitmap is too small for the last agreed size.
    BitmapTooSmall {
        /// Sectors of on-disk bitmap the offsets leave.
        on_disk_sect: i64,
        /// Sectors the last agreed size needs.
        need_sect: u64,
    },
    /// Indexed meta-data that does not have the fixed 128 MiB layout with a 32 KiB AL.
    FixedLayoutMismatch,
    /// The meta-data device (or, for internal meta-data, the backing device) is too small.
    MdDeviceTooSmall {
        /// Sectors the device has.
        have: u64,
        /// Sectors it would need.
        need: u64,
    },
    /// The offsets put meta-data outside the meta-data device or over the data.
    OffsetsOutOfRange,
    /// The device is so large that the meta-data size or offsets overflow their 32-bit fields.
    DeviceTooLarge(u64),
    /// A `meta_dev_idx` below [`DRBD_MD_INDEX_FLEX_INT`], or a slot number above `i32::MAX`.
    BadIndex(i64),
    /// An AL block whose magic is not [`DRBD_AL_MAGIC`].
    BadAlMagic(u32),
    /// An AL block whose CRC32C does not match its contents.
    BadAlChecksum {
        /// The checksum in the block.
        stored: u32,
        /// The checksum of the block's contents.
        computed: u32,
    },
    /// An AL transaction claiming more than [`AL_UPDATES_PER_TRANSACTION`] updates.
    TooManyAlUpdates(usize),
    /// More than [`AL_CONTEXT_PER_TRANSACTION`] context entries given to the encoder.
    TooManyAlContext(usize),
}

// ---------------------------------------------------------------------------------------------
// Big-endian helpers. Callers guarantee `at + N <= b.len()` (fixed offsets in a 4 KiB block).
// ---------------------------------------------------------------------------------------------

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_be_bytes());
}

/// The first 4 KiB of `buf` as a block, or why not.
fn block(buf: &[u8]) -> Result<&[u8; MD_BLOCK_SIZE], MetaError> {
    match buf.get(..MD_BLOCK_SIZE) {
        Some(b) => b.try_into().map_err(|_| MetaError::Truncated {
            have: buf.len(),
            need: MD_BLOCK_SIZE,
        }),
        None => Err(MetaError::Truncated {
            have: buf.len(),
            need: MD_BLOCK_SIZE,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Meta-disk kinds and activity-log geometry
// ---------------------------------------------------------------------------------------------

/// Where the meta-data lives, as `meta_dev_idx` in the disk configuration says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaDisk {
    /// At the end of the backing device (`meta-disk internal`, index -1).
    Internal,
    /// "flex-internal" (index -3): the module treats it exactly like [`MetaDisk::Internal`].
    FlexInternal,
    /// A separate device used whole, sized to the data (`flex-external`, index -2).
    FlexExternal,
    /// Slot `n` of 128 MiB on a separate device (`meta-disk /dev/x [n]`), the fixed layout
    /// inherited from DRBD 0.7; it can describe at most [`DRBD_MAX_SECTORS`] of data.
    Indexed(u32),
}

impl MetaDisk {
    /// The kind for a `meta_dev_idx` value from the disk configuration.
    pub fn from_index(index: i32) -> Result<MetaDisk, MetaError> {
        match index {
            DRBD_MD_INDEX_INTERNAL => Ok(MetaDisk::Internal),
            DRBD_MD_INDEX_FLEX_EXT => Ok(MetaDisk::FlexExternal),
            DRBD_MD_INDEX_FLEX_INT => Ok(MetaDisk::FlexInternal),
            n if n >= 0 => Ok(MetaDisk::Indexed(n as u32)),
            n => Err(MetaError::BadIndex(n as i64)),
        }
    }

    /// The `meta_dev_idx` value for this kind (wider than `i32` so every slot number fits).
    pub fn index(self) -> i64 {
        match self {
            MetaDisk::Internal => DRBD_MD_INDEX_INTERNAL as i64,
            MetaDisk::FlexInternal => DRBD_MD_INDEX_FLEX_INT as i64,
            MetaDisk::FlexExternal => DRBD_MD_INDEX_FLEX_EXT as i64,
            MetaDisk::Indexed(n) => n as i64,
        }
    }

    /// Whether the meta-data shares the backing device with the data.
    pub fn is_internal(self) -> bool {
        matches!(self, MetaDisk::Internal | MetaDisk::FlexInternal)
    }

    /// Sector of the superblock on a meta-data device of `md_device_sectors` (`drbd_md_ss`):
    /// the last 4 KiB-aligned 4 KiB block for internal meta-data, so the superblock can be
    /// written with one aligned 4 KiB I/O; the start of the device or of the slot otherwise.
    /// `None` if an internal device is smaller than 4 KiB.
    pub fn superblock_sector(self, md_device_sectors: u64) -> Option<u64> {
        match self {
            MetaDisk::Internal | MetaDisk::FlexInternal => {
                (md_device_sectors & !7).checked_sub(MD_4KB_SECT)
            }
            MetaDisk::FlexExternal => Some(0),
            MetaDisk::Indexed(n) => Some(MD_128MB_SECT * n as u64),
        }
    }
}

/// Activity-log striping: the AL ring buffer is `stripes` runs of `stripe_size_4k` 4 KiB blocks,
/// so that consecutive transactions land on different stripes of a RAID below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlStripes {
    stripes: u32,
    stripe_size_4k: u32,
}

impl AlStripes {
    /// The classic unstriped 32 KiB activity log (8 transaction blocks).
    pub const DEFAULT: AlStripes = AlStripes {
        stripes: 1,
        stripe_size_4k: (MD_32KB_SECT / 8) as u32,
    };

    /// Striping with the sanity limits the module applies on attach: both values set, and a
    /// total between 32 KiB (enough slots for old setups) and 16 GiB (no overflow when mapping a
    /// transaction number to a sector).
    pub fn new(stripes: u32, stripe_size_4k: u32) -> Result<AlStripes, MetaError> {
        let size = stripes as u64 * stripe_size_4k as u64;
        if stripes == 0 || stripe_size_4k == 0 || !(AL_SIZE_4K_MIN..=AL_SIZE_4K_MAX).contains(&size)
        {
            return Err(MetaError::BadAlStripes {
                stripes,
                stripe_size_4k,
            });
        }
        Ok(AlStripes {
            stripes,
            stripe_size_4k,
        })
    }

    /// Striping as stored in a superblock, where both fields zero means meta-data from before
    /// striping existed, i.e. [`AlStripes::DEFAULT`].
    pub fn from_on_disk(stripes: u32, stripe_size_4k: u32) -> Result<AlStripes, MetaError> {
        if stripes == 0 && stripe_size_4k == 0 {
            Ok(AlStripes::DEFAULT)
        } else {
            AlStripes::new(stripes, stripe_size_4k)
        }
    }

    /// Number of stripes.
    pub fn stripes(self) -> u32 {
        self.stripes
    }

    /// Size of one stripe in 4 KiB blocks.
    pub fn stripe_size_4k(self) -> u32 {
        self.stripe_size_4k
    }

    /// Total AL size in 4 KiB blocks, i.e. transaction slots in the ring buffer.
    pub fn size_4k(self) -> u64 {
        self.stripes as u64 * self.stripe_size_4k as u64
    }

    /// Total AL size in sectors.
    pub fn size_sect(self) -> u64 {
        self.size_4k() * MD_4KB_SECT
    }

    /// Sector offset, from the start of the AL, of the block for transaction `tr_number`: the
    /// ring wraps modulo the total size, and consecutive numbers go round-robin over the
    /// stripes (`al_tr_number_to_on_disk_sector`).
    pub fn transaction_offset(self, tr_number: u32) -> u64 {
        let t = tr_number as u64 % self.size_4k();
        let stripes = self.stripes as u64;
        ((t % stripes) * self.stripe_size_4k as u64 + t / stripes) * MD_4KB_SECT
    }
}

// ---------------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------------

/// Bits of bitmap a device of `data_sectors` needs: one per started 4 KiB.
pub fn bitmap_bits(data_sectors: u64) -> u64 {
    data_sectors.div_ceil(BM_SECT_PER_BIT)
}

/// Bytes of bitmap a device of `data_sectors` needs, rounded up to whole 64-bit words as the
/// module keeps it (on 32-bit hosts too, so both agree on the size sent to a peer).
pub fn bitmap_bytes(data_sectors: u64) -> u64 {
    bitmap_bits(data_sectors).div_ceil(64) * 8
}

/// Where the meta-data lives on its device. Offsets are relative to the superblock, as stored
/// in it; the `*_sector` methods give absolute sectors on the meta-data device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Kind of meta-data.
    pub meta_disk: MetaDisk,
    /// Sector of the superblock on the meta-data device (`md_offset`).
    pub md_offset: u64,
    /// Sectors of meta-data: superblock, AL and bitmap; the whole device for flexible external,
    /// 128 MiB for indexed.
    pub md_size_sect: u32,
    /// Sectors from the superblock to the AL: negative for internal meta-data.
    pub al_offset: i32,
    /// Sectors from the superblock to the bitmap: negative for internal meta-data.
    pub bm_offset: i32,
    /// AL striping.
    pub al: AlStripes,
}

impl Layout {
    /// The layout the module computes when attaching with `meta_disk` on a meta-data device of
    /// `md_device_sectors` (for internal meta-data, the backing device) with AL striping `al`
    /// (`drbd_md_set_sector_offsets`). Internal meta-data sizes its bitmap for the whole backing
    /// device, in whole 16 MiB bitmap extents, rounded up to 4 KiB of bitmap.
    ///
    /// Fails where the module refuses to attach: a meta-data device below 1 MiB (flexible) or
    /// not reaching the end of the slot (indexed), or indexed meta-data with a non-default AL.
    /// Also fails, where the module would go on with a useless or corrupt layout, for a device
    /// left without any data (internal) or bitmap (flexible external) space after a large AL,
    /// and for devices so large that the 32-bit on-disk fields cannot describe them (flexible
    /// external meta devices of 2 TiB or more, internal meta-data needing 2^31 sectors); the C
    /// module silently truncates there. For internal meta-data the `need` of
    /// [`MetaError::MdDeviceTooSmall`] is a lower bound.
    pub fn new(
        meta_disk: MetaDisk,
        md_device_sectors: u64,
        al: AlStripes,
    ) -> Result<Layout, MetaError> {
        let al_sect = al.size_sect();
        let (md_offset, md_size_sect, al_offset, bm_offset) = match meta_disk {
            MetaDisk::Indexed(n) => {
                if n > i32::MAX as u32 {
                    return Err(MetaError::BadIndex(n as i64));
                }
                let need = MD_128MB_SECT * (n as u64 + 1);
                if md_device_sectors < need {
                    return Err(MetaError::MdDeviceTooSmall {
                        have: md_device_sectors,
                        need,
                    });
                }
                if al != AlStripes::DEFAULT {
                    return Err(MetaError::FixedLayoutMismatch);
                }
                (
                    MD_128MB_SECT * n as u64,
                    MD_128MB_SECT,
                    MD_4KB_SECT as i64,
                    (MD_4KB_SECT + al_sect) as i64,
                )
            }
            MetaDisk::FlexExternal => {
                // At least the module's 1 MiB, and at least one 4 KiB of bitmap after the AL.
                let need = MIN_FLEX_MD_DEVICE_SECTORS.max(MD_4KB_SECT + al_sect + MD_4KB_SECT);
                if md_device_sectors < need {
                    return Err(MetaError::MdDeviceTooSmall {
                        have: md_device_sectors,
                        need,
                    });
                }
                if md_device_sectors > u32::MAX as u64 {
                    return Err(MetaError::DeviceTooLarge(md_device_sectors));
                }
                (
                    0,
                    md_device_sectors,
                    MD_4KB_SECT as i64,
                    (MD_4KB_SECT + al_sect) as i64,
                )
            }
            MetaDisk::Internal | MetaDisk::FlexInternal => {
                if md_device_sectors < MIN_FLEX_MD_DEVICE_SECTORS {
                    return Err(MetaError::MdDeviceTooSmall {
                        have: md_device_sectors,
                        need: MIN_FLEX_MD_DEVICE_SECTORS,
                    });
                }
                // One bitmap sector per started 16 MiB, rounded up to 4 KiB, then superblock
                // and AL.
                let bm_sect = md_device_sectors.div_ceil(BM_SECT_PER_EXT).div_ceil(8) * 8;
                let md_size = bm_sect + MD_4KB_SECT + al_sect;
                if md_size > i32::MAX as u64 {
                    return Err(MetaError::DeviceTooLarge(md_device_sectors));
                }
                let usable = md_device_sectors & !7;
                if md_size >= usable {
                    return Err(MetaError::MdDeviceTooSmall {
                        have: md_device_sectors,
                        need: md_size + MD_4KB_SECT,
                    });
                }
                (
                    usable - MD_4KB_SECT,
                    md_size,
                    -(al_sect as i64),
                    MD_4KB_SECT as i64 - md_size as i64,
                )
            }
        };
        Ok(Layout {
            meta_disk,
            md_offset,
            // All three fit: bounded above (md_size, AL <= 16 GiB + 4 KiB, bitmap >= -2^31 + 8).
            md_size_sect: md_size_sect as u32,
            al_offset: al_offset as i32,
            bm_offset: bm_offset as i32,
            al,
        })
    }

    /// [`Layout::new`] for internal meta-data with the default 32 KiB AL.
    pub fn internal(backing_sectors: u64) -> Result<Layout, MetaError> {
        Layout::new(MetaDisk::Internal, backing_sectors, AlStripes::DEFAULT)
    }

    /// Sector of the superblock.
    pub fn superblock_sector(&self) -> u64 {
        self.md_offset
    }

    /// First sector of the activity log.
    pub fn al_sector(&self) -> u64 {
        // In range for every `Layout` built by `new` or `Superblock::layout_on`; wrapping only
        // keeps a hand-made nonsense `Layout` from panicking.
        self.md_offset.wrapping_add_signed(self.al_offset as i64)
    }

    /// First sector of the on-disk bitmap.
    pub fn bm_sector(&self) -> u64 {
        self.md_offset.wrapping_add_signed(self.bm_offset as i64)
    }

    /// Sectors of on-disk bitmap area: up to the AL for internal meta-data, up to the end of the
    /// meta-data otherwise.
    pub fn bm_sectors(&self) -> u64 {
        if self.al_offset < 0 {
            (self.al_offset as i64 - self.bm_offset as i64).max(0) as u64
        } else {
            (self.md_size_sect as i64 - self.bm_offset as i64).max(0) as u64
        }
    }

    /// Bits the on-disk bitmap area can hold (`drbd_md_on_disk_bits`); the data size can grow
    /// to `on_disk_bits() * 8` sectors without moving the meta-data.
    pub fn on_disk_bits(&self) -> u64 {
        self.bm_sectors() * SECTOR_SIZE * 8
    }

    /// First sector of the meta-data area (`drbd_md_first_sector`); for internal meta-data, also
    /// the largest data size.
    pub fn first_sector(&self) -> u64 {
        if self.meta_disk.is_internal() {
            self.bm_sector()
        } else {
            self.md_offset
        }
    }

    /// Last sector of the meta-data area (`drbd_md_last_sector`): for internal meta-data just the
    /// superblock's, as the module only ever needs that bound for superblock I/O.
    pub fn last_sector(&self) -> u64 {
        if self.meta_disk.is_internal() {
            self.md_offset.wrapping_add(MD_4KB_SECT - 1)
        } else {
            self.md_offset
                .wrapping_add(self.md_size_sect as u64)
                .wrapping_sub(1)
        }
    }

    /// The largest data size the module offers its peer with a backing device of
    /// `backing_sectors` (`drbd_get_max_capacity`): for internal meta-data everything before
    /// the bitmap; for flexible external what the backing device and the on-disk bitmap allow;
    /// for indexed the backing device up to [`DRBD_MAX_SECTORS`].
    pub fn max_data_sectors(&self, backing_sectors: u64) -> u64 {
        match self.meta_disk {
            MetaDisk::Internal | MetaDisk::FlexInternal => {
                if backing_sectors == 0 {
                    0
                } else {
                    DRBD_MAX_SECTORS_FLEX.min(self.first_sector())
                }
            }
            MetaDisk::FlexExternal => DRBD_MAX_SECTORS_FLEX
                .min(backing_sectors)
                .min(self.bm_sectors() << (BM_EXT_SHIFT - 9)),
            MetaDisk::Indexed(_) => DRBD_MAX_SECTORS.min(backing_sectors),
        }
    }

    /// Absolute sector of the AL block that transaction `tr_number` is written to.
    pub fn al_transaction_sector(&self, tr_number: u32) -> u64 {
        self.al_sector()
            .wrapping_add(self.al.transaction_offset(tr_number))
    }
}

// ---------------------------------------------------------------------------------------------
// Superblock
// ---------------------------------------------------------------------------------------------

// Field offsets in `struct meta_data_on_disk` (packed, 96 bytes used, zero-padded to 4 KiB).
const SB_LA_SIZE: usize = 0;
const SB_UUID: usize = 8;
const SB_DEVICE_UUID: usize = 40;
// 48: reserved_u64_1, written as zero.
const SB_FLAGS: usize = 56;
const SB_MAGIC: usize = 60;
const SB_MD_SIZE: usize = 64;
const SB_AL_OFFSET: usize = 68;
const SB_AL_NR_EXTENTS: usize = 72;
const SB_BM_OFFSET: usize = 76;
const SB_BM_BYTES_PER_BIT: usize = 80;
const SB_LA_PEER_MAX_BIO: usize = 84;
const SB_AL_STRIPES: usize = 88;
const SB_AL_STRIPE_SIZE_4K: usize = 92;
/// Bytes of the superblock that carry fields; the rest of the 4 KiB block is zero.
pub const SUPERBLOCK_USED_BYTES: usize = 96;

/// The v08 superblock (`struct meta_data_on_disk`), fields in host order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Superblock {
    /// Last agreed size of the replicated device, in sectors.
    pub la_size_sect: u64,
    /// Data generation UUIDs, indexed by [`UI_CURRENT`] .. [`UI_HISTORY_END`].
    pub uuids: [u64; UI_SIZE],
    /// Random identity of this backing device.
    pub device_uuid: u64,
    /// `MDF_*` flags.
    pub flags: u32,
    /// [`DRBD_MD_MAGIC_08`] when clean, [`DRBD_MD_MAGIC_84_UNCLEAN`] while attached.
    pub magic: u32,
    /// Sectors of meta-data.
    pub md_size_sect: u32,
    /// Sectors from the superblock to the AL.
    pub al_offset: i32,
    /// Number of AL extents ("al-extents"), needed by `drbdmeta apply-al` to replay the AL.
    pub al_nr_extents: u32,
    /// Sectors from the superblock to the bitmap.
    pub bm_offset: i32,
    /// Bytes of storage per bitmap bit; always [`BM_BLOCK_SIZE`].
    pub bm_bytes_per_bit: u32,
    /// Largest bio the peer last accepted, so a primary can keep that limit before connecting.
    pub la_peer_max_bio_size: u32,
    /// Number of AL stripes (0 together with `al_stripe_size_4k` 0: the default).
    pub al_stripes: u32,
    /// Size of one AL stripe in 4 KiB blocks.
    pub al_stripe_size_4k: u32,
}

impl Superblock {
    /// The superblock `drbdmeta v08 create-md` writes for `layout`: clean magic and flags, the
    /// "just created" current UUID, everything else zero.
    pub fn new_created(layout: &Layout) -> Superblock {
        let mut uuids = [0; UI_SIZE];
        uuids[UI_CURRENT] = UUID_JUST_CREATED;
        Superblock {
            la_size_sect: 0,
            uuids,
            device_uuid: 0,
            flags: MDF_AL_CLEAN,
            magic: DRBD_MD_MAGIC_08,
            md_size_sect: layout.md_size_sect,
            al_offset: layout.al_offset,
            al_nr_extents: CREATE_MD_AL_NR_EXTENTS,
            bm_offset: layout.bm_offset,
            bm_bytes_per_bit: BM_BLOCK_SIZE,
            la_peer_max_bio_size: 0,
            al_stripes: layout.al.stripes(),
            al_stripe_size_4k: layout.al.stripe_size_4k(),
        }
    }

    /// Reads the fields of the 4 KiB block at the start of `buf` without judging them, for tools
    /// that must look at unclean or damaged meta-data (dump, apply-al).
    pub fn parse(buf: &[u8]) -> Result<Superblock, MetaError> {
        let b = block(buf)?;
        let mut uuids = [0; UI_SIZE];
        for (i, u) in uuids.iter_mut().enumerate() {
            *u = be64(b, SB_UUID + 8 * i);
        }
        Ok(Superblock {
            la_size_sect: be64(b, SB_LA_SIZE),
            uuids,
            device_uuid: be64(b, SB_DEVICE_UUID),
            flags: be32(b, SB_FLAGS),
            magic: be32(b, SB_MAGIC),
            md_size_sect: be32(b, SB_MD_SIZE),
            al_offset: be32(b, SB_AL_OFFSET) as i32,
            al_nr_extents: be32(b, SB_AL_NR_EXTENTS),
            bm_offset: be32(b, SB_BM_OFFSET) as i32,
            bm_bytes_per_bit: be32(b, SB_BM_BYTES_PER_BIT),
            la_peer_max_bio_size: be32(b, SB_LA_PEER_MAX_BIO),
            al_stripes: be32(b, SB_AL_STRIPES),
            al_stripe_size_4k: be32(b, SB_AL_STRIPE_SIZE_4K),
        })
    }

    /// Reads and checks the superblock at the start of `buf` as the module does on attach
    /// (`drbd_md_read`), as far as that is possible without knowing the device: see
    /// [`Superblock::validate`]. Then [`Superblock::layout_on`] checks it against the device.
    pub fn decode(buf: &[u8]) -> Result<Superblock, MetaError> {
        let sb = Superblock::parse(buf)?;
        sb.validate()?;
        Ok(sb)
    }

    /// Writes the on-disk form: big-endian fields, reserved bytes zero.
    pub fn encode(&self, out: &mut [u8; MD_BLOCK_SIZE]) {
        out.fill(0);
        put64(out, SB_LA_SIZE, self.la_size_sect);
        for (i, u) in self.uuids.iter().enumerate() {
            put64(out, SB_UUID + 8 * i, *u);
        }
        put64(out, SB_DEVICE_UUID, self.device_uuid);
        put32(out, SB_FLAGS, self.flags);
        put32(out, SB_MAGIC, self.magic);
        put32(out, SB_MD_SIZE, self.md_size_sect);
        put32(out, SB_AL_OFFSET, self.al_offset as u32);
        put32(out, SB_AL_NR_EXTENTS, self.al_nr_extents);
        put32(out, SB_BM_OFFSET, self.bm_offset as u32);
        put32(out, SB_BM_BYTES_PER_BIT, self.bm_bytes_per_bit);
        put32(out, SB_LA_PEER_MAX_BIO, self.la_peer_max_bio_size);
        put32(out, SB_AL_STRIPES, self.al_stripes);
        put32(out, SB_AL_STRIPE_SIZE_4K, self.al_stripe_size_4k);
    }

    /// Whether the activity log has been applied (`drbdmeta apply-al`): 08 magic and
    /// [`MDF_AL_CLEAN`].
    pub fn is_clean(&self) -> bool {
        self.magic == DRBD_MD_MAGIC_08 && self.flags & MDF_AL_CLEAN != 0
    }

    /// The AL striping the superblock describes.
    pub fn al(&self) -> Result<AlStripes, MetaError> {
        AlStripes::from_on_disk(self.al_stripes, self.al_stripe_size_4k)
    }

    /// The checks of attach that need only the superblock, in the module's order: clean (a
    /// distinct error so the caller can point at `drbdadm apply-al`), magic, 4 KiB per bitmap
    /// bit, sane AL striping, then offsets (`check_offsets_and_sizes`): the AL right after the
    /// superblock or, internal, right before it, the space between the offsets exactly the AL,
    /// a 4 KiB aligned bitmap, and enough bitmap for the last agreed size.
    pub fn validate(&self) -> Result<(), MetaError> {
        if self.magic == DRBD_MD_MAGIC_84_UNCLEAN
            || (self.magic == DRBD_MD_MAGIC_08 && self.flags & MDF_AL_CLEAN == 0)
        {
            return Err(MetaError::Unclean);
        }
        if self.magic == DRBD_MD_MAGIC_07 {
            return Err(MetaError::OldMagic07);
        }
        if self.magic != DRBD_MD_MAGIC_08 {
            return Err(MetaError::BadMagic(self.magic));
        }
        self.check_fields()
    }

    /// The checks of [`Superblock::validate`] after the magic and flags.
    fn check_fields(&self) -> Result<(), MetaError> {
        if self.bm_bytes_per_bit != BM_BLOCK_SIZE {
            return Err(MetaError::BadBytesPerBit(self.bm_bytes_per_bit));
        }
        let al = self.al()?;
        let al_offset = self.al_offset as i64;
        let bm_offset = self.bm_offset as i64;
        let (on_disk_al, on_disk_bm) = if al_offset < 0 {
            // Internal: [bitmap][AL][superblock].
            if bm_offset > al_offset {
                return Err(MetaError::BitmapOverlapsAl {
                    al_offset: self.al_offset,
                    bm_offset: self.bm_offset,
                });
            }
            (-al_offset, al_offset - bm_offset)
        } else {
            // External: [superblock][AL][bitmap].
            if al_offset != MD_4KB_SECT as i64 {
                return Err(MetaError::BadAlOffset(self.al_offset));
            }
            if bm_offset < al_offset + al.size_sect() as i64 {
                return Err(MetaError::BitmapOverlapsAl {
                    al_offset: self.al_offset,
                    bm_offset: self.bm_offset,
                });
            }
            (
                bm_offset - MD_4KB_SECT as i64,
                self.md_size_sect as i64 - bm_offset,
            )
        };
        // The module checks alignment, the 32 KiB minimum and the exact size separately; the
        // striping check above makes the exact size imply the other two.
        if on_disk_al != al.size_sect() as i64 {
            return Err(MetaError::AlAreaSize {
                on_disk_sect: on_disk_al,
                expected_sect: al.size_sect(),
            });
        }
        if self.bm_offset & 7 != 0 {
            return Err(MetaError::BitmapMisaligned(self.bm_offset));
        }
        // Rounded down like the module's check, which errs on the side of accepting. The module
        // compares a negative size as unsigned and so lets it pass; we refuse it.
        let need = self.la_size_sect.div_ceil(MD_4KB_SECT) / 8 / 512;
        if on_disk_bm < 0 || (on_disk_bm as u64) < need {
            return Err(MetaError::BitmapTooSmall {
                on_disk_sect: on_disk_bm,
                need_sect: need,
            });
        }
        Ok(())
    }

    /// Checks the superblock against the device it was read from and returns where its parts
    /// are. Runs the checks of [`Superblock::validate`] except those of magic and flags, so that
    /// a tool can find the activity log of unclean meta-data in order to apply it; then, as the
    /// module does (`check_offsets_and_sizes`): indexed meta-data must have exactly the fixed
    /// 128 MiB layout, and the meta-data must fit on the device of `md_device_sectors` without
    /// reaching into the data. Also refuses offsets pointing before the start of the device,
    /// which the module does not notice for flexible external meta-data.
    pub fn layout_on(
        &self,
        meta_disk: MetaDisk,
        md_device_sectors: u64,
    ) -> Result<Layout, MetaError> {
        self.check_fields()?;
        let al = self.al()?;
        if let MetaDisk::Indexed(n) = meta_disk {
            if n > i32::MAX as u32 {
                return Err(MetaError::BadIndex(n as i64));
            }
            if self.md_size_sect as u64 != MD_128MB_SECT
                || self.al_offset as i64 != MD_4KB_SECT as i64
                || self.bm_offset as i64 != (MD_4KB_SECT + MD_32KB_SECT) as i64
                || al != AlStripes::DEFAULT
            {
                return Err(MetaError::FixedLayoutMismatch);
            }
        }
        let md_size = self.md_size_sect as u64;
        if md_device_sectors < md_size {
            return Err(MetaError::MdDeviceTooSmall {
                have: md_device_sectors,
                need: md_size,
            });
        }
        let md_offset =
            meta_disk
                .superblock_sector(md_device_sectors)
                .ok_or(MetaError::MdDeviceTooSmall {
                    have: md_device_sectors,
                    need: MD_4KB_SECT,
                })?;
        let layout = Layout {
            meta_disk,
            md_offset,
            md_size_sect: self.md_size_sect,
            al_offset: self.al_offset,
            bm_offset: self.bm_offset,
            al,
        };
        let al_start = md_offset.checked_add_signed(self.al_offset as i64);
        let bm_start = md_offset.checked_add_signed(self.bm_offset as i64);
        if al_start.is_none() || bm_start.is_none() {
            return Err(MetaError::OffsetsOutOfRange);
        }
        let first = layout.first_sector();
        if md_device_sectors - md_size < first {
            return Err(MetaError::OffsetsOutOfRange);
        }
        Ok(layout)
    }
}

// ---------------------------------------------------------------------------------------------
// CRC32C
// ---------------------------------------------------------------------------------------------

/// Reflected Castagnoli polynomial.
const CRC32C_POLY: u32 = 0x82f6_3b78;

const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ CRC32C_POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC32C_TABLE: [u32; 256] = crc32c_table();

/// Continues a CRC32C over `data` from register value `crc`, without inverting at either end:
/// exactly the kernel's `crc32c(crc, p, len)`. DRBD checksums an AL block with a start value of
/// 0 and no final inversion, so this, not [`crc32c`], is what the on-disk format uses.
pub fn crc32c_update(mut crc: u32, data: &[u8]) -> u32 {
    for &byte in data {
        crc = (crc >> 8) ^ CRC32C_TABLE[((crc ^ byte as u32) & 0xff) as usize];
    }
    crc
}

/// The standard CRC-32C (iSCSI, ext4, ...) of `data`: start value and final XOR all ones.
pub fn crc32c(data: &[u8]) -> u32 {
    !crc32c_update(!0, data)
}

// ---------------------------------------------------------------------------------------------
// Activity-log transactions
// ---------------------------------------------------------------------------------------------

// Field offsets in `struct al_transaction_on_disk` (packed, exactly 4 KiB).
const AL_MAGIC: usize = 0;
const AL_TR_NUMBER: usize = 4;
const AL_CRC: usize = 8;
const AL_TYPE: usize = 12;
const AL_N_UPDATES: usize = 14;
const AL_CONTEXT_SIZE: usize = 16;
const AL_CONTEXT_START: usize = 18;
// 20..36: reserved, written as zero.
const AL_UPDATE_SLOT: usize = 36;
const AL_UPDATE_EXTENT: usize = AL_UPDATE_SLOT + 2 * AL_UPDATES_PER_TRANSACTION;
const AL_CONTEXT: usize = AL_UPDATE_EXTENT + 4 * AL_UPDATES_PER_TRANSACTION;

const _: () = assert!(AL_CONTEXT + 4 * AL_CONTEXT_PER_TRANSACTION == MD_BLOCK_SIZE);

/// The checksum DRBD stores in an AL block: CRC32C from 0 over the whole block with the checksum
/// field counted as zero.
fn al_checksum(b: &[u8; MD_BLOCK_SIZE]) -> u32 {
    let crc = crc32c_update(0, &b[..AL_CRC]);
    let crc = crc32c_update(crc, &[0; 4]);
    crc32c_update(crc, &b[AL_CRC + 4..])
}

/// One change to the active set: AL slot `slot` now holds extent `extent` (4 MiB units), or
/// is freed if `extent` is [`LC_FREE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlUpdate {
    /// Slot number in the activity log, below `al-extents`.
    pub slot: u16,
    /// Extent number now in the slot.
    pub extent: u32,
}

/// The fixed fields of an AL transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlHeader {
    /// Sequence number; the highest valid one is the most recent transaction.
    pub tr_number: u32,
    /// [`AL_TR_UPDATE`] or [`AL_TR_INITIALIZED`]; other values are reserved.
    pub transaction_type: u16,
    /// Valid entries among the update slots.
    pub n_updates: u16,
    /// Number of AL slots ("al-extents") when the transaction was written.
    pub context_size: u16,
    /// AL slot the context entries start at: each transaction also records a window of the
    /// whole active set, so the set can be rebuilt from the last few transactions.
    pub context_start_slot_nr: u16,
}

/// A decoded AL transaction: a checked view of the 4 KiB block, so decoding copies nothing and
/// needs no 4 KiB on the (kernel) stack.
#[derive(Clone, Copy)]
pub struct AlTransaction<'a> {
    header: AlHeader,
    block: &'a [u8; MD_BLOCK_SIZE],
}

impl core::fmt::Debug for AlTransaction<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The header only: the raw 4 KiB would drown a log line.
        f.debug_struct("AlTransaction")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl<'a> AlTransaction<'a> {
    /// Checks the 4 KiB block at the start of `buf`: AL magic, checksum (so a torn or stale write
    /// is not replayed), and no more updates than fit.
    pub fn decode(buf: &'a [u8]) -> Result<AlTransaction<'a>, MetaError> {
        let b = block(buf)?;
        let magic = be32(b, AL_MAGIC);
        if magic != DRBD_AL_MAGIC {
            return Err(MetaError::BadAlMagic(magic));
        }
        let stored = be32(b, AL_CRC);
        let computed = al_checksum(b);
        if stored != computed {
            return Err(MetaError::BadAlChecksum { stored, computed });
        }
        let header = AlHeader {
            tr_number: be32(b, AL_TR_NUMBER),
            transaction_type: be16(b, AL_TYPE),
            n_updates: be16(b, AL_N_UPDATES),
            context_size: be16(b, AL_CONTEXT_SIZE),
            context_start_slot_nr: be16(b, AL_CONTEXT_START),
        };
        if header.n_updates as usize > AL_UPDATES_PER_TRANSACTION {
            return Err(MetaError::TooManyAlUpdates(header.n_updates as usize));
        }
        Ok(AlTransaction { header, block: b })
    }

    /// The fixed fields.
    pub fn header(&self) -> AlHeader {
        self.header
    }

    /// Update slot `i` (below [`AL_UPDATES_PER_TRANSACTION`]), valid or not.
    pub fn update(&self, i: usize) -> Option<AlUpdate> {
        if i >= AL_UPDATES_PER_TRANSACTION {
            return None;
        }
        Some(AlUpdate {
            slot: be16(self.block, AL_UPDATE_SLOT + 2 * i),
            extent: be32(self.block, AL_UPDATE_EXTENT + 4 * i),
        })
    }

    /// The `n_updates` valid updates, in order.
    pub fn updates(&self) -> impl Iterator<Item = AlUpdate> + '_ {
        (0..self.header.n_updates as usize).filter_map(move |i| self.update(i))
    }

    /// Context entry `i` (below [`AL_CONTEXT_PER_TRANSACTION`]): the extent in AL slot
    /// `context_start_slot_nr + i`, or [`LC_FREE`].
    pub fn context(&self, i: usize) -> Option<u32> {
        if i >= AL_CONTEXT_PER_TRANSACTION {
            return None;
        }
        Some(be32(self.block, AL_CONTEXT + 4 * i))
    }

    /// The context entries that describe existing slots: from `context_start_slot_nr` up to
    /// `context_size`, at most [`AL_CONTEXT_PER_TRANSACTION`], as the writer fills them.
    pub fn context_entries(&self) -> impl Iterator<Item = u32> + '_ {
        let n = (self.header.context_size as usize)
            .saturating_sub(self.header.context_start_slot_nr as usize)
            .min(AL_CONTEXT_PER_TRANSACTION);
        (0..n).filter_map(move |i| self.context(i))
    }
}

/// The contents of an AL transaction to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlTransactionData<'a> {
    /// Sequence number.
    pub tr_number: u32,
    /// [`AL_TR_UPDATE`] or [`AL_TR_INITIALIZED`].
    pub transaction_type: u16,
    /// Number of AL slots.
    pub context_size: u16,
    /// AL slot the context starts at.
    pub context_start_slot_nr: u16,
    /// Changes to the active set, at most [`AL_UPDATES_PER_TRANSACTION`].
    pub updates: &'a [AlUpdate],
    /// Extents of the slots from `context_start_slot_nr` on, at most
    /// [`AL_CONTEXT_PER_TRANSACTION`].
    pub context: &'a [u32],
}

impl AlTransactionData<'_> {
    /// Writes the 4 KiB block with its checksum, as the module's writer does: unused update
    /// slots are slot `0xffff`, extent [`LC_FREE`], unused context entries [`LC_FREE`].
    pub fn encode(&self, out: &mut [u8; MD_BLOCK_SIZE]) -> Result<(), MetaError> {
        if self.updates.len() > AL_UPDATES_PER_TRANSACTION {
            return Err(MetaError::TooManyAlUpdates(self.updates.len()));
        }
        if self.context.len() > AL_CONTEXT_PER_TRANSACTION {
            return Err(MetaError::TooManyAlContext(self.context.len()));
        }
        out.fill(0);
        put32(out, AL_MAGIC, DRBD_AL_MAGIC);
        put32(out, AL_TR_NUMBER, self.tr_number);
        put16(out, AL_TYPE, self.transaction_type);
        // Bounded by AL_UPDATES_PER_TRANSACTION above.
        put16(out, AL_N_UPDATES, self.updates.len() as u16);
        put16(out, AL_CONTEXT_SIZE, self.context_size);
        put16(out, AL_CONTEXT_START, self.context_start_slot_nr);
        for i in 0..AL_UPDATES_PER_TRANSACTION {
            let u = self.updates.get(i).copied().unwrap_or(AlUpdate {
                slot: u16::MAX,
                extent: LC_FREE,
            });
            put16(out, AL_UPDATE_SLOT + 2 * i, u.slot);
            put32(out, AL_UPDATE_EXTENT + 4 * i, u.extent);
        }
        for i in 0..AL_CONTEXT_PER_TRANSACTION {
            put32(
                out,
                AL_CONTEXT + 4 * i,
                self.context.get(i).copied().unwrap_or(LC_FREE),
            );
        }
        let crc = al_checksum(out);
        put32(out, AL_CRC, crc);
        Ok(())
    }
}
