//! Timestamps (RFC 3339 text for JSON, HTTP-dates for headers) and TTLs (`30s`, `15m`, `2h`,
//! `1d`, `forever`). The one home of calendar arithmetic in the project.

use crate::model::{Error, Timestamp};

fn days_to_civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn civil_to_days(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Whether `y-m-d` names a day of the proleptic Gregorian calendar (`2025-02-31` does not).
fn is_valid_date(y: i64, m: u32, d: u32) -> bool {
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`; milliseconds are dropped.
pub fn format_http_date(ms: Timestamp) -> String {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let (y, m, d) = days_to_civil(days);
    let s = secs.rem_euclid(86_400);
    // Pushed piece by piece (every response carries one: no `format!` per request).
    let mut out = String::with_capacity(29);
    // (Every field is non-negative: `ms` is unsigned.)
    let padded = |out: &mut String, n: i64, width: usize| {
        let mut buf = [0; 20];
        let digits = crate::encoding::decimal(n as u64, &mut buf);
        out.extend(std::iter::repeat_n('0', width.saturating_sub(digits.len())));
        out.push_str(digits);
    };
    out.push_str(WEEKDAYS[days.rem_euclid(7) as usize]);
    out.push_str(", ");
    padded(&mut out, d as i64, 2);
    out.push(' ');
    out.push_str(MONTHS[(m - 1) as usize]);
    out.push(' ');
    padded(&mut out, y, 4);
    for (sep, v) in [(' ', s / 3600), (':', s % 3600 / 60), (':', s % 60)] {
        out.push(sep);
        padded(&mut out, v, 2);
    }
    out.push_str(" GMT");
    out
}

/// Parses an HTTP-date in any of the three forms RFC 9110 §5.6.7 says a recipient must accept
/// (IMF-fixdate, obsolete RFC 850, ANSI C `asctime`) into seconds since the epoch. Anything else,
/// including impossible dates and a weekday that does not match the date, is `None`.
pub fn parse_http_date(s: &str) -> Option<u64> {
    let month = |t: &str| MONTHS.iter().position(|m| *m == t).map(|i| i as u32 + 1);
    let num = |t: &str, n: usize| (t.len() == n && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse::<u32>().ok()).flatten();
    let clock = |t: &str| {
        let mut it = t.split(':');
        let (h, m, s) = (num(it.next()?, 2)?, num(it.next()?, 2)?, num(it.next()?, 2)?);
        (it.next().is_none() && h < 24 && m < 60 && s < 61).then_some(h * 3600 + m * 60 + s.min(59))
    };
    let parts: Vec<&str> = s.split(' ').collect();
    let (wday, y, m, d, t) = match parts.as_slice() {
        // Sun, 06 Nov 1994 08:49:37 GMT
        [w, d, mo, y, t, "GMT"] => (w.strip_suffix(',')?, num(y, 4)? as i64, month(mo)?, num(d, 2)?, clock(t)?),
        // Sunday, 06-Nov-94 08:49:37 GMT (two-digit years: RFC 9110 says a year more than 50
        // years in the future is in the past century; this reads 70..99 as 19xx, else 20xx)
        [w, dmy, t, "GMT"] => {
            let mut it = dmy.split('-');
            let (d, mo, yy) = (num(it.next()?, 2)?, month(it.next()?)?, num(it.next()?, 2)?);
            if it.next().is_some() {
                return None;
            }
            let w = w.strip_suffix(',')?;
            let long = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];
            let short = WEEKDAYS[long.iter().position(|l| *l == w)?];
            (short, if yy >= 70 { 1900 + yy as i64 } else { 2000 + yy as i64 }, mo, d, clock(t)?)
        }
        // Sun Nov  6 08:49:37 1994
        [w, mo, "", d, t, y] if d.len() == 1 => (*w, num(y, 4)? as i64, month(mo)?, num(d, 1)?, clock(t)?),
        [w, mo, d, t, y] => (*w, num(y, 4)? as i64, month(mo)?, num(d, 2)?, clock(t)?),
        _ => return None,
    };
    if !is_valid_date(y, m, d) || y < 1970 {
        return None;
    }
    let days = civil_to_days(y, m, d);
    if WEEKDAYS[days.rem_euclid(7) as usize] != wday {
        return None;
    }
    Some(days as u64 * 86_400 + u64::from(t))
}

/// `2026-11-23T14:41:57.123Z`.
pub fn format_rfc3339(ms: Timestamp) -> String {
    let secs = (ms / 1000) as i64;
    let (y, mo, d) = days_to_civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60,
        ms % 1000
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM)` or a plain integer of milliseconds.
pub fn parse_rfc3339(s: &str) -> Result<Timestamp, Error> {
    let bad = || Error::InvalidArgument(format!("invalid timestamp {s:?} (expected RFC 3339)"));
    if let Ok(ms) = s.parse::<u64>() {
        return Ok(ms);
    }
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok()).ok_or_else(bad);
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !is_valid_date(y as i64, mo, d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    let mut frac_ms = 0u64;
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(bad());
        }
        let digits = format!("{:0<3}", &r[..n.min(3)]);
        frac_ms = digits.parse().map_err(|_| bad())?;
        rest = &r[n..];
    }
    let offset_min: i64 = match rest {
        "Z" | "z" | "" | "+00:00" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && o.get(3..4) == Some(":") => {
            // `get`: the text is hostile and may hold multi-byte characters.
            let hh: i64 = o.get(1..3).and_then(|x| x.parse().ok()).ok_or_else(bad)?;
            let mm: i64 = o.get(4..6).and_then(|x| x.parse().ok()).ok_or_else(bad)?;
            let v = hh * 60 + mm;
            if o.starts_with('-') { -v } else { v }
        }
        _ => return Err(bad()),
    };
    let days = civil_to_days(y as i64, mo, d);
    let secs = days * 86_400 + (h * 3600 + mi * 60 + se) as i64 - offset_min * 60;
    if secs < 0 {
        return Err(bad());
    }
    Ok(secs as u64 * 1000 + frac_ms)
}

