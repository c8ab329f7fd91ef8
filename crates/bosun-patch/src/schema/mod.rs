//! Patch schema of the built-in kinds.
//!
//! Upstream derives list and map merge behaviour from Go struct tags
//! (`patchStrategy`, `patchMergeKey`) and from OpenAPI list/map markers
//! (`+listType`, `+listMapKey`, `+structType`, `+mapType`). Here the same
//! facts live in a small static table of struct types ([`table`]); only
//! fields that differ from the defaults are listed:
//!
//! * objects merge key by key (SMP) and are granular (SSA);
//! * lists are replaced (SMP) and atomic (SSA);
//! * scalars are replaced.

mod table;

/// A struct type: the fields whose behaviour is not the default.
pub(crate) struct TypeDef {
    pub(crate) fields: &'static [Field],
}

/// One field of a [`TypeDef`].
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) kind: FieldKind,
    /// Go serializes the field even when empty (non-pointer struct, or a
    /// list without `omitempty`), so old objects always hold it.
    pub(crate) always: bool,
}

/// How a field behaves.
pub(crate) enum FieldKind {
    /// A nested struct; `retain_keys` marks `patchStrategy:"retainKeys"`.
    Struct {
        ty: &'static TypeDef,
        retain_keys: bool,
    },
    /// An atomic struct or map (`+structType=atomic` / `+mapType=atomic`).
    Atomic,
    /// A list with a non-default strategy.
    List(ListDef),
}

/// Merge behaviour of a list field.
pub(crate) struct ListDef {
    pub(crate) elem: Elem,
    pub(crate) smp: SmpList,
    pub(crate) retain_keys: bool,
    pub(crate) ssa: SsaList,
}

