//! Connecting: the UUID handshake on both sides (`drbd_sync_handshake`), the connection states
//! it leads to, and the bitmap exchange through the real RLE/VLI codec ([`xfer`]).

use super::*;

impl Sim {
    pub(super) fn uuids_packet(&self, i: usize) -> PeerUuids {
        let n = &self.nodes[i];
        PeerUuids {
            uuids: n.uuids(),
            bits: n.weight(),
            flags: uuid_flags(
                n.discard_my_data,
                n.crashed_primary,
                n.st.disk == DiskState::Inconsistent,
                false,
            ),
        }
    }

    /// One node's `drbd_sync_handshake` against the peer's `P_UUIDS` (`pk`); adopts corrected
    /// UUIDs and keeps the peer's.
    fn handshake_side(&mut self, i: usize, pk: &[PeerUuids; 2]) -> Outcome {
        let p = Self::peer(i);
        let n = &self.nodes[i];
        let weight = n.weight();
        let input = HandshakeInput {
            cmp: CompareInput {
                local: n.uuids(),
                peer: pk[p],
                crashed_primary: n.crashed_primary,
                role: n.st.role,
                peer_role: self.nodes[p].st.role,
                agreed_protocol: 101,
                agreed_features: DRBD_FF_WSAME,
                resolve_conflicts: self.resolve == i,
                bm_weight: weight,
            },
            disk: n.st.disk,
            negotiated_disk: n.st.disk,
            peer_disk: real_peer_disk(self.nodes[p].st.disk, pk[p].flags),
            local_bits: weight,
            discard_my_data: n.discard_my_data,
            dry_run: false,
            policies: self.cfg.policies,
        };
        let mut log = Log::new();
        let r = handshake(&input, &mut || false, &mut log);
        self.stats.rules.insert(r.comparison.rule);
        if r.comparison.correction.is_some() {
            self.stats.corrections += 1;
        }
        if log.iter().any(|e| {
            matches!(
                e,
                drbd_core::uuid::Event::Log(_, drbd_core::uuid::Msg::SplitBrainAutoSolved { .. })
            )
        }) {
            self.stats.auto_resolved += 1;
        }
        let mut lines = String::new();
        for e in log.iter() {
            if let drbd_core::uuid::Event::Log(_, m) = e {
                let _ = write!(lines, "\n        {m}");
            }
        }
        self.log(format!(
            "node{i} handshake: rule {} hg {} -> {:?}{}",
            r.comparison.rule, r.hg, r.outcome, lines
        ));
        let n = &mut self.nodes[i];
        n.set_uuids(r.comparison.local);
        n.md_sync();
        n.peer_uuids = Some(PeerUuids {
            uuids: r.comparison.peer,
            ..pk[p]
        });
        r.outcome
    }

