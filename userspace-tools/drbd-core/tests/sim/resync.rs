//! Resync: one resync step at a time (read on the source, write on the target, the
//! `P_RS_WRITE_ACK`s), the target's and the source's end of it (`drbd_resync_finished`).

use super::*;

impl Sim {
    pub(super) fn ev_resync(&mut self) -> Res {
        let Link::Up(Some(r)) = &mut self.link else {
            return Ok(());
        };
        let src = r.src;
        let tgt = Self::peer(src);
        let mut opts = Vec::new();
        if !r.target_started {
            opts.push(0);
        } else if !r.target_done {
            opts.push(1);
        }
        if !r.acks.is_empty() {
            opts.push(2);
        }
        if r.target_done && !r.source_done && (r.acks.is_empty() || self.cfg.source_finish_race) {
            opts.push(3);
        }
        if opts.is_empty() {
            return Ok(());
        }
        match opts[self.rng.below(opts.len() as u64) as usize] {
            0 => {
                // P_SYNC_UUID arrives: the target's data becomes a mix (Inconsistent).
                let id = r.sync_uuid.take().expect("sync uuid");
                r.target_started = true;
                let known = self.nodes[src].known.clone();
                let n = &mut self.nodes[tgt];
                let mut u = n.uuids();
                u.receive_sync_uuid(id, n.st.role);
                n.set_uuids(u);
                n.known = known;
                self.set_state(tgt, |st| {
                    st.conn = ConnState::SyncTarget;
                    st.disk = DiskState::Inconsistent;
                });
                self.writeout(tgt, Writeout::DrbdRs);
                self.log(format!("node{tgt} is SyncTarget"));
            }
            1 => {
                // The interlock: no resync request while application writes are in flight.
                // (The resync waits: let the writes in flight go on instead.)
                if !self.cfg.bugs.no_resync_interlock && !self.writes.is_empty() {
                    return self.ev_progress();
                }
                let max = (1 + self.rng.below(64) as u32) * 4096;
                let planned =
                    oos::plan_request(&self.nodes[tgt].bm, NBITS, CAPACITY, r.cursor, max);
                match planned {
                    Some((req, next)) => {
                        r.cursor = next;
                        let first = (req.sector / oos::BM_SECT_PER_BIT) as usize;
                        let count = (req.bytes / 4096) as usize;
                        for b in first..first + count {
                            let v = self.nodes[src].stable.data[b];
                            self.nodes[tgt].stable.data[b] = v;
                            self.nodes[tgt].clear_block(b);
                            r.acks.push(b);
                        }
                    }
                    None => {
                        if self.nodes[tgt].weight() != 0 {
                            r.cursor = 0;
                            return Ok(());
                        }
                        // The target is done: `drbd_resync_finished` on the target.
                        r.target_done = true;
                        let n = &mut self.nodes[tgt];
                        let mut u = n.uuids();
                        let mut peer = n.peer_uuids.map(|p| p.uuids);
                        let end = resync_finished(
                            &mut u,
                            peer.as_mut(),
                            ResyncSide::Target,
                            false,
                            n.st.role,
                        );
                        if end.peer_uuids_missing {
                            fail!("target finished without the peer's UUIDs");
                        }
                        n.set_uuids(u);
                        n.st.conn = ConnState::Connected;
                        n.st.disk = DiskState::UpToDate;
                        n.st.pdsk = DiskState::UpToDate;
                        n.md_sync();
                        if self.cfg.mode == BitmapMode::Persistent {
                            n.bm_write_out();
                        }
                        // P_UUIDS to the source.
                        let pu = self.uuids_packet(tgt);
                        self.nodes[src].peer_uuids = Some(pu);
                        self.log(format!(
                            "node{tgt} finished resync: uuids {:x?}",
                            self.nodes[tgt].sb.uuids
                        ));
                        if !self.cfg.finish_window {
                            self.settle_resync_end();
                        }
                    }
                }
            }
            2 => {
                let k = self.rng.below(r.acks.len() as u64) as usize;
                let b = r.acks.swap_remove(k);
                // Late acks after the source finished are ignored.
                if !r.source_done {
                    self.nodes[src].clear_block(b);
                }
            }
            _ => {
                self.source_finish();
            }
        }
        let Link::Up(Some(r)) = &self.link else {
            unreachable!()
        };
        if r.target_done && r.source_done && r.acks.is_empty() {
            self.link = Link::Up(None);
            self.stats.resyncs_done += 1;
            self.victim = None;
            // Invariant 4: a completed resync leaves equal data.
            if let Some(b) =
                (0..N).find(|&b| self.nodes[0].stable.data[b] != self.nodes[1].stable.data[b])
            {
                fail!(
                    "resync node{src} -> node{tgt} completed, but block {b} differs: {} vs {}",
                    self.nodes[src].stable.data[b],
                    self.nodes[tgt].stable.data[b]
                );
            }
            self.both_uptodate();
        }
        Ok(())
    }

    /// `drbd_resync_finished` on the source (failed if bits are left: drbd-rs's rule).
    pub(super) fn source_finish(&mut self) {
        let Link::Up(Some(r)) = &mut self.link else {
            return;
        };
        r.source_done = true;
        let src = r.src;
        let n = &mut self.nodes[src];
        let failed = n.weight() != 0;
        let mut u = n.uuids();
        let mut peer = n.peer_uuids.map(|p| p.uuids);
        resync_finished(&mut u, peer.as_mut(), ResyncSide::Source, failed, n.st.role);
        n.set_uuids(u);
        n.st.conn = ConnState::Connected;
        n.st.pdsk = DiskState::UpToDate;
        n.md_sync();
        if self.cfg.mode == BitmapMode::Persistent {
            n.bm_write_out();
        }
        self.log(format!(
            "node{src} finished resync (failed {failed}): uuids {:x?}",
            self.nodes[src].sb.uuids
        ));
    }
}
