//! Output names and writes: the path-component sanitiser (properties and examples), the
//! collision rule, and `write_atomic` under concurrent writers and on failure.

use proptest::prelude::*;
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use volfit::output::{
    MAX_COMPONENT_LEN, assign_components, is_safe_component, path_component, write_atomic,
};

/// Whether `c` is one ordinary path component here: `dir.join(c)` is a child of `dir`.
fn one_normal_component(c: &str) -> bool {
    let mut it = Path::new(c).components();
    matches!((it.next(), it.next()), (Some(Component::Normal(n)), None) if n == c)
}

/// The invariants of every sanitised component.
fn check_component(name: &str, c: &str) {
    assert!(!c.is_empty(), "{name:?} -> empty");
    assert!(c != "." && c != "..", "{name:?} -> {c:?}");
    assert!(!c.contains('/') && !c.contains('\\'), "{name:?} -> {c:?}");
    assert!(!c.chars().any(char::is_control), "{name:?} -> {c:?}");
    assert!(c.is_ascii(), "{name:?} -> {c:?}");
    assert!(
        !c.starts_with('.') && !c.starts_with('-'),
        "{name:?} -> {c:?}"
    );
    assert!(!c.ends_with('.'), "{name:?} -> {c:?}");
    assert!(
        c.len() <= MAX_COMPONENT_LEN,
        "{name:?} -> {} bytes",
        c.len()
    );
    assert!(one_normal_component(c), "{name:?} -> {c:?}");
}

/// A name [`is_safe_component`] accepts: 1..=40 bytes of the plain set, not starting with `.`
/// or `-`, not ending with `.` (Windows device names are filtered by the test).
fn safe_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_+=@][A-Za-z0-9._+=@-]{0,38}[A-Za-z0-9_+=@-]?"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Any string becomes one safe component.
    #[test]
    fn any_name_becomes_one_safe_component(name in any::<String>()) {
        check_component(&name, &path_component(&name));
    }

    /// Names built from the characters that matter (separators, dots, case) too.
    #[test]
    fn path_like_names_become_one_safe_component(name in "[./\\\\aA%~ \t\n-]{0,12}") {
        check_component(&name, &path_component(&name));
    }

    /// Safe names are kept as they are (so the map is injective on them), and exactly those.
    #[test]
    fn safe_names_are_unchanged(name in safe_name()) {
        prop_assume!(is_safe_component(&name));
        prop_assert_eq!(path_component(&name), name);
    }

    #[test]
    fn unchanged_means_safe(name in any::<String>()) {
        prop_assert_eq!(path_component(&name) == name, is_safe_component(&name));
    }

    /// Below the length bound, distinct names give distinct components (case-sensitively).
    #[test]
    fn distinct_names_give_distinct_components(
        a in "[./\\\\aA%~_é\u{0}-]{0,10}",
        b in "[./\\\\aA%~_é\u{0}-]{0,10}",
    ) {
        prop_assume!(a != b);
        prop_assert_ne!(path_component(&a), path_component(&b));
    }

    /// The collision rule: components unique ignoring case, each one safe, and a name that is
    /// safe and unique ignoring case keeps its own.
    #[test]
    fn assigned_components_are_apart_ignoring_case(
        names in prop::collection::vec("[aAbB./-]{0,3}(-[23])?", 0..12),
    ) {
        let got = assign_components(&names);
        prop_assert_eq!(got.len(), names.len());
        let mut seen = HashSet::new();
        for (n, c) in names.iter().zip(&got) {
            check_component(n, c);
            prop_assert!(seen.insert(c.to_ascii_lowercase()), "{:?} -> {:?} twice", n, c);
            let alone = names.iter().filter(|m| m.eq_ignore_ascii_case(n)).count() == 1;
            if alone && is_safe_component(n) {
                prop_assert_eq!(c, n);
            }
        }
        // Deterministic.
        prop_assert_eq!(assign_components(&names), got);
    }
}

#[test]
fn ordinary_names_are_kept() {
    for n in [
        "BTC",
        "ETH",
        "SPX",
        "ETH_USDC",
        "BRK.B",
        "ES=F",
        "spx_ivols_20050915",
        "deribit_options_snapshot_20260215T153420Z",
        "UNDERLYING",
        "x-2",
    ] {
        assert_eq!(path_component(n), n);
    }
}

