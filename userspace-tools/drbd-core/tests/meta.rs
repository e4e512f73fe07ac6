//! v08 meta-data: golden blocks written by drbd-utils' `drbdmeta`, the layout table for
//! internal, flexible external and indexed meta-data, each attach-time validation error, the
//! AL transaction codec with its CRC32C, and hostile input.

use drbd_core::meta::*;
use proptest::prelude::*;

const MIB: u64 = 2048; // sectors
const GIB: u64 = 1024 * MIB;

/// Hex of the first `SUPERBLOCK_USED_BYTES` of a superblock; the rest of the 4 KiB is zero.
fn block_from_hex(hex: &str) -> [u8; 4096] {
    let mut b = [0u8; 4096];
    assert_eq!(hex.len(), 2 * SUPERBLOCK_USED_BYTES);
    for (i, out) in b.iter_mut().take(SUPERBLOCK_USED_BYTES).enumerate() {
        *out = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    b
}

/// `truncate -s 64M x.img; drbdmeta --force 0 v08 x.img internal create-md` (drbd-utils 9.22),
/// the superblock in the last 4 KiB of the file.
const GOLDEN_CREATE_MD_64M: &str = concat!(
    "0000000000000000", // la_size_sect
    "0000000000000004", // uuid[UI_CURRENT] = UUID_JUST_CREATED
    "0000000000000000",
    "0000000000000000",
    "0000000000000000",
    "0000000000000000", // device_uuid
    "0000000000000000", // reserved
    "00000080",         // flags = MDF_AL_CLEAN
    "8374026b",         // magic v08
    "00000050",         // md_size_sect = 80
    "ffffffc0",         // al_offset = -64
    "00000101",         // al_nr_extents = 257
    "ffffffb8",         // bm_offset = -72
    "00001000",         // bm_bytes_per_bit
    "00000000",         // la_peer_max_bio_size
    "00000001",         // al_stripes
    "00000008",         // al_stripe_size_4k
);

/// The same after `drbdmeta restore-md` of a dump with every field set (uuids, flags 0x11,
/// la-size-sect 130992, device-uuid, la-peer-max-bio-size 1 MiB). drbdmeta writes the flags
/// as given, without MDF_AL_CLEAN, so the module would call this meta-data unclean.
const GOLDEN_RESTORED_64M: &str = concat!(
    "000000000001ffb0",
    "1122334455667788",
    "99aabbccddeeff00",
    "0102030405060708",
    "1112131415161718",
    "deadbeefcafef00d",
    "0000000000000000",
    "00000011",
    "8374026b",
    "00000050",
    "ffffffc0",
    "00000101",
    "ffffffb8",
    "00001000",
    "00100000",
    "00000001",
    "00000008",
);

/// `drbdmeta ... internal create-md --al-stripes 2 --al-stripe-size-kB 64` on 1 GiB.
const GOLDEN_STRIPED_1G: &str = concat!(
    "0000000000000000",
    "0000000000000004",
    "0000000000000000",
    "0000000000000000",
    "0000000000000000",
    "0000000000000000",
    "0000000000000000",
    "00000080",
    "8374026b",
    "00000148", // 328 = 64 bitmap + 8 superblock + 256 AL
    "ffffff00", // -256
    "00000101",
    "fffffec0", // -320
    "00001000",
    "00000000",
    "00000002",
    "00000010",
);

fn encoded(sb: &Superblock) -> [u8; 4096] {
    let mut b = [0u8; 4096];
    sb.encode(&mut b);
    b
}

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

#[test]
fn magics_are_drbd_magic_plus_n() {
    assert_eq!(DRBD_MD_MAGIC_07, drbd_core::wire::DRBD_MAGIC + 3);
    assert_eq!(DRBD_MD_MAGIC_08, drbd_core::wire::DRBD_MAGIC + 4);
    assert_eq!(DRBD_MD_MAGIC_84_UNCLEAN, drbd_core::wire::DRBD_MAGIC + 5);
}

#[test]
fn derived_constants() {
    assert_eq!(MD_128MB_SECT * SECTOR_SIZE, 128 << 20);
    assert_eq!(BM_SECT_PER_BIT * SECTOR_SIZE, BM_BLOCK_SIZE as u64);
    assert_eq!(BM_SECT_PER_EXT * SECTOR_SIZE, 16 << 20);
    assert_eq!(AL_EXTENT_SIZE, 4 << 20);
    assert_eq!(
        36 + 6 * AL_UPDATES_PER_TRANSACTION + 4 * AL_CONTEXT_PER_TRANSACTION,
        4096
    );
    // 3.99 TiB: what 128 MiB minus superblock and 32 KiB AL of bitmap covers.
    assert_eq!(DRBD_MAX_SECTORS, 262_072 * 32_768);
    assert_eq!(AlStripes::DEFAULT.size_sect(), MD_32KB_SECT);
}

#[test]
fn meta_disk_indexes() {
    assert_eq!(MetaDisk::from_index(-1), Ok(MetaDisk::Internal));
    assert_eq!(MetaDisk::from_index(-2), Ok(MetaDisk::FlexExternal));
    assert_eq!(MetaDisk::from_index(-3), Ok(MetaDisk::FlexInternal));
    assert_eq!(MetaDisk::from_index(7), Ok(MetaDisk::Indexed(7)));
    assert_eq!(MetaDisk::from_index(-4), Err(MetaError::BadIndex(-4)));
    for i in [-3, -2, -1, 0, 5, i32::MAX] {
        assert_eq!(MetaDisk::from_index(i).unwrap().index(), i as i64);
    }
}

// ---------------------------------------------------------------------------------------------
// Golden superblocks from drbdmeta
// ---------------------------------------------------------------------------------------------

#[test]
fn create_md_64m_matches_drbdmeta_bytes() {
    let layout = Layout::internal(64 * MIB).unwrap();
    let golden = block_from_hex(GOLDEN_CREATE_MD_64M);
    assert_eq!(encoded(&Superblock::new_created(&layout)), golden);
    let sb = Superblock::decode(&golden).unwrap();
    assert_eq!(sb, Superblock::new_created(&layout));
    assert_eq!(sb.layout_on(MetaDisk::Internal, 64 * MIB), Ok(layout));
}

#[test]
fn restored_64m_fields_and_unclean_flags() {
    let golden = block_from_hex(GOLDEN_RESTORED_64M);
    let sb = Superblock::parse(&golden).unwrap();
    assert_eq!(sb.la_size_sect, 130_992);
    assert_eq!(
        sb.uuids,
        [
            0x1122334455667788,
            0x99aabbccddeeff00,
            0x0102030405060708,
            0x1112131415161718
        ]
    );
    assert_eq!(sb.uuids[UI_BITMAP], 0x99aabbccddeeff00);
    assert_eq!(sb.device_uuid, 0xdeadbeefcafef00d);
    assert_eq!(sb.flags, MDF_CONSISTENT | MDF_WAS_UP_TO_DATE);
    assert_eq!(sb.la_peer_max_bio_size, 1 << 20);
    assert_eq!(encoded(&sb), golden);
    // v08 magic without MDF_AL_CLEAN is unclean, as far as the module is concerned.
    assert!(!sb.is_clean());
    assert_eq!(Superblock::decode(&golden), Err(MetaError::Unclean));
    let clean = Superblock {
        flags: sb.flags | MDF_AL_CLEAN,
        ..sb
    };
    assert_eq!(Superblock::decode(&encoded(&clean)), Ok(clean));
    // The layout of unclean meta-data is still available, for apply-al.
    assert_eq!(
        sb.layout_on(MetaDisk::Internal, 64 * MIB),
        Layout::internal(64 * MIB)
    );
}

#[test]
fn striped_al_1g_matches_drbdmeta_bytes() {
    let al = AlStripes::new(2, 16).unwrap();
    let layout = Layout::new(MetaDisk::Internal, GIB, al).unwrap();
    let golden = block_from_hex(GOLDEN_STRIPED_1G);
    assert_eq!(encoded(&Superblock::new_created(&layout)), golden);
    let sb = Superblock::decode(&golden).unwrap();
    assert_eq!(sb.al(), Ok(al));
    assert_eq!(sb.layout_on(MetaDisk::Internal, GIB), Ok(layout));
}

// ---------------------------------------------------------------------------------------------
// Layout table (md_size/offsets cross-checked against drbdmeta create-md on files)
// ---------------------------------------------------------------------------------------------

struct Row {
    meta: MetaDisk,
    md_dev: u64,
    md_offset: u64,
    md_size: u32,
    al_offset: i32,
    bm_offset: i32,
    max_data: u64,
}

#[test]
fn layout_table() {
    let rows = [
        // Internal: bitmap of ceil(size / 16 MiB) sectors, rounded up to 4 KiB.
        Row {
            meta: MetaDisk::Internal,
            md_dev: 10 * MIB,
            md_offset: 10 * MIB - 8,
            md_size: 80,
            al_offset: -64,
            bm_offset: -72,
            max_data: 10 * MIB - 80,
        },
        Row {
            meta: MetaDisk::Internal,
            md_dev: 64 * MIB,
            md_offset: 64 * MIB - 8,
            md_size: 80,
            al_offset: -64,
            bm_offset: -72,
            max_data: 130_992,
        },
        Row {
            meta: MetaDisk::Internal,
            md_dev: 256 * MIB,
            md_offset: 256 * MIB - 8,
            md_size: 88,
            al_offset: -64,
            bm_offset: -80,
            max_data: 256 * MIB - 88,
        },
        Row {
            meta: MetaDisk::Internal,
            md_dev: GIB,
            md_offset: GIB - 8,
            md_size: 136,
            al_offset: -64,
            bm_offset: -128,
            max_data: GIB - 136,
        },
        // One sector more needs one more bitmap sector, i.e. another 4 KiB; the superblock
        // stays in the last whole 4 KiB.
        Row {
            meta: MetaDisk::Internal,
            md_dev: GIB + 1,
            md_offset: GIB - 8,
            md_size: 144,
            al_offset: -64,
            bm_offset: -136,
            max_data: GIB - 144,
        },
        Row {
            meta: MetaDisk::FlexInternal,
            md_dev: GIB + 8,
            md_offset: GIB,
            md_size: 144,
            al_offset: -64,
            bm_offset: -136,
            max_data: GIB + 8 - 144,
        },
        Row {
            meta: MetaDisk::Internal,
            md_dev: 4096 * GIB,
            md_offset: 4096 * GIB - 8,
            md_size: 262_216,
            al_offset: -64,
            bm_offset: -262_208,
            max_data: 4096 * GIB - 262_216,
        },
        // Flexible external: the whole device; data limited by the bitmap after 8 + 64 sectors.
        Row {
            meta: MetaDisk::FlexExternal,
            md_dev: 16 * MIB,
            md_offset: 0,
            md_size: 32_768,
            al_offset: 8,
            bm_offset: 72,
            max_data: 100 * GIB,
        },
        Row {
            meta: MetaDisk::FlexExternal,
            md_dev: MIB,
            md_offset: 0,
            md_size: 2048,
            al_offset: 8,
            bm_offset: 72,
            max_data: (2048 - 72) << 15,
        },
        // Indexed: 128 MiB slots.
        Row {
            meta: MetaDisk::Indexed(0),
            md_dev: 300 * MIB,
            md_offset: 0,
            md_size: 262_144,
            al_offset: 8,
            bm_offset: 72,
            max_data: 100 * GIB,
        },
        Row {
            meta: MetaDisk::Indexed(1),
            md_dev: 300 * MIB,
            md_offset: 262_144,
            md_size: 262_144,
            al_offset: 8,
            bm_offset: 72,
            max_data: 100 * GIB,
        },
    ];
    for r in rows {
        let l = Layout::new(r.meta, r.md_dev, AlStripes::DEFAULT).unwrap();
        let what = (r.meta, r.md_dev);
        assert_eq!(l.md_offset, r.md_offset, "{what:?}");
        assert_eq!(l.superblock_sector(), r.md_offset, "{what:?}");
        assert_eq!(l.md_size_sect, r.md_size, "{what:?}");
        assert_eq!(l.al_offset, r.al_offset, "{what:?}");
        assert_eq!(l.bm_offset, r.bm_offset, "{what:?}");
        // Internal: the data is the backing device; external: say 100 GiB of backing device.
        let backing = if r.meta.is_internal() {
            r.md_dev
        } else {
            100 * GIB
        };
        assert_eq!(l.max_data_sectors(backing), r.max_data, "{what:?}");
        assert!(l.on_disk_bits() >= bitmap_bits(r.max_data), "{what:?}");
        // What create-md writes for it attaches again.
        let sb = Superblock::decode(&encoded(&Superblock::new_created(&l))).unwrap();
        assert_eq!(sb.layout_on(r.meta, r.md_dev), Ok(l), "{what:?}");
    }
}

#[test]
fn internal_64m_sectors() {
    let l = Layout::internal(64 * MIB).unwrap();
    assert_eq!(l.superblock_sector(), 131_064);
    assert_eq!(l.al_sector(), 131_000);
    assert_eq!(l.bm_sector(), 130_992);
    assert_eq!(l.bm_sectors(), 8);
    assert_eq!(l.first_sector(), 130_992);
    assert_eq!(l.last_sector(), 131_071);
    // drbdmeta dump-md: "bm_offset 67067904" (bytes).
    assert_eq!(l.bm_sector() * SECTOR_SIZE, 67_067_904);
    assert_eq!(l.al_transaction_sector(0), 131_000);
    assert_eq!(l.al_transaction_sector(7), 131_056);
    assert_eq!(l.al_transaction_sector(8), 131_000);
}

#[test]
fn external_sectors() {
    let l = Layout::new(MetaDisk::Indexed(1), 300 * MIB, AlStripes::DEFAULT).unwrap();
    assert_eq!((l.al_sector(), l.bm_sector()), (262_152, 262_216));
    assert_eq!(l.first_sector(), 262_144);
    assert_eq!(l.last_sector(), 2 * 262_144 - 1);
    assert_eq!(l.bm_sectors(), 262_144 - 72);
    assert_eq!(l.max_data_sectors(100 * 1024 * GIB), DRBD_MAX_SECTORS);
    let f = Layout::new(MetaDisk::FlexExternal, 16 * MIB, AlStripes::DEFAULT).unwrap();
    assert_eq!(
        (f.al_sector(), f.bm_sector(), f.last_sector()),
        (8, 72, 32_767)
    );
    assert_eq!(f.max_data_sectors(10 * MIB), 10 * MIB);
}

#[test]
fn striped_al_transactions_go_round_robin() {
    // Two stripes of 16 blocks: 0 -> stripe 0 block 0, 1 -> stripe 1 block 0, 2 -> stripe 0 block 1.
    let al = AlStripes::new(2, 16).unwrap();
    assert_eq!(al.transaction_offset(0), 0);
    assert_eq!(al.transaction_offset(1), 16 * 8);
    assert_eq!(al.transaction_offset(2), 8);
    assert_eq!(al.transaction_offset(31), (16 + 15) * 8);
    assert_eq!(al.transaction_offset(32), 0);
    assert_eq!(
        al.transaction_offset(u32::MAX),
        al.transaction_offset(u32::MAX % 32)
    );
}

#[test]
fn bitmap_sizes() {
    assert_eq!(bitmap_bits(0), 0);
    assert_eq!(bitmap_bits(1), 1);
    assert_eq!(bitmap_bits(8), 1);
    assert_eq!(bitmap_bits(9), 2);
    // 1 GiB at 4 KiB per bit: 32 KiB of bitmap.
    assert_eq!(bitmap_bytes(GIB), 32 * 1024);
    // Rounded up to whole 64-bit words.
    assert_eq!(bitmap_bytes(8), 8);
    assert_eq!(bitmap_bytes(64 * 8 + 1), 16);
}

#[test]
fn layout_refuses_small_devices() {
    let d = AlStripes::DEFAULT;
    assert_eq!(
        Layout::new(MetaDisk::Internal, 2047, d),
        Err(MetaError::MdDeviceTooSmall {
            have: 2047,
            need: 2048
        })
    );
    assert_eq!(
        Layout::new(MetaDisk::FlexExternal, 1000, d),
        Err(MetaError::MdDeviceTooSmall {
            have: 1000,
            need: 2048
        })
    );
    assert_eq!(
        Layout::new(MetaDisk::Indexed(1), 256 * MIB - 1, d),
        Err(MetaError::MdDeviceTooSmall {
            have: 256 * MIB - 1,
            need: 256 * MIB
        })
    );
    // A 16 GiB AL does not fit on a 1 GiB device, internal or external.
    let huge = AlStripes::new(1, 4 * 1024 * 1024).unwrap();
    assert!(matches!(
        Layout::new(MetaDisk::Internal, GIB, huge),
        Err(MetaError::MdDeviceTooSmall { .. })
    ));
    assert!(matches!(
        Layout::new(MetaDisk::FlexExternal, GIB, huge),
        Err(MetaError::MdDeviceTooSmall { .. })
    ));
}

#[test]
fn layout_refuses_what_the_fields_cannot_hold() {
    let d = AlStripes::DEFAULT;
    assert_eq!(
        Layout::new(MetaDisk::FlexExternal, 1 << 32, d),
        Err(MetaError::DeviceTooLarge(1 << 32))
    );
    assert_eq!(
        Layout::new(MetaDisk::Internal, u64::MAX, d),
        Err(MetaError::DeviceTooLarge(u64::MAX))
    );
    assert_eq!(
        Layout::new(MetaDisk::Indexed(0), GIB, AlStripes::new(2, 16).unwrap()),
        Err(MetaError::FixedLayoutMismatch)
    );
    assert_eq!(
        Layout::new(MetaDisk::Indexed(1 << 31), u64::MAX, d),
        Err(MetaError::BadIndex(1 << 31))
    );
}

// ---------------------------------------------------------------------------------------------
// Superblock validation errors
// ---------------------------------------------------------------------------------------------

fn good_internal_1g() -> Superblock {
    let mut sb = Superblock::new_created(&Layout::internal(GIB).unwrap());
    sb.la_size_sect = GIB - 136;
    sb
}

fn decode_modified(f: impl FnOnce(&mut Superblock)) -> Result<Superblock, MetaError> {
    let mut sb = good_internal_1g();
    f(&mut sb);
    Superblock::decode(&encoded(&sb))
}

#[test]
fn validation_errors() {
    assert!(decode_modified(|_| ()).is_ok());
    assert_eq!(
        Superblock::decode(&[0u8; 4095]),
        Err(MetaError::Truncated {
            have: 4095,
            need: 4096
        })
    );
    assert_eq!(
        decode_modified(|s| s.magic = DRBD_MD_MAGIC_84_UNCLEAN),
        Err(MetaError::Unclean)
    );
    assert_eq!(
        decode_modified(|s| s.flags &= !MDF_AL_CLEAN),
        Err(MetaError::Unclean)
    );
    assert_eq!(
        decode_modified(|s| s.magic = DRBD_MD_MAGIC_07),
        Err(MetaError::OldMagic07)
    );
    assert_eq!(
        decode_modified(|s| s.magic = 0),
        Err(MetaError::BadMagic(0))
    );
    assert_eq!(
        decode_modified(|s| s.bm_bytes_per_bit = 512),
        Err(MetaError::BadBytesPerBit(512))
    );
    assert_eq!(
        decode_modified(|s| s.al_stripes = 0),
        Err(MetaError::BadAlStripes {
            stripes: 0,
            stripe_size_4k: 8
        })
    );
    assert_eq!(
        decode_modified(|s| s.al_stripe_size_4k = 4),
        Err(MetaError::BadAlStripes {
            stripes: 1,
            stripe_size_4k: 4
        })
    );
    assert_eq!(
        decode_modified(|s| (s.al_stripes, s.al_stripe_size_4k) = (2, 4 * 1024 * 1024)),
        Err(MetaError::BadAlStripes {
            stripes: 2,
            stripe_size_4k: 4 * 1024 * 1024
        })
    );
    assert_eq!(
        decode_modified(|s| s.al_offset = 16),
        Err(MetaError::BadAlOffset(16))
    );
    assert_eq!(
        decode_modified(|s| s.bm_offset = -32),
        Err(MetaError::BitmapOverlapsAl {
            al_offset: -64,
            bm_offset: -32
        })
    );
    assert_eq!(
        decode_modified(|s| s.al_offset = -72),
        Err(MetaError::AlAreaSize {
            on_disk_sect: 72,
            expected_sect: 64
        })
    );
    assert_eq!(
        decode_modified(|s| s.bm_offset = -129),
        Err(MetaError::BitmapMisaligned(-129))
    );
    // 64 bitmap sectors cover 64 * 4096 * 8 sectors = 1 GiB, not more.
    assert_eq!(
        decode_modified(|s| s.la_size_sect = 2 * GIB),
        Err(MetaError::BitmapTooSmall {
            on_disk_sect: 64,
            need_sect: 128
        })
    );
    assert!(matches!(
        decode_modified(|s| s.la_size_sect = u64::MAX),
        Err(MetaError::BitmapTooSmall { .. })
    ));
}

#[test]
fn old_meta_data_without_striping_fields_means_32k_al() {
    let sb = decode_modified(|s| (s.al_stripes, s.al_stripe_size_4k) = (0, 0)).unwrap();
    assert_eq!(sb.al(), Ok(AlStripes::DEFAULT));
    assert!(sb.layout_on(MetaDisk::Internal, GIB).is_ok());
}

#[test]
fn external_validation_errors() {
    let l = Layout::new(MetaDisk::FlexExternal, 16 * MIB, AlStripes::DEFAULT).unwrap();
    let sb = Superblock::new_created(&l);
    assert!(sb.validate().is_ok());
    let with = |f: &dyn Fn(&mut Superblock)| {
        let mut s = sb;
        f(&mut s);
        Superblock::decode(&encoded(&s))
    };
    assert_eq!(
        with(&|s| s.bm_offset = 64),
        Err(MetaError::BitmapOverlapsAl {
            al_offset: 8,
            bm_offset: 64
        })
    );
    assert_eq!(
        with(&|s| s.bm_offset = 80),
        Err(MetaError::AlAreaSize {
            on_disk_sect: 72,
            expected_sect: 64
        })
    );
    // Bitmap area negative: md_size smaller than the bitmap offset.
    assert_eq!(
        with(&|s| s.md_size_sect = 8),
        Err(MetaError::BitmapTooSmall {
            on_disk_sect: -64,
            need_sect: 0
        })
    );
}

#[test]
fn device_checks_on_attach() {
    let sb = good_internal_1g();
    // A device smaller than the meta-data it claims to hold.
    assert_eq!(
        sb.layout_on(MetaDisk::Internal, 100),
        Err(MetaError::MdDeviceTooSmall {
            have: 100,
            need: 136
        })
    );
    // Internal meta-data read as indexed: not the fixed layout.
    assert_eq!(
        sb.layout_on(MetaDisk::Indexed(0), GIB),
        Err(MetaError::FixedLayoutMismatch)
    );
    // Internal meta-data with a positive (external) AL offset would overlap the data.
    let ext = Superblock::new_created(
        &Layout::new(MetaDisk::FlexExternal, 16 * MIB, AlStripes::DEFAULT).unwrap(),
    );
    assert_eq!(
        ext.layout_on(MetaDisk::Internal, GIB),
        Err(MetaError::OffsetsOutOfRange)
    );
    // Internal meta-data read as flexible external: offsets before the start of the device.
    assert_eq!(
        sb.layout_on(MetaDisk::FlexExternal, GIB),
        Err(MetaError::OffsetsOutOfRange)
    );
    // Indexed slot beyond the device.
    let idx = Superblock::new_created(
        &Layout::new(MetaDisk::Indexed(1), 300 * MIB, AlStripes::DEFAULT).unwrap(),
    );
    assert_eq!(
        idx.layout_on(MetaDisk::Indexed(2), 300 * MIB),
        Err(MetaError::OffsetsOutOfRange)
    );
    assert!(idx.layout_on(MetaDisk::Indexed(0), 300 * MIB).is_ok());
}

// ---------------------------------------------------------------------------------------------
// CRC32C and AL transactions
// ---------------------------------------------------------------------------------------------

#[test]
fn crc32c_check_values() {
    assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    assert_eq!(crc32c(b""), 0);
    // RFC 3720 B.4: 32 bytes of zeros, and of ones.
    assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
    assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
    // The kernel's crc32c() is the raw register: no inversion at either end.
    assert_eq!(crc32c_update(0, b""), 0);
    assert_eq!(!crc32c_update(!0, b"123456789"), 0xe306_9283);
    let split = crc32c_update(crc32c_update(7, b"1234"), b"56789");
    assert_eq!(split, crc32c_update(7, b"123456789"));
}

/// An AL block as `drbdmeta create-md` initializes all 8 of them: magic, transaction 0, type
/// "initialized", everything else zero, CRC 0x709cc651.
fn golden_initialized_al_block() -> [u8; 4096] {
    let mut b = [0u8; 4096];
    b[..16].copy_from_slice(&[
        0x69, 0xcb, 0x65, 0xa2, 0, 0, 0, 0, 0x70, 0x9c, 0xc6, 0x51, 0xff, 0xff, 0, 0,
    ]);
    b
}

#[test]
fn drbdmeta_initialized_al_block_decodes() {
    let b = golden_initialized_al_block();
    let t = AlTransaction::decode(&b).unwrap();
    assert_eq!(
        t.header(),
        AlHeader {
            tr_number: 0,
            transaction_type: AL_TR_INITIALIZED,
            n_updates: 0,
            context_size: 0,
            context_start_slot_nr: 0,
        }
    );
    assert_eq!(t.updates().count(), 0);
    assert_eq!(t.context_entries().count(), 0);
}

#[test]
fn al_transaction_round_trip() {
    let updates = [
        AlUpdate {
            slot: 0,
            extent: 17,
        },
        AlUpdate {
            slot: 3,
            extent: 0x0102_0304,
        },
        AlUpdate {
            slot: 1,
            extent: LC_FREE,
        },
    ];
    let context = [17, LC_FREE, 5, 0x0102_0304];
    let data = AlTransactionData {
        tr_number: 42,
        transaction_type: AL_TR_UPDATE,
        context_size: 1237,
        context_start_slot_nr: 919,
        updates: &updates,
        context: &context,
    };
    let mut b = [0u8; 4096];
    data.encode(&mut b).unwrap();
    assert_eq!(&b[..4], &DRBD_AL_MAGIC.to_be_bytes());
    let t = AlTransaction::decode(&b).unwrap();
    assert_eq!(
        t.header(),
        AlHeader {
            tr_number: 42,
            transaction_type: AL_TR_UPDATE,
            n_updates: 3,
            context_size: 1237,
            context_start_slot_nr: 919,
        }
    );
    assert!(t.updates().eq(updates.iter().copied()));
    // Unused update slots and context entries are filled as the module's writer fills them.
    assert_eq!(
        t.update(3),
        Some(AlUpdate {
            slot: 0xffff,
            extent: LC_FREE
        })
    );
    assert_eq!(t.update(AL_UPDATES_PER_TRANSACTION), None);
    assert_eq!(t.context(3), Some(0x0102_0304));
    assert_eq!(t.context(4), Some(LC_FREE));
    assert_eq!(t.context(AL_CONTEXT_PER_TRANSACTION), None);
    // Slots 919..1237 of the context: 318 entries.
    assert_eq!(t.context_entries().count(), 1237 - 919);
    // The stored checksum is the raw CRC32C of the block with the field zeroed.
    let mut z = b;
    z[8..12].fill(0);
    assert_eq!(&b[8..12], &crc32c_update(0, &z).to_be_bytes());
}

#[test]
fn al_transaction_rejections() {
    let good = golden_initialized_al_block();
    assert_eq!(
        AlTransaction::decode(&good[..100]).unwrap_err(),
        MetaError::Truncated {
            have: 100,
            need: 4096
        }
    );
    let mut b = good;
    b[4000] ^= 1;
    assert!(matches!(
        AlTransaction::decode(&b),
        Err(MetaError::BadAlChecksum {
            stored: 0x709c_c651,
            ..
        })
    ));
    let mut b = good;
    b[0] = 0;
    assert_eq!(
        AlTransaction::decode(&b).unwrap_err(),
        MetaError::BadAlMagic(0x00cb_65a2)
    );
    // A correctly checksummed block claiming 65 updates.
    let mut b = good;
    b[14..16].copy_from_slice(&65u16.to_be_bytes());
    b[8..12].fill(0);
    let crc = crc32c_update(0, &b);
    b[8..12].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(
        AlTransaction::decode(&b).unwrap_err(),
        MetaError::TooManyAlUpdates(65)
    );

    let mut out = [0u8; 4096];
    let many = [AlUpdate { slot: 0, extent: 0 }; AL_UPDATES_PER_TRANSACTION + 1];
    let ctx = [0u32; AL_CONTEXT_PER_TRANSACTION + 1];
    let base = AlTransactionData {
        tr_number: 0,
        transaction_type: AL_TR_UPDATE,
        context_size: 0,
        context_start_slot_nr: 0,
        updates: &[],
        context: &[],
    };
    assert_eq!(
        AlTransactionData {
            updates: &many,
            ..base
        }
        .encode(&mut out),
        Err(MetaError::TooManyAlUpdates(65))
    );
    assert_eq!(
        AlTransactionData {
            context: &ctx,
            ..base
        }
        .encode(&mut out),
        Err(MetaError::TooManyAlContext(920))
    );
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

fn meta_disk() -> impl Strategy<Value = MetaDisk> {
    prop_oneof![
        Just(MetaDisk::Internal),
        Just(MetaDisk::FlexInternal),
        Just(MetaDisk::FlexExternal),
        (0u32..4).prop_map(MetaDisk::Indexed),
    ]
}

fn al_stripes() -> impl Strategy<Value = AlStripes> {
    prop_oneof![
        3 => Just(AlStripes::DEFAULT),
        1 => (1u32..=8, 8u32..=64).prop_map(|(s, z)| AlStripes::new(s, z).unwrap()),
    ]
}

fn arbitrary_superblock() -> impl Strategy<Value = Superblock> {
    (
        (
            any::<u64>(),
            any::<[u64; 4]>(),
            any::<u64>(),
            any::<u32>(),
            any::<u32>(),
        ),
        (
            any::<u32>(),
            any::<i32>(),
            any::<u32>(),
            any::<i32>(),
            any::<u32>(),
        ),
        (any::<u32>(), any::<u32>(), any::<u32>()),
    )
        .prop_map(
            |((la, uuids, dev, flags, magic), (md, al, nr, bm, bpb), (peer, st, sz))| Superblock {
                la_size_sect: la,
                uuids,
                device_uuid: dev,
                flags,
                magic,
                md_size_sect: md,
                al_offset: al,
                al_nr_extents: nr,
                bm_offset: bm,
                bm_bytes_per_bit: bpb,
                la_peer_max_bio_size: peer,
                al_stripes: st,
                al_stripe_size_4k: sz,
            },
        )
}

proptest! {
    #[test]
    fn decoding_arbitrary_blocks_never_panics(bytes in proptest::collection::vec(any::<u8>(), 4096)) {
        if let Ok(sb) = Superblock::decode(&bytes) {
            prop_assert!(sb.is_clean());
            for meta in [MetaDisk::Internal, MetaDisk::FlexExternal, MetaDisk::Indexed(0)] {
                for dev in [0, 8, 2048, 1 << 20, 1 << 40, u64::MAX] {
                    if let Ok(l) = sb.layout_on(meta, dev) {
                        let _ = (l.al_transaction_sector(u32::MAX), l.max_data_sectors(dev), l.last_sector());
                    }
                }
            }
        }
        let _ = AlTransaction::decode(&bytes);
    }

    #[test]
    fn decoding_mostly_valid_superblocks_never_panics(
        sb in arbitrary_superblock(),
        magic in prop_oneof![Just(DRBD_MD_MAGIC_08), any::<u32>()],
        dev: u64,
        meta in meta_disk(),
    ) {
        // Valid magic, flags and bytes per bit so the offset checks see hostile values.
        let sb = Superblock { magic, flags: sb.flags | MDF_AL_CLEAN, bm_bytes_per_bit: BM_BLOCK_SIZE, ..sb };
        if Superblock::decode(&encoded(&sb)).is_ok() {
            if let Ok(l) = sb.layout_on(meta, dev) {
                // Superblock, AL and bitmap all on the device.
                prop_assert!(l.last_sector() < dev);
                prop_assert!(l.al_sector() + l.al.size_sect() <= dev);
                prop_assert!(l.bm_sector() + l.bm_sectors() <= dev);
                let _ = (l.al_transaction_sector(u32::MAX), l.max_data_sectors(dev));
            }
        }
    }

    #[test]
    fn short_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        prop_assert!(Superblock::decode(&bytes).is_err());
        prop_assert!(AlTransaction::decode(&bytes).is_err());
    }

    #[test]
    fn superblock_fields_round_trip(sb in arbitrary_superblock()) {
        let b = encoded(&sb);
        prop_assert_eq!(Superblock::parse(&b), Ok(sb));
        prop_assert!(b[SUPERBLOCK_USED_BYTES..].iter().all(|&x| x == 0));
    }

    #[test]
    fn created_layouts_validate_and_round_trip(
        meta in meta_disk(),
        dev in 2048u64..(1 << 44),
        al in al_stripes(),
        uuids: [u64; 4],
        device_uuid: u64,
        flags: u32,
        peer: u32,
        la_fraction in 0u64..=100,
    ) {
        let dev = match meta {
            MetaDisk::FlexExternal => dev % (1 << 32),
            _ => dev,
        };
        let Ok(l) = Layout::new(meta, dev, al) else { return Ok(()) };
        // Everything inside the meta-data device; AL and bitmap do not overlap.
        prop_assert!(l.last_sector() < dev);
        let al_end = l.al_sector() + al.size_sect();
        if meta.is_internal() {
            prop_assert_eq!(al_end, l.superblock_sector());
            prop_assert_eq!(l.bm_sector() + l.bm_sectors(), l.al_sector());
        } else {
            prop_assert_eq!(l.al_sector(), l.superblock_sector() + 8);
            prop_assert_eq!(al_end, l.bm_sector());
            prop_assert_eq!(l.bm_sector() + l.bm_sectors(), l.superblock_sector() + l.md_size_sect as u64);
        }
        // The bitmap covers the largest data size.
        let backing = if meta.is_internal() { dev } else { 1 << 44 };
        let max = l.max_data_sectors(backing);
        prop_assert!(l.on_disk_bits() >= bitmap_bits(max));
        // A superblock for any size up to that validates and gives the layout back.
        let sb = Superblock {
            la_size_sect: max / 100 * la_fraction,
            uuids,
            device_uuid,
            flags: flags | MDF_AL_CLEAN,
            la_peer_max_bio_size: peer,
            ..Superblock::new_created(&l)
        };
        let decoded = Superblock::decode(&encoded(&sb));
        prop_assert_eq!(decoded, Ok(sb));
        prop_assert_eq!(sb.layout_on(meta, dev), Ok(l));
        // Every AL transaction slot lies in the AL.
        for tr in [0u32, 1, 7, 8, 12345, u32::MAX] {
            let s = l.al_transaction_sector(tr);
            prop_assert!(s >= l.al_sector() && s + 8 <= al_end);
        }
    }

    #[test]
    fn al_transactions_round_trip(
        tr_number: u32,
        transaction_type: u16,
        context_size: u16,
        context_start_slot_nr: u16,
        updates in proptest::collection::vec((any::<u16>(), any::<u32>()), 0..=AL_UPDATES_PER_TRANSACTION),
        context in proptest::collection::vec(any::<u32>(), 0..=AL_CONTEXT_PER_TRANSACTION),
        flip in 0usize..4096 * 8,
    ) {
        let updates: Vec<AlUpdate> = updates.into_iter().map(|(slot, extent)| AlUpdate { slot, extent }).collect();
        let data = AlTransactionData { tr_number, transaction_type, context_size, context_start_slot_nr, updates: &updates, context: &context };
        let mut b = [0u8; 4096];
        data.encode(&mut b).unwrap();
        let t = AlTransaction::decode(&b).unwrap();
        prop_assert_eq!(t.header(), AlHeader { tr_number, transaction_type, n_updates: updates.len() as u16, context_size, context_start_slot_nr });
        prop_assert!(t.updates().eq(updates.iter().copied()));
        for (i, c) in context.iter().enumerate() {
            prop_assert_eq!(t.context(i), Some(*c));
        }
        // Any single flipped bit is caught (by the magic or the checksum).
        b[flip / 8] ^= 1 << (flip % 8);
        prop_assert!(AlTransaction::decode(&b).is_err());
    }
}
