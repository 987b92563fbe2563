//! The tree-walking evaluator shared by the synchronous and asynchronous entry points.
//!
//! Asynchronous host calls use deterministic replay instead of an async tree walk, so the pure
//! path pays nothing for async support: the async driver (see `driver.rs`) runs this same
//! evaluator; when it reaches an IO call whose result is not yet known, evaluation stops with an
//! internal `Suspended` error, the driver awaits the call, records the result and evaluates
//! again from the start, replaying recorded results (and recorded random bytes) in order. A
//! program makes at most `max_outbound_calls` calls, so it is evaluated at most that many times
//! plus one.

use std::sync::Arc;

use indexmap::IndexMap;

use crate::ast::{BinaryOp, Expr, ExprKind, Function, Span, TemplatePart, UnaryOp};
use crate::context::{Context, Deadline, HostCall, Scope, DEADLINE_CHECK_INTERVAL};
use crate::convert::ConvertError;
use crate::equality::{self, Meter, BYTES_PER_STEP};
use crate::error::{ErrorCode, EvalError};
use crate::ops;
use crate::value::{Lambda, Map, Value, VALUE_DEPTH_CEILING};

static NULL: Value = Value::Null;

/// Recorded results of asynchronous calls and random bytes, for replay.
#[derive(Default)]
pub(crate) struct Replay {
    pub results: Vec<Result<Value, EvalError>>,
    pub next: usize,
    pub random: Vec<u8>,
    pub random_pos: usize,
    pub pending: Option<(HostCall, Span)>,
}

pub(crate) struct Evaluator<'a> {
    pub(crate) ctx: &'a Context<'a>,
    scope: &'a dyn Scope,
    /// Steps charged so far.
    steps: u64,
    /// `steps` may not pass this: `max_steps`, or what is left of `max_total_steps`.
    step_limit: u64,
    /// True when `step_limit` comes from `max_total_steps`.
    limited_by_total: bool,
    /// The next `steps` value at which `charge` takes its slow path (the step limit or the next
    /// deadline check, whichever is first). Zero once the deadline has expired, so every later
    /// charge fails too: an exhausted budget stays exhausted, even inside `try`.
    check_at: u64,
    deadline: Option<&'a dyn Deadline>,
    timed_out: bool,
    /// `max_value_depth`, at most [`VALUE_DEPTH_CEILING`].
    max_value_depth: u32,
    eval_depth: u32,
    call_depth: u32,
    stack: Vec<Value>,
    base: usize,
    replay: Option<&'a mut Replay>,
}

impl<'a> Evaluator<'a> {
    pub fn new(ctx: &'a Context<'a>, scope: &'a dyn Scope, replay: Option<&'a mut Replay>) -> Self {
        let limits = &ctx.limits;
        let total_left = limits.max_total_steps.saturating_sub(ctx.steps_used());
        let step_limit = limits.max_steps.min(total_left);
        let check_at = match ctx.deadline {
            Some(_) => step_limit.min(DEADLINE_CHECK_INTERVAL),
            None => step_limit,
        };
        Evaluator {
            ctx,
            scope,
            steps: 0,
            step_limit,
            limited_by_total: total_left < limits.max_steps,
            check_at,
            deadline: ctx.deadline,
            timed_out: false,
            max_value_depth: limits.max_value_depth.min(VALUE_DEPTH_CEILING),
            eval_depth: 0,
            call_depth: 0,
            stack: Vec::new(),
            base: 0,
            replay,
        }
    }

    /// `max_value_depth`, capped at [`VALUE_DEPTH_CEILING`].
    pub(crate) fn max_value_depth(&self) -> u32 {
        self.max_value_depth
    }

    /// Steps charged so far (at most the step limit plus one charge).
    pub(crate) fn steps(&self) -> u64 {
        self.steps.min(self.step_limit)
    }

