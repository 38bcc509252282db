//! Accepting connections: at most so many at once from one client address
//! (a connection over the limit is closed as soon as it is accepted), and a
//! deadline for a request's headers, so that a stranger cannot hold the
//! node's memory with many slow connections.
//!
//! `axum::serve` sets no header deadline (hyper needs a timer for one), so
//! plain HTTP is served by [`serve`] here; the TLS server (`axum_server`)
//! takes the same limit through [`PerAddress`] and the same deadline
//! through [`tune`]. (Over TLS the handshake has its own 10 s deadline, but
//! the HTTP version is then detected from the first bytes, without one,
//! and HTTP/2 connections have no idle deadline: there only the
//! per-address limit bounds them.)

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Ready;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::{Service, ServiceExt};

/// Counts the open connections of each client address.
pub struct ConnectionLimiter {
    per_address: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl ConnectionLimiter {
    pub fn new(per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            per_address,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A place for one more connection from `ip`, held until the guard is
    /// dropped; `None` when the address already holds its share.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionGuard> {
        // An IPv4 client seen through an IPv6 socket counts as itself.
        let ip = ip.to_canonical();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= self.per_address {
            return None;
        }
        *count += 1;
        Some(ConnectionGuard {
            limiter: self.clone(),
            ip,
        })
    }

    /// Connections open from `ip` now.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&ip.to_canonical()).copied().unwrap_or(0)
    }
}

/// One admitted connection; dropping it (the connection ended) frees its
/// place. Addresses with no connection left are forgotten, so the table
/// never holds more entries than there are open connections.
pub struct ConnectionGuard {
    limiter: Arc<ConnectionLimiter>,
    ip: IpAddr,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut open = self
            .limiter
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The connection settings of every listener: the header deadline (hyper
/// only applies one when it has a timer).
pub fn tune(builder: &mut Builder<TokioExecutor>, header_read_timeout: Duration) {
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    builder.http2().timer(TokioTimer::new());
}

/// Serves `router` over plain HTTP on `listener` until the task is
/// aborted, with the per-address limit and the header deadline. Handlers
/// see the client's address as `ConnectInfo<SocketAddr>`. Once aborted,
/// open connections finish the request in hand and close (as with
/// `axum::serve`): a stopped node does not go on answering on connections
/// kept alive.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limiter: Arc<ConnectionLimiter>,
    header_read_timeout: Duration,
) {
    // HTTP/1 only: detecting the version first would wait for a client's
    // first bytes with no deadline; with HTTP/1 the header deadline runs
    // from the moment the connection is accepted (and again while a kept
    // alive connection waits for its next request).
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    tune(&mut builder, header_read_timeout);
    let builder = Arc::new(builder);
    let mut make = router.into_make_service_with_connect_info::<SocketAddr>();
    // Dropped with this future: every connection then shuts down.
    let (_stopping, stopped) = tokio::sync::watch::channel(());
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                wait_after_accept_error(e).await;
                continue;
            }
        };
        let Some(guard) = limiter.admit(addr.ip()) else {
            // Closed at once: nothing read, nothing allocated for it.
            tracing::debug!(client = %addr.ip(), "connection refused: too many from this address");
            drop(stream);
            continue;
        };
        let service = match ServiceExt::<SocketAddr>::ready(&mut make).await {
            Ok(make) => make.call(addr).await,
            Err(never) => match never {},
        };
        let service = match service {
            Ok(service) => service,
            Err(never) => {
                let never: Infallible = never;
                match never {}
            }
        };
        let builder = builder.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let _guard = guard;
            let io = TokioIo::new(stream);
            let connection =
                builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service));
            tokio::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                _ = stopped.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = served {
                tracing::trace!(error = %e, "connection ended with an error");
            }
        });
    }
}

/// As `axum::serve` does: a connection reset before it was accepted is
/// nothing; anything else (out of file descriptors) waits a moment rather
/// than spinning.
async fn wait_after_accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// The per-address limit for `axum_server` (the TLS listener): runs before
/// the TLS handshake, so a refused connection costs no handshake.
#[derive(Clone)]
pub struct PerAddress {
    limiter: Arc<ConnectionLimiter>,
}

impl PerAddress {
    pub fn new(limiter: Arc<ConnectionLimiter>) -> Self {
        Self { limiter }
    }
}

impl<S> axum_server::accept::Accept<TcpStream, S> for PerAddress {
    type Stream = Guarded<TcpStream>;
    type Service = S;
    type Future = Ready<io::Result<(Self::Stream, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let admitted = stream
            .peer_addr()
            .ok()
            .and_then(|peer| self.limiter.admit(peer.ip()));
        std::future::ready(match admitted {
            Some(guard) => Ok((
                Guarded {
                    inner: stream,
                    _guard: guard,
                },
                service,
            )),
            None => Err(io::Error::other("too many connections from this address")),
        })
    }
}

/// A stream that holds its connection's place until it is dropped.
pub struct Guarded<T> {
    inner: T,
    _guard: ConnectionGuard,
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_per_address_and_freed_on_drop() {
        let limiter = ConnectionLimiter::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = limiter.admit(a).unwrap();
        let second = limiter.admit(mapped).unwrap();
        assert!(limiter.admit(a).is_none(), "a third from the same address");
        assert!(
            limiter.admit(b).is_some(),
            "another address has its own share"
        );
        drop(first);
        assert_eq!(limiter.open_from(a), 1);
        let third = limiter.admit(a).unwrap();
        drop(second);
        drop(third);
        assert_eq!(limiter.open_from(a), 0);
        assert!(limiter.open.lock().unwrap().is_empty(), "nothing kept");
    }
}
