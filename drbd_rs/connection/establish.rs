// SPDX-License-Identifier: GPL-2.0

//! Establishing sessions: the receiver thread's connect loop (listen and connect at once,
//! sort out which socket is which), the feature handshake, `cram-hmac` authentication, and
//! running one session until it fails.

use super::*;

/// The handshake's own errors: which are the peer's fault and how to go on.
pub(super) enum HandshakeError {
    /// Drop these sockets and keep waiting for the configured peer.
    Retry,
    /// Give up the configuration (incompatible settings).
    Fatal,
    /// The thread must stop.
    Stop,
}

/// Why the first packet of an accepted socket is not `P_INITIAL_DATA` / `P_INITIAL_META`.
pub(super) enum BadFirst {
    Recv(ShortRead),
    Header(BadHeader),
    Command(u16, u32),
}

impl fmt::Display for BadFirst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadFirst::Recv(r) => r.fmt(f),
            BadFirst::Header(h) => h.fmt(f),
            BadFirst::Command(c, len) => write!(
                f,
                "unexpected packet {} (0x{:04x}), length {}",
                Command::from_u16(*c).map_or("Unknown", |c| c.name()),
                c,
                len
            ),
        }
    }
}

impl Connection {
    /// The receiver thread: connect, run a session, clean up, and again, until stopped.
    pub(super) fn receiver_main(self: Arc<Self>) {
        let mut listener: Option<Listener> = None;
        while !self.stop_requested() {
            self.set_all_conn(ConnState::WfConnection);
            if listener.is_none() {
                match Listener::bind(&self.my_addr) {
                    Ok(l) => listener = Some(l),
                    Err(e) => {
                        if self.stranger_log() {
                            conn_err!(self, "Failed to bind to {}: {}\n", self.my_addr, e.to_errno());
                        }
                    }
                }
            }
            let established = match listener.as_ref() {
                Some(l) => self.connect(l),
                None => {
                    thread::sleep_ms(1000);
                    continue;
                }
            };
            let (data, meta, resolve) = match established {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(_) => break,
            };
            let session = match self.handshake(data, meta, resolve) {
                Ok(s) => s,
                Err(HandshakeError::Retry) => {
                    self.set_all_conn(ConnState::Unconnected);
                    thread::sleep_ms(1000);
                    continue;
                }
                Err(HandshakeError::Stop) => break,
                Err(HandshakeError::Fatal) => {
                    conn_warn!(self, "Discarding network configuration.\n");
                    self.stopping.store(true, Ordering::Release);
                    break;
                }
            };
            let fatal = self.run_session(&session);
            if fatal {
                conn_warn!(self, "Discarding network configuration.\n");
                self.stopping.store(true, Ordering::Release);
                break;
            }
            if !self.stop_requested() {
                thread::sleep_ms(1000);
            }
        }
        drop(listener);
        if !thread::should_stop() {
            // Gave up on our own (incompatible peer): StandAlone without a network
            // configuration, as the C module goes.
            self.detach_devices(ConnState::StandAlone);
            events::gave_up(&self);
        }
    }