    /// Counts `n` units of work against the step limits, and now and then asks the deadline.
    #[inline]
    pub(crate) fn charge(&mut self, n: usize, span: Span) -> Result<(), EvalError> {
        self.steps = self.steps.saturating_add(n as u64);
        if self.steps > self.check_at {
            return self.charge_slow(span);
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn charge_slow(&mut self, span: Span) -> Result<(), EvalError> {
        if self.steps > self.step_limit {
            let message = if self.limited_by_total {
                "total evaluation step limit exceeded"
            } else {
                "evaluation step limit exceeded"
            };
            return Err(EvalError::new(ErrorCode::LimitExceeded, message, span));
        }
        if let Some(deadline) = self.deadline {
            if self.timed_out || deadline.expired() {
                self.timed_out = true;
                self.check_at = 0;
                return Err(EvalError::new(
                    ErrorCode::LimitExceeded,
                    "evaluation time limit exceeded",
                    span,
                ));
            }
            self.check_at = self
                .step_limit
                .min(self.steps.saturating_add(DEADLINE_CHECK_INTERVAL));
        } else {
            self.check_at = self.step_limit;
        }
        Ok(())
    }

    /// Charges string work: one step per [`BYTES_PER_STEP`] bytes.
    #[inline]
    pub(crate) fn charge_bytes(&mut self, bytes: usize, span: Span) -> Result<(), EvalError> {
        self.charge(bytes / BYTES_PER_STEP, span)
    }

    /// Fails when a collection would exceed `max_collection_len`.
    pub(crate) fn check_len(&self, len: usize, span: Span) -> Result<(), EvalError> {
        if len > self.ctx.limits.max_collection_len {
            return Err(EvalError::new(
                ErrorCode::LimitExceeded,
                "array or object size limit exceeded",
                span,
            ));
        }
        Ok(())
    }

    /// Fails when a string would exceed `max_string_len` bytes.
    pub(crate) fn check_str_len(&self, len: usize, span: Span) -> Result<(), EvalError> {
        if len > self.ctx.limits.max_string_len {
            return Err(limit_error(LimitKind::StringLen, span));
        }
        Ok(())
    }

    /// Fails when `v` nests deeper than `max_value_depth` (constant time: depth is cached).
    #[inline]
    pub(crate) fn check_depth(&self, v: &Value, span: Span) -> Result<(), EvalError> {
        if v.depth() > self.max_value_depth {
            return Err(limit_error(LimitKind::ValueDepth, span));
        }
        Ok(())
    }

    /// Builds an array within the length and depth limits.
    pub(crate) fn new_array(&self, items: Vec<Value>, span: Span) -> Result<Value, EvalError> {
        self.check_len(items.len(), span)?;
        let v = Value::array(items);
        self.check_depth(&v, span)?;
        Ok(v)
    }

    /// Builds an object within the size and depth limits.
    pub(crate) fn new_object(&self, map: Map, span: Span) -> Result<Value, EvalError> {
        self.check_len(map.len(), span)?;
        let v = Value::object(map);
        self.check_depth(&v, span)?;
        Ok(v)
    }

    /// Builds a string within the length limit, charging for its bytes.
    pub(crate) fn new_string(&mut self, s: String, span: Span) -> Result<Value, EvalError> {
        self.check_str_len(s.len(), span)?;
        self.charge_bytes(s.len(), span)?;
        Ok(Value::from(s))
    }

    /// Appends the to-string form of `v` (templates, `+`, join) within `max_string_len`,
    /// charging for the bytes written. An oversized value is refused from its cached size
    /// before anything is written.
    #[inline]
    pub(crate) fn write_display(
        &mut self,
        v: &Value,
        out: &mut String,
        span: Span,
    ) -> Result<(), EvalError> {
        match v {
            Value::String(s) => {
                self.check_str_len(out.len().saturating_add(s.len()), span)?;
                self.charge_bytes(s.len(), span)?;
                out.push_str(s);
                Ok(())
            }
            Value::Number(n) => {
                crate::number_format::write_js_number(out, *n);
                self.check_str_len(out.len(), span)
            }
            _ => self.write_display_composite(v, out, span),
        }
    }

    #[inline(never)]
    fn write_display_composite(
        &mut self,
        v: &Value,
        out: &mut String,
        span: Span,
    ) -> Result<(), EvalError> {
        let start = out.len();
        let result = v
            .write_display(out, self.ctx.limits.max_string_len)
            .map_err(|e| convert_error(e, "a string", span));
        self.charge_bytes(out.len().saturating_sub(start), span)?;
        result
    }

    /// Compact JSON of `v` within `max_string_len`, charging for the bytes written.
    pub(crate) fn json_text(&mut self, v: &Value, span: Span) -> Result<String, EvalError> {
        let mut out = String::new();
        let result = v
            .write_json(&mut out, self.ctx.limits.max_string_len)
            .map_err(|e| convert_error(e, "JSON", span));
        self.charge_bytes(out.len(), span)?;
        result.map(|()| out)
    }

    /// Deep equality, charging one step per pair of nodes compared and per 64 bytes of
    /// strings compared (shared parts are compared once per distinct pair).
    #[inline]
    pub(crate) fn values_equal(
        &mut self,
        a: &Value,
        b: &Value,
        span: Span,
    ) -> Result<bool, EvalError> {
        match equality::scalars_equal(a, b) {
            Some(equal) => {
                self.charge(1, span)?;
                Ok(equal)
            }
            None => self.values_equal_walk(a, b, span),
        }
    }

    #[inline(never)]
    fn values_equal_walk(&mut self, a: &Value, b: &Value, span: Span) -> Result<bool, EvalError> {
        let mut meter = EvalMeter {
            ev: self,
            span,
            error: None,
        };
        match equality::equal(a, b, &mut meter) {
            Ok(equal) => Ok(equal),
            Err(_) => Err(meter.error.unwrap_or_else(|| {
                EvalError::new(
                    ErrorCode::LimitExceeded,
                    "evaluation step limit exceeded",
                    span,
                )
            })),
        }
    }

    pub fn eval(&mut self, e: &Expr) -> Result<Value, EvalError> {
        self.charge(1, e.span)?;
        self.eval_depth += 1;
        if self.eval_depth > self.ctx.limits.max_eval_depth {
            self.eval_depth -= 1;
            return Err(EvalError::new(
                ErrorCode::LimitExceeded,
                "evaluation nested too deeply",
                e.span,
            ));
        }
        let result = self.eval_kind(e);
        self.eval_depth -= 1;
        result
    }

    fn eval_kind(&mut self, e: &Expr) -> Result<Value, EvalError> {
        // Every non-trivial arm lives in its own function: in unoptimized builds a large match
        // gets one stack slot per temporary of every arm, and this function is on the stack once
        // per nesting level.
        let span = e.span;
        match &e.kind {
            ExprKind::Null => Ok(Value::Null),
            ExprKind::Bool(b) => Ok(Value::Bool(*b)),
            ExprKind::Number(n) => Ok(Value::Number(*n)),
            ExprKind::String(s) => Ok(Value::String(s.clone())),
            ExprKind::Template(parts) => self.template(parts, span),
            ExprKind::Array(items) => self.array(items, span),
            ExprKind::Object(entries) => self.object(entries, span),
            ExprKind::Global(_) | ExprKind::Local { .. } | ExprKind::Member { .. } => {
                self.variable_or_member(e)
            }
            ExprKind::Index {
                object,
                index,
                optional,
            } => self.index(object, index, *optional, span),
            ExprKind::Unary(op, operand) => self.unary(*op, operand, span),
            ExprKind::Binary(op, lhs, rhs) => self.binary(*op, lhs, rhs, span),
            ExprKind::Conditional(c, a, b) => {
                if self.eval(c)?.is_truthy() {
                    self.eval(a)
                } else {
                    self.eval(b)
                }
            }
            ExprKind::Let { bindings, body } => {
                let mark = self.stack.len();
                let result = self.let_expr(bindings, body);
                self.stack.truncate(mark);
                result
            }
            ExprKind::Try(body, alternative) => self.try_expr(body, alternative, span),
            ExprKind::Lambda(def) => self.make_lambda(def, span),
            ExprKind::Call { function, args, .. } => self.call(function, args, span),
            ExprKind::CallLambda { callee, args } => self.call_lambda_expr(callee, args, span),
            ExprKind::TimeObject => Ok(self.time_object()),
        }
    }

    #[inline(never)]
    fn array(&mut self, items: &[Expr], span: Span) -> Result<Value, EvalError> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(self.eval(item)?);
        }
        self.new_array(out, span)
    }

