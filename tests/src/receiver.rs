//! `TestReceiver`: a real HTTP/1.1 server on `127.0.0.1:0`, written on raw TCP so it
//! can misbehave in ways a well-mannered framework would not allow (hang, reset the
//! connection, answer with garbage).

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
        delay: Duration,
    },
    /// Read the request and never answer.
    Hang,
    /// Read the request and reset the connection.
    Reset,
    /// Answer with bytes that are not HTTP.
    Garbage,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self::Respond { status, headers: Vec::new(), body: String::new(), delay: Duration::ZERO }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Self::Respond { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    pub fn with_body(mut self, text: &str) -> Self {
        if let Self::Respond { body, .. } = &mut self {
            *body = text.to_owned();
        }
        self
    }

    /// Answer only after `wait`.
    pub fn after(mut self, wait: Duration) -> Self {
        if let Self::Respond { delay, .. } = &mut self {
            *delay = wait;
        }
        self
    }
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Header names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub received_at: Instant,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(key, _)| *key == name).map(|(_, value)| value.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Picks the reply for a request by what it carries; `None` falls through to the script.
type Rule = Box<dyn Fn(&RecordedRequest) -> Option<Reply> + Send>;

struct State {
    requests: Vec<RecordedRequest>,
    rule: Option<Rule>,
    script: VecDeque<Reply>,
    default: Reply,
    /// Requests read and not yet answered (or, when hanging, not yet given up by the client).
    in_flight: usize,
    peak_in_flight: usize,
}

/// A recording HTTP receiver. Dropping it stops accepting connections.
pub struct TestReceiver {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TestReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestReceiver").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Drop for TestReceiver {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl TestReceiver {
    /// Starts a receiver that answers `200` until told otherwise.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("address")).await
    }

    /// Starts a receiver on a given address (to bring one back on the same port).
    pub async fn start_on(address: SocketAddr) -> Self {
        let listener = TcpListener::bind(address).await.expect("bind the test receiver");
        let address = listener.local_addr().expect("receiver address");
        let state = Arc::new(Mutex::new(State {
            requests: Vec::new(),
            rule: None,
            script: VecDeque::new(),
            default: Reply::status(200),
            in_flight: 0,
            peak_in_flight: 0,
        }));
        let shared = state.clone();
        let accept_task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(stream, shared.clone()));
            }
        });
        Self { address, state, accept_task }
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A URL on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// The next requests get these replies, in order; then the default again.
    /// Answers requests that `rule` picks a reply for with that reply (before the script).
    pub fn rule(&self, rule: impl Fn(&RecordedRequest) -> Option<Reply> + Send + 'static) {
        self.state.lock().unwrap().rule = Some(Box::new(rule));
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    /// The reply for requests beyond the script.
    pub fn set_default(&self, reply: Reply) {
        self.state.lock().unwrap().default = reply;
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn request_count(&self) -> usize {
        self.state.lock().unwrap().requests.len()
    }

    /// The most requests this receiver was serving at once: a hanging request counts
    /// until the client closes its connection.
    pub fn peak_in_flight(&self) -> usize {
        self.state.lock().unwrap().peak_in_flight
    }

    /// The distinct `webhook-id` values received (a receiver's dedupe key).
    pub fn unique_webhook_ids(&self) -> HashSet<String> {
        let state = self.state.lock().unwrap();
        state.requests.iter().filter_map(|r| r.header("webhook-id").map(str::to_owned)).collect()
    }
}

async fn serve_connection(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buffer).await else { return };
        let keep_alive = request.header("connection").is_none_or(|value| !value.eq_ignore_ascii_case("close"));
        let reply = {
            let mut state = state.lock().unwrap();
            let ruled = state.rule.as_ref().and_then(|rule| rule(&request));
            state.requests.push(request);
            state.in_flight += 1;
            state.peak_in_flight = state.peak_in_flight.max(state.in_flight);
            let default = state.default.clone();
            match ruled {
                Some(reply) => reply,
                None => state.script.pop_front().unwrap_or(default),
            }
        };
        let _answered = InFlight(state.clone());
        match reply {
            Reply::Respond { status, headers, body, delay } => {
                tokio::time::sleep(delay).await;
                let mut head = format!("HTTP/1.1 {status} Reply\r\ncontent-length: {}\r\n", body.len());
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                head.push_str(&body);
                if stream.write_all(head.as_bytes()).await.is_err() || !keep_alive {
                    return;
                }
            }
            Reply::Hang => {
                // Stay silent until the client gives up and closes the connection.
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink).await, Ok(read) if read > 0) {}
                return;
            }
            Reply::Reset => {
                let _ = stream.set_zero_linger();
                return;
            }
            Reply::Garbage => {
                let _ = stream.write_all(b"this is not HTTP at all\r\n\r\n").await;
                return;
            }
        }
    }
}

/// Counts a request as answered when dropped.
struct InFlight(Arc<Mutex<State>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.in_flight -= 1;
    }
}

/// Reads one request (head and `content-length` body) from the connection.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<RecordedRequest> {
    let head_end = loop {
        if let Some(position) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break position;
        }
        let mut chunk = [0u8; 8192];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize =
        headers.iter().find(|(name, _)| name == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        let mut chunk = [0u8; 65536];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = buffer[body_start..body_start + length].to_vec();
    buffer.drain(..body_start + length);
    Some(RecordedRequest { method, path, headers, body, received_at: Instant::now() })
}
