//! Which kind of document an upload is, decided from its content and its name, and the text
//! extracted from each kind.
//!
//! Detection (cheap, done while the upload is answered):
//! - `%PDF-` at the start → PDF, whatever the name says; a name ending `.pdf` without it is
//!   refused.
//! - Known binary signatures (PNG, JPEG, GIF, ZIP/Office, gzip, …), a NUL byte, or content
//!   that is not UTF-8 → refused (415).
//! - Otherwise the extension decides (`.md`/`.markdown`, `.html`/`.htm`, `.json`,
//!   `.txt`/`.text`/`.csv`/`.log`/`.rst`); a `.json` that does not parse is refused. Other
//!   extensions of known binary formats are refused.
//! - No telling extension: the declared content type, then the content (`<!doctype html`/
//!   `<html` → HTML, a parsable JSON object or array → JSON, ATX headings → Markdown, else text).
//!
//! Extraction (CPU work, run by the ingestion engine on the blocking pool):
//! - text and Markdown as they are (CRLF → LF, BOM dropped);
//! - HTML converted to Markdown (headings kept, so chunks get heading paths; scripts, styles
//!   and the head skipped);
//! - PDF: the text of each page, pages separated by a blank line;
//! - JSON: one `path: value` line per leaf (`items[2] › name: Ada`), so keys and values are
//!   searchable (a dotted path would be one token to the full-text parser).

use serde_json::Value;

/// A document kind the service ingests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Text,
    Markdown,
    Html,
    Pdf,
    Json,
}

temponest_db::named!(Kind, "document kind",
    Text => "text", Markdown => "markdown", Html => "html", Pdf => "pdf", Json => "json");

impl Kind {
    /// The content type documents of this kind are reported with.
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Text => "text/plain",
            Kind::Markdown => "text/markdown",
            Kind::Html => "text/html",
            Kind::Pdf => "application/pdf",
            Kind::Json => "application/json",
        }
    }

    /// Whether the extracted text is Markdown (chunked by the Markdown splitter, with
    /// heading paths).
    pub fn is_markdown(self) -> bool {
        matches!(self, Kind::Markdown | Kind::Html)
    }
}

/// Why an upload is not a document the service can ingest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    #[error("`{0}` is a {1} file; supported: plain text, Markdown, HTML, PDF and JSON")]
    Binary(String, &'static str),
    #[error(
        "`{0}` is neither UTF-8 text nor a PDF; supported: plain text, Markdown, HTML, PDF and JSON"
    )]
    NotText(String),
    #[error("`{0}` is named like a PDF but is not one (no %PDF- header)")]
    FakePdf(String),
    #[error("`{0}` is named like JSON but does not parse as JSON: {1}")]
    BadJson(String, String),
    #[error("the file is empty")]
    Empty,
}

/// Signatures of binary formats that are refused outright.
const SIGNATURES: &[(&[u8], &str)] = &[
    (b"\x89PNG", "PNG image"),
    (b"\xFF\xD8\xFF", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"PK\x03\x04", "ZIP archive (or an Office document)"),
    (b"\x1F\x8B", "gzip archive"),
    (b"\xD0\xCF\x11\xE0", "legacy Office document"),
    (b"\x7FELF", "executable"),
    (b"RIFF", "RIFF media"),
    (b"OggS", "Ogg media"),
    (b"ID3", "MP3 audio"),
];

/// Extensions of binary formats refused by name alone.
const BINARY_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "bmp", "zip", "gz", "tgz", "tar", "7z", "rar", "docx",
    "doc", "xlsx", "xls", "pptx", "ppt", "exe", "dll", "so", "mp3", "mp4", "wav", "avi", "mov",
    "bin",
];