    #[inline(never)]
    fn object(&mut self, entries: &[(Arc<str>, Expr)], span: Span) -> Result<Value, EvalError> {
        let mut map = IndexMap::with_capacity(entries.len());
        for (k, v) in entries {
            let value = self.eval(v)?;
            map.insert(k.clone(), value);
        }
        self.new_object(map, span)
    }

    fn variable_or_member(&mut self, e: &Expr) -> Result<Value, EvalError> {
        if let Some(v) = self.place(e)? {
            return Ok(v.clone());
        }
        match &e.kind {
            ExprKind::Member {
                object,
                key,
                optional,
            } => {
                let object = self.eval(object)?;
                member(&object, key, *optional, e.span).cloned()
            }
            _ => Ok(Value::Null),
        }
    }

    #[inline(never)]
    fn index(
        &mut self,
        object: &Expr,
        index: &Expr,
        optional: bool,
        span: Span,
    ) -> Result<Value, EvalError> {
        let object = self.eval(object)?;
        let index = self.eval(index)?;
        ops::index(self, &object, &index, optional, span)
    }

    #[inline(never)]
    fn unary(&mut self, op: UnaryOp, operand: &Expr, span: Span) -> Result<Value, EvalError> {
        let v = self.eval(operand)?;
        match op {
            UnaryOp::Not => Ok(Value::Bool(!v.is_truthy())),
            UnaryOp::Neg => match v {
                Value::Number(n) => Ok(Value::Number(-n)),
                other => Err(type_error(
                    format!("cannot negate {}", other.type_name()),
                    span,
                )),
            },
            UnaryOp::BitNot => match v {
                Value::Number(n) => Ok(Value::Number(f64::from(!ops::to_int32(n)))),
                other => Err(type_error(
                    format!("cannot apply `~` to {}", other.type_name()),
                    span,
                )),
            },
        }
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        span: Span,
    ) -> Result<Value, EvalError> {
        let left = self.eval(lhs)?;
        match op {
            BinaryOp::And => {
                if left.is_truthy() {
                    self.eval(rhs)
                } else {
                    Ok(left)
                }
            }
            BinaryOp::Or => {
                if left.is_truthy() {
                    Ok(left)
                } else {
                    self.eval(rhs)
                }
            }
            BinaryOp::Nullish => {
                if matches!(left, Value::Null) {
                    self.eval(rhs)
                } else {
                    Ok(left)
                }
            }
            _ => {
                let right = self.eval(rhs)?;
                ops::binary(self, op, &left, &right, span)
            }
        }
    }