    pub(super) fn ev_connect(&mut self) -> Res {
        if !matches!(self.link, Link::Down)
            || !self.nodes[0].up
            || !self.nodes[1].up
            || !self.writes.is_empty()
        {
            return Ok(());
        }
        self.stats.connects += 1;
        self.resolve = self.rng.below(2) as usize;
        let pk = [self.uuids_packet(0), self.uuids_packet(1)];
        let out = [self.handshake_side(0, &pk), self.handshake_side(1, &pk)];
        let dmd = [self.nodes[0].discard_my_data, self.nodes[1].discard_my_data];
        for n in self.nodes.iter_mut() {
            n.discard_my_data = false;
        }

        // Invariant 3: both sides acknowledged writes while apart: split brain, always.
        let refused = out.iter().any(|o| matches!(o, Outcome::Refused(_)));
        let operator = dmd[0] || dmd[1] || self.recreated[0] || self.recreated[1];
        if self.apart_acked[0] && self.apart_acked[1] && !operator && !refused {
            fail!(
                "both nodes wrote while apart, but the handshake says {:?} / {:?}",
                out[0],
                out[1]
            );
        }
        if refused {
            let mut unrelated = false;
            for (i, o) in out.iter().enumerate() {
                // The side that refuses drops the connection; what the other decided does
                // not matter then.
                match o {
                    Outcome::Refused(Refusal::SplitBrain | Refusal::PrimaryTarget) => {}
                    // A known limit of the 8.4 UUIDs: each start of a split-brain resolving
                    // resync whose P_SYNC_UUID never arrives rotates the source's bitmap UUID
                    // into its history (rules 51/71 only undo that when the target is on the
                    // source's old generation, which after a split brain it is not); after two,
                    // the common ancestor has left the source's history.
                    Outcome::Refused(Refusal::Unrelated) if self.victim.is_some() => {
                        unrelated = true
                    }
                    Outcome::Refused(other) => fail!("node{i}: unexpected refusal {other:?}"),
                    _ => {}
                }
            }
            for n in self.nodes.iter_mut() {
                n.peer_uuids = None;
            }
            if unrelated {
                // The operator's way out: fresh meta-data on the victim (`drbdadm create-md`),
                // then a full sync from the survivor.
                let v = self.victim.expect("victim");
                self.stats.unrelated += 1;
                self.log(format!("operator: create-md on node{v}"));
                let n = &mut self.nodes[v];
                let layout = Layout::internal(1 << 21).expect("layout");
                let mut sb = Superblock::new_created(&layout);
                sb.la_size_sect = CAPACITY;
                sb.encode(&mut n.stable.sb);
                n.stable.bm.fill(0);
                for blk in n.stable.al.iter_mut() {
                    blk.fill(0);
                }
                self.recreated[v] = true;
                self.attach(v);
                self.link = Link::Down;
                return Ok(());
            }
            if out.contains(&Outcome::Refused(Refusal::SplitBrain)) {
                self.stats.split_brains += 1;
            }
            self.link = Link::StandAlone;
            return Ok(());
        }

        let (src, full) = match out {
            [Outcome::Connected, Outcome::Connected] => {
                self.stats.no_sync += 1;
                self.victim = None;
                // Invariant 2: "no resync" means the data are the same.
                if let Some(b) =
                    (0..N).find(|&b| self.nodes[0].stable.data[b] != self.nodes[1].stable.data[b])
                {
                    fail!(
                        "handshake says no resync, but block {b} differs: {} vs {} \
                         (bit set: {} / {})",
                        self.nodes[0].stable.data[b],
                        self.nodes[1].stable.data[b],
                        self.nodes[0].test(b),
                        self.nodes[1].test(b)
                    );
                }
                for b in 0..N {
                    let (k0, k1) = (self.nodes[0].known[b], self.nodes[1].known[b]);
                    let newer = if self.descends(k0, k1) {
                        k0
                    } else if self.descends(k1, k0) {
                        k1
                    } else {
                        fail!("no resync, but block {b} has acked writes {k0} and {k1} from diverging histories");
                    };
                    self.nodes[0].known[b] = newer;
                    self.nodes[1].known[b] = newer;
                }
                self.set_connected_states(None);
                self.apart_acked = [false; 2];
                if self.cfg.mode == BitmapMode::AllAtAttach
                    && self.nodes[0].st.disk == DiskState::UpToDate
                    && self.nodes[1].st.disk == DiskState::UpToDate
                {
                    for n in self.nodes.iter_mut() {
                        if std::mem::take(&mut n.bm_unknown) {
                            n.bm.fill(0);
                        }
                    }
                }
                self.link = Link::Up(None);
                self.both_uptodate();
                return Ok(());
            }
            [Outcome::SyncSource { full: f0 }, Outcome::SyncTarget { full: f1 }] => (0, [f0, f1]),
            [Outcome::SyncTarget { full: f0 }, Outcome::SyncSource { full: f1 }] => (1, [f0, f1]),
            other => fail!("the two handshakes disagree: {other:?}"),
        };
        let tgt = Self::peer(src);
        if full[0] || full[1] {
            self.stats.full_syncs += 1;
        } else {
            self.stats.bitmap_syncs += 1;
        }
        // Invariant 1/3: the resync must not overwrite acknowledged data the source lacks,
        // unless the target was told to discard its data.
        if !dmd[tgt] && !self.recreated[tgt] {
            for b in 0..N {
                let (ks, kt) = (self.nodes[src].known[b], self.nodes[tgt].known[b]);
                if !self.descends(ks, kt) {
                    fail!(
                        "resync node{src} -> node{tgt} would overwrite acked write {kt} in \
                         block {b} with {ks} from another history (lost acknowledged write)"
                    );
                }
            }
        }
        for (i, &f) in full.iter().enumerate() {
            if f {
                self.nodes[i].set_all();
                self.writeout(i, Writeout::C);
            }
        }
        // The bitmap exchange, through the real codec: the source sends first, the target
        // merges and sends the merged bitmap back.
        if !self.cfg.bugs.no_bitmap_exchange {
            let [a, b] = &mut self.nodes;
            let (s, t) = if src == 0 { (a, b) } else { (b, a) };
            xfer(&s.bm, &mut t.bm, &mut self.rng)?;
            xfer(&t.bm, &mut s.bm, &mut self.rng)?;
        }
        self.apart_acked = [false; 2];
        self.recreated = [false; 2];
        self.set_connected_states(Some(src));
        // The source generates and persists the sync UUID; P_SYNC_UUID may or may not arrive.
        let random = self.rng.uuid();
        let n = &mut self.nodes[src];
        let mut u = n.uuids();
        let id = u.gen_sync_uuid(random);
        n.set_uuids(u);
        self.set_state(src, |st| {
            st.conn = ConnState::SyncSource;
            st.pdsk = DiskState::Inconsistent;
        });
        // drbd-rs: the bits of the handshake and the exchange go to disk as the resync starts.
        self.writeout(src, Writeout::DrbdRs);
        self.log(format!(
            "resync node{src} -> node{tgt} (full {full:?}), {} bits, sync uuid {id:x}",
            self.nodes[tgt].weight()
        ));
        self.link = Link::Up(Some(Resync {
            src,
            sync_uuid: Some(id),
            target_started: false,
            target_done: false,
            source_done: false,
            acks: Vec::new(),
            cursor: 0,
        }));
        Ok(())
    }

