//! Reading a webhook body with a size limit and a deadline.
//!
//! An oversized body is not refused the moment it is noticed: a client that is
//! still sending does not read the answer, and when the server closes a socket
//! with unread bytes in it the kernel resets the connection, which throws the
//! answer away on the client's side too. So the rest is read and discarded, up
//! to a cap and within the same deadline, and only then is the 413 sent (with
//! `Connection: close`).

use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

/// How reading a request body ended.
#[derive(Debug)]
pub enum BodyRead {
    /// The whole body, within the limit.
    Complete(Bytes),
    /// Over the limit; `drained` says whether the rest was read to its end
    /// (the connection can then close without a reset).
    TooLarge { drained: bool },
    /// The body did not arrive within the deadline.
    TimedOut,
    /// The client broke off (or sent a malformed chunked body).
    Broken,
}

/// Reads `body` up to `limit` bytes within `timeout`. `declared` is the
/// `Content-Length`, if any: a body declared too large is drained at once.
pub async fn read_bounded(
    body: Body,
    declared: Option<usize>,
    limit: usize,
    drain_max: usize,
    timeout: Duration,
) -> BodyRead {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut body = body;
    if declared.is_some_and(|n| n > limit) {
        let drained = drain(&mut body, 0, drain_max, deadline).await;
        return BodyRead::TooLarge { drained };
    }
    let mut buffer = BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return BodyRead::TimedOut,
            Ok(None) => return BodyRead::Complete(buffer.freeze()),
            Ok(Some(Err(_))) => return BodyRead::Broken,
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if buffer.len() + data.len() > limit {
            let seen = buffer.len() + data.len();
            drop(buffer);
            let drained = drain(&mut body, seen, drain_max, deadline).await;
            return BodyRead::TooLarge { drained };
        }
        buffer.extend_from_slice(&data);
    }
}

/// Reads and discards the rest of `body` while fewer than `drain_max` bytes
/// were seen and the deadline has not passed; whether it reached the end.
async fn drain(
    body: &mut Body,
    mut seen: usize,
    drain_max: usize,
    deadline: tokio::time::Instant,
) -> bool {
    while seen <= drain_max {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(None) => return true,
            Ok(Some(Ok(frame))) => {
                seen += frame.data_ref().map_or(0, Bytes::len);
            }
            Ok(Some(Err(_))) | Err(_) => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: Vec<&'static [u8]>) -> Body {
        let stream = futures::stream::iter(
            parts
                .into_iter()
                .map(|p| Ok::<_, std::io::Error>(Bytes::from_static(p))),
        );
        Body::from_stream(stream)
    }

    #[tokio::test]
    async fn within_the_limit_is_complete() {
        let read = read_bounded(
            body(vec![b"ab", b"cd"]),
            None,
            4,
            100,
            Duration::from_secs(1),
        )
        .await;
        assert!(matches!(read, BodyRead::Complete(b) if &b[..] == b"abcd"));
    }

    #[tokio::test]
    async fn over_the_limit_is_drained_to_the_end() {
        let read = read_bounded(
            body(vec![b"abc", b"def", b"ghi"]),
            None,
            4,
            100,
            Duration::from_secs(1),
        )
        .await;
        assert!(matches!(read, BodyRead::TooLarge { drained: true }));
        let read = read_bounded(
            body(vec![b"abc", b"def", b"ghi"]),
            Some(9),
            4,
            5,
            Duration::from_secs(1),
        )
        .await;
        assert!(matches!(read, BodyRead::TooLarge { drained: false }));
    }

    #[tokio::test]
    async fn a_body_that_never_ends_times_out() {
        let stream = futures::stream::pending::<Result<Bytes, std::io::Error>>();
        let read = read_bounded(
            Body::from_stream(stream),
            None,
            4,
            100,
            Duration::from_millis(50),
        )
        .await;
        assert!(matches!(read, BodyRead::TimedOut));
    }
}
