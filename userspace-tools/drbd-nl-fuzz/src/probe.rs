//! The `probe` mode: the fixed request suite (creates and removes resources fz0/fz1 and minors
//! 90/91), well-formed and deliberately malformed requests, each printed with the kernel's
//! answers and the broadcasts they caused.

use super::*;

/// The fixed suite. Every case prints its name and the kernel's answers.
pub(super) fn probe(sock: &mut Sock, family: u16, group: u32) -> io::Result<()> {
    let ev = Sock::open()?;
    ev.join(group)?;
    let none = MINOR_NONE;
    let long128 = vec![b'x'; 128];
    let long129 = vec![b'x'; 129];
    let mut cases: Vec<(&str, u16, Req)> = vec![
        // ---- headers and commands
        ("short-drbd-header", 0, {
            let mut r = Req::new(cmd(Cmd::NewResource), none).ctx(Some(b"fz0"), None);
            r.cut = Some(GENL_HDRLEN + 4);
            r
        }),
        ("unknown-cmd-3", 0, Req::new(3, none)),
        ("unknown-cmd-60", 0, Req::new(60, none)),
        (
            "notification-cmd",
            0,
            Req::new(cmd(Cmd::ResourceState), none),
        ),
        ("event-cmd", 0, Req::new(cmd(Cmd::Event), none)),
        // ---- new-resource
        (
            "new-resource-no-context",
            0,
            Req::new(cmd(Cmd::NewResource), none),
        ),
        (
            "new-resource-empty-name",
            0,
            Req::new(cmd(Cmd::NewResource), none).ctx(Some(b""), None),
        ),
        (
            "new-resource-slash",
            0,
            Req::new(cmd(Cmd::NewResource), none).ctx(Some(b"a/b"), None),
        ),
        (
            "new-resource-unterminated-name",
            0,
            Req::new(cmd(Cmd::NewResource), none).nest(2, &fields(&[(2 | M, b"fz0")])),
        ),
        (
            "new-resource-name-129",
            0,
            Req::new(cmd(Cmd::NewResource), none).ctx(Some(&long129), None),
        ),
        (
            "new-resource-name-128",
            0,
            Req::new(cmd(Cmd::NewResource), none).ctx(Some(&long128), None),
        ),
        (
            "del-resource-name-128",
            0,
            Req::new(cmd(Cmd::DelResource), none).ctx(Some(&long128), None),
        ),
        (
            "new-resource-nested-flag",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .tla(2 | NLA_F_NESTED, &ctx_payload(Some(b"fz0"), None)),
        ),
        (
            "new-resource-ctx-without-nested-flag",
            0,
            Req::new(cmd(Cmd::NewResource), none).tla(2, &ctx_payload(Some(b"fz0"), None)),
        ),
        (
            "new-resource-again",
            0,
            Req::new(cmd(Cmd::NewResource), none).ctx(Some(b"fz0"), None),
        ),
        (
            "new-resource-again-excl",
            NLM_F_EXCL,
            Req::new(cmd(Cmd::NewResource), none).ctx(Some(b"fz0"), None),
        ),
        (
            "new-resource-unknown-tla",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .ctx(Some(b"fz1"), None)
                .tla(25, &[]),
        ),
        (
            "new-resource-tla-zero",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .ctx(Some(b"fz1"), None)
                .tla(0, &[1, 2, 3, 4]),
        ),
        (
            "new-resource-foreign-tla",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .ctx(Some(b"fz1"), None)
                .nest(3, &fields(&[(6 | M, &1u32.to_ne_bytes())])),
        ),
        (
            "new-resource-ctx-unknown-mandatory",
            0,
            Req::new(cmd(Cmd::NewResource), none).nest(
                2,
                &fields(&[(2 | M, b"fz1\0"), (9 | M, &1u32.to_ne_bytes())]),
            ),
        ),
        (
            "new-resource-ctx-unknown-optional",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .nest(2, &fields(&[(2 | M, b"fz1\0"), (9, &1u32.to_ne_bytes())])),
        ),
        (
            "new-resource-ctx-field-zero",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .nest(2, &fields(&[(2 | M, b"fz1\0"), (0, &1u32.to_ne_bytes())])),
        ),
        (
            "new-resource-ctx-volume-short",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .nest(2, &fields(&[(2 | M, b"fz1\0"), (1 | M, &[1, 0])])),
        ),
        (
            "new-resource-ctx-volume-long",
            0,
            Req::new(cmd(Cmd::NewResource), none).nest(
                2,
                &fields(&[(2 | M, b"fz1\0"), (1 | M, &1u64.to_ne_bytes())]),
            ),
        ),
        (
            "new-resource-ctx-field-nested-flag",
            0,
            Req::new(cmd(Cmd::NewResource), none).nest(
                2,
                &fields(&[(2 | M, b"fz1\0"), (1 | NLA_F_NESTED, &0u32.to_ne_bytes())]),
            ),
        ),
        (
            "new-resource-ctx-addr-129",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .nest(2, &fields(&[(2 | M, b"fz1\0"), (3 | M, &[0u8; 129])])),
        ),
        (
            "new-resource-opts-unknown-mandatory",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .ctx(Some(b"fz1"), None)
                .nest(4, &fields(&[(3 | M, &1u32.to_ne_bytes())])),
        ),
        (
            "new-resource-opts-short-u32",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .ctx(Some(b"fz1"), None)
                .nest(4, &fields(&[(2 | M, &[1, 0])])),
        ),
        (
            "new-resource-opts-cpu-mask-33",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .ctx(Some(b"fz1"), None)
                .nest(4, &fields(&[(1 | M, &[b'1'; 33])])),
        ),
        (
            "new-resource-opts-nest-too-short",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .ctx(Some(b"fz1"), None)
                .nest(4, &[1, 2]),
        ),
        (
            "new-resource-trailing-bytes",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .ctx(Some(b"fz1"), None)
                .raw(&[0, 0]),
        ),
        (
            "new-resource-bad-nla-len",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .ctx(Some(b"fz1"), None)
                .raw(&[2, 0, 4, 0]),
        ),
        (
            "new-resource-nla-overrun",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .ctx(Some(b"fz1"), None)
                .raw(&[64, 0, 4, 0, 0, 0, 0, 0]),
        ),
        (
            "new-resource-with-opts",
            0,
            Req::new(cmd(Cmd::NewResource), none)
                .ctx(Some(b"fz1"), None)
                .nest(4, &fields(&[(2 | M, &1u32.to_ne_bytes())])),
        ),
        // ---- new-minor
        (
            "new-minor-out-of-range",
            0,
            Req::new(cmd(Cmd::NewMinor), 1 << 20).ctx(Some(b"fz0"), Some(0)),
        ),
        (
            "new-minor-volume-out-of-range",
            0,
            Req::new(cmd(Cmd::NewMinor), 90).ctx(Some(b"fz0"), Some(65535)),
        ),
        (
            "new-minor-unknown-resource",
            0,
            Req::new(cmd(Cmd::NewMinor), 90).ctx(Some(b"nope"), Some(0)),
        ),
        ("new-minor-no-context", 0, Req::new(cmd(Cmd::NewMinor), 90)),
        (
            "new-minor",
            0,
            Req::new(cmd(Cmd::NewMinor), 90).ctx(Some(b"fz0"), Some(0)),
        ),
        (
            "new-minor-again",
            0,
            Req::new(cmd(Cmd::NewMinor), 90).ctx(Some(b"fz0"), Some(0)),
        ),
        (
            "new-minor-again-excl",
            NLM_F_EXCL,
            Req::new(cmd(Cmd::NewMinor), 90).ctx(Some(b"fz0"), Some(0)),
        ),
        (
            "new-minor-other-resource",
            0,
            Req::new(cmd(Cmd::NewMinor), 90).ctx(Some(b"fz1"), Some(0)),
        ),
        (
            "new-minor-other-volume",
            0,
            Req::new(cmd(Cmd::NewMinor), 90).ctx(Some(b"fz0"), Some(1)),
        ),
        (
            "new-minor-volume-taken",
            0,
            Req::new(cmd(Cmd::NewMinor), 91).ctx(Some(b"fz0"), Some(0)),
        ),
        (
            "new-minor-second-volume",
            0,
            Req::new(cmd(Cmd::NewMinor), 91).ctx(Some(b"fz0"), Some(1)),
        ),
        // ---- queries
        ("get-status-doit", 0, Req::new(cmd(Cmd::GetStatus), 90)),
        (
            "get-status-doit-unknown",
            0,
            Req::new(cmd(Cmd::GetStatus), 77),
        ),
        (
            "dump-status",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetStatus), none),
        ),
        (
            "dump-status-fz1",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetStatus), none).ctx(Some(b"fz1"), None),
        ),
        (
            "dump-status-unknown",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetStatus), none).ctx(Some(b"nope"), None),
        ),
        (
            "dump-status-ctx-without-name",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetStatus), none).ctx(None, Some(0)),
        ),
        (
            "dump-status-bad-attr",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetStatus), none).nest(4, &[]),
        ),
        (
            "dump-resources",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetResources), none),
        ),
        (
            "dump-devices",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetDevices), none),
        ),
        (
            "dump-devices-fz0",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetDevices), none).ctx(Some(b"fz0"), None),
        ),
        (
            "dump-devices-unknown",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetDevices), none).ctx(Some(b"nope"), None),
        ),
        (
            "dump-connections",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetConnections), none),
        ),
        (
            "dump-connections-unknown",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetConnections), none).ctx(Some(b"nope"), None),
        ),
        (
            "dump-peer-devices",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetPeerDevices), none),
        ),
        (
            "dump-peer-devices-unknown",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetPeerDevices), none).ctx(Some(b"nope"), None),
        ),
        (
            "dump-initial-state",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetInitialState), none),
        ),
        ("resources-doit", 0, Req::new(cmd(Cmd::GetResources), none)),
        (
            "get-timeout-type",
            0,
            Req::new(cmd(Cmd::GetTimeoutType), 90),
        ),
        // ---- per-minor commands on a diskless minor
        (
            "primary-minor-wrong-resource",
            0,
            Req::new(cmd(Cmd::Primary), 90).ctx(Some(b"fz1"), None),
        ),
        (
            "primary-minor-wrong-volume",
            0,
            Req::new(cmd(Cmd::Primary), 90).ctx(None, Some(3)),
        ),
        ("primary-unknown-minor", 0, Req::new(cmd(Cmd::Primary), 77)),
        ("primary-diskless", 0, Req::new(cmd(Cmd::Primary), 90)),
        (
            "primary-force-diskless",
            0,
            Req::new(cmd(Cmd::Primary), 90).nest(6, &fields(&[(1 | M, &[1])])),
        ),
        (
            "primary-bad-parms",
            0,
            Req::new(cmd(Cmd::Primary), 90).nest(6, &fields(&[(1 | M, &[1, 0, 0, 0])])),
        ),
        ("secondary", 0, Req::new(cmd(Cmd::Secondary), 90)),
        ("detach-diskless", 0, Req::new(cmd(Cmd::Detach), 90)),
        (
            "detach-force-diskless",
            0,
            Req::new(cmd(Cmd::Detach), 90).nest(13, &fields(&[(1 | M, &[1])])),
        ),
        ("new-c-uuid-diskless", 0, Req::new(cmd(Cmd::NewCUuid), 90)),
        (
            "disk-options-diskless",
            0,
            Req::new(cmd(Cmd::ChgDiskOpts), 90).nest(3, &fields(&[(8 | M, &300u32.to_ne_bytes())])),
        ),
        (
            "disk-options-reserved-field",
            0,
            Req::new(cmd(Cmd::ChgDiskOpts), 90).nest(3, &fields(&[(22, &1u32.to_ne_bytes())])),
        ),
        (
            "attach-missing-fields",
            0,
            Req::new(cmd(Cmd::Attach), 90).nest(3, &fields(&[(1 | M, b"/dev/nonexistent\0")])),
        ),
        ("attach-no-disk-conf", 0, Req::new(cmd(Cmd::Attach), 90)),
        (
            "attach-nonexistent",
            0,
            Req::new(cmd(Cmd::Attach), 90).nest(
                3,
                &fields(&[
                    (1 | M, b"/dev/nonexistent\0"),
                    (2 | M, b"/dev/nonexistent\0"),
                    (3 | M, &(-3i32).to_ne_bytes()),
                ]),
            ),
        ),
        (
            "resource-options",
            0,
            Req::new(cmd(Cmd::ResourceOpts), none)
                .ctx(Some(b"fz0"), None)
                .nest(4, &fields(&[(2 | M, &1u32.to_ne_bytes())])),
        ),
        (
            "resource-options-bad-cpu-mask",
            0,
            Req::new(cmd(Cmd::ResourceOpts), none)
                .ctx(Some(b"fz0"), None)
                .nest(4, &fields(&[(1 | M, b"zz\0")])),
        ),
        (
            "resource-options-unknown",
            0,
            Req::new(cmd(Cmd::ResourceOpts), none).ctx(Some(b"nope"), None),
        ),
        ("resource-options-set-defaults", 0, {
            let mut r = Req::new(cmd(Cmd::ResourceOpts), none).ctx(Some(b"fz0"), None);
            r.hflags = DRBD_GENL_F_SET_DEFAULTS;
            r
        }),
        (
            "dump-resources-after-opts",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetResources), none),
        ),
        (
            "disconnect-unknown-connection",
            0,
            Req::new(cmd(Cmd::Disconnect), none),
        ),
        // ---- teardown
        (
            "del-resource-in-use",
            0,
            Req::new(cmd(Cmd::DelResource), none).ctx(Some(b"fz0"), None),
        ),
        (
            "del-resource-unknown",
            0,
            Req::new(cmd(Cmd::DelResource), none).ctx(Some(b"nope"), None),
        ),
        ("del-minor-unknown", 0, Req::new(cmd(Cmd::DelMinor), 77)),
        ("del-minor", 0, Req::new(cmd(Cmd::DelMinor), 91)),
        ("del-minor-again", 0, Req::new(cmd(Cmd::DelMinor), 91)),
        (
            "del-resource",
            0,
            Req::new(cmd(Cmd::DelResource), none).ctx(Some(b"fz1"), None),
        ),
        (
            "down-unknown",
            0,
            Req::new(cmd(Cmd::Down), none).ctx(Some(b"nope"), None),
        ),
        (
            "down",
            0,
            Req::new(cmd(Cmd::Down), none).ctx(Some(b"fz0"), None),
        ),
        (
            "dump-status-empty",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetStatus), none),
        ),
        (
            "dump-initial-state-empty",
            NLM_F_DUMP,
            Req::new(cmd(Cmd::GetInitialState), none),
        ),
    ];
    let out = io::stdout();
    let mut out = out.lock();
    for (name, flags, req) in cases.drain(..) {
        let (lines, abandoned) = exchange(sock, family, flags, &req.body())?;
        if abandoned {
            *sock = Sock::open()?;
        }
        writeln!(out, "== {name}")?;
        for l in lines {
            writeln!(out, "  {l}")?;
        }
        while let Some(buf) = ev.recv(true)? {
            for m in split_msgs(&buf) {
                writeln!(out, "  event {}", describe_drbd(&m.body))?;
            }
        }
    }
    Ok(())
}
