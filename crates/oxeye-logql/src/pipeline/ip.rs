//! `ip("…")` in line filters (`|= ip("10.0.0.0/8")`, `!= ip(…)`) and label filters (`| addr = ip(…)`,
//! `!= ip(…)`), with Loki's semantics (`pkg/logql/log/ip.go`).
//!
//! A pattern is one address, a CIDR prefix (`192.168.0.0/16`; host bits may be set, as Go's `netip.ParsePrefix`
//! allows) or an inclusive range (`192.168.0.1-192.168.0.20`), IPv4 or IPv6; an address matches only a pattern of
//! its own family. A text matches when an address found in it matches: the text is scanned left to right, and
//! where the next bytes look like the start of an address (a digit followed by a `.` within the next three bytes;
//! or hex digits followed by `:`, or `::` then a hex digit) the longest run of address characters there is parsed;
//! a run that is not an address, or does not match, is skipped as a whole.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A parsed `ip("…")` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum IpPattern {
    Addr(IpAddr),
    /// Network address (host bits cleared) and prefix length.
    Prefix(IpAddr, u8),
    /// Inclusive bounds, same family, `from <= to`.
    Range(IpAddr, IpAddr),
}

impl IpPattern {
    /// Parses a pattern; the error is Loki's (`ip: invalid pattern: "…"`).
    pub(crate) fn parse(pattern: &str) -> Result<Self, String> {
        let invalid = || format!("ip: invalid pattern: {pattern:?}");
        if let Some(addr) = parse_addr(pattern) {
            return Ok(IpPattern::Addr(addr));
        }
        if let Some((addr, bits)) = pattern.split_once('/') {
            let addr = parse_addr(addr).ok_or_else(invalid)?;
            // Go's ParsePrefix: decimal digits only, no sign, no leading zero.
            let valid_bits = !bits.is_empty()
                && bits.len() <= 3
                && bits.bytes().all(|b| b.is_ascii_digit())
                && (bits == "0" || !bits.starts_with('0'));
            let bits: u8 = bits.parse().ok().filter(|_| valid_bits).ok_or_else(invalid)?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            if bits > max {
                return Err(invalid());
            }
            return Ok(IpPattern::Prefix(mask(addr, bits), bits));
        }
        if let Some((from, to)) = pattern.split_once('-') {
            let from = parse_addr(from).ok_or_else(invalid)?;
            let to = parse_addr(to).ok_or_else(invalid)?;
            if from.is_ipv4() != to.is_ipv4() || from > to {
                return Err(invalid());
            }
            return Ok(IpPattern::Range(from, to));
        }
        Err(invalid())
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match *self {
            IpPattern::Addr(addr) => addr == ip,
            IpPattern::Prefix(network, bits) => network.is_ipv4() == ip.is_ipv4() && mask(ip, bits) == network,
            IpPattern::Range(from, to) => from.is_ipv4() == ip.is_ipv4() && from <= ip && ip <= to,
        }
    }

    /// Whether an address in `text` matches (Loki's `ipFilter.filter`).
    pub(crate) fn matches_in(&self, text: &str) -> bool {
        let line = text.as_bytes();
        let n = line.len();
        let at = |index: usize| line.get(index).copied().unwrap_or(0);
        let mut i = 0;
        while i < n {
            let charset: Option<fn(u8) -> bool> = if i + 3 < n && ipv4_hint(&line[i..i + 4]) {
                Some(is_ipv4_char)
            } else if ipv6_hint([at(i), at(i + 1), at(i + 2), at(i + 3), at(i + 4)]) {
                Some(is_ipv6_char)
            } else {
                None
            };
            if let Some(charset) = charset {
                let len = line[i..].iter().take_while(|&&b| charset(b)).count();
                if let Some(ip) = text.get(i..i + len).and_then(parse_addr)
                    && self.contains(ip)
                {
                    return true;
                }
                i += len;
            }
            i += 1;
        }
        false
    }
}

fn is_ipv4_char(byte: u8) -> bool {
    byte.is_ascii_digit() || byte == b'.'
}

