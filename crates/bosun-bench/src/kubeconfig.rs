//! Just enough kubeconfig reading to reach an API server: the current
//! context's cluster URL and CA, and the user's client certificate or token.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_yaml::Value;

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("kubeconfig is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("kubeconfig: {0}")]
    Invalid(String),
}

/// Where and how to reach the API server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `https://host:port`, without a trailing slash.
    pub server: String,
    /// Host part of `server` (the TLS server name).
    pub host: String,
    /// `host:port` to connect to.
    pub address: String,
    pub ca_pem: Option<Vec<u8>>,
    pub client_cert_pem: Option<Vec<u8>>,
    pub client_key_pem: Option<Vec<u8>>,
    pub token: Option<String>,
}

fn named<'a>(doc: &'a Value, list: &str, name: &str, field: &str) -> Option<&'a Value> {
    doc.get(list)?
        .as_sequence()?
        .iter()
        .find(|entry| entry.get("name").and_then(Value::as_str) == Some(name))?
        .get(field)
}

/// Inline `<field>-data` (base64) or a file named by `<field>`, relative to
/// the kubeconfig's directory.
fn data_or_file(
    section: &Value,
    field: &str,
    base: &Path,
) -> Result<Option<Vec<u8>>, KubeconfigError> {
    if let Some(data) = section
        .get(format!("{field}-data").as_str())
        .and_then(Value::as_str)
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| KubeconfigError::Invalid(format!("{field}-data is not base64: {e}")))?;
        return Ok(Some(decoded));
    }
    if let Some(file) = section.get(field).and_then(Value::as_str) {
        let path = base.join(file);
        let bytes = std::fs::read(&path).map_err(|source| KubeconfigError::Read {
            path: path.clone(),
            source,
        })?;
        return Ok(Some(bytes));
    }
    Ok(None)
}

/// Splits `https://host:port[/]` into (host, host:port).
fn split_server(server: &str) -> Result<(String, String), KubeconfigError> {
    let rest = server.strip_prefix("https://").ok_or_else(|| {
        KubeconfigError::Invalid(format!("server {server:?} is not an https:// URL"))
    })?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(KubeconfigError::Invalid(format!(
            "server {server:?} has no host"
        )));
    }
    let (host, address) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or_else(|| {
            KubeconfigError::Invalid(format!("server {server:?} has a bad IPv6 host"))
        })?;
        let address = if after.starts_with(':') {
            authority.to_string()
        } else {
            format!("[{host}]:443")
        };
        (host.to_string(), address)
    } else {
        match authority.rsplit_once(':') {
            Some((host, _)) => (host.to_string(), authority.to_string()),
            None => (authority.to_string(), format!("{authority}:443")),
        }
    };
    Ok((host, address))
}

impl Target {
    pub fn parse(text: &str, base: &Path) -> Result<Target, KubeconfigError> {
        let doc: Value = serde_yaml::from_str(text)?;
        let context_name = doc
            .get("current-context")
            .and_then(Value::as_str)
            .ok_or_else(|| KubeconfigError::Invalid("no current-context".into()))?;
        let context = named(&doc, "contexts", context_name, "context").ok_or_else(|| {
            KubeconfigError::Invalid(format!("context {context_name:?} not found"))
        })?;
        let field = |name: &str| {
            context
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| KubeconfigError::Invalid(format!("context has no {name}")))
        };
        let cluster_name = field("cluster")?;
        let user_name = field("user")?;
        let cluster = named(&doc, "clusters", cluster_name, "cluster").ok_or_else(|| {
            KubeconfigError::Invalid(format!("cluster {cluster_name:?} not found"))
        })?;
        let server = cluster
            .get("server")
            .and_then(Value::as_str)
            .ok_or_else(|| KubeconfigError::Invalid("cluster has no server".into()))?
            .trim_end_matches('/')
            .to_string();
        let (host, address) = split_server(&server)?;
        let ca_pem = data_or_file(cluster, "certificate-authority", base)?;
        let empty = Value::Null;
        let user = named(&doc, "users", user_name, "user").unwrap_or(&empty);
        Ok(Target {
            server,
            host,
            address,
            ca_pem,
            client_cert_pem: data_or_file(user, "client-certificate", base)?,
            client_key_pem: data_or_file(user, "client-key", base)?,
            token: user.get("token").and_then(Value::as_str).map(String::from),
        })
    }

    pub fn load(path: &Path) -> Result<Target, KubeconfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| KubeconfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Target::parse(&text, base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: https://10.0.0.1:1\n- name: bosun\n  cluster:\n    server: https://127.0.0.1:6443/\n    certificate-authority-data: Q0E=\ncontexts:\n- name: bosun\n  context:\n    cluster: bosun\n    user: admin\ncurrent-context: bosun\nusers:\n- name: admin\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n";

    #[test]
    fn reads_current_context() {
        let t = Target::parse(CONFIG, Path::new("/")).unwrap();
        assert_eq!(t.server, "https://127.0.0.1:6443");
        assert_eq!(t.host, "127.0.0.1");
        assert_eq!(t.address, "127.0.0.1:6443");
        assert_eq!(t.ca_pem.as_deref(), Some(&b"CA"[..]));
        assert_eq!(t.client_cert_pem.as_deref(), Some(&b"CERT"[..]));
        assert_eq!(t.client_key_pem.as_deref(), Some(&b"KEY"[..]));
        assert_eq!(t.token, None);
    }

    #[test]
    fn token_user_and_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), "FILECA").unwrap();
        let text = "clusters:\n- name: c\n  cluster:\n    server: https://example.test\n    certificate-authority: ca.crt\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\nusers:\n- name: u\n  user:\n    token: abc\n";
        let t = Target::parse(text, dir.path()).unwrap();
        assert_eq!(t.address, "example.test:443");
        assert_eq!(t.ca_pem.as_deref(), Some(&b"FILECA"[..]));
        assert_eq!(t.token.as_deref(), Some("abc"));
    }

    #[test]
    fn server_forms() {
        let cases = [
            ("https://h:1", ("h", "h:1")),
            ("https://h", ("h", "h:443")),
            ("https://[::1]:8443", ("::1", "[::1]:8443")),
            ("https://[::1]", ("::1", "[::1]:443")),
        ];
        for (server, (host, address)) in cases {
            let (h, a) = split_server(server).unwrap();
            assert_eq!((h.as_str(), a.as_str()), (host, address), "{server}");
        }
        assert!(split_server("http://h:1").is_err());
        assert!(split_server("https://").is_err());
    }

    #[test]
    fn missing_context_is_an_error() {
        let text = "current-context: nope\ncontexts: []\n";
        assert!(matches!(
            Target::parse(text, Path::new("/")),
            Err(KubeconfigError::Invalid(_))
        ));
    }
}
