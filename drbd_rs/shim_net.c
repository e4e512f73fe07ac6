// SPDX-License-Identifier: GPL-2.0
/*
 * C shims for the networking, kernel-thread and crypto wrappers of drbd_rs (drbd_rs/sys/net.rs,
 * thread.rs, crypto.rs): socket fields and inline helpers bindgen cannot reach, and the
 * crypto_shash API, whose header the kernel crate's bindings do not include. Each is a short
 * forwarder; the Rust side documents the contracts.
 */

#include <linux/build_bug.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/kthread.h>
#include <linux/net.h>
#include <linux/sched.h>
#include <linux/tcp.h>
#include <crypto/hash.h>
#include <net/sock.h>

/* Prototypes, for -Wmissing-prototypes: these are called from Rust only. */
void drbd_rs_sock_setup(struct socket *sock);
void drbd_rs_sock_set_reuseaddr(struct socket *sock);
void drbd_rs_sock_set_timeouts(struct socket *sock, long rcv, long snd);
void drbd_rs_sock_set_nodelay(struct socket *sock);
void drbd_rs_sock_set_cork(struct socket *sock, bool on);
void drbd_rs_sock_set_bufsize(struct socket *sock, unsigned int snd, unsigned int rcv);
bool drbd_rs_kthread_should_stop(void);
struct crypto_shash *drbd_rs_shash_alloc(const char *alg);
void drbd_rs_shash_free(struct crypto_shash *tfm);
int drbd_rs_shash_setkey(struct crypto_shash *tfm, const u8 *key, unsigned int len);
unsigned int drbd_rs_shash_digestsize(struct crypto_shash *tfm);
int drbd_rs_shash_digest(struct crypto_shash *tfm, const u8 *data, unsigned int len, u8 *out);

/* ---- sockets (drbd_rs/sys/net.rs) ---- */

/*
 * What DRBD does to every socket it uses: allocations for it must not recurse into block I/O
 * (it serves the block layer), and so must not use the task's page fragment either.
 */
void drbd_rs_sock_setup(struct socket *sock)
{
	sock->sk->sk_allocation = GFP_NOIO;
	sock->sk->sk_use_task_frag = false;
}

/* SO_REUSEADDR. */
void drbd_rs_sock_set_reuseaddr(struct socket *sock)
{
	sock_set_reuseaddr(sock->sk);
}

/* SO_RCVTIMEO and SO_SNDTIMEO in jiffies (MAX_SCHEDULE_TIMEOUT = forever), as setsockopt. */
void drbd_rs_sock_set_timeouts(struct socket *sock, long rcv, long snd)
{
	WRITE_ONCE(sock->sk->sk_rcvtimeo, rcv);
	WRITE_ONCE(sock->sk->sk_sndtimeo, snd);
}

/* TCP_NODELAY. */
void drbd_rs_sock_set_nodelay(struct socket *sock)
{
	tcp_sock_set_nodelay(sock->sk);
}

/* TCP_CORK on or off (off pushes what is queued). */
void drbd_rs_sock_set_cork(struct socket *sock, bool on)
{
	tcp_sock_set_cork(sock->sk, on);
}

/*
 * Socket buffer sizes as DRBD's drbd_setbufsize(): a non-zero size is set as given (not
 * doubled as SO_SNDBUF would) and locked against autotuning; 0 leaves that one alone.
 */
void drbd_rs_sock_set_bufsize(struct socket *sock, unsigned int snd, unsigned int rcv)
{
	struct sock *sk = sock->sk;

	lock_sock(sk);
	if (snd) {
		WRITE_ONCE(sk->sk_sndbuf, (int)min_t(unsigned int, snd, INT_MAX));
		sk->sk_userlocks |= SOCK_SNDBUF_LOCK;
	}
	if (rcv) {
		WRITE_ONCE(sk->sk_rcvbuf, (int)min_t(unsigned int, rcv, INT_MAX));
		sk->sk_userlocks |= SOCK_RCVBUF_LOCK;
	}
	release_sock(sk);
}

/* ---- kernel threads (drbd_rs/sys/thread.rs) ---- */

/* kthread_should_stop(), false (instead of a NULL dereference) outside kernel threads. */
bool drbd_rs_kthread_should_stop(void)
{
	return (current->flags & PF_KTHREAD) && kthread_should_stop();
}

/* ---- crypto (drbd_rs/sys/crypto.rs) ---- */

/* crypto_alloc_shash(): a synchronous hash, or an ERR_PTR (-ENOENT: no such algorithm). */
struct crypto_shash *drbd_rs_shash_alloc(const char *alg)
{
	return crypto_alloc_shash(alg, 0, 0);
}

void drbd_rs_shash_free(struct crypto_shash *tfm)
{
	crypto_free_shash(tfm);
}

int drbd_rs_shash_setkey(struct crypto_shash *tfm, const u8 *key, unsigned int len)
{
	return crypto_shash_setkey(tfm, key, len);
}

unsigned int drbd_rs_shash_digestsize(struct crypto_shash *tfm)
{
	return crypto_shash_digestsize(tfm);
}

/* One-shot digest of @len bytes into @out (crypto_shash_digestsize() bytes). */
int drbd_rs_shash_digest(struct crypto_shash *tfm, const u8 *data, unsigned int len, u8 *out)
{
	return crypto_shash_tfm_digest(tfm, data, len, out);
}

/* The values drbd_rs/sys/net.rs uses. */
static_assert(MAX_SCHEDULE_TIMEOUT == LONG_MAX);
static_assert(sizeof(struct sockaddr_in) == 16);
static_assert(sizeof(struct sockaddr_in6) == 28);
