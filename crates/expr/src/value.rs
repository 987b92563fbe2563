//! Run-time values: JSON values plus lambdas, cheap to clone (strings, arrays and objects sit
//! behind `Arc`), with the language's truthiness rule.
//!
//! Arrays, objects and lambdas are shared: `let a = [x, x]` holds `x` twice without copying it,
//! so a value is a DAG whose expanded tree can be exponentially larger than the memory it uses
//! (`a1 = [a0, a0]`, `a2 = [a1, a1]`, …). Every composite therefore caches, when it is built,
//! its nesting [`Value::depth`] and its expanded [`Value::size`], so limits are checked in
//! constant time and nothing ever has to expand a shared value to learn how big it is.
//! Dropping a deep value is iterative, so no value can overflow the stack when it is freed.
//!
//! Equality, conversion to text and to `serde_json` live in `equality.rs` and `convert.rs`.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::ast::LambdaDef;

/// An object: insertion-ordered keys.
pub type Map = IndexMap<Arc<str>, Value>;

/// An array's contents, shared.
pub type Array = Shared<Vec<Value>>;

/// An object's contents, shared.
pub type Object = Shared<Map>;

/// Deepest value any walk in this crate (equality, JSON, text, `Debug`, `Serialize`) recurses
/// into, whatever `Limits::max_value_depth` says; the evaluator never builds deeper values.
/// Values from `serde_json` are at most 128 deep (its parser's recursion limit), so every parsed
/// document, wrapped a few times, stays far below this.
pub const VALUE_DEPTH_CEILING: u32 = 256;

/// A value of the expression language.
#[derive(Clone, Default)]
pub enum Value {
    /// `null`
    #[default]
    Null,
    /// `true` / `false`
    Bool(bool),
    /// Every number is an `f64` (integers are exact up to 2^53).
    Number(f64),
    /// A string.
    String(Arc<str>),
    /// An array.
    Array(Array),
    /// An object with insertion-ordered keys.
    Object(Object),
    /// A function value made by `x => …`.
    Lambda(Arc<Lambda>),
}

/// A shared, immutable array or object together with its nesting depth and expanded size,
/// computed once when it is built. Dereferences to the contents (`Vec<Value>` or [`Map`]).
pub struct Shared<T: Children>(Arc<Node<T>>);

struct Node<T: Children> {
    shape: Shape,
    contents: T,
}

/// Depth and expanded size of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    depth: u32,
    size: u64,
}

/// The contents of a composite value: what its shape is computed from and what an iterative
/// drop takes apart. Implemented for `Vec<Value>` and [`Map`] only.
pub trait Children: sealed::Sealed {
    #[doc(hidden)]
    fn shape(&self) -> (u32, u64);
    #[doc(hidden)]
    fn take_children(&mut self, out: &mut Vec<Value>);
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for Vec<super::Value> {}
    impl Sealed for super::Map {}
}

impl Children for Vec<Value> {
    fn shape(&self) -> (u32, u64) {
        let mut depth = 0;
        let mut size: u64 = 1;
        for v in self {
            depth = depth.max(v.depth());
            size = size.saturating_add(v.size());
        }
        (depth.saturating_add(1), size)
    }

    fn take_children(&mut self, out: &mut Vec<Value>) {
        out.extend(self.drain(..).filter(Value::is_composite));
    }
}

impl Children for Map {
    fn shape(&self) -> (u32, u64) {
        let mut depth = 0;
        let mut size: u64 = 1;
        for (k, v) in self {
            depth = depth.max(v.depth());
            size = size.saturating_add(k.len() as u64).saturating_add(v.size());
        }
        (depth.saturating_add(1), size)
    }

    fn take_children(&mut self, out: &mut Vec<Value>) {
        out.extend(self.drain(..).map(|(_, v)| v).filter(Value::is_composite));
    }
}

impl<T: Children> Shared<T> {
    /// Wraps `contents`, computing its depth and expanded size from its direct children.
    pub fn new(contents: T) -> Self {
        let (depth, size) = contents.shape();
        Shared(Arc::new(Node {
            shape: Shape { depth, size },
            contents,
        }))
    }

    /// Nesting depth: 1 for a composite holding only scalars.
    pub fn depth(&self) -> u32 {
        self.0.shape.depth
    }

    /// Expanded size (see [`Value::size`]).
    pub fn size(&self) -> u64 {
        self.0.shape.size
    }

    /// True when both are the same allocation (so certainly equal).
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }

    /// The allocation's address, for memoizing walks over shared values.
    pub(crate) fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as *const () as usize
    }

    pub(crate) fn same_shape(a: &Self, b: &Self) -> bool {
        a.0.shape == b.0.shape
    }
}

impl<T: Children> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(Arc::clone(&self.0))
    }
}

impl<T: Children> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0.contents
    }
}

/// Values nested at most this deep are dropped recursively (the compiler's drop glue); deeper
/// ones are taken apart with a heap stack, so freeing a value never overflows the stack.
const RECURSIVE_DROP_DEPTH: u32 = 32;

impl<T: Children> Drop for Node<T> {
    fn drop(&mut self) {
        if self.shape.depth > RECURSIVE_DROP_DEPTH {
            let mut pending = Vec::new();
            self.contents.take_children(&mut pending);
            drop_iteratively(pending);
        }
    }
}

