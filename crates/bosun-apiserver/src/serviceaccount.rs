//! Service account tokens (upstream `pkg/serviceaccount`): JWTs signed
//! with the server's service-account key (`sa.key` under the PKI dir,
//! ECDSA P-256 / ES256 — upstream accepts RSA or ECDSA signing keys),
//! issued by the TokenRequest subresource with upstream's claims and
//! verified by the authenticator. The public key is served as a JWKS at
//! `/openid/v1/jwks` with `/.well-known/openid-configuration`.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::pki::PkiError;

/// upstream's default issuer (kubeadm's `--service-account-issuer`); the
/// default API audience is the issuer.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const KEY_FILE: &str = "sa.key";
/// DER prefix of a P-256 SubjectPublicKeyInfo (before the 65-byte point).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ref {
    pub name: String,
    pub uid: String,
}

/// The `kubernetes.io` private claim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KubernetesClaims {
    pub namespace: String,
    pub serviceaccount: Ref,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Ref>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
    pub nbf: i64,
    pub sub: String,
}

impl Claims {
    /// Claims for `namespace/name` valid from `now` for `seconds`.
    pub fn new(
        namespace: &str,
        service_account: Ref,
        audiences: Vec<String>,
        now: i64,
        seconds: i64,
    ) -> Self {
        Claims {
            aud: audiences,
            exp: now + seconds,
            iat: now,
            iss: ISSUER.into(),
            jti: uuid::Uuid::new_v4().to_string(),
            sub: format!("system:serviceaccount:{namespace}:{}", service_account.name),
            kubernetes: KubernetesClaims {
                namespace: namespace.into(),
                serviceaccount: service_account,
                ..Default::default()
            },
            nbf: now,
        }
    }
}

/// Signs and verifies tokens with one key.
pub struct TokenKeys {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").field("kid", &self.kid).finish()
    }
}

impl TokenKeys {
    /// Loads `<dir>/sa.key`, generating it on first start.
    pub fn load_or_create(dir: &Path) -> Result<Self, PkiError> {
        let path = dir.join(KEY_FILE);
        let pem = match std::fs::read_to_string(&path) {
            Ok(p) => p,
            Err(_) => {
                let pair = rcgen::KeyPair::generate()?;
                let pem = pair.serialize_pem();
                std::fs::write(&path, &pem).map_err(|source| PkiError::Io {
                    path: path.clone(),
                    source,
                })?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(
                    |source| PkiError::Io {
                        path: path.clone(),
                        source,
                    },
                )?;
                pem
            }
        };
        let invalid = |detail: String| PkiError::Invalid {
            path: path.clone(),
            detail,
        };
        use rustls_pki_types::pem::PemObject;
        let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| invalid(e.to_string()))?;
        Self::from_pkcs8(der.secret_pkcs8_der()).map_err(invalid)
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|e| format!("not a P-256 PKCS#8 key: {e}"))?;
        let spki = [&P256_SPKI_PREFIX[..], key.public_key().as_ref()].concat();
        let kid = B64.encode(ring::digest::digest(&ring::digest::SHA256, &spki));
        Ok(TokenKeys { key, rng, kid })
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, String> {
        let header = json!({"alg": "ES256", "kid": self.kid});
        let payload = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
        let signing_input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(payload));
        let sig = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| "signing failed".to_string())?;
        Ok(format!("{signing_input}.{}", B64.encode(sig.as_ref())))
    }

    /// The claims of a token this key signed that is valid at `now` for
    /// one of `audiences`; `None` for anything else.
    pub fn verify(&self, token: &str, audiences: &[&str], now: i64) -> Option<Claims> {
        let mut parts = token.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&B64.decode(h).ok()?).ok()?;
        if header["alg"] != "ES256" {
            return None;
        }
        let sig = B64.decode(s).ok()?;
        let public = signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            self.key.public_key().as_ref(),
        );
        public.verify(format!("{h}.{p}").as_bytes(), &sig).ok()?;
        let claims: Claims = serde_json::from_slice(&B64.decode(p).ok()?).ok()?;
        // Upstream allows 60 s of clock skew around nbf/exp.
        let valid = claims.iss == ISSUER
            && claims.nbf <= now + 60
            && now < claims.exp + 60
            && claims.aud.iter().any(|a| audiences.contains(&a.as_str()));
        valid.then_some(claims)
    }

    /// The public key as a JSON Web Key Set.
    pub fn jwks(&self) -> Value {
        let point = self.key.public_key().as_ref();
        json!({"keys": [{
            "use": "sig", "kty": "EC", "kid": self.kid, "crv": "P-256", "alg": "ES256",
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
        }]})
    }

    /// `/.well-known/openid-configuration`.
    pub fn discovery(&self) -> Value {
        json!({
            "issuer": ISSUER,
            "jwks_uri": format!("{ISSUER}/openid/v1/jwks"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
    }
}

/// The user name and groups of a service account (upstream
/// `serviceaccount.UserInfo`).
pub fn user_info(namespace: &str, name: &str) -> (String, Vec<String>) {
    (
        format!("system:serviceaccount:{namespace}:{name}"),
        vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{namespace}"),
            "system:authenticated".into(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        let dir = tempfile::tempdir().unwrap();
        let k = TokenKeys::load_or_create(dir.path()).unwrap();
        // The same key on the next start.
        let again = TokenKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(k.kid, again.kid);
        k
    }

    #[test]
    fn tokens_carry_upstream_claims_and_verify() {
        let k = keys();
        let mut claims = Claims::new(
            "ns",
            Ref {
                name: "robot".into(),
                uid: "sa-uid".into(),
            },
            vec![ISSUER.into()],
            1_000,
            3600,
        );
        claims.kubernetes.pod = Some(Ref {
            name: "p".into(),
            uid: "p-uid".into(),
        });
        let token = k.sign(&claims).unwrap();
        let payload: Value =
            serde_json::from_slice(&B64.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert_eq!(payload["sub"], "system:serviceaccount:ns:robot");
        assert_eq!(payload["iss"], ISSUER);
        assert_eq!(payload["exp"], 4600);
        assert_eq!(payload["kubernetes.io"]["serviceaccount"]["uid"], "sa-uid");
        assert_eq!(payload["kubernetes.io"]["pod"]["name"], "p");
        assert!(payload["kubernetes.io"].get("node").is_none());
        assert_eq!(k.verify(&token, &[ISSUER], 2_000), Some(claims.clone()));
        // Wrong audience, expired, tampered, another key.
        assert!(k.verify(&token, &["other"], 2_000).is_none());
        assert!(k.verify(&token, &[ISSUER], 4_700).is_none());
        let mut bad = token.clone();
        bad.replace_range(bad.len() - 3.., "AAA");
        assert!(k.verify(&bad, &[ISSUER], 2_000).is_none());
        assert!(keys().verify(&token, &[ISSUER], 2_000).is_none());
        let jwks = k.jwks();
        assert_eq!(jwks["keys"][0]["kid"], k.kid.as_str());
        assert_eq!(jwks["keys"][0]["crv"], "P-256");
    }

    #[test]
    fn service_account_users_have_upstream_groups() {
        let (name, groups) = user_info("ns", "robot");
        assert_eq!(name, "system:serviceaccount:ns:robot");
        assert_eq!(
            groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ns",
                "system:authenticated"
            ]
        );
    }
}