/// The kind of an upload named `filename` with declared type `declared` (the multipart
/// part's content type, if any).
pub fn detect(filename: &str, declared: Option<&str>, bytes: &[u8]) -> Result<Kind, Unsupported> {
    if bytes.is_empty() {
        return Err(Unsupported::Empty);
    }
    let extension = filename
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    if bytes.starts_with(b"%PDF-") {
        return Ok(Kind::Pdf);
    }
    if extension == "pdf" {
        return Err(Unsupported::FakePdf(filename.to_owned()));
    }
    if let Some((_, what)) = SIGNATURES.iter().find(|(sig, _)| bytes.starts_with(sig)) {
        return Err(Unsupported::Binary(filename.to_owned(), what));
    }
    if BINARY_EXTENSIONS.contains(&extension.as_str()) {
        return Err(Unsupported::Binary(filename.to_owned(), "binary"));
    }
    let Some(text) = as_text(bytes) else {
        return Err(Unsupported::NotText(filename.to_owned()));
    };
    let by_name = match extension.as_str() {
        "md" | "markdown" | "mdown" => Some(Kind::Markdown),
        "html" | "htm" | "xhtml" => Some(Kind::Html),
        "json" => Some(Kind::Json),
        "txt" | "text" | "csv" | "tsv" | "log" | "rst" => Some(Kind::Text),
        _ => None,
    };
    let declared = declared
        .and_then(|d| d.split(';').next())
        .map(|d| d.trim().to_ascii_lowercase());
    let by_type = match declared.as_deref() {
        Some("text/markdown" | "text/x-markdown") => Some(Kind::Markdown),
        Some("text/html" | "application/xhtml+xml") => Some(Kind::Html),
        Some("application/json") => Some(Kind::Json),
        _ => None,
    };
    let kind = by_name.or(by_type).unwrap_or_else(|| sniff(text));
    if kind == Kind::Json
        && let Err(err) = serde_json::from_str::<serde::de::IgnoredAny>(text)
    {
        return Err(Unsupported::BadJson(filename.to_owned(), err.to_string()));
    }
    Ok(kind)
}

/// The bytes as text: UTF-8 (a BOM dropped) without NUL characters.
fn as_text(bytes: &[u8]) -> Option<&str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).ok()?;
    (!text.contains('\0')).then_some(text)
}

/// The kind of text without a telling name or type.
fn sniff(text: &str) -> Kind {
    let start = text.trim_start();
    let head: String = start.chars().take(15).collect::<String>().to_lowercase();
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return Kind::Html;
    }
    if (start.starts_with('{') || start.starts_with('['))
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
    {
        return Kind::Json;
    }
    let headings = text
        .lines()
        .filter(|line| {
            let hashes = line.chars().take_while(|c| *c == '#').count();
            (1..=6).contains(&hashes) && line[hashes..].starts_with(' ')
        })
        .count();
    if headings > 0 {
        Kind::Markdown
    } else {
        Kind::Text
    }
}

/// Why a stored document yielded no text (the reason a failed document shows).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("the PDF could not be read: {0}")]
    Pdf(String),
    #[error("the PDF is encrypted")]
    EncryptedPdf,
    #[error("the document is not valid UTF-8 text")]
    NotText,
    #[error("the JSON does not parse: {0}")]
    Json(String),
    #[error("the document contains no text")]
    NoText,
    #[error("the PDF's compressed content inflates to more than {} MiB", MAX_PDF_INFLATED_BYTES >> 20)]
    PdfTooLarge,
    #[error(
        "the HTML nests elements more than {} deep; flatten it or upload its text",
        super::html::MAX_DEPTH
    )]
    HtmlTooDeep,
}

/// The text of a document of `kind` (CPU work: call on the blocking pool).
pub fn extract(kind: Kind, bytes: &[u8]) -> Result<String, ExtractError> {
    let text = match kind {
        Kind::Pdf => pdf_text(bytes)?,
        Kind::Text | Kind::Markdown => as_text(bytes).ok_or(ExtractError::NotText)?.to_owned(),
        Kind::Html => super::html::to_markdown(as_text(bytes).ok_or(ExtractError::NotText)?)
            .map_err(|_| ExtractError::HtmlTooDeep)?,
        Kind::Json => {
            let text = as_text(bytes).ok_or(ExtractError::NotText)?;
            let value: Value =
                serde_json::from_str(text).map_err(|e| ExtractError::Json(e.to_string()))?;
            json_text(&value)
        }
    };
    let text = text.replace("\r\n", "\n").replace('\0', "");
    if text.trim().is_empty() {
        return Err(ExtractError::NoText);
    }
    Ok(text)
}

/// The text of every page of a PDF, laid out by position (lines and word spaces from the
/// glyph positions), pages separated by a blank line.
fn pdf_text(bytes: &[u8]) -> Result<String, ExtractError> {
    check_inflated_size(bytes, MAX_PDF_INFLATED_BYTES)?;
    let pages = pdf_extract::extract_text_from_mem_by_pages(bytes).map_err(|e| {
        let message = e.to_string();
        if message.to_lowercase().contains("encrypt") {
            ExtractError::EncryptedPdf
        } else {
            ExtractError::Pdf(message)
        }
    })?;
    Ok(pages
        .iter()
        .map(|page| page.trim())
        .collect::<Vec<_>>()
        .join("\n\n"))
}

