//! Corpus: read a UTF-8 text file, optionally lowercase it, build the vocabulary (the sorted
//! set of its characters) and split it into training text and the held-out validation tail.
//!
//! Policy: the validation split is the last `val_fraction` of the characters, never trained
//! on. Every way a corpus can be unusable is one clear error naming the file and the remedy.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// Character ids, < vocab size (which is at most `u16::MAX`).
pub type Tok = u16;

/// The vocabulary: characters in id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocab {
    pub chars: Vec<char>,
}

impl Vocab {
    /// The sorted set of characters of `text`.
    pub fn from_text(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Vocab { chars }
    }

    /// From the concatenated characters (as stored in checkpoints and blobs).
    pub fn from_string(s: &str) -> Self {
        Vocab {
            chars: s.chars().collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters concatenated, as the blob stores them.
    pub fn as_string(&self) -> String {
        self.chars.iter().collect()
    }

    /// The id of `ch`, if it is in the vocabulary.
    pub fn id(&self, ch: char) -> Option<Tok> {
        self.chars.iter().position(|&c| c == ch).map(|i| i as Tok)
    }
}

/// A loaded corpus: its tokens split into training and validation parts.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// File name (no directory), stored in the blob's metadata.
    pub name: String,
    pub vocab: Vocab,
    pub lowercase: bool,
    pub train: Vec<Tok>,
    pub val: Vec<Tok>,
}

impl Corpus {
    /// Total characters (training + validation).
    pub fn chars(&self) -> usize {
        self.train.len() + self.val.len()
    }
}

/// Smallest validation split: 16 chunks of at least 2 characters (see `eval`).
pub const MIN_VAL_CHARS: usize = 32;

/// Reads `path` as UTF-8 text, lowercases it if asked, and builds its own vocabulary.
pub fn load(path: &Path, lowercase: bool, val_fraction: f64, max_vocab: usize) -> Result<Corpus> {
    let text = read_text(path, lowercase)?;
    let vocab = Vocab::from_text(&text);
    if vocab.len() > max_vocab {
        bail!(
            "{}: the corpus has {} distinct characters, more than --max-vocab {} \
             (raise --max-vocab, or use --lowercase / clean the text)",
            path.display(),
            vocab.len(),
            max_vocab
        );
    }
    tokenize(path, &text, vocab, lowercase, val_fraction)
}

/// Reads `path` as UTF-8 and tokenizes it with a given vocabulary (that of a checkpoint or
/// blob). A character outside it is an error naming the character and its position.
pub fn load_with_vocab(
    path: &Path,
    vocab: Vocab,
    lowercase: bool,
    val_fraction: f64,
) -> Result<Corpus> {
    let text = read_text(path, lowercase)?;
    tokenize(path, &text, vocab, lowercase, val_fraction)
}

fn read_text(path: &Path, lowercase: bool) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "cannot read corpus {} (check the --corpus path)",
            path.display()
        )
    })?;
    if bytes.is_empty() {
        bail!(
            "{}: the corpus file is empty (give a text file with at least a few thousand characters)",
            path.display()
        );
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => bail!(
            "{}: not UTF-8: invalid byte 0x{:02x} at byte offset {} (convert the file to UTF-8, e.g. with iconv)",
            path.display(),
            e.as_bytes()[e.utf8_error().valid_up_to()],
            e.utf8_error().valid_up_to()
        ),
    };
    Ok(if lowercase { text.to_lowercase() } else { text })
}

fn tokenize(
    path: &Path,
    text: &str,
    vocab: Vocab,
    lowercase: bool,
    val_fraction: f64,
) -> Result<Corpus> {
    if !(val_fraction > 0.0 && val_fraction < 1.0) {
        bail!("--val-fraction {val_fraction} must lie strictly between 0 and 1");
    }
    let ids: std::collections::HashMap<char, Tok> = vocab
        .chars
        .iter()
        .enumerate()
        .map(|(i, &c)| (c, i as Tok))
        .collect();
    let mut tokens = Vec::with_capacity(text.len());
    for (pos, ch) in text.chars().enumerate() {
        match ids.get(&ch).copied() {
            Some(t) => tokens.push(t),
            None => bail!(
                "{}: character {:?} (U+{:04X}) at character {} is not in the model's vocabulary \
                 (evaluate on text from the same corpus the model was trained on)",
                path.display(),
                ch,
                ch as u32,
                pos
            ),
        }
    }
    let n_val = ((tokens.len() as f64) * val_fraction).round() as usize;
    if n_val < MIN_VAL_CHARS {
        bail!(
            "{}: the corpus has {} characters, so the validation split (--val-fraction {}) holds {} \
             but at least {} are needed (use a larger corpus or a larger --val-fraction)",
            path.display(),
            tokens.len(),
            val_fraction,
            n_val,
            MIN_VAL_CHARS
        );
    }
    let val = tokens.split_off(tokens.len() - n_val);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Ok(Corpus {
        name,
        vocab,
        lowercase,
        train: tokens,
        val,
    })
}