    #[inline(never)]
    fn try_expr(
        &mut self,
        body: &Expr,
        alternative: &Expr,
        span: Span,
    ) -> Result<Value, EvalError> {
        match self.eval(body) {
            Ok(v) => Ok(v),
            Err(err) if err.code == ErrorCode::Suspended => Err(err),
            Err(err) => {
                let alt = self.eval(alternative)?;
                match alt {
                    Value::Lambda(lambda) => {
                        let mut map = IndexMap::with_capacity(2);
                        map.insert(Arc::from("code"), Value::from(err.code.as_str()));
                        map.insert(Arc::from("message"), Value::from(err.to_string()));
                        let arg = Value::object(map);
                        self.call_lambda(&lambda, std::slice::from_ref(&arg), span)
                    }
                    other => Ok(other),
                }
            }
        }
    }

    #[inline(never)]
    fn make_lambda(
        &mut self,
        def: &Arc<crate::ast::LambdaDef>,
        span: Span,
    ) -> Result<Value, EvalError> {
        let end = self.base + def.captured as usize;
        let captured = self
            .stack
            .get(self.base..end)
            .map(<[Value]>::to_vec)
            .unwrap_or_default();
        let v = Value::Lambda(Arc::new(Lambda::new(def.clone(), captured)));
        self.check_depth(&v, span)?;
        Ok(v)
    }

    #[inline(never)]
    fn call_lambda_expr(
        &mut self,
        callee: &Expr,
        args: &[Expr],
        span: Span,
    ) -> Result<Value, EvalError> {
        let callee = self.eval(callee)?;
        let Value::Lambda(lambda) = callee else {
            return Err(type_error(
                format!("cannot call {} as a lambda", callee.type_name()),
                span,
            ));
        };
        let mut values = Vec::with_capacity(args.len());
        for a in args {
            values.push(self.eval(a)?);
        }
        self.call_lambda(&lambda, &values, span)
    }

    #[inline(never)]
    fn time_object(&self) -> Value {
        let mut map = IndexMap::with_capacity(2);
        map.insert(Arc::from("now"), Value::Number(self.ctx.now_ms as f64));
        map.insert(
            Arc::from("nowISO"),
            Value::from(crate::functions::time::iso_from_ms(self.ctx.now_ms as f64)),
        );
        Value::object(map)
    }

