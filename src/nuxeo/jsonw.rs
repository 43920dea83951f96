//! A small JSON writer for the hottest entity, the task.
//!
//! Every task read and completion answers one task entity (~1.5 KB, about sixty
//! strings). Written through serde, each field costs a trip through the serializer's
//! state machine and each string an escaping pass; written here, field names are
//! constant bytes and a string without characters to escape (nearly all of them: ids,
//! URLs, labels) is checked sixteen bytes at a time and copied in one piece. Variables
//! are written the same way ([`object`]); fetched entities still go through
//! `serde_json`. The output is byte for byte what `serde_json` writes for the same
//! entity (tests here and in `entities.rs` compare them).

use std::io::Write as _;

use serde::Serialize;

/// Appends `s` as a JSON string, escaped exactly as `serde_json` does: `"`, `\` and the
/// control characters (short forms for `\b \t \n \f \r`, `\u00XX` otherwise).
///
/// Runs without a byte to escape (nearly every string: ids, URLs, labels) are found
/// sixteen bytes at a time and copied whole.
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    contents(out, s);
    out.push(b'"');
}

/// Appends `s` escaped, without the quotes.
fn contents(out: &mut Vec<u8>, s: &str) {
    let mut rest = s.as_bytes();
    loop {
        let clean = clean_prefix(rest);
        out.extend_from_slice(&rest[..clean]);
        let Some((&b, tail)) = rest[clean..].split_first() else {
            break;
        };
        escape(out, b);
        rest = tail;
    }
}

/// Appends the concatenation of `parts` as one JSON string.
///
/// The parts are copied as they are and the copy is checked once; in the rare case it
/// holds a byte to escape, it is written again, escaped.
pub fn joined(out: &mut Vec<u8>, parts: &[&str]) {
    out.reserve(parts.iter().map(|p| p.len()).sum::<usize>() + 2);
    let start = out.len();
    out.push(b'"');
    for p in parts {
        out.extend_from_slice(p.as_bytes());
    }
    let body = &out[start + 1..];
    if clean_prefix(body) != body.len() {
        out.truncate(start + 1);
        for p in parts {
            contents(out, p);
        }
    }
    out.push(b'"');
}

/// Whether `b` must be escaped in a JSON string.
fn special(b: u8) -> bool {
    (b < 0x20) | (b == b'"') | (b == b'\\')
}

/// Length of the longest prefix of `bytes` without a byte to escape.
fn clean_prefix(bytes: &[u8]) -> usize {
    let first = |from: usize| {
        from + bytes[from..]
            .iter()
            .position(|&b| special(b))
            .unwrap_or(bytes.len() - from)
    };
    let mut done = 0;
    let mut chunks = bytes.chunks_exact(16);
    for chunk in chunks.by_ref() {
        if chunk.try_into().is_ok_and(dirty) {
            return first(done);
        }
        done += 16;
    }
    if done == bytes.len() {
        return done;
    }
    // The tail: in a long string, as the last sixteen bytes (overlapping the blocks
    // already seen); a short one (most field values) as two overlapping words.
    let n = bytes.len();
    let clean = match n {
        16.. => !bytes[n - 16..].try_into().is_ok_and(dirty),
        8..=15 => !word_dirty(word::<8>(bytes, 0)) && !word_dirty(word::<8>(bytes, n - 8)),
        4..=7 => !word_dirty(word::<4>(bytes, 0) | word::<4>(bytes, n - 4) << 32),
        _ => false,
    };
    if clean {
        n
    } else {
        first(done)
    }
}

/// `N` bytes of `bytes` from `at` as a little-endian number (`N` ≤ 8, in range).
fn word<const N: usize>(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w[..N].copy_from_slice(&bytes[at..at + N]);
    u64::from_le_bytes(w)
}

/// Whether any of the eight bytes of `w` must be escaped, by the usual bit tricks: a
/// byte below 0x20, a quote or a backslash leaves its high bit set in the matching
/// test. Exact for "is there one" (not for which), which is all that is asked.
fn word_dirty(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (below_space
        | zero_byte(w ^ (ONES * u64::from(b'"')))
        | zero_byte(w ^ (ONES * u64::from(b'\\'))))
        != 0
}

/// Whether a block holds a byte to escape. Fixed size and branch free, so that the
/// compiler turns it into a few vector compares.
fn dirty(block: &[u8; 16]) -> bool {
    block.iter().fold(false, |acc, &b| acc | special(b))
}

fn escape(out: &mut Vec<u8>, b: u8) {
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        0x08 => out.extend_from_slice(b"\\b"),
        b'\t' => out.extend_from_slice(b"\\t"),
        b'\n' => out.extend_from_slice(b"\\n"),
        0x0c => out.extend_from_slice(b"\\f"),
        b'\r' => out.extend_from_slice(b"\\r"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        }
    }
}

