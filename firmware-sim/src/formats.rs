//! The files a flasher takes: a whole flash image (`bin`), Intel HEX (`hex`) and UF2
//! (`uf2`), written by `charlstm-sim flash` and read back by `run`, `samples` and `info`.
//! docs/flash-layout.md §3 says what each holds; section numbers below cite it.
//!
//! - `bin` is the whole flash, offset 0 first: what the simulator boots.
//! - `hex` and `uf2` hold only the bytes a flasher must program, at CPU addresses
//!   (flash base + offset): the header page (the 64-byte header, then erased bytes to 256)
//!   and the blob, so flashing them never touches the firmware; erasing the rest of the
//!   model region is the flasher's job. `--firmware FW` adds a firmware's bytes, for
//!   drag-and-drop flashers that erase the whole chip.
//!
//! Reading a HEX or UF2 file back builds the board's whole flash (erased, `0xFF`, where
//! nothing is written), the board coming from the partition header found at some board's
//! header address; then it boots exactly like a bin image (`flash::boot`).
//!
//! Intel HEX goes through the `ihex` crate. UF2 is written by hand: it is 512-byte blocks,
//! and no well-kept crate exists. The UF2 spec is github.com/microsoft/uf2 (README.md,
//! "File format"); its field names are used below.

use std::ops::Range;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use ihex::Record;
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};

use crate::board::{BOARDS, Board};
use crate::flash::{self, ERASED, HEADER_LEN};

// ---------------------------------------------------------------------------
// Formats

/// A file format `charlstm-sim flash` writes and `--image` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The whole flash image, offset 0 first (the simulator's own format).
    Bin,
    /// Intel HEX at CPU addresses: header page and blob (and `--firmware`) only.
    Hex,
    /// UF2 blocks at CPU addresses, for boards whose boot ROM takes UF2 (rp2040).
    Uf2,
}

impl Format {
    /// The format a file name asks for: `.hex`/`.ihex` HEX, `.uf2` UF2, anything else bin.
    pub fn from_extension(path: &Path) -> Format {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("hex" | "ihex") => Format::Hex,
            Some("uf2") => Format::Uf2,
            _ => Format::Bin,
        }
    }

    /// The format of a file's content: UF2's first magic words, or a HEX record's `:` in an
    /// all-ASCII file (a flash image is mostly `0xFF`); otherwise the extension decides, so
    /// a damaged `.hex` is reported as a damaged HEX file rather than a strange image.
    pub fn detect(bytes: &[u8], path: &Path) -> Format {
        if bytes.len() >= 8
            && word(bytes, 0) == UF2_MAGIC_START0
            && word(bytes, 4) == UF2_MAGIC_START1
        {
            Format::Uf2
        } else if bytes.first() == Some(&b':') && bytes.is_ascii() {
            Format::Hex
        } else {
            Format::from_extension(path)
        }
    }

    /// How messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Bin => "bin",
            Format::Hex => "Intel HEX",
            Format::Uf2 => "UF2",
        }
    }
}

/// Bytes of flash at a CPU address, as a HEX record run, a UF2 payload or an ELF segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// CPU address of the first byte.
    pub addr: u64,
    pub data: Vec<u8>,
}

impl Segment {
    /// `addr .. addr + len`.
    pub fn range(&self) -> Range<u64> {
        self.addr..self.addr + self.data.len() as u64
    }
}

/// The flash offsets a HEX or UF2 file of a model holds (§3): the header page and the blob,
/// which follow each other.
pub fn model_range(board: &Board, blob_len: usize) -> Range<u64> {
    board.header_offset() as u64..board.model_offset() as u64 + blob_len as u64
}

/// The boards whose boot ROM takes UF2, for messages.
pub fn uf2_boards() -> String {
    let names: Vec<&str> = BOARDS
        .iter()
        .filter(|b| b.uf2_family.is_some())
        .map(|b| b.name)
        .collect();
    names.join(", ")
}

/// `Err` unless `board`'s boot ROM takes UF2 (a UF2 file for another board would be refused
/// by its loader, or be no file its tools take).
pub fn uf2_family(board: &Board) -> anyhow::Result<u32> {
    board.uf2_family.ok_or_else(|| {
        anyhow!(
            "{}'s boot ROM does not take UF2 (boards that do: {}); write Intel HEX instead: --format hex, or a .hex file name",
            board.name,
            uf2_boards()
        )
    })
}