    /// Resolves variable and member chains by reference, so `a.b.c` clones only the result.
    /// Returns `None` when `e` is not such a chain rooted in a variable.
    fn place(&self, e: &Expr) -> Result<Option<&Value>, EvalError> {
        match &e.kind {
            ExprKind::Global(name) => match self.scope.get(name) {
                Some(v) => Ok(Some(v)),
                None => Err(EvalError::new(
                    ErrorCode::UnknownVariable,
                    format!("unknown variable `{name}`"),
                    e.span,
                )),
            },
            ExprKind::Local { slot, .. } => Ok(self.stack.get(self.base + *slot as usize)),
            ExprKind::Member {
                object,
                key,
                optional,
            } => match self.place(object)? {
                Some(obj) => member(obj, key, *optional, e.span).map(Some),
                None => Ok(None),
            },
            _ => Ok(None),
        }
    }

    fn let_expr(&mut self, bindings: &[(Arc<str>, Expr)], body: &Expr) -> Result<Value, EvalError> {
        for (_, value) in bindings {
            let v = self.eval(value)?;
            self.stack.push(v);
        }
        self.eval(body)
    }

    #[inline(never)]
    fn template(&mut self, parts: &[TemplatePart], span: Span) -> Result<Value, EvalError> {
        let mut out = String::new();
        for part in parts {
            match part {
                TemplatePart::Text(t) => out.push_str(t),
                TemplatePart::Expr(e) => {
                    let v = self.eval(e)?;
                    let at = if matches!(v, Value::Lambda(_)) {
                        e.span
                    } else {
                        span
                    };
                    self.write_display(&v, &mut out, at)?;
                }
            }
            self.check_str_len(out.len(), span)?;
        }
        Ok(Value::from(out))
    }

    /// Calls a lambda with `args`; missing arguments are `null`, extra ones are ignored.
    pub(crate) fn call_lambda(
        &mut self,
        lambda: &Lambda,
        args: &[Value],
        span: Span,
    ) -> Result<Value, EvalError> {
        if self.call_depth >= self.ctx.limits.max_call_depth {
            return Err(EvalError::new(
                ErrorCode::LimitExceeded,
                "lambda call depth limit exceeded",
                span,
            ));
        }
        self.call_depth += 1;
        let saved_base = self.base;
        let new_base = self.stack.len();
        self.stack.extend(lambda.captured.iter().cloned());
        for i in 0..lambda.def.params.len() {
            self.stack.push(args.get(i).cloned().unwrap_or(Value::Null));
        }
        self.base = new_base;
        let result = self.eval(&lambda.def.body);
        self.stack.truncate(new_base);
        self.base = saved_base;
        self.call_depth -= 1;
        result
    }