/// How many bytes a PDF's compressed content streams may inflate to, together. Extraction
/// inflates them in memory, and Flate compresses a run of one byte about 1,000 to 1: a 25 MiB
/// upload could inflate past the machine's memory, and the kernel would kill the process,
/// which in the all-in-one is the whole platform.
pub const MAX_PDF_INFLATED_BYTES: u64 = 256 * 1024 * 1024;

/// Refuses a PDF whose Flate streams inflate to more than `limit` bytes together, counting
/// without keeping what they inflate to. It reads the file as it is, before any PDF parser:
/// after each `stream` keyword that starts a zlib stream, the stream is inflated and counted
/// (another filter, or no stream at all, adds nothing). An image stream, which text
/// extraction never inflates, does not count: a stream that inflates past [`SMALL_STREAM`]
/// has its dictionary read, and an image is left there.
fn check_inflated_size(bytes: &[u8], limit: u64) -> Result<(), ExtractError> {
    use std::io::Read;

    let mut total: u64 = 0;
    let mut buffer = vec![0_u8; SMALL_STREAM];
    let mut from = 0;
    while let Some(at) = find(&bytes[from..], b"stream").map(|at| from + at) {
        from = at + 1;
        let after = &bytes[at + b"stream".len()..];
        let Some(data) = after
            .strip_prefix(b"\r\n")
            .or_else(|| after.strip_prefix(b"\n"))
        else {
            continue;
        };
        // A zlib header: deflate, and a check value divisible by 31.
        let zlib = matches!(data, [cmf, flg, ..]
            if cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0);
        if !zlib {
            continue;
        }
        let mut inflater = flate2::read::ZlibDecoder::new(data);
        let mut this: u64 = 0;
        while let Ok(read @ 1..) = inflater.read(&mut buffer) {
            this += read as u64;
            if this > SMALL_STREAM as u64 && this <= (SMALL_STREAM + read) as u64 {
                // The stream's dictionary lies between the object header and the keyword.
                let head = &bytes[at.saturating_sub(1024)..at];
                let dictionary = head
                    .windows(3)
                    .rposition(|w| w == b"obj")
                    .map_or(head, |obj| &head[obj..]);
                if find(dictionary, b"/Image").is_some() {
                    this = 0;
                    break;
                }
            }
            if total + this > limit {
                return Err(ExtractError::PdfTooLarge);
            }
        }
        total += this;
    }
    Ok(())
}

/// How much of a stream is inflated before its dictionary is read (see
/// [`check_inflated_size`]).
const SMALL_STREAM: usize = 64 * 1024;