/// Parses a TTL into milliseconds; `None` means `forever`.
pub fn parse_ttl(s: &str) -> Result<Option<u64>, Error> {
    let t = s.trim();
    if t == "forever" {
        return Ok(None);
    }
    let bad = || Error::InvalidArgument(format!("invalid TTL {s:?} (expected e.g. 30s, 15m, 2h, 1d or forever)"));
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let mult = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(bad()),
    };
    if n == 0 {
        return Err(bad());
    }
    n.checked_mul(mult).map(Some).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        for ms in [0u64, 951_782_400_000, 1_763_908_917_123, 4_102_444_799_999] {
            let s = format_rfc3339(ms);
            assert_eq!(parse_rfc3339(&s).unwrap(), ms, "{s}");
        }
        assert_eq!(format_rfc3339(1_763_908_917_123), "2025-11-23T14:41:57.123Z");
        assert_eq!(parse_rfc3339("2025-11-23T15:41:57.123+01:00").unwrap(), 1_763_908_917_123);
        assert!(parse_rfc3339("2025-13-01T00:00:00Z").is_err());
        assert!(parse_rfc3339("yesterday").is_err());
        // Impossible dates are refused, not rolled into the next month.
        for bad in ["2025-02-29T00:00:00Z", "2025-02-31T00:00:00Z", "2025-04-31T00:00:00Z", "2025-00-10T00:00:00Z"] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
        assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_ok());
        assert!(parse_rfc3339("2000-02-29T00:00:00Z").is_ok());
        assert!(parse_rfc3339("1900-02-29T00:00:00Z").is_err());
    }

    #[test]
    fn http_dates() {
        assert_eq!(format_http_date(784_111_777_000), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(format_http_date(253_402_300_799_000), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(format_http_date(253_402_300_800_000), "Sat, 01 Jan 10000 00:00:00 GMT");
        assert_eq!(format_http_date(951_782_400_999), "Tue, 29 Feb 2000 00:00:00 GMT");
        // The three forms of RFC 9110 §5.6.7 name the same instant.
        for s in ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            assert_eq!(parse_http_date(s), Some(784_111_777), "{s}");
        }
        for ms in [0u64, 951_782_400_000, 1_763_908_917_000, 253_402_300_799_000] {
            assert_eq!(parse_http_date(&format_http_date(ms)), Some(ms / 1000));
        }
        for bad in [
            "", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC", "Mon, 06 Nov 1994 08:49:37 GMT",
            "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 nov 1994 08:49:37 GMT", "Sun,  06 Nov 1994 08:49:37 GMT",
            "Sat, 31 Feb 2025 00:00:00 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, 06 Nov +994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT ", "784111777", "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Wed, 31 Dec 1969 23:59:59 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("30m").unwrap(), Some(1_800_000));
        assert_eq!(parse_ttl("1d").unwrap(), Some(86_400_000));
        assert_eq!(parse_ttl("forever").unwrap(), None);
        for bad in ["", "m", "10", "5y", "0s", "-1h", "99999999999999999999d"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