// ---------------------------------------------------------------------------
// Writing

/// Encodes `image` (`board`'s whole flash) as `format`: bin is the image itself; HEX and
/// UF2 hold only the bytes at `ranges` (flash offsets), at CPU addresses.
pub fn encode(
    format: Format,
    board: &Board,
    image: &[u8],
    ranges: &[Range<u64>],
) -> anyhow::Result<Vec<u8>> {
    match format {
        Format::Bin => Ok(image.to_vec()),
        Format::Hex => Ok(to_hex(board, image, &merge(ranges.to_vec())).into_bytes()),
        Format::Uf2 => Ok(to_uf2(board, uf2_family(board)?, image, ranges)),
    }
}

/// Sorts ranges and joins those that overlap or touch.
pub fn merge(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.retain(|r| !r.is_empty());
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// Bytes per HEX data record: 16, the width objcopy and srec_cat write.
const HEX_RECORD: usize = 16;

/// Intel HEX (I32HEX): an extended linear address record whenever the upper 16 address bits
/// change, 16-byte data records that never cross a 64 KiB boundary, an end-of-file record.
fn to_hex(board: &Board, image: &[u8], ranges: &[Range<u64>]) -> String {
    let mut records = Vec::new();
    let mut upper: Option<u16> = None;
    for r in ranges {
        let mut offset = r.start;
        while offset < r.end {
            let addr = board.flash_base as u64 + offset;
            let hi = (addr >> 16) as u16;
            if upper != Some(hi) {
                records.push(Record::ExtendedLinearAddress(hi));
                upper = Some(hi);
            }
            let low = addr & 0xFFFF;
            let len = (r.end - offset).min(HEX_RECORD as u64).min(0x1_0000 - low);
            let value = image[offset as usize..(offset + len) as usize].to_vec();
            records.push(Record::Data {
                offset: low as u16,
                value,
            });
            offset += len;
        }
    }
    records.push(Record::EndOfFile);
    // Every record is well formed by construction (data <= 16 bytes, one EOF, last).
    let mut text = String::new();
    for record in &records {
        if let Ok(line) = record.to_record_string() {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}

// UF2 spec (github.com/microsoft/uf2, "File format"): each 512-byte block is eight
// little-endian u32 words, 476 bytes of data, and a closing magic word.
/// `magicStart0`, word 0: "UF2\n".
const UF2_MAGIC_START0: u32 = 0x0A32_4655;
/// `magicStart1`, word 1.
const UF2_MAGIC_START1: u32 = 0x9E5D_5157;
/// `magicEnd`, the block's last word (byte 508).
const UF2_MAGIC_END: u32 = 0x0AB1_6F30;
/// `flags` bit: not main flash (a comment or a debug section); loaders skip the block.
const UF2_FLAG_NOT_MAIN_FLASH: u32 = 0x0000_0001;
/// `flags` bit: file container (a file, not flash contents); not a flash image.
const UF2_FLAG_FILE_CONTAINER: u32 = 0x0000_1000;
/// `flags` bit: word 7 is a `familyID` (else it is a file size, or 0).
const UF2_FLAG_FAMILY_ID: u32 = 0x0000_2000;
/// Bytes of a block.
const UF2_BLOCK: usize = 512;
/// Bytes of the data field (bytes 32..508); a block's `payloadSize` is at most this.
const UF2_DATA_MAX: usize = 476;
/// Payload of every block written here: the RP2040 boot ROM takes only 256-byte payloads at
/// 256-aligned addresses (RP2040 datasheet §2.8.4.2).
const UF2_PAYLOAD: u64 = 256;

/// UF2: the ranges rounded out to 256-byte pages (the padding is the image's own erased
/// bytes), one block per page, in address order.
fn to_uf2(board: &Board, family: u32, image: &[u8], ranges: &[Range<u64>]) -> Vec<u8> {
    let pages = merge(
        ranges
            .iter()
            .map(|r| r.start / UF2_PAYLOAD * UF2_PAYLOAD..r.end.div_ceil(UF2_PAYLOAD) * UF2_PAYLOAD)
            .collect(),
    );
    let count: u64 = pages.iter().map(|r| (r.end - r.start) / UF2_PAYLOAD).sum();
    let mut out = Vec::with_capacity(count as usize * UF2_BLOCK);
    let mut block_no = 0u32;
    for r in &pages {
        for offset in (r.start..r.end).step_by(UF2_PAYLOAD as usize) {
            let mut block = [0u8; UF2_BLOCK];
            let words = [
                UF2_MAGIC_START0,
                UF2_MAGIC_START1,
                UF2_FLAG_FAMILY_ID,               // flags
                board.flash_base + offset as u32, // targetAddr
                UF2_PAYLOAD as u32,               // payloadSize
                block_no,                         // blockNo
                count as u32,                     // numBlocks
                family,                           // familyID
            ];
            for (i, w) in words.iter().enumerate() {
                block[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
            }
            // data: the payload, then zeros to 476 bytes (the spec's padding).
            let end = (offset + UF2_PAYLOAD) as usize;
            block[32..32 + UF2_PAYLOAD as usize].copy_from_slice(&image[offset as usize..end]);
            block[508..512].copy_from_slice(&UF2_MAGIC_END.to_le_bytes());
            out.extend_from_slice(&block);
            block_no += 1;
        }
    }
    out
}

/// Puts a firmware's segments into `image`'s firmware region, which is erased first (the
/// firmware replaces whatever was there). The segments were checked by [`read_firmware`].
pub fn place_firmware(image: &mut [u8], board: &Board, firmware: &[Segment]) {
    image[..board.firmware as usize].fill(ERASED);
    for s in firmware {
        let at = (s.addr - board.flash_base as u64) as usize;
        image[at..at + s.data.len()].copy_from_slice(&s.data);
    }
}

// ---------------------------------------------------------------------------
// Reading

/// A file given as `--image`, as the whole flash it stands for.
#[derive(Debug)]
pub struct Decoded {
    pub format: Format,
    /// The board's whole flash (for bin: the file itself; its board is checked at boot).
    pub image: Vec<u8>,
}

/// Reads `bytes` (the file `path`) as its content or, failing that, its extension says.
pub fn decode(bytes: Vec<u8>, path: &Path) -> anyhow::Result<Decoded> {
    let format = Format::detect(&bytes, path);
    let image = match format {
        Format::Bin => bytes,
        Format::Hex => assemble(&parse_hex(&bytes)?, &[])?,
        Format::Uf2 => {
            let (segments, families) = parse_uf2(&bytes)?;
            assemble(&segments, &families)?
        }
    };
    Ok(Decoded { format, image })
}

/// Builds the whole flash of the board whose partition header the segments hold.
/// `families` is each segment's UF2 family id, if it has one (empty for HEX).
fn assemble(segments: &[Segment], families: &[Option<u32>]) -> anyhow::Result<Vec<u8>> {
    let board = flash::find_board(
        "address",
        |b| b.header_addr() as u64,
        |at| read_at(segments, at),
    )?;
    if !families.is_empty() {
        let want = uf2_family(board)?;
        if let Some((i, found)) = families
            .iter()
            .enumerate()
            .find_map(|(i, f)| f.filter(|&f| f != want).map(|f| (i, f)))
        {
            bail!(
                "UF2 block at {:#x} has family id {found:#010x}, but its header names {}, whose family is {want:#010x}: made for another chip (write it again for {})",
                segments[i].addr,
                board.name,
                board.name
            );
        }
    }
    let base = board.flash_base as u64;
    let mut image = vec![ERASED; board.flash as usize];
    for s in segments {
        if !board.in_flash(s.addr, s.data.len() as u64) {
            let r = s.range();
            bail!(
                "bytes at {:#x}..{:#x} lie outside {}'s flash {base:#x}..{:#x} (its header names {}): the file mixes boards; write it again with `charlstm-sim flash`",
                r.start,
                r.end,
                board.name,
                base + board.flash as u64,
                board.name
            );
        }
        let at = (s.addr - base) as usize;
        image[at..at + s.data.len()].copy_from_slice(&s.data);
    }
    Ok(image)
}

/// The 64 bytes at CPU address `at`, erased where no segment writes; `None` when no segment
/// writes any of them (no header there at all).
fn read_at(segments: &[Segment], at: u64) -> Option<[u8; HEADER_LEN]> {
    let want = at..at + HEADER_LEN as u64;
    let mut out = [ERASED; HEADER_LEN];
    let mut any = false;
    for s in segments {
        let r = s.range();
        let (lo, hi) = (r.start.max(want.start), r.end.min(want.end));
        if lo < hi {
            any = true;
            out[(lo - at) as usize..(hi - at) as usize]
                .copy_from_slice(&s.data[(lo - r.start) as usize..(hi - r.start) as usize]);
        }
    }
    any.then_some(out)
}

/// The data of an Intel HEX file, as runs of consecutive bytes. Takes extended linear and
/// extended segment addresses; the file must end with an end-of-file record (else it is
/// truncated).
pub fn parse_hex(bytes: &[u8]) -> anyhow::Result<Vec<Segment>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| anyhow!("not an Intel HEX file: it is not text (write it again)"))?;
    let mut segments: Vec<Segment> = Vec::new();
    let mut base = 0u64;
    let mut ended = false;
    for (i, record) in ihex::Reader::new(text).enumerate() {
        let record = record.map_err(|e| {
            anyhow!(
                "Intel HEX record {}: {e} (the file is damaged: write it again)",
                i + 1
            )
        })?;
        match record {
            Record::Data { offset, value } => {
                let addr = base + offset as u64;
                match segments.last_mut() {
                    Some(last) if last.range().end == addr => last.data.extend_from_slice(&value),
                    _ => segments.push(Segment { addr, data: value }),
                }
            }
            Record::ExtendedLinearAddress(hi) => base = (hi as u64) << 16,
            Record::ExtendedSegmentAddress(seg) => base = (seg as u64) << 4,
            // Entry points: a flasher ignores them, and so does an image.
            Record::StartLinearAddress(_) | Record::StartSegmentAddress { .. } => {}
            Record::EndOfFile => {
                ended = true;
                break;
            }
        }
    }
    if !ended {
        bail!("Intel HEX file has no end-of-file record: truncated (write it again)");
    }
    Ok(segments)
}

/// The main-flash blocks of a UF2 file, each with its family id if it carries one. Every
/// block's magic words are checked, and block numbers must run 0..numBlocks exactly once
/// (a loader knows it is done that way; a truncated file fails here).
fn parse_uf2(bytes: &[u8]) -> anyhow::Result<(Vec<Segment>, Vec<Option<u32>>)> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(UF2_BLOCK) {
        bail!(
            "UF2 file is {} bytes, not a whole number of 512-byte blocks: truncated (write it again)",
            bytes.len()
        );
    }
    let mut segments = Vec::new();
    let mut families = Vec::new();
    let mut seen: Vec<bool> = Vec::new();
    for (i, b) in bytes.chunks_exact(UF2_BLOCK).enumerate() {
        let damaged =
            |what: &str| anyhow!("UF2 block {i}: {what} (the file is damaged: write it again)");
        if word(b, 0) != UF2_MAGIC_START0
            || word(b, 4) != UF2_MAGIC_START1
            || word(b, 508) != UF2_MAGIC_END
        {
            return Err(damaged("bad magic"));
        }
        let flags = word(b, 8);
        let (addr, size, block_no, count) = (word(b, 12), word(b, 16), word(b, 20), word(b, 24));
        if flags & UF2_FLAG_FILE_CONTAINER != 0 {
            bail!("UF2 block {i} is a file container, not flash contents (pass a flash UF2)");
        }
        if size as usize > UF2_DATA_MAX {
            return Err(damaged(&format!(
                "payload size {size} is over {UF2_DATA_MAX}"
            )));
        }
        if seen.is_empty() {
            seen = vec![false; count as usize];
        }
        let total = seen.len();
        match seen.get_mut(block_no as usize) {
            Some(s) if count as usize == total && !*s => *s = true,
            _ => {
                return Err(damaged(&format!(
                    "block number {block_no} of {count} repeats or does not fit the file's {total} blocks"
                )));
            }
        }
        if flags & UF2_FLAG_NOT_MAIN_FLASH != 0 {
            continue;
        }
        segments.push(Segment {
            addr: addr as u64,
            data: b[32..32 + size as usize].to_vec(),
        });
        families.push((flags & UF2_FLAG_FAMILY_ID != 0).then(|| word(b, 28)));
    }
    if let Some(missing) = seen.iter().position(|&s| !s) {
        bail!(
            "UF2 file lacks block {missing} of {}: truncated (write it again)",
            seen.len()
        );
    }
    Ok((segments, families))
}

fn word(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

// ---------------------------------------------------------------------------
// Firmware (`--firmware FW`)

/// The bytes a firmware file puts in flash: an ELF's `PT_LOAD` segments at their physical
/// (load) addresses, which is where `.data`'s initial values live too, or an Intel HEX
/// file's data. Every byte must lie in `board`'s firmware reservation: that also refuses a
/// firmware linked for another board.
pub fn read_firmware(path: &Path, board: &Board) -> anyhow::Result<Vec<Segment>> {
    let label = path.display();
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow!("{label}: cannot read it: {e} (check the path)"))?;
    let segments = if bytes.starts_with(&elf::ELFMAG) {
        elf_segments(&bytes).with_context(|| format!("{label}: not a firmware ELF this reads"))?
    } else if Format::detect(&bytes, path) == Format::Hex {
        parse_hex(&bytes).with_context(|| label.to_string())?
    } else {
        bail!(
            "{label}: not an ELF or Intel HEX file (pass the firmware's ELF, or its `objcopy -O ihex` output)"
        );
    };
    if segments.iter().all(|s| s.data.is_empty()) {
        bail!("{label}: holds no bytes to load into flash (pass the linked firmware ELF)");
    }
    let base = board.flash_base as u64;
    let reservation = base..base + board.firmware as u64;
    for s in &segments {
        let r = s.range();
        if r.start < reservation.start || r.end > reservation.end {
            bail!(
                "{label}: firmware bytes at {:#x}..{:#x} fall outside {}'s firmware reservation {:#x}..{:#x} (built for another board, or too big? link it for {} at FLASH ORIGIN {base:#x}, LENGTH {} KiB)",
                r.start,
                r.end,
                board.name,
                reservation.start,
                reservation.end,
                board.name,
                board.firmware / 1024
            );
        }
    }
    Ok(segments)
}

/// `PT_LOAD` segments with file bytes, of a 32- or 64-bit ELF of either byte order.
fn elf_segments(bytes: &[u8]) -> anyhow::Result<Vec<Segment>> {
    // e_ident[EI_CLASS], byte 4 of the ELF header: 1 = ELFCLASS32, 2 = ELFCLASS64.
    match bytes.get(4) {
        Some(&1) => load_segments::<elf::FileHeader32<object::Endianness>>(bytes),
        Some(&2) => load_segments::<elf::FileHeader64<object::Endianness>>(bytes),
        _ => bail!("unknown ELF class"),
    }
}

fn load_segments<E: FileHeader<Endian = object::Endianness>>(
    bytes: &[u8],
) -> anyhow::Result<Vec<Segment>> {
    let header = E::parse(bytes).map_err(|e| anyhow!("{e}"))?;
    let endian = header.endian().map_err(|e| anyhow!("{e}"))?;
    let mut out = Vec::new();
    for ph in header
        .program_headers(endian, bytes)
        .map_err(|e| anyhow!("{e}"))?
    {
        if ph.p_type(endian) != elf::PT_LOAD || ph.p_filesz(endian).into() == 0 {
            continue;
        }
        let data = ph
            .data(endian, bytes)
            .map_err(|()| anyhow!("a PT_LOAD segment lies outside the file"))?;
        out.push(Segment {
            addr: ph.p_paddr(endian).into(),
            data: data.to_vec(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::find;
    use crate::flash::write_image;

    fn flashed(name: &str, blob: &[u8]) -> (&'static Board, Vec<u8>, Vec<Range<u64>>) {
        let b = find(name).unwrap();
        let image = write_image(b, blob, None).unwrap();
        (b, image, vec![model_range(b, blob.len())])
    }

    #[test]
    fn hex_holds_the_header_page_and_blob_at_cpu_addresses() {
        let blob: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let (b, image, ranges) = flashed("stm32f411", &blob);
        let hex = String::from_utf8(encode(Format::Hex, b, &image, &ranges).unwrap()).unwrap();
        let lines: Vec<&str> = hex.lines().collect();
        assert_eq!(lines[0], ":020000040802F0"); // upper address 0x0802
        assert!(lines[1].starts_with(":10000000434C534D50415254")); // "CLSMPART" at 0x08020000
        assert_eq!(*lines.last().unwrap(), ":00000001FF");
        let segs = parse_hex(hex.as_bytes()).unwrap();
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0].addr, 0x0802_0000);
        assert_eq!(segs[0].data.len(), 256 + blob.len());
        let back = decode(hex.into_bytes(), Path::new("m.hex")).unwrap();
        assert_eq!(back.format, Format::Hex);
        assert_eq!(back.image, image);
    }

    #[test]
    fn hex_records_do_not_cross_64k_boundaries() {
        let b = find("nrf52840").unwrap();
        let image = vec![0x11; b.flash as usize];
        let across = 0xFFF8..0x1_0008;
        let hex = to_hex(b, &image, std::slice::from_ref(&across));
        let segs = parse_hex(hex.as_bytes()).unwrap();
        assert_eq!(
            segs,
            vec![Segment {
                addr: 0xFFF8,
                data: vec![0x11; 16]
            }]
        );
        assert!(hex.contains(":08FFF800"), "{hex}");
        assert!(hex.contains(":020000040001F9"), "{hex}");
        let truncated = hex.replace(":00000001FF\n", "");
        assert!(
            parse_hex(truncated.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
    }

    #[test]
    fn uf2_blocks_follow_the_spec() {
        let blob = vec![0xA5u8; 300];
        let (b, image, ranges) = flashed("rp2040", &blob);
        let uf2 = encode(Format::Uf2, b, &image, &ranges).unwrap();
        // Header page + 300 bytes of blob = 556 bytes, rounded up to 3 pages.
        assert_eq!(uf2.len(), 3 * UF2_BLOCK);
        for (i, block) in uf2.chunks(UF2_BLOCK).enumerate() {
            assert_eq!(word(block, 0), 0x0A32_4655);
            assert_eq!(word(block, 4), 0x9E5D_5157);
            assert_eq!(word(block, 8), 0x2000);
            assert_eq!(word(block, 12), 0x1002_0000 + 256 * i as u32);
            assert_eq!(word(block, 16), 256);
            assert_eq!((word(block, 20), word(block, 24)), (i as u32, 3));
            assert_eq!(word(block, 28), 0xe48b_ff56);
            assert!(block[32 + 256..508].iter().all(|&x| x == 0));
            assert_eq!(word(block, 508), 0x0AB1_6F30);
        }
        let back = decode(uf2.clone(), Path::new("x.bin")).unwrap();
        assert_eq!(back.format, Format::Uf2);
        assert_eq!(back.image, image);
        // Another family, a missing block, an address outside flash: refused.
        let mut other = uf2.clone();
        other[28..32].copy_from_slice(&0xe48b_ff59u32.to_le_bytes());
        let err = decode(other, Path::new("m.uf2")).unwrap_err().to_string();
        assert!(err.contains("family id 0xe48bff59"), "{err}");
        let err = decode(uf2[..2 * UF2_BLOCK].to_vec(), Path::new("m.uf2")).unwrap_err();
        assert!(err.to_string().contains("lacks block 2"), "{err}");
        let mut far = uf2.clone();
        far[1024 + 12..1024 + 16].copy_from_slice(&0x1030_0000u32.to_le_bytes());
        let err = decode(far, Path::new("m.uf2")).unwrap_err().to_string();
        assert!(
            err.contains("0x10300000..0x10300100") && err.contains("outside rp2040"),
            "{err}"
        );
    }

    #[test]
    fn uf2_is_refused_for_a_board_without_a_uf2_boot_rom() {
        let (b, image, ranges) = flashed("stm32f411", &[1, 2, 3]);
        let err = encode(Format::Uf2, b, &image, &ranges)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rp2040") && err.contains("--format hex"),
            "{err}"
        );
    }

    #[test]
    fn formats_come_from_content_then_extension() {
        let p = Path::new("a.img");
        assert_eq!(Format::detect(b":00000001FF\n", p), Format::Hex);
        assert_eq!(Format::detect(&[0xFF; 16], Path::new("a.HEX")), Format::Hex);
        assert_eq!(Format::detect(&[0xFF; 16], p), Format::Bin);
        assert_eq!(Format::from_extension(Path::new("m.uf2")), Format::Uf2);
        // A bin image whose first byte happens to be ':' is still bin.
        assert_eq!(Format::detect(&[b':', 0xFF, 0xFF], p), Format::Bin);
    }

    #[test]
    fn a_hex_without_a_header_is_not_an_image() {
        let b = find("stm32f411").unwrap();
        let image = vec![0u8; b.flash as usize];
        let header_only = 0..64;
        let hex = to_hex(b, &image, std::slice::from_ref(&header_only));
        let err = decode(hex.into_bytes(), Path::new("fw.hex"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no partition header at any board's header address"),
            "{err}"
        );
    }
}
