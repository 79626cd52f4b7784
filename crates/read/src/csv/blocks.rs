//! A CSV file read from disk a block at a time into one buffer, never
//! whole: a national file is a gigabyte, and on these machines fresh memory
//! is what reading costs most. A survey of the first block decides the
//! encoding when it can (see `super::encoding`), and the split goes on from
//! the same buffer; otherwise a first pass over the whole file does (and
//! hashes the file when its hash is not known yet), and the second splits it.

use crate::limits::{BLOCK, MARGIN};
use sha2::{Digest, Sha256};
use std::io::Read;

/// The most a buffer reserves ahead: a block and its margin, unless tests
/// make blocks huge to read a file in one.
const MAX_RESERVE: usize = BLOCK + MARGIN + 1;

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
