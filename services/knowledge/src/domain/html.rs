//! HTML to Markdown without letting a document's nesting hurt the process.
//!
//! Two costs grow with how deep elements nest, and an upload can nest them as deep as its
//! size allows (`<div>` is five bytes):
//!
//! - The HTML parser walks its stack of open elements (and of active formatting elements)
//!   on most tags, so its time is quadratic in their length: 100,000 nested `<div>`s took
//!   minutes, and misnested tables keep elements open without nesting them in the tree.
//! - The Markdown converter walks the tree by recursion: a tree deeper than a thread's stack
//!   allows aborts the whole process (a stack overflow is not a panic).
//! - Content misplaced in tables is moved before them, and misnested formatting is moved
//!   about; each move searches its parent's children, so a document made of such moves is
//!   quadratic too (100,000 `<div><table></div>` took minutes).
//!
//! So the document is given to the parser in slices, and after each one the parser's own
//! element stacks are measured and its moves counted; parsing stops as soon as they hold more
//! than [`MAX_DEPTH`] elements or it made more than [`MAX_MOVES`] moves. The finished tree is
//! measured again, without recursion, before converting.

use std::cell::Cell;
use std::rc::Rc;

use html5ever::interface::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tree_builder::Tracer;
use html5ever::{Attribute, ExpandedName, ParseOpts, QualName};
use markup5ever_rcdom::{Handle, RcDom};

/// How deep elements may nest. Real pages stay far below it; the converter's recursion at
/// this depth needs well under the 2 MiB stack of a blocking-pool thread (it overflowed at
/// about 800 elements in a debug build).
pub const MAX_DEPTH: usize = 256;

/// How many times the parser may move a node to another place (foster parenting,
/// misnested formatting, reparenting); real pages make a handful.
pub const MAX_MOVES: usize = 10_000;

/// How much of the document the parser is given between checks (bytes).
const SLICE: usize = 4096;

/// The document nests elements deeper than [`MAX_DEPTH`], or makes the parser move nodes
/// more than [`MAX_MOVES`] times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep;

/// `html` as Markdown: headings become `#` headings; scripts, styles and the head are
/// dropped.
pub fn to_markdown(html: &str) -> Result<String, TooDeep> {
    let converter = htmd::HtmlToMarkdown::builder()
        .skip_tags(vec![
            "script", "style", "head", "noscript", "template", "svg",
        ])
        .build();
    let moves = Rc::new(Cell::new(0));
    let sink = Counted {
        dom: RcDom::default(),
        moves: Rc::clone(&moves),
    };
    let mut parser = html5ever::parse_document(sink, ParseOpts::default());
    let mut rest = html;
    while !rest.is_empty() {
        let mut end = rest.len().min(SLICE);
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        parser.process(StrTendril::from_slice(&rest[..end]));
        let held = Count::default();
        parser.tokenizer.sink.trace_handles(&held);
        if held.0.get() > MAX_DEPTH || moves.get() > MAX_MOVES {
            return Err(TooDeep);
        }
        rest = &rest[end..];
    }
    let dom = parser.finish();
    if nesting_depth(&dom.document) > MAX_DEPTH {
        return Err(TooDeep);
    }
    Ok(converter.tree_to_markdown(&dom.document))
}

/// An `RcDom` that counts the moves of nodes it is asked to make.
struct Counted {
    dom: RcDom,
    moves: Rc<Cell<usize>>,
}

impl Counted {
    fn moved(&self) {
        self.moves.set(self.moves.get() + 1);
    }
}

impl TreeSink for Counted {
    type Handle = Handle;
    type Output = RcDom;
    type ElemName<'a>
        = ExpandedName<'a>
    where
        Self: 'a;

    fn finish(self) -> RcDom {
        self.dom
    }

    fn parse_error(&self, _msg: std::borrow::Cow<'static, str>) {}

    fn get_document(&self) -> Handle {
        self.dom.get_document()
    }

    fn elem_name<'a>(&'a self, target: &'a Handle) -> ExpandedName<'a> {
        self.dom.elem_name(target)
    }

    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, flags: ElementFlags) -> Handle {
        self.dom.create_element(name, attrs, flags)
    }

    fn create_comment(&self, text: StrTendril) -> Handle {
        self.dom.create_comment(text)
    }

    fn create_pi(&self, target: StrTendril, data: StrTendril) -> Handle {
        self.dom.create_pi(target, data)
    }

    fn append(&self, parent: &Handle, child: NodeOrText<Handle>) {
        self.dom.append(parent, child);
    }

    fn append_before_sibling(&self, sibling: &Handle, child: NodeOrText<Handle>) {
        self.moved();
        self.dom.append_before_sibling(sibling, child);
    }

