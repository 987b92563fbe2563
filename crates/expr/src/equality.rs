//! Deep equality without coercion, metered and safe on shared values.
//!
//! Two separately built copies of `a1 = [a0, a0] … a34 = [a33, a33]` are equal, but comparing
//! them node by node touches 2^34 pairs. The walk here
//! - is iterative (no recursion, whatever the depth),
//! - rejects at once when the cached shapes (depth, expanded size) or lengths differ,
//! - skips pairs that are the same allocation,
//! - remembers every pair of large composites it has queued and does not queue it again (a
//!   comparison that finds a difference stops at once, so a pair seen before is either being
//!   checked already or was equal), which makes shared DAGs cost their distinct pairs, not
//!   their expansion,
//! - and counts its work (one unit per pair, one per [`BYTES_PER_STEP`] bytes of strings and
//!   keys compared) on a [`Meter`] that can stop it.

use std::collections::HashSet;
use std::sync::Arc;

use crate::value::{Shared, Value};

/// Bytes of string work (comparing, hashing, scanning, copying) charged as one evaluation step.
pub(crate) const BYTES_PER_STEP: usize = 64;

/// Composites at least this large (expanded) are remembered once queued; smaller ones are cheap
/// enough to compare again.
const MEMO_MIN_SIZE: u64 = 64;

/// Counts the work of a walk.
pub(crate) trait Meter {
    /// Records `units` of work; false stops the walk.
    fn tick(&mut self, units: u64) -> bool;
}

/// A fixed allowance of work units.
pub(crate) struct Allowance(pub u64);

impl Meter for Allowance {
    fn tick(&mut self, units: u64) -> bool {
        match self.0.checked_sub(units) {
            Some(left) => {
                self.0 = left;
                true
            }
            None => false,
        }
    }
}

/// The meter stopped the walk.
#[derive(Debug)]
pub(crate) struct Stopped;

impl Value {
    /// Deep equality without coercion. Numbers compare as `f64` (`NaN != NaN`); lambdas are
    /// equal only to themselves; object key order does not matter. Shared parts are compared
    /// once per distinct pair, so this is fast on values built by doubling; for values from
    /// untrusted expressions prefer [`Value::deep_eq_within`], which bounds the work.
    pub fn deep_eq(&self, other: &Value) -> bool {
        equal(self, other, &mut Allowance(u64::MAX)).unwrap_or(false)
    }

    /// [`Value::deep_eq`] doing at most `max_work` units of work (one per pair of nodes
    /// compared, one per 64 bytes of strings and keys); `None` when that was not enough.
    pub fn deep_eq_within(&self, other: &Value, max_work: u64) -> Option<bool> {
        equal(self, other, &mut Allowance(max_work)).ok()
    }
}

impl PartialEq for Value {
    /// Same as [`Value::deep_eq`].
    fn eq(&self, other: &Value) -> bool {
        self.deep_eq(other)
    }
}

/// The answer for two scalars that are cheap to compare (everything but long strings), or
/// `None` when a walk is needed.
#[inline]
pub(crate) fn scalars_equal(a: &Value, b: &Value) -> Option<bool> {
    Some(match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::String(x), Value::String(y)) if x.len() < BYTES_PER_STEP => x == y,
        (Value::Array(_) | Value::Object(_) | Value::Lambda(_), _)
        | (_, Value::Array(_) | Value::Object(_) | Value::Lambda(_))
        | (Value::String(_), Value::String(_)) => return None,
        _ => false,
    })
}

/// Deep equality, counting work on `meter`.
pub(crate) fn equal<M: Meter>(a: &Value, b: &Value, meter: &mut M) -> Result<bool, Stopped> {
    let mut walk = Walk {
        meter,
        pending: Vec::new(),
        seen: None,
    };
    let (mut x, mut y) = (a, b);
    loop {
        if !walk.pair(x, y)? {
            return Ok(false);
        }
        match walk.pending.pop() {
            Some((p, q)) => (x, y) = (p, q),
            None => return Ok(true),
        }
    }
}

struct Walk<'v, 'm, M: Meter> {
    meter: &'m mut M,
    /// Pairs of composites still to compare.
    pending: Vec<(&'v Value, &'v Value)>,
    /// Addresses of the large composite pairs already queued.
    seen: Option<HashSet<(usize, usize)>>,
}

impl<'v, M: Meter> Walk<'v, '_, M> {
    fn tick(&mut self, units: u64) -> Result<(), Stopped> {
        if self.meter.tick(units) {
            Ok(())
        } else {
            Err(Stopped)
        }
    }

    /// Compares scalars now and queues the children of composites; false when they differ.
    fn pair(&mut self, x: &'v Value, y: &'v Value) -> Result<bool, Stopped> {
        self.tick(1)?;
        Ok(match (x, y) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => {
                if Arc::ptr_eq(a, b) {
                    true
                } else if a.len() != b.len() {
                    false
                } else {
                    self.tick((a.len() / BYTES_PER_STEP) as u64)?;
                    a == b
                }
            }
            (Value::Array(a), Value::Array(b)) => {
                if Shared::ptr_eq(a, b) {
                    return Ok(true);
                }
                if a.len() != b.len() || !Shared::same_shape(a, b) {
                    return Ok(false);
                }
                if !self.first_visit(a, b) {
                    return Ok(true);
                }
                for (p, q) in a.iter().zip(b.iter()) {
                    if !self.child(p, q)? {
                        return Ok(false);
                    }
                }
                true
            }
            (Value::Object(a), Value::Object(b)) => {
                if Shared::ptr_eq(a, b) {
                    return Ok(true);
                }
                if a.len() != b.len() || !Shared::same_shape(a, b) {
                    return Ok(false);
                }
                if !self.first_visit(a, b) {
                    return Ok(true);
                }
                for (k, p) in a.iter() {
                    self.tick((k.len() / BYTES_PER_STEP) as u64)?;
                    let Some(q) = b.get(k) else {
                        return Ok(false);
                    };
                    if !self.child(p, q)? {
                        return Ok(false);
                    }
                }
                true
            }
            (Value::Lambda(a), Value::Lambda(b)) => Arc::ptr_eq(a, b),
            _ => false,
        })
    }

    /// Scalars are compared at once (no recursion beyond one level); composites are queued.
    fn child(&mut self, p: &'v Value, q: &'v Value) -> Result<bool, Stopped> {
        if p.is_composite() && q.is_composite() {
            self.pending.push((p, q));
            Ok(true)
        } else if p.is_composite() || q.is_composite() {
            self.tick(1)?;
            Ok(false)
        } else {
            self.pair(p, q)
        }
    }

    /// False when this pair of large composites was queued before.
    fn first_visit<T: crate::value::Children>(&mut self, a: &Shared<T>, b: &Shared<T>) -> bool {
        if a.size() < MEMO_MIN_SIZE {
            return true;
        }
        self.seen
            .get_or_insert_with(HashSet::new)
            .insert((a.addr(), b.addr()))
    }
}