/// Appends `s` as a JSON string, or `null`.
pub fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends `true` or `false`.
pub fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// Appends any serializable value through `serde_json` (free-form values).
pub fn value<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> Result<(), serde_json::Error> {
    serde_json::to_writer(&mut *out, v)
}

/// Appends a free-form JSON value, byte for byte as `serde_json` writes it: strings and
/// keys through [`string`], numbers through `serde_json` itself (its integer and
/// shortest-float forms).
pub fn json(out: &mut Vec<u8>, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => boolean(out, *b),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json(out, x);
            }
            out.push(b']');
        }
        Value::Object(map) => object(out, map),
    }
}

/// Appends a JSON object (see [`json`]).
pub fn object(out: &mut Vec<u8>, map: &serde_json::Map<String, serde_json::Value>) {
    out.push(b'{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, k);
        out.push(b':');
        json(out, v);
    }
    out.push(b'}');
}

/// Appends `[a,b,…]`, each item written by `item`.
pub fn array<T, E>(
    out: &mut Vec<u8>,
    items: &[T],
    mut item: impl FnMut(&mut Vec<u8>, &T) -> Result<(), E>,
) -> Result<(), E> {
    out.push(b'[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item(out, x)?;
    }
    out.push(b']');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_like_serde_json() {
        let mut all = String::new();
        for c in 0u8..0x80 {
            all.push(char::from(c));
        }
        for s in [
            "",
            "plain",
            "quote \" and backslash \\",
            &all,
            "ünïcödé ✓ 𝄞",
            "tail\n",
            "0123456789abcdef0123456789abcdef\"0123456\u{7f}\u{1f}89abcdef\\",
            "http://127.0.0.1:8080/nuxeo/api/v1/task/01a21519-0891-75e6-a327-0c31f498f65a/cancel",
        ] {
            let mut out = Vec::new();
            string(&mut out, s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn values_are_written_like_serde_json() {
        let values = [
            serde_json::json!(null),
            serde_json::json!({}),
            serde_json::json!([]),
            serde_json::json!({
                "comment": null,
                "participants": ["user:jdoe", "group \"a\"\n"],
                "validationOrReview": "validation",
                "n": 42, "neg": -7, "big": u64::MAX, "f": 0.1, "e": 1.5e300, "tiny": -2.5e-8,
                "yes": true, "no": false,
                "nested": {"a": [1, {"b": [[], {}]}], "ünï\u{1}": "𝄞\t"},
            }),
            serde_json::json!([1.0, -0.0, 100.0, 1e21, 123456789.125]),
        ];
        for v in values {
            let mut out = Vec::new();
            json(&mut out, &v);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&v).unwrap()
            );
            if let serde_json::Value::Object(map) = &v {
                let mut out = Vec::new();
                object(&mut out, map);
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    serde_json::to_string(map).unwrap()
                );
            }
        }
    }

    #[test]
    fn word_check_agrees_with_the_byte_check() {
        // Bytes next to each boundary of the tests (0x1f/0x20, the quote, the backslash)
        // and high bytes, whose borrows the word arithmetic must not mistake for a hit.
        const ALPHABET: [u8; 14] = [
            0x00, 0x01, 0x1f, 0x20, 0x21, b'"', 0x23, 0x5b, b'\\', 0x5d, 0x7f, 0x80, 0xa2, 0xff,
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..200_000 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let mut bytes = [0u8; 8];
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = ALPHABET[((seed >> (i * 5 + 20)) % 14) as usize];
            }
            // Mostly clean words, so that both answers are seen often.
            if !seed.is_multiple_of(3) {
                for b in bytes.iter_mut().filter(|b| special(**b)) {
                    *b = b'a';
                }
            }
            assert_eq!(
                word_dirty(u64::from_le_bytes(bytes)),
                bytes.iter().any(|&b| special(b)),
                "{bytes:02x?}"
            );
        }
    }

    #[test]
    fn joined_parts_are_one_string() {
        let parts = ["http://h/\"q\"/", "", "a\\b", "\n0123456789abcdef0123"];
        let mut out = Vec::new();
        joined(&mut out, &parts);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&parts.concat()).unwrap()
        );
    }

    #[test]
    fn every_position_around_the_sixteen_byte_blocks_is_checked() {
        // Each special byte at each position of strings whose lengths straddle the
        // block size, so that full blocks, the overlapping last block and the short
        // byte-by-byte path all see it.
        for len in (1..=17).chain([31, 32, 33, 47, 48, 49]) {
            for at in 0..len {
                for special in ['"', '\\', '\n', '\u{1}', '\u{1f}'] {
                    let s: String = (0..len)
                        .map(|i| match i {
                            _ if i == at => special,
                            _ if i % 5 == 0 => 'é',
                            _ => 'a',
                        })
                        .collect();
                    let mut out = Vec::new();
                    string(&mut out, &s);
                    assert_eq!(
                        String::from_utf8(out).unwrap(),
                        serde_json::to_string(&s).unwrap(),
                        "{s:?}"
                    );
                }
            }
        }
    }
}