fn is_ipv6_char(byte: u8) -> bool {
    byte.is_ascii_hexdigit() || byte == b':' || byte == b'.'
}

fn ipv4_hint(prefix: &[u8]) -> bool {
    prefix[0].is_ascii_digit() && (prefix[1] == b'.' || prefix[2] == b'.' || prefix[3] == b'.')
}

fn ipv6_hint(p: [u8; 5]) -> bool {
    let hex = |b: u8| b.is_ascii_hexdigit();
    (p[0] == b':' && p[1] == b':' && hex(p[2]))
        || (hex(p[0]) && p[1] == b':')
        || (hex(p[0]) && hex(p[1]) && p[2] == b':')
        || (hex(p[0]) && hex(p[1]) && hex(p[2]) && p[3] == b':')
        || (hex(p[0]) && hex(p[1]) && hex(p[2]) && hex(p[3]) && p[4] == b':')
}

/// An address as Go's `netip.ParseAddr` reads it (dotted-decimal IPv4 without leading zeros, or IPv6), minus
/// IPv6 zones (`fe80::1%eth0`), which Loki's patterns practically never use and `std::net` does not parse.
fn parse_addr(text: &str) -> Option<IpAddr> {
    if text.contains(':') {
        text.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        text.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    }
}

fn mask(addr: IpAddr, bits: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let keep = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & keep))
        }
        IpAddr::V6(v6) => {
            let keep = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & keep))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        IpPattern::parse(pattern).unwrap().matches_in(text)
    }

    #[test]
    fn patterns_parse_as_loki_does() {
        assert_eq!(IpPattern::parse("192.168.0.1").unwrap(), IpPattern::Addr("192.168.0.1".parse().unwrap()));
        assert_eq!(
            IpPattern::parse("192.168.4.5/16").unwrap(),
            IpPattern::Prefix("192.168.0.0".parse().unwrap(), 16),
            "host bits are allowed and ignored"
        );
        assert!(matches!(IpPattern::parse("::1-::ff").unwrap(), IpPattern::Range(..)));
        assert!(matches!(IpPattern::parse("2001:db8::/32").unwrap(), IpPattern::Prefix(_, 32)));
        for bad in [
            "",
            "foo",
            "192.168.0",
            "192.168.0.256",
            "010.0.0.1",
            "1.2.3.4/33",
            "1.2.3.4/016",
            "1.2.3.4/",
            "1.2.3.4/-1",
            "10.0.0.9-10.0.0.1",
            "10.0.0.1-::1",
            "10.0.0.1 - 10.0.0.2",
        ] {
            let error = IpPattern::parse(bad).unwrap_err();
            assert_eq!(error, format!("ip: invalid pattern: {bad:?}"));
        }
    }

    #[test]
    fn addresses_are_found_in_text() {
        let line = r#"10.3.24.23 - - [22/Nov/2026:19:53:32 +0000] "GET /api/v1/products/39436 HTTP/1.1" 200 941"#;
        assert!(matches("10.3.24.23", line));
        assert!(matches("10.0.0.0/8", line));
        assert!(matches("10.3.24.1-10.3.24.30", line));
        assert!(!matches("10.3.24.24", line));
        assert!(!matches("192.168.0.0/16", line));
        assert!(!matches("::1", line), "a pattern matches only its own family");
        // An address inside a longer run of address characters is not found (the run is skipped whole).
        assert!(!matches("1.2.3.4", "version 1.2.3.4.5"));
        assert!(matches("1.2.3.4", "from=1.2.3.4:8080"));
        assert!(matches("1.2.3.4", "x1.2.3.4"), "the run starts at the first digit");
        assert!(matches("2001:db8::/32", "client [2001:db8::7]:443 connected"));
        assert!(matches("::1", "listening on ::1"));
        assert!(matches("fe80::1-fe80::ff", "peer fe80::a0 up"));
        assert!(!matches("2001:db8::/32", "client 2001:db9::7"));
        assert!(!matches("1.2.3.4", ""));
        assert!(matches("1.2.3.4", "1.2.3.4"));
    }
}
