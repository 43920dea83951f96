//! Requests to an upstream: where they go under its base URL, and what they carry.

use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde::Serialize;

/// An `Authorization: Basic` value, marked sensitive; `None` when the credentials
/// cannot be sent in a header.
pub fn basic_auth_value(user: &str, password: Option<&str>) -> Option<HeaderValue> {
    let raw = format!("{user}:{}", password.unwrap_or_default());
    let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
    sensitive(format!("Basic {encoded}"))
}

/// An `Authorization: Bearer` value, marked sensitive.
pub fn bearer_auth_value(token: &str) -> Option<HeaderValue> {
    sensitive(format!("Bearer {token}"))
}

fn sensitive(value: String) -> Option<HeaderValue> {
    let mut v = HeaderValue::try_from(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// A request target under an upstream's base URL: an absolute path whose pieces are
/// already percent-encoded, and an optional query. Built by
/// [`Upstream::url`](crate::Upstream::url); the scheme, host and port are always the
/// base URL's, so nothing a client supplies can send a request elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `path[?query]`.
    text: String,
    path_len: usize,
}

impl Target {
    /// A target from an already-encoded absolute path.
    pub(crate) fn from_encoded_path(path: String) -> Self {
        Self {
            path_len: path.len(),
            text: path,
        }
    }

    /// The encoded path.
    pub fn path(&self) -> &str {
        &self.text[..self.path_len]
    }

    /// The encoded query, if any.
    pub fn query(&self) -> Option<&str> {
        self.text.get(self.path_len + 1..)
    }

    /// `path[?query]`, as sent in the request line.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Appends `application/x-www-form-urlencoded` pairs to the query.
    pub fn append_query<K: AsRef<str>, V: AsRef<str>>(&mut self, pairs: &[(K, V)]) {
        if pairs.is_empty() {
            return;
        }
        let start = if self.text.len() == self.path_len {
            self.text.push('?');
            self.path_len + 1
        } else {
            self.path_len + 1
        };
        let mut query = url::form_urlencoded::Serializer::for_suffix(&mut self.text, start);
        for (k, v) in pairs {
            query.append_pair(k.as_ref(), v.as_ref());
        }
        query.finish();
    }
}

/// A request being put together for [`Upstream::send`](crate::Upstream::send). Setters
/// mirror reqwest's; an invalid header is remembered and reported when the request is
/// sent, so that call chains stay flat.
#[derive(Debug)]
pub struct RequestBuilder {
    pub(crate) method: Method,
    pub(crate) target: Target,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Option<Bytes>,
    pub(crate) error: Option<String>,
}

impl RequestBuilder {
    pub(crate) fn new(method: Method, target: Target) -> Self {
        Self {
            method,
            target,
            headers: Vec::with_capacity(6),
            body: None,
            error: None,
        }
    }

    /// Adds a header field.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        HeaderValue: TryFrom<V>,
    {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(n), Ok(v)) => self.headers.push((n, v)),
            _ => {
                self.error
                    .get_or_insert_with(|| "a header name or value is not valid".to_owned());
            }
        }
        self
    }

    /// Appends query pairs, form-encoded.
    pub fn query<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        self.target.append_query(pairs);
        self
    }

    /// A JSON body (and `Content-Type: application/json` unless one is set).
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                if !self.has(&CONTENT_TYPE) {
                    self.headers
                        .push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
                }
                self.body = Some(bytes.into());
            }
            Err(e) => {
                self.error
                    .get_or_insert_with(|| format!("the body cannot be written as JSON: {e}"));
            }
        }
        self
    }

    /// A raw body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// `Authorization: Basic …`, marked sensitive.
    pub fn basic_auth(self, user: &str, password: Option<&str>) -> Self {
        self.authorization(basic_auth_value(user, password))
    }

    /// `Authorization: Bearer …`, marked sensitive.
    pub fn bearer_auth(self, token: &str) -> Self {
        self.authorization(bearer_auth_value(token))
    }

    /// `Authorization` from a value made once (see [`basic_auth_value`]).
    pub fn authorization(mut self, value: Option<HeaderValue>) -> Self {
        match value {
            Some(v) => self.headers.push((AUTHORIZATION, v)),
            None => {
                self.error
                    .get_or_insert_with(|| "credentials cannot be sent in a header".to_owned());
            }
        }
        self
    }

    fn has(&self, name: &HeaderName) -> bool {
        self.headers.iter().any(|(n, _)| n == name)
    }

    /// The same request for reqwest (https upstreams), against `base`'s origin.
    pub(crate) fn to_reqwest(
        &self,
        client: &reqwest::Client,
        base: &url::Url,
    ) -> Result<reqwest::Request, String> {
        let mut url = base.clone();
        url.set_path(self.target.path());
        url.set_query(self.target.query());
        url.set_fragment(None);
        let mut rb = client.request(self.method.clone(), url);
        for (n, v) in &self.headers {
            rb = rb.header(n, v);
        }
        if let Some(b) = &self.body {
            rb = rb.body(b.clone());
        }
        rb.build().map_err(|e| e.without_url().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_form_encoded_and_appended() {
        let mut t = Target::from_encoded_path("/a/b".to_owned());
        assert_eq!((t.path(), t.query()), ("/a/b", None));
        t.append_query(&[("where", "(status='active' AND x=1)"), ("n", "a+b&c")]);
        assert_eq!(t.path(), "/a/b");
        assert_eq!(
            t.query(),
            Some("where=%28status%3D%27active%27+AND+x%3D1%29&n=a%2Bb%26c")
        );
        t.append_query(&[("skipCount", "0")]);
        assert_eq!(
            t.as_str(),
            "/a/b?where=%28status%3D%27active%27+AND+x%3D1%29&n=a%2Bb%26c&skipCount=0"
        );
        t.append_query::<&str, &str>(&[]);
        assert!(t.as_str().ends_with("skipCount=0"));
    }

    #[test]
    fn invalid_headers_are_reported_not_dropped() {
        let rb = RequestBuilder::new(Method::GET, Target::from_encoded_path("/".to_owned()))
            .header("x-ok", "1")
            .header("x-bad", "a\r\nb");
        assert_eq!(rb.headers.len(), 1);
        assert!(rb.error.is_some());
    }

    #[test]
    fn credentials_are_sensitive_and_json_sets_its_type_once() {
        let rb = RequestBuilder::new(Method::POST, Target::from_encoded_path("/".to_owned()))
            .basic_auth("u", Some("p"))
            .json(&serde_json::json!({"a": 1}));
        let auth = &rb
            .headers
            .iter()
            .find(|(n, _)| n == AUTHORIZATION)
            .unwrap()
            .1;
        assert!(auth.is_sensitive());
        assert_eq!(auth.to_str().unwrap(), "Basic dTpw");
        assert_eq!(rb.body.as_deref(), Some(&b"{\"a\":1}"[..]));
        let types = rb.headers.iter().filter(|(n, _)| n == CONTENT_TYPE).count();
        assert_eq!(types, 1);
    }

    #[test]
    fn https_requests_keep_target_headers_and_body_for_reqwest() {
        let base: url::Url = "https://alfresco.example:8443/alfresco/?ignored=1#x"
            .parse()
            .unwrap();
        let target = crate::urls::join(&base, &["tasks", "a b"], None).unwrap();
        let rb = RequestBuilder::new(Method::PUT, target)
            .query(&[("select", "state")])
            .header("accept", "application/json")
            .json(&serde_json::json!({"state": "completed"}));
        let req = rb.to_reqwest(&reqwest::Client::new(), &base).unwrap();
        assert_eq!(
            req.url().as_str(),
            "https://alfresco.example:8443/alfresco/tasks/a%20b?select=state"
        );
        assert_eq!(req.method(), Method::PUT);
        assert_eq!(req.headers()["accept"], "application/json");
        assert_eq!(req.headers()["content-type"], "application/json");
        assert_eq!(
            req.body().and_then(reqwest::Body::as_bytes),
            Some(&b"{\"state\":\"completed\"}"[..])
        );
    }
}
