//! The flash image: layout, writing a blob as a flasher would, and booting from it.
//! docs/flash-layout.md is the spec; section numbers below cite it.
//!
//! ```text
//! 0        .. F          firmware code (F = the board's `firmware` reservation)
//! F        .. F + 64     partition header (64 bytes, §2)
//! F + 64   .. F + 256    rest of the header page, erased
//! F + 256  .. flash end  model region: the blob, then erased bytes (0xFF)
//! ```
//!
//! New weights only rewrite the header page and the model region, so a firmware never has
//! to be rebuilt for them. The firmware knows its board, so it knows F; the simulator tells
//! the board from the image's length (each profile's flash size differs) or `--board`.

use std::fmt;

use charlstm_core::CRC32;

use crate::board::{self, Board};

/// Bytes of the header proper (spec §2).
pub const HEADER_LEN: usize = 64;
/// The header owns one 256-byte page (a flash program unit on every profile).
pub const HEADER_PAGE: u32 = 256;
/// First eight bytes of the header (spec §2).
pub const PART_MAGIC: [u8; 8] = *b"CLSMPART";
/// The layout version this build writes and boots (spec §2).
pub const LAYOUT_VERSION: u16 = 1;
/// Value of erased NOR flash.
pub const ERASED: u8 = 0xFF;

// ---------------------------------------------------------------------------
// The partition header (spec §2)

/// The partition header, all integers little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionHeader {
    /// Total flash bytes: the image's length.
    pub flash_size: u32,
    /// Offset of the model region from the start of flash.
    pub model_offset: u32,
    /// Bytes of the model region.
    pub model_len: u32,
    /// Bytes of the blob at the start of the model region.
    pub blob_len: u32,
    /// CRC-32 (ISO-HDLC, as the blob's own) of the blob's bytes.
    pub blob_crc: u32,
    /// Board the image was written for, ASCII, NUL padded.
    pub board: [u8; 16],
}

impl PartitionHeader {
    /// The header for `blob` on `board`.
    pub fn new(board: &Board, blob: &[u8]) -> Self {
        let mut name = [0u8; 16];
        name[..board.name.len()].copy_from_slice(board.name.as_bytes());
        PartitionHeader {
            flash_size: board.flash,
            model_offset: board.model_offset(),
            model_len: board.model_region(),
            blob_len: blob.len() as u32,
            blob_crc: CRC32.checksum(blob),
            board: name,
        }
    }

    /// The board name as stored.
    pub fn board_name(&self) -> String {
        let end = self.board.iter().position(|&b| b == 0).unwrap_or(16);
        String::from_utf8_lossy(&self.board[..end]).into_owned()
    }

    /// Spec §2, byte for byte.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&PART_MAGIC);
        b[8..10].copy_from_slice(&LAYOUT_VERSION.to_le_bytes());
        b[10..12].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        b[12..16].copy_from_slice(&self.flash_size.to_le_bytes());
        b[16..20].copy_from_slice(&self.model_offset.to_le_bytes());
        b[20..24].copy_from_slice(&self.model_len.to_le_bytes());
        b[24..28].copy_from_slice(&self.blob_len.to_le_bytes());
        b[28..32].copy_from_slice(&self.blob_crc.to_le_bytes());
        b[32..48].copy_from_slice(&self.board);
        // 48..60 reserved, zero.
        let crc = CRC32.checksum(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses and checks the header bytes (spec §2, §4).
    pub fn from_bytes(b: &[u8; HEADER_LEN]) -> Result<Self, BootError> {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        if b.iter().all(|&x| x == ERASED) {
            return Err(BootError::Erased);
        }
        if b[0..8] != PART_MAGIC {
            return Err(BootError::BadMagic);
        }
        let stored = u32_at(60);
        let computed = CRC32.checksum(&b[..60]);
        if stored != computed {
            return Err(BootError::HeaderChecksum { stored, computed });
        }
        let version = u16::from_le_bytes([b[8], b[9]]);
        let len = u16::from_le_bytes([b[10], b[11]]);
        if version != LAYOUT_VERSION || len as usize != HEADER_LEN {
            return Err(BootError::Version { found: version });
        }
        let mut board = [0u8; 16];
        board.copy_from_slice(&b[32..48]);
        Ok(PartitionHeader {
            flash_size: u32_at(12),
            model_offset: u32_at(16),
            model_len: u32_at(20),
            blob_len: u32_at(24),
            blob_crc: u32_at(28),
            board,
        })
    }
}

// ---------------------------------------------------------------------------
// Boot: find and check the model region (spec §4)

/// Why an image does not boot (spec §4 lists each with its check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootError {
    /// The image's length is no board's flash size (truncated or padded).
    UnknownSize { len: usize },
    /// The image's length is not the named board's flash size.
    WrongBoardSize {
        board: &'static str,
        flash: u32,
        len: usize,
    },
    /// The header bytes are all 0xFF: nothing was flashed.
    Erased,
    /// No partition header magic at the board's header offset.
    BadMagic,
    /// The header's own CRC does not match.
    HeaderChecksum { stored: u32, computed: u32 },
    /// A layout version or header length this build does not read.
    Version { found: u16 },
    /// The header names another board than the one whose flash this is.
    BoardMismatch { header: String, board: &'static str },
    /// The model region or blob lies outside the flash.
    Region,
    /// The blob bytes do not match the header's CRC.
    BlobChecksum { stored: u32, computed: u32 },
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reflash = "re-flash it with `charlstm-sim flash BLOB --image FILE`";
        match self {
            BootError::UnknownSize { len } => write!(
                f,
                "image is {len} bytes, which is no board's flash size ({}): truncated or not a flash image ({reflash})",
                board::BOARDS
                    .iter()
                    .map(|b| format!("{} {}", b.name, b.flash))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            BootError::WrongBoardSize { board, flash, len } => write!(
                f,
                "image is {len} bytes but {board}'s flash is {flash} bytes: truncated, or made for another board ({reflash})"
            ),
            BootError::Erased => write!(
                f,
                "no model flashed: the partition header is erased ({reflash})"
            ),
            BootError::BadMagic => write!(
                f,
                "not a charlstm flash image: no partition header after the firmware (a blob goes in with --blob; {reflash})"
            ),
            BootError::HeaderChecksum { stored, computed } => write!(
                f,
                "image is corrupt: partition header CRC-32 is {stored:#010x} but its bytes give {computed:#010x} ({reflash})"
            ),
            BootError::Version { found } => write!(
                f,
                "flash layout version {found}, this build boots version {LAYOUT_VERSION} ({reflash})"
            ),
            BootError::BoardMismatch { header, board } => write!(
                f,
                "image has {board}'s flash size but its header names board `{header}` ({reflash})"
            ),
            BootError::Region => write!(
                f,
                "image is corrupt: the header's model region lies outside the flash ({reflash})"
            ),
            BootError::BlobChecksum { stored, computed } => write!(
                f,
                "model region is corrupt: header says CRC-32 {stored:#010x} but the bytes give {computed:#010x} ({reflash})"
            ),
        }
    }
}

impl std::error::Error for BootError {}

/// A booted image: the header, its board and the blob, borrowed from the image.
#[derive(Debug, Clone, Copy)]
pub struct Boot<'a> {
    pub header: PartitionHeader,
    pub board: &'static Board,
    /// The blob bytes inside the model region (zero-copy).
    pub blob: &'a [u8],
}

