//! How ns-bootstrap reaches a mirror: `http://` and `https://` over
//! kept-alive connections (one agent per proxy in use, https checked
//! against the system's authorities), `file://` read in place. A
//! transient failure (a refused or cut connection, a 5xx answer) is tried
//! again after a pause that doubles; a download cut short goes on from
//! where it stopped (a `Range` request) when the server allows it.

pub mod proxy;
pub mod tls;

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::compression::Limited;
use proxy::Proxies;

/// Parallel downloads: enough to hide latency, few enough to be polite to
/// a mirror (apt uses one connection per host; mmdebstrap the same).
pub const WORKERS: usize = 6;

/// Why a request failed; each names its URL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{url}: HTTP {code} {text}")]
    Status {
        url: String,
        code: u16,
        text: String,
    },
    /// ureq's transport errors name the URL themselves.
    #[error("{0}")]
    Transport(Box<ureq::Error>),
    #[error("{url}: size {size} where at most {limit} was expected")]
    TooLarge { url: String, size: u64, limit: u64 },
    #[error("{url}: {source}")]
    Read { url: String, source: std::io::Error },
    #[error("{url}: {mismatch}")]
    Mismatch {
        url: String,
        mismatch: crate::download::Mismatch,
    },
    #[error("{url}: 304 Not Modified to a request that was not conditional")]
    Unexpected304 { url: String },
    #[error("cannot {what} {path}: {source}")]
    Cache {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{url}: {source}")]
    Tls {
        url: String,
        source: Arc<tls::Error>,
    },
    #[error("{url}: proxy {proxy}: {reason}")]
    Proxy {
        url: String,
        proxy: String,
        reason: String,
    },
}

impl Error {
    /// The HTTP status the mirror answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether trying again may help: no answer, a cut connection, or a
    /// server's temporary trouble (5xx, 408, 429).
    fn transient(&self) -> bool {
        match self {
            Error::Status { code, .. } => *code >= 500 || *code == 408 || *code == 429,
            Error::Transport(_) | Error::Read { .. } => true,
            _ => false,
        }
    }
}

/// What a conditional GET found.
pub enum Fetched {
    Body(Vec<u8>),
    NotModified,
}

/// How often, and after which first pause, a request is tried again.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    pub attempts: u32,
    pub first_pause: Duration,
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            attempts: 4,
            first_pause: Duration::from_millis(500),
        }
    }
}

/// The path a `file://` URL names.
pub fn local_path(url: &str) -> Option<PathBuf> {
    url.strip_prefix("file://").map(PathBuf::from)
}

pub struct Fetcher {
    proxies: Proxies,
    retries: Retries,
    /// Made on the first https URL: reading the system's authorities
    /// costs milliseconds a plain-http run need not pay.
    tls: OnceLock<Result<Arc<rustls::ClientConfig>, Arc<tls::Error>>>,
    /// One agent per proxy (`None`: direct), each keeping its
    /// connections alive.
    agents: Mutex<HashMap<Option<String>, ureq::Agent>>,
}

impl Fetcher {
    pub fn new(proxies: Proxies, retries: Retries) -> Self {
        Fetcher {
            proxies,
            retries,
            tls: OnceLock::new(),
            agents: Mutex::new(HashMap::new()),
        }
    }