/// Element type of a list.
#[derive(Clone, Copy)]
pub(crate) enum Elem {
    /// Objects with only default fields.
    Untyped,
    /// Atomic struct elements (`+structType=atomic`).
    Atomic,
    /// Elements of a known struct type.
    Struct(&'static TypeDef),
}

/// Strategic-merge-patch behaviour of a list.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SmpList {
    /// No `patchStrategy`: the patch list replaces the original.
    Replace,
    /// `patchStrategy:"merge"` with `patchMergeKey`.
    Merge(&'static str),
    /// `patchStrategy:"merge"` on a list of scalars (union).
    MergePrimitive,
}

/// Server-side-apply behaviour of a list.
#[derive(Clone, Copy)]
pub(crate) enum SsaList {
    Atomic,
    Set,
    Map(&'static [KeyField]),
}

/// A key field of an associative list, with its schema default if any.
pub(crate) struct KeyField {
    pub(crate) name: &'static str,
    pub(crate) default: Option<&'static str>,
}

/// The type of a value at some position in an object.
#[derive(Clone, Copy)]
pub(crate) enum Ty {
    /// A struct with known special fields.
    Struct(&'static TypeDef),
    /// An object of a built-in kind without special fields.
    Untyped,
    /// Anything in an object of an unknown kind (schema deduced from the
    /// value: maps are granular, keys are members, lists are atomic).
    Deduced,
    /// Atomic value.
    Atomic,
    /// A list with special behaviour.
    List(&'static ListDef),
}

/// Facts about one field looked up in a [`Ty`].
#[derive(Clone, Copy)]
pub(crate) struct FieldInfo {
    pub(crate) ty: Ty,
    /// Serialized by Go even when empty (see [`Field::always`]).
    pub(crate) always: bool,
}

impl Ty {
    /// The root type of a kind; unknown kinds get the deduced schema.
    pub(crate) fn root(group: &str, kind: &str) -> Ty {
        match table::root(group, kind) {
            Some(td) => Ty::Struct(td),
            None => Ty::Deduced,
        }
    }

    /// Whether this root type has a `status` field (status subresource).
    pub(crate) fn has_status(self) -> bool {
        match self {
            Ty::Struct(td) => td.fields.iter().any(|f| f.name == "status"),
            _ => false,
        }
    }

    /// Looks up field `name` of an object of this type.
    pub(crate) fn field(self, name: &str) -> FieldInfo {
        let plain = |ty| FieldInfo { ty, always: false };
        match self {
            Ty::Struct(td) => match td.fields.iter().find(|f| f.name == name) {
                Some(f) => FieldInfo {
                    ty: match &f.kind {
                        FieldKind::Struct { ty, .. } => Ty::Struct(ty),
                        FieldKind::Atomic => Ty::Atomic,
                        FieldKind::List(ld) => Ty::List(ld),
                    },
                    always: f.always,
                },
                None => plain(Ty::Untyped),
            },
            Ty::Untyped | Ty::List(_) => plain(Ty::Untyped),
            Ty::Deduced => plain(Ty::Deduced),
            Ty::Atomic => plain(Ty::Atomic),
        }
    }

    /// The element type of a list of this type.
    pub(crate) fn elem(self) -> Ty {
        match self {
            Ty::List(ld) => match ld.elem {
                Elem::Untyped => Ty::Untyped,
                Elem::Atomic => Ty::Atomic,
                Elem::Struct(td) => Ty::Struct(td),
            },
            Ty::Deduced => Ty::Deduced,
            Ty::Atomic => Ty::Atomic,
            Ty::Struct(_) | Ty::Untyped => Ty::Untyped,
        }
    }

    /// SMP list strategy of a list of this type.
    pub(crate) fn smp_list(self) -> SmpList {
        match self {
            Ty::List(ld) => ld.smp,
            _ => SmpList::Replace,
        }
    }

    /// SSA list behaviour of a list of this type.
    pub(crate) fn ssa_list(self) -> SsaList {
        match self {
            Ty::List(ld) => ld.ssa,
            _ => SsaList::Atomic,
        }
    }
}

/// The SMP facts of one field, as upstream's `LookupPatchMetadata` reports
/// them: strategies and merge key (exposed for callers that build patches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchMeta {
    /// `patchStrategy` values, e.g. `["merge", "retainKeys"]`.
    pub strategies: Vec<&'static str>,
    /// `patchMergeKey`, empty when none.
    pub merge_key: &'static str,
}

/// Looks up the patch metadata of the field at `path` (JSON field names;
/// list elements are stepped through transparently) in kind
/// `(group, kind)`. Unknown kinds or fields give empty metadata.
pub fn patch_meta(group: &str, kind: &str, path: &[&str]) -> PatchMeta {
    let mut ty = Ty::root(group, kind);
    let mut meta = PatchMeta {
        strategies: Vec::new(),
        merge_key: "",
    };
    for name in path {
        if let Ty::List(_) = ty {
            ty = ty.elem();
        }
        meta = field_meta(ty, name);
        ty = ty.field(name).ty;
    }
    meta
}

fn field_meta(ty: Ty, name: &str) -> PatchMeta {
    let mut meta = PatchMeta {
        strategies: Vec::new(),
        merge_key: "",
    };
    let Ty::Struct(td) = ty else { return meta };
    let Some(f) = td.fields.iter().find(|f| f.name == name) else {
        return meta;
    };
    match &f.kind {
        FieldKind::Struct { retain_keys, .. } => {
            if *retain_keys {
                meta.strategies.push("retainKeys");
            }
        }
        FieldKind::Atomic => {}
        FieldKind::List(ld) => {
            match ld.smp {
                SmpList::Replace => {}
                SmpList::Merge(key) => {
                    meta.strategies.push("merge");
                    meta.merge_key = key;
                }
                SmpList::MergePrimitive => meta.strategies.push("merge"),
            }
            if ld.retain_keys {
                meta.strategies.push("retainKeys");
            }
        }
    }
    meta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_meta_matches_struct_tags() {
        type Case<'a> = (&'a str, &'a str, &'a [&'a str], &'a [&'a str], &'a str);
        let cases: &[Case] = &[
            ("", "Pod", &["spec", "containers"], &["merge"], "name"),
            (
                "",
                "Pod",
                &["spec", "volumes"],
                &["merge", "retainKeys"],
                "name",
            ),
            (
                "apps",
                "Deployment",
                &["spec", "template", "spec", "containers", "ports"],
                &["merge"],
                "containerPort",
            ),
            (
                "apps",
                "Deployment",
                &["spec", "template", "spec", "containers", "env"],
                &["merge"],
                "name",
            ),
            (
                "apps",
                "Deployment",
                &["spec", "strategy"],
                &["retainKeys"],
                "",
            ),
            ("", "Pod", &["metadata", "finalizers"], &["merge"], ""),
            (
                "",
                "Pod",
                &["metadata", "ownerReferences"],
                &["merge"],
                "uid",
            ),
            ("", "Service", &["spec", "ports"], &["merge"], "port"),
            ("", "Pod", &["spec", "tolerations"], &[], ""),
            (
                "batch",
                "CronJob",
                &[
                    "spec",
                    "jobTemplate",
                    "spec",
                    "template",
                    "spec",
                    "initContainers",
                ],
                &["merge"],
                "name",
            ),
            ("", "Node", &["status", "conditions"], &["merge"], "type"),
            ("example.com", "Widget", &["spec", "items"], &[], ""),
        ];
        for (group, kind, path, strategies, key) in cases {
            let meta = patch_meta(group, kind, path);
            assert_eq!(meta.strategies, strategies.to_vec(), "{kind} {path:?}");
            assert_eq!(meta.merge_key, *key, "{kind} {path:?}");
        }
    }
}