/// Boots an image whose board is told by its length (spec §4).
pub fn boot(image: &[u8]) -> Result<Boot<'_>, BootError> {
    let board = board::BOARDS
        .iter()
        .find(|b| b.flash as usize == image.len())
        .ok_or(BootError::UnknownSize { len: image.len() })?;
    boot_on(image, board)
}

/// What `board`'s boot code does (spec §4): read the header at its offset, check it, and
/// hand out the blob's slice of the image.
pub fn boot_on<'a>(image: &'a [u8], board: &'static Board) -> Result<Boot<'a>, BootError> {
    if image.len() != board.flash as usize {
        return Err(BootError::WrongBoardSize {
            board: board.name,
            flash: board.flash,
            len: image.len(),
        });
    }
    let at = board.header_offset() as usize;
    let header_bytes: &[u8; HEADER_LEN] = image
        .get(at..at + HEADER_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(BootError::Region)?;
    let header = PartitionHeader::from_bytes(header_bytes)?;
    let name = header.board_name();
    if name != board.name {
        return Err(BootError::BoardMismatch {
            header: name,
            board: board.name,
        });
    }
    if header.flash_size != board.flash {
        return Err(BootError::Region);
    }
    let start = header.model_offset as usize;
    let region_end = start.checked_add(header.model_len as usize);
    let blob_end = start.checked_add(header.blob_len as usize);
    let (Some(region_end), Some(blob_end)) = (region_end, blob_end) else {
        return Err(BootError::Region);
    };
    if start < at + HEADER_LEN || region_end > image.len() || blob_end > region_end {
        return Err(BootError::Region);
    }
    let blob = &image[start..blob_end];
    let computed = CRC32.checksum(blob);
    if computed != header.blob_crc {
        return Err(BootError::BlobChecksum {
            stored: header.blob_crc,
            computed,
        });
    }
    Ok(Boot {
        header,
        board,
        blob,
    })
}

// ---------------------------------------------------------------------------
// Writing (spec §3)

/// Why an image cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlashError {
    /// The blob is larger than the board's model region.
    TooLarge { blob: usize, region: u32 },
    /// An existing image has another length than this board's flash.
    WrongSize { found: usize, flash: u32 },
}

impl fmt::Display for FlashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlashError::TooLarge { blob, region } => write!(
                f,
                "blob is {blob} bytes but the model region holds {region}: over by {} bytes",
                *blob as u64 - *region as u64
            ),
            FlashError::WrongSize { found, flash } => write!(
                f,
                "existing image is {found} bytes but this board's flash is {flash} bytes (delete it, or pass the --board it was made for)"
            ),
        }
    }
}

impl std::error::Error for FlashError {}

