//! A CSV file read from disk a block at a time into one buffer, never
//! whole: a national file is a gigabyte, and on these machines fresh memory
//! is what reading costs most. A survey of the first block decides the
//! encoding when it can (see `read`), and the split goes on from the same
//! buffer; otherwise a first pass over the whole file does (and hashes the
//! file when its hash is not known yet), and the second splits it.

use super::text;
use crate::error::{Error, Result};
use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// The most a buffer reserves ahead: a block and its margin, unless tests
/// make blocks huge to read a file in one.
const MAX_RESERVE: usize = BLOCK + MARGIN + 1;

/// Bytes split together. A block is read up to this plus [`MARGIN`]; its
/// records starting before this are its own, the others the next block's.
pub const BLOCK: usize = 64 << 20;
/// The longest record a block can end on: longer ones are a quote left open.
pub const MARGIN: usize = 16 << 20;

/// A reader's bytes, a block at a time in one buffer: each block starts
/// where the previous one was cut, and holds `size + margin` bytes (fewer
/// at the end of the file).
pub struct Blocks<R> {
    reader: R,
    buffer: Vec<u8>,
    size: usize,
    margin: usize,
    eof: bool,
    hasher: Option<Sha256>,
}

impl<R: Read> Blocks<R> {
    pub fn new(reader: R, size: usize, margin: usize, hash: bool) -> Self {
        Blocks {
            reader,
            buffer: Vec::new(),
            size,
            margin,
            eof: false,
            hasher: hash.then(Sha256::new),
        }
    }

    /// The next block; `None` after the last. `cut` says where the previous
    /// block ended (bytes from its start).
    pub fn next(&mut self, cut: usize) -> std::io::Result<Option<Block<'_>>> {
        self.buffer.drain(..cut.min(self.buffer.len()));
        if self.eof && self.buffer.is_empty() {
            return Ok(None);
        }
        // One byte more than a block tells whether the file ends with it.
        let want = self.size.saturating_add(self.margin).saturating_add(1);
        // At once: grown by doubling, the buffer was copied over and over
        // (growing it was 8 % of a Loire × 4 run's CPU samples). Pages never
        // written cost nothing.
        if !self.eof {
            self.buffer
                .reserve_exact(want.saturating_sub(self.buffer.len()).min(MAX_RESERVE));
        }
        let fresh = self.buffer.len();
        while !self.eof && self.buffer.len() < want {
            let start = self.buffer.len();
            let read = (&mut self.reader)
                .take((want - start) as u64)
                .read_to_end(&mut self.buffer)?;
            self.eof = read == 0;
        }
        let mut end = self.buffer.len();
        // A CR at the end may be the first half of a CRLF: left to the next block.
        if !self.eof && self.buffer.last() == Some(&b'\r') {
            end -= 1;
        }
        Ok(Some(Block {
            bytes: &self.buffer[..end],
            last: self.eof,
            unhashed: self.hasher.as_mut().map(|h| Unhashed {
                hasher: h,
                bytes: &self.buffer[fresh..],
            }),
        }))
    }

    /// The SHA-256 of every byte read so far: the file's, once the last
    /// block is out.
    pub fn sha256(&self) -> Option<String> {
        self.hasher
            .as_ref()
            .map(|h| hex::encode(h.clone().finalize()))
    }

    /// The reader, for a file read otherwise than by blocks.
    pub fn into_reader(self) -> R {
        self.reader
    }
}

/// A block of a file, and whether it is the file's last.
pub struct Block<'a> {
    pub bytes: &'a [u8],
    pub last: bool,
    /// The bytes read for this block, left to hash (when the file is
    /// hashed): hashed by the caller, beside the split if it can.
    pub unhashed: Option<Unhashed<'a>>,
}

/// Bytes of a file not hashed yet, and the hash of the bytes before them.
pub struct Unhashed<'a> {
    hasher: &'a mut Sha256,
    bytes: &'a [u8],
}

impl Unhashed<'_> {
    pub fn hash(self) {
        self.hasher.update(self.bytes);
    }
}