/// Where `needle` first starts in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// One `path: value` line per leaf of a JSON document.
fn json_text(value: &Value) -> String {
    fn walk(value: &Value, path: &mut String, out: &mut String) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push_str(" › ");
                    }
                    path.push_str(key);
                    walk(child, path, out);
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(child, path, out);
                    path.truncate(len);
                }
            }
            Value::String(s) => line(path, s, out),
            other => line(path, &other.to_string(), out),
        }
    }
    fn line(path: &str, value: &str, out: &mut String) {
        if !path.is_empty() {
            out.push_str(path);
            out.push_str(": ");
        }
        out.push_str(value);
        out.push('\n');
    }
    let mut out = String::new();
    walk(value, &mut String::new(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_content_first_then_name_then_declared_type_then_sniffing() {
        assert_eq!(detect("x.bin", None, b"%PDF-1.4 ..."), Ok(Kind::Pdf));
        assert_eq!(detect("notes.md", None, b"hello"), Ok(Kind::Markdown));
        assert_eq!(detect("page.HTM", None, b"<p>hi</p>"), Ok(Kind::Html));
        assert_eq!(detect("a.txt", None, b"# not a heading"), Ok(Kind::Text));
        assert_eq!(
            detect("upload", Some("text/markdown; charset=utf-8"), b"x"),
            Ok(Kind::Markdown)
        );
        assert_eq!(
            detect("upload", None, b"<!DOCTYPE html><p>x</p>"),
            Ok(Kind::Html)
        );
        assert_eq!(detect("upload", None, br#"{"a": 1}"#), Ok(Kind::Json));
        assert_eq!(
            detect("upload", None, b"# Title\n\nbody"),
            Ok(Kind::Markdown)
        );
        assert_eq!(detect("upload", None, b"just words"), Ok(Kind::Text));
    }

    #[test]
    fn binaries_fakes_and_broken_json_are_refused_with_a_reason() {
        assert!(matches!(
            detect("a.txt", None, b"\x89PNG\r\n"),
            Err(Unsupported::Binary(_, "PNG image"))
        ));
        assert!(matches!(
            detect("a.pdf", None, b"hello"),
            Err(Unsupported::FakePdf(_))
        ));
        assert!(matches!(
            detect("a.docx", None, b"hello"),
            Err(Unsupported::Binary(..))
        ));
        assert!(matches!(
            detect("a", None, b"\xff\xfe\x00a"),
            Err(Unsupported::NotText(_))
        ));
        assert!(matches!(
            detect("a.json", None, b"{nope"),
            Err(Unsupported::BadJson(..))
        ));
        assert_eq!(detect("a.txt", None, b""), Err(Unsupported::Empty));
    }

    #[test]
    fn json_becomes_one_line_per_leaf_and_html_keeps_its_headings() {
        let text = extract(Kind::Json, br#"{"a": {"b": [1, "x"]}, "c": null}"#).unwrap();
        assert_eq!(text, "a › b[0]: 1\na › b[1]: x\nc: null\n");
        let md = extract(
            Kind::Html,
            b"<html><head><title>t</title><style>p{}</style></head><body><h1>Top</h1><p>Hi <b>there</b></p><script>x()</script></body></html>",
        )
        .unwrap();
        assert!(md.starts_with("# Top"), "{md}");
        assert!(md.contains("Hi **there**") && !md.contains("x()"), "{md}");
    }

    #[test]
    fn a_broken_pdf_fails_with_a_reason_and_blank_text_is_no_text() {
        assert!(matches!(
            extract(Kind::Pdf, b"%PDF-1.4 garbage"),
            Err(ExtractError::Pdf(_))
        ));
        assert_eq!(extract(Kind::Text, b" \n\t"), Err(ExtractError::NoText));
    }

    /// A one-page PDF whose content stream is `content`, Flate-compressed, plus an image
    /// stream of `image` bytes compressed the same way.
    fn pdf_with(content: &[u8], image: usize) -> Vec<u8> {
        use std::io::Write;
        let deflate = |data: &[u8]| {
            let mut encoder =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(data).unwrap();
            encoder.finish().unwrap()
        };
        let (content, image) = (deflate(content), deflate(&vec![0; image]));
        let mut objects: Vec<Vec<u8>> = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
              /Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>"
                .to_vec(),
        ];
        let stream = |dictionary: &str, data: &[u8]| {
            let mut object = format!(
                "<< {dictionary} /Length {} /Filter /FlateDecode >>\nstream\n",
                data.len()
            )
            .into_bytes();
            object.extend_from_slice(data);
            object.extend_from_slice(b"\nendstream");
            object
        };
        objects.push(stream("", &content));
        objects.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec());
        objects.push(stream(
            "/Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray \
             /BitsPerComponent 8",
            &image,
        ));
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, object) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(object);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for offset in offsets {
            out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    #[test]
    fn a_pdf_whose_content_inflates_past_the_limit_is_refused_before_parsing() {
        let text = b"BT /F1 12 Tf 72 712 Td (Quarterly numbers) Tj ET\n";
        let small = pdf_with(text, 0);
        assert_eq!(extract(Kind::Pdf, &small).unwrap(), "Quarterly numbers");
        assert_eq!(check_inflated_size(&small, 1 << 20), Ok(()));

        // 2 MiB of spaces compress to a few KiB: over a 1 MiB limit.
        let mut bomb = text.to_vec();
        bomb.extend(std::iter::repeat_n(b' ', 2 << 20));
        let bomb = pdf_with(&bomb, 0);
        assert!(bomb.len() < 16 * 1024, "{}", bomb.len());
        assert_eq!(
            check_inflated_size(&bomb, 1 << 20),
            Err(ExtractError::PdfTooLarge)
        );
        // Images are not inflated by text extraction, so they do not count.
        let pictured = pdf_with(text, 4 << 20);
        assert_eq!(check_inflated_size(&pictured, 1 << 20), Ok(()));
        assert_eq!(extract(Kind::Pdf, &pictured).unwrap(), "Quarterly numbers");
    }
}