    fn call(&mut self, function: &Function, args: &[Expr], span: Span) -> Result<Value, EvalError> {
        match function {
            Function::Builtin(builtin) => {
                // Library functions scan, copy or hash their string arguments: charge for their
                // bytes here, once, so no function can loop over a long string for free. Their
                // results need no depth check: they build through `new_array`/`new_object`.
                let n = args.len();
                if n <= 4 {
                    let mut buf: [Value; 4] = [Value::Null, Value::Null, Value::Null, Value::Null];
                    let mut bytes = 0;
                    for (slot, a) in buf.iter_mut().zip(args) {
                        *slot = self.eval(a)?;
                        bytes += slot.as_str().map_or(0, str::len);
                    }
                    self.charge_bytes(bytes, span)?;
                    (builtin.call)(self, &buf[..n], span)
                } else {
                    let mut values = Vec::with_capacity(n);
                    let mut bytes = 0;
                    for a in args {
                        let v = self.eval(a)?;
                        bytes += v.as_str().map_or(0, str::len);
                        values.push(v);
                    }
                    self.charge_bytes(bytes, span)?;
                    (builtin.call)(self, &values, span)
                }
            }
            Function::Policy(p) => {
                let v = self
                    .ctx
                    .host
                    .policy(*p)
                    .map_err(|e| EvalError::new(ErrorCode::HostError, e.message, span))?;
                self.check_depth(&v, span)?;
                Ok(v)
            }
            Function::VerifyToken => {
                let token = self.eval_arg(args, 0)?;
                let connection = self.eval_arg(args, 1)?;
                self.async_call(HostCall::VerifyToken { token, connection }, span)
            }
            Function::WebRequest(name) => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(self.eval(a)?);
                }
                self.async_call(
                    HostCall::WebRequest {
                        name: name.clone(),
                        args: values,
                    },
                    span,
                )
            }
        }
    }

    /// Checks the depth of a value the host returned.
    #[inline]
    fn checked_result(
        &self,
        result: Result<Value, EvalError>,
        span: Span,
    ) -> Result<Value, EvalError> {
        let v = result?;
        self.check_depth(&v, span)?;
        Ok(v)
    }

    fn eval_arg(&mut self, args: &[Expr], i: usize) -> Result<Value, EvalError> {
        match args.get(i) {
            Some(a) => self.eval(a),
            None => Ok(Value::Null),
        }
    }

    fn async_call(&mut self, call: HostCall, span: Span) -> Result<Value, EvalError> {
        let Some(replay) = self.replay.as_deref_mut() else {
            return Err(EvalError::new(
                ErrorCode::AsyncRequired,
                "this expression makes IO calls and needs asynchronous evaluation",
                span,
            ));
        };
        if let Some(result) = replay.results.get(replay.next) {
            replay.next += 1;
            let result = result.clone();
            return self.checked_result(result, span);
        }
        replay.pending = Some((call, span));
        Err(EvalError::new(
            ErrorCode::Suspended,
            "waiting for an IO call",
            span,
        ))
    }

    /// Fills `buf` with random bytes (recorded and replayed in asynchronous evaluation).
    pub(crate) fn random_bytes(&mut self, buf: &mut [u8]) {
        match self.replay.as_deref_mut() {
            None => self.ctx.random.fill_bytes(buf),
            Some(replay) => {
                let start = replay.random_pos;
                let end = start + buf.len();
                if replay.random.len() < end {
                    let old = replay.random.len();
                    replay.random.resize(end, 0);
                    self.ctx.random.fill_bytes(&mut replay.random[old..end]);
                }
                buf.copy_from_slice(&replay.random[start..end]);
                replay.random_pos = end;
            }
        }
    }
}

/// `obj.key` / `obj?.key` by reference.
fn member<'v>(
    obj: &'v Value,
    key: &str,
    optional: bool,
    span: Span,
) -> Result<&'v Value, EvalError> {
    match obj {
        Value::Object(map) => match map.get(key) {
            Some(v) => Ok(v),
            None if optional => Ok(&NULL),
            None => Err(EvalError::new(
                ErrorCode::MissingKey,
                format!("missing key `{key}`"),
                span,
            )),
        },
        _ if optional => Ok(&NULL),
        other => Err(type_error(
            format!("cannot read key `{key}` of {}", other.type_name()),
            span,
        )),
    }
}

pub(crate) fn type_error(message: impl Into<String>, span: Span) -> EvalError {
    EvalError::new(ErrorCode::TypeError, message, span)
}

/// Reports work done by an equality walk as evaluation steps.
struct EvalMeter<'e, 'a> {
    ev: &'e mut Evaluator<'a>,
    span: Span,
    error: Option<EvalError>,
}

impl Meter for EvalMeter<'_, '_> {
    fn tick(&mut self, units: u64) -> bool {
        match self
            .ev
            .charge(usize::try_from(units).unwrap_or(usize::MAX), self.span)
        {
            Ok(()) => true,
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) enum LimitKind {
    StringLen,
    ValueDepth,
}

pub(crate) fn limit_error(kind: LimitKind, span: Span) -> EvalError {
    let message = match kind {
        LimitKind::StringLen => "string length limit exceeded",
        LimitKind::ValueDepth => "value nesting depth limit exceeded",
    };
    EvalError::new(ErrorCode::LimitExceeded, message, span)
}

/// Maps a failed conversion to text or JSON (`target` names what was being built).
pub(crate) fn convert_error(e: ConvertError, target: &str, span: Span) -> EvalError {
    match e {
        ConvertError::Lambda => type_error(format!("cannot convert a lambda to {target}"), span),
        ConvertError::TooLarge => limit_error(LimitKind::StringLen, span),
        ConvertError::TooDeep => limit_error(LimitKind::ValueDepth, span),
    }
}
