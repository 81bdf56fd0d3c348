//! `surface.json`: the stored form of a [`FittedSurface`], versioned, written atomically, and
//! checked on the way in (every model through its validating constructor).

use super::fitted::{Extrapolation, FittedSurface, SurfaceError, SurfaceSlice};
use crate::output::write_atomic;
use crate::slice::DayCount;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The current `surface.json` format version.
pub const SURFACE_FORMAT_VERSION: u32 = 1;

/// The stored form of a surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct SurfaceFile {
    format: String,
    version: u32,
    underlying: String,
    as_of: Option<DateTime<Utc>>,
    spot: Option<f64>,
    /// Absent in files written before it was stored: ACT/365, what those runs used unless
    /// told otherwise.
    #[serde(default)]
    day_count: DayCount,
    /// Absent in files written before it was stored: the default policy.
    #[serde(default)]
    extrapolation: Extrapolation,
    slices: Vec<SurfaceSlice>,
}

impl TryFrom<SurfaceFile> for FittedSurface {
    type Error = SurfaceError;
    fn try_from(f: SurfaceFile) -> Result<Self, SurfaceError> {
        if f.format != "volfit-surface" {
            return Err(SurfaceError::Format(format!("format {:?}", f.format)));
        }
        if f.version != SURFACE_FORMAT_VERSION {
            return Err(SurfaceError::Format(format!(
                "version {} (this build reads {SURFACE_FORMAT_VERSION})",
                f.version
            )));
        }
        FittedSurface::new(f.underlying, f.as_of, f.spot, f.slices)?
            .with_day_count(f.day_count)
            .with_extrapolation(f.extrapolation)
    }
}

impl From<FittedSurface> for SurfaceFile {
    fn from(s: FittedSurface) -> Self {
        SurfaceFile {
            format: "volfit-surface".into(),
            version: SURFACE_FORMAT_VERSION,
            underlying: s.underlying,
            as_of: s.as_of,
            spot: s.spot,
            day_count: s.day_count,
            extrapolation: s.extrapolation,
            slices: s.slices,
        }
    }
}

impl FittedSurface {
    /// Writes `surface.json` (atomically: a reader never sees a half-written file), after
    /// checking that the text loads back as this surface's file would: a surface that
    /// [`FittedSurface::load`] would refuse is never written.
    ///
    /// # Errors
    /// [`SurfaceError::Io`] when the file cannot be written, [`SurfaceError::Unloadable`] when
    /// the surface would not load back.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), SurfaceError> {
        let p = path.as_ref();
        let json = serde_json::to_string_pretty(self).map_err(|source| SurfaceError::Json {
            path: p.to_path_buf(),
            source,
        })?;
        if let Err(e) = serde_json::from_str::<FittedSurface>(&json) {
            return Err(SurfaceError::Unloadable {
                path: p.to_path_buf(),
                reason: e.to_string(),
            });
        }
        write_atomic(p, json.as_bytes()).map_err(|source| SurfaceError::Io {
            path: p.to_path_buf(),
            source,
        })
    }

    /// Reads `surface.json`.
    ///
    /// # Errors
    /// [`SurfaceError::Io`] when the file cannot be read, [`SurfaceError::Json`] when it is
    /// not a valid surface (the message names the line and column, and the parameter out of
    /// its domain).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SurfaceError> {
        let p = path.as_ref();
        let text = std::fs::read_to_string(p).map_err(|source| SurfaceError::Io {
            path: p.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| SurfaceError::Json {
            path: p.to_path_buf(),
            source,
        })
    }
}
