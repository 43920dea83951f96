//! The v1 collection query language: `where` clauses, `orderBy`, paging.

use std::cmp::Ordering;

use serde_json::Value;

/// A v1 API failure: HTTP status, error key and message.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub key: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, key: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            key: key.to_owned(),
            message: message.into(),
        }
    }
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(400, "framework.exception.InvalidArgument", message)
    }
    pub fn not_found(id: &str) -> Self {
        Self::new(
            404,
            "framework.exception.EntityNotFound",
            format!("The entity with id: {id} was not found"),
        )
    }
    pub fn forbidden() -> Self {
        Self::new(
            403,
            "framework.exception.PermissionDenied",
            "Permission was denied",
        )
    }
}

/// Comparison operator of a predicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
    Matches,
}

/// One `property op value` predicate.
#[derive(Clone, Debug)]
pub struct Pred {
    pub prop: String,
    pub op: Op,
    pub value: Value,
}

/// Parses a `where` clause: `( p op v AND ... )`.
pub fn parse_where(src: &str) -> Result<Vec<Pred>, ApiError> {
    let invalid = || ApiError::bad(format!("An invalid WHERE query was received. {src}"));
    let s = src.trim();
    let inner = s
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(invalid)?;
    let toks = tokenize(inner).ok_or_else(invalid)?;
    let mut preds = Vec::new();
    let mut i = 0;
    loop {
        let prop = match toks.get(i) {
            Some(Tok::Word(w)) => w.clone(),
            _ => return Err(invalid()),
        };
        if prop.eq_ignore_ascii_case("NOT") || prop.eq_ignore_ascii_case("OR") {
            return Err(invalid());
        }
        i += 1;
        let (op, value) = match toks.get(i) {
            Some(Tok::Op(o)) => {
                let op = match o.as_str() {
                    "=" => Op::Eq,
                    ">" => Op::Gt,
                    ">=" => Op::Ge,
                    "<" => Op::Lt,
                    "<=" => Op::Le,
                    _ => return Err(invalid()),
                };
                i += 1;
                let v = match toks.get(i) {
                    Some(Tok::Str(s)) => Value::String(s.clone()),
                    Some(Tok::Word(w)) => literal(w).ok_or_else(invalid)?,
                    _ => return Err(invalid()),
                };
                i += 1;
                (op, v)
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("MATCHES") => {
                i += 1;
                let v = match (toks.get(i), toks.get(i + 1), toks.get(i + 2)) {
                    (Some(Tok::Open), Some(Tok::Str(s)), Some(Tok::Close)) => s.clone(),
                    _ => return Err(invalid()),
                };
                i += 3;
                (Op::Matches, Value::String(v))
            }
            _ => return Err(invalid()),
        };
        preds.push(Pred { prop, op, value });
        match toks.get(i) {
            None => break,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("AND") => i += 1,
            _ => return Err(invalid()),
        }
    }
    Ok(preds)
}

fn literal(w: &str) -> Option<Value> {
    if w == "true" || w == "false" {
        return Some(Value::Bool(w == "true"));
    }
    w.parse::<i64>().ok().map(Value::from)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Op(String),
    Open,
    Close,
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let cs: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::Open);
            i += 1;
        } else if c == ')' {
            out.push(Tok::Close);
            i += 1;
        } else if c == '\'' {
            let mut v = String::new();
            i += 1;
            loop {
                match cs.get(i) {
                    None => return None,
                    Some('\'') if cs.get(i + 1) == Some(&'\'') => {
                        v.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        v.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(v));
        } else if matches!(c, '=' | '<' | '>') {
            let mut o = c.to_string();
            if cs.get(i + 1) == Some(&'=') {
                o.push('=');
                i += 1;
            }
            out.push(Tok::Op(o));
            i += 1;
        } else {
            let mut w = String::new();
            while let Some(&ch) = cs.get(i) {
                if ch.is_whitespace() || matches!(ch, '(' | ')' | '=' | '<' | '>' | '\'') {
                    break;
                }
                w.push(ch);
                i += 1;
            }
            out.push(Tok::Word(w));
        }
    }
    Some(out)
}

/// Which operators a resource allows for a property.
pub struct Allowed<'a> {
    /// Properties allowing `=`.
    pub eq: &'a [&'a str],
    /// Properties allowing `MATCHES`.
    pub matches: &'a [&'a str],
    /// Properties allowing `>`/`<`.
    pub range: &'a [&'a str],
    /// Properties allowing `>=`/`<=`.
    pub range_eq: &'a [&'a str],
    /// Whether `variables/...` predicates are allowed.
    pub variables: bool,
}

/// Rejects predicates the resource does not support.
pub fn check(preds: &[Pred], allowed: &Allowed<'_>) -> Result<(), ApiError> {
    for p in preds {
        if allowed.variables && p.prop.starts_with("variables/") {
            continue;
        }
        let set = match p.op {
            Op::Eq => allowed.eq,
            Op::Matches => allowed.matches,
            Op::Gt | Op::Lt => allowed.range,
            Op::Ge | Op::Le => allowed.range_eq,
        };
        if !set.contains(&p.prop.as_str()) {
            return Err(ApiError::bad(format!(
                "An invalid WHERE query was received. property {} isn't supported for {:?} comparison",
                p.prop, p.op
            )));
        }
    }
    Ok(())
}

