//! A CSV file's encoding: declared, marked by a byte order mark, UTF-8 when
//! its bytes are, or guessed from its accented lines; decided once, by a
//! survey of its first block or of the whole file.

use super::blocks::{Block, Blocks};
use super::split::Text;
use crate::error::{Error, Result};
use encoding_rs::{Encoding as Charset, UTF_8, WINDOWS_1252};
use std::borrow::Cow;
use std::io::{Read, Seek, SeekFrom};

/// What the first pass tells of a file.
pub struct Survey {
    /// UTF-8 (checked valid), or the encoding declared, marked or guessed;
    /// UTF-8 for UTF-32, once transcoded.
    pub encoding: &'static Charset,
    /// A file marked as UTF-32, which `encoding_rs` does not decode: it is
    /// transcoded whole to UTF-8 first.
    pub utf32: Option<Utf32>,
    /// Bytes of its byte order mark, skipped.
    pub bom: usize,
    /// When asked for (not for UTF-16 and UTF-32, which are read whole).
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
        self.utf32.is_none() && (self.encoding == UTF_8 || self.encoding == WINDOWS_1252)
    }
}

/// The byte order of a UTF-32 file, from its byte order mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf32 {
    Le,
    Be,
}

impl Utf32 {
    /// The byte order marked at the start of `bytes`, if UTF-32's. Checked
    /// before UTF-16's: FF FE 00 00 starts with UTF-16 LE's mark.
    fn of_bom(bytes: &[u8]) -> Option<Self> {
        match bytes.get(..4)? {
            [0xFF, 0xFE, 0, 0] => Some(Utf32::Le),
            [0, 0, 0xFE, 0xFF] => Some(Utf32::Be),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Utf32::Le => "UTF-32LE",
            Utf32::Be => "UTF-32BE",
        }
    }

    /// `body` (after its byte order mark) as UTF-8, never longer than it
    /// (a code point takes at most 4 bytes in UTF-8): a code point past
    /// U+10FFFF, a surrogate or a last one cut short is refused with its line.
    fn transcode(self, body: &[u8]) -> Result<String> {
        let mut text = String::with_capacity(body.len() / 4);
        let mut line = 1;
        let invalid = |line| Error::NotInEncoding {
            encoding: self.name(),
            line,
        };
        let mut units = body.chunks_exact(4);
        for unit in &mut units {
            let unit = [unit[0], unit[1], unit[2], unit[3]];
            let code = match self {
                Utf32::Le => u32::from_le_bytes(unit),
                Utf32::Be => u32::from_be_bytes(unit),
            };
            let c = char::from_u32(code).ok_or_else(|| invalid(line))?;
            line += usize::from(c == '\n');
            text.push(c);
        }
        if !units.remainder().is_empty() {
            return Err(invalid(line));
        }
        Ok(text)
    }
}

/// Whether the start of a file without a byte order mark is UTF-16 text:
/// in its first kilobyte, nearly every byte at odd offsets (little endian)
/// or at even ones (big endian) is NUL, and nearly none of the others, as
/// in text of Latin letters. UTF-32 has NULs on both sides, binary files
/// seldom so regularly.
fn looks_like_utf16(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024) & !1];
    let pairs = head.len() / 2;
    if pairs < 2 {
        return false;
    }
    let nuls = |parity: usize| {
        head.iter()
            .skip(parity)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let (even, odd) = (nuls(0), nuls(1));
    let most = |n: usize| n * 10 >= pairs * 9;
    let few = |n: usize| n * 10 <= pairs;
    most(odd) && few(even) || most(even) && few(odd)
}

/// Bytes at the start of a file that tell whether it is text: its byte
/// order mark, UTF-16 without one, NULs (a binary file).
pub const HEAD: usize = 8192;

/// The first [`HEAD`] bytes of `reader`, which is left at its start: the
/// checks of a file's start see the same bytes whatever the size of the
/// blocks it is read in (a first block smaller than this, as tests make
/// them, let NULs through that the whole read refuses).
pub fn head<R: Read + Seek>(reader: &mut R) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEAD);
    reader.by_ref().take(HEAD as u64).read_to_end(&mut head)?;
    reader.seek(SeekFrom::Start(0))?;
    Ok(head)
}

