//! The simulation's events other than connect and resync steps: application writes and their
//! completion, losing the connection, crashes, restarts, promotion and demotion, bitmap
//! write-out, and the operator resolving a split brain.

use super::*;

impl Sim {
    fn replicating(&self, i: usize) -> bool {
        self.connected() && self.nodes[Self::peer(i)].up
    }

    pub(super) fn ev_write(&mut self) -> Res {
        let cands: Vec<usize> = (0..2)
            .filter(|&i| {
                let n = &self.nodes[i];
                n.up && n.st.role == Role::Primary && n.st.disk == DiskState::UpToDate
            })
            .collect();
        if cands.is_empty() {
            return Ok(());
        }
        let i = cands[self.rng.below(cands.len() as u64) as usize];
        if self.writes.iter().filter(|w| w.node == i).count() >= MAX_INFLIGHT {
            return Ok(());
        }
        let block = if self.rng.chance(60) {
            self.rng.below(48) as usize
        } else {
            self.rng.below(N as u64) as usize
        };
        if self.writes.iter().any(|w| w.node == i && w.block == block) {
            return Ok(());
        }
        let Some(al_extent) = self.al_begin(i, block) else {
            return Ok(());
        };
        let val = self.parent.len() as u64;
        self.parent.push(self.nodes[i].stable.data[block]);
        let remote = if self.replicating(i) {
            Remote::Sent
        } else {
            if !self.cfg.bugs.no_oos_when_disconnected {
                self.nodes[i].set_bit(block);
            }
            Remote::None
        };
        self.log(format!("node{i} write block {block} = {val} ({remote:?})"));
        self.writes.push(Write {
            node: i,
            block,
            val,
            local: false,
            remote,
            al_extent,
        });
        Ok(())
    }

    pub(super) fn ev_progress(&mut self) -> Res {
        if self.writes.is_empty() {
            return Ok(());
        }
        let k = self.rng.below(self.writes.len() as u64) as usize;
        let w = self.writes[k];
        let p = Self::peer(w.node);
        let mut opts = Vec::new();
        if !w.local {
            opts.push(0);
        }
        if w.remote == Remote::Sent {
            opts.push(1);
        }
        if w.remote == Remote::Applied {
            opts.push(2);
        }
        if !opts.is_empty() {
            match opts[self.rng.below(opts.len() as u64) as usize] {
                0 => {
                    self.nodes[w.node].stable.data[w.block] = w.val;
                    self.writes[k].local = true;
                }
                1 => {
                    // The peer's receiver writes in order; a SyncTarget takes application
                    // writes too (its bit stays set, so the block is resynced anyway).
                    self.nodes[p].stable.data[w.block] = w.val;
                    self.writes[k].remote = Remote::Applied;
                }
                _ => self.writes[k].remote = Remote::Acked,
            }
        }
        let w = self.writes[k];
        if w.local && matches!(w.remote, Remote::None | Remote::Acked) {
            self.writes.remove(k);
            self.al_complete(w.node, w.al_extent);
            self.nodes[w.node].known[w.block] = w.val;
            if w.remote == Remote::Acked {
                self.nodes[p].known[w.block] = w.val;
            } else {
                self.apart_acked[w.node] = true;
            }
            self.stats.acked += 1;
            self.log(format!(
                "node{} acked block {} = {} ({:?})",
                w.node, w.block, w.val, w.remote
            ));
        }
        Ok(())
    }

