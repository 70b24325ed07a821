//! The partition header and the boot check: how a flashed model is found and verified, on
//! the device (reading memory-mapped flash) and in the simulator (reading an image file).
//! docs/flash-layout.md is the spec; section numbers below cite it.

use core::fmt;

use charlstm_core::CRC32;

use crate::board::{BOARDS, Board};

/// Bytes of the header proper (spec §2).
pub const HEADER_LEN: usize = 64;
/// First eight bytes of the header (spec §2).
pub const PART_MAGIC: [u8; 8] = *b"CLSMPART";
/// The layout version this build writes and boots (spec §2).
pub const LAYOUT_VERSION: u16 = 1;
/// Value of erased NOR flash. QEMU's never-written memory reads 0x00; both mean erased.
pub const ERASED: u8 = 0xFF;

// ---------------------------------------------------------------------------
// The partition header (spec §2)

/// The partition header, all integers little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionHeader {
    /// Bytes of flash of the board the image was written for.
    pub flash_size: u32,
    /// Offset of the model region from the start of flash.
    pub model_offset: u32,
    /// Bytes of the model region.
    pub model_len: u32,
    /// Bytes of the blob at the start of the model region.
    pub blob_len: u32,
    /// CRC-32 (ISO-HDLC, the blob format's own) of the blob's bytes.
    pub blob_crc: u32,
    /// Board the image was written for, ASCII, NUL padded.
    pub board: [u8; 16],
}

impl PartitionHeader {
    /// The header for `blob` on `board`.
    pub fn new(board: &Board, blob: &[u8]) -> Self {
        PartitionHeader {
            flash_size: board.flash,
            model_offset: board.model_offset(),
            model_len: board.model_region(),
            blob_len: blob.len() as u32,
            blob_crc: CRC32.checksum(blob),
            board: board.name_field(),
        }
    }

    /// The board name as stored (up to the first NUL; `"?"` if it is not ASCII).
    pub fn board_name(&self) -> &str {
        let end = self.board.iter().position(|&b| b == 0).unwrap_or(16);
        match core::str::from_utf8(&self.board[..end]) {
            Ok(name) if name.is_ascii() => name,
            _ => "?",
        }
    }

    /// The board of the table this header names.
    pub fn named_board(&self) -> Option<&'static Board> {
        BOARDS.iter().find(|b| b.name_field() == self.board)
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

    /// Parses and checks the header's own bytes (spec §4, first five rows).
    #[cfg_attr(charlstm_optimize, optimize(size))]
    pub fn parse(b: &[u8; HEADER_LEN]) -> Result<Self, ImageError> {
        if b.iter().all(|&x| x == ERASED) || b.iter().all(|&x| x == 0) {
            return Err(ImageError::Erased);
        }
        if b[0..8] != PART_MAGIC {
            return Err(ImageError::BadMagic);
        }
        let stored = u32_at(b, 60);
        let computed = CRC32.checksum(&b[..60]);
        if stored != computed {
            return Err(ImageError::HeaderChecksum { stored, computed });
        }
        let version = u16::from_le_bytes([b[8], b[9]]);
        let len = u16::from_le_bytes([b[10], b[11]]);
        if version != LAYOUT_VERSION || len as usize != HEADER_LEN {
            return Err(ImageError::Version { found: version });
        }
        let mut board = [0u8; 16];
        board.copy_from_slice(&b[32..48]);
        Ok(PartitionHeader {
            flash_size: u32_at(b, 12),
            model_offset: u32_at(b, 16),
            model_len: u32_at(b, 20),
            blob_len: u32_at(b, 24),
            blob_crc: u32_at(b, 28),
            board,
        })
    }
}

fn u32_at(b: &[u8; HEADER_LEN], i: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[i..i + 4]);
    u32::from_le_bytes(w)
}

// ---------------------------------------------------------------------------
// Boot: find and check the model (spec §4)

/// Why a flash does not boot (spec §4 lists each with its check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageError {
    /// The header bytes are all erased (0xFF, or 0x00 as QEMU's unwritten memory reads).
    Erased,
    /// No partition header magic at the board's header offset.
    BadMagic,
    /// The header's own CRC does not match its bytes.
    HeaderChecksum { stored: u32, computed: u32 },
    /// A layout version or header length this build does not read.
    Version { found: u16 },
    /// The header names another board than the one whose flash this is.
    BoardMismatch { header: [u8; 16] },
    /// The header's flash size, model region or blob lies outside this board's flash.
    Region,
    /// The blob bytes do not match the header's CRC.
    BlobChecksum { stored: u32, computed: u32 },
}

impl ImageError {
    /// A stable one-word name for scripts (docs/flash-layout.md §4, docs/serial-protocol.md).
    pub fn kind(&self) -> &'static str {
        match self {
            ImageError::Erased => "erased",
            ImageError::BadMagic => "bad-magic",
            ImageError::HeaderChecksum { .. } => "header-crc",
            ImageError::Version { .. } => "layout-version",
            ImageError::BoardMismatch { .. } => "board",
            ImageError::Region => "region",
            ImageError::BlobChecksum { .. } => "blob-crc",
        }
    }
}