    /// Establishes both sockets (`drbd_connect`'s loop). `Ok(None)`: try again; `Err`: stop.
    pub(super) fn connect(&self, listener: &Listener) -> Result<Option<(TcpStream, TcpStream, bool)>> {
        let (connect_ms, ping_timeo_ms, check_ms, snd, rcv) = {
            let s = self.settings.lock();
            let check = if s.sock_check_timeo_ds != 0 {
                s.sock_check_timeo_ds.saturating_mul(100)
            } else {
                s.ping_timeo_ms()
            };
            (s.connect_int_s.saturating_mul(1000), s.ping_timeo_ms(), check, s.sndbuf, s.rcvbuf)
        };
        let mut data: Option<TcpStream> = None;
        let mut meta: Option<TcpStream> = None;
        let mut resolve = false;
        loop {
            if self.stop_requested() {
                return Err(EINTR);
            }
            if let Ok(s) = TcpStream::connect(&self.my_addr, &self.peer_addr, connect_ms) {
                s.set_buffer_sizes(snd, rcv);
                if data.is_none() {
                    if self.send_first(&s, Command::InitialData).is_ok() {
                        data = Some(s);
                    }
                } else if meta.is_none() {
                    if self.send_first(&s, Command::InitialMeta).is_ok() {
                        resolve = false;
                        meta = Some(s);
                    }
                }
            }
            if data.is_some() && meta.is_some() && self.established(&data, &meta, check_ms) {
                break;
            }
            // Accept (maybe twice, when the peer's first packet crossed ours: "randomize").
            loop {
                let jitter = connect_ms / 7;
                let wait = if sys::random_u64() & 1 != 0 {
                    connect_ms.saturating_add(jitter)
                } else {
                    connect_ms - jitter
                };
                let s = match listener.accept(wait) {
                    Ok(Some(s)) => s,
                    Ok(None) => break,
                    Err(e) if e == EINTR => return Err(EINTR),
                    Err(_) => break,
                };
                if !self.is_peer(&s) {
                    if self.stranger_log() {
                        match s.peer_addr() {
                            Ok(a) => conn_warn!(self, "Dropping a connection from {}: not the configured peer\n", a),
                            Err(_) => conn_warn!(self, "Dropping a connection: not the configured peer\n"),
                        }
                    }
                    break;
                }
                s.set_buffer_sizes(snd, rcv);
                let fp = match self.receive_first(&s, ping_timeo_ms.saturating_mul(4)) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        if self.stranger_log() {
                            conn_warn!(self, "Error receiving initial packet: {}\n", e);
                        }
                        None
                    }
                };
                data = data.filter(|d| d.is_alive());
                meta = meta.filter(|m| m.is_alive());
                let crossed = match fp {
                    Some(Command::InitialData) => {
                        let c = data.is_some();
                        if c && self.stranger_log() {
                            conn_warn!(self, "initial packet S crossed\n");
                        }
                        data = Some(s);
                        c
                    }
                    Some(Command::InitialMeta) => {
                        resolve = true;
                        let c = meta.is_some();
                        if c && self.stranger_log() {
                            conn_warn!(self, "initial packet M crossed\n");
                        }
                        meta = Some(s);
                        c
                    }
                    _ => true,
                };
                if crossed && sys::random_u64() & 1 != 0 {
                    continue;
                }
                break;
            }
            data = data.filter(|d| d.is_alive());
            meta = meta.filter(|m| m.is_alive());
            if data.is_some() && meta.is_some() && self.established(&data, &meta, check_ms) {
                break;
            }
        }
        match (data, meta) {
            (Some(d), Some(m)) => Ok(Some((d, m, resolve))),
            _ => Ok(None),
        }
    }

    /// Whether an accepted socket comes from the configured peer's address (any port).
    pub(super) fn is_peer(&self, s: &TcpStream) -> bool {
        match s.peer_addr() {
            Ok(a) => a.same_host(&self.peer_addr),
            Err(_) => false,
        }
    }

    /// `connection_established`: both sockets up and still alive after a short wait.
    pub(super) fn established(&self, d: &Option<TcpStream>, m: &Option<TcpStream>, check_ms: u32) -> bool {
        let (Some(d), Some(m)) = (d, m) else {
            return false;
        };
        thread::sleep_ms(check_ms);
        d.is_alive() && m.is_alive()
    }

    pub(super) fn send_first(&self, s: &TcpStream, cmd: Command) -> Result {
        let mut h = [0u8; 8];
        wire::encode_header(&mut h, 0, 0, cmd as u16, 0).ok_or(EINVAL)?;
        s.set_timeouts(Some(self.settings.lock().ping_timeo_ms() * 4), None);
        s.send_all(&h, false)
    }

    /// Reads the first packet of an accepted socket: its command, if it is a valid one.
    pub(super) fn receive_first(&self, s: &TcpStream, timeout_ms: u32) -> core::result::Result<Command, BadFirst> {
        s.set_timeouts(Some(timeout_ms), Some(timeout_ms));
        let mut h = [0u8; 8];
        s.recv_exact(&mut h)
            .map_err(|err| BadFirst::Recv(ShortRead { err, size: h.len() }))?;
        let hdr = wire::decode_header(&h, 0)
            .map_err(|err| BadFirst::Header(BadHeader { err, proto: 80 }))?;
        match Command::from_u16(hdr.command) {
            Some(c @ (Command::InitialData | Command::InitialMeta)) if hdr.length == 0 => Ok(c),
            _ => Err(BadFirst::Command(hdr.command, hdr.length)),
        }
    }

    /// The features handshake, cram-hmac and the parameters (`conn_connect` after the sockets).
    pub(super) fn handshake(
        self: &Arc<Self>,
        data: TcpStream,
        meta: TcpStream,
        resolve: bool,
    ) -> core::result::Result<Arc<Session>, HandshakeError> {
        let st = self.settings.lock().try_clone().map_err(|_| HandshakeError::Retry)?;
        let ping_timeo = st.ping_timeo_ms() * 4;
        data.set_nodelay();
        meta.set_nodelay();
        data.set_timeouts(Some(ping_timeo), Some(ping_timeo));
        meta.set_timeouts(Some(st.ping_int_s.saturating_mul(1000)), Some(st.timeout_ds.saturating_mul(100)));

        // Features: an 8-byte header before any version is agreed.
        let neg = FeatureNegotiation::DRBD_84;
        let mut buf = [0u8; 8 + ConnectionFeatures::SIZE];
        let n = neg.packet().encode(&mut buf[8..]).map_err(|_| HandshakeError::Retry)?;
        wire::encode_header(&mut buf, 0, 0, Command::ConnectionFeatures as u16, n as u32)
            .ok_or(HandshakeError::Retry)?;
        data.send_all(&buf, false).map_err(|_| HandshakeError::Retry)?;
        let mut h = [0u8; 8];
        data.recv_exact(&mut h).map_err(|e| self.hs_io(e))?;
        let hdr = match wire::decode_header(&h, 0) {
            Ok(hdr) => hdr,
            Err(err) => {
                if self.handshake_log() {
                    conn_err!(self, "Handshake: {}\n", BadHeader { err, proto: 80 });
                }
                return Err(HandshakeError::Retry);
            }
        };
        if let Err(e) = neg.check_header(&hdr) {
            if self.handshake_log() {
                conn_err!(self, "{}\n", e);
            }
            return Err(HandshakeError::Retry);
        }
        let mut payload = [0u8; ConnectionFeatures::SIZE];
        data.recv_exact(&mut payload).map_err(|e| self.hs_io(e))?;
        let peer = ConnectionFeatures::decode(&payload, 0).map_err(|_| HandshakeError::Retry)?;
        let ag = match neg.negotiate(&peer) {
            Ok(a) => a,
            Err(e) => {
                if self.handshake_log() {
                    conn_err!(self, "{}\n", e);
                }
                return Err(HandshakeError::Retry);
            }
        };
        conn_info!(self, "{}\n", format_args!("{}", ag));
        conn_info!(self, "{}\n", format_args!("{}", ag.features_line()));

        if !st.cram_hmac_alg.is_empty() {
            self.authenticate(&data, &st, ag.protocol)?;
        }

        // The transfer log's epochs of this session start at a random number.
        let first_epoch = (sys::random_u64() as u32) | 1;
        self.tl_epoch.store(first_epoch, Ordering::Release);
        let session = Arc::pin_init(
            try_pin_init!(Session {
                conn: self.clone(),
                data,
                meta,
                agreed: ag.protocol,
                features: ag.features,
                resolve_conflicts: resolve,
                data_tx <- new_mutex!(DataTx { epoch: first_epoch, epoch_writes: 0 }),
                meta_tx <- new_mutex!(()),
                failed: AtomicBool::new(false),
                failure: AtomicU32::new(0),
                ack_seq: AtomicU32::new(0),
                ping_pending: AtomicBool::new(false),
                st_reply <- new_mutex!(None),
                st_reply_cv <- new_condvar!(),
                tl <- new_mutex!(crate::request::Tl::default()),
                protocol: st.protocol,
                rx <- new_mutex!(rx_epoch::RxEpoch::default()),
                rx_cv <- new_condvar!(),
                peer_seq <- new_spinlock!(PeerSeq::new()),
                peer_seq_cv <- new_condvar!(),
                verify_tfm <- crate::sys::crypto::ShashSlot::new(),
                csums_tfm <- crate::sys::crypto::ShashSlot::new(),
            }),
            GFP_KERNEL,
        )
        .map_err(|_| HandshakeError::Retry)?;
        // From here the data socket waits forever for the peer (the ack receiver's pings
        // detect a dead one) and sends give up after `timeout`.
        session
            .data
            .set_timeouts(None, Some(st.timeout_ds.saturating_mul(100).saturating_mul(st.ko_count.max(1))));
        Ok(session)
    }

    pub(super) fn hs_io(&self, e: Error) -> HandshakeError {
        if e == EINTR && thread::should_stop() {
            return HandshakeError::Stop;
        }
        if self.handshake_log() {
            conn_warn!(self, "Handshake failed: socket error {}\n", e.to_errno());
        }
        HandshakeError::Retry
    }

    /// cram-hmac (`drbd_do_auth`): challenge the peer with 64 random bytes and answer its
    /// challenge with the HMAC of it under the shared secret.
    pub(super) fn authenticate(
        &self,
        data: &TcpStream,
        st: &NetSettings,
        agreed: u32,
    ) -> core::result::Result<(), HandshakeError> {
        let mut alg = KVec::with_capacity(st.cram_hmac_alg.len() + 7, GFP_KERNEL)
            .map_err(|_| HandshakeError::Retry)?;
        let _ = alg.extend_from_slice(b"hmac(", GFP_KERNEL);
        let _ = alg.extend_from_slice(&st.cram_hmac_alg, GFP_KERNEL);
        let _ = alg.extend_from_slice(b")\0", GFP_KERNEL);
        let alg = CStr::from_bytes_with_nul(&alg).map_err(|_| HandshakeError::Fatal)?;
        let mut tfm = Shash::new(alg).map_err(|_| {
            conn_err!(self, "cram-hmac-alg {} not available\n", name_str(&st.cram_hmac_alg));
            HandshakeError::Fatal
        })?;
        tfm.set_key(&st.shared_secret).map_err(|_| HandshakeError::Fatal)?;

        let mut mine = [0u8; CHALLENGE_LEN];
        for c in mine.chunks_mut(8) {
            c.copy_from_slice(&sys::random_u64().to_ne_bytes());
        }
        let hs = wire::header_size(agreed);
        let mut out = [0u8; 16 + 2 * CHALLENGE_LEN];
        let n = AuthChallenge::new(&mine)
            .and_then(|c| c.encode(&mut out[hs..]))
            .map_err(|_| HandshakeError::Retry)?;
        wire::encode_header(&mut out, agreed, 0, Command::AuthChallenge as u16, n as u32)
            .ok_or(HandshakeError::Retry)?;
        data.send_all(&out[..hs + n], false).map_err(|e| self.hs_io(e))?;

        let (cmd, body) = self.recv_handshake_packet(data, agreed)?;
        if cmd != Command::AuthChallenge {
            conn_err!(self, "expected AuthChallenge packet, received: {}\n", cmd.name());
            return Err(HandshakeError::Retry);
        }
        let theirs = AuthChallenge::decode(&body, agreed).map_err(|e| {
            conn_err!(self, "AuthChallenge: {}\n", e);
            HandshakeError::Retry
        })?;
        if theirs.is_reflection_of(&mine) {
            conn_err!(self, "Peer presented the same challenge!\n");
            return Err(HandshakeError::Retry);
        }
        let mut resp = [0u8; 64];
        let rlen = tfm
            .digest(theirs.as_bytes(), &mut resp)
            .map_err(|_| HandshakeError::Retry)?;
        let n = AuthResponse::new(&resp[..rlen])
            .and_then(|r| r.encode(&mut out[hs..]))
            .map_err(|_| HandshakeError::Retry)?;
        wire::encode_header(&mut out, agreed, 0, Command::AuthResponse as u16, n as u32)
            .ok_or(HandshakeError::Retry)?;
        data.send_all(&out[..hs + n], false).map_err(|e| self.hs_io(e))?;

        let (cmd, body) = self.recv_handshake_packet(data, agreed)?;
        if cmd != Command::AuthResponse {
            conn_err!(self, "expected AuthResponse packet, received: {}\n", cmd.name());
            return Err(HandshakeError::Retry);
        }
        let got = AuthResponse::decode_expecting(&body, rlen).map_err(|_| {
            conn_err!(self, "expected AuthResponse payload of wrong size\n");
            HandshakeError::Retry
        })?;
        let mut right = [0u8; 64];
        let rl = tfm.digest(&mine, &mut right).map_err(|_| HandshakeError::Retry)?;
        if got.as_bytes() != &right[..rl] {
            if self.handshake_log() {
                conn_err!(self, "Authentication of peer failed\n");
            }
            return Err(HandshakeError::Retry);
        }
        conn_info!(
            self,
            "Peer authenticated using {} bytes HMAC\n",
            rl
        );
        Ok(())
    }

    /// Reads one handshake packet (at most 128 payload bytes).
    pub(super) fn recv_handshake_packet(
        &self,
        data: &TcpStream,
        agreed: u32,
    ) -> core::result::Result<(Command, KVec<u8>), HandshakeError> {
        let hs = wire::header_size(agreed);
        let mut h = [0u8; 16];
        data.recv_exact(&mut h[..hs]).map_err(|e| self.hs_io(e))?;
        let hdr = wire::decode_header(&h[..hs], agreed).map_err(|err| {
            if self.handshake_log() {
                conn_err!(self, "Handshake: {}\n", BadHeader { err, proto: agreed });
            }
            HandshakeError::Retry
        })?;
        let cmd = Command::from_u16(hdr.command).ok_or(HandshakeError::Retry)?;
        let rule = crate::drbd_core::packets::expected_payload(cmd, agreed, 0)
            .ok_or(HandshakeError::Retry)?;
        if let Err(e) = rule.check(hdr.command, hdr.length) {
            conn_err!(self, "{}\n", e);
            return Err(HandshakeError::Retry);
        }
        let mut body = KVec::new();
        body.resize(hdr.length as usize, 0, GFP_KERNEL)
            .map_err(|_| HandshakeError::Retry)?;
        data.recv_exact(&mut body).map_err(|e| self.hs_io(e))?;
        Ok((cmd, body))
    }

    /// Runs an established session until it fails; returns whether the configuration must be
    /// given up.
    pub(super) fn run_session(self: &Arc<Self>, session: &Arc<Session>) -> bool {
        self.connect_cnt.fetch_add(1, Ordering::AcqRel);
        *self.session.lock() = Some(session.clone());
        let ack = {
            let s2 = session.clone();
            let engine = self.engine;
            let mut tname = [0u8; 16];
            tname[..7].copy_from_slice(b"drbd_a_");
            let n = self.name.len().min(8);
            tname[7..7 + n].copy_from_slice(&self.name[..n]);
            match CStr::from_bytes_with_nul(&tname[..=7 + n]) {
                Ok(name) => KThread::spawn(name, move || (engine.receive_acks)(s2)).ok(),
                Err(_) => None,
            }
        };
        if ack.is_none() {
            session.fail(Failure::NetworkFailure);
        } else {
            (self.engine.receive)(session);
        }
        if let Some(a) = ack {
            a.stop();
        }
        *self.session.lock() = None;
        let why = session.failure();
        (self.engine.cleanup)(session, why);
        let next = if why == Failure::Incompatible || self.stop_requested() {
            ConnState::Disconnecting
        } else {
            why.conn_state()
        };
        for (_, d) in self.devices.iter() {
            d.lost_peer(next);
        }
        if !matches!(why, Failure::Incompatible | Failure::Disconnect) {
            self.set_all_conn(ConnState::Unconnected);
        }
        // A Primary that lost a peer it did not know outdated fences it (`conn_disconnect`
        // runs `conn_try_outdate_peer_async`); the receiver goes on connecting meanwhile.
        if self.devices.iter().any(|(_, d)| {
            let st = d.state();
            st.role == crate::drbd_core::genl::Role::Primary
                && st.pdsk.raw() >= crate::drbd_core::genl::DiskState::DUnknown.raw()
        }) {
            self.try_outdate_peer_async();
        }
        why == Failure::Incompatible
    }
}