    /// The connection ends (network failure, or the peer crashed). `crashed`: the node that
    /// crashed, whose in-flight writes are gone.
    fn lose_connection(&mut self, crashed: Option<usize>) {
        let was_up = std::mem::replace(&mut self.link, Link::Down);
        if !matches!(was_up, Link::Up(_)) {
            return;
        }
        // P_DATA still in the socket may or may not reach the peer; the writer marks every
        // write not acknowledged out of sync and completes it locally.
        for k in 0..self.writes.len() {
            let w = self.writes[k];
            let p = Self::peer(w.node);
            if w.remote == Remote::Sent && crashed != Some(p) && self.rng.chance(50) {
                self.nodes[p].stable.data[w.block] = w.val;
            }
            if matches!(w.remote, Remote::Sent | Remote::Applied) {
                if crashed != Some(w.node) {
                    self.nodes[w.node].set_bit(w.block);
                }
                self.writes[k].remote = Remote::None;
            }
        }
        for i in 0..2 {
            if crashed == Some(i) || !self.nodes[i].up {
                continue;
            }
            let bug = self.cfg.bugs.no_new_current_on_lost_peer;
            let persistent =
                self.cfg.mode == BitmapMode::Persistent && self.cfg.writeout == Writeout::C;
            let random = self.rng.uuid();
            let n = &mut self.nodes[i];
            let os = n.st;
            n.st.conn = ConnState::NetworkFailure;
            n.st.peer = Role::Unknown;
            n.st.pdsk = DiskState::DUnknown;
            let ns = n.st;
            let u = n.uuids();
            if !bug
                && drbd_core::uuid::needs_new_current_uuid(
                    &u, os.pdsk, ns.pdsk, os.peer, ns.role, ns.peer, ns.disk,
                )
            {
                let mut u = u;
                u.new_current(ns.role, random);
                n.set_uuids(u);
            }
            n.st.conn = ConnState::StandAlone;
            n.md_sync();
            if persistent {
                n.bm_write_out();
            }
            n.peer_uuids = None;
            let s = format!(
                "node{i} lost its peer: disk {:?} uuids {:x?} bits {}",
                n.st.disk,
                n.sb.uuids,
                n.weight()
            );
            self.log(s);
        }
    }

    /// Closes the window between the target's and the source's end of a resync: the last
    /// acks reach the source and it finishes in the same step as the target.
    pub(super) fn settle_resync_end(&mut self) {
        let Link::Up(Some(r)) = &mut self.link else {
            return;
        };
        if !r.target_done || r.source_done {
            return;
        }
        let src = r.src;
        if self.cfg.source_finish_race && !r.acks.is_empty() && self.rng.chance(50) {
            // drbd-rs: the target's P_STATE overtakes its last P_RS_WRITE_ACKs.
            self.log("the source learns the target finished before the last acks".into());
            self.source_finish();
            return;
        }
        let acks = std::mem::take(&mut r.acks);
        for b in acks {
            self.nodes[src].clear_block(b);
        }
        self.log("the source gets the last acks at once".into());
        self.source_finish();
    }

    pub(super) fn ev_disconnect(&mut self) -> Res {
        if self.connected() {
            self.log("network failure".into());
            self.lose_connection(None);
        }
        Ok(())
    }

    pub(super) fn ev_crash(&mut self, i: usize) -> Res {
        if !self.nodes[i].up {
            return Ok(());
        }
        self.stats.crashes += 1;
        self.log(format!("node{i} crashes"));
        self.lose_connection(Some(i));
        if matches!(self.link, Link::StandAlone) {
            self.link = Link::Down;
        }
        // Unfinished local writes reach the disk or not, in any order.
        let mut k = 0;
        while k < self.writes.len() {
            let w = self.writes[k];
            if w.node == i {
                if !w.local && self.rng.chance(50) {
                    self.nodes[i].stable.data[w.block] = w.val;
                }
                self.writes.remove(k);
            } else {
                k += 1;
            }
        }
        let n = &mut self.nodes[i];
        n.up = false;
        n.st = State::UNCONFIGURED;
        Ok(())
    }

    pub(super) fn ev_restart(&mut self, i: usize) -> Res {
        if self.nodes[i].up {
            return Ok(());
        }
        self.attach(i);
        Ok(())
    }

