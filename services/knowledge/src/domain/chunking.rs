//! Splitting a document's text into chunks, a pure function of the text and the collection's
//! `chunk_size`/`chunk_overlap`.
//!
//! Rules:
//! - Sizes are **characters** (Unicode scalar values), not tokens or bytes: a chunk holds at
//!   most `chunk_size` characters, and consecutive chunks share up to `chunk_overlap`
//!   characters (`text-splitter`'s overlap, which never cuts inside a unit it keeps whole).
//! - Boundaries follow the text's structure: the `text-splitter` crate takes the largest
//!   semantic units that fit — for Markdown (and HTML, which is converted to Markdown)
//!   sections, blocks and paragraphs; for other text paragraphs, lines, sentences, then
//!   words; only a single word longer than a chunk is cut.
//! - Whitespace around a chunk is trimmed; offsets are character offsets into the extracted
//!   text (`char_start..char_end`), so `text.chars().skip(start).take(end - start)` is the chunk.
//! - Markdown chunks carry their heading path: the ATX/setext headings enclosing the chunk's
//!   start, outermost first (a chunk that starts with a heading is under it).

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
use text_splitter::{ChunkConfig, ChunkConfigError, MarkdownSplitter, TextSplitter};

/// One chunk of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub content: String,
    pub char_start: usize,
    pub char_end: usize,
    pub heading_path: Vec<String>,
}

/// Chunking parameters (validated ranges are the collection's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub chunk_size: usize,
    pub chunk_overlap: usize,
}

/// The chunks of `text`, in order. `markdown` selects the Markdown splitter and heading paths.
pub fn chunk(text: &str, markdown: bool, sizes: Sizes) -> Result<Vec<Chunk>, ChunkConfigError> {
    let config = ChunkConfig::new(sizes.chunk_size)
        .with_overlap(sizes.chunk_overlap)?
        .with_trim(true);
    let block_bytes = sizes
        .chunk_size
        .saturating_mul(BLOCK_CHUNKS)
        .max(MIN_BLOCK_BYTES);
    let pieces = if markdown {
        let splitter = MarkdownSplitter::new(config);
        in_blocks(text, block_bytes, |block| {
            splitter.chunk_indices(block).collect()
        })
    } else {
        let splitter = TextSplitter::new(config);
        in_blocks(text, block_bytes, |block| {
            splitter.chunk_indices(block).collect()
        })
    };
    let headings = if markdown { headings(text) } else { Vec::new() };
    let mut chars = CharOffsets::new(text);
    let mut path = PathCursor::new(&headings);
    Ok(pieces
        .into_iter()
        .filter(|(_, piece)| !piece.trim().is_empty())
        .map(|(byte_start, piece)| {
            let char_start = chars.at(byte_start);
            let char_end = chars.at(byte_start + piece.len());
            Chunk {
                content: piece.to_owned(),
                char_start,
                char_end,
                heading_path: path.at(byte_start),
            }
        })
        .collect())
}

/// How many chunks' worth of text (`chunk_size` bytes each) the splitter is given at once.
///
/// `text-splitter` takes time quadratic in the length of a run without a break of the level
/// it splits at: 1 MB of words on one line took 3.5 s, 2 MB 14 s, so a 25 MB upload would hold
/// an ingestion worker for half an hour. Cut first into blocks of this size, the same text is
/// linear in its length. A block ends at the strongest break in its second half (see
/// [`BREAKS`]), where the splitter would most likely have put a chunk boundary anyway; chunks
/// do not overlap across blocks.
const BLOCK_CHUNKS: usize = 16;

/// The smallest block, whatever the chunk size.
const MIN_BLOCK_BYTES: usize = 16 * 1024;

/// Where a block may end, strongest first: a blank line, a line break, the end of a
/// sentence, a space. Without any of them in the block's second half it is cut at a
/// character boundary.
const BREAKS: [&str; 4] = ["\n\n", "\n", ". ", " "];

