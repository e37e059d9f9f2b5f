//! One keep-alive HTTP/1.1 connection to the service, driven by one task, one request at a
//! time ([`Connection`]), and the answers it gets ([`Reply`]). A [`Call`] is either an API
//! request (bearer token, JSON body) or a browser's (cookie, form body, `Origin`), so the
//! console is driven over the same connections as the JSON API.
//!
//! It uses hyper's connection-level client on purpose: each [`Connection`] is exactly one TCP
//! connection, opened once and reused, with no pool, no redirects and no timeouts of its own,
//! so that what is measured is the service and not a client's machinery. It knows nothing of
//! scenarios or statistics.

use std::net::SocketAddr;

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{
    HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE, ETAG, HOST, IF_MATCH, LOCATION, ORIGIN,
    SET_COOKIE,
};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One keep-alive connection.
#[derive(Debug)]
pub struct Connection {
    address: SocketAddr,
    host: HeaderValue,
    sender: SendRequest<Full<Bytes>>,
}

/// What the service answered.
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The `ETag` as a version number, when there is one.
    pub etag: Option<u64>,
    /// The body.
    pub body: Bytes,
    /// Each `Set-Cookie` header's `name=value` (its attributes left off).
    pub set_cookies: Vec<String>,
    /// The `Location` header, when there is one.
    pub location: Option<String>,
}

/// How a [`Call`]'s body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json` (the API).
    Json,
    /// `application/x-www-form-urlencoded` (a console form).
    Form,
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// The method.
    pub method: Method,
    /// The path and query.
    pub path: &'a str,
    /// The bearer token, when the route needs one.
    pub token: Option<&'a str>,
    /// A body, encoded as `body_kind` says.
    pub body: Option<Bytes>,
    /// How `body` is encoded.
    pub body_kind: BodyKind,
    /// `If-Match: "<version>"`.
    pub if_match: Option<u64>,
    /// The `Cookie` header (`name=value; …`), as a browser sends it.
    pub cookie: Option<&'a str>,
    /// The `Origin` header, as a browser sends it with a form.
    pub origin: Option<&'a str>,
}

impl<'a> Call<'a> {
    /// `GET path`.
    pub fn get(path: &'a str, token: Option<&'a str>) -> Call<'a> {
        Call {
            method: Method::GET,
            path,
            token,
            body: None,
            body_kind: BodyKind::Json,
            if_match: None,
            cookie: None,
            origin: None,
        }
    }

    /// `POST path` with a JSON body.
    pub fn post(path: &'a str, token: &'a str, body: Bytes) -> Call<'a> {
        Call {
            method: Method::POST,
            path,
            token: Some(token),
            body: Some(body),
            body_kind: BodyKind::Json,
            if_match: None,
            cookie: None,
            origin: None,
        }
    }

    /// `GET path` as a browser asks for a page: with its cookies, no token.
    pub fn page(path: &'a str, cookie: Option<&'a str>) -> Call<'a> {
        Call {
            cookie,
            ..Call::get(path, None)
        }
    }

    /// `POST path` as a browser submits a form: URL-encoded `body`, its cookies and `Origin`.
    pub fn form(path: &'a str, cookie: Option<&'a str>, origin: &'a str, body: Bytes) -> Call<'a> {
        Call {
            method: Method::POST,
            path,
            token: None,
            body: Some(body),
            body_kind: BodyKind::Form,
            if_match: None,
            cookie,
            origin: Some(origin),
        }
    }
}

impl Connection {
    /// Opens a connection to `address` (with `TCP_NODELAY`, as browsers and HTTP clients do).
    pub async fn open(address: SocketAddr) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(address)
            .await
            .with_context(|| format!("cannot connect to {address}"))?;
        stream.set_nodelay(true).context("cannot set TCP_NODELAY")?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("the HTTP/1.1 handshake failed")?;
        tokio::spawn(async move {
            // The connection ends when the sender is dropped or the server closes it; the
            // next request then reports the error.
            let _ = connection.await;
        });
        let host = HeaderValue::from_str(&address.to_string()).context("a host header")?;
        Ok(Connection {
            address,
            host,
            sender,
        })
    }

    /// Sends `call` and reads the whole answer. On a broken connection it reconnects once and
    /// reports the error, so the caller can count it and go on.
    pub async fn send(&mut self, call: &Call<'_>) -> anyhow::Result<Reply> {
        // The service closes keep-alive connections idle past its header read timeout (30 s):
        // a connection kept for setup between long scenarios is opened again first.
        if self.sender.is_closed() {
            *self = Connection::open(self.address).await?;
        }
        match self.try_send(call).await {
            Ok(reply) => Ok(reply),
            Err(error) => {
                if self.sender.is_closed() {
                    *self = Connection::open(self.address).await?;
                }
                Err(error)
            }
        }
    }

    async fn try_send(&mut self, call: &Call<'_>) -> anyhow::Result<Reply> {
        let mut request = Request::builder()
            .method(call.method.clone())
            .uri(call.path)
            .header(HOST, self.host.clone());
        if let Some(token) = call.token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if call.body.is_some() {
            let content_type = match call.body_kind {
                BodyKind::Json => "application/json",
                BodyKind::Form => "application/x-www-form-urlencoded",
            };
            request = request.header(CONTENT_TYPE, content_type);
        }
        if let Some(cookie) = call.cookie {
            request = request.header(COOKIE, cookie);
        }
        if let Some(origin) = call.origin {
            request = request.header(ORIGIN, origin);
        }
        if let Some(version) = call.if_match {
            request = request.header(IF_MATCH, format!("\"{version}\""));
        }
        let request = request
            .body(Full::new(call.body.clone().unwrap_or_default()))
            .context("cannot build the request")?;
        self.sender
            .ready()
            .await
            .context("the connection is not ready")?;
        let response = self
            .sender
            .send_request(request)
            .await
            .context("the request failed")?;
        let status = response.status();
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.trim_matches('"').parse().ok());
        let set_cookies = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|text| text.split(';').next())
            .map(|pair| pair.trim().to_owned())
            .collect();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .context("cannot read the answer's body")?
            .to_bytes();
        Ok(Reply {
            status,
            etag,
            body,
            set_cookies,
            location,
        })
    }
}
