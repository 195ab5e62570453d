//! Ticket codes and the QR code that carries them.
//!
//! A ticket code is 128 random bits in RFC 4648 base32 without padding:
//! 26 characters from `A–Z2–7`, which a QR code holds in its compact
//! alphanumeric mode and a person can read aloud at the door.

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A fresh ticket code from the operating system's random source.
pub fn new_ticket_code() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    base32(&bytes)
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The ticket code as a QR code in SVG, black on white with a quiet zone.
pub fn qr_svg(code: &str) -> Result<String, String> {
    let qr = qrcode::QrCode::with_error_correction_level(code, qrcode::EcLevel::M)
        .map_err(|e| e.to_string())?;
    Ok(qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_128_bit_base32() {
        let a = new_ticket_code();
        let b = new_ticket_code();
        assert_eq!(a.len(), 26);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| BASE32.contains(&c)));
        // RFC 4648 test vector.
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }

    #[test]
    fn qr_is_svg() {
        let svg = qr_svg(&new_ticket_code()).unwrap();
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("</svg>"));
    }
}
