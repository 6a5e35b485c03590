//! Cost of chunking one document (`domain::chunking::chunk`, the CPU work of ingestion
//! besides extraction), for texts of the same size but different shapes:
//!
//! - `prose`: paragraphs of sentences, the common case;
//! - `pdf_lines`: short lines and no blank line, as text extracted from a PDF often is;
//! - `one_line`: words on a single line (a log line, minified text, a CSV without line
//!   breaks);
//! - `one_word`: a single run of characters without any break.
//!
//! Each text is 1 MB and chunked with the defaults (1,000 characters, 200 of overlap), as
//! plain text and as Markdown. Run with
//! `cargo bench -p temponest-knowledge --bench chunking`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use temponest_knowledge::domain::chunking::{Sizes, chunk};

const SIZE: usize = 1_000_000;

/// A deterministic pseudo-random word sequence (no RNG dependency).
fn words(count: usize) -> impl Iterator<Item = &'static str> {
    const WORDS: [&str; 8] = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "the",
        "of",
        "and",
        "retrieval",
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..count).map(move |_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        WORDS[(state % 8) as usize]
    })
}

/// `SIZE` bytes of words joined by `separator(i)` after the i-th word.
fn text(separator: impl Fn(usize) -> &'static str) -> String {
    let mut out = String::with_capacity(SIZE + 16);
    for (i, word) in words(usize::MAX).enumerate() {
        if out.len() >= SIZE {
            break;
        }
        out.push_str(word);
        out.push_str(separator(i));
    }
    out
}

fn inputs() -> Vec<(&'static str, String)> {
    vec![
        (
            "prose",
            text(|i| match i % 150 {
                149 => ".\n\n",
                n if n % 15 == 14 => ". ",
                _ => " ",
            }),
        ),
        ("pdf_lines", text(|i| if i % 8 == 7 { "\n" } else { " " })),
        ("one_line", text(|_| " ")),
        ("one_word", "a".repeat(SIZE)),
    ]
}

fn chunking(c: &mut Criterion) {
    let sizes = Sizes {
        chunk_size: 1000,
        chunk_overlap: 200,
    };
    let mut group = c.benchmark_group("chunk_1mb");
    group.sample_size(10);
    for (name, input) in inputs() {
        for (format, markdown) in [("text", false), ("markdown", true)] {
            group.bench_function(format!("{name}/{format}"), |b| {
                b.iter(|| chunk(black_box(&input), markdown, sizes).unwrap().len())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, chunking);
criterion_main!(benches);
