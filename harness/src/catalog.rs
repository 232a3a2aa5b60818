//! The profile catalogue: the shipped profiles (embedded at build time) or a directory.

use std::path::{Path, PathBuf};

use jitterbug_core::profile::{Profile, ProfileError};

include!(concat!(env!("OUT_DIR"), "/embedded_profiles.rs"));

/// Where profiles come from.
#[derive(Debug, Clone)]
pub enum Catalog {
    /// The profiles compiled into this binary from `netem-profiles/`.
    Embedded,
    /// Every `*.toml` in a directory (a team's own profiles).
    Dir(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("{dir}: cannot list profiles: {source}")]
    Dir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("unknown profile `{name}`; known profiles: {known}")]
    Unknown { name: String, known: String },
}

impl Catalog {
    pub fn new(dir: Option<PathBuf>) -> Catalog {
        dir.map_or(Catalog::Embedded, Catalog::Dir)
    }

    /// Profile names, sorted.
    pub fn names(&self) -> Result<Vec<String>, CatalogError> {
        Ok(match self {
            Catalog::Embedded => EMBEDDED.iter().map(|(n, _, _)| n.to_string()).collect(),
            Catalog::Dir(dir) => toml_files(dir)?
                .iter()
                .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
                .collect(),
        })
    }

    /// Loads every profile, failing on the first invalid one.
    pub fn all(&self) -> Result<Vec<Profile>, CatalogError> {
        self.names()?.iter().map(|n| self.get(n)).collect()
    }

    /// Loads each profile, keeping every error (for `profiles check`).
    pub fn check(&self) -> Result<Vec<(String, Result<Profile, CatalogError>)>, CatalogError> {
        Ok(self.names()?.into_iter().map(|n| {
            let r = self.get(&n);
            (n, r)
        }).collect())
    }

    /// A profile by name, or by path when `name` looks like a file (`*.toml` or contains `/`).
    pub fn get(&self, name: &str) -> Result<Profile, CatalogError> {
        if name.ends_with(".toml") || name.contains('/') {
            return Ok(Profile::load(Path::new(name))?);
        }
        match self {
            Catalog::Embedded => {
                let (_, file, text) = EMBEDDED
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .ok_or_else(|| self.unknown(name))?;
                let shown = Path::new("netem-profiles").join(file);
                Ok(Profile::parse(name, text, &shown, None)?)
            }
            Catalog::Dir(dir) => {
                let path = dir.join(format!("{name}.toml"));
                if !path.exists() {
                    return Err(self.unknown(name));
                }
                Ok(Profile::load(&path)?)
            }
        }
    }

    /// The TOML text of a profile, as written.
    pub fn text(&self, name: &str) -> Result<String, CatalogError> {
        let path = match self {
            _ if name.ends_with(".toml") || name.contains('/') => PathBuf::from(name),
            Catalog::Embedded => {
                return EMBEDDED
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .map(|(_, _, t)| t.to_string())
                    .ok_or_else(|| self.unknown(name));
            }
            Catalog::Dir(dir) => dir.join(format!("{name}.toml")),
        };
        std::fs::read_to_string(&path)
            .map_err(|source| ProfileError::Io { file: path, source }.into())
    }

    fn unknown(&self, name: &str) -> CatalogError {
        CatalogError::Unknown {
            name: name.to_string(),
            known: self.names().map(|n| n.join(", ")).unwrap_or_default(),
        }
    }
}

fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, CatalogError> {
    let rd = std::fs::read_dir(dir).map_err(|source| CatalogError::Dir { dir: dir.to_path_buf(), source })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}
