//! Just enough of the ZIP format for packaged Tableau documents (`.twbx`,
//! `.tdsx`): writing deflated entries and reading stored or deflated ones
//! through the central directory. The simulated site's own code, so TRM's
//! reader of packaged documents is checked against an independent writer.

use std::io::{Read, Write};

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;

/// A ZIP archive of `entries` (name, bytes), deflated, with a fixed
/// timestamp so the same entries always give the same bytes.
pub fn write(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    // 2024-01-01 00:00 in MS-DOS form.
    let (time, date) = (0u16, ((2024 - 1980) << 9 | 1 << 5 | 1) as u16);
    for (name, data) in entries {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let mut enc =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).expect("deflating into memory");
        let packed = enc.finish().expect("deflating into memory");
        let offset = out.len() as u32;
        let header = |sig: u32, central: bool| {
            let mut h = Vec::new();
            h.extend(sig.to_le_bytes());
            if central {
                h.extend(20u16.to_le_bytes()); // made by
            }
            h.extend(20u16.to_le_bytes()); // version needed
            h.extend(0x0800u16.to_le_bytes()); // UTF-8 names
            h.extend(8u16.to_le_bytes()); // deflate
            h.extend(time.to_le_bytes());
            h.extend(date.to_le_bytes());
            h.extend(crc.sum().to_le_bytes());
            h.extend((packed.len() as u32).to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend((name.len() as u16).to_le_bytes());
            h.extend(0u16.to_le_bytes()); // extra
            if central {
                h.extend(0u16.to_le_bytes()); // comment
                h.extend(0u16.to_le_bytes()); // disk
                h.extend(0u16.to_le_bytes()); // internal attrs
                h.extend(0u32.to_le_bytes()); // external attrs
                h.extend(offset.to_le_bytes());
            }
            h.extend(name.as_bytes());
            h
        };
        out.extend(header(LOCAL, false));
        out.extend(&packed);
        central.extend(header(CENTRAL, true));
    }
    let cd_offset = out.len() as u32;
    out.extend(&central);
    out.extend(END.to_le_bytes());
    out.extend([0u8; 4]); // disk numbers
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && bytes[..4] == LOCAL.to_le_bytes()
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, String> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| format!("truncated at byte {at}"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| format!("truncated at byte {at}"))
}

/// The entries of an archive as (name, bytes), in central-directory order.
pub fn read(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    // The end record is in the last 64 KB + 22 bytes (its comment is at most 64 KB).
    let lo = bytes.len().saturating_sub(65_557);
    let end = (lo..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| bytes[i..i + 4] == END.to_le_bytes())
        .ok_or("no end-of-central-directory record: not a ZIP archive")?;
    let count = u16_at(bytes, end + 10)? as usize;
    let mut at = u32_at(bytes, end + 16)? as usize;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        if u32_at(bytes, at)? != CENTRAL {
            return Err(format!("bad central directory entry at byte {at}"));
        }
        let method = u16_at(bytes, at + 10)?;
        let packed = u32_at(bytes, at + 20)? as usize;
        let size = u32_at(bytes, at + 24)? as usize;
        let name_len = u16_at(bytes, at + 28)? as usize;
        let extra_len = u16_at(bytes, at + 30)? as usize;
        let comment_len = u16_at(bytes, at + 32)? as usize;
        let local = u32_at(bytes, at + 42)? as usize;
        let name = bytes
            .get(at + 46..at + 46 + name_len)
            .ok_or("truncated entry name")?;
        let name = String::from_utf8_lossy(name).into_owned();
        at += 46 + name_len + extra_len + comment_len;
        if u32_at(bytes, local)? != LOCAL {
            return Err(format!("bad local header for '{name}'"));
        }
        let data_at =
            local + 30 + u16_at(bytes, local + 26)? as usize + u16_at(bytes, local + 28)? as usize;
        let raw = bytes
            .get(data_at..data_at + packed)
            .ok_or_else(|| format!("'{name}' is truncated"))?;
        let data = match method {
            0 => raw.to_vec(),
            8 => {
                let mut out = Vec::with_capacity(size);
                flate2::read::DeflateDecoder::new(raw)
                    .read_to_end(&mut out)
                    .map_err(|e| format!("'{name}' does not inflate: {e}"))?;
                out
            }
            m => {
                return Err(format!(
                    "'{name}' uses compression method {m}, which this site does not read"
                ))
            }
        };
        entries.push((name, data));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_output_is_stable() {
        let entries = vec![
            ("Book.twb".to_string(), b"<workbook/>".repeat(50)),
            ("Data/x.hyper".to_string(), vec![7u8; 3000]),
        ];
        let z = write(&entries);
        assert!(is_zip(&z));
        assert_eq!(read(&z).unwrap(), entries);
        assert_eq!(write(&entries), z);
        assert!(read(b"not a zip at all, not at all, no").is_err());
    }
}
