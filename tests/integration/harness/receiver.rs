//! A real webhook receiver on loopback: an HTTP/1.1 server on its own
//! thread that records every request and answers what the test scripted.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Header names lowercased.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// What to answer: a status, and a Location for redirects.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
}

impl From<u16> for Answer {
    fn from(status: u16) -> Self {
        Self {
            status,
            location: None,
        }
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    connections: usize,
    script: VecDeque<Answer>,
    /// How long each request waits for its answer (a slow receiver).
    delay: Duration,
}

pub struct Receiver {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    default: Arc<Mutex<Answer>>,
    stopping: Arc<AtomicBool>,
}

impl Receiver {
    /// Listens on 127.0.0.1, answering `status` unless scripted otherwise.
    pub fn start(status: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let default = Arc::new(Mutex::new(Answer::from(status)));
        let stopping = Arc::new(AtomicBool::new(false));
        let (thread_state, thread_default, thread_stopping) =
            (state.clone(), default.clone(), stopping.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if thread_stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (state, default) = (thread_state.clone(), thread_default.clone());
                std::thread::spawn(move || serve(stream, &state, &default));
            }
        });
        Self {
            address,
            state,
            default,
            stopping,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The next requests get these answers, in order; then the default.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.lock().unwrap().script.extend(answers);
    }

    /// Answers each request only after `delay` (it is recorded at once).
    pub fn answer_after(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn answer(&self, status: u16) {
        *self.default.lock().unwrap() = Answer::from(status);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Connections accepted, whether or not a request came.
    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.address);
    }
}

fn serve(mut stream: TcpStream, state: &Mutex<State>, default: &Mutex<Answer>) {
    state.lock().unwrap().connections += 1;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("")
        .to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = data[head_end..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let (answer, delay) = {
        let mut state = state.lock().unwrap();
        state.received.push(Received {
            path,
            headers,
            body,
        });
        let answer = state
            .script
            .pop_front()
            .unwrap_or_else(|| default.lock().unwrap().clone());
        (answer, state.delay)
    };
    std::thread::sleep(delay);
    let location = answer
        .location
        .map(|l| format!("Location: {l}\r\n"))
        .unwrap_or_default();
    let text = format!("status {}", answer.status);
    let _ = write!(
        stream,
        "HTTP/1.1 {} Scripted\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
        answer.status,
        text.len()
    );
}
