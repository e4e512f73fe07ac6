// SPDX-License-Identifier: GPL-2.0

//! A session's answer to a read the peer asked for: the block's data, or the negative reply
//! if the local read failed. Used for the peer's reads, resync requests and checksum resync.

use super::{Failure, Session};
use crate::drbd_core::{packets::DataHeader, wire::Command};
use crate::sys::pages::PageBuf;

impl Session {
    /// Answers a read the peer asked for with the data in `buf` (`P_DATA_REPLY`, or
    /// `P_RS_DATA_REPLY` for resync), or with `P_NEG_DREPLY` / `P_NEG_RS_DREPLY` if the read failed.
    pub(crate) fn send_read_reply(
        &self,
        vnr: u16,
        buf: &PageBuf,
        sector: u64,
        block_id: u64,
        resync: bool,
        failed: bool,
    ) {
        let s = self;
        {
            let bytes = buf.len() as u32;
            if failed {
                let cmd = if resync {
                    Command::NegRsDReply
                } else {
                    Command::NegDReply
                };
                let _ = s.send_ack(vnr, cmd, sector, block_id, bytes);
                return;
            }
            let cmd = if resync {
                Command::RsDataReply
            } else {
                Command::DataReply
            };
            let dh = DataHeader {
                sector,
                block_id,
                seq_num: 0,
                dp_flags: 0,
            };
            let mut sub = [0u8; DataHeader::SIZE];
            if dh.encode(&mut sub).is_err() {
                return;
            }
            let tx = s.data_tx.lock();
            if s.is_failed() {
                return;
            }
            let r = s.header(vnr, cmd, DataHeader::SIZE as u32 + bytes).and_then(|(h, n)| {
                s.data.send_all(&h[..n], true)?;
                s.data.send_all(&sub, true)?;
                let mut left = buf.len();
                for (page, used) in buf.pages() {
                    left -= used;
                    s.data.send_page(page, 0, used, left > 0)?;
                }
                Ok(())
            });
            if let Err(e) = r {
                s.fail(Failure::of_error(e));
            }
            drop(tx);
        }
    }
}