/// The image after flashing `blob` for `board` (spec §3). An existing image of the right
/// size keeps its firmware region; the header page and model region are erased and
/// rewritten. Without one the whole flash starts erased.
pub fn write_image(
    board: &Board,
    blob: &[u8],
    existing: Option<Vec<u8>>,
) -> Result<Vec<u8>, FlashError> {
    let region = board.model_region();
    if blob.len() > region as usize {
        return Err(FlashError::TooLarge {
            blob: blob.len(),
            region,
        });
    }
    let mut image = match existing {
        Some(image) if image.len() != board.flash as usize => {
            return Err(FlashError::WrongSize {
                found: image.len(),
                flash: board.flash,
            });
        }
        Some(image) => image,
        None => vec![ERASED; board.flash as usize],
    };
    let at = board.header_offset() as usize;
    image[at..].fill(ERASED);
    image[at..at + HEADER_LEN].copy_from_slice(&PartitionHeader::new(board, blob).to_bytes());
    let start = board.model_offset() as usize;
    image[start..start + blob.len()].copy_from_slice(blob);
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board() -> &'static Board {
        board::find("stm32f103").unwrap()
    }

    #[test]
    fn header_bytes_are_exactly_the_spec() {
        let h = PartitionHeader::new(board(), b"blob");
        let b = h.to_bytes();
        assert_eq!(&b[0..8], b"CLSMPART");
        assert_eq!(&b[8..12], &[1, 0, 64, 0]);
        assert_eq!(&b[12..16], &(128u32 * 1024).to_le_bytes());
        assert_eq!(&b[16..20], &[0x00, 0xC1, 0x00, 0x00]); // 48 KiB + 256 = 0xC100
        assert_eq!(&b[24..28], &[4, 0, 0, 0]);
        assert_eq!(&b[32..42], b"stm32f103\0");
        assert_eq!(PartitionHeader::from_bytes(&b), Ok(h));
    }

    #[test]
    fn write_then_boot_round_trips_and_keeps_firmware() {
        let blob = b"not really a blob, but the boot only checks the partition";
        let mut old = vec![ERASED; board().flash as usize];
        old[..4].copy_from_slice(b"FW!!");
        let image = write_image(board(), blob, Some(old)).unwrap();
        assert_eq!(&image[..4], b"FW!!");
        let booted = boot(&image).unwrap();
        assert_eq!(booted.blob, blob);
        assert_eq!(booted.board.name, "stm32f103");
        assert!(
            image[board().model_offset() as usize + blob.len()..]
                .iter()
                .all(|&b| b == ERASED)
        );
    }

    #[test]
    fn every_damage_is_caught() {
        let blob = [7u8; 100];
        let image = write_image(board(), &blob, None).unwrap();
        let at = board().header_offset() as usize;
        assert_eq!(
            boot(&image[..at + 10]).unwrap_err(),
            BootError::UnknownSize { len: at + 10 }
        );
        assert!(matches!(
            boot_on(&image[..image.len() - 1], board()),
            Err(BootError::WrongBoardSize { .. })
        ));
        assert_eq!(
            boot(&vec![ERASED; image.len()]).unwrap_err(),
            BootError::Erased
        );
        assert_eq!(
            boot(&vec![0; image.len()]).unwrap_err(),
            BootError::BadMagic
        );
        let mut bad = image.clone();
        bad[at + 20] ^= 1;
        assert!(matches!(boot(&bad), Err(BootError::HeaderChecksum { .. })));
        let mut bad = image.clone();
        bad[board().model_offset() as usize + 50] ^= 1;
        assert!(matches!(boot(&bad), Err(BootError::BlobChecksum { .. })));
        // Every truncation fails, none panics.
        for len in (0..image.len()).step_by(997) {
            assert!(boot(&image[..len]).is_err());
        }
    }

    #[test]
    fn too_large_blob_names_the_overshoot() {
        let region = board().model_region() as usize;
        let err = write_image(board(), &vec![0; region + 3], None).unwrap_err();
        assert!(err.to_string().contains("over by 3 bytes"), "{err}");
        assert!(write_image(board(), &vec![0; region], None).is_ok());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Damage anywhere in the header page or the blob never panics the boot, and any
        /// damage to the header or blob bytes is caught.
        #[test]
        fn damaged_images_never_panic(flips in proptest::collection::vec((0usize..400, 1u8..=255), 1..4)) {
            let blob = [0x5Au8; 100];
            let board = board();
            let mut image = write_image(board, &blob, None).unwrap();
            let at = board.header_offset() as usize;
            let mut touched_checked_bytes = false;
            for (offset, mask) in flips {
                // Offsets 0..64 hit the header, 256..356 the blob, the rest erased filler.
                image[at + offset] ^= mask;
                touched_checked_bytes |= offset < HEADER_LEN || (256..356).contains(&offset);
            }
            let result = boot(&image);
            if touched_checked_bytes {
                // Two flips can cancel out; otherwise a checked byte changed.
                let unchanged = image == write_image(board, &blob, None).unwrap();
                proptest::prop_assert!(result.is_err() || unchanged);
            }
        }
    }
}
