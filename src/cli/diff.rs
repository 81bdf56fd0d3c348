//! `volfit diff A.json B.json [--json]`: vol changes by tenor × delta between two surfaces, and
//! per common expiry the vol and parameter moves ([`volfit::surface::diff`]).

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use volfit::surface::FittedSurface;
use volfit::surface::diff::{ExpiryInfo, PillarDiff, SurfaceDiff, SurfaceInfo};
use volfit::surface::metrics::Pillar;

/// Runs `volfit diff`: loads both surfaces (an error names the file), prints the diff.
pub fn run(a: &Path, b: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let sa = FittedSurface::load(a)?;
    let sb = FittedSurface::load(b)?;
    let d = SurfaceDiff::between(&sa, &sb);
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        print!("{}", text(&d, a, b));
    }
    Ok(ExitCode::SUCCESS)
}

/// A vol in points and its change, `45.21 (+0.32)`; `-` where either is missing.
fn cell(p: &PillarDiff) -> String {
    match (p.b, p.change) {
        (Some(b), Some(c)) => format!("{:.2} ({:+.2})", 100.0 * b, 100.0 * c),
        (Some(b), None) => format!("{:.2} (new)", 100.0 * b),
        (None, _) => match p.a {
            Some(a) => format!("- (was {:.2})", 100.0 * a),
            None => "-".into(),
        },
    }
}

fn pillar_header() -> String {
    Pillar::ALL.iter().fold(String::new(), |mut out, p| {
        let name = match p {
            Pillar::Put10 => "10Δ put",
            Pillar::Put25 => "25Δ put",
            Pillar::Atm => "ATM",
            Pillar::Call25 => "25Δ call",
            Pillar::Call10 => "10Δ call",
        };
        let _ = write!(out, "{name:>16}");
        out
    })
}

fn row(pillars: &[PillarDiff]) -> String {
    pillars.iter().fold(String::new(), |mut out, p| {
        let _ = write!(out, "{:>16}", cell(p));
        out
    })
}

fn describe(s: &SurfaceInfo) -> String {
    format!(
        "{}, as of {}, {} expiries ({})",
        s.underlying,
        s.as_of.map_or_else(
            || "unknown".into(),
            |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        ),
        s.expiries,
        s.model
    )
}

fn expiry_label(e: Option<chrono::DateTime<chrono::Utc>>, t: f64) -> String {
    e.map_or_else(|| format!("t={t:.4}"), |e| e.format("%Y-%m-%d").to_string())
}

/// A parameter value with four significant digits.
fn sig(x: f64) -> String {
    if x == 0.0 || (1e-3..1e5).contains(&x.abs()) {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

fn listed(title: &str, items: &[ExpiryInfo]) -> String {
    if items.is_empty() {
        return format!("{title}: none\n");
    }
    let shown: Vec<String> = items
        .iter()
        .map(|e| {
            let atm = e
                .atm
                .map_or_else(String::new, |v| format!(", ATM {:.2}", 100.0 * v));
            format!("{} (t = {:.4}{atm})", expiry_label(e.expiry, e.t), e.t)
        })
        .collect();
    format!("{title}: {}\n", shown.join(", "))
}

/// The text report: the two surfaces, the tenor table, the common expiries with their
/// parameter moves, the expired and new expiries.
fn text(d: &SurfaceDiff, a: &Path, b: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "A: {}: {}", a.display(), describe(&d.a));
    let _ = writeln!(out, "B: {}: {}", b.display(), describe(&d.b));
    if !d.a.underlying.eq_ignore_ascii_case(&d.b.underlying) {
        let _ = writeln!(
            out,
            "note: the surfaces are of different underlyings ({} and {})",
            d.a.underlying, d.b.underlying
        );
    }
    let _ = writeln!(
        out,
        "Vols in B in vol points, the change B - A in brackets; deltas are forward Black \
         deltas N(d1), ATM the forward.\n"
    );
    let _ = writeln!(out, "{:<18}{}", "constant maturity", pillar_header());
    for t in &d.tenors {
        let _ = writeln!(out, "{:<18}{}", format!("{:>4}d", t.days), row(&t.pillars));
        for (which, e) in [("A", &t.error_a), ("B", &t.error_b)] {
            if let Some(e) = e {
                let _ = writeln!(out, "{:<18}{which}: {e}", "");
            }
        }
    }
    let _ = writeln!(out, "\n{:<18}{}", "common expiries", pillar_header());
    for e in &d.expiries {
        let _ = writeln!(
            out,
            "{:<18}{}",
            expiry_label(e.expiry, e.t_b),
            row(&e.pillars)
        );
        let mut moves: Vec<String> = e
            .params
            .iter()
            .map(|p| format!("{} {} ({})", p.name, sig(p.b), sig_signed(p.change)))
            .collect();
        if e.model_a != e.model_b {
            moves = vec![format!(
                "models differ ({} -> {}): no parameter moves",
                e.model_a, e.model_b
            )];
        }
        let _ = writeln!(
            out,
            "{:<18}t {:.4} -> {:.4}, forward {} -> {}; {}: {}",
            "",
            e.t_a,
            e.t_b,
            sig(e.forward_a),
            sig(e.forward_b),
            e.model_b,
            moves.join(", ")
        );
    }
    if d.expiries.is_empty() {
        let _ = writeln!(out, "(none)");
    }
    let _ = writeln!(out);
    out.push_str(&listed("expired (only in A)", &d.expired));
    out.push_str(&listed("new (only in B)", &d.new));
    out
}

fn sig_signed(x: f64) -> String {
    let s = sig(x);
    if x >= 0.0 { format!("+{s}") } else { s }
}