impl fmt::Display for ImageError {
    #[cfg_attr(charlstm_optimize, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.kind())?;
        match self {
            ImageError::Erased => f.write_str("no model flashed: the partition header is erased"),
            ImageError::BadMagic => {
                f.write_str("no charlstm partition header after the firmware reservation")
            }
            ImageError::HeaderChecksum { stored, computed } => write!(
                f,
                "partition header is corrupt: its CRC-32 is {stored:#010x} but its bytes give {computed:#010x}"
            ),
            ImageError::Version { found } => write!(
                f,
                "flash layout version {found}, this build boots version {LAYOUT_VERSION}"
            ),
            ImageError::BoardMismatch { header } => {
                let name = PartitionHeader {
                    board: *header,
                    ..EMPTY
                };
                write!(
                    f,
                    "the image was made for board `{}`, not this one",
                    name.board_name()
                )
            }
            ImageError::Region => f.write_str(
                "partition header is corrupt: its model region lies outside this board's flash",
            ),
            ImageError::BlobChecksum { stored, computed } => write!(
                f,
                "model region is corrupt: the header says CRC-32 {stored:#010x} but the blob gives {computed:#010x}"
            ),
        }
    }
}

impl core::error::Error for ImageError {}

const EMPTY: PartitionHeader = PartitionHeader {
    flash_size: 0,
    model_offset: 0,
    model_len: 0,
    blob_len: 0,
    blob_crc: 0,
    board: [0; 16],
};

/// A checked partition: its header and the blob, borrowed from flash (zero-copy).
#[derive(Debug, Clone, Copy)]
pub struct Partition<'a> {
    pub header: PartitionHeader,
    pub blob: &'a [u8],
}

/// What `board`'s boot code does (spec §4): check the header at the start of `from_header`,
/// which holds the board's flash from its header offset to the end of flash (a firmware
/// cannot form a slice at address 0), then the blob's place and CRC.
#[cfg_attr(charlstm_optimize, optimize(size))]
pub fn read_partition<'a>(
    board: &Board,
    from_header: &'a [u8],
) -> Result<Partition<'a>, ImageError> {
    let header_bytes: &[u8; HEADER_LEN] = from_header
        .get(..HEADER_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(ImageError::Region)?;
    let header = PartitionHeader::parse(header_bytes)?;
    if header.board != board.name_field() {
        return Err(ImageError::BoardMismatch {
            header: header.board,
        });
    }
    if header.flash_size != board.flash
        || header.model_offset != board.model_offset()
        || header.model_len != board.model_region()
        || header.blob_len > header.model_len
    {
        return Err(ImageError::Region);
    }
    let start = (board.model_offset() - board.header_offset()) as usize;
    let blob = start
        .checked_add(header.blob_len as usize)
        .and_then(|end| from_header.get(start..end))
        .ok_or(ImageError::Region)?;
    let computed = CRC32.checksum(blob);
    if computed != header.blob_crc {
        return Err(ImageError::BlobChecksum {
            stored: header.blob_crc,
            computed,
        });
    }
    Ok(Partition { header, blob })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::find;

    fn board() -> &'static Board {
        find("stm32f103").unwrap()
    }

    /// The flash from the header offset on, with `blob` flashed.
    fn flashed(blob: &[u8]) -> [u8; 1024] {
        let mut f = [ERASED; 1024];
        f[..HEADER_LEN].copy_from_slice(&PartitionHeader::new(board(), blob).to_bytes());
        f[256..256 + blob.len()].copy_from_slice(blob);
        f
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
        // CRC-32/ISO-HDLC of "blob", as zlib.crc32(b"blob") gives it.
        assert_eq!(&b[28..32], &0xb07f_a5ccu32.to_le_bytes());
        assert_eq!(&b[32..42], b"stm32f103\0");
        assert_eq!(&b[48..60], &[0; 12]);
        assert_eq!(PartitionHeader::parse(&b), Ok(h));
        assert_eq!(h.named_board(), Some(board()));
    }

    #[test]
    fn a_good_image_boots_and_each_kind_of_damage_and_every_truncation_is_refused() {
        let blob = [7u8; 100];
        let f = flashed(&blob);
        assert_eq!(read_partition(board(), &f).unwrap().blob, &blob);
        for erased in [ERASED, 0] {
            assert_eq!(
                read_partition(board(), &[erased; 512]).unwrap_err(),
                ImageError::Erased
            );
        }
        let mut bad = f;
        bad[0] = b'X';
        assert_eq!(
            read_partition(board(), &bad).unwrap_err(),
            ImageError::BadMagic
        );
        let mut bad = f;
        bad[20] ^= 1;
        assert!(matches!(
            read_partition(board(), &bad),
            Err(ImageError::HeaderChecksum { .. })
        ));
        let mut bad = f;
        bad[256 + 50] ^= 1;
        assert!(matches!(
            read_partition(board(), &bad),
            Err(ImageError::BlobChecksum { .. })
        ));
        let other = find("stm32f411").unwrap();
        assert!(matches!(
            read_partition(other, &f),
            Err(ImageError::BoardMismatch { .. })
        ));
        assert_eq!(
            ImageError::BoardMismatch {
                header: board().name_field()
            }
            .kind(),
            "board"
        );
        // Every truncation is an error, none panics.
        for len in 0..f.len() {
            if len < 356 {
                assert!(read_partition(board(), &f[..len]).is_err(), "{len}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Damage anywhere in the header or the blob is caught, and nothing panics.
        #[test]
        fn random_damage_to_the_header_or_blob_is_refused(flips in proptest::collection::vec((0usize..356, 1u8..=255), 1..4)) {
            let blob = [0x5Au8; 100];
            let clean = flashed(&blob);
            let mut f = clean;
            for (offset, mask) in flips {
                f[offset] ^= mask;
            }
            let result = read_partition(board(), &f);
            let checked_changed = f[..HEADER_LEN] != clean[..HEADER_LEN] || f[256..356] != clean[256..356];
            proptest::prop_assert!(result.is_err() || !checked_changed);
        }
    }
}
