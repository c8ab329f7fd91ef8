//! Pod volume checks: names, exactly one source, and per-source required
//! fields.

use super::access::{arr, child, index, int, present, s};
use super::container::{quantity_at, validate_local_descending_path};
use super::errors::FieldError;
use super::names::{is_dns1123_label, is_dns1123_subdomain};
use serde_json::Value;
use std::collections::HashSet;

const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// Validate `volumes` and return the names of the valid ones.
pub fn validate_volumes(vols: &[Value], p: &str, errs: &mut Vec<FieldError>) -> HashSet<String> {
    let mut names = HashSet::new();
    for (i, v) in vols.iter().enumerate() {
        let ip = index(p, i);
        let mut el = Vec::new();
        validate_volume_source(v, &ip, &mut el);
        let name = s(v, "name");
        let np = child(&ip, "name");
        if name.is_empty() {
            el.push(FieldError::required(np.clone(), ""));
        } else {
            for m in is_dns1123_label(name) {
                el.push(FieldError::invalid(np.clone(), name, m));
            }
        }
        if names.contains(name) {
            el.push(FieldError::duplicate(np, name));
        }
        if el.is_empty() {
            names.insert(name.to_string());
        } else {
            errs.extend(el);
        }
    }
    names
}

fn validate_mode(v: &Value, field: &str, p: &str, errs: &mut Vec<FieldError>) {
    if let Some(m) = int(v, field) {
        if !(0..=0o777).contains(&m) {
            errs.push(FieldError::invalid(child(p, field), m, FILE_MODE_MSG));
        }
    }
}

fn validate_key_to_paths(items: &[Value], p: &str, errs: &mut Vec<FieldError>) {
    for (i, it) in items.iter().enumerate() {
        let ip = index(p, i);
        if s(it, "key").is_empty() {
            errs.push(FieldError::required(child(&ip, "key"), ""));
        }
        let path = s(it, "path");
        if path.is_empty() {
            errs.push(FieldError::required(child(&ip, "path"), ""));
        } else {
            validate_local_descending_path(path, &child(&ip, "path"), errs);
        }
        validate_mode(it, "mode", &ip, errs);
    }
}

fn validate_volume_source(v: &Value, p: &str, errs: &mut Vec<FieldError>) {
    let Some(m) = v.as_object() else {
        errs.push(FieldError::required(p, "must specify a volume type"));
        return;
    };
    let mut n = 0;
    for (kind, src) in m {
        if kind == "name" || src.is_null() {
            continue;
        }
        n += 1;
        if n > 1 {
            errs.push(FieldError::forbidden(
                child(p, kind),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        let kp = child(p, kind);
        match kind.as_str() {
            "hostPath" => {
                if s(src, "path").is_empty() {
                    errs.push(FieldError::required(child(&kp, "path"), ""));
                }
                let t = s(src, "type");
                const TYPES: [&str; 8] = [
                    "",
                    "BlockDevice",
                    "CharDevice",
                    "Directory",
                    "DirectoryOrCreate",
                    "File",
                    "FileOrCreate",
                    "Socket",
                ];
                if !TYPES.contains(&t) {
                    errs.push(FieldError::not_supported(child(&kp, "type"), t, &TYPES));
                }
            }
            "emptyDir" => {
                if let Some(m) = present(src, "medium").and_then(Value::as_str) {
                    if !matches!(m, "" | "Memory") && !m.starts_with("HugePages") {
                        errs.push(FieldError::not_supported(
                            child(&kp, "medium"),
                            m,
                            &["", "Memory", "HugePages"],
                        ));
                    }
                }
                if let Some(sl) = present(src, "sizeLimit") {
                    let sp = child(&kp, "sizeLimit");
                    if let Some(q) = quantity_at(sl, &sp, errs) {
                        if q.is_negative() {
                            errs.push(FieldError::forbidden(
                                sp,
                                "SizeLimit field must be a valid resource quantity",
                            ));
                        }
                    }
                }
            }
            "secret" => {
                if s(src, "secretName").is_empty() {
                    errs.push(FieldError::required(child(&kp, "secretName"), ""));
                }
                validate_mode(src, "defaultMode", &kp, errs);
                validate_key_to_paths(arr(src, "items"), &child(&kp, "items"), errs);
            }
            "configMap" => {
                let name = s(src, "name");
                if name.is_empty() {
                    errs.push(FieldError::required(child(&kp, "name"), ""));
                } else {
                    for msg in is_dns1123_subdomain(name) {
                        errs.push(FieldError::invalid(child(&kp, "name"), name, msg));
                    }
                }
                validate_mode(src, "defaultMode", &kp, errs);
                validate_key_to_paths(arr(src, "items"), &child(&kp, "items"), errs);
            }
            "persistentVolumeClaim" if s(src, "claimName").is_empty() => {
                errs.push(FieldError::required(child(&kp, "claimName"), ""));
            }
            "downwardAPI" | "projected" => validate_mode(src, "defaultMode", &kp, errs),
            "nfs" => {
                if s(src, "server").is_empty() {
                    errs.push(FieldError::required(child(&kp, "server"), ""));
                }
                let path = s(src, "path");
                if path.is_empty() {
                    errs.push(FieldError::required(child(&kp, "path"), ""));
                } else if !path.starts_with('/') {
                    errs.push(FieldError::invalid(
                        child(&kp, "path"),
                        path,
                        "must be an absolute path",
                    ));
                }
            }
            "csi" if s(src, "driver").is_empty() => {
                errs.push(FieldError::required(child(&kp, "driver"), ""));
            }
            _ => {}
        }
    }
    if n == 0 {
        errs.push(FieldError::required(p, "must specify a volume type"));
    }
}