    fn agent(&self, url: &str) -> Result<ureq::Agent, Error> {
        let proxy = self.proxies.for_url(url);
        let mut agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(agent) = agents.get(&proxy) {
            return Ok(agent.clone());
        }
        let mut builder = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(30))
            .timeout_read(Duration::from_secs(120))
            .max_idle_connections_per_host(WORKERS)
            .user_agent(concat!("ns-bootstrap/", env!("CARGO_PKG_VERSION")));
        if url.starts_with("https://") {
            let config = self
                .tls
                .get_or_init(|| tls::client_config().map_err(Arc::new))
                .clone()
                .map_err(|source| Error::Tls {
                    url: url.to_string(),
                    source,
                })?;
            builder = builder.tls_config(config);
        }
        if let Some(proxy) = &proxy {
            let failed = |reason: String| Error::Proxy {
                url: url.to_string(),
                proxy: proxy.clone(),
                reason,
            };
            if !proxy::usable(proxy) {
                return Err(failed("only http:// proxies are supported".to_string()));
            }
            builder = builder.proxy(ureq::Proxy::new(proxy).map_err(|e| failed(e.to_string()))?);
        }
        let agent = builder.build();
        agents.insert(proxy, agent.clone());
        Ok(agent)
    }

    /// One request: a status other than 2xx/304 is an error.
    fn request(&self, url: &str, headers: &[(&str, String)]) -> Result<ureq::Response, Error> {
        let mut request = self.agent(url)?.get(url);
        for (name, value) in headers {
            request = request.set(name, value);
        }
        match request.call() {
            Ok(response) => Ok(response),
            Err(ureq::Error::Status(code, response)) => Err(Error::Status {
                url: url.to_string(),
                code,
                text: response.status_text().to_string(),
            }),
            Err(error) => Err(Error::Transport(Box::new(error))),
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries
    /// are spent, pausing longer each time.
    fn retried<T>(&self, mut attempt: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
        let mut pause = self.retries.first_pause;
        let mut tries = 1;
        loop {
            match attempt() {
                Err(e) if e.transient() && tries < self.retries.attempts => {
                    std::thread::sleep(pause);
                    pause *= 2;
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    /// GET of at most `limit` bytes (more is an error, never read into
    /// memory), or nothing new when the server says nothing changed since
    /// `since` (an HTTP date). A `file://` URL is read in place.
    pub fn get_if_modified(
        &self,
        url: &str,
        since: Option<&str>,
        limit: u64,
    ) -> Result<Fetched, Error> {
        if let Some(path) = local_path(url) {
            let mut data = Vec::new();
            std::fs::File::open(&path)
                .and_then(|file| Limited::new(file, limit).read_to_end(&mut data))
                .map_err(|source| Error::Read {
                    url: url.to_string(),
                    source,
                })?;
            return Ok(Fetched::Body(data));
        }
        let headers: Vec<(&str, String)> = since
            .map(|s| ("If-Modified-Since", s.to_string()))
            .into_iter()
            .collect();
        self.retried(|| {
            let response = self.request(url, &headers)?;
            if response.status() == 304 {
                return Ok(Fetched::NotModified);
            }
            // A length the server announces is checked before anything
            // is read; the reader's own limit covers the rest.
            if let Some(length) = response
                .header("Content-Length")
                .and_then(|l| l.trim().parse::<u64>().ok())
            {
                if length > limit {
                    return Err(Error::TooLarge {
                        url: url.to_string(),
                        size: length,
                        limit,
                    });
                }
            }
            let mut data = Vec::new();
            Limited::new(response.into_reader(), limit)
                .read_to_end(&mut data)
                .map_err(|source| Error::Read {
                    url: url.to_string(),
                    source,
                })?;
            Ok(Fetched::Body(data))
        })
    }

    /// Streams `url` (at most `limit` bytes) into `sink`, which is told
    /// to start over when a server cannot resume (`restart`). A download
    /// cut short is resumed with a `Range` request after a pause.
    pub fn stream(&self, url: &str, limit: u64, sink: &mut dyn Sink) -> Result<(), Error> {
        let mut pause = self.retries.first_pause;
        let mut tries = 1;
        let mut have = 0u64;
        loop {
            let result: Result<(), Error> = (|| {
                let headers: Vec<(&str, String)> = if have > 0 {
                    vec![("Range", format!("bytes={have}-"))]
                } else {
                    Vec::new()
                };
                let response = self.request(url, &headers)?;
                if have > 0 && response.status() != 206 {
                    // The server sends it whole: start over.
                    sink.restart()?;
                    have = 0;
                }
                let mut reader = response.into_reader().take(limit.saturating_add(1) - have);
                let mut buffer = vec![0u8; 256 * 1024];
                loop {
                    let n = reader.read(&mut buffer).map_err(|source| Error::Read {
                        url: url.to_string(),
                        source,
                    })?;
                    if n == 0 {
                        return Ok(());
                    }
                    sink.write(&buffer[..n])?;
                    have += n as u64;
                }
            })();
            match result {
                Err(e) if e.transient() && tries < self.retries.attempts => {
                    std::thread::sleep(pause);
                    pause *= 2;
                    tries += 1;
                }
                other => return other,
            }
        }
    }
}

/// Where a streamed download goes; its own errors (a full disk) are not
/// tried again.
pub trait Sink {
    fn write(&mut self, data: &[u8]) -> Result<(), Error>;
    /// Drops what was written: the download starts from the beginning.
    fn restart(&mut self) -> Result<(), Error>;
}