#[test]
fn unsafe_names_are_encoded() {
    for (name, want) in [
        ("../../x", "%2E.%2F..%2Fx"),
        ("/abs/x", "%2Fabs%2Fx"),
        ("./A", "%2E%2FA"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("", "%"),
        ("a\\b", "a%5Cb"),
        ("C:\\x", "C%3A%5Cx"),
        ("EUR/USD", "EUR%2FUSD"),
        ("x.", "x%2E"),
        ("-rf", "%2Drf"),
        (".hidden", "%2Ehidden"),
        ("a b", "a%20b"),
        ("50%", "50%25"),
        ("\u{1b}[2J", "%1B%5B2J"),
        ("é", "%C3%A9"),
        ("CON", "%43ON"),
        ("nul.txt", "%6Eul.txt"),
        ("COM1", "%43OM1"),
    ] {
        assert_eq!(path_component(name), want, "{name:?}");
    }
    // Not device names.
    for n in ["CONS", "COM10", "LPTX", "AUXX.1"] {
        assert_eq!(path_component(n), n);
    }
}

#[test]
fn long_names_are_bounded_and_stay_apart() {
    let a = "A".repeat(300);
    let b = format!("{}B", "A".repeat(299));
    let (ca, cb) = (path_component(&a), path_component(&b));
    for (n, c) in [(&a, &ca), (&b, &cb)] {
        check_component(n, c);
        assert_eq!(c.len(), MAX_COMPONENT_LEN);
        assert!(
            c.starts_with(&"A".repeat(83)) && c.as_bytes()[83] == b'~',
            "{c}"
        );
    }
    assert_ne!(ca, cb);
    // The bound itself is still kept; one byte more is cut.
    let edge = "A".repeat(MAX_COMPONENT_LEN);
    assert_eq!(path_component(&edge), edge);
    assert_ne!(path_component(&format!("{edge}A")), format!("{edge}A"));
    // A cut never splits an escape.
    let slashes = "/".repeat(200);
    let c = path_component(&slashes);
    check_component(&slashes, &c);
    let head = c.split('~').next().unwrap();
    assert!(head.len().is_multiple_of(3) && head.len() > 70, "{c}");
    assert!(head.as_bytes().chunks(3).all(|e| e == b"%2F"), "{c}");
}

#[test]
fn collisions_are_disambiguated_in_order() {
    assert_eq!(assign_components(&["x", "x"]), ["x", "x-2"]);
    assert_eq!(assign_components(&["x", "X", "x"]), ["x", "X-2", "x-3"]);
    assert_eq!(assign_components(&["x", "x", "x-2"]), ["x", "x-3", "x-2"]);
    assert_eq!(
        assign_components(&["./A", "A", "a"]),
        ["%2E%2FA", "A", "a-2"]
    );
    // A suffix on a name at the bound keeps the bound.
    let long = "L".repeat(MAX_COMPONENT_LEN);
    let got = assign_components(&[long.clone(), long.clone()]);
    assert_eq!(got[0], long);
    assert_eq!(got[1].len(), MAX_COMPONENT_LEN);
    assert!(got[1].ends_with("-2"));
    let none: [&str; 0] = [];
    assert!(assign_components(&none).is_empty());
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("volfit-output-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Names in `dir` other than `keep`: leftover temporary files.
fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

/// Threads of one process writing one target: each write is whole (never another thread's
/// bytes mixed in) and no temporary file is left. With a temporary name per process only,
/// the threads would share one temporary file.
#[test]
fn concurrent_writers_of_one_target() {
    let dir = tmp("writers");
    let target = Arc::new(dir.join("surface.json"));
    let threads: Vec<_> = (0..8u8)
        .map(|i| {
            let target = Arc::clone(&target);
            std::thread::spawn(move || {
                let body = vec![b'a' + i; 64 * 1024 + usize::from(i)];
                for _ in 0..40 {
                    write_atomic(&target, &body).unwrap();
                    let seen = std::fs::read(&*target).unwrap();
                    let first = seen[0];
                    assert!((b'a'..b'a' + 8).contains(&first));
                    assert_eq!(seen.len(), 64 * 1024 + usize::from(first - b'a'));
                    assert!(seen.iter().all(|&b| b == first), "mixed writes");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(leftovers(&dir, &["surface.json"]), Vec::<String>::new());
    std::fs::remove_dir_all(&dir).ok();
}

/// A failed write (the target is a directory) leaves the target as it was and no temporary
/// file; a path without a file name is refused.
#[test]
fn failed_writes_leave_nothing_behind() {
    let dir = tmp("fail");
    let target = dir.join("taken");
    std::fs::create_dir_all(target.join("inside")).unwrap();
    assert!(write_atomic(&target, b"{}").is_err());
    assert!(target.join("inside").is_dir());
    assert_eq!(leftovers(&dir, &["taken"]), Vec::<String>::new());
    let e = write_atomic(&dir.join(".."), b"{}").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(write_atomic(&dir.join("missing/x.json"), b"{}").is_err());
    std::fs::remove_dir_all(&dir).ok();
}

/// A replaced file is the new bytes, whole; a long target name still gets a temporary file.
#[test]
fn replaces_and_long_names() {
    let dir = tmp("replace");
    let target = dir.join("report.json");
    write_atomic(&target, &vec![b'x'; 100_000]).unwrap();
    write_atomic(&target, b"short").unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"short");
    let long = dir.join(format!("{}.png", "n".repeat(200)));
    write_atomic(&long, b"png").unwrap();
    assert_eq!(std::fs::read(&long).unwrap(), b"png");
    let long_name = long.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        leftovers(&dir, &["report.json", long_name.as_str()]),
        Vec::<String>::new()
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The library's writers of output files go through `write_atomic`: a chart whose file is
/// taken by a directory fails with a `PlotError` naming it, the charts drawn before it are
/// whole (each PNG decodes to its last chunk, each SVG is closed), none after it was
/// started, and no temporary file is left in `plots/`; `write_report_html` and
/// `FittedSurface::save` onto a taken name fail the same way, leaving nothing beside it.
#[test]
fn chart_page_and_surface_writers_fail_without_leftovers() {
    use volfit::plot::{ChartInput, ImageFormat, render_all, write_report_html};
    use volfit::quotes::{Format, read_chains};
    use volfit::surface::{FittedSurface, SurfaceOptions, calibrate_surface};
    let (chains, _) = read_chains(
        crate::common::root().join("data/sample_chain.csv"),
        Format::Auto,
    )
    .unwrap();
    let (surface, report) = calibrate_surface(&chains[0], &SurfaceOptions::default()).unwrap();
    let dir = tmp("writers-fail");
    let plots = dir.join("plots");
    std::fs::create_dir_all(plots.join("total_variance.png").join("inside")).unwrap();
    let input = ChartInput {
        surface: &surface,
        report: &report,
        overlay: None,
    };
    let e = render_all(&input, &plots, &[ImageFormat::Png, ImageFormat::Svg]).unwrap_err();
    assert_eq!(e.chart, plots.join("total_variance.png"));
    let mut written: Vec<String> = leftovers(&plots, &["total_variance.png"]);
    written.sort();
    // The skew charts (one per expiry, PNG and SVG) and nothing else: no temporary file.
    assert_eq!(written.len(), 2 * report.slices.len(), "{written:?}");
    for name in &written {
        assert!(name.starts_with("skew_"), "{name}");
        let path = plots.join(name);
        let bytes = std::fs::read(&path).unwrap();
        if path.extension() == Some("png".as_ref()) {
            let mut r = png::Decoder::new(std::io::Cursor::new(&bytes))
                .read_info()
                .unwrap();
            let mut buf = vec![0; r.output_buffer_size()];
            let info = r.next_frame(&mut buf).unwrap();
            assert_eq!((info.width, info.height), volfit::plot::SIZE, "{name}");
            r.finish().unwrap();
        } else {
            assert_eq!(path.extension(), Some("svg".as_ref()), "{name}");
            assert!(bytes.trim_ascii_end().ends_with(b"</svg>"), "{name}");
        }
    }
    assert!(plots.join("total_variance.png/inside").is_dir());

    // Unblocked, every chart is written, still without a temporary file.
    std::fs::remove_dir_all(plots.join("total_variance.png")).unwrap();
    let charts = render_all(&input, &plots, &[ImageFormat::Png]).unwrap();
    let names: HashSet<String> = leftovers(&plots, &[]).into_iter().collect();
    for c in &charts {
        let n = c.files[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(names.contains(&n), "{n}");
    }
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");

    // The page and the surface onto names taken by directories.
    for taken in ["report.html", "surface.json"] {
        std::fs::create_dir_all(dir.join(taken).join("inside")).unwrap();
    }
    assert!(write_report_html(&dir.join("report.html"), &report, &charts).is_err());
    assert!(surface.save(dir.join("surface.json")).is_err());
    let mut top = leftovers(&dir, &[]);
    top.sort();
    assert_eq!(top, ["plots", "report.html", "surface.json"]);
    for taken in ["report.html", "surface.json"] {
        assert!(dir.join(taken).join("inside").is_dir(), "{taken}");
    }

    // And onto free names: whole, and the surface loads back to the same vols.
    let page = dir.join("page.html");
    write_report_html(&page, &report, &charts).unwrap();
    assert!(std::fs::read(&page).unwrap().ends_with(b"</html>\n"));
    let saved = dir.join("saved.json");
    surface.save(&saved).unwrap();
    let back = FittedSurface::load(&saved).unwrap();
    assert_eq!(
        serde_json::to_string(&back).unwrap(),
        serde_json::to_string(&surface).unwrap()
    );
    let mut top = leftovers(&dir, &[]);
    top.sort();
    assert_eq!(
        top,
        [
            "page.html",
            "plots",
            "report.html",
            "saved.json",
            "surface.json"
        ]
    );
    std::fs::remove_dir_all(&dir).ok();
}