    pub(super) fn ev_promote(&mut self, i: usize) -> Res {
        let p = Self::peer(i);
        let n = &self.nodes[i];
        if !n.up || n.st.role == Role::Primary || n.st.disk != DiskState::UpToDate {
            return Ok(());
        }
        if self.connected() && self.nodes[p].st.role == Role::Primary {
            return Ok(()); // two primaries are refused while connected
        }
        // Mostly a failover (the other node is down or Secondary); sometimes, while
        // disconnected, a second Primary: split brain in the making.
        if !self.connected()
            && self.nodes[p].up
            && self.nodes[p].st.role == Role::Primary
            && !self.rng.chance(30)
        {
            return Ok(());
        }
        let random = self.rng.uuid();
        let n = &mut self.nodes[i];
        let ch = match state::set_role(
            &n.st,
            Role::Primary,
            false,
            &StateEnv::STANDALONE,
            &mut || true,
        ) {
            Ok(Some(ch)) => ch,
            // Refused in the middle of a connection's state changes (e.g. WFBitMapT).
            Err(_) if n.st.conn != ConnState::StandAlone => return Ok(()),
            other => fail!(
                "node{i}: promotion of an UpToDate Secondary refused: {other:?} in {:?}",
                n.st
            ),
        };
        let (u, _) = state::uuids_after_role_change(&n.sb.uuids, &ch.state, ch.forced, random);
        // The two implementations of drbd_set_role's UUID rule agree.
        let mut u2 = n.uuids();
        u2.promote(ch.state.conn, ch.state.pdsk, ch.forced, random);
        if u2.to_array() != u {
            fail!(
                "Uuids::promote {:x?} != uuids_after_role_change {:x?}",
                u2,
                u
            );
        }
        n.st = ch.state;
        n.sb.uuids = u;
        n.md_sync();
        self.stats.failovers += 1;
        let s = format!("node{i} promoted: uuids {:x?}", self.nodes[i].sb.uuids);
        self.log(s);
        Ok(())
    }

    pub(super) fn ev_demote(&mut self, i: usize) -> Res {
        let n = &self.nodes[i];
        if !n.up || n.st.role != Role::Primary || self.writes.iter().any(|w| w.node == i) {
            return Ok(());
        }
        let persistent =
            self.cfg.mode == BitmapMode::Persistent && self.cfg.writeout == Writeout::C;
        let n = &mut self.nodes[i];
        let ch = match state::set_role(
            &n.st,
            Role::Secondary,
            false,
            &StateEnv::STANDALONE,
            &mut || true,
        ) {
            Ok(Some(ch)) => ch,
            other => fail!("node{i}: demotion refused: {other:?}"),
        };
        let (u, _) = state::uuids_after_role_change(&n.sb.uuids, &ch.state, false, 0);
        n.st = ch.state;
        n.sb.uuids = u;
        n.md_sync();
        if persistent {
            n.bm_write_out();
        }
        self.log(format!("node{i} demoted"));
        Ok(())
    }

    /// Writes node `i`'s whole bitmap out if the configured policy does at `when`.
    pub(super) fn writeout(&mut self, i: usize, when: Writeout) {
        if self.cfg.mode == BitmapMode::Persistent && self.cfg.writeout == when {
            self.nodes[i].bm_write_out();
        }
    }

    pub(super) fn ev_bm_writeout(&mut self, i: usize) -> Res {
        if self.nodes[i].up {
            self.writeout(i, Writeout::C);
        }
        Ok(())
    }

    /// The operator resolves a split brain: `--discard-my-data` on a victim (demoted first).
    pub(super) fn ev_resolve(&mut self) -> Res {
        if !matches!(self.link, Link::StandAlone) || !self.writes.is_empty() {
            return Ok(());
        }
        // The operator sticks to the victim once chosen, until a resync made the two equal:
        // picking the other one after an interrupted start could keep a node whose data had
        // already begun to turn into the peer's (Outdated, a mix of both histories).
        let v = match self.victim {
            Some(v) => v,
            None => self.rng.below(2) as usize,
        };
        if !self.nodes[v].up {
            return Ok(());
        }
        self.victim = Some(v);
        if self.nodes[v].st.role == Role::Primary {
            self.ev_demote(v)?;
            if self.nodes[v].st.role == Role::Primary {
                return Ok(());
            }
        }
        self.nodes[v].discard_my_data = true;
        self.link = Link::Down;
        self.stats.resolved += 1;
        self.log(format!("operator: node{v} connects with --discard-my-data"));
        self.ev_connect()
    }
}
