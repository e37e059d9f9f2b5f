//! The HTTP server's accept loop: hyper's HTTP/1 connection builder with the limits that protect
//! the service from slow or oversized clients, and graceful shutdown.
//!
//! `axum::serve` cannot set a header read timeout or a header size limit, so this module owns
//! the loop instead: every accepted connection is served by [`hyper::server::conn::http1`]
//! with a timer, [`HttpLimits::header_read_timeout`] (a client that trickles its request head,
//! or leaves a keep-alive connection idle, is disconnected) and
//! [`HttpLimits::header_limit_bytes`] (431 beyond it); at most [`HttpLimits::max_connections`]
//! connections are open at once (beyond, the loop stops accepting until one closes), and each
//! request carries its client's address (`ConnectInfo`) for the per-address rate limit. Body size (413) and body read time (408)
//! are the router's business (`caseledger-api`), as is the whole-request timeout (503).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::Request;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::config::HttpLimits;

/// How long the loop pauses after a failed `accept` (e.g. out of file descriptors), so that it
/// does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and waits
/// for the open connections to finish their in-flight requests (idle ones close at once).
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.header_limit_bytes);
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // At the limit, the loop stops accepting until a connection closes: new clients wait
        // in the kernel's backlog (and time out there) instead of taking memory and tasks.
        let slot = tokio::select! {
            slot = connections.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Answers are small and latency matters more than packet count.
                    if let Err(error) = stream.set_nodelay(true) {
                        tracing::debug!(%error, "cannot set TCP_NODELAY");
                    }
                    // The client's address, for the per-address rate of requests without a
                    // valid token (`caseledger_api::guards`).
                    let service = router.clone().map_request(move |mut request: Request<Incoming>| {
                        request.extensions_mut().insert(ConnectInfo(peer));
                        request
                    });
                    let service = TowerToHyperService::new(service);
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        // Timeouts and clients hanging up end connections with an error: normal.
                        if let Err(error) = connection.await {
                            tracing::debug!(%error, "connection closed");
                        }
                        drop(slot);
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
}
