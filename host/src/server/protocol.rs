//! The memory server's wire protocol: length-prefixed JSON frames over a Unix socket.
//!
//! A frame is a u32 (big-endian) byte count and that many bytes of JSON. A connection
//! opens with a [`Hello`] and its [`Welcome`]; then each [`Request`] gets one [`Reply`],
//! except an export, which streams [`Reply::Exported`] frames closed by
//! [`Reply::Done`]. [`Hello`] and [`Welcome`] never change shape, so a client and a
//! server from different builds always learn that they differ.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::memory::{
    Entry, EntryMeta, Hit, ImportReport, Key, MemoryError, Namespace, Op, SearchQuery, Stats,
    Timestamp, Writer,
};

/// The largest frame either side accepts: a bogus length cannot make a peer allocate
/// more than this.
pub const MAX_FRAME: usize = 1 << 30;

/// Writes `message` as one frame.
pub fn write_frame(out: &mut impl Write, message: &impl Serialize) -> io::Result<()> {
    put_frame(out, message)?;
    out.flush()
}

/// Writes one frame into `out`'s buffer without flushing it: the frame goes with the
/// next one flushed (a client's hello with its first request, a server's welcome with
/// the reply to a request already received), in one write.
pub fn put_frame(out: &mut impl Write, message: &impl Serialize) -> io::Result<()> {
    let body = serde_json::to_vec(message).map_err(io::Error::other)?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|&n| n as usize <= MAX_FRAME)
        .ok_or_else(|| io::Error::other(format!("a frame of {} bytes is too large", body.len())))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(&body)
}

/// Reads one frame; `None` when the peer closed the connection between frames.
pub fn read_frame<T: DeserializeOwned>(input: &mut impl Read) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes is over the limit of {MAX_FRAME}"),
        ));
    }
    let mut body = vec![0u8; len];
    input.read_exact(&mut body)?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The first frame a client sends.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hello {
    /// The client's build ([`super::build_id`]); the server serves only its own.
    pub build: String,
    /// Revisions per key the client's commits keep.
    pub retention: u64,
    /// When the builds differ, asks the server to stop so that the client's own build
    /// can take the store over.
    pub replace_if_different: bool,
}

/// The server's answer to a [`Hello`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Welcome {
    /// Same build: requests may follow.
    Serving {
        /// The server's process id.
        pid: u32,
    },
    /// Another build: the connection closes (and the server stops if asked to).
    Different {
        /// The server's build.
        build: String,
    },
}

/// A request after the [`Hello`]: one per [`crate::memory::Store`] method, and the
/// server's own.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    Get {
        namespace: Namespace,
        key: Key,
    },
    GetRevision {
        namespace: Namespace,
        key: Key,
        revision: u64,
    },
    History {
        namespace: Namespace,
        key: Key,
    },
    List {
        namespace: Option<Namespace>,
        prefix: String,
    },
    Commit {
        writer: Writer,
        ops: Vec<Op>,
    },
    Export {
        namespace: Option<Namespace>,
    },
    Import {
        entries: Vec<Entry>,
    },
    PurgeExpired,
    Stats,
    Search(SearchQuery),
    /// The server's [`ServerStatus`].
    Status,
    /// Stop once the requests in flight are answered.
    Stop,
}

/// The answer to a [`Request`].
#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    Entry(Option<Entry>),
    Metas(Vec<EntryMeta>),
    /// One revision of an export; more follow until [`Reply::Done`].
    Exported(Entry),
    Done,
    Imported(ImportReport),
    Purged(u64),
    Stats(Stats),
    Hits(Vec<Hit>),
    Status(ServerStatus),
    /// The server is stopping and did not carry out the request.
    Stopping,
    /// The store refused or failed the request (the same error, the backend's cause
    /// reduced to its message).
    Failed(MemoryError),
}

impl Reply {
    /// The variant's name, for an error about a reply that does not fit its request.
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Entry(_) => "Entry",
            Reply::Metas(_) => "Metas",
            Reply::Exported(_) => "Exported",
            Reply::Done => "Done",
            Reply::Imported(_) => "Imported",
            Reply::Purged(_) => "Purged",
            Reply::Stats(_) => "Stats",
            Reply::Hits(_) => "Hits",
            Reply::Status(_) => "Status",
            Reply::Stopping => "Stopping",
            Reply::Failed(_) => "Failed",
        }
    }
}

/// What `baton memory server status` shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// The server's process id.
    pub pid: u32,
    /// The store it holds.
    pub store: PathBuf,
    /// Its build ([`super::build_id`]).
    pub build: String,
    /// When it started.
    pub started_at: Timestamp,
    /// How long it waits without connections before it stops, in milliseconds.
    pub idle_timeout_ms: u64,
    /// Connections open now, this one included.
    pub connections: u64,
    /// Requests answered since it started.
    pub requests: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_a_closed_peer_reads_as_none() {
        let mut buf = Vec::new();
        let request = Request::Get {
            namespace: Namespace::new("coding-pipeline").unwrap(),
            key: Key::new("coding/architecture/system").unwrap(),
        };
        write_frame(&mut buf, &request).unwrap();
        let mut input = &buf[..];
        let back: Request = read_frame(&mut input).unwrap().unwrap();
        assert!(
            matches!(back, Request::Get { key, .. } if key.as_str() == "coding/architecture/system")
        );
        assert!(read_frame::<Request>(&mut input).unwrap().is_none());
    }

    #[test]
    fn an_oversized_length_is_refused_before_allocating() {
        let frame = u32::MAX.to_be_bytes();
        let err = read_frame::<Request>(&mut &frame[..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("over the limit"), "{err}");
    }

    #[test]
    fn names_are_validated_when_read() {
        let frame = br#"{"Get":{"namespace":"coding-pipeline","key":""}}"#;
        let mut buf = (frame.len() as u32).to_be_bytes().to_vec();
        buf.extend_from_slice(frame);
        let err = read_frame::<Request>(&mut &buf[..]).unwrap_err();
        assert!(err.to_string().contains("key is empty"), "{err}");
    }

    #[test]
    fn errors_keep_their_kind_across_the_wire() {
        let e = MemoryError::Conflict {
            namespace: "n".into(),
            key: "k".into(),
            expected: 1,
            actual: 2,
        };
        let text = e.to_string();
        let back: MemoryError =
            serde_json::from_str(&serde_json::to_string(&Reply::Failed(e)).unwrap())
                .map(|reply| match reply {
                    Reply::Failed(e) => e,
                    other => panic!("{other:?}"),
                })
                .unwrap();
        assert!(matches!(back, MemoryError::Conflict { actual: 2, .. }));
        assert_eq!(back.to_string(), text);
    }
}