/// `text` as consecutive blocks of at most `max` bytes (see [`BLOCK_CHUNKS`]), with the byte
/// offset of each. A text no longer than `max` is one block.
fn blocks(text: &str, max: usize) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    while text.len() - start > max {
        // At least one character, whatever `max`, so that every block advances.
        let mut end = floor_char_boundary(text, start + max);
        if end == start {
            end = start + text[start..].chars().next().map_or(0, char::len_utf8);
        }
        let from = floor_char_boundary(text, start + max / 2).clamp(start, end);
        let window = &text[from..end];
        let cut = BREAKS
            .iter()
            .find_map(|b| window.rfind(b).map(|i| from + i + b.len()))
            .filter(|&cut| cut > start)
            .unwrap_or(end);
        out.push((start, &text[start..cut]));
        start = cut;
    }
    if start < text.len() || out.is_empty() {
        out.push((start, &text[start..]));
    }
    out
}

/// The pieces `split` makes of each block of `text` (see [`blocks`]), with offsets into the
/// whole text.
fn in_blocks<'t>(
    text: &'t str,
    max: usize,
    split: impl Fn(&'t str) -> Vec<(usize, &'t str)>,
) -> Vec<(usize, &'t str)> {
    let mut pieces = Vec::new();
    for (offset, block) in blocks(text, max) {
        pieces.extend(
            split(block)
                .into_iter()
                .map(|(at, piece)| (offset + at, piece)),
        );
    }
    pieces
}

/// The largest character boundary of `text` at or before `index`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// A heading: where it starts (byte offset), its level and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Heading {
    start: usize,
    level: usize,
    text: String,
}

