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
//! to be rebuilt for them. The header and its checks are `charlstm_device::image`, the code
//! a firmware boots with; the board table is `charlstm_device::board`. A firmware knows its
//! board, so it knows F; the simulator reads the board from the header (§4): it tries each
//! board's header offset and takes the board the header found there names.

use std::fmt;

pub use charlstm_device::image::{
    ERASED, HEADER_LEN, ImageError, LAYOUT_VERSION, PART_MAGIC, PartitionHeader, read_partition,
};

use crate::board::{BOARDS, Board};

// ---------------------------------------------------------------------------
// Boot: find the board, then check the model region (spec §4)

/// Why an image does not boot (spec §4 lists each with its check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootError {
    /// The device's boot check failed (its Display starts with the stable kind word).
    Image(ImageError),
    /// No board's header place holds a partition header (`what`: "offset" or "address").
    NotAnImage {
        what: &'static str,
        places: Vec<u64>,
    },
    /// The header names a board this build's table does not have.
    UnknownBoard { name: String },
    /// The header names a board whose header lives elsewhere: the image is laid out for
    /// another board than the one it claims.
    Misplaced { board: &'static str, found_at: u64 },
    /// The image's length is not the flash size of the board its header names.
    WrongLength {
        board: &'static str,
        flash: u32,
        len: usize,
    },
    /// `--board` names another board than the image's header.
    BoardArg {
        arg: &'static str,
        header: &'static str,
    },
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reflash = "re-flash it with `charlstm-sim flash BLOB --image FILE`";
        match self {
            BootError::Image(e) => write!(f, "{e} ({reflash})"),
            BootError::NotAnImage { what, places } => write!(
                f,
                "not a charlstm flash image: no partition header at any board's header {what} ({}) (a blob goes in with --blob; {reflash})",
                places
                    .iter()
                    .map(|p| format!("{p:#x}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            BootError::UnknownBoard { name } => write!(
                f,
                "board: its partition header names board `{name}`, which this build does not know (known: {}; {reflash})",
                crate::board::names()
            ),
            BootError::Misplaced { board, found_at } => write!(
                f,
                "board: its partition header at {found_at:#x} names board {board}, whose header is elsewhere: laid out for another board ({reflash})"
            ),
            BootError::WrongLength { board, flash, len } => write!(
                f,
                "image is {len} bytes but its header names {board}, whose flash is {flash} bytes: truncated or padded ({reflash})"
            ),
            BootError::BoardArg { arg, header } => write!(
                f,
                "board: --board {arg} disagrees with the image's partition header, which names {header} (drop --board, or re-flash for {arg} with `charlstm-sim flash BLOB --board {arg} --image FILE`)"
            ),
        }
    }
}

impl std::error::Error for BootError {}

impl From<ImageError> for BootError {
    fn from(e: ImageError) -> Self {
        BootError::Image(e)
    }
}

/// A booted image: the header, its board and the blob, borrowed from the image.
#[derive(Debug, Clone, Copy)]
pub struct Boot<'a> {
    pub header: PartitionHeader,
    pub board: &'static Board,
    /// The blob bytes inside the model region (zero-copy).
    pub blob: &'a [u8],
}

/// The board whose partition header an image holds (spec §4). `place` is where a board's
/// header lives (its offset in a bin image, its CPU address in a HEX or UF2 file); `read`
/// gives the 64 bytes there, `None` if the image does not reach that far.
///
/// Each distinct place is tried in table order; a header that parses names the board. When
/// none does, the most telling failure is reported: a header that is there but damaged
/// (CRC, version) over an erased one, over no header at all.
pub fn find_board(
    what: &'static str,
    place: impl Fn(&Board) -> u64,
    read: impl Fn(u64) -> Option<[u8; HEADER_LEN]>,
) -> Result<&'static Board, BootError> {
    let mut places: Vec<u64> = Vec::new();
    let mut best: Option<(u8, BootError)> = None;
    for b in BOARDS {
        let at = place(b);
        if places.contains(&at) {
            continue;
        }
        places.push(at);
        let (rank, err) = match read(at).map(|bytes| PartitionHeader::parse(&bytes)) {
            Some(Ok(h)) => match h.named_board() {
                Some(named) if place(named) == at => return Ok(named),
                Some(named) => (
                    3,
                    BootError::Misplaced {
                        board: named.name,
                        found_at: at,
                    },
                ),
                None => (
                    3,
                    BootError::UnknownBoard {
                        name: h.board_name().to_string(),
                    },
                ),
            },
            Some(Err(e)) => {
                let rank = match e {
                    ImageError::BadMagic | ImageError::Region => 0,
                    ImageError::Erased => 1,
                    _ => 2,
                };
                (rank, e.into())
            }
            None => (0, ImageError::Region.into()),
        };
        if best.as_ref().is_none_or(|(r, _)| rank > *r) {
            best = Some((rank, err));
        }
    }
    Err(match best {
        Some((rank, err)) if rank > 0 => err,
        _ => BootError::NotAnImage { what, places },
    })
}

