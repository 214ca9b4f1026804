//! Byte encodings, one home for each: lowercase hex (digests, ETags), base64 (standard with
//! padding for bytes in JSON, URL-safe without padding for signatures and keys) and percent
//! encoding (URL path segments, query and form values).

const HEX: &[u8; 16] = b"0123456789abcdef";
const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Lowercase hex, two digits per byte.
pub fn hex(d: &[u8]) -> String {
    let mut s = String::with_capacity(d.len() * 2);
    for b in d {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// `n` in decimal, written into `buf` (no allocation: a signed read formats its expiry with it).
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).expect("ASCII digits")
}

/// The value of one hex digit (either case), `None` for any other byte.
pub fn hex_digit(c: u8) -> Option<u8> {
    let v = UNHEX[c as usize];
    (v < 16).then_some(v)
}

/// Exactly `N` bytes from `2 * N` hex digits (either case); `None` for any other length or a
/// byte that is not a hex digit. Every read checks a recorded digest with this: a table, no
/// `from_str_radix` (which also takes a `+` sign).
pub fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let (hi, lo) = (UNHEX[pair[0] as usize], UNHEX[pair[1] as usize]);
        bad |= (hi | lo) & 0xf0;
        *o = hi << 4 | (lo & 15);
    }
    (bad == 0).then_some(out)
}

/// `UNHEX[b]`: the value of hex digit `b`, or 0xff.
const UNHEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 16 {
        t[HEX[i] as usize] = i as u8;
        t[HEX[i].to_ascii_uppercase() as usize] = i as u8;
        i += 1;
    }
    t
};

fn encode(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 (RFC 4648 §4) with padding.
pub fn base64(data: &[u8]) -> String {
    encode(data, STD, true)
}

/// URL-safe base64 (RFC 4648 §5) without padding.
pub fn base64url(data: &[u8]) -> String {
    encode(data, URL, false)
}

/// Decodes standard or URL-safe base64, padding optional. `None` on anything else, including
/// leftover bits that are not zero (so each byte string has one accepted spelling per alphabet).
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A single leftover symbol (6 bits) cannot come from whole bytes; leftover bits must be zero.
    if bits >= 6 || acc != 0 {
        return None;
    }
    Some(out)
}

/// Percent-encodes everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`), so the
/// result is safe as one path segment, a query value or a form value.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize].to_ascii_uppercase() as char);
            out.push(HEX[(b & 15) as usize].to_ascii_uppercase() as char);
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`, as in
/// `application/x-www-form-urlencoded`). `None` for a malformed escape or bytes that are not
/// UTF-8.
pub fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = hex_digit(*b.get(i + 1)?)?;
                let lo = hex_digit(*b.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_matches_to_string() {
        let mut buf = [0u8; 20];
        for n in [0, 1, 9, 10, 99, 100, 1_700_000_000, u64::MAX / 10, u64::MAX - 1, u64::MAX] {
            assert_eq!(decimal(n, &mut buf), n.to_string());
        }
    }

    #[test]
    fn unhex_takes_exactly_the_hex_of_n_bytes() {
        let bytes: Vec<u8> = (0..=255).collect();
        for c in bytes.chunks(4) {
            let c: [u8; 4] = c.try_into().unwrap();
            assert_eq!(unhex::<4>(&hex(&c)), Some(c));
            assert_eq!(unhex::<4>(&hex(&c).to_uppercase()), Some(c));
        }
        for bad in ["", "0", "000000", "0000000000", "+f000000", "0g000000", "00 00000", "éé0000", "0000000\u{0}"] {
            assert_eq!(unhex::<4>(bad), None, "{bad:?}");
        }
        for b in 0..=255u8 {
            let want = (b as char).to_digit(16).map(|d| d as u8);
            assert_eq!(hex_digit(b), want, "{b}");
        }
    }

    #[test]
    fn percent_round_trips_and_rejects_bad_escapes() {
        for s in ["", "plain-._~", "a b/c?d=e&f", "<script>\"'", "\u{202e}rtl", "ünï"] {
            let e = percent_encode(s);
            assert!(e.bytes().all(|c| c.is_ascii_alphanumeric() || b"-._~%".contains(&c)), "{e}");
            assert_eq!(percent_decode(&e, false).as_deref(), Some(s));
        }
        assert_eq!(percent_encode("a b"), "a%20b");
        assert_eq!(percent_decode("a+b%2Bc", true).as_deref(), Some("a b+c"));
        assert_eq!(percent_decode("a+b", false).as_deref(), Some("a+b"));
        for bad in ["%", "%4", "%zz", "%ff"] {
            assert_eq!(percent_decode(bad, false), None, "{bad}");
        }
    }

    #[test]
    fn hex_and_base64_known_answers() {
        assert_eq!(hex(&[0x00, 0x9f, 0xff]), "009fff");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn base64_round_trips_and_rejects_garbage() {
        for n in 0..40 {
            let d: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base64_decode(&base64url(&d)).unwrap(), d);
            assert_eq!(base64_decode(&base64(&d)).unwrap(), d);
        }
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("+/+/").unwrap(), base64_decode("-_-_").unwrap());
        assert!(base64_decode("a").is_none());
        assert!(base64_decode("ab!c").is_none());
        assert!(base64_decode("aGVsbG9=").is_none(), "non-zero trailing bits");
    }
}
