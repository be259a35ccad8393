//! Reading an HTTP/1.1 request off a socket, for the hand-made servers of the tests (the fake
//! registry, the canary's echoing AWS endpoint, secrets-sync's faulting proxy): one home for
//! the head-then-body loop each of them needs.

use std::io::{BufRead, Read};

/// A request's head: its lines as sent (request line first, each with its line break, the
/// blank line left out) and the `Content-Length` they announce.
#[derive(Debug, Default)]
pub struct Head {
    pub lines: Vec<String>,
    pub content_length: usize,
}

impl Head {
    /// The value of header `name` (any case), trimmed; the first when it is repeated.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.lines.iter().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The request line's method and target.
    pub fn method_and_target(&self) -> (String, String) {
        let first = self.lines.first().map(String::as_str).unwrap_or("");
        let mut parts = first.split_whitespace();
        let mut next = || parts.next().unwrap_or("").to_string();
        (next(), next())
    }
}

/// The next request's head, or `None` when the connection ends before a whole one came.
pub fn read_head(reader: &mut impl BufRead) -> Option<Head> {
    let mut head = Head::default();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        if line.trim_end().is_empty() && !head.lines.is_empty() {
            return Some(head);
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            head.content_length = v.trim().parse().unwrap_or(0);
        }
        head.lines.push(line);
    }
}

/// The body `head` announces, or `None` when the client gave up before sending all of it.
pub fn read_body(reader: &mut impl Read, head: &Head) -> Option<Vec<u8>> {
    let mut body = vec![0u8; head.content_length];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_then_body_then_the_next_request() {
        let wire = "PUT /upload/1?digest=x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /v2/ HTTP/1.1\r\n\r\n";
        let mut reader = std::io::BufReader::new(wire.as_bytes());
        let head = read_head(&mut reader).unwrap();
        assert_eq!(
            head.method_and_target(),
            ("PUT".into(), "/upload/1?digest=x".into())
        );
        assert_eq!(head.lines.len(), 3);
        assert_eq!(head.content_length, 3);
        assert_eq!(head.header("host"), Some("h"));
        assert_eq!(head.header("authorization"), None);
        assert_eq!(read_body(&mut reader, &head).unwrap(), b"abc");
        let next = read_head(&mut reader).unwrap();
        assert_eq!(next.method_and_target(), ("GET".into(), "/v2/".into()));
        assert_eq!(read_body(&mut reader, &next).unwrap(), b"");
        assert!(read_head(&mut reader).is_none());
    }

    #[test]
    fn a_short_body_or_a_cut_head_is_none() {
        let mut cut = std::io::BufReader::new("GET / HTTP/1.1\r\nHost".as_bytes());
        assert!(read_head(&mut cut).is_none());
        let mut short =
            std::io::BufReader::new("POST / HTTP/1.1\r\ncontent-length: 9\r\n\r\nab".as_bytes());
        let head = read_head(&mut short).unwrap();
        assert!(read_body(&mut short, &head).is_none());
    }
}
