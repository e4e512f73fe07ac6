//! Attaching a node's disk (after create-md or a crash: superblock, on-disk bitmap, activity-log
//! replay) and the activity log in Persistent mode (`drbd_al_begin_io` / `drbd_al_complete_io`).

use super::*;

impl Sim {
    pub(super) fn attach(&mut self, i: usize) {
        let mode = self.cfg.mode;
        let skip_al = self.cfg.bugs.skip_al_replay;
        let n = &mut self.nodes[i];
        let sb = Superblock::parse(&n.stable.sb[..]).expect("superblock");
        let (disk, pdsk) = state::disk_state_on_attach(sb.flags, Fencing::DontCare);
        n.crashed_primary = state::crashed_primary_on_attach(sb.flags, Role::Secondary);
        n.sb = sb;
        n.sb.uuids[0] = state::current_uuid_for_role(sb.uuids[0], Role::Secondary);
        n.st = State {
            disk,
            pdsk: pdsk.unwrap_or(DiskState::DUnknown),
            ..State::UNCONFIGURED
        };
        n.up = true;
        n.peer_uuids = None;
        n.discard_my_data = false;
        match mode {
            BitmapMode::AllAtAttach => {
                n.bm = vec![0; NWORDS];
                n.bm_unknown = n.sb.uuids[0] & !1 != UUID_JUST_CREATED;
                if n.bm_unknown {
                    n.set_all();
                }
                n.al = ActiveSet::new(vec![AlSlot::FREE; AL_SLOTS], 0);
            }
            BitmapMode::Persistent => {
                n.bm = n.stable.bm.clone();
                // apply-al (`core::al`): the valid transactions of the ring, oldest to newest,
                // rebuild the active set; every extent in it may hold writes that reached only
                // this disk, so it is marked out of sync.
                let tr: Vec<Option<u32>> = n
                    .stable
                    .al
                    .iter()
                    .map(|b| {
                        AlTransaction::decode(&b[..])
                            .ok()
                            .map(|t| t.header().tr_number)
                    })
                    .collect();
                let mut order = [0usize; AL_RING];
                let count = replay_order(&tr, &mut order);
                let mut replay = Replay::new(vec![LC_FREE; AL_SLOTS]);
                for &k in &order[..count] {
                    let t = AlTransaction::decode(&n.stable.al[k][..]).expect("valid block");
                    replay.apply(&t);
                }
                if !skip_al {
                    for e in replay.extents() {
                        let a = u64::from(e) * EXT_BLOCKS as u64;
                        oos::change_bits(&mut n.bm, NBITS, a, a + EXT_BLOCKS as u64 - 1, true);
                    }
                }
                let next_tr = order[..count]
                    .last()
                    .and_then(|&k| tr[k])
                    .map_or(0, |t| t.wrapping_add(1));
                // The replayed bits go to disk before anything else happens.
                n.bm_write_out();
                n.al = ActiveSet::new(vec![AlSlot::FREE; AL_SLOTS], next_tr);
                n.bm_unknown = false;
            }
        }
        n.md_sync();
        self.log(format!(
            "node{} attached: disk {:?} uuids {:x?} crashed_primary {} bits {}",
            i,
            self.nodes[i].st.disk,
            self.nodes[i].sb.uuids,
            self.nodes[i].crashed_primary,
            self.nodes[i].weight()
        ));
    }

    // -----------------------------------------------------------------------------------------
    // Activity log (Persistent mode)
    // -----------------------------------------------------------------------------------------

    /// `drbd_al_begin_io` (`core::al`): makes the block's extent active, writing a transaction
    /// if it was not (the bitmap words of an evicted extent go to disk first). Returns the
    /// extent referenced, `Some(None)` without an AL, or `None` if no slot is free (the write
    /// waits).
    pub(super) fn al_begin(&mut self, i: usize, block: usize) -> Option<Option<u32>> {
        if self.cfg.mode != BitmapMode::Persistent {
            return Some(None);
        }
        let ext = (block / EXT_BLOCKS) as u32;
        let n = &mut self.nodes[i];
        if n.al.try_get(ext, ext) {
            return Some(Some(ext));
        }
        let plan = match n.al.plan(ext, ext) {
            Ok(p) => p,
            Err(AlPlanError::NoFreeSlot) => return None,
            Err(e) => panic!("AL plan: {e:?}"),
        };
        n.al.begin(&plan);
        for old in plan.evicted() {
            // `drbd_bm_write_hinted`: the evicted extent's bitmap words go to disk first.
            let a = old as usize * EXT_BLOCKS;
            for w in a / 64..(a + EXT_BLOCKS).div_ceil(64) {
                n.stable.bm[w] = n.bm[w];
            }
        }
        let mut ctx = vec![0u32; AL_CONTEXT_PER_TRANSACTION];
        let t = n.al.transaction(&plan, &mut ctx);
        let pos = t.tr_number as usize % AL_RING;
        t.encode(&mut n.stable.al[pos]).expect("AL encode");
        n.al.commit(&plan);
        assert!(
            n.al.try_get(ext, ext),
            "extent active after its transaction"
        );
        self.stats.al_transactions += 1;
        Some(Some(ext))
    }

    pub(super) fn al_complete(&mut self, i: usize, extent: Option<u32>) {
        if let Some(e) = extent {
            self.nodes[i].al.put(e, e);
        }
    }
}