/// Boots a whole-flash image (spec §4): the board from its header, checked against
/// `board_arg` if given, then the image's length, then the device's own boot check.
pub fn boot<'a>(image: &'a [u8], board_arg: Option<&'static Board>) -> Result<Boot<'a>, BootError> {
    let board = find_board(
        "offset",
        |b| b.header_offset() as u64,
        |at| {
            let at = usize::try_from(at).ok()?;
            image.get(at..at.checked_add(HEADER_LEN)?)?.try_into().ok()
        },
    )?;
    if let Some(arg) = board_arg
        && arg.name != board.name
    {
        return Err(BootError::BoardArg {
            arg: arg.name,
            header: board.name,
        });
    }
    if image.len() != board.flash as usize {
        return Err(BootError::WrongLength {
            board: board.name,
            flash: board.flash,
            len: image.len(),
        });
    }
    let p = read_partition(board, &image[board.header_offset() as usize..])?;
    Ok(Boot {
        header: p.header,
        board,
        blob: p.blob,
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
    use crate::board::find;

    fn board() -> &'static Board {
        find("stm32f103").unwrap()
    }

    #[test]
    fn write_then_boot_round_trips_and_keeps_firmware() {
        let blob = b"not really a blob, but the boot only checks the partition";
        let mut old = vec![ERASED; board().flash as usize];
        old[..4].copy_from_slice(b"FW!!");
        let image = write_image(board(), blob, Some(old)).unwrap();
        assert_eq!(&image[..4], b"FW!!");
        let booted = boot(&image, None).unwrap();
        assert_eq!(booted.blob, blob);
        assert_eq!(booted.board.name, "stm32f103");
        assert!(
            image[board().model_offset() as usize + blob.len()..]
                .iter()
                .all(|&b| b == ERASED)
        );
    }

    #[test]
    fn the_board_comes_from_the_header_not_the_length() {
        // nrf52840 and mps2-an386 share the header offset 0x20000: only the header's name
        // tells them apart.
        // Boards also share flash sizes (nrf52840, netduinoplus2): the length is checked
        // against the header's board, never used to guess it.
        for b in BOARDS {
            let image = write_image(b, &[1, 2, 3], None).unwrap();
            assert_eq!(boot(&image, None).unwrap().board, b);
            assert_eq!(boot(&image, Some(b)).unwrap().board, b);
        }
        let image = write_image(find("nrf52840").unwrap(), &[1, 2, 3], None).unwrap();
        let other = find("mps2-an386").unwrap();
        assert_eq!(
            boot(&image, Some(other)).unwrap_err(),
            BootError::BoardArg {
                arg: "mps2-an386",
                header: "nrf52840"
            }
        );
        // An nrf52840 header in an image of mps2-an386's length is refused by length.
        let mut long = image.clone();
        long.resize(other.flash as usize, ERASED);
        assert!(matches!(
            boot(&long, None),
            Err(BootError::WrongLength {
                board: "nrf52840",
                ..
            })
        ));
    }

    #[test]
    fn boot_refuses_each_kind_of_damage_with_its_error() {
        let blob = [7u8; 100];
        let image = write_image(board(), &blob, None).unwrap();
        let at = board().header_offset() as usize;
        assert!(matches!(
            boot(&image[..at + 10], None),
            Err(BootError::NotAnImage { .. })
        ));
        assert!(matches!(
            boot(&image[..image.len() - 1], None),
            Err(BootError::WrongLength { .. })
        ));
        for erased in [ERASED, 0] {
            assert_eq!(
                boot(&vec![erased; image.len()], None).unwrap_err(),
                BootError::Image(ImageError::Erased)
            );
        }
        let mut bad = image.clone();
        bad[at + 20] ^= 1;
        let err = boot(&bad, None).unwrap_err();
        assert!(matches!(
            err,
            BootError::Image(ImageError::HeaderChecksum { .. })
        ));
        assert!(err.to_string().starts_with("header-crc: "), "{err}");
        let mut bad = image.clone();
        bad[board().model_offset() as usize + 50] ^= 1;
        assert!(matches!(
            boot(&bad, None),
            Err(BootError::Image(ImageError::BlobChecksum { .. }))
        ));
        let mut bad = image.clone();
        bad[at + 32..at + 48].copy_from_slice(b"arduino-uno\0\0\0\0\0");
        let crc = charlstm_core::CRC32.checksum(&bad[at..at + 60]);
        bad[at + 60..at + 64].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            boot(&bad, None).unwrap_err(),
            BootError::UnknownBoard {
                name: "arduino-uno".into()
            }
        );
        // Every truncation fails, none panics.
        for len in (0..image.len()).step_by(997) {
            assert!(boot(&image[..len], None).is_err());
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
        fn damaged_images_never_panic_and_damage_to_checked_bytes_is_refused(flips in proptest::collection::vec((0usize..400, 1u8..=255), 1..4)) {
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
            let result = boot(&image, None);
            if touched_checked_bytes {
                // Two flips can cancel out; otherwise a checked byte changed.
                let unchanged = image == write_image(board, &blob, None).unwrap();
                proptest::prop_assert!(result.is_err() || unchanged);
            }
        }
    }
}