/// Reads a file's `blocks` through once: its byte order mark, whether it is
/// valid UTF-8, the lines an encoding is guessed from (`declared` is the
/// pipeline's `encoding`: `auto` or a name), and its SHA-256 if the blocks
/// hash. `head` is the file's first [`HEAD`] bytes (or all of it, if
/// shorter). With `first_only`, stops after the first block, which stays in
/// the buffer for the split to start from (then `whole` says whether it was
/// the whole file).
pub fn survey<R: Read>(
    blocks: &mut Blocks<R>,
    head: &[u8],
    declared: super::Encoding,
    first_only: bool,
) -> Result<Survey> {
    let mut whole = true;
    let mut guess = EncodingGuess::default();
    let (mut bom, mut cut, mut lines, mut first) = (None, 0, 0, true);
    use super::Encoding::{Auto, Utf8, Windows1252};
    let auto = declared == Auto;
    let mut utf8 = declared != Windows1252;
    while let Some(Block {
        bytes: block,
        last,
        unhashed,
    }) = blocks.next(cut)?
    {
        if let Some(unhashed) = unhashed {
            unhashed.hash();
        }
        let mut skip = 0;
        if first {
            first = false;
            if block.is_empty() {
                return Err(Error::Empty);
            }
            if let Some(utf32) = Utf32::of_bom(head) {
                return Ok(Survey {
                    encoding: UTF_8,
                    utf32: Some(utf32),
                    bom: 4,
                    sha256: None,
                    whole: true,
                    settled: true,
                });
            }
            bom = Charset::for_bom(head);
            match bom {
                // UTF-16: decoded whole.
                Some((encoding, length)) if encoding != UTF_8 => {
                    return Ok(Survey {
                        encoding,
                        utf32: None,
                        bom: length,
                        sha256: None,
                        whole: true,
                        settled: true,
                    });
                }
                Some((_, length)) => (skip, utf8) = (length, true),
                None if looks_like_utf16(head) => return Err(Error::Utf16WithoutBom),
                None if auto && memchr::memchr(0, head).is_some() => {
                    return Err(Error::Binary);
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
            if declared == Utf8 || bom.is_some() {
                return Err(Error::NotInEncoding {
                    encoding: UTF_8.name(),
                    line: lines + line_at(body, e.valid_up_to()),
                });
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
        (Some(_), _) | (None, Utf8) => (UTF_8, false),
        (None, Windows1252) => (WINDOWS_1252, true),
        _ if utf8 => (UTF_8, false),
        _ => {
            let settled = guess.saturated();
            (guess.finish(), settled)
        }
    };
    Ok(Survey {
        encoding,
        utf32: None,
        bom: bom.map_or(0, |(_, length)| length),
        sha256: if whole { blocks.sha256() } else { None },
        whole,
        settled,
    })
}

/// A whole CSV file's text and the name of the encoding it is in.
pub fn decode(bytes: &[u8], declared: super::Encoding) -> Result<(Text<'_>, &'static str)> {
    let mut blocks = Blocks::new(bytes, crate::limits::BLOCK, 0, false);
    let head = &bytes[..bytes.len().min(HEAD)];
    let survey = survey(&mut blocks, head, declared, false)?;
    whole(bytes, &survey)
}

/// A whole CSV file's text, in the encoding its survey found (UTF-8 is
/// checked valid there).
pub fn whole<'b>(bytes: &'b [u8], survey: &Survey) -> Result<(Text<'b>, &'static str)> {
    let (encoding, body) = (survey.encoding, &bytes[survey.bom.min(bytes.len())..]);
    if let Some(utf32) = survey.utf32 {
        let text = utf32.transcode(body)?;
        return Ok((
            Text::new(Cow::Owned(text.into_bytes()), UTF_8),
            utf32.name(),
        ));
    }
    let invalid = |line: usize| Error::NotInEncoding {
        encoding: encoding.name(),
        line,
    };
    let text = if encoding == UTF_8 || encoding.is_single_byte() {
        // Windows-1252 maps every byte: only the others can fail.
        let check = encoding != UTF_8 && encoding != WINDOWS_1252;
        if let Some(at) = first_undecodable(body, encoding).filter(|_| check) {
            return Err(invalid(line_at(body, at)));
        }
        Text::new(Cow::Borrowed(body), encoding)
    } else {
        // UTF-16 and the multi-byte Asian encodings: their bytes are not
        // split as ASCII, the file is decoded whole.
        let (decoded, had_errors) = encoding.decode_without_bom_handling(body);
        if had_errors {
            return Err(invalid(line_at(body, body.len())));
        }
        Text::new(Cow::Owned(decoded.into_owned().into_bytes()), UTF_8)
    };
    Ok((text, encoding.name()))
}

/// Where the first byte that a single-byte encoding does not map is, if
/// any, decoded a block at a time (never the whole file at once).
fn first_undecodable(body: &[u8], encoding: &'static Charset) -> Option<usize> {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut buffer = String::with_capacity(1 << 16);
    let mut read = 0;
    loop {
        buffer.clear();
        let (result, consumed) =
            decoder.decode_to_string_without_replacement(&body[read..], &mut buffer, true);
        read += consumed;
        match result {
            encoding_rs::DecoderResult::InputEmpty => return None,
            encoding_rs::DecoderResult::OutputFull => {}
            encoding_rs::DecoderResult::Malformed(..) => return Some(read.saturating_sub(1)),
        }
    }
}

/// The line (1-based) of a byte.
pub fn line_at(body: &[u8], byte: usize) -> usize {
    memchr::memchr_iter(b'\n', &body[..byte.min(body.len())]).count() + 1
}

/// Bytes of non-ASCII lines the encoding detector is given: a few hundred
/// accented lines, plenty to tell Windows-1252 from the other encodings
/// (unit tests below). Feeding it a whole large file took most of the time
/// of reading it, and 64 KiB still 3 % of reading the messy Loire CAF file.
const DETECTION_SAMPLE: usize = 1 << 14;

/// An encoding guessed from at most [`DETECTION_SAMPLE`] bytes of the
/// non-ASCII lines of the text it is fed, in order.
pub struct EncodingGuess {
    detector: chardetng::EncodingDetector,
    fed: usize,
}

impl Default for EncodingGuess {
    fn default() -> Self {
        EncodingGuess {
            detector: chardetng::EncodingDetector::new(),
            fed: 0,
        }
    }
}

impl EncodingGuess {
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.fed >= DETECTION_SAMPLE || bytes.is_ascii() {
            return;
        }
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
        for end in ends {
            let line = &bytes[start..(end + 1).min(bytes.len())];
            start = end + 1;
            if !line.is_ascii() {
                self.detector.feed(line, false);
                self.fed += line.len();
                if self.fed >= DETECTION_SAMPLE {
                    break;
                }
            }
        }
    }

    /// Whether the guess has read all it ever reads: more text cannot change it.
    pub fn saturated(&self) -> bool {
        self.fed >= DETECTION_SAMPLE
    }

    pub fn finish(mut self) -> &'static Charset {
        self.detector.feed(b"", true);
        self.detector.guess(Some(b"fr"), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample's worth of the Loire's commune names, the accented column
    /// of a messy CAF export, is enough to tell Windows-1252.
    #[test]
    fn the_sample_tells_windows_1252_from_commune_names() {
        let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../inputs/referentiel/territoires_loire.csv");
        let names = std::fs::read_to_string(reference).unwrap();
        let accented: Vec<&str> = names.lines().filter(|l| !l.is_ascii()).collect();
        let mut guess = EncodingGuess::default();
        let mut fed = 0;
        for line in accented.iter().cycle() {
            let (bytes, _, _) = WINDOWS_1252.encode(line);
            guess.feed(&[&bytes[..], b"\n"].concat());
            fed += bytes.len() + 1;
            if guess.saturated() {
                break;
            }
        }
        assert!(fed <= DETECTION_SAMPLE + 100, "{fed}");
        assert_eq!(guess.finish(), WINDOWS_1252);
    }

    #[test]
    fn a_byte_its_encoding_does_not_map_is_found_on_its_line() {
        // 0xAE has no character in ISO-8859-7.
        let bytes = b"a;b\n1;2\n3;\xAE\n";
        let at = first_undecodable(bytes, encoding_rs::ISO_8859_7).unwrap();
        assert_eq!(line_at(bytes, at), 3);
        assert_eq!(first_undecodable(b"a;b\n", encoding_rs::ISO_8859_7), None);
    }

    /// A Windows-1252 file whose first block holds more accented lines
    /// than the guess reads is settled by that block alone.
    #[test]
    fn a_guess_from_enough_accented_lines_is_settled_by_the_first_block() {
        let mut bytes = b"MOISREF,NUMALLOC,CODCOM,LIBCOM\r\n".to_vec();
        for i in 0..4000 {
            bytes.extend(format!("202003,{i:07},42218,").bytes());
            bytes.extend(b"Saint-\xc9tienne\r\n");
        }
        let block = 64 << 10;
        assert!(bytes.len() > block);
        let mut first_block = Blocks::new(&bytes[..], block, 0, false);
        let head = &bytes[..HEAD];
        let first = survey(&mut first_block, head, super::super::Encoding::Auto, true).unwrap();
        assert!(!first.whole && first.settled);
        assert_eq!(first.encoding, WINDOWS_1252);
    }
}