    fn set_connected_states(&mut self, src: Option<usize>) {
        let roles = [self.nodes[0].st.role, self.nodes[1].st.role];
        let disks = [self.nodes[0].st.disk, self.nodes[1].st.disk];
        for i in 0..2 {
            let p = Self::peer(i);
            let conn = match src {
                None => ConnState::Connected,
                Some(s) if s == i => ConnState::WfBitMapS,
                Some(_) => ConnState::WfBitMapT,
            };
            self.set_state(i, |st| {
                st.conn = conn;
                st.peer = roles[p];
                st.pdsk = disks[p];
            });
        }
    }

    /// A state change, through `sanitize_state` unless the model follows drbd-rs there.
    pub(super) fn set_state(&mut self, i: usize, f: impl FnOnce(&mut State)) {
        let sanitize = self.cfg.sanitize;
        let n = &mut self.nodes[i];
        let os = n.st;
        let mut ns = os;
        f(&mut ns);
        if sanitize {
            ns = state::sanitize_state(&os, &ns, &StateEnv::STANDALONE);
        }
        n.st = ns;
        n.md_sync();
    }

    /// `after_state_ch`: both disks UpToDate clears the crashed-primary flag (C module).
    pub(super) fn both_uptodate(&mut self) {
        if !self.cfg.clear_crashed_primary {
            return;
        }
        if self.nodes.iter().all(|n| n.st.disk == DiskState::UpToDate) {
            for n in self.nodes.iter_mut() {
                n.crashed_primary = false;
                n.md_sync();
            }
        }
    }
}

/// One bitmap transfer from `src` into `dst` (ORed in), packet by packet through the codec,
/// with a random socket buffer size (so that a transfer takes many packets) and RLE on or off.
fn xfer(src: &[u64], dst: &mut [u64], rng: &mut Rng) -> Res {
    let header = 16;
    let buffer = 24 + rng.below(120) as usize;
    let use_rle = rng.chance(80);
    let bm = drbd_core::bitmap_codec::WordBitmap::new(src, NBITS).map_err(|e| format!("{e:?}"))?;
    let mut tx = XferCtx::with_buffer_size(NBITS, buffer);
    let mut rx = XferCtx::with_buffer_size(NBITS, buffer);
    let mut out = vec![0u8; buffer];
    for _ in 0..10_000 {
        let (pkt, step) = tx
            .send_next(&bm, use_rle, header, &mut out)
            .map_err(|e| format!("bitmap send: {e:?}"))?;
        let got = match pkt {
            BitmapPacket::Compressed { len } => rx.receive_compressed(&out[..len], header, dst),
            BitmapPacket::Plain { len } => rx.receive_plain(&out[..len], header, dst),
        }
        .map_err(|e| format!("bitmap receive: {e:?}"))?;
        if got != step {
            fail!("bitmap transfer: sender says {step:?}, receiver {got:?}");
        }
        if step == Step::Done {
            return Ok(());
        }
    }
    fail!("bitmap transfer did not end")
}
