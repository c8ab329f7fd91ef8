//! Authentication: client certificates signed by the cluster CA (verified
//! during the TLS handshake), static bearer tokens and service account
//! tokens (JWTs this server signed, whose service account — and bound pod,
//! if any — still exist with the uid in the token). Anonymous requests are
//! refused, except for the health and OIDC discovery endpoints.

use std::sync::Arc;

use http::{header, HeaderMap};

use crate::cache::WatchCache;
use crate::handler::User;
use crate::serviceaccount::{self, Claims, TokenKeys};

/// Verifies service account tokens against the keys and live objects.
pub struct ServiceAccountAuthenticator {
    pub keys: Arc<TokenKeys>,
    pub cache: Arc<WatchCache>,
}

impl ServiceAccountAuthenticator {
    /// Whether the object exists with `uid` (when given) and is not being
    /// deleted for longer than `deleting_grace` seconds (upstream: a
    /// ServiceAccount at once, a Pod after 60 s).
    fn exists(
        &self,
        plural: &str,
        namespace: &str,
        name: &str,
        uid: &str,
        deleting_grace: i64,
        now: i64,
    ) -> bool {
        let Some(def) = bosun_api::registry::lookup("", "v1", plural) else {
            return false;
        };
        let obj = self.cache.read().get(def, Some(namespace), name);
        obj.is_some_and(|o| {
            let meta = &o["metadata"];
            let deleted_before = meta["deletionTimestamp"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp());
            deleted_before.is_none_or(|t| t + deleting_grace > now)
                && (uid.is_empty() || meta["uid"] == uid)
        })
    }

    pub fn authenticate(&self, token: &str, now: i64) -> Option<User> {
        let claims: Claims = self.keys.verify(token, &[serviceaccount::ISSUER], now)?;
        let k = &claims.kubernetes;
        let sa = &k.serviceaccount;
        if !self.exists("serviceaccounts", &k.namespace, &sa.name, &sa.uid, 0, now) {
            return None;
        }
        if let Some(pod) = &k.pod {
            if !self.exists("pods", &k.namespace, &pod.name, &pod.uid, 60, now) {
                return None;
            }
        }
        let (name, groups) = serviceaccount::user_info(&k.namespace, &sa.name);
        Some(User { name, groups })
    }
}

pub struct Authenticator {
    tokens: Vec<(String, String)>,
    service_accounts: Option<ServiceAccountAuthenticator>,
}

impl Authenticator {
    /// `tokens` maps a bearer token to a user name.
    pub fn new(
        tokens: Vec<(String, String)>,
        service_accounts: Option<ServiceAccountAuthenticator>,
    ) -> Self {
        Authenticator {
            tokens,
            service_accounts,
        }
    }

    pub fn authenticate(&self, headers: &HeaderMap, cert_user: Option<&str>) -> Option<User> {
        if let Some(auth) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let token = auth.strip_prefix("Bearer ")?.trim();
            if let Some(user) = self
                .tokens
                .iter()
                .find(|(t, _)| constant_time_eq(t.as_bytes(), token.as_bytes()))
                .map(|(_, user)| User::named(user))
            {
                return Some(user);
            }
            return self
                .service_accounts
                .as_ref()
                .and_then(|sa| sa.authenticate(token, chrono::Utc::now().timestamp()));
        }
        cert_user.map(User::named)
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
        "/healthz" | "/livez" | "/readyz" | "/.well-known/openid-configuration" | "/openid/v1/jwks"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serviceaccount::Ref;
    use bosun_store::{MemStore, Store};
    use serde_json::json;

    async fn authenticator() -> (ServiceAccountAuthenticator, tempfile::TempDir) {
        let store: Arc<dyn Store> = Arc::new(MemStore::new());
        for (plural, name, uid) in [
            ("serviceaccounts", "robot", "sa-uid"),
            ("pods", "p", "p-uid"),
        ] {
            let def = bosun_api::registry::lookup("", "v1", plural).unwrap();
            let obj = json!({"metadata": {"name": name, "namespace": "ns", "uid": uid}});
            store
                .create(
                    &def.key(Some("ns"), name),
                    bytes::Bytes::from(serde_json::to_vec(&obj).unwrap()),
                )
                .await
                .unwrap();
        }
        let cache = WatchCache::start(store).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(TokenKeys::load_or_create(dir.path()).unwrap());
        (ServiceAccountAuthenticator { keys, cache }, dir)
    }

    fn claims(sa_uid: &str, pod: Option<(&str, &str)>) -> Claims {
        let sa = Ref {
            name: "robot".into(),
            uid: sa_uid.into(),
        };
        let mut c = Claims::new("ns", sa, vec![serviceaccount::ISSUER.into()], 1_000, 3600);
        c.kubernetes.pod = pod.map(|(name, uid)| Ref {
            name: name.into(),
            uid: uid.into(),
        });
        c
    }

    #[tokio::test]
    async fn service_account_tokens_authenticate_while_account_and_pod_exist() {
        let (auth, _dir) = authenticator().await;
        let token = auth
            .keys
            .sign(&claims("sa-uid", Some(("p", "p-uid"))))
            .unwrap();
        let user = auth.authenticate(&token, 2_000).unwrap();
        assert_eq!(user.name, "system:serviceaccount:ns:robot");
        assert_eq!(
            user.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ns",
                "system:authenticated"
            ]
        );
        // A recreated account or pod (other uid), or a pod that is gone.
        for c in [
            claims("old-uid", None),
            claims("sa-uid", Some(("p", "old"))),
            claims("sa-uid", Some(("gone", "x"))),
        ] {
            let token = auth.keys.sign(&c).unwrap();
            assert!(auth.authenticate(&token, 2_000).is_none(), "{c:?}");
        }
        // Expired.
        assert!(auth.authenticate(&token, 10_000).is_none());
        // Through the authenticator, after the static tokens.
        let now = chrono::Utc::now().timestamp();
        let mut fresh = claims("sa-uid", None);
        (fresh.iat, fresh.nbf, fresh.exp) = (now, now, now + 600);
        let fresh = auth.keys.sign(&fresh).unwrap();
        let all = Authenticator::new(vec![("secret".into(), "admin".into())], Some(auth));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {fresh}").parse().unwrap(),
        );
        assert_eq!(
            all.authenticate(&headers, None).unwrap().name,
            "system:serviceaccount:ns:robot"
        );
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        assert!(all.authenticate(&headers, None).is_none());
    }

    #[test]
    fn bearer_token_must_match_exactly() {
        let auth = Authenticator::new(vec![("secret".into(), "admin".into())], None);
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