/// What the first pass tells of a file.
pub struct Survey {
    /// UTF-8 (checked valid), or the encoding declared, marked or guessed.
    pub encoding: &'static Encoding,
    /// Bytes of its byte order mark, skipped.
    pub bom: usize,
    /// When asked for (not for UTF-16, which is read whole).
    pub sha256: Option<String>,
    /// Whether every byte of the file was surveyed, not only its first block.
    pub whole: bool,
    /// Whether the rest of the file cannot change `encoding`: declared
    /// Windows-1252, or guessed from as many bytes as the guess ever reads.
    pub settled: bool,
}

impl Survey {
    /// Whether the file can be split a block at a time: its ASCII bytes
    /// are ASCII characters, and none of its bytes can fail to decode.
    pub fn splittable(&self) -> bool {
        self.encoding == UTF_8 || self.encoding == WINDOWS_1252
    }
}

/// Reads a file's `blocks` through once: its byte order mark, whether it is
/// valid UTF-8, the lines an encoding is guessed from (`declared` is the
/// pipeline's `encoding`: `auto` or a name), and its SHA-256 if the blocks
/// hash. With `first_only`, stops after the first block, which stays in the
/// buffer for the split to start from (then `whole` says whether it was the
/// whole file).
pub fn survey<R: Read>(
    path: &Path,
    blocks: &mut Blocks<R>,
    declared: &str,
    first_only: bool,
) -> Result<Survey> {
    let fail = |e: std::io::Error| Error::input(path, None, format!("cannot read the file: {e}"));
    let mut whole = true;
    let mut guess = text::EncodingGuess::default();
    let (mut bom, mut cut, mut lines, mut first) = (None, 0, 0, true);
    let auto = !matches!(declared, "utf-8" | "windows-1252");
    let mut utf8 = declared != "windows-1252";
    while let Some(Block {
        bytes: block,
        last,
        unhashed,
    }) = blocks.next(cut).map_err(fail)?
    {
        if let Some(unhashed) = unhashed {
            unhashed.hash();
        }
        let mut skip = 0;
        if first {
            first = false;
            if block.is_empty() {
                return Err(Error::input(path, None, "the file is empty"));
            }
            bom = Encoding::for_bom(block);
            match bom {
                // UTF-16: decoded whole.
                Some((encoding, length)) if encoding != UTF_8 => {
                    return Ok(Survey {
                        encoding,
                        bom: length,
                        sha256: None,
                        whole: true,
                        settled: true,
                    });
                }
                Some((_, length)) => (skip, utf8) = (length, true),
                None if auto && block.iter().take(8192).any(|&b| b == 0) => {
                    return Err(Error::input(
                        path,
                        None,
                        "this looks like a binary file, not CSV text (is it a spreadsheet with a .csv name?)",
                    ));
                }
                None => {}
            }
        }
        // Whole lines only: a UTF-8 character never holds a line feed.
        let body = &block[skip..];
        let end = match last {
            true => body.len(),
            false => memchr::memrchr(b'\n', body).map_or(body.len(), |i| i + 1),
        };
        let body = &body[..end];
        if utf8 && let Err(e) = std::str::from_utf8(body) {
            utf8 = false;
            if declared == "utf-8" || bom.is_some() {
                return Err(text::not_valid(
                    path,
                    UTF_8,
                    lines + text::line_at(body, e.valid_up_to()),
                ));
            }
        }
        if auto && bom.is_none() {
            guess.feed(body);
        }
        lines += memchr::memchr_iter(b'\n', body).count();
        cut = skip + end;
        if first_only {
            whole = last;
            break;
        }
    }
    let (encoding, settled) = match (bom, declared) {
        (Some(_), _) | (None, "utf-8") => (UTF_8, false),
        (None, "windows-1252") => (WINDOWS_1252, true),
        _ if utf8 => (UTF_8, false),
        _ => {
            let settled = guess.saturated();
            (guess.finish(), settled)
        }
    };
    Ok(Survey {
        encoding,
        bom: bom.map_or(0, |(_, length)| length),
        sha256: if whole { blocks.sha256() } else { None },
        whole,
        settled,
    })
}