/// Frees `pending` without recursion: a composite that this is the last reference to has its
/// children moved onto the stack before it is dropped (empty, so its own drop is shallow).
fn drop_iteratively(mut pending: Vec<Value>) {
    while let Some(v) = pending.pop() {
        match v {
            Value::Array(mut a) => {
                if let Some(node) = Arc::get_mut(&mut a.0) {
                    node.contents.take_children(&mut pending);
                }
            }
            Value::Object(mut o) => {
                if let Some(node) = Arc::get_mut(&mut o.0) {
                    node.contents.take_children(&mut pending);
                }
            }
            Value::Lambda(mut l) => {
                if let Some(lambda) = Arc::get_mut(&mut l) {
                    pending.extend(lambda.captured.drain(..).filter(Value::is_composite));
                }
            }
            _ => {}
        }
    }
}

/// A lambda value: its definition plus the enclosing `let`/parameter values it captured.
///
/// Bare identifiers inside a lambda body that are not captured locals resolve against the scope
/// of whoever evaluates the call.
pub struct Lambda {
    pub(crate) def: Arc<LambdaDef>,
    pub(crate) captured: Vec<Value>,
    /// 1 + the deepest captured value: captures nest values like arrays do.
    depth: u32,
}

impl Lambda {
    pub(crate) fn new(def: Arc<LambdaDef>, captured: Vec<Value>) -> Lambda {
        let depth = captured
            .iter()
            .map(Value::depth)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        Lambda {
            def,
            captured,
            depth,
        }
    }

    /// Number of declared parameters.
    pub fn arity(&self) -> usize {
        self.def.params.len()
    }
}

impl Drop for Lambda {
    fn drop(&mut self) {
        if self.depth > RECURSIVE_DROP_DEPTH {
            drop_iteratively(std::mem::take(&mut self.captured));
        }
    }
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    /// An array value.
    pub fn array(items: Vec<Value>) -> Value {
        Value::Array(Shared::new(items))
    }

    /// An object value.
    pub fn object(map: Map) -> Value {
        Value::Object(Shared::new(map))
    }

    /// The name `@std.typeOf` returns: `number string boolean null object array lambda`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Lambda(_) => "lambda",
        }
    }

    /// Nesting depth of arrays, objects and lambda captures: 0 for scalars, 1 for `[]` or
    /// `[1, "a"]`, 2 for `[[1]]`. Cached, so this is constant time.
    pub fn depth(&self) -> u32 {
        match self {
            Value::Array(a) => a.depth(),
            Value::Object(o) => o.depth(),
            Value::Lambda(l) => l.depth,
            _ => 0,
        }
    }

    /// Expanded size: what the value would weigh written out as a tree, counting 1 per node
    /// plus the bytes of every string and key, with shared parts counted each time they occur
    /// (saturating). It is a lower bound on the length of the value's compact JSON text, so a
    /// conversion can be refused before it starts. Cached, so this is constant time. A lambda
    /// counts 1 (it is never expanded: it has no JSON form and compares by identity).
    pub fn size(&self) -> u64 {
        match self {
            Value::String(s) => 1 + s.len() as u64,
            Value::Array(a) => a.size(),
            Value::Object(o) => o.size(),
            _ => 1,
        }
    }

    /// True for arrays, objects and lambdas.
    pub(crate) fn is_composite(&self) -> bool {
        matches!(self, Value::Array(_) | Value::Object(_) | Value::Lambda(_))
    }

    /// JavaScript truthiness: `null`, `false`, `0`, `-0`, `NaN` and `""` are falsy; everything
    /// else, including `[]`, `{}` and lambdas, is truthy.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => *n != 0.0 && !n.is_nan(),
            Value::String(s) => !s.is_empty(),
            Value::Array(_) | Value::Object(_) | Value::Lambda(_) => true,
        }
    }

    /// The string if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The boolean if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Value {
        Value::from(&v)
    }
}

/// Recursive in the document's depth: documents parsed by `serde_json` are at most 128 deep.
impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::String(Arc::from(s.as_str())),
            serde_json::Value::Array(items) => {
                Value::array(items.iter().map(Value::from).collect())
            }
            serde_json::Value::Object(map) => Value::object(
                map.iter()
                    .map(|(k, v)| (Arc::from(k.as_str()), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(n)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n as f64)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(Arc::from(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(Arc::from(s))
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::array(items)
    }
}

impl From<Map> for Value {
    fn from(map: Map) -> Value {
        Value::object(map)
    }
}

/// Values bigger than this print as a summary in `Debug` output.
const DEBUG_MAX_SIZE: u64 = 4096;

/// Debug output shows only the structure's types for strings, so secrets do not end up in logs
/// through `{:?}`: strings print as `<string len=N>`. Large or deep values print as a summary
/// (`<array len=N depth=D size=S>`), so printing never expands a shared value.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let too_big = self.size() > DEBUG_MAX_SIZE || self.depth() > VALUE_DEPTH_CEILING;
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{}", crate::number_format::js_number_to_string(*n)),
            Value::String(s) => write!(f, "<string len={}>", s.chars().count()),
            Value::Array(items) if too_big => write!(
                f,
                "<array len={} depth={} size={}>",
                items.len(),
                items.depth(),
                items.size()
            ),
            Value::Object(map) if too_big => write!(
                f,
                "<object len={} depth={} size={}>",
                map.len(),
                map.depth(),
                map.size()
            ),
            Value::Array(items) => f.debug_list().entries(items.iter()).finish(),
            Value::Object(map) => f
                .debug_map()
                .entries(map.iter().map(|(k, v)| (k.as_ref(), v)))
                .finish(),
            Value::Lambda(l) => write!(f, "<lambda/{}>", l.arity()),
        }
    }
}
