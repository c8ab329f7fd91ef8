//! hostPath's type check (upstream `checkTypeInternal`): `""` checks
//! nothing, `DirectoryOrCreate`/`FileOrCreate` create a missing path (0755
//! directory, 0644 file), the others require what they name.

use std::fs;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub fn check_type(path: &Path, ty: &str) -> Result<(), String> {
    let shown = path.display();
    let meta = fs::metadata(path).ok();
    let ft = meta.as_ref().map(|m| m.file_type());
    let io = |e: std::io::Error| e.to_string();
    match ty {
        "" => Ok(()),
        "DirectoryOrCreate" if meta.is_none() => {
            fs::create_dir_all(path).map_err(io)?;
            fs::set_permissions(path, fs::Permissions::from_mode(0o755)).map_err(io)
        }
        "DirectoryOrCreate" | "Directory" => match ft {
            Some(t) if t.is_dir() => Ok(()),
            _ => Err(format!(
                "hostPath type check failed: {shown} is not a directory"
            )),
        },
        "FileOrCreate" if meta.is_none() => {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(io)?;
            }
            fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o644)
                .open(path)
                .map(|_| ())
                .map_err(io)
        }
        "FileOrCreate" | "File" => match ft {
            Some(t) if t.is_file() => Ok(()),
            _ => Err(format!("hostPath type check failed: {shown} is not a file")),
        },
        "Socket" => match ft {
            Some(t) if t.is_socket() => Ok(()),
            _ => Err(format!(
                "hostPath type check failed: {shown} is not a socket file"
            )),
        },
        "CharDevice" => match ft {
            Some(t) if t.is_char_device() => Ok(()),
            _ => Err(format!(
                "hostPath type check failed: {shown} is not a character device"
            )),
        },
        "BlockDevice" => match ft {
            Some(t) if t.is_block_device() => Ok(()),
            _ => Err(format!(
                "hostPath type check failed: {shown} is not a block device"
            )),
        },
        other => Err(format!("{other} is an invalid volume type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_checked_as_upstream() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("d");
        let f = dir.path().join("f");
        assert!(check_type(&d, "").is_ok());
        assert_eq!(
            check_type(&d, "Directory").unwrap_err(),
            format!(
                "hostPath type check failed: {} is not a directory",
                d.display()
            )
        );
        check_type(&d, "DirectoryOrCreate").unwrap();
        assert!(d.is_dir());
        check_type(&d, "Directory").unwrap();
        assert!(check_type(&d, "File")
            .unwrap_err()
            .ends_with("is not a file"));
        check_type(&f, "FileOrCreate").unwrap();
        assert!(f.is_file());
        check_type(&f, "File").unwrap();
        assert!(check_type(&f, "DirectoryOrCreate")
            .unwrap_err()
            .ends_with("is not a directory"));
        assert!(check_type(&f, "Socket")
            .unwrap_err()
            .ends_with("is not a socket file"));
        assert!(check_type(&f, "BlockDevice")
            .unwrap_err()
            .ends_with("is not a block device"));
        check_type(Path::new("/dev/null"), "CharDevice").unwrap();
        assert_eq!(
            check_type(&f, "Weird").unwrap_err(),
            "Weird is an invalid volume type"
        );
    }
}