    fn append_based_on_parent_node(
        &self,
        element: &Handle,
        prev_element: &Handle,
        child: NodeOrText<Handle>,
    ) {
        // As `RcDom` does, through this sink so that a move is counted.
        let parent = element.parent.take();
        let has_parent = parent.is_some();
        element.parent.set(parent);
        if has_parent {
            self.append_before_sibling(element, child);
        } else {
            self.append(prev_element, child);
        }
    }

    fn append_doctype_to_document(
        &self,
        name: StrTendril,
        public_id: StrTendril,
        system_id: StrTendril,
    ) {
        self.dom
            .append_doctype_to_document(name, public_id, system_id);
    }

    fn get_template_contents(&self, target: &Handle) -> Handle {
        self.dom.get_template_contents(target)
    }

    fn same_node(&self, x: &Handle, y: &Handle) -> bool {
        self.dom.same_node(x, y)
    }

    fn set_quirks_mode(&self, mode: QuirksMode) {
        self.dom.set_quirks_mode(mode);
    }

    fn add_attrs_if_missing(&self, target: &Handle, attrs: Vec<Attribute>) {
        self.dom.add_attrs_if_missing(target, attrs);
    }

    fn remove_from_parent(&self, target: &Handle) {
        self.moved();
        self.dom.remove_from_parent(target);
    }

    fn reparent_children(&self, node: &Handle, new_parent: &Handle) {
        self.moved();
        self.dom.reparent_children(node, new_parent);
    }

    fn is_mathml_annotation_xml_integration_point(&self, handle: &Handle) -> bool {
        self.dom.is_mathml_annotation_xml_integration_point(handle)
    }

    fn maybe_clone_an_option_into_selectedcontent(&self, option: &Handle) {
        self.dom.maybe_clone_an_option_into_selectedcontent(option);
    }
}

/// Counts the elements the parser holds on to (its open elements, its active formatting
/// elements and a few pointers).
#[derive(Default)]
struct Count(Cell<usize>);

impl Tracer for Count {
    type Handle = Handle;

    fn trace_handle(&self, _node: &Handle) {
        self.0.set(self.0.get() + 1);
    }
}

/// How deep the tree under `root` nests (the root alone is 0), counted without recursion and
/// only as far as [`MAX_DEPTH`] + 1.
fn nesting_depth(root: &Handle) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(Rc::clone(root), 0)];
    while let Some((node, depth)) = pending.pop() {
        deepest = deepest.max(depth);
        if deepest > MAX_DEPTH {
            break;
        }
        let children = node.children.borrow();
        pending.extend(children.iter().map(|child| (Rc::clone(child), depth + 1)));
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_and_text_come_through_and_scripts_do_not() {
        let html = "<html><head><title>t</title></head><body><h2>Setup</h2>\
                    <p>Install <b>it</b>.</p><script>alert(1)</script></body></html>";
        let markdown = to_markdown(html).unwrap();
        assert!(markdown.contains("## Setup"), "{markdown}");
        assert!(markdown.contains("Install **it**."), "{markdown}");
        assert!(!markdown.contains("alert"), "{markdown}");
    }

    #[test]
    fn nesting_up_to_the_limit_converts_and_deeper_is_refused_early() {
        // Each shape nests elements; just under the limit the converter still runs (on the
        // test thread's stack, in a debug build).
        let shapes = [
            ("<div>", "</div>", 1),
            ("<ul><li>", "</li></ul>", 2),
            ("<blockquote>", "</blockquote>", 1),
            ("<table><tr><td>", "</td></tr></table>", 4),
        ];
        for (open, close, per_level) in shapes {
            let levels = (MAX_DEPTH - 8) / per_level;
            let html = format!("{}deep{}", open.repeat(levels), close.repeat(levels));
            let markdown = to_markdown(&html).unwrap();
            assert!(markdown.contains("deep"), "{open}: {markdown:?}");
        }
        // Far deeper than any page: refused after the first slices, not after parsing it
        // all (which would take minutes).
        for depth in [MAX_DEPTH + 10, 1_000_000] {
            let html = format!("{}deep{}", "<div>".repeat(depth), "</div>".repeat(depth));
            assert_eq!(to_markdown(&html), Err(TooDeep), "{depth}");
        }
        // Unclosed formatting elements with distinct attributes pile up on the parser's
        // list of active formatting elements, which it walks at every text.
        // Misnested tables make it move every `<div>` before its table.
        let formatting: String = (0..100_000).map(|i| format!("<b id={i}>x")).collect();
        let tables = "<div><table></div>".repeat(100_000);
        for html in [formatting, tables] {
            assert_eq!(to_markdown(&html), Err(TooDeep), "{}", &html[..40]);
        }
        // A few moves are normal.
        let misplaced = "<table><tr><td>cell</td></tr>stray text<div>stray</div></table>";
        assert!(to_markdown(misplaced).unwrap().contains("stray"));
    }
}