/// Whether `v` satisfies `op target`. Strings compare as strings, numbers as numbers.
pub fn compare(v: Option<&Value>, op: Op, target: &Value) -> bool {
    let Some(v) = v else { return false };
    match op {
        Op::Matches => match (v.as_str(), target.as_str()) {
            (Some(s), Some(p)) => like(s, p),
            _ => false,
        },
        _ => {
            let ord = cmp_values(v, target);
            match op {
                Op::Eq => ord == Some(Ordering::Equal),
                Op::Gt => ord == Some(Ordering::Greater),
                Op::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                Op::Lt => ord == Some(Ordering::Less),
                Op::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                Op::Matches => false,
            }
        }
    }
}

/// Orders two JSON values of the same kind; numbers given as strings compare numerically.
pub fn cmp_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::Number(x), Value::String(y)) => x.as_f64()?.partial_cmp(&y.parse::<f64>().ok()?),
        (Value::String(x), Value::Number(y)) => x.parse::<f64>().ok()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => match (parse_date(x), parse_date(y)) {
            (Some(dx), Some(dy)) => Some(dx.cmp(&dy)),
            _ => Some(x.cmp(y)),
        },
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::String(y)) => Some(x.to_string().as_str().cmp(y.as_str())),
        _ => None,
    }
}

/// Parses the date forms the server accepts (`+0000`, `Z`, `+00:00`).
pub fn parse_date(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if s.len() < 19 || s.as_bytes().get(4).is_none_or(|b| *b != b'-') {
        return None;
    }
    chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}

/// SQL LIKE with `%` wildcards, case-sensitive.
pub fn like(s: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('%').collect();
    if parts.len() == 1 {
        return s == pattern;
    }
    let mut rest = s;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// A parsed `orderBy`: one column and a direction.
pub fn parse_order(
    src: Option<&str>,
    allowed: &[&str],
    default: (&str, bool),
) -> Result<(String, bool), ApiError> {
    let Some(src) = src.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok((default.0.to_owned(), default.1));
    };
    if src.contains(',') {
        return Err(ApiError::bad("Only one order by parameter is supported"));
    }
    let mut it = src.split_whitespace();
    let col = it.next().unwrap_or_default();
    let asc = match it.next() {
        None => true,
        Some(d) if d.eq_ignore_ascii_case("ASC") => true,
        Some(d) if d.eq_ignore_ascii_case("DESC") => false,
        Some(_) => {
            return Err(ApiError::bad(format!(
                "An invalid ORDERBY query was received. {src}"
            )))
        }
    };
    if it.next().is_some() || !allowed.contains(&col) {
        return Err(ApiError::bad(format!(
            "OrderBy {col} is not supported, supported items are {}",
            allowed.join(",")
        )));
    }
    Ok((col.to_owned(), asc))
}

/// Sorts entries by one JSON field; missing values sort last in ascending order.
pub fn sort_by_field(items: &mut [Value], col: &str, asc: bool) {
    items.sort_by(|a, b| {
        let o = match (a.get(col), b.get(col)) {
            (Some(x), Some(y)) => cmp_values(x, y).unwrap_or(Ordering::Equal),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        let o = if asc { o } else { o.reverse() };
        o.then_with(|| {
            let ia = a
                .get("id")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<u64>().ok());
            let ib = b
                .get("id")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<u64>().ok());
            ia.cmp(&ib)
        })
    });
}

/// Paging parameters.
#[derive(Clone, Copy, Debug)]
pub struct Paging {
    pub skip: usize,
    pub max: usize,
}

/// Reads `skipCount`/`maxItems` (defaults 0 and 100).
pub fn paging(skip: Option<&str>, max: Option<&str>) -> Result<Paging, ApiError> {
    let skip = match skip {
        None => 0,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 0)
            .ok_or_else(|| ApiError::bad(format!("Invalid paging parameter skipCount:{s}")))?
            as usize,
    };
    let max = match max {
        None => 100,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 1)
            .ok_or_else(|| ApiError::bad(format!("Invalid paging parameter maxItems:{s}")))?
            as usize,
    };
    Ok(Paging { skip, max })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_clause_parses_and_rejects_or() {
        let p =
            parse_where("(status='active' AND assignee = 'o''brien' AND priority >= 2)").unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[1].value, Value::String("o'brien".into()));
        assert_eq!(p[2].op, Op::Ge);
        assert!(parse_where("(a='x' OR b='y')").is_err());
        assert!(parse_where("a='x'").is_err());
        let m = parse_where("(processBusinessKey MATCHES('flowgate:%:jdoe'))").unwrap();
        assert_eq!(m[0].op, Op::Matches);
    }

    #[test]
    fn like_matches_wildcards() {
        assert!(like("flowgate:abc:jdoe", "flowgate:%:jdoe"));
        assert!(!like("flowgate:abc:bob", "flowgate:%:jdoe"));
        assert!(like("activitiReview", "activiti%"));
    }

    #[test]
    fn paging_rejects_negative_and_zero() {
        assert!(paging(Some("-1"), None).is_err());
        assert!(paging(None, Some("0")).is_err());
        assert!(paging(None, Some("x")).is_err());
        assert_eq!(paging(None, None).unwrap().max, 100);
    }
}
