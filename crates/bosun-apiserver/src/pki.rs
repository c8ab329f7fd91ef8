//! The cluster's certificates and the admin kubeconfig.
//!
//! On first start the server generates a cluster CA, a serving certificate
//! for `127.0.0.1`/`localhost` (plus any extra SANs), an admin client
//! certificate (`CN=admin, O=system:masters`), the client certificate it
//! presents to node agents (`CN=kube-apiserver-kubelet-client`) and an admin
//! bearer token, and writes `admin.kubeconfig`. Later starts reuse them.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("certificate material in {path} is invalid: {detail}")]
    Invalid { path: PathBuf, detail: String },
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
}

/// PEM material the server needs.
pub struct Pki {
    pub ca_cert_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub admin_token: String,
    /// The client certificate the server presents to node agents
    /// (`CN=kube-apiserver-kubelet-client, O=system:masters`).
    pub kubelet_client_cert_pem: String,
    pub kubelet_client_key_pem: String,
    pub dir: PathBuf,
}

fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, contents: &str, private: bool) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    fs::write(path, contents).map_err(io)?;
    if private {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

fn leaf(
    common_name: &str,
    organization: Option<&str>,
    sans: Vec<String>,
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'_, KeyPair>,
) -> Result<(String, String), PkiError> {
    let mut params = CertificateParams::new(sans)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    if let Some(org) = organization {
        params
            .distinguished_name
            .push(DnType::OrganizationName, org);
    }
    params.use_authority_key_identifier_extension = true;
    params.key_usages.push(KeyUsagePurpose::DigitalSignature);
    params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    params.extended_key_usages.push(usage);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

impl Pki {
    /// Loads the PKI from `dir/pki`, generating whatever is missing.
    pub fn load_or_create(dir: &Path, extra_sans: &[String]) -> Result<Self, PkiError> {
        let pki = dir.join("pki");
        fs::create_dir_all(&pki).map_err(|source| PkiError::Io {
            path: pki.clone(),
            source,
        })?;
        let ca_cert = pki.join("ca.crt");
        let ca_key = pki.join("ca.key");
        if !ca_cert.exists() || !ca_key.exists() {
            let mut params = CertificateParams::new(Vec::<String>::new())?;
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(DnType::CommonName, "bosun-ca");
            params.key_usages.push(KeyUsagePurpose::DigitalSignature);
            params.key_usages.push(KeyUsagePurpose::KeyCertSign);
            params.key_usages.push(KeyUsagePurpose::CrlSign);
            let key = KeyPair::generate()?;
            let cert = params.self_signed(&key)?;
            write(&ca_key, &key.serialize_pem(), true)?;
            write(&ca_cert, &cert.pem(), false)?;
        }
        let ca_cert_pem = read(&ca_cert)?;
        let ca_key_pem = read(&ca_key)?;
        let invalid = |path: &Path, e: rcgen::Error| PkiError::Invalid {
            path: path.to_path_buf(),
            detail: e.to_string(),
        };
        let ca_keypair = KeyPair::from_pem(&ca_key_pem).map_err(|e| invalid(&ca_key, e))?;
        let issuer =
            Issuer::from_ca_cert_pem(&ca_cert_pem, ca_keypair).map_err(|e| invalid(&ca_cert, e))?;

        let server_cert = pki.join("server.crt");
        let server_key = pki.join("server.key");
        if !server_cert.exists() || !server_key.exists() {
            let mut sans = vec![
                "127.0.0.1".to_string(),
                "localhost".to_string(),
                "kubernetes".to_string(),
                "kubernetes.default".to_string(),
                "kubernetes.default.svc".to_string(),
                "10.96.0.1".to_string(),
            ];
            sans.extend(extra_sans.iter().cloned());
            let (cert, key) = leaf(
                "kube-apiserver",
                None,
                sans,
                ExtendedKeyUsagePurpose::ServerAuth,
                &issuer,
            )?;
            write(&server_key, &key, true)?;
            write(&server_cert, &cert, false)?;
        }
        let admin_cert = pki.join("admin.crt");
        let admin_key = pki.join("admin.key");
        if !admin_cert.exists() || !admin_key.exists() {
            let (cert, key) = leaf(
                "admin",
                Some("system:masters"),
                Vec::new(),
                ExtendedKeyUsagePurpose::ClientAuth,
                &issuer,
            )?;
            write(&admin_key, &key, true)?;
            write(&admin_cert, &cert, false)?;
        }
        let kubelet_cert = pki.join("apiserver-kubelet-client.crt");
        let kubelet_key = pki.join("apiserver-kubelet-client.key");
        if !kubelet_cert.exists() || !kubelet_key.exists() {
            let (cert, key) = leaf(
                "kube-apiserver-kubelet-client",
                Some("system:masters"),
                Vec::new(),
                ExtendedKeyUsagePurpose::ClientAuth,
                &issuer,
            )?;
            write(&kubelet_key, &key, true)?;
            write(&kubelet_cert, &cert, false)?;
        }
        let token_path = pki.join("admin.token");
        if !token_path.exists() {
            let bytes: [u8; 24] = rand::random();
            let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            write(&token_path, &token, true)?;
        }
        Ok(Pki {
            ca_cert_pem,
            server_cert_pem: read(&server_cert)?,
            server_key_pem: read(&server_key)?,
            admin_token: read(&token_path)?.trim().to_string(),
            kubelet_client_cert_pem: read(&kubelet_cert)?,
            kubelet_client_key_pem: read(&kubelet_key)?,
            dir: pki,
        })
    }

    /// Writes `admin.kubeconfig` (client certificate) and
    /// `admin-token.kubeconfig` (bearer token) for `server_url`.
    pub fn write_kubeconfigs(&self, data_dir: &Path, server_url: &str) -> Result<(), PkiError> {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        let ca = b64(&self.ca_cert_pem);
        let cert = read(&self.dir.join("admin.crt"))?;
        let key = read(&self.dir.join("admin.key"))?;
        let cluster = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: bosun\n  cluster:\n    server: {server_url}\n    certificate-authority-data: {ca}\ncontexts:\n- name: bosun\n  context:\n    cluster: bosun\n    user: admin\ncurrent-context: bosun\npreferences: {{}}\n"
        );
        let with_cert = format!(
            "{cluster}users:\n- name: admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(&cert),
            b64(&key)
        );
        let with_token = format!(
            "{cluster}users:\n- name: admin\n  user:\n    token: {}\n",
            self.admin_token
        );
        write(&data_dir.join("admin.kubeconfig"), &with_cert, true)?;
        write(&data_dir.join("admin-token.kubeconfig"), &with_token, true)?;
        Ok(())
    }
}
