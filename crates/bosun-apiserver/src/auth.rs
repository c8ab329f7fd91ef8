//! Authentication: client certificates signed by the cluster CA (verified
//! during the TLS handshake) and bearer tokens. Anonymous requests are
//! refused, except for the health endpoints.

use http::{header, HeaderMap};

use crate::handler::User;

pub struct Authenticator {
    tokens: Vec<(String, String)>,
}

impl Authenticator {
    /// `tokens` maps a bearer token to a user name.
    pub fn new(tokens: Vec<(String, String)>) -> Self {
        Authenticator { tokens }
    }

    pub fn authenticate(&self, headers: &HeaderMap, cert_user: Option<&str>) -> Option<User> {
        if let Some(auth) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let token = auth.strip_prefix("Bearer ")?.trim();
            return self
                .tokens
                .iter()
                .find(|(t, _)| constant_time_eq(t.as_bytes(), token.as_bytes()))
                .map(|(_, user)| User { name: user.clone() });
        }
        cert_user.map(|name| User {
            name: name.to_string(),
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The common name of a DER client certificate.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

/// Paths any client may read without credentials.
pub fn is_public(path: &str) -> bool {
    matches!(
        path.trim_end_matches('/'),
        "/healthz" | "/livez" | "/readyz"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_must_match_exactly() {
        let auth = Authenticator::new(vec![("secret".into(), "admin".into())]);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer secret".parse().unwrap());
        assert_eq!(auth.authenticate(&headers, None).unwrap().name, "admin");
        headers.insert(header::AUTHORIZATION, "Bearer secreT".parse().unwrap());
        assert!(auth.authenticate(&headers, Some("admin")).is_none());
        assert!(auth.authenticate(&HeaderMap::new(), None).is_none());
        assert_eq!(
            auth.authenticate(&HeaderMap::new(), Some("bob"))
                .unwrap()
                .name,
            "bob"
        );
    }
}
