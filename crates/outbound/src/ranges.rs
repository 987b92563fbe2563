//! Special-purpose IP ranges that outbound requests must never reach unless allow-listed:
//! loopback, private, link-local (cloud metadata at 169.254.169.254), CGNAT, unspecified,
//! multicast, broadcast, reserved and documentation ranges, their IPv6 counterparts, and IPv6
//! forms that embed IPv4 (mapped `::ffff:0:0/96`, compatible `::/96`, NAT64, 6to4, Teredo).

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

/// IPv4 ranges refused (RFC 6890 and friends).
const V4: [(u8, u8, u8, u8, u8); 16] = [
    (0, 0, 0, 0, 8),       // "this network", unspecified
    (10, 0, 0, 0, 8),      // private
    (100, 64, 0, 0, 10),   // CGNAT
    (127, 0, 0, 0, 8),     // loopback
    (169, 254, 0, 0, 16),  // link-local, cloud metadata
    (172, 16, 0, 0, 12),   // private
    (192, 0, 0, 0, 24),    // IETF protocol assignments
    (192, 0, 2, 0, 24),    // TEST-NET-1
    (192, 88, 99, 0, 24),  // 6to4 relay anycast
    (192, 168, 0, 0, 16),  // private
    (198, 18, 0, 0, 15),   // benchmarking
    (198, 51, 100, 0, 24), // TEST-NET-2
    (203, 0, 113, 0, 24),  // TEST-NET-3
    (224, 0, 0, 0, 4),     // multicast
    (240, 0, 0, 0, 4),     // reserved, incl. broadcast
    (255, 255, 255, 255, 32),
];

/// IPv6 ranges refused (besides IPv4-embedding forms handled separately).
const V6: [(u16, u16, u8); 10] = [
    (0x0064, 0xff9b, 32), // 64:ff9b::/96 NAT64 (checked as /32 prefix of the first two groups)
    (0x0100, 0x0000, 32), // 100::/64 discard-only (coarse)
    (0x2001, 0x0000, 32), // Teredo 2001::/32
    (0x2001, 0x0db8, 32), // documentation
    (0x2002, 0x0000, 16), // 6to4
    (0xfc00, 0x0000, 7),  // unique local
    (0xfe80, 0x0000, 10), // link-local
    (0xfec0, 0x0000, 10), // site-local (deprecated)
    (0xff00, 0x0000, 8),  // multicast
    (0x3fff, 0x0000, 20), // documentation (RFC 9637)
];

/// True when the address is in a special-purpose range.
pub fn is_special_purpose(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_special(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_special(v4);
            }
            let s = v6.segments();
            // ::/96 covers ::, ::1 and the deprecated IPv4-compatible form.
            if s[..6].iter().all(|x| *x == 0) {
                return true;
            }
            // NAT64 local-use 64:ff9b:1::/48.
            if s[0] == 0x0064 && s[1] == 0xff9b {
                return true;
            }
            V6.iter().any(|(a, b, len)| prefix_match(&s, *a, *b, *len))
        }
    }
}

/// True when the address is special-purpose and not inside any allow-listed range. IPv4-mapped
/// IPv6 addresses are compared as their IPv4 address.
pub fn is_forbidden(ip: IpAddr, allow: &[IpNet]) -> bool {
    let canonical = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let allowed = allow
        .iter()
        .any(|net| net.contains(&canonical) || net.contains(&ip));
    !allowed && is_special_purpose(ip)
}

fn v4_special(v4: Ipv4Addr) -> bool {
    let ip = u32::from(v4);
    V4.iter().any(|(a, b, c, d, len)| {
        let net = u32::from(Ipv4Addr::new(*a, *b, *c, *d));
        let mask = if *len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(*len))
        };
        ip & mask == net & mask
    })
}

fn prefix_match(s: &[u16; 8], a: u16, b: u16, len: u8) -> bool {
    let value = (u32::from(s[0]) << 16) | u32::from(s[1]);
    let net = (u32::from(a) << 16) | u32::from(b);
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    value & mask == net & mask
}