/// The headings of a Markdown text, in order.
fn headings(text: &str) -> Vec<Heading> {
    let mut out = Vec::new();
    let mut current: Option<Heading> = None;
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some(Heading {
                    start: range.start,
                    level: level_number(level),
                    text: String::new(),
                });
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = current.as_mut() {
                    h.text.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(h) = current.take() {
                    let text = h.text.trim().to_owned();
                    if !text.is_empty() {
                        out.push(Heading { text, ..h });
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn level_number(level: HeadingLevel) -> usize {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// The heading path at increasing byte offsets (chunks come in order).
struct PathCursor<'a> {
    headings: &'a [Heading],
    next: usize,
    stack: Vec<&'a Heading>,
}

impl<'a> PathCursor<'a> {
    fn new(headings: &'a [Heading]) -> Self {
        Self {
            headings,
            next: 0,
            stack: Vec::new(),
        }
    }

    /// The path in effect at `offset`. Overlap may move a chunk's start back before the
    /// previous chunk's; the path then stays where it was (overlap stays within a section
    /// at heading boundaries, since the splitter never overlaps across a larger unit).
    fn at(&mut self, offset: usize) -> Vec<String> {
        while let Some(h) = self.headings.get(self.next).filter(|h| h.start <= offset) {
            while self.stack.last().is_some_and(|top| top.level >= h.level) {
                self.stack.pop();
            }
            self.stack.push(h);
            self.next += 1;
        }
        self.stack.iter().map(|h| h.text.clone()).collect()
    }
}

/// Byte → character offsets at increasing (or slightly decreasing) byte offsets, without
/// rescanning the text from its start each time.
struct CharOffsets<'a> {
    text: &'a str,
    byte: usize,
    char: usize,
}

impl<'a> CharOffsets<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            byte: 0,
            char: 0,
        }
    }

    fn at(&mut self, byte: usize) -> usize {
        if byte >= self.byte {
            self.char += self.text[self.byte..byte].chars().count();
        } else {
            self.char -= self.text[byte..self.byte].chars().count();
        }
        self.byte = byte;
        self.char
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(chunk_size: usize, chunk_overlap: usize) -> Sizes {
        Sizes {
            chunk_size,
            chunk_overlap,
        }
    }

    fn substring(text: &str, start: usize, end: usize) -> String {
        text.chars().skip(start).take(end - start).collect()
    }

    #[test]
    fn long_texts_are_cut_into_blocks_at_their_strongest_break() {
        let paragraph = "one two three. four five six.\nseven eight\n\n";
        let text = paragraph.repeat(100);
        let parts = blocks(&text, 500);
        assert!(parts.len() > 5);
        let mut expected_start = 0;
        for (start, block) in &parts {
            assert_eq!(*start, expected_start, "blocks are consecutive");
            assert!(block.len() <= 500, "{}", block.len());
            expected_start += block.len();
        }
        assert_eq!(expected_start, text.len(), "blocks cover the text");
        for (_, block) in &parts[..parts.len() - 1] {
            assert!(block.ends_with("\n\n"), "ends at a blank line: {block:?}");
        }
        // No break at all: cut at a character boundary, never inside a character.
        let runes = "ü".repeat(1000);
        let parts = blocks(&runes, 301);
        assert!(
            parts
                .iter()
                .all(|(_, b)| b.len() <= 301 && b.chars().all(|c| c == 'ü'))
        );
        assert_eq!(
            parts.iter().map(|(_, b)| b.len()).sum::<usize>(),
            runes.len()
        );
        // A limit below one character still advances a character at a time.
        assert_eq!(blocks("üü", 1), vec![(0, "ü"), (2, "ü")]);
        // Short texts are one block.
        assert_eq!(blocks("short", 500), vec![(0, "short")]);
    }

    #[test]
    fn a_text_longer_than_a_block_is_chunked_with_offsets_into_the_whole_text() {
        // One line of words, far longer than a block: every chunk fits, breaks between
        // words, and its offsets point into the whole text.
        let text = "wörds on one long line ".repeat(5000);
        for markdown in [false, true] {
            let chunks = chunk(&text, markdown, sizes(200, 50)).unwrap();
            assert!(chunks.len() > 500, "{}", chunks.len());
            let mut covered_to = 0;
            for c in &chunks {
                assert!(c.content.chars().count() <= 200, "{c:?}");
                assert_eq!(substring(&text, c.char_start, c.char_end), c.content);
                assert!(
                    c.char_start <= covered_to + 1,
                    "no text skipped before {c:?}"
                );
                covered_to = covered_to.max(c.char_end);
            }
            assert!(covered_to + 1 >= text.chars().count(), "{covered_to}");
        }
    }

    #[test]
    fn chunks_fit_the_size_break_at_sentences_and_their_offsets_point_into_the_text() {
        let text = "Ünïcode sentences here. ".repeat(40);
        let chunks = chunk(&text, false, sizes(100, 0)).unwrap();
        assert!(chunks.len() > 5);
        for c in &chunks {
            assert!(c.content.chars().count() <= 100, "{c:?}");
            assert!(c.content.ends_with('.'), "sentence boundary: {c:?}");
            assert_eq!(substring(&text, c.char_start, c.char_end), c.content);
        }
        // No overlap: each chunk starts at or after the previous one's end.
        for pair in chunks.windows(2) {
            assert!(pair[1].char_start >= pair[0].char_end);
        }
    }

    #[test]
    fn consecutive_chunks_share_up_to_the_overlap() {
        let text = (0..200)
            .map(|i| format!("word{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let chunks = chunk(&text, false, sizes(100, 30)).unwrap();
        assert!(chunks.len() > 5);
        for pair in chunks.windows(2) {
            let shared = pair[0].char_end.saturating_sub(pair[1].char_start);
            assert!(shared > 0 && shared <= 30, "{pair:?}");
            let tail = substring(&text, pair[1].char_start, pair[0].char_end);
            assert!(pair[0].content.ends_with(&tail) && pair[1].content.starts_with(&tail));
        }
    }

    #[test]
    fn markdown_chunks_carry_their_heading_path() {
        let text = "# Guide\n\nIntro text.\n\n## Install\n\nRun the installer. It takes a while to finish.\n\n### Linux\n\nUse the package manager on Linux systems.\n\n## Usage\n\nCall the API with a token.\n";
        let chunks = chunk(text, true, sizes(60, 0)).unwrap();
        let paths: Vec<(String, Vec<String>)> = chunks
            .iter()
            .map(|c| (c.content.clone(), c.heading_path.clone()))
            .collect();
        let find = |needle: &str| {
            paths
                .iter()
                .find(|(content, _)| content.contains(needle))
                .unwrap_or_else(|| panic!("{needle} in {paths:#?}"))
                .1
                .clone()
        };
        assert_eq!(find("Intro"), ["Guide"]);
        assert_eq!(find("installer"), ["Guide", "Install"]);
        assert_eq!(find("package manager"), ["Guide", "Install", "Linux"]);
        assert_eq!(find("Call the API"), ["Guide", "Usage"]);
    }

    #[test]
    fn an_overlap_not_below_the_size_is_refused() {
        assert!(chunk("text", false, sizes(10, 10)).is_err());
    }
}
