//! Names of the library's closed lists (formats, models, optimisers, SABR expansions) as the
//! command line, files and the Python package spell them, parsed in one way.

/// A name that is not one of a list's.
///
/// ```
/// let e = "heston".parse::<volfit::SurfaceModel>().unwrap_err();
/// assert_eq!(e.to_string(), r#"unknown model "heston": expected svi, ssvi, essvi, sabr, spline"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {got:?}: expected {}", expected.join(", "))]
pub struct UnknownName {
    /// What was being named (`model`, `optimizer`, `format`, `SABR expansion`).
    pub what: &'static str,
    /// The name given.
    pub got: String,
    /// The names accepted.
    pub expected: Vec<&'static str>,
}

/// The item of `items` (`(item, name, aliases)`) whose name or an alias is `s` (trimmed,
/// case-insensitive).
pub(crate) fn parse_name<T: Copy>(
    what: &'static str,
    s: &str,
    items: &[(T, &'static str, &'static [&'static str])],
) -> Result<T, UnknownName> {
    let key = s.trim().to_ascii_lowercase();
    items
        .iter()
        .find(|(_, name, aliases)| *name == key || aliases.contains(&key.as_str()))
        .map(|(t, _, _)| *t)
        .ok_or_else(|| UnknownName {
            what,
            got: s.trim().to_string(),
            expected: items.iter().map(|(_, n, _)| *n).collect(),
        })
}
